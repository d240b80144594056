"""Inkwell's Streamlit entry: the optional access gate, st.navigation over the pages, the shared sidebar."""
from __future__ import annotations

import gc
import hmac
import os

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# A fresh server runs its first requests in Streamlit's old pages/ mode (see ui.through_app). Leave it
# here, before pages.ui is imported: an import that raises (st.rerun) while other sessions' first runs
# import the same module makes theirs fail too ("cannot import name 'ui'"), seen with 30 first visitors.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

from textgen import jobs  # noqa: E402
from pages import i18n, run_labels, ui  # noqa: E402
from pages.i18n import N_, _  # noqa: E402
from textgen import drafts, room, roomcache, vanishing  # noqa: E402
from textgen import experiments as ex  # noqa: E402
from textgen.config import env_int, is_text_run  # noqa: E402

# The tab's icon ships with the app: a Material icon favicon is fetched from a font server on the internet.
st.set_page_config(page_title="Inkwell", page_icon=ui.ICON, layout="wide")
# Streamlit's grey captions wash out on a projector: a darker grey keeps them readable (contrast about 7:1).
# Our own fixed CSS only; no user or model text ever goes through st.html.
st.html("<style>[data-testid='stCaptionContainer'] {color: #4a4d5c;}</style>")


@st.cache_resource(show_spinner=False)
def prune_drafts(home: str) -> int:
    """Once per server process (its first page view): drafts untouched for INKWELL_DRAFT_DAYS days are deleted."""
    return drafts.prune(env_int("INKWELL_DRAFT_DAYS", 0), home)


def access_gate(pages: list) -> None:
    """A workshop server can ask for one shared code before anything else (INKWELL_ACCESS_CODE)."""
    code = os.environ.get("INKWELL_ACCESS_CODE", "")
    if not code or st.session_state.get(ui.ACCESS_OK):
        return
    st.navigation(pages, position="hidden")  # registers the pages (a deep link survives) but shows none
    st.title("Inkwell")
    st.caption(_("This workshop server asks for the access code your host gave you."))
    typed = st.text_input(_("Access code"), type="password", key="access_code_input")
    if typed:
        if hmac.compare_digest(typed.encode("utf-8"), code.encode("utf-8")):
            st.session_state[ui.ACCESS_OK] = True
            st.session_state.pop("access_code_input", None)
            st.rerun()
        st.error(_("That code is not right; ask your host for it."))
    st.stop()


@st.cache_resource(show_spinner=False)
def freeze_startup_objects() -> int:
    """Once per server process, after its first page view: what is alive then (Streamlit, pandas, altair,
    the engine) moves out of the collector's sight, so a full collection scans only what sessions made.
    Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def model_picker(choices: dict[str, str]) -> None:
    """The sidebar's model choice; session_state[ui.ACTIVE_RUN] is canonical, so other pages can set it too.

    A select box cuts long names short, so the chosen model's whole name is the (wrapping) button of a
    popover, and the choice is a list inside it that shows every name whole.
    """
    if not choices:
        st.caption(_("No trained model yet: train one on the Train page."))
        return
    ids = list(choices)
    if st.session_state.get(ui.ACTIVE_RUN) not in ids:
        st.session_state[ui.ACTIVE_RUN] = ui.default_model(choices)   # the writer's own newest, else the demo
    st.session_state["sidebar_model"] = st.session_state[ui.ACTIVE_RUN]
    st.caption(_("Model (the Write page uses it)"))
    # Labels are a user's text: escaped, since popover and radio labels render Markdown.
    with st.popover(ui.safe(choices[st.session_state[ui.ACTIVE_RUN]]), width="stretch", wrap=True):
        st.radio(_("Model"), ids, format_func=lambda i: ui.safe(choices[i]), key="sidebar_model",
                 on_change=_picked, label_visibility="collapsed")


def _picked() -> None:
    st.session_state[ui.ACTIVE_RUN] = st.session_state["sidebar_model"]


# A measurement's or an experiment's job is not a model the writer will write with: the sidebar names it for
# what it is, under its own heading, since it still holds the writer's turn in a workshop's queue.
JOB_KINDS = {vanishing.LEVEL: N_("measuring a curve"), ex.LEVEL: N_("memory experiment")}


def training_now() -> bool:
    """The sidebar's "Training now": each queued and running text run with its progress, then "Measuring now":
    the writer's measurements and experiment jobs, named as such. False when there is none.

    Every session reads the same shared snapshot of the registry (roomcache), not the registry itself.
    """
    snap = roomcache.snapshot(ui.registry(), pump=jobs.pump)   # pump: the queue moves while a page polls
    mine = snap.active_for(ui.identity())   # others' labels are theirs too
    training = [r for r in mine if is_text_run(r)]
    measuring = [r for r in mine if not is_text_run(r)]
    if training:
        st.markdown("**" + _("Training now") + "**")
    for r in training:   # oldest first: the order the queue runs in
        st.text(run_labels.label(r["label"]))
        if r["status"] == "queued":
            st.progress(0.0, text=_("queued"))
        else:
            done, said = ui.progress(r, snap.budgets.get(r["id"], 0.0))
            st.progress(done, text=said)
    if measuring:
        st.markdown("**" + _("Measuring now") + "**")
    for r in measuring:   # no epoch bar: a measurement's "epoch 1 of 1" says nothing true
        st.text(run_labels.label(r["label"]))
        kind = _(JOB_KINDS[r["level"]]) if r["level"] in JOB_KINDS else _("measurement")
        st.caption(kind + " · " + (_("queued") if r["status"] == "queued" else _("running")))
    return bool(mine)


@st.fragment(run_every=2)
def training_now_polling() -> None:
    """Polls only while a job is queued or running; when the last one ends, one full run stops the polling
    (a run that does not draw this fragment ends its timer) and shows the new model in the picker."""
    if not training_now():
        st.rerun()


# Write opens first when there is a model to write with; otherwise a newcomer starts with their text.
choices = ui.model_choices()
write_first = bool(choices)
pages = [
    st.Page(ui.WRITE_PAGE, title=_("Write"), icon=":material/edit_note:", default=write_first),
    st.Page(ui.CORPUS_PAGE, title=_("Corpus"), icon=":material/menu_book:", default=not write_first),
    st.Page(ui.TRAIN_PAGE, title=_("Train"), icon=":material/model_training:"),
    st.Page(ui.RUNS_PAGE, title=_("Runs"), icon=":material/stacked_line_chart:"),
    st.Page("pages/inside.py", title=_("Inside"), icon=":material/psychology:"),
]
if room.host_code():   # a workshop: the host's page, in the menu once this session entered the host code
    pages.append(st.Page(ui.WORKSHOP_PAGE, title=_("Workshop"), icon=":material/groups:",
                         visibility="visible" if st.session_state.get(ui.HOST_OK) else "hidden"))
prune_drafts(str(ui.registry().home))
access_gate(pages)
page = st.navigation(pages)

with st.sidebar:
    i18n.language_switch()
    model_picker(choices)
    if roomcache.snapshot(ui.registry(), pump=jobs.pump).active_for(ui.identity()):
        training_now_polling()

page.run()
freeze_startup_objects()

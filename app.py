"""Inkwell's Streamlit entry: the optional access gate, st.navigation over the pages, the shared sidebar."""
from __future__ import annotations

import hmac
import os

import streamlit as st

import textgen
from textgen import jobs
from pages import ui
from textgen import drafts
from textgen.config import env_int
from textgen.drafts import escape_markdown

st.set_page_config(page_title="Inkwell", page_icon=":material/edit_note:", layout="wide")
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
    st.caption("This workshop server asks for the access code your host gave you.")
    typed = st.text_input("Access code", type="password", key="access_code_input")
    if typed:
        if hmac.compare_digest(typed.encode("utf-8"), code.encode("utf-8")):
            st.session_state[ui.ACCESS_OK] = True
            st.session_state.pop("access_code_input", None)
            st.rerun()
        st.error("That code is not right; ask your host for it.")
    st.stop()


SIDEBAR_NAME_FITS = 22   # characters the sidebar's select box surely shows whole ("Demo model (lighthouse tow" is cut)


def model_picker() -> None:
    """The sidebar's model choice; session_state[ui.ACTIVE_RUN] is canonical, so other pages can set it too."""
    choices = ui.model_choices()
    if not choices:
        st.caption("No trained model yet: train one on the Train page.")
        return
    ids = list(choices)
    if st.session_state.get(ui.ACTIVE_RUN) not in ids:
        st.session_state[ui.ACTIVE_RUN] = ids[0]   # the newest finished run, else the demo
    st.session_state["sidebar_model"] = st.session_state[ui.ACTIVE_RUN]
    st.selectbox("Model", ids, format_func=choices.get, key="sidebar_model", on_change=_picked,
                 help="The model the Write page uses.")
    # The box cuts long names short; then the whole name, wrapped, sits under it (escaped: it is a user's label).
    name = choices[st.session_state[ui.ACTIVE_RUN]]
    if len(name) > SIDEBAR_NAME_FITS:
        st.caption(escape_markdown(name, break_links=True))


def _picked() -> None:
    st.session_state[ui.ACTIVE_RUN] = st.session_state["sidebar_model"]


@st.fragment(run_every=2)
def training_now() -> None:
    reg = ui.registry()
    try:
        jobs.pump(reg)  # the queue moves while anyone has the app open
    except textgen.InkwellError:
        pass
    active = [r for r in reg.list_runs() if r["status"] in ("running", "queued")]
    if not active:
        return
    st.markdown("**Training now**")
    for r in reversed(active):  # oldest first: the order the queue runs in
        st.text(r["label"])
        if r["status"] == "queued":
            st.progress(0.0, text="queued")
        else:
            done, text = ui.progress(r, ui.time_budget(r["id"]))
            st.progress(done, text=text)


# Write opens first when there is a model to write with; otherwise a newcomer starts with their text.
write_first = bool(ui.model_choices())
pages = [
    st.Page(ui.WRITE_PAGE, title="Write", icon=":material/edit_note:", default=write_first),
    st.Page(ui.CORPUS_PAGE, title="Corpus", icon=":material/menu_book:", default=not write_first),
    st.Page(ui.TRAIN_PAGE, title="Train", icon=":material/model_training:"),
    st.Page(ui.RUNS_PAGE, title="Runs", icon=":material/stacked_line_chart:"),
]
prune_drafts(str(ui.registry().home))
access_gate(pages)
page = st.navigation(pages)

with st.sidebar:
    model_picker()
    training_now()

page.run()

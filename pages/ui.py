"""The app's one module of Streamlit helpers pages import: session keys, who this session is, navigation,
errors, blocks two pages share. Chart builders live in pages/charts.py; the cached engine handles in
pages/handles.py and the wording of a run's numbers in pages/formats.py, both still reached as `ui.*`.

Pages import it as `from pages import ui`. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

import textgen
from pages import charts, i18n, run_labels
from pages.formats import date, duration, fmt_count, progress, where_text  # noqa: F401  (pages call ui.duration...)
from pages.handles import (clipnorm, demo_available, has_weights, registry, time_budget,  # noqa: F401  (and ui.registry...)
                           unit_activations, vanishing_curve)
from pages.i18n import N_, _
from textgen import demos, markup, room
from textgen.artifacts import DEMO_ID
from textgen.config import is_text_run
from textgen.identity import Identity, is_token, new_token

ROOT = Path(__file__).resolve().parent.parent
ICON = ROOT / "assets" / "icon.png"   # the browser tab's icon (drawn by assets/make_icon.py)

# -- session keys (small values only; widget keys are named where the widget lives) ---------------
ACTIVE_RUN = "active_run"        # run id the Write page uses; DEMO_ID for the shipped model
TRAIN_RUN = "train_run"          # run the Train page's live panel follows
CHECKED_CORPUS = "corpus_checked"  # the last Corpus the Corpus page checked (textgen.Corpus)
ACCESS_OK = "access_ok"          # workshop access code accepted
WRITER = "writer_token"          # this browser's writer token (also in the link as ?w=...)
HOST_OK = "host_ok"              # the host code was entered in this session (the Workshop page)
SEEN_AT = "seen_at"              # when this session last told the room it is here
WRITER_PARAM, WRITER_COOKIE = "w", "inkwell_writer"

DEMO_LABEL = N_("Demo model (lighthouse town)")
WRITE_PAGE = "pages/write.py"
CORPUS_PAGE = "pages/corpus.py"
TRAIN_PAGE = "pages/train.py"
RUNS_PAGE = "pages/runs.py"
WORKSHOP_PAGE = "pages/workshop.py"   # the host's view (INKWELL_HOST_CODE); /workshop



# -- always through app.py --------------------------------------------------------------------
def through_app() -> None:
    """Make sure app.py (access gate, navigation, sidebar) runs, not a page file on its own.

    A folder named pages/ makes Streamlit start each server process in its old multipage mode,
    which app.py's st.navigation switches off. A browser whose first request is a page's URL
    (a reloaded tab after a restart) would run that page alone: no access code, no sidebar, and
    every file in pages/ listed as a page. Leaving that mode and rerunning sends it through app.py.
    Seen on Streamlit 1.67 in Chromium; test_shell's first-request test fails without it.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if PagesManager.uses_pages_directory and get_script_run_ctx() is not None:
        PagesManager.uses_pages_directory = False
        st.rerun()


through_app()


def identity() -> Identity:
    """Who this session is: the host (after the host code), a signed-in user (st.login), else the writer whose
    random token the browser keeps: a cookie a proxy set, or the link's ?w=, carried across page switches."""
    if st.session_state.get(HOST_OK) and room.host_code():
        who = Identity.the_host()
    elif (sub := _signed_in()) is not None:
        who = Identity.user(sub)
    else:
        link = st.query_params.get(WRITER_PARAM)
        token = next((t for t in (link, st.session_state.get(WRITER), _cookie()) if is_token(t)), None) or new_token()
        st.session_state[WRITER] = token
        if link != token:   # a page switch can drop the query string: the session's token goes back in the link
            st.query_params[WRITER_PARAM] = token
        who = Identity.writer(token)
    if time.time() - st.session_state.get(SEEN_AT, 0.0) > room.SEEN_EVERY:   # the host's "writers active now"
        st.session_state[SEEN_AT] = time.time()
        try:
            room.seen(registry(), who)
        except Exception:   # a busy registry must not cost a page view
            pass
    return who


def _signed_in() -> str | None:
    try:
        return str(st.user.sub) if st.user.is_logged_in and getattr(st.user, "sub", None) else None
    except Exception:   # no [auth] configured, or an older Streamlit: no signed-in users
        return None


def _cookie() -> str | None:
    try:
        return st.context.cookies.get(WRITER_COOKIE)
    except Exception:
        return None


def model_choices() -> dict[str, str]:
    """run id -> display label for every model one can write with: finished runs with weights, then the demo."""
    out: dict[str, str] = {}
    for run in registry().list_runs(identity(), shared=True):   # one's own, everyone's, and those shared
        if run["status"] == "done" and is_text_run(run) and has_weights(run):
            out[run["id"]] = run_title(run)
    if (own := language_demo()) is not None:   # a Chinese interface offers the Chinese demo first
        out[own.id] = _(own.label)
    if demo_available():
        out[DEMO_ID] = _(DEMO_LABEL)
    return out


def language_demo() -> demos.Demo | None:
    """The shipped demo for the interface's language, when it is not the English one and the engine can open it."""
    from textgen.generate import weights_version

    demo = demos.demo_for(i18n.current())
    if demo.id == DEMO_ID or not demos.available(demo):
        return None
    try:
        weights_version(demo.id)   # an engine without this demo's loader refuses its id: not offered then
    except textgen.InkwellError:
        return None
    return demo


def default_model(choices: dict[str, str]) -> str:
    """A writer starts on their own newest model, else the demo: never on someone else's newest run."""
    mine = {r["id"] for r in registry().list_runs(identity()) if r["owner"] == identity().owner}
    demo = next((i for i in choices if demos.by_id(i) is not None), None)   # the language's demo comes first
    return next((i for i in choices if i in mine), demo if demo is not None else next(iter(choices)))


def run_title(run: dict) -> str:
    """A display label; a short id suffix tells runs with the same label apart."""
    return f"{run_labels.label(run['label'])} · {run['id'][-6:]}"


# -- small rendering helpers ---------------------------------------------------------------------
def header(title: str, subtitle: str) -> None:
    """Page title with a one-line subtitle (our own fixed strings only)."""
    through_app()
    st.title(title)
    st.caption(subtitle)


def safe(text: str) -> str:
    """Text for st.markdown-rendering widgets (error, warning, caption...) that shows exactly as typed."""
    return markup.escape_markdown(text, break_links=True)


def show_error(e: BaseException, where=None) -> None:
    """One readable sentence, never a traceback. `where` is a container placed next to the widget."""
    target = where if where is not None else st
    if isinstance(e, textgen.InkwellError):
        # Messages can quote file names and labels the user chose: shown as typed, never as Markdown.
        target.error(safe(i18n.error_text(e)), icon=":material/error:")
    else:  # a bug: say so plainly, keep the details in the server log
        import logging

        logging.getLogger("inkwell").exception("unexpected error")
        target.error(_("Something went wrong on our side; the details are in the server log."),
                     icon=":material/error:")


def page_link(page: str, label: str, icon: str) -> None:
    """st.page_link, or a plain hint when the page is not registered (a page tested on its own)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:  # the page is not registered: no st.navigation (a page tested alone)
        st.caption(_("{label}: open it from the menu on the left.").format(label=label))


def switch_page(page: str) -> None:
    try:
        st.switch_page(page)
    except StreamlitAPIException:
        st.info(_("Open the page from the menu on the left."))


# -- blocks two pages share --------------------------------------------------------------------------
def run_summary(run: dict) -> None:
    """A finished run's row of metrics: best score, perplexity, duration, parameters."""
    best = run["best_val_bpc"]
    m = st.columns(4)
    m[0].metric(_("Best score"), f"{best:.3f}" if best is not None else "—",
                help=_("Best score on held-out text the model never trained on: how many bits it needs, on "
                       "average, to guess each next character."))
    m[1].metric(_("Perplexity"), f"{2 ** best:.2f}" if best is not None else "—",
                help=_("2 to the power of the bits per character: the number of equally likely next characters."))
    m[2].metric(_("Duration"), duration(run["elapsed"]))
    m[3].metric(_("Parameters"), i18n.num(run["params"]) if run["params"] else "—")


def write_with_button(run: dict, key: str, primary: bool = False, where=None) -> None:
    """"Write with this model" for a finished run with weights: makes it the active model, opens Write."""
    if run["status"] != "done" or not has_weights(run):
        return
    target = where if where is not None else st
    if target.button(_("Write with this model"), key=key, icon=":material/edit_note:",
                     type="primary" if primary else "secondary"):
        st.session_state[ACTIVE_RUN] = run["id"]
        switch_page(WRITE_PAGE)


def grad_panel(metrics: list[dict], clipnorm: float) -> bool:
    """The gradient-norm chart and its one-sentence reading, when the run recorded norms; whether it drew."""
    from textgen.gradients import describe_norms

    batch = [m for m in metrics if m["kind"] == "batch" and m.get("step") is not None]
    if len(charts.grad_frame(batch)) < charts.MIN_CURVE_STEPS:
        return False
    st.altair_chart(charts.grad_chart(batch, clipnorm), width="stretch")
    st.caption(safe(i18n.error_text(describe_norms([m["step"] for m in batch], [m.get("grad_norm") for m in batch],
                                   [m.get("clipped") for m in batch], clipnorm))))
    return True

"""The app's one module of Streamlit helpers: session keys, cached engine handles, errors;
chart builders live in pages/charts.py.

Pages import it as `from pages import ui`. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

import textgen
from pages import charts, i18n
from pages.i18n import N_, _, ngettext
from textgen import artifacts, demos, markup, room
from textgen.artifacts import DEMO_ID
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


# -- engine handles ------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _registry(home: str) -> textgen.Registry:
    return textgen.Registry(home or None)


def registry() -> textgen.Registry:
    """One Registry per workspace folder (tests switch INKWELL_HOME between apps in one process)."""
    return _registry(os.environ.get("INKWELL_HOME", ""))


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


def demo_available() -> bool:
    demo = artifacts.DEMO_DIR  # looked up per call, so tests can point it elsewhere
    return (demo / "weights.npz").is_file() and (demo / "config.json").is_file()


def has_weights(run: dict) -> bool:
    """Whether a registry row's run directory holds trained weights (the run directory contract's test)."""
    try:
        return artifacts.has_weights(registry().run_dir(run["id"]))
    except textgen.InkwellError:
        return False


def model_choices() -> dict[str, str]:
    """run id -> display label for every model one can write with: finished runs with weights, then the demo."""
    out: dict[str, str] = {}
    for run in registry().list_runs(identity(), shared=True):   # one's own, everyone's, and those shared
        if run["status"] == "done" and has_weights(run):
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
    return f"{run['label']} · {run['id'][-6:]}"


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


def time_budget(run_id: str) -> float:
    """The run's time budget in seconds (0 = none), from its config.json; 0 when it cannot be read."""
    try:
        return float(artifacts.read_config(registry().run_dir(run_id))[1].time_budget)
    except (textgen.InkwellError, OSError):
        return 0.0


def progress(run: dict, budget: float = 0.0) -> tuple[float, str]:
    """(fraction done, "epoch e of E · step s of S") from a registry row; the worker updates both.

    With a time budget the clock usually ends training long before the epoch limit, so the bar
    follows whichever of the two is further along.
    """
    epochs = max(1, run.get("epochs") or 1)
    steps = run.get("steps") or 0
    epoch, step = run.get("epoch") or 0, run.get("step") or 0
    if run.get("status") == "done":
        return 1.0, ngettext("finished {n} epoch", "finished {n} epochs", epoch).format(n=epoch)
    by_epochs = min(1.0, (epoch + (step / steps if steps else 0)) / epochs)
    by_time = min(1.0, (run.get("elapsed") or 0) / budget) if budget else 0.0
    if by_time > by_epochs:
        text = _("epoch {epoch}").format(epoch=epoch + 1)
        if steps:
            text += " · " + _("step {step} of {steps}").format(step=min(step, steps), steps=steps)
        return by_time, text + " · " + _("{elapsed} of {budget}").format(elapsed=duration(run.get("elapsed")),
                                                                        budget=duration(budget))
    text = _("epoch {epoch} of {epochs}").format(epoch=min(epochs, epoch + 1), epochs=epochs)
    if steps:
        text += " · " + _("step {step} of {steps}").format(step=min(step, steps), steps=steps)
    return by_epochs, text


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return _("under 1 s")
    s = int(round(seconds))
    if s < 60:
        return _("{s} s").format(s=s)
    if s < 3600:
        return _("{m} min {s} s").format(m=s // 60, s=f"{s % 60:02d}")
    return _("{h} h {m} min").format(h=s // 3600, m=f"{s % 3600 // 60:02d}")


def fmt_count(n: int | float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    # Chinese counts in 万 (ten thousand) and 亿 (a hundred million), not thousands and millions.
    steps = ((1e8, "亿"), (1e4, "万")) if i18n.current() == "zh" else ((1e9, "B"), (1e6, "M"), (1e3, "k"))
    for div, suffix in steps:
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"{int(n)}"


def date(ts: float | None) -> str:
    return i18n.date(ts)


def clipnorm(run_id: str) -> float:
    """The run's clipping threshold from its config.json (0: off, or unreadable)."""
    try:
        return float(artifacts.read_config(registry().run_dir(run_id))[1].clipnorm or 0.0)
    except (textgen.InkwellError, OSError):
        return 0.0


@st.cache_data(show_spinner=False, max_entries=32)
def _vanishing(run_dir: str, weights_mtime: float) -> list[float]:
    from textgen import gradients

    return gradients.run_curve(artifacts.open_run_dir(Path(run_dir))).norms.tolist()


def vanishing_curve(run_id: str) -> list[float]:
    """A finished run's mean |dL/dh_{T-k}|, k = 0..100, from its NumPy weights; cached until the weights change."""
    run_dir = registry().run_dir(run_id)
    with st.spinner(_("Measuring how far back the gradient reaches…")):
        return _vanishing(str(run_dir), (run_dir / "weights.npz").stat().st_mtime)


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


@st.cache_data(show_spinner=False, max_entries=8)
def _unit_activations(run_dir: str, weights_mtime: float) -> tuple[str, list]:
    from textgen import neurons
    from textgen.stepper import Stepper

    run = artifacts.open_run_dir(Path(run_dir))
    text = neurons.passage(run)
    ids = run.vocab.encode(text)[0] if text else []
    return text, [a.tolist() for a in neurons.activations(Stepper(run.model, run.weights), ids)] if text else []


def unit_activations(run_id: str) -> tuple[str, list]:
    """(a held-out passage, per layer its (chars, units) activations) of a char-level run; cached per weights."""
    run_dir = registry().run_dir(run_id)
    with st.spinner(_("Reading the run's units…")):
        return _unit_activations(str(run_dir), (run_dir / "weights.npz").stat().st_mtime)


def where_text(run: dict) -> str | None:
    """Where a cluster job runs (INKWELL_JOBS names Ray); None for local workers, which have no node."""
    node = run.get("node")
    if node:
        return (_("Training on the cluster node {node}.") if run["status"] == "running"
                else _("Ran on the cluster node {node}.")).format(node=node)
    if run["status"] == "running" and run.get("job"):
        return _("Waiting for a free node on the cluster.")
    return None

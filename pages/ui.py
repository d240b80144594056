"""The app's one module of Streamlit helpers: session keys, cached engine handles, charts, errors.

Pages import it as `from pages import ui`. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

import textgen
from textgen import artifacts, markup
from textgen.artifacts import DEMO_ID

ROOT = Path(__file__).resolve().parent.parent
ICON = ROOT / "assets" / "icon.png"   # the browser tab's icon (drawn by assets/make_icon.py)

# -- session keys (small values only; widget keys are named where the widget lives) ---------------
ACTIVE_RUN = "active_run"        # run id the Write page uses; DEMO_ID for the shipped model
TRAIN_RUN = "train_run"          # run the Train page's live panel follows
CHECKED_CORPUS = "corpus_checked"  # the last Corpus the Corpus page checked (textgen.Corpus)
ACCESS_OK = "access_ok"          # workshop access code accepted

DEMO_LABEL = "Demo model (lighthouse town)"
WRITE_PAGE = "pages/write.py"
CORPUS_PAGE = "pages/corpus.py"
TRAIN_PAGE = "pages/train.py"
RUNS_PAGE = "pages/runs.py"



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
    for run in registry().list_runs():
        if run["status"] == "done" and has_weights(run):
            out[run["id"]] = run_title(run)
    if demo_available():
        out[DEMO_ID] = DEMO_LABEL
    return out


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
        target.error(safe(str(e)), icon=":material/error:")
    else:  # a bug: say so plainly, keep the details in the server log
        import logging

        logging.getLogger("inkwell").exception("unexpected error")
        target.error("Something went wrong on our side; the details are in the server log.",
                     icon=":material/error:")


def page_link(page: str, label: str, icon: str) -> None:
    """st.page_link, or a plain hint when the page is not registered (a page tested on its own)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:  # the page is not registered: no st.navigation (a page tested alone)
        st.caption(f"{label}: open it from the menu on the left.")


def switch_page(page: str) -> None:
    try:
        st.switch_page(page)
    except StreamlitAPIException:
        st.info("Open the page from the menu on the left.")


# -- blocks two pages share --------------------------------------------------------------------------
def run_summary(run: dict) -> None:
    """A finished run's row of metrics: best score, perplexity, duration, parameters."""
    best = run["best_val_bpc"]
    m = st.columns(4)
    m[0].metric("Best score", f"{best:.3f}" if best is not None else "—",
                help="Best score on held-out text the model never trained on: how many bits it needs, on "
                     "average, to guess each next character.")
    m[1].metric("Perplexity", f"{2 ** best:.2f}" if best is not None else "—",
                help="2 to the power of the bits per character: the number of equally likely next characters.")
    m[2].metric("Duration", duration(run["elapsed"]))
    m[3].metric("Parameters", f"{run['params']:,}" if run["params"] else "—")


def write_with_button(run: dict, key: str, primary: bool = False, where=None) -> None:
    """"Write with this model" for a finished run with weights: makes it the active model, opens Write."""
    if run["status"] != "done" or not has_weights(run):
        return
    target = where if where is not None else st
    if target.button("Write with this model", key=key, icon=":material/edit_note:",
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
        return 1.0, f"finished {epoch} epoch{'s' if epoch != 1 else ''}"
    by_epochs = min(1.0, (epoch + (step / steps if steps else 0)) / epochs)
    by_time = min(1.0, (run.get("elapsed") or 0) / budget) if budget else 0.0
    if by_time > by_epochs:
        text = f"epoch {epoch + 1}"
        if steps:
            text += f" · step {min(step, steps)} of {steps}"
        return by_time, text + f" · {duration(run.get('elapsed'))} of {duration(budget)}"
    text = f"epoch {min(epochs, epoch + 1)} of {epochs}"
    if steps:
        text += f" · step {min(step, steps)} of {steps}"
    return by_epochs, text


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return "under 1 s"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def fmt_count(n: int | float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"{int(n)}"


def date(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "—"


# -- charts --------------------------------------------------------------------------------------
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍", "\f": "␌", "\u00a0": "⍽"}


def visible_char(ch: str) -> str:
    if ch in VISIBLE:
        return VISIBLE[ch]
    return ch if ch.isprintable() else f"U+{ord(ch):04X}"


def top_chars_frame(top_chars, limit: int = 30) -> pd.DataFrame:
    rows = [{"character": visible_char(c), "count": n} for c, n in list(top_chars)[:limit]]
    return pd.DataFrame(rows, columns=["character", "count"])


def top_chars_chart(top_chars, limit: int = 30) -> alt.Chart:
    df = top_chars_frame(top_chars, limit)
    return (alt.Chart(df, height=260)
            .mark_bar(color="#7b4bd6", cornerRadiusEnd=3)
            .encode(x=alt.X("character:N", sort="-y", title=None, axis=alt.Axis(labelAngle=0, labelFontSize=13)),
                    y=alt.Y("count:Q", title="occurrences"),
                    tooltip=["character", alt.Tooltip("count:Q", format=",")]))


def smooth(values: list[float], half: int | None = None) -> list[float]:
    """Centred moving average of the noisy per-batch loss, `half` points either side.

    Centred, so the line does not lag behind a falling curve (a trailing average sits above it); near the
    ends the window shrinks symmetrically, so a straight stretch is returned unchanged. By default the
    window spans about a fortieth of the curve on each side, 1 to 20 points.
    """
    n = len(values)
    if half is None:
        half = min(20, max(1, n // 40))
    sums = np.concatenate([[0.0], np.cumsum(np.asarray(values, dtype=float))])
    i = np.arange(n)
    h = np.minimum(half, np.minimum(i, n - 1 - i))
    return ((sums[i + h + 1] - sums[i - h]) / (2 * h + 1)).tolist()


def loss_frame(metrics: list[dict]) -> pd.DataFrame:
    """Long form (step, bpc, series): raw and smoothed train loss per batch, validation per epoch."""
    batch = [m for m in metrics if m["kind"] == "batch" and m.get("bpc") is not None and m.get("step") is not None]
    epoch = [m for m in metrics if m["kind"] == "epoch" and m.get("val_bpc") is not None and m.get("step") is not None]
    rows = [{"step": m["step"], "bpc": m["bpc"], "series": "train (per batch)"} for m in batch]
    rows += [{"step": m["step"], "bpc": v, "series": "train (smoothed)"}
             for m, v in zip(batch, smooth([m["bpc"] for m in batch]))]
    rows += [{"step": m["step"], "bpc": m["val_bpc"], "series": "validation"} for m in epoch]
    return pd.DataFrame(rows, columns=["step", "bpc", "series"])


MIN_CURVE_STEPS = 3   # fewer distinct steps than this draw a lone dot, not a curve: say so in words instead
BPC_TITLE = "bits per character (lower is better)"


def curve_steps(metrics: list[dict]) -> int:
    """How many distinct training steps the loss chart would have points at."""
    return int(loss_frame(metrics)["step"].nunique())


SERIES_COLORS = alt.Scale(domain=["train (per batch)", "train (smoothed)", "validation"],
                          range=["#cdbdf0", "#7b4bd6", "#e0683a"])


def loss_chart(metrics: list[dict]) -> alt.LayerChart:
    df = loss_frame(metrics)
    base = alt.Chart(df, height=300).encode(
        x=alt.X("step:Q", title="training step", axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("bpc:Q", title=BPC_TITLE, scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", scale=SERIES_COLORS,
                        legend=alt.Legend(orient="top", title=None, labelFontSize=13)),
        tooltip=["series", "step", alt.Tooltip("bpc:Q", format=".3f")])
    lines = base.mark_line(strokeWidth=2).transform_filter(alt.datum.series != "validation")
    val = base.transform_filter(alt.datum.series == "validation")
    return alt.layer(lines, val.mark_line(strokeDash=[4, 3]), val.mark_point(filled=True, size=60))


def overlay_frame(curves: dict[str, list[dict]]) -> pd.DataFrame:
    """curves: display label -> epoch metric rows. Long form (epoch, val_bpc, run)."""
    rows = [{"epoch": m["epoch"], "val_bpc": m["val_bpc"], "run": name}
            for name, ms in curves.items() for m in ms if m.get("val_bpc") is not None]
    return pd.DataFrame(rows, columns=["epoch", "val_bpc", "run"])


OVERLAY_Y_TITLE = ["held-out bits per character", "(lower is better)"]   # two lines: one was cut off


def overlay_chart(curves: dict[str, list[dict]]) -> alt.Chart:
    df = overlay_frame(curves)
    # The height includes the legend, one row per run: it grows with them so the plot keeps its room.
    return (alt.Chart(df, height=280 + 30 * len(curves))
            .mark_line(point=True, strokeWidth=2)
            .encode(x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(format="d", tickMinStep=1)),
                    y=alt.Y("val_bpc:Q", title=OVERLAY_Y_TITLE, scale=alt.Scale(zero=False)),
                    # Labels are run names, often long: a vertical legend with room for the whole name.
                    color=alt.Color("run:N", legend=alt.Legend(orient="top", direction="vertical", title=None,
                                                               labelLimit=900, labelFontSize=13)),
                    tooltip=["run", "epoch", alt.Tooltip("val_bpc:Q", format=".3f")]))


KEPT_COLORS = alt.Scale(domain=["can be drawn", "cut by top-k / top-p"], range=["#7b4bd6", "#d4d4d8"])


def odds_frame(odds) -> pd.DataFrame:
    """textgen.insight.Odds rows as (token, rank, chance, kind): a cut token's bar is its chance before the cut."""
    rows, seen = [], {}
    for rank, o in enumerate(odds):
        seen[o.shown] = seen.get(o.shown, 0) + 1
        label = o.shown if seen[o.shown] == 1 else f"{o.shown} ·{seen[o.shown]}"   # labels must differ
        rows.append({"token": label, "rank": rank, "chance": o.prob if o.kept else o.before,
                     "kind": "can be drawn" if o.kept else "cut by top-k / top-p", "before": o.before})
    return pd.DataFrame(rows, columns=["token", "rank", "chance", "kind", "before"])


def odds_chart(odds) -> alt.Chart:
    """The likeliest next tokens as horizontal bars, likeliest on top; greyed bars for what was cut away."""
    df = odds_frame(odds)
    return (alt.Chart(df, height=26 * max(1, len(df)) + 40)
            .mark_bar(cornerRadiusEnd=3)
            .encode(y=alt.Y("token:N", sort=alt.SortField("rank"), title=None,
                            axis=alt.Axis(labelFontSize=15, labelLimit=200)),
                    x=alt.X("chance:Q", title="chance of being written next", axis=alt.Axis(format="%"),
                            scale=alt.Scale(domain=[0, 1])),
                    color=alt.Color("kind:N", scale=KEPT_COLORS, legend=alt.Legend(orient="top", title=None)),
                    tooltip=["token", alt.Tooltip("chance:Q", format=".1%"),
                             alt.Tooltip("before:Q", format=".1%", title="before top-k / top-p")]))

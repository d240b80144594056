"""Chart builders for the pages: pandas frames and Altair specs, no Streamlit, so they test without a browser.

Pages import it as `from pages import charts`; pages/ui.py keeps the Streamlit helpers.
"""
from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from pages import bestmark
from pages.i18n import N_, _
from textgen.experiments import CELLS, NAMES


# -- charts --------------------------------------------------------------------------------------
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍", "\f": "␌", "\u00a0": "⍽"}


def visible_char(ch: str) -> str:
    from textgen import corpus

    if hasattr(corpus, "char_label"):   # the engine's labels (an ideographic space too), where it has them
        return corpus.char_label(ch)
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
            # labelOverlap off: Vega would drop every other label of 30 wide CJK characters; each bar keeps its own.
            .encode(x=alt.X("character:N", sort="-y", title=None,
                            axis=alt.Axis(labelAngle=0, labelFontSize=13, labelOverlap=False)),
                    y=alt.Y("count:Q", title=_("occurrences")),
                    tooltip=[alt.Tooltip("character:N", title=_("character")),
                             alt.Tooltip("count:Q", format=",", title=_("occurrences"))]))


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
    raw, smoothed, val = (_(n) for n in SERIES)
    rows = [{"step": m["step"], "bpc": m["bpc"], "series": raw} for m in batch]
    rows += [{"step": m["step"], "bpc": v, "series": smoothed}
             for m, v in zip(batch, smooth([m["bpc"] for m in batch]))]
    rows += [{"step": m["step"], "bpc": m["val_bpc"], "series": val} for m in epoch]
    return pd.DataFrame(rows, columns=["step", "bpc", "series"])


MIN_CURVE_STEPS = 3   # fewer distinct steps than this draw a lone dot, not a curve: say so in words instead
BPC_TITLE = N_("bits per character (lower is better)")


def curve_steps(metrics: list[dict]) -> int:
    """How many distinct training steps the loss chart would have points at."""
    return int(loss_frame(metrics)["step"].nunique())


SERIES = (N_("train (per batch)"), N_("train (smoothed)"), N_("validation"))


def series_colors() -> alt.Scale:
    return alt.Scale(domain=[_(n) for n in SERIES], range=["#cdbdf0", "#7b4bd6", "#e0683a"])


def baseline_frame(refs) -> pd.DataFrame:
    """A run's n-gram baselines (textgen.baselines.Baselines or None) as labelled reference levels."""
    from textgen.baselines import NAMES

    rows = [] if refs is None else [{"bpc": getattr(refs, k), "label": _(name)} for k, name in NAMES.items()]
    return pd.DataFrame(rows, columns=["bpc", "label"])


def baseline_labels(refs, span: tuple[float, float], rings: list[tuple[float, float]] = ()) -> pd.DataFrame:
    """The baselines with where each label goes: its foot (label_y) just over its line, or under it where a
    nearer label took that place; at the right edge, or the left where a best point's ring (x as a share of
    the chart's width, y) sits at the right end near it."""
    df = baseline_frame(refs)
    if df.empty:
        return df.assign(label_y=[], side=[])
    lo, hi = span
    band = bestmark.TEXT_BAND * max(hi - lo, 1e-9)
    order = sorted(range(len(df)), key=lambda i: -df["bpc"].iloc[i])   # top down: the highest keeps its place
    feet = dict(zip(order, bestmark.label_heights([df["bpc"].iloc[i] for i in order], lo, hi, [],
                                                  bestmark.LINE_TRIES)))
    label_y = [feet[i] for i in range(len(df))]
    side = ["left" if any(x > 0.7 and -1.5 * band < y - foot < 2.0 * band for x, y in rings) else "right"
            for foot in label_y]
    return df.assign(label_y=label_y, side=side)


def placed_baselines(refs, ys: list[float], best: pd.DataFrame, x: str, y: str, right: float):
    """(the plot's y span, baseline_labels) for a chart of values `ys` whose best points (`best`'s x and y
    columns; `right`: the largest x) are ringed."""
    levels = baseline_frame(refs)["bpc"].tolist()
    span = bestmark.span(ys, bool(levels)) if ys else (0.0, 1.0)
    rings = [(a / right if right else 1.0, b) for a, b in zip(best[x], best[y])]
    return span, baseline_labels(refs, span, rings)


def baseline_rules(placed: pd.DataFrame) -> list:
    """Grey dashed levels, each named at the chart's edge where baseline_labels placed it: what a network must
    get below."""
    if placed.empty:
        return []
    rule = alt.Chart(placed[["bpc", "label"]]).mark_rule(color="#9a9aa6", strokeDash=[2, 3]).encode(
        y="bpc:Q", tooltip=["label", alt.Tooltip("bpc:Q", format=".3f")])
    layers = [rule]
    for side, x, dx in (("right", {"expr": "width"}, -4), ("left", 0, 4)):
        if (rows := placed[placed["side"] == side]).empty:
            continue
        text = alt.Chart(rows).encode(y="label_y:Q", x=alt.value(x), text="label:N")
        layers += bestmark.outlined(text, align=side, dx=dx, baseline="bottom", color="#4a4d5c", fontSize=12)
    return layers


def loss_chart(metrics: list[dict], refs=None) -> alt.LayerChart:
    """refs: the run's baselines, drawn as labelled reference lines (None: none recorded)."""
    df, best = loss_frame(metrics), bestmark.loss_frame(metrics)   # best: the point whose weights write
    levels = baseline_frame(refs)["bpc"].tolist()
    ys = [*df["bpc"], *levels]
    right = df["step"].max()
    span, placed = placed_baselines(refs, ys, best, "step", "bpc", right)
    base = alt.Chart(df, height=300).encode(
        x=alt.X("step:Q", title=_("training step"), axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("bpc:Q", title=_(BPC_TITLE), scale=bestmark.scale(ys, not best.empty or bool(levels), bool(levels))),
        color=alt.Color("series:N", scale=series_colors(),
                        legend=alt.Legend(orient="top", title=None, labelFontSize=13)),
        tooltip=[alt.Tooltip("series:N", title=_("series")), alt.Tooltip("step:Q", title=_("training step")),
                 alt.Tooltip("bpc:Q", format=".3f", title=_("bits per character"))])
    lines = base.mark_line(strokeWidth=2).transform_filter(alt.datum.series != _(SERIES[2]))
    val = base.transform_filter(alt.datum.series == _(SERIES[2]))
    marks = bestmark.marker(best, "step", "bpc", right, span, placed["label_y"].tolist())
    return alt.layer(lines, val.mark_line(strokeDash=[4, 3]), val.mark_point(filled=True, size=60),
                     *baseline_rules(placed), *marks)



def overlay_frame(curves: dict[str, list[dict]]) -> pd.DataFrame:
    """curves: display label -> epoch metric rows. Long form (epoch, val_bpc, run)."""
    rows = [{"epoch": m["epoch"], "val_bpc": m["val_bpc"], "run": name}
            for name, ms in curves.items() for m in ms if m.get("val_bpc") is not None]
    return pd.DataFrame(rows, columns=["epoch", "val_bpc", "run"])


OVERLAY_Y_TITLE = [N_("held-out bits per character"), N_("(lower is better)")]   # two lines: one was cut off


def overlay_chart(curves: dict[str, list[dict]]) -> alt.Chart:
    df = overlay_frame(curves)
    # The height includes the legend, one row per run: it grows with them so the plot keeps its room.
    return (alt.Chart(df, height=280 + 30 * len(curves))
            .mark_line(point=True, strokeWidth=2)
            .encode(x=alt.X("epoch:Q", title=_("epoch"), axis=alt.Axis(format="d", tickMinStep=1)),
                    y=alt.Y("val_bpc:Q", title=[_(t) for t in OVERLAY_Y_TITLE], scale=alt.Scale(zero=False)),
                    # Labels are run names, often long: a vertical legend with room for the whole name.
                    color=alt.Color("run:N", legend=alt.Legend(orient="top", direction="vertical", title=None,
                                                               labelLimit=900, labelFontSize=13)),
                    tooltip=["run", "epoch", alt.Tooltip("val_bpc:Q", format=".3f")]))


KEPT = (N_("can be drawn"), N_("cut by top-k / top-p"))


def kept_colors() -> alt.Scale:
    return alt.Scale(domain=[_(k) for k in KEPT], range=["#7b4bd6", "#d4d4d8"])


def odds_frame(odds) -> pd.DataFrame:
    """textgen.insight.Odds rows as (token, rank, chance, kind): a cut token's bar is its chance before the cut."""
    rows, seen = [], {}
    for rank, o in enumerate(odds):
        seen[o.shown] = seen.get(o.shown, 0) + 1
        label = o.shown if seen[o.shown] == 1 else f"{o.shown} ·{seen[o.shown]}"   # labels must differ
        rows.append({"token": label, "rank": rank, "chance": o.prob if o.kept else o.before,
                     "kind": _(KEPT[0]) if o.kept else _(KEPT[1]), "before": o.before})
    return pd.DataFrame(rows, columns=["token", "rank", "chance", "kind", "before"])


def odds_chart(odds) -> alt.LayerChart:
    """The likeliest next tokens as horizontal bars, likeliest on top; greyed bars for what was cut away."""
    df = odds_frame(odds)
    # Streamlit fits legend and axes inside the height too: 28 px per row plus theirs, so no label is dropped
    base = alt.Chart(df).encode(
        y=alt.Y("token:N", sort=list(df["token"]), title=None,
                axis=alt.Axis(labelFontSize=15, labelLimit=200, labelOverlap=False)),
        x=alt.X("chance:Q", title=_("chance of being written next"), axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        tooltip=["token", alt.Tooltip("chance:Q", format=".1%"),
                 alt.Tooltip("before:Q", format=".1%", title=_("before top-k / top-p"))])
    bars = base.mark_bar(cornerRadiusEnd=3).encode(
        color=alt.Color("kind:N", scale=kept_colors(), legend=alt.Legend(orient="top", title=None)))
    return alt.layer(bars, base.mark_text(align="left", dx=4, fontSize=12, color="#555").encode(
        text=alt.Text("chance:Q", format=".0%"))).properties(height=28 * max(1, len(df)) + 100)


# -- the Inside page's charts (also the Train page's gradient panel) ----------------------------------
GRAD = (N_("gradient norm"), N_("clipped"))


def grad_colors() -> alt.Scale:
    return alt.Scale(domain=[_(g) for g in GRAD], range=["#7b4bd6", "#e0683a"])


def grad_frame(metrics: list[dict]) -> pd.DataFrame:
    """(step, grad_norm, clipped, series) of the batch rows that carry a gradient norm (older runs have none)."""
    rows = [{"step": m["step"], "grad_norm": m["grad_norm"], "clipped": int(m.get("clipped") or 0),
             "series": _(GRAD[1]) if m.get("clipped") else _(GRAD[0])}
            for m in metrics if m["kind"] == "batch" and m.get("grad_norm") and m.get("step") is not None
            and math.isfinite(m["grad_norm"])]
    return pd.DataFrame(rows, columns=["step", "grad_norm", "clipped", "series"])


def grad_chart(metrics: list[dict], clipnorm: float = 0.0) -> alt.LayerChart:
    """The gradient norm per training step on a log scale, clipped stretches marked, the clipping threshold drawn."""
    df = grad_frame(metrics)
    base = alt.Chart(df, height=260).encode(
        x=alt.X("step:Q", title=_("training step"), axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("grad_norm:Q", title=_("gradient norm (log scale)"), scale=alt.Scale(type="log")),
        tooltip=["step", alt.Tooltip("grad_norm:Q", format=".3g"), "clipped"])
    layers = [base.mark_line(strokeWidth=2, color="#7b4bd6"),
              base.mark_point(filled=True, size=40).encode(
                  color=alt.Color("series:N", scale=grad_colors(), legend=alt.Legend(orient="top", title=None)))]
    if clipnorm:
        rule = pd.DataFrame({"y": [clipnorm], "label": [_("clipping threshold {value}").format(value=f"{clipnorm:g}")]})
        layers.append(alt.Chart(rule).mark_rule(strokeDash=[6, 4], color="#e0683a").encode(y="y:Q"))
        layers += bestmark.outlined(alt.Chart(rule).encode(y="y:Q", x=alt.value(0), text="label:N"),
                                    align="left", dx=4, dy=-6, color="#b0461f")
    return alt.layer(*layers)


def vanishing_frame(curves: dict[str, list[float]]) -> pd.DataFrame:
    """curves: run label -> mean |dL/dh_{T-k}| for k = 0..K. Long form (k, norm, run)."""
    rows = [{"k": k, "norm": float(v), "run": name} for name, vals in curves.items()
            for k, v in enumerate(vals) if v > 0 and math.isfinite(v)]
    return pd.DataFrame(rows, columns=["k", "norm", "run"])


def vanishing_chart(curves: dict[str, list[float]]) -> alt.Chart:
    df = vanishing_frame(curves)
    return (alt.Chart(df, height=300 + 24 * len(curves)).mark_line(strokeWidth=2)
            .encode(x=alt.X("k:Q", title=_("steps back (k)")),
                    y=alt.Y("norm:Q", title=_("gradient reaching k steps back (log)"), scale=alt.Scale(type="log"),
                            axis=alt.Axis(format=".0e")),   # 1e-3 ... 1e-11, as the captions write them
                    color=alt.Color("run:N", legend=alt.Legend(orient="top", direction="vertical", title=None,
                                                               labelLimit=900)),
                    tooltip=["run", "k", alt.Tooltip("norm:Q", format=".3g")]))


CELL_COLORS = alt.Scale(domain=[NAMES[c] for c in CELLS], range=["#e0683a", "#7b4bd6", "#2a9d8f"])


def memory_frame(results) -> pd.DataFrame:
    """textgen.experiments.CellResult rows as (gap, accuracy, cell), each cell by the engine's name for it."""
    return pd.DataFrame([{"gap": r.gap, "accuracy": r.accuracy, "cell": NAMES[r.cell], "steps": r.steps}
                         for r in results], columns=["gap", "accuracy", "cell", "steps"])


COMPARE_AXES = {"time": N_("training time (seconds)"), "characters": N_("characters seen"), "epoch": N_("epoch")}


def compare_chart(curves: dict[str, list[dict]], axis: str, refs=None) -> alt.Chart:
    """curves: run label -> [{"x", "val_bpc", "epoch"}] with x in the axis' unit (COMPARE_AXES): held-out score per
    run, each run's best ringed (points without an epoch are not). refs: baselines the runs share (same text, same
    split), drawn as reference lines."""
    df = pd.DataFrame([{"x": p["x"], "val_bpc": p["val_bpc"], "run": name} for name, pts in curves.items()
                       for p in pts if p.get("val_bpc") is not None and p.get("x") is not None],
                      columns=["x", "val_bpc", "run"])
    runs = alt.Color("run:N", legend=alt.Legend(orient="top", direction="vertical", title=None, labelLimit=900,
                                                labelFontSize=13))
    best, levels = bestmark.compare_frame(curves), baseline_frame(refs)["bpc"].tolist()
    ys = [*df["val_bpc"], *levels]
    y_scale = bestmark.scale(ys, not best.empty or bool(levels), bool(levels))
    right = df["x"].max() if len(df) else 0.0
    span, placed = placed_baselines(refs, ys, best, "x", "val_bpc", right)
    lines = (alt.Chart(df, height=280 + 30 * len(curves)).mark_line(point=True, strokeWidth=2)
            .encode(x=alt.X("x:Q", title=_(COMPARE_AXES[axis])),
                    y=alt.Y("val_bpc:Q", title=[_(t) for t in OVERLAY_Y_TITLE], scale=y_scale),
                    color=runs,
                    tooltip=["run", alt.Tooltip("x:Q", title=_(COMPARE_AXES[axis]), format=",.0f"),
                             alt.Tooltip("val_bpc:Q", format=".3f")]))
    marks = bestmark.marker(best, "x", "val_bpc", right, span, placed["label_y"].tolist(), runs)
    return alt.layer(lines, *baseline_rules(placed), *marks) if refs is not None or marks else lines


def activation_chart(text: str, values, width: int = 60) -> alt.LayerChart:
    """A passage as a grid of characters, each shaded by a unit's activation after reading it (-1 blue .. 1 red)."""
    rows = [{"row": i // width, "col": i % width, "ch": visible_char(ch) if ch in "\n\t" else ch, "act": float(v)}
            for i, (ch, v) in enumerate(zip(text, values))]
    df = pd.DataFrame(rows, columns=["row", "col", "ch", "act"])
    base = alt.Chart(df, height=22 * (df["row"].max() + 1 if len(df) else 1)).encode(
        x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None))
    cells = base.mark_rect().encode(color=alt.Color("act:Q", scale=alt.Scale(scheme="redblue", reverse=True,
                                                                             domain=[-1, 1]), title=_("activation")),
                                    tooltip=["ch", alt.Tooltip("act:Q", format=".2f")])
    return alt.layer(cells, base.mark_text(fontSize=13, font="monospace").encode(text="ch:N"))



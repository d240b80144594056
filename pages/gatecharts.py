"""The Inside page's own charts: the memory experiment, a passage shaded by a unit and its keep gate, and the
clipping on/off pair."""
from __future__ import annotations

import math

import altair as alt
import pandas as pd

from pages.bestmark import outlined
from pages.charts import CELL_COLORS, memory_frame, visible_char
from pages.i18n import N_, _
from textgen.config import CELL_NAMES as NAMES

GATE_ROW = 0.35                  # of each text row: the gate's band under the character's shaded cell
PAIR = (N_("clipping off"), N_("clipping on"))   # the pair's series names, shown in the reader's language


def memory_chart(results, chance: float) -> alt.LayerChart:
    """Held-out accuracy against the gap for each cell (gap on a log scale), with the chance line. The accuracy
    scale is 0-100% and no more, and each label sits on its value (flush end labels, the theme's default, put
    "100%" below the points at 100%, which then looked higher)."""
    df = memory_frame(results)
    span = [float(df["gap"].min()), float(df["gap"].max())] if len(df) else alt.Undefined   # the gaps tried only
    y_scale = alt.Scale(domain=[0, 1], clamp=True, nice=False)
    y_axis = alt.Axis(format="%", tickCount=5, labelFlush=False)   # 0, 20, ... 100%
    x = alt.X("gap:Q", title=_("gap: noise symbols between the symbol and the question (log scale)"),
              scale=alt.Scale(type="log", nice=False, domain=span, clamp=True),
              axis=alt.Axis(labelFlush=False, values=sorted({int(g) for g in df["gap"]}) if len(df) else alt.Undefined))
    line = (alt.Chart(df, height=320).mark_line(point=alt.OverlayMarkDef(filled=True, size=70), strokeWidth=2.5)
            .encode(x=x, y=alt.Y("accuracy:Q", title=_("held-out accuracy"), scale=y_scale, axis=y_axis),
                    color=alt.Color("cell:N", scale=CELL_COLORS,
                                    legend=alt.Legend(orient="top", title=None, labelFontSize=13)),
                    tooltip=["cell", "gap", alt.Tooltip("accuracy:Q", format=".1%"), "steps"]))
    label = _("chance ({share})").format(share=f"{chance:.0%}")
    # The chance line is a datum on the line's own y scale: the layers share one scale and one axis.
    rule = alt.Chart().mark_rule(strokeDash=[6, 4], color="#6b7280").encode(y=alt.datum(chance))
    text = alt.Chart(pd.DataFrame({"label": [label]})).encode(y=alt.datum(chance), x=alt.value(0), text="label:N")
    # Where LSTM and GRU score alike GRU's line covers LSTM's: LSTM is drawn again over it, dashed, so both show.
    lstm = (alt.Chart(df).transform_filter(alt.datum.cell == NAMES["lstm"])
            .mark_line(strokeWidth=2.5, strokeDash=[7, 6], color=CELL_COLORS.range[1]).encode(x=x, y="accuracy:Q"))
    return alt.layer(line, lstm, rule, *outlined(text, align="left", dx=4, dy=-6, color="#4a4d5c"))


def pair_colors() -> alt.Scale:
    return alt.Scale(domain=[_(n) for n in PAIR], range=["#e0683a", "#2a9d8f"])


def gate_frame(text: str, acts, gates, width: int = 60) -> pd.DataFrame:
    """One row per character: its grid place, the unit's activation and its keep gate (None without gates)."""
    rows = []
    for i, ch in enumerate(text):
        r = i // width
        rows.append({"row": r, "col": i % width, "ch": visible_char(ch) if ch in "\n\t" else ch,
                     "act": float(acts[i]), "gate": None if gates is None else float(gates[i]),
                     "top": float(r), "mid": r + 1 - GATE_ROW, "bottom": r + 1.0})
    return pd.DataFrame(rows, columns=["row", "col", "ch", "act", "gate", "top", "mid", "bottom"])


def gate_chart(text: str, acts, gates, gate_name: str, width: int = 60) -> alt.LayerChart:
    """The passage as a grid: each character's cell shaded by the unit's activation (-1 blue .. 1 red), and under
    it a band by how open its keep gate was (dark: the unit kept its memory; pale: it wrote over it)."""
    df = gate_frame(text, acts, gates, width)
    lines = int(df["row"].max()) + 1 if len(df) else 1
    x = alt.X("col:O", axis=None)
    y = alt.Y("top:Q", axis=None, scale=alt.Scale(domain=[lines, 0], nice=False))
    base = alt.Chart(df, height=40 * lines)
    tip = ["ch", alt.Tooltip("act:Q", format=".2f", title=_("activation")),
           alt.Tooltip("gate:Q", format=".2f", title=gate_name)]
    cells = base.mark_rect().encode(x=x, y=y, y2="mid:Q", tooltip=tip, color=alt.Color(
        "act:Q", title=_("activation"), scale=alt.Scale(scheme="redblue", reverse=True, domain=[-1, 1]),
        legend=alt.Legend(orient="top", direction="horizontal", gradientLength=180)))
    letters = base.transform_calculate(at="datum.top + 0.34").mark_text(fontSize=13, font="monospace").encode(
        x=x, y=alt.Y("at:Q", axis=None, scale=alt.Scale(domain=[lines, 0], nice=False)), text="ch:N")
    layers = [cells, letters]
    if gates is not None:
        layers.append(base.mark_rect().encode(x=x, y=alt.Y("mid:Q", axis=None), y2="bottom:Q", tooltip=tip,
                                              color=alt.Color("gate:Q", title=gate_name,
                                                              scale=alt.Scale(scheme="greens", domain=[0, 1]),
                                                              legend=alt.Legend(orient="top", direction="horizontal",
                                                                                gradientLength=180))))
    return alt.layer(*layers).resolve_scale(color="independent")


def pair_frame(series: dict[str, list[dict]], field: str) -> pd.DataFrame:
    """Long form (step, value, run) of each run's batch rows where `field` is a finite number."""
    rows = [{"step": m["step"], "value": float(m[field]), "run": name} for name, metrics in series.items()
            for m in metrics if m.get("kind") == "batch" and m.get("step") is not None
            and m.get(field) is not None and math.isfinite(m[field]) and (field != "grad_norm" or m[field] > 0)]
    return pd.DataFrame(rows, columns=["step", "value", "run"])


def pair_chart(series: dict[str, list[dict]], field: str, title: str, clipnorm: float = 0.0,
               log: bool = False) -> alt.LayerChart:
    """The clipping off and on runs' `field` per training step in one chart (a log scale for the norms), with
    the clipping threshold drawn where given."""
    df = pair_frame(series, field)
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    layers = [alt.Chart(df, height=280).mark_line(strokeWidth=2, point=True).encode(
        x=alt.X("step:Q", title=_("training step"), axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("value:Q", title=title, scale=scale),
        color=alt.Color("run:N", scale=pair_colors(), legend=alt.Legend(orient="top", title=None)),
        tooltip=["run", "step", alt.Tooltip("value:Q", format=".3g", title=title)])]
    if clipnorm:
        rule = pd.DataFrame({"y": [clipnorm]})
        layers.append(alt.Chart(rule).mark_rule(strokeDash=[6, 4], color="#555").encode(y="y:Q"))
    return alt.layer(*layers)

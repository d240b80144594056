"""The best validation score drawn on a learning curve: the checkpoint whose weights the Write page uses.

A ring on the point, a dashed rule through it and a label, layered onto pages/charts.py's loss and compare charts.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from pages.i18n import N_, _

BEST_COLOR = "#b0461f"
BEST_NOTE = N_("best: {bpc} bits/char, epoch {epoch} — this checkpoint writes")
BEST_SHORT = N_("best {bpc} · epoch {epoch}")   # one per run on the Runs page, where the caption says the rest


def best_epoch(rows: list[dict]) -> dict | None:
    """The epoch row with the lowest validation score; of equal ones the first, as training keeps only a better one."""
    scored = [m for m in rows if m.get("kind", "epoch") == "epoch" and m.get("val_bpc") is not None]
    return min(scored, key=lambda m: m["val_bpc"]) if scored else None


def loss_frame(metrics: list[dict]) -> pd.DataFrame:
    """(step, bpc, epoch, label) of the loss chart's best validation point; empty before the first epoch."""
    best = best_epoch([m for m in metrics if m.get("step") is not None])
    rows = [] if best is None else [{"step": best["step"], "bpc": best["val_bpc"], "epoch": best["epoch"],
                                     "label": _(BEST_NOTE).format(bpc=f"{best['val_bpc']:.3f}",
                                                                  epoch=f"{best['epoch']:g}")}]
    return pd.DataFrame(rows, columns=["step", "bpc", "epoch", "label"])


def marker(df: pd.DataFrame, x: str, y: str, right: float, color: alt.Color | None = None) -> list:
    """A ring on each best point, a dashed rule down through it, and its label beside it. A label in the right
    40% of the chart (`right`: the largest x) reads leftwards, so it stays inside the plot."""
    if df.empty:
        return []
    paint = {"color": color} if color is not None else {}
    fixed = {} if color is not None else {"color": BEST_COLOR}
    base = alt.Chart(df).encode(x=f"{x}:Q", y=f"{y}:Q", tooltip=[alt.Tooltip("label:N", title=_("best"))])
    layers = [alt.Chart(df).mark_rule(strokeDash=[3, 3], opacity=0.7, **fixed).encode(x=f"{x}:Q", **paint),
              base.mark_point(shape="circle", size=260, filled=False, strokeWidth=2.5, **fixed).encode(**paint)]
    late = df[x] > 0.6 * right
    for part, align, dx in ((df[~late], "left", 12), (df[late], "right", -12)):
        if len(part):   # a white outline under the text keeps it readable across the curves
            text = alt.Chart(part).encode(x=f"{x}:Q", y=f"{y}:Q", text="label:N")
            layers += [text.mark_text(align=align, dx=dx, dy=-14, fontSize=13, fontWeight="bold", color="white",
                                       stroke="white", strokeWidth=4),
                       text.mark_text(align=align, dx=dx, dy=-14, fontSize=13, fontWeight="bold", **fixed)
                       .encode(**paint)]
    return layers


def compare_frame(curves: dict[str, list[dict]]) -> pd.DataFrame:
    """(x, val_bpc, epoch, run, label): each run's best point, from points that carry their epoch."""
    rows = []
    for name, pts in curves.items():
        best = best_epoch([p for p in pts if p.get("x") is not None and p.get("epoch") is not None])
        if best is not None:
            rows.append({"x": best["x"], "val_bpc": best["val_bpc"], "epoch": best["epoch"], "run": name,
                         "label": _(BEST_SHORT).format(bpc=f"{best['val_bpc']:.3f}", epoch=f"{best['epoch']:g}")})
    return pd.DataFrame(rows, columns=["x", "val_bpc", "epoch", "run", "label"])

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


TEXT_BAND = 0.07   # of the y span: the height one 13-pixel line of text takes on a chart about 250 pixels tall


def scale(values: list[float], marked: bool, lines: bool = False) -> alt.Scale:
    """The y scale of a chart that marks a best point: the values' span and a line of text either side, without
    Vega's rounding, so label_heights knows where the plot ends (unmarked charts keep Vega's nice domain)."""
    if not marked or not values:
        return alt.Scale(zero=False)
    return alt.Scale(zero=False, nice=False, domain=list(span(values, lines)))


LINE_ROOM = 0.03   # of the values' range, over the top pad: a label just over the highest reference line fits


def span(values: list[float], lines: bool = False) -> tuple[float, float]:
    """The plot's lowest and highest y: the values and a line of text either side (`lines`: reference lines are
    drawn and labelled, so a little more at the top)."""
    lo, hi = min(values), max(values)
    pad = TEXT_BAND * max(hi - lo, 1e-9)
    return lo - pad, hi + pad + (LINE_ROOM * max(hi - lo, 1e-9) if lines else 0.0)


RING_TRIES = (0.6, -1.7, 1.8, -2.9, 3.0)   # a label's foot beside a ring, in text lines from its point
LINE_TRIES = (0.1, -1.1, 1.3, -2.3)        # ... beside a reference line: just over it, just under it, further


def label_heights(points: list[float], lo: float, hi: float, taken: list[float],
                  tries_at: tuple[float, ...] = RING_TRIES) -> list[float]:
    """Where each label's foot goes, in the chart's y units: just above its ring, else just below it, else a line
    further up or down, else the plot's foot; the first that keeps clear of the other labels (`taken`: the
    baselines' levels, whose labels sit just over their lines, and the labels placed before it). Where none is
    clear, the one furthest from them."""
    band, taken, out = TEXT_BAND * max(hi - lo, 1e-9), list(taken), []
    for v in points:
        tries = [t for t in (*(v + k * band for k in tries_at), lo) if lo <= t <= hi - band] or [v + tries_at[0] * band]
        clear = [min((abs(t - o) for o in taken), default=hi - lo) for t in tries]
        y = next((t for t, c in zip(tries, clear) if c >= 1.15 * band), tries[clear.index(max(clear))])
        taken.append(y)
        out.append(y)
    return out


def outlined(text: alt.Chart, **look) -> list:
    """A text mark over a white outline of itself, readable where it crosses a curve or a ring."""
    paint = {k: v for k, v in look.items() if k != "color"}
    return [text.mark_text(**paint, color="white", stroke="white", strokeWidth=4), text.mark_text(**look)]


def marker(df: pd.DataFrame, x: str, y: str, right: float, span: tuple[float, float], avoid: list[float],
           color: alt.Color | None = None) -> list:
    """A ring on each best point, a dashed rule through it, and its label beside the ring, kept off the
    baselines' labels (`avoid`: their levels; `span`: the chart's lowest and highest y). A label in the right
    40% of the chart (`right`: the largest x) reads leftwards, so it stays inside the plot."""
    if df.empty:
        return []
    paint = {"color": color} if color is not None else {}
    fixed = {} if color is not None else {"color": BEST_COLOR}
    base = alt.Chart(df).encode(x=f"{x}:Q", y=f"{y}:Q", tooltip=[alt.Tooltip("label:N", title=_("best"))])
    layers = [alt.Chart(df).mark_rule(strokeDash=[3, 3], opacity=0.7, **fixed).encode(x=f"{x}:Q", **paint),
              base.mark_point(shape="circle", size=260, filled=False, strokeWidth=2.5, **fixed).encode(**paint)]
    placed = df.assign(label_y=label_heights(df[y].tolist(), *span, avoid))
    for i in range(len(placed)):
        row = placed.iloc[[i]]
        late = float(row[x].iloc[0]) > 0.6 * right
        look = dict(align="right" if late else "left", dx=-8 if late else 8, baseline="bottom", fontSize=13,
                    fontWeight="bold")
        text = alt.Chart(row).encode(x=f"{x}:Q", y="label_y:Q", text="label:N")
        under, over = outlined(text, **look, **fixed)
        layers += [under, over.encode(**paint)]
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

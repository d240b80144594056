"""How the pages word a run's numbers: progress through training, durations, counts, dates, and where a
cluster job runs. Text only, through the catalogue; no widgets. Pages call these as `ui.progress` and so on.
"""
from __future__ import annotations

import math

from pages import i18n
from pages.i18n import _, ngettext


def progress(run: dict, budget: float = 0.0) -> tuple[float, str]:
    """(fraction done, "epoch e of E · step s of S") from a registry row; the worker updates both.

    With a time budget the clock usually ends training long before the epoch limit, so the bar
    follows whichever of the two is further along.
    """
    epochs = max(1, run.get("epochs") or 1)
    steps = run.get("steps") or 0
    epoch, step = run.get("epoch") or 0, run.get("step") or 0
    if run.get("status") == "done":
        # a run its time budget stopped mid-epoch: its share of that epoch too, cut to two decimals as the
        # chart's labels are (fit.py), so "best …, epoch 16.28" stands beside "finished 16.28 epochs"
        done = math.floor((epoch + (step / steps if steps and step < steps else 0)) * 100) / 100
        count = int(done) if done == int(done) else 2   # a fraction takes the plural
        return 1.0, ngettext("finished {n} epoch", "finished {n} epochs", count).format(n=f"{done:g}")
    if run.get("status") == "queued":
        return 0.0, _("waiting in the queue")
    if run.get("status") == "running" and not (steps or epoch or step or run.get("elapsed")):
        return 0.0, _("starting…")   # the worker is loading TensorFlow: no epoch has begun to count
    by_epochs = min(1.0, (epoch + (step / steps if steps else 0)) / epochs)
    by_time = min(1.0, (run.get("elapsed") or 0) / budget) if budget else 0.0
    if budget and by_time >= by_epochs:   # the clock, not the epoch cap, ends a budgeted run
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


def where_text(run: dict) -> str | None:
    """Where a cluster job runs (INKWELL_JOBS names Ray); None for local workers, which have no node."""
    node = run.get("node")
    if node:
        return (_("Training on the cluster node {node}.") if run["status"] == "running"
                else _("Ran on the cluster node {node}.")).format(node=node)
    if run["status"] == "running" and run.get("job"):
        return _("Waiting for a free node on the cluster.")
    return None

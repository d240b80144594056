"""Reading the memory task's results: where each cell came near chance, a plain-text table, and the verdict.

The verdict is built of pieces, each passed as a str literal through a translation hook named `_` (gettext's
spelling) and formatted after: English as written by default (the CLI), the reader's language where a page
passes its catalogue's `_`. pages/i18n_extract.py takes every `_("...")` in textgen into the catalogue, as Babel
does in the pages, so the call that translates a piece is also the one that marks it. Lists are folded through
two-placeholder templates ("{readings} and {reading}") instead of bare separators: English joins readings and
cell names with the same " and ", Chinese does not, and the placeholders' names keep the two apart.
"""
from __future__ import annotations

from typing import Callable

from .memory_task import CELLS, NAMES, CellResult, MemoryConfig

NEAR_CHANCE = 0.1                # within this of chance, an accuracy reads "near chance"
PERFECT = 0.995                  # at or above, "100%" (512 held-out sequences: at most two wrong)


def english(message: str) -> str:
    """The default hook: every piece as written."""
    return message


def falls_to_chance(results: list[CellResult], cfg: MemoryConfig, margin: float = 0.1) -> dict[str, int | None]:
    """For each cell, the smallest gap from which its accuracy stays within `margin` of chance (None: never)."""
    out: dict[str, int | None] = {}
    for cell in CELLS:
        rows = sorted((r for r in results if r.cell == cell), key=lambda r: r.gap)
        at = None
        for r in reversed(rows):
            if r.accuracy <= cfg.chance + margin:
                at = r.gap
            else:
                break
        out[cell] = at
    return out


def first_near_chance(results: list[CellResult], cfg: MemoryConfig) -> dict[str, int | None]:
    """For each cell, the smallest gap where its accuracy was near chance (None: at no gap tried)."""
    return {cell: min((r.gap for r in results if r.cell == cell and r.accuracy <= cfg.chance + NEAR_CHANCE),
                      default=None) for cell in CELLS}


def _join(items: list[str], one: str, template: str, last: str | None = None) -> str:
    """Items folded left through a template over {<one>s} (the list so far) and {<one>} (the next item);
    `last`, where given, joins the final item ("a, b and c")."""
    text = items[0]
    for i, item in enumerate(items[1:], 2):
        text = (last if last is not None and i == len(items) else template).format(**{one + "s": text, one: item})
    return text


def _scores(rows: list[CellResult], cfg: MemoryConfig, _: Callable[[str], str] = english) -> str:
    """'100% up to a gap of 10, then 72.1% at 20 and near chance from a gap of 50': one cell's accuracies."""
    near = [r.accuracy <= cfg.chance + NEAR_CHANCE for r in rows]
    top = 0
    while top < len(rows) and rows[top].accuracy >= PERFECT:
        top += 1
    tail = len(rows)
    while tail > top and near[tail - 1]:
        tail -= 1
    items = []
    if top:
        items.append(_("100% up to a gap of {gap}").format(gap=rows[top - 1].gap) if top > 1
                     else _("100% at a gap of {gap}").format(gap=rows[0].gap))
    for r, n in zip(rows[top:tail], near[top:tail]):
        if not items:   # the first reading names the gap in full, the later ones by its number
            said = _("{acc} at a gap of {gap} (near chance)") if n else _("{acc} at a gap of {gap}")
        else:
            said = _("{acc} at {gap} (near chance)") if n else _("{acc} at {gap}")
        items.append(said.format(acc=f"{r.accuracy:.1%}", gap=r.gap))
    if tail < len(rows):
        items.append(_("near chance from a gap of {gap}").format(gap=rows[tail].gap))
    if len(items) == 1:
        return items[0]
    rest = _join(items[1:], "reading", _("{readings}, {reading}"), _("{readings} and {reading}"))
    return _("{reading}, then {readings}").format(reading=items[0], readings=rest)


def explain(results: list[CellResult], cfg: MemoryConfig, _: Callable[[str], str] = english) -> str:
    """Plain words from the measured numbers: each cell's accuracies, then how they compare with the textbook
    (the gated cells should come near chance at longer gaps than the plain RNN, or never), said honestly.
    `_` translates each piece (a page passes its catalogue's `_`); the default is English."""
    cells = [c for c in CELLS if any(r.cell == c for r in results)]
    clauses = [_("{cell} scored {scores}").format(cell=NAMES[c], scores=_scores(
        sorted((r for r in results if r.cell == c), key=lambda r: r.gap), cfg, _)) for c in cells]
    text = _("{clauses} (chance is {chance}).").format(
        clauses=_join(clauses, "clause", _("{clauses}; {clause}")), chance=f"{cfg.chance:.0%}")
    first = first_near_chance(results, cfg)
    gated = [c for c in ("lstm", "gru") if c in cells]
    if "rnn" not in cells or not gated:
        return text
    rnn = first["rnn"]
    earlier = [c for c in gated if first[c] is not None and (rnn is None or first[c] < rnn)]
    if rnn is not None and all(first[c] is None or first[c] > rnn for c in gated):
        return text + _(" As the textbook says, the gates keep the symbol over spans where the plain RNN loses it.")
    if rnn is None and not earlier:
        return text + _(" No cell came near chance at these gaps, so this run does not show which forgets first.")
    if earlier:
        names = _join([_("{cell} (from a gap of {gap})").format(cell=NAMES[c], gap=first[c]) for c in earlier],
                      "cell", _("{cells} and {cell}"))
        text += (_(" The textbook predicts that the gates remember longer; here the plain RNN never came near "
                    "chance, while {names} did.").format(names=names) if rnn is None else
                 _(" The textbook predicts that the gates remember longer; here the plain RNN came near chance only "
                    "at a gap of {rnn}, after {names}.").format(rnn=rnn, names=names))
    else:
        text += _(" This run does not show the gated cells remembering longer than the plain RNN.")
    steps = {c: sum(r.steps for r in results if r.cell == c) for c in cells}
    slower = [c for c in gated if steps[c] < steps["rnn"]]
    if slower:   # equal time is not equal updates: a gate costs compute per step
        counts = _join([_("{cell} {steps}").format(cell=NAMES[c], steps=f"{steps[c]:,}") for c in ("rnn", *slower)],
                       "count", _("{counts}, {count}"))
        text += _(" In the same time the gated cells took fewer training steps ({counts} in all): each of their "
                   "steps costs more compute, so equal time gave them fewer updates.").format(counts=counts)
    return text


def table(results: list[CellResult], cfg: MemoryConfig) -> str:
    """Held-out accuracy per gap (rows) and cell (columns), as plain text (the CLI's; no page shows it)."""
    cells = [c for c in CELLS if any(r.cell == c for r in results)]
    acc = {(r.cell, r.gap): r.accuracy for r in results}
    lines = ["gap    " + "".join(f"{NAMES[c]:>11}" for c in cells)]
    for gap in cfg.gaps:
        lines.append(f"{gap:<7}" + "".join(f"{acc[(c, gap)]:>11.1%}" if (c, gap) in acc else f"{'—':>11}"
                                           for c in cells))
    return "\n".join(lines + [f"chance {cfg.chance:.1%}"])

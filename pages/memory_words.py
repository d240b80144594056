"""The memory experiment's verdict in the reader's language, from the measured numbers.

textgen.experiments.explain composes the English verdict (the CLI prints it) out of clauses joined at run time,
which no catalogue template can match back. This builds the same verdict clause by clause through the
catalogue, in the same branches; in English it is word for word ex.explain's (tests/test_memory_words.py).
"""
from __future__ import annotations

from pages.i18n import _, num, pgettext
from textgen import experiments as ex


def _scores(rows: list, cfg: ex.MemoryConfig) -> str:
    """One cell's accuracies ("100% up to a gap of 10, then 72.1% at 20 and near chance from a gap of 50")."""
    near = [r.accuracy <= cfg.chance + ex.NEAR_CHANCE for r in rows]
    top = 0
    while top < len(rows) and rows[top].accuracy >= ex.PERFECT:
        top += 1
    tail = len(rows)
    while tail > top and near[tail - 1]:
        tail -= 1
    items = []
    if top:
        items.append(_("100% up to a gap of {gap}").format(gap=rows[top - 1].gap) if top > 1
                     else _("100% at a gap of {gap}").format(gap=rows[0].gap))
    for r, n in zip(rows[top:tail], near[top:tail]):
        acc, gap = f"{r.accuracy:.1%}", r.gap
        if not items:   # the first reading names the gap in full, the later ones by its number
            said = _("{acc} at a gap of {gap} (near chance)") if n else _("{acc} at a gap of {gap}")
        else:
            said = _("{acc} at {gap} (near chance)") if n else _("{acc} at {gap}")
        items.append(said.format(acc=acc, gap=gap))
    if tail < len(rows):
        items.append(_("near chance from a gap of {gap}").format(gap=rows[tail].gap))
    if len(items) == 1:
        return items[0]
    rest = items[1:]
    joined = (pgettext("scores", ", ").join(rest[:-1]) + pgettext("scores", " and ") + rest[-1]
              if len(rest) > 1 else rest[0])
    return items[0] + pgettext("scores", ", then ") + joined


def explain(results: list, cfg: ex.MemoryConfig) -> str:
    cells = [c for c in ex.CELLS if any(r.cell == c for r in results)]
    clauses = [_("{cell} scored {scores}").format(cell=ex.NAMES[c], scores=_scores(
        sorted((r for r in results if r.cell == c), key=lambda r: r.gap), cfg)) for c in cells]
    text = _("{clauses} (chance is {chance}).").format(clauses=_("; ").join(clauses), chance=f"{cfg.chance:.0%}")
    first = ex.first_near_chance(results, cfg)
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
        names = _(" and ").join(_("{cell} (from a gap of {gap})").format(cell=ex.NAMES[c], gap=first[c])
                                for c in earlier)
        text += (_(" The textbook predicts that the gates remember longer; here the plain RNN never came near "
                   "chance, while {names} did.").format(names=names) if rnn is None else
                 _(" The textbook predicts that the gates remember longer; here the plain RNN came near chance only "
                   "at a gap of {rnn}, after {names}.").format(rnn=rnn, names=names))
    else:
        text += _(" This run does not show the gated cells remembering longer than the plain RNN.")
    steps = {c: sum(r.steps for r in results if r.cell == c) for c in cells}
    slower = [c for c in gated if steps[c] < steps["rnn"]]
    if slower:   # equal time is not equal updates: a gate costs compute per step
        counts = _(", ").join(f"{ex.NAMES[c]} {num(steps[c])}" for c in ("rnn", *slower))
        text += _(" In the same time the gated cells took fewer training steps ({counts} in all): each of their "
                  "steps costs more compute, so equal time gave them fewer updates.").format(counts=counts)
    return text

"""The memory experiment's verdict in the reader's language, from the measured numbers.

textgen.experiments.explain composes the English verdict (the CLI prints it) out of clauses joined at run time,
which no catalogue template can match back. This builds the same verdict clause by clause through the
catalogue, in the same branches; in English it is word for word ex.explain's (tests/test_memory_words.py).
"""
from __future__ import annotations

from pages.i18n import _, num
from textgen import experiments as ex


def explain(results: list, cfg: ex.MemoryConfig) -> str:
    fall = ex.falls_to_chance(results, cfg)
    cells = [c for c in ex.CELLS if any(r.cell == c for r in results)]
    parts = [(_("{cell} falls to chance from a gap of {gap}") if fall[c] is not None
              else _("{cell} stays above chance at every gap tried")).format(cell=ex.NAMES[c], gap=fall[c])
             for c in cells]
    text = _("{clauses} (chance is {chance}).").format(clauses=_("; ").join(parts), chance=f"{cfg.chance:.0%}")
    rnn, gated = fall.get("rnn"), [fall.get(c) for c in ("lstm", "gru")]
    if rnn is not None and all((g is None) or g > rnn for g in gated):
        return text + _(" As the textbook says, the gates keep the symbol over spans where the plain RNN loses it.")
    if rnn is None:
        return text + _(" Here the plain RNN kept the symbol even over {longest} steps, which the textbook does not "
                        "predict: a longer gap or less training time would show the difference.").format(
            longest=max(cfg.gaps))
    text += _(" This run does not show the gated cells remembering longer than the plain RNN.")
    steps = {c: sum(r.steps for r in results if r.cell == c) for c in cells}
    slower = [c for c in ("lstm", "gru") if c in steps and "rnn" in steps and steps[c] < steps["rnn"]]
    if slower:   # equal time is not equal updates: a gate costs compute per step
        counts = _(", ").join(f"{ex.NAMES[c]} {num(steps[c])}" for c in ("rnn", *slower))
        text += _(" In the same time the gated cells took fewer training steps ({counts} in all): longer training "
                  "per gap, or a less busy machine, gives them the updates they need.").format(counts=counts)
    return text

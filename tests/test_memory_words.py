"""The memory experiment's one verdict (textgen/memory_verdict.py): its exact English for each branch, every piece
through the translation hook, every piece in the catalogue, and the page's verdict wholly in Chinese."""
import re

import pytest

from pages import catalogue, i18n, memory_words
from textgen import experiments as ex
from textgen import memory_verdict

CFG = ex.MemoryConfig(gaps=(5, 50))


def results(acc: dict, steps: dict | None = None) -> list:
    steps = steps or {}
    return [ex.CellResult(c, g, 10, 100, a, steps.get(c, 50), 18.0) for (c, g), a in acc.items()]


# Each case and its English, word for word (the CLI prints it; the page shows it outside Chinese).
CASES = {
    "as the textbook says": (
        results({("rnn", 5): 1.0, ("rnn", 50): 0.26, ("lstm", 5): 1.0, ("lstm", 50): 0.97,
                 ("gru", 5): 1.0, ("gru", 50): 0.9}),
        "SimpleRNN scored 100% at a gap of 5, then near chance from a gap of 50; LSTM scored 100% at a gap of 5, "
        "then 97.0% at 50; GRU scored 100% at a gap of 5, then 90.0% at 50 (chance is 25%). As the textbook says, "
        "the gates keep the symbol over spans where the plain RNN loses it."),
    "the plain RNN kept it": (
        results({("rnn", 5): 1.0, ("rnn", 50): 0.9, ("lstm", 5): 1.0, ("lstm", 50): 0.97}),
        "SimpleRNN scored 100% at a gap of 5, then 90.0% at 50; LSTM scored 100% at a gap of 5, then 97.0% at 50 "
        "(chance is 25%). No cell came near chance at these gaps, so this run does not show which forgets first."),
    "gated fell too, with fewer steps": (
        results({("rnn", 5): 0.3, ("rnn", 50): 0.26, ("lstm", 5): 0.3, ("lstm", 50): 0.25, ("gru", 5): 1.0,
                 ("gru", 50): 0.2}, {"rnn": 1200, "lstm": 800, "gru": 1500}),
        "SimpleRNN scored near chance from a gap of 5; LSTM scored near chance from a gap of 5; GRU scored 100% at a "
        "gap of 5, then near chance from a gap of 50 (chance is 25%). This run does not show the gated cells "
        "remembering longer than the plain RNN. In the same time the gated cells took fewer training steps "
        "(SimpleRNN 2,400, LSTM 1,600 in all): each of their steps costs more compute, so equal time gave them fewer "
        "updates."),
    "gated fell too": (
        results({("rnn", 5): 0.3, ("rnn", 50): 0.26, ("gru", 5): 0.25, ("gru", 50): 0.2}),
        "SimpleRNN scored near chance from a gap of 5; GRU scored near chance from a gap of 5 (chance is 25%). "
        "This run does not show the gated cells remembering longer than the plain RNN."),
    "gated fell first": (
        results({("rnn", 5): 1.0, ("rnn", 20): 0.72, ("rnn", 50): 0.3, ("rnn", 80): 0.26, ("lstm", 5): 1.0,
                 ("lstm", 20): 0.3, ("gru", 5): 0.6, ("gru", 20): 0.27}, {"rnn": 600, "lstm": 500, "gru": 700}),
        "SimpleRNN scored 100% at a gap of 5, then 72.0% at 20 and near chance from a gap of 50; LSTM scored 100% at "
        "a gap of 5, then near chance from a gap of 20; GRU scored 60.0% at a gap of 5, then near chance from a gap "
        "of 20 (chance is 25%). The textbook predicts that the gates remember longer; here the plain RNN came near "
        "chance only at a gap of 50, after LSTM (from a gap of 20) and GRU (from a gap of 20). In the same time the "
        "gated cells took fewer training steps (SimpleRNN 2,400, LSTM 1,000, GRU 1,400 in all): each of their steps "
        "costs more compute, so equal time gave them fewer updates."),
    "the plain RNN never came near chance": (
        results({("rnn", 5): 1.0, ("rnn", 50): 0.9, ("lstm", 5): 1.0, ("lstm", 50): 0.3}),
        "SimpleRNN scored 100% at a gap of 5, then 90.0% at 50; LSTM scored 100% at a gap of 5, then near chance "
        "from a gap of 50 (chance is 25%). The textbook predicts that the gates remember longer; here the plain RNN "
        "never came near chance, while LSTM (from a gap of 50) did."),
    "up and down": (   # near chance first, then not: each reading is named, the first in full
        results({("rnn", 5): 0.3, ("rnn", 20): 0.9, ("rnn", 50): 0.26, ("rnn", 80): 0.5}),
        "SimpleRNN scored 30.0% at a gap of 5 (near chance), then 90.0% at 20, 26.0% at 50 (near chance) and 50.0% "
        "at 80 (chance is 25%)."),
    "none came near chance": (
        results({("rnn", 5): 1.0, ("rnn", 50): 0.9, ("gru", 5): 1.0, ("gru", 50): 0.8}),
        "SimpleRNN scored 100% at a gap of 5, then 90.0% at 50; GRU scored 100% at a gap of 5, then 80.0% at 50 "
        "(chance is 25%). No cell came near chance at these gaps, so this run does not show which forgets first."),
    "one cell": (
        results({("gru", 5): 1.0, ("gru", 50): 1.0, ("gru", 80): 0.5}),
        "GRU scored 100% up to a gap of 50, then 50.0% at 80 (chance is 25%)."),
}
NAMES = set(ex.NAMES.values())


@pytest.mark.parametrize("case", CASES)
def test_the_verdict_in_english_word_for_word(case):
    rows, said = CASES[case]
    assert memory_verdict.explain(rows, CFG) == said
    assert ex.explain(rows, CFG) == said             # the old name, as the CLI calls it
    assert memory_words.explain(rows, CFG) == said   # the page outside a Chinese session


def test_the_hook_wraps_every_piece():
    assert memory_verdict.explain(CASES["one cell"][0], CFG, lambda s: f"[{s}]") == (
        "[[GRU scored [[100% up to a gap of 50], then [50.0% at 80]]] (chance is 25%).]")


@pytest.mark.parametrize("case", CASES)
def test_no_word_escapes_the_hook(case):
    """A hook that wraps each piece in ⟨⟩: nothing is left outside the pieces, and a hook that blanks every letter of
    a piece's own text leaves only the cells' names (values), so every word the reader sees went through it."""
    said = memory_verdict.explain(CASES[case][0], CFG, lambda s: f"⟨{s}⟩")
    while (inner := re.sub(r"⟨[^⟨⟩]*⟩", "", said)) != said:
        said = inner
    assert said == ""
    blank = memory_verdict.explain(CASES[case][0], CFG, lambda s: re.sub(r"[A-Za-z]+(?![^{]*\})", "", s))
    assert set(re.findall(r"[A-Za-z]+", blank)) <= NAMES, blank


def test_every_piece_is_in_the_catalogue_and_translated():
    pieces = set()

    def hook(s):
        pieces.add(s)
        return s

    for rows, _ in CASES.values():
        memory_verdict.explain(rows, CFG, hook)
    extracted = {m.id for m in catalogue.extract() if m.id and m.context is None}
    assert len(pieces) == 23 and pieces <= extracted
    zh = catalogue.read("zh_CN")
    assert all(catalogue.translated(zh.get(p)) for p in pieces)


@pytest.mark.parametrize("case", CASES)
def test_in_chinese_no_english_is_left(case, monkeypatch):
    monkeypatch.setattr(i18n, "current", lambda: "zh")
    said = memory_words.explain(CASES[case][0], CFG)
    assert re.findall(r"[A-Za-z]+", said.replace("SimpleRNN", "").replace("LSTM", "").replace("GRU", "").replace(
        "RNN", "")) == [], said


def test_the_verdicts_in_chinese(monkeypatch):
    monkeypatch.setattr(i18n, "current", lambda: "zh")
    assert memory_words.explain(CASES["as the textbook says"][0], CFG) == (
        "SimpleRNN：间隔 5 时 100%，之后从间隔 50 起接近随机水平；LSTM：间隔 5 时 100%，之后在 50 时 97.0%；"
        "GRU：间隔 5 时 100%，之后在 50 时 90.0%（随机猜中的概率是 25%）。正如教科书所说，门控能把符号记过普通 RNN 会忘掉的跨度。")
    # The lists: readings joined by commas, cells by 和, step counts by 、.
    assert memory_words.explain(CASES["gated fell first"][0], CFG) == (
        "SimpleRNN：间隔 5 时 100%，之后在 20 时 72.0%，从间隔 50 起接近随机水平；LSTM：间隔 5 时 100%，之后从间隔 20 起"
        "接近随机水平；GRU：间隔 5 时 60.0%，之后从间隔 20 起接近随机水平（随机猜中的概率是 25%）。教科书预测门控单元记得更久；"
        "这次普通 RNN 到间隔 50 才接近随机水平，比 LSTM（从间隔 20 起）和 GRU（从间隔 20 起）还晚。同样的时间里，门控单元走的"
        "训练步数更少（共计 SimpleRNN 2,400、LSTM 1,000、GRU 1,400）：它们每一步的计算量更大，同样的时间就只换来更少的更新。")

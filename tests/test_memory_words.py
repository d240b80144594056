"""The memory experiment's verdict, built through the catalogue: in English word for word the engine's, in
Chinese with no English left but the cells' names."""
import re

import pytest

from pages import i18n, memory_words
from textgen import experiments as ex

CFG = ex.MemoryConfig(gaps=(5, 50))


def results(acc: dict, steps: dict | None = None) -> list:
    steps = steps or {}
    return [ex.CellResult(c, g, 10, 100, a, steps.get(c, 50), 18.0) for (c, g), a in acc.items()]


CASES = {
    "as the textbook says": results({("rnn", 5): 1.0, ("rnn", 50): 0.26, ("lstm", 5): 1.0, ("lstm", 50): 0.97,
                                     ("gru", 5): 1.0, ("gru", 50): 0.9}),
    "the plain RNN kept it": results({("rnn", 5): 1.0, ("rnn", 50): 0.9, ("lstm", 5): 1.0, ("lstm", 50): 0.97}),
    "gated fell too, with fewer steps": results({("rnn", 5): 0.3, ("rnn", 50): 0.26, ("lstm", 5): 0.3,
                                                 ("lstm", 50): 0.25, ("gru", 5): 1.0, ("gru", 50): 0.2},
                                                {"rnn": 1200, "lstm": 800, "gru": 1500}),
    "gated fell too": results({("rnn", 5): 0.3, ("rnn", 50): 0.26, ("gru", 5): 0.25, ("gru", 50): 0.2}),
    "gated fell first": results({("rnn", 5): 1.0, ("rnn", 20): 0.72, ("rnn", 50): 0.3, ("rnn", 80): 0.26,
                                 ("lstm", 5): 1.0, ("lstm", 20): 0.3, ("gru", 5): 0.6, ("gru", 20): 0.27}),
    "none came near chance": results({("rnn", 5): 1.0, ("rnn", 50): 0.9, ("gru", 5): 1.0, ("gru", 50): 0.8}),
    "one cell": results({("gru", 5): 1.0, ("gru", 50): 0.5}),
}


@pytest.mark.parametrize("case", CASES)
def test_in_english_it_is_the_engines_verdict(case):
    assert memory_words.explain(CASES[case], CFG) == ex.explain(CASES[case], CFG)


@pytest.mark.parametrize("case", CASES)
def test_in_chinese_no_english_is_left(case, monkeypatch):
    monkeypatch.setattr(i18n, "current", lambda: "zh")
    said = memory_words.explain(CASES[case], CFG)
    assert re.findall(r"[A-Za-z]+", said.replace("SimpleRNN", "").replace("LSTM", "").replace("GRU", "").replace(
        "RNN", "")) == [], said


def test_the_textbook_verdict_in_chinese(monkeypatch):
    monkeypatch.setattr(i18n, "current", lambda: "zh")
    assert memory_words.explain(CASES["as the textbook says"], CFG) == (
        "SimpleRNN：间隔 5 时 100%，之后从间隔 50 起接近随机水平；LSTM：间隔 5 时 100%，之后在 50 时 97.0%；"
        "GRU：间隔 5 时 100%，之后在 50 时 90.0%（随机猜中的概率是 25%）。正如教科书所说，门控能把符号记过普通 RNN 会忘掉的跨度。")

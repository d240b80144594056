"""n-gram baselines: figures worked out by hand on a tiny text, normalisation, and order on real text."""
import math

import numpy as np
import pytest

from textgen import baselines
from textgen.baselines import DISCOUNT as D, _KneserNey, compute, describe


def test_alternating_text_by_hand():
    # Train "abab...ab" (100 chars): alphabet {a, b} plus the unknown symbol, V = 3.
    got = compute("ab" * 50, "abab")
    assert got.uniform == pytest.approx(math.log2(3))
    # Unigram, add-one: p(a) = p(b) = (50 + 1) / (100 + 3).
    assert got.unigram == pytest.approx(-math.log2(51 / 103))
    # Lowest Kneser-Ney order: each of a, b follows one context type out of 2 bigram types ("ab", "ba"),
    # both seen: p1 = (1 - D + D * 2 / 3) / 2.
    p1 = (1 - D + D * 2 / 3) / 2
    # Bigram: c(ab) = 50 of c(a .) = 50, one type follows a; c(ba) = 49 of c(b .) = 49 (the last b ends the text).
    p_b_a = (50 - D + D * 1 * p1) / 50
    p_a_b = (49 - D + D * 1 * p1) / 49
    want_bigram = -(math.log2(p1) + math.log2(p_b_a) + math.log2(p_a_b) + math.log2(p_b_a)) / 4
    assert got.bigram == pytest.approx(want_bigram)
    # Trigram: history "ab" is followed by a 49 times (one type), "ba" by b 49 times. The middle order
    # counts continuation types: "ab" follows one kind of character (b), so N1+(. a b) = 1 of N1+(. a .) = 1.
    p2_mid_b_a = (1 - D + D * 1 * p1) / 1
    p_a_ab = (49 - D + D * 1 * (1 - D + D * 1 * p1)) / 49
    p_b_ba = (49 - D + D * 1 * (1 - D + D * 1 * p1)) / 49
    want_trigram = -(math.log2(p1) + math.log2(p2_mid_b_a) + math.log2(p_a_ab) + math.log2(p_b_ba)) / 4
    assert got.trigram == pytest.approx(want_trigram)
    # On four characters the trigram's short-context start (continuation counts) costs more than it gains.
    assert got.best() == ("bigram", got.bigram)


def test_each_order_is_a_distribution():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 400)
    x[::7] = 2                                  # some structure, some unseen trigram histories
    kn = _KneserNey(x, 6)                       # symbol 5 never occurs: it gets only the uniform share
    w = np.arange(6)
    assert kn.p1(w).sum() == pytest.approx(1.0)
    for v_ in range(6):
        ctx = np.full(6, v_)
        assert kn.p2(ctx, w, top=True).sum() == pytest.approx(1.0)
        assert kn.p2(ctx, w, top=False).sum() == pytest.approx(1.0)
        for u in range(6):
            assert kn.p3(np.full(6, u), ctx, w).sum() == pytest.approx(1.0), (u, v_)


def test_unseen_characters_cost_finite_bits():
    got = compute("aaaa bbbb aaaa", "zz")
    assert all(math.isfinite(b) and b > 0 for b in got.as_dict().values())


def test_real_text_orders(sample_text):
    cut = int(len(sample_text) * 0.9)
    got = compute(sample_text[:cut], sample_text[cut:])
    assert got.trigram < got.bigram < got.unigram < got.uniform


def test_describe():
    b = baselines.Baselines(uniform=6.0, unigram=4.5, bigram=3.4, trigram=2.9)
    assert describe(2.28, b) == "0.62 bits per character better than a trigram (Kneser-Ney) model of your text."
    assert describe(3.0, b).startswith("0.10 bits per character worse than a trigram")


def test_empty_text_is_refused():
    with pytest.raises(ValueError):
        compute("", "abc")


def test_a_run_records_its_own_baselines(tiny_run):
    from textgen import data
    from textgen.runs import Registry

    home, run_id = tiny_run
    run_dir = Registry(home).run_dir(run_id)
    text = (run_dir / "corpus.txt").read_text("utf-8")
    train, val = data.split(text, 0.1)   # the tiny run's validation fraction (TrainConfig's default)
    assert baselines.load(run_dir) == compute(train, val)
    assert baselines.load(run_dir / "nowhere") is None


def test_loss_chart_draws_the_baselines_as_labelled_levels():
    from pages import charts

    refs = baselines.Baselines(uniform=6.0, unigram=4.5, bigram=3.4, trigram=2.9)
    frame = charts.baseline_frame(refs)
    assert frame.to_dict("records") == [{"bpc": 6.0, "label": "uniform guess"}, {"bpc": 4.5, "label": "unigram"},
                                        {"bpc": 3.4, "label": "bigram (Kneser-Ney)"},
                                        {"bpc": 2.9, "label": "trigram (Kneser-Ney)"}]
    metrics = [{"kind": "batch", "step": i, "bpc": 5.0 - 0.1 * i} for i in range(10)]
    # a dashed rule per level, and the labels (white outline, then the text) at the right edge
    assert len(charts.loss_chart(metrics, refs).to_dict()["layer"]) == len(charts.loss_chart(metrics).to_dict()["layer"]) + 3
    assert charts.baseline_frame(None).empty


def test_close_baselines_labels_do_not_overlap_and_keep_off_a_ring_at_the_right():
    from pages import bestmark, charts

    # a repetitive text: the uniform guess and the unigram 0.1 apart, the n-grams 0.15 apart, on a 2-6 chart
    refs = baselines.Baselines(uniform=4.6, unigram=4.5, bigram=3.15, trigram=3.0)
    band = bestmark.TEXT_BAND * 4.0
    placed = charts.baseline_labels(refs, (2.0, 6.0))
    feet = placed["label_y"].tolist()
    assert feet == pytest.approx([4.6 + 0.1 * band, 4.5 - 1.1 * band, 3.15 + 0.1 * band, 3.0 - 1.1 * band])
    assert all(abs(a - b) >= band for i, a in enumerate(feet) for b in feet[i + 1:])   # a line of text apart
    assert placed["side"].tolist() == ["right"] * 4
    # on the chart's own span the highest label too fits over its line, under the top of the plot
    lo, hi = bestmark.span([2.2, 4.6, 4.5, 3.15, 3.0], True)
    top = charts.baseline_labels(refs, (lo, hi))["label_y"].iloc[0]
    assert top == pytest.approx(4.6 + 0.1 * bestmark.TEXT_BAND * (hi - lo)) and top + bestmark.TEXT_BAND * (hi - lo) <= hi
    # the best ring at the right end, just under the bigram's line: that label moves to the left edge
    assert charts.baseline_labels(refs, (2.0, 6.0), [(0.95, 3.1)])["side"].tolist() == [
        "right", "right", "left", "left"]

import numpy as np
import pytest

from textgen import sampling
from textgen.errors import GenerationError

LOGITS = np.log(np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]], dtype=np.float32))


def test_greedy_takes_the_largest():
    assert sampling.greedy(LOGITS).tolist() == [3, 0]
    assert sampling.sample(LOGITS, np.random.default_rng(0), temperature=0).tolist() == [3, 0]


def test_top_k_keeps_exactly_k():
    out = sampling.top_k_filter(LOGITS, 2)
    assert np.isfinite(out).sum(axis=1).tolist() == [2, 4]   # row 2 has a 3-way tie at the kth value
    assert np.isfinite(out[0]).tolist() == [False, False, True, True]


def test_top_p_keeps_the_smallest_nucleus():
    out = sampling.top_p_filter(LOGITS, 0.65)
    # row 0: 0.4 + 0.3 = 0.7 >= 0.65 -> two tokens; row 1: 0.7 alone reaches it
    assert np.isfinite(out[0]).tolist() == [False, False, True, True]
    assert np.isfinite(out[1]).tolist() == [True, False, False, False]
    assert np.isfinite(sampling.top_p_filter(LOGITS, 0.01)).sum(axis=1).tolist() == [1, 1]


def test_temperature_sharpens_and_flattens():
    p_cold = sampling.softmax(sampling.apply_temperature(LOGITS, 0.5))[0]
    p_hot = sampling.softmax(sampling.apply_temperature(LOGITS, 2.0))[0]
    np.testing.assert_allclose(p_cold, np.array([1, 4, 9, 16]) / 30, rtol=1e-5)
    assert p_hot[3] < 0.4 < p_cold[3]


def test_draws_follow_the_distribution_and_repeat_with_the_seed():
    logits = np.repeat(LOGITS[:1], 20000, axis=0)
    a = sampling.sample(logits, np.random.default_rng(5))
    b = sampling.sample(logits, np.random.default_rng(5))
    assert a.tolist() == b.tolist()
    freq = np.bincount(a, minlength=4) / len(a)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.015)


def test_filtered_tokens_are_never_drawn():
    logits = np.repeat(LOGITS[:1], 5000, axis=0)
    drawn = sampling.sample(logits, np.random.default_rng(1), top_k=2)
    assert set(drawn.tolist()) == {2, 3}


@pytest.mark.parametrize("kw, msg", [
    ({"temperature": -1}, "not negative"),
    ({"temperature": 50}, "too high"),
    ({"temperature": float("nan")}, "must be a number"),
    ({"top_k": -1}, "0 \\(off\\) or more"),
    ({"top_k": 99}, "larger than the model's vocabulary of 4"),
    ({"top_p": 0.0}, "above 0 and at most 1"),
    ({"top_p": 1.5}, "above 0 and at most 1"),
])
def test_bad_settings_have_clear_messages(kw, msg):
    settings = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, **kw}
    with pytest.raises(GenerationError, match=msg):
        sampling.check_settings(settings["temperature"], settings["top_k"], settings["top_p"], vocab_size=4)

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


# -- the writer's constraints: repetition penalty and banned words -----------------------------------
def test_repetition_penalty_divides_positive_and_multiplies_negative_logits():
    logits = np.array([[2.0, -1.0, 0.5, 3.0], [1.0, 1.0, -2.0, 4.0]], np.float32)
    recent = np.array([[0, 1, -1], [2, 2, 3]])                                   # -1: no token there
    out = sampling.repetition_penalty(logits, recent, 2.0)
    assert out.tolist() == [[1.0, -2.0, 0.5, 3.0], [1.0, 1.0, -4.0, 2.0]]
    assert sampling.repetition_penalty(logits, recent, 1.0) is logits            # 1.0 is off
    assert sampling.repetition_penalty(logits, np.zeros((2, 0), int), 2.0) is logits


def test_repetition_penalty_changes_the_greedy_choice():
    logits = np.log(np.array([[0.5, 0.3, 0.2]], np.float32)) + 2.0               # all positive
    assert sampling.greedy(logits).tolist() == [0]
    penalised = sampling.repetition_penalty(logits, np.array([[0]]), 2.0)   # 1.307 / 2 < 0.796
    assert sampling.greedy(penalised).tolist() == [1]


def test_parse_bans_splits_strips_and_refuses_too_many():
    assert sampling.parse_bans(" sea, Dark night ,,SEA, x ") == ("sea", "Dark night", "x")
    assert sampling.parse_bans("") == ()
    with pytest.raises(GenerationError, match="At most 50 banned words, not 51"):
        sampling.parse_bans(",".join(f"w{i}" for i in range(51)))
    with pytest.raises(GenerationError, match="at most 40 characters"):
        sampling.parse_bans("a" * 41)


CHAR_TEXTS = ["<unk>", "s", "e", "a", " ", "S", "."]


def _banned(texts, tails, words):
    logits = np.zeros((len(tails), len(texts)), np.float32)
    out = sampling.ban_filter(logits, tails, sampling.Bans.build(words, texts))
    return [[texts[i] for i in np.flatnonzero(~np.isfinite(row))] for row in out]


def test_bans_at_character_level_refuse_the_last_letter_at_a_word_start():
    assert _banned(CHAR_TEXTS, ["the se", "the Se", "overse", "se", "the s", "the sea"], ("sea",)) == [
        ["a"],            # "se" starts a word: "a" would finish "sea"
        ["a"],            # any case
        [],               # "overse" + "a" is inside another word
        ["a"],            # the text's start is a word start
        [],               # one letter still to come
        [],               # already written (from the draft): nothing to finish
    ]
    assert _banned(CHAR_TEXTS, ["x "], ("sea",)) == [[]]
    assert _banned(CHAR_TEXTS, ["x "], ("s",)) == [["s", "S"]]                   # a one-letter word


WORD_TEXTS = ["<unk>", "The", " ", "sea", "Seas", "overseas", "sky", ",", "sea."]
PIECE_TEXTS = ["<unk>", " se", "a", "as", " sky", " the sea", "sea", "e", "x sea"]


def test_bans_at_word_level_refuse_the_word_and_its_longer_forms():
    assert _banned(WORD_TEXTS, ["The ", "The"], ("sea",)) == [["sea", "Seas", "sea."], []]


def test_bans_at_word_piece_level_look_across_pieces():
    # " the sea" and "x sea" hold the word after a space wherever they come; "sea" needs a word start
    assert _banned(PIECE_TEXTS, ["in the", "in the se", "in thes", "in the s", "in the "], ("sea",)) == [
        [" the sea", "x sea"],
        ["a", "as", " the sea", "x sea"],                                       # " se" + "a" finishes it
        [" the sea", "x sea"],                                                  # "thes" is no word start
        [" the sea", "x sea"],                                                  # no piece starts with "ea"
        [" the sea", "sea", "x sea"],
    ]


def test_a_ban_that_leaves_nothing_is_refused_in_one_sentence():
    with pytest.raises(GenerationError, match="^The banned words leave the model nothing"):
        _banned(["<unk>", "a", "b"], ["x "], ("a", "b", "<unk>"))


@pytest.mark.parametrize("penalty, msg", [(0.5, "between 1 \\(off\\) and 3, not 0.5"), (4, "not 4"),
                                          (float("nan"), "must be a number"), (True, "must be a number")])
def test_bad_penalties_have_clear_messages(penalty, msg):
    with pytest.raises(GenerationError, match=msg):
        sampling.check_penalty(penalty)

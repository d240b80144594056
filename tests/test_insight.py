"""insight: odds, surprise and branching over a stub stepper whose probabilities are known exactly."""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt

from textgen import ModelConfig, TrainConfig, insight
from textgen.artifacts import Run
from textgen.drafts import Draft
from textgen.errors import GenerationError
from textgen.generate import Generator, Settings
from textgen.stepper import Trace
from textgen.vocab import Vocab

CHARS = Vocab.build("ab \n<>[]()*_:", "char")
A, B, SPACE, NL = (int(CHARS.encode(c)[0][0]) for c in "ab \n")


class MarkovStepper:
    """p(next | previous) from a table: after anything, 'a' 1/2, 'b' 1/4, ' ' 1/8, the other 1/8 shared."""

    def __init__(self, v):
        rest = 1 / 8 / (v - 4)
        probs = np.full(v, rest)
        probs[[A, B, SPACE]] = 1 / 2, 1 / 4, 1 / 8
        probs[0] = 0.0
        self.row = np.log(np.where(probs > 0, probs, 1e-300)).astype(np.float64)
        self.v = v

    def initial_state(self, batch):
        return [np.zeros((batch, 1), np.float32)]

    def feed(self, ids, state):
        return None, state

    def step(self, ids, state):
        return np.tile(self.row, (len(ids), 1)), state

    def trace(self, ids, state=None):
        logits = np.tile(self.row, (ids.shape[0], ids.shape[1], 1))
        return Trace(logits, [], None, state)

    def walk(self, ids, state=None, offset=0):
        return Trace(None, [np.zeros((ids.shape[0], ids.shape[1], 1), np.float32)], None, state)

    def logits_of(self, h, offset=0):
        return np.tile(self.row, (*h.shape[:-1], 1))

    def top_logits(self, state):
        return np.tile(self.row, (len(state[0]), 1))


def stub(vocab=CHARS):
    cfg = ModelConfig(vocab_size=len(vocab), cell="rnn", layers=1, units=2, embedding=2)
    v = len(vocab)
    weights = {"embedding": np.zeros((v, 2)), "logits/kernel": np.zeros((2, v)), "logits/bias": np.zeros(v),
               "rnn_0/kernel": np.zeros((2, 2)), "rnn_0/recurrent": np.zeros((2, 2)), "rnn_0/bias": np.zeros(2)}
    gen = Generator(Run("stub", Path("no-such-run-dir"), cfg, TrainConfig(), {}, vocab, weights))
    gen.stepper = MarkovStepper(v)
    return gen


def test_surprise_is_exact_bits_per_token_and_per_character_by_author():
    s = insight.surprise(stub(), [{"author": "writer", "text": "ab"}, {"author": "model", "text": "a b"}])
    assert [(t, b, a) for t, b, a in s.pieces] == [("a", 1.0, "writer"), ("b", 2.0, "writer"),
                                                   ("a", 1.0, "model"), (" ", 3.0, "model"), ("b", 2.0, "model")]
    assert s.bits_per_char == {"writer": 1.5, "model": 2.0}


def test_unknown_tokens_are_unscored_and_an_empty_author_has_no_average():
    s = insight.surprise(stub(), [{"author": "writer", "text": "a\u2603b"}])
    assert [b for _, b, _ in s.pieces] == [1.0, None, 2.0]
    assert s.bits_per_char == {"writer": 1.5, "model": None}
    assert insight.surprise(stub(), []).pieces == ()


def test_odds_after_top_k_keep_the_likeliest_and_grey_the_rest():
    gen = stub()
    odds = insight.next_odds(gen, gen.prime("ab"), Settings(temperature=1.0, top_k=2))
    assert [o.text for o in odds[:3]] == ["a", "b", " "]
    assert [(o.kept, o.prob) for o in odds[:3]] == [(True, pytest.approx(2 / 3)), (True, pytest.approx(1 / 3)),
                                                    (False, 0.0)]
    assert [o.before for o in odds[:3]] == pytest.approx([1 / 2, 1 / 4, 1 / 8])
    assert odds[2].shown == "␣" and len(odds) == 10 and "<unk>" not in [o.text for o in odds]


def test_temperature_reshapes_the_odds_and_zero_keeps_one():
    gen = stub()
    hot = insight.next_odds(gen, gen.prime("ab"), Settings(temperature=2.0))
    # at temperature 2, p is proportional to sqrt(p): a, b, ' ' get 1/sqrt2 : 1/2 : 1/sqrt8 of the total
    total = sum(math.sqrt(o.before) for o in insight.next_odds(gen, gen.prime("ab"), Settings(temperature=1.0), 99))
    assert hot[0].prob == pytest.approx(math.sqrt(0.5) / total)
    greedy = insight.next_odds(gen, gen.prime("ab"), Settings(temperature=0))
    assert [(o.text, o.prob, o.kept) for o in greedy[:2]] == [("a", 1.0, True), ("b", 0.0, False)]


def test_banned_words_are_cut_from_the_odds():
    gen = stub()
    odds = insight.next_odds(gen, gen.prime("x "), Settings(ban=("a",)))
    assert "a" not in [o.text for o in odds] and odds[0].text == "b"


def test_visible_names_invisible_characters():
    assert insight.visible(" \n\tx") == "␣⏎⇥x" and insight.visible("\x00") == "U+0000"


# -- branching ---------------------------------------------------------------------------------------
def _written(gen, draft_text, length=6, seed=1):
    draft = Draft.from_text(draft_text)
    record = []
    text = gen.generate(draft_text, length, seed=seed, record=record).text
    draft.append_model(text)
    return draft, record[0]


def test_a_branch_replaces_the_text_after_the_token_and_undo_gives_back_the_draft():
    gen = stub()
    draft, cont = _written(gen, "ab ")
    before = Draft.from_json(draft.to_json())
    at = 2
    odds = insight.odds_at(gen, cont, at, Settings())
    assert [o.text for o in odds[:2]] == ["a", "b"]
    choice = next(o.token for o in odds if o.token != cont.tokens[at])
    new_draft, new = insight.branch(gen, draft, "ab ", cont, at, choice, Settings(length=6), seed=3)
    assert draft == before                                                   # the draft passed in is untouched
    assert new_draft.text == "ab " + cont.text[:at] + CHARS.token_text(choice) + new.text[at + 1:]
    assert new.text[:at] == cont.text[:at] and len(new.tokens) == 6
    assert new_draft.segments == [{"author": "writer", "text": "ab "}, {"author": "model", "text": new.text}]
    # Undo takes the branch back to the exact earlier draft, also from the saved file after a reload
    reloaded = Draft.from_json(json.loads(json.dumps(new_draft.to_json())))
    assert reloaded.undo() == new.text
    assert (reloaded.text, reloaded.segments, reloaded.undo_stack) == (before.text, before.segments, before.undo_stack)
    again, _ = insight.branch(gen, reloaded, "ab ", cont, at, choice, Settings(length=6), seed=3)
    assert again.text == new_draft.text                                 # and the piece can be branched again


def test_a_branch_on_an_edited_draft_is_refused_and_changes_nothing():
    gen = stub()
    draft, cont = _written(gen, "ab ")
    draft.set_text(draft.text + " and more")
    kept = draft.to_json()
    with pytest.raises(GenerationError, match=re.escape(insight.STALE)):
        insight.branch(gen, draft, "ab ", cont, 1, A, Settings())
    assert draft.to_json() == kept
    other, _ = _written(gen, "ab ")
    with pytest.raises(GenerationError, match="^The draft has changed since the model wrote that piece"):
        insight.branch(gen, other, "ba ", cont, 1, A, Settings())             # the text before it changed


def test_choices_skip_tokens_that_add_no_text_yet():
    from textgen.generate import Continuation

    cont = Continuation(None, (1, 2, 3, 4), ("a", "", "", "\U0001f989"), ())
    assert insight.choices(cont) == [0, 1]


# -- the shaded view ---------------------------------------------------------------------------------
def test_shaded_markdown_escapes_everything_and_shades_by_bits():
    s = insight.Surprise((("<b>x</b>", 8.0, "writer"), (" [y](javascript:1) ", 2.0, "model"),
                          ("*z*\n\n  w:", 5.0, "model")), {}, "char")
    md = insight.shaded_markdown(s)
    assert md == (r":red[\<b\>x\<\/b\>] \[y\]\(javascript\:1\) :orange[\*z\*]"
                  "\n\n\u00a0\u00a0:orange[w\\:]")
    html = MarkdownIt("commonmark").render(md)
    assert "<b>" not in html and "<a " not in html and "<em>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


@pytest.mark.parametrize("bits, colour", [(None, None), (0.9, "gray"), (1.0, None), (3.9, None), (4.0, "orange"),
                                         (6.9, "orange"), (7.0, "red"), (20, "red")])
def test_shades_follow_the_legend(bits, colour):
    assert insight.shade(bits, "char") == colour
    assert insight.legend("char") == ("Bits of surprise per token: :gray[under 1, expected] · 1 to 4 plain · "
                                      ":orange[4 to 7, surprising] · :red[7 or more, very surprising]")


# -- incremental scoring -------------------------------------------------------------------------------
SAMPLE = (Path(__file__).resolve().parent.parent / "assets" / "sample.txt").read_text("utf-8")


def _random_model(vocab, cell, layers, units=8, emb=4, seed=0):
    """A Generator over a real Stepper with random weights (scoring is exact whatever the weights)."""
    cfg = ModelConfig(vocab_size=len(vocab), cell=cell, layers=layers, units=units, embedding=emb).validate()
    g = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(seed)
    shapes = {"embedding": (len(vocab), emb), "logits/kernel": (units, len(vocab)), "logits/bias": (len(vocab),)}
    for i in range(layers):
        shapes |= {f"rnn_{i}/kernel": (emb if i == 0 else units, g * units), f"rnn_{i}/recurrent": (units, g * units),
                   f"rnn_{i}/bias": (2, g * units) if cell == "gru" else (g * units,)}
    weights = {k: rng.normal(0, 0.5, s).astype(np.float32) for k, s in shapes.items()}
    return Generator(Run("random", Path("no-such-run-dir"), cfg, TrainConfig(), {}, vocab, weights))


def _counting_reads(gen):
    """Record how many tokens each walk of the stepper reads."""
    reads, walk = [], gen.stepper.walk

    def counted(ids, state=None, offset=0):
        reads.append(ids.shape[1])
        return walk(ids, state, offset)
    gen.stepper.walk = counted
    return reads


@pytest.mark.parametrize("level, cell, layers", [("char", "gru", 2), ("char", "lstm", 2), ("subword", "gru", 1),
                                                 ("word", "rnn", 2)])
def test_a_continue_scores_only_the_new_text_and_equals_a_full_scoring(level, cell, layers):
    from textgen import scoring

    vocab = Vocab.build(SAMPLE, level, 300 if level == "subword" else None)
    gen = _random_model(vocab, cell, layers)
    first = [{"author": "writer", "text": SAMPLE[:400]}]
    then = first + [{"author": "model", "text": SAMPLE[400:520]}]
    reads = _counting_reads(gen)
    insight.surprise(gen, first)
    again = insight.surprise(gen, then)
    assert insight.surprise(gen, then) == again and len(reads) == 2    # the same draft again reads nothing
    scoring.forget(gen.stepper)
    full = insight.surprise(gen, then, reuse=False)
    assert again == full                                               # every bit of every token, exactly
    total, new = reads[-1], reads[1]
    added = total - len(vocab.encode(SAMPLE[:400])[0])
    assert reads[0] == total - added and added <= new <= added + scoring.KEEP_EVERY and new < total
    if level == "char":
        assert new == added                                            # nothing of the old text read again


def test_the_scored_window_moves_in_steps_so_a_long_draft_stays_incremental():
    from textgen.generate import PROMPT_TAIL

    step = insight.WINDOW_STEP
    assert [insight.window_start(n) for n in (0, PROMPT_TAIL, PROMPT_TAIL + 1, PROMPT_TAIL + step,
                                              PROMPT_TAIL + step + 1)] == [0, 0, step, step, 2 * step]
    gen = _random_model(CHARS_LONG, "gru", 1)
    text = (SAMPLE * 3)[:PROMPT_TAIL + 40]
    reads = _counting_reads(gen)
    insight.surprise(gen, [{"author": "writer", "text": text}])
    longer = [{"author": "writer", "text": text}, {"author": "model", "text": SAMPLE[:60]}]
    again = insight.surprise(gen, longer)
    assert reads == [PROMPT_TAIL + 40 - step, 60]
    assert again == insight.surprise(_random_model(CHARS_LONG, "gru", 1), longer, reuse=False)
    assert sum(p[1] is not None for p in again.pieces) == PROMPT_TAIL + 100 - step   # all of the window, no more


CHARS_LONG = Vocab.build(SAMPLE, "char")

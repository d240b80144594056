from pathlib import Path

import numpy as np
import pytest

from textgen.artifacts import load_run
from textgen.errors import GenerationError, RunError
from textgen.generate import MAX_LENGTH, SENTENCE_ENDS, Generator
from textgen.evaluate import evaluate
from textgen.runs import Registry
from textgen.stepper import Stepper
from textgen.vocab import Vocab
from textgen.walk import apply_stop


@pytest.fixture()
def gen(tiny_run):
    home, run_id = tiny_run
    return Generator(run_id, workspace=home)


def test_same_seed_same_text_and_different_seed_differs(gen):
    a = gen.generate("The keeper", 80, seed=11).text
    assert a == gen.generate("The keeper", 80, seed=11).text
    assert len(a) == 80
    assert a != gen.generate("The keeper", 80, seed=12).text


def test_stream_pieces_join_to_generate(gen):
    pieces = list(gen.stream("The keeper", 50, temperature=0.7, seed=4))
    assert "".join(pieces) == gen.generate("The keeper", 50, temperature=0.7, seed=4).text


def test_alternatives_are_one_batch_and_reproducible(gen):
    alts = gen.alternatives("Nell", n=3, length=40, seed=9)
    assert len(alts) == 3 and all(len(a.text) == 40 for a in alts)
    assert [a.text for a in alts] == [a.text for a in gen.alternatives("Nell", n=3, length=40, seed=9)]
    assert len({a.text for a in alts}) > 1


def test_greedy_is_deterministic_without_a_seed(gen):
    assert gen.generate("The sea", 30, temperature=0).text == gen.generate("The sea", 30, temperature=0).text


def test_unknown_prompt_characters_are_reported_not_fatal(gen):
    g = gen.generate("The 猫 sat \U0001F600", 20, seed=1)
    assert set(g.unknown) == {"猫", "\U0001F600"}
    assert len(g.text) == 20


def test_empty_prompt_starts_at_the_first_visible_character(gen):
    text = gen.generate("", 60, seed=2).text
    assert text and not text[0].isspace() and len(text) <= 60


def test_generator_matches_stepper_logits_of_the_run(tiny_run):
    """Generation on a real trained run: greedy continuation equals argmax over the stepper's logits."""
    home, run_id = tiny_run
    gen = Generator(run_id, workspace=home)
    ids, _ = gen.vocab.encode("The keeper")
    state = gen.stepper.initial_state(1)
    logits, state = gen.stepper.feed(ids[None, :], state)
    expected = []
    for _ in range(10):
        logits[:, 0] = -np.inf
        nxt = int(np.argmax(logits[0]))
        expected.append(gen.vocab.token_text(nxt))
        logits, state = gen.stepper.step(np.array([nxt]), state)
    assert gen.generate("The keeper", 10, temperature=0).text == "".join(expected)


@pytest.mark.parametrize("made, piece, stop, expect", [
    ("Hello", " there", "length", (" there", False)),
    ("Hi", ".", "sentence", (".", True)),
    ("", ".", "sentence", (".", False)),          # nothing written yet: not a sentence
    ("one line", "\n", "line", ("", True)),
    ("", "\n", "line", ("\n", False)),            # a leading newline does not end the line
    ("the en", "d of it", "end", ("d", True)),    # custom stop string across pieces
])
def test_stop_conditions(made, piece, stop, expect):
    assert apply_stop(made, piece, stop) == expect


def test_sentence_stop_ends_exactly_at_the_first_sentence_end(gen):
    """The same seed writes the same characters until the stop: the stopped text is the full text cut
    just after its first sentence end (one with a word before it)."""
    full = gen.generate("The keeper", 400, seed=3).text
    end = next(i for i, ch in enumerate(full) if ch in SENTENCE_ENDS and any(c.isalnum() for c in full[:i]))
    g = gen.generate("The keeper", 400, seed=3, stop="sentence")
    assert end + 1 < 400 and g.text == full[:end + 1]
    assert g.stopped_by == "sentence"


@pytest.mark.parametrize("kw, msg", [
    ({"length": 0}, "at least 1"),
    ({"length": -5}, "at least 1"),
    ({"length": MAX_LENGTH + 1}, "over the cap of 5,000"),
    ({"temperature": -0.5}, "not negative"),
    ({"temperature": 1e9}, "too high"),
    ({"top_p": 0}, "above 0"),
    ({"top_p": 1.01}, "above 0"),
    ({"top_k": 10**6}, "larger than the model's vocabulary"),
    ({"seed": -1}, "seed must be"),
])
def test_bad_generation_settings(gen, kw, msg):
    args = {"length": 10, **kw}
    with pytest.raises(GenerationError, match=msg):
        gen.generate("x", **args)


def test_unknown_and_unsafe_run_ids(tiny_run):
    home, _ = tiny_run
    for bad in ["../../etc/passwd", "a/b", "x\x00y", "z" * 2000, "20990101-000000-ffffff"]:
        with pytest.raises(RunError):
            Generator(bad, workspace=home)


def test_evaluate_matches_training_validation_loss(tiny_run):
    """evaluate() on the validation text with the best weights reproduces the registry's figure."""
    home, run_id = tiny_run
    reg = Registry(home)
    run_dir = reg.run_dir(run_id)
    text = (run_dir / "corpus.txt").read_text()
    val_text = text[len(text) - int(round(len(text) * 0.1)):]
    result = evaluate(run_id, val_text, workspace=home)
    assert result.bpc == pytest.approx(reg.get_run(run_id)["best_val_bpc"], rel=1e-4)
    assert result.perplexity == pytest.approx(np.exp(result.loss_nats))
    assert result.chars == result.tokens


def test_evaluate_window_sets_the_context_length(tiny_run):
    """The quality benchmark scores two models alike by passing the same window to both."""
    home, run_id = tiny_run
    text = (Registry(home).run_dir(run_id) / "corpus.txt").read_text()[-400:]
    own = evaluate(run_id, text, workspace=home)                       # the run's seq_len: 16
    assert evaluate(run_id, text, workspace=home, window=16) == own
    short = evaluate(run_id, text, workspace=home, window=4)
    # 400 characters give 399 targets: 24 windows of 16 score 384 of them, 99 windows of 4 score 396.
    assert (own.tokens, short.tokens) == (384, 396)


def test_evaluate_streams_carry_the_state_through_each_piece(tiny_run):
    """Carried-state scoring: pieces as long as the window score exactly as the windows do; one
    piece is the whole text read from a zero state in a single pass."""
    home, run_id = tiny_run
    text = (Registry(home).run_dir(run_id) / "corpus.txt").read_text()[-400:]
    windows = evaluate(run_id, text, workspace=home, window=16)
    pieces = evaluate(run_id, text, workspace=home, streams=24)        # 399 targets // 24 = 16 per piece
    assert pieces.tokens == windows.tokens == 384
    assert pieces.loss_nats == pytest.approx(windows.loss_nats, rel=1e-9)

    run = load_run(run_id, home)
    ids, _ = run.vocab.encode(text)
    logits = Stepper(run.model, run.weights).sequence_logits(ids[None, :-1])[0].astype(np.float64)
    top = logits.max(-1)
    nll = np.log(np.exp(logits - top[:, None]).sum(-1)) + top - logits[np.arange(len(ids) - 1), ids[1:]]
    whole = evaluate(run_id, text, workspace=home, streams=1)
    assert whole.tokens == 399
    assert whole.loss_nats == pytest.approx(nll.mean(), rel=1e-9)
    assert whole.loss_nats != pytest.approx(windows.loss_nats, rel=1e-6)   # the carried context changes the score


def test_evaluate_refuses_a_window_or_stream_count_it_cannot_use(tiny_run):
    home, run_id = tiny_run
    with pytest.raises(ValueError, match="window must be at least 1"):
        evaluate(run_id, "some text to score", workspace=home, window=0)
    with pytest.raises(ValueError, match="streams must not be negative"):
        evaluate(run_id, "some text to score", workspace=home, streams=-1)


def test_originality_of_a_generation_against_the_runs_corpus(gen):
    corpus = gen.run.corpus_path.read_text()
    copied = gen.originality(corpus[100:160])
    assert copied.copied_share == 1.0 and copied.longest_copied == 60
    assert gen.originality("Qzx vbnm qwerty zxcv asdf uiop hjkl").longest_copied == 0


# -- what the Write page asks of the engine ---------------------------------------------------------
def test_settings_give_the_generators_keyword_arguments(gen):
    from textgen.generate import Settings

    s = Settings(length=30, temperature=0.5, top_k=3, top_p=0.9, stop="sentence", n=2, seed=None)
    assert s.kwargs(7) == dict(length=30, temperature=0.5, top_k=3, top_p=0.9, seed=7, stop="sentence",
                               repetition_penalty=1.0, ban=())
    assert gen.generate("The keeper", **s.kwargs(7)) == gen.generate("The keeper", 30, 0.5, 3, 0.9, 7, "sentence")
    gen.check_settings(s)
    with pytest.raises(GenerationError, match="between 1 and 8"):
        gen.check_settings(Settings(n=9))


def test_weights_version_is_the_weights_files_and_names_a_run_without_them(tiny_run, tmp_path):
    from textgen.generate import weights_version

    home, run_id = tiny_run
    path = Registry(home).run_dir(run_id) / "weights.npz"
    assert weights_version(run_id, home) == path.stat().st_mtime_ns
    with pytest.raises(GenerationError, match="^20990101-000000-ffffff cannot be found or has no trained weights yet$"):
        weights_version("20990101-000000-ffffff", home)
    with pytest.raises(RunError, match="is not a run id"):
        weights_version("../../etc", home)


def test_unknown_note_names_what_the_model_never_saw():
    from textgen.generate import unknown_note

    assert unknown_note(()) == ""
    assert unknown_note(("☃", "🙂")) == "The model has never seen '☃', '🙂'; it reads them as unknown."
    many = unknown_note(tuple("abcdefghijklmnopqrstuvwxyz"))
    assert many.startswith("The model has never seen 'a', 'b'") and "'t' ...; it reads" in many and "'u'" not in many


def test_the_models_name_and_size(gen):
    assert gen.name() == ("tiny shared", "LSTM 2×16")


# -- the generation loop over a stub stepper whose logits are known -----------------------------------
class ScriptedStepper:
    """Logits that make greedy decoding write `script[row][t]` at step t (the row's next id; the highest
    logit 10, an optional `runner_up` id 5, the rest -10). Records what the generator feeds it."""

    def __init__(self, vocab_size, script, runner_up=None):
        self.v, self.script, self.runner_up = vocab_size, np.atleast_2d(script), runner_up
        self.fed, self.stepped = None, []

    def initial_state(self, batch):
        return [np.zeros((batch, 1), np.int64)]                                   # steps taken, per row

    def feed(self, ids, state):
        self.fed = ids.copy()                                                     # the prompt, fed once
        return None, state

    def step(self, ids, state):
        self.stepped.append(ids.copy())
        t = state[0][:, 0]                                                        # (batch,)
        rows = np.arange(len(ids))
        logits = np.full((len(ids), self.v), -10.0, np.float32)
        logits[rows, self.script[rows % len(self.script), np.minimum(t, self.script.shape[1] - 1)]] = 10.0
        if self.runner_up is not None and t[0] == 0:
            logits[:, self.runner_up] = 5.0
        return logits, [state[0] + 1]


def stub_generator(vocab, text, runner_up=None):
    """A Generator over `vocab` whose greedy continuation is `text` (a list of texts: one per row)."""
    from textgen import ModelConfig, TrainConfig
    from textgen.artifacts import Run

    cfg = ModelConfig(vocab_size=len(vocab), cell="rnn", layers=1, units=2, embedding=2)
    v = len(vocab)
    weights = {"embedding": np.zeros((v, 2)), "logits/kernel": np.zeros((2, v)), "logits/bias": np.zeros(v),
               "rnn_0/kernel": np.zeros((2, 2)), "rnn_0/recurrent": np.zeros((2, 2)), "rnn_0/bias": np.zeros(2)}
    gen = Generator(Run("stub", Path("no-such-run-dir"), cfg, TrainConfig(), {}, vocab, weights))
    texts = [text] if isinstance(text, str) else text
    rows = [vocab.encode(t)[0].tolist() for t in texts]
    width = max(map(len, rows))
    gen.stepper = ScriptedStepper(v, [r + r[-1:] * (width - len(r)) for r in rows], runner_up)
    return gen


CHARS = Vocab.build("abcdefghijklmnopqrstuvwxyz .!?\n", "char")


@pytest.mark.parametrize("script, stop, text", [
    ("it is. and more. yes", "sentence", "it is."),
    (". it is! so", "sentence", ". it is!"),             # a mark before any word ends no sentence
    ("one line\ntwo lines\n", "line", "one line"),
    ("\n\nafter blank lines\nnext", "line", "\n\nafter blank lines"),   # leading line breaks end nothing
    ("so the end came. on", "the end", "so the end"),
    ("so the end came. on", "length", "so the end came. on"[:12]),
])
def test_the_loop_stops_where_it_is_told_with_exact_text(script, stop, text):
    g = stub_generator(CHARS, script).generate("a b", 12 if stop == "length" else 40, temperature=0, stop=stop)
    assert g.text == text
    assert g.stopped_by == stop
    assert g.unknown == ()


def test_a_stop_that_never_comes_runs_to_the_length_and_says_length():
    g = stub_generator(CHARS, "no stop here at all").generate("a", 10, temperature=0, stop="sentence")
    assert (g.text, g.stopped_by) == ("no stop he", "length")


def test_alternatives_stop_row_by_row():
    gen = stub_generator(CHARS, ["ab. cd", "abcd efgh. i"])
    first, second = gen.alternatives("x", 2, 20, temperature=0, stop="sentence")
    assert (first.text, first.stopped_by) == ("ab.", "sentence")
    assert (second.text, second.stopped_by) == ("abcd efgh.", "sentence")
    pieces = list(gen.stream_batch("x", 2, 20, temperature=0, stop="sentence"))
    assert [p[0] for p in pieces] == ["a", "b", ".", "", "", "", "", "", "", ""]   # a stopped row yields ''
    assert len(pieces) == len("abcd efgh.")                                       # the loop ends with the last row


def test_the_prompt_is_fed_once_and_its_last_token_starts_the_loop():
    gen = stub_generator(CHARS, "xyz")
    assert gen.generate("a cab", 3, temperature=0).text == "xyz"
    assert gen.stepper.fed.tolist() == [CHARS.encode("a ca")[0].tolist()]
    assert gen.stepper.stepped[0].tolist() == CHARS.encode("b")[0].tolist()


def test_an_empty_prompt_starts_at_a_line_break_and_at_the_first_visible_character():
    gen = stub_generator(CHARS, "  \n so it began")
    g = gen.generate("", 20, temperature=0)
    assert g.text == "so it began" + "n" * 5              # the 4 dropped spaces count towards the 20 tokens
    assert gen.stepper.fed.shape == (1, 0) and gen.stepper.stepped[0].tolist() == CHARS.encode("\n")[0].tolist()


def test_unknown_prompt_tokens_are_reported_fed_as_unknown_and_never_proposed():
    gen = stub_generator(CHARS, ["\ufffd" * 3])                                 # the stub's best is <unk>, id 0
    gen.stepper.script[:] = 0
    gen.stepper.runner_up = CHARS.encode("a")[0][0]
    g = gen.generate("snow \u2603 and Zebras", 1, temperature=0)
    assert g.unknown == ("Z", "\u2603")                                           # sorted, each once
    assert g.text == "a"                                                          # <unk> is never proposed
    fed = gen.stepper.fed[0].tolist()
    assert fed.count(0) == 2 and fed[5] == 0                                      # "☃" and "Z" went in as <unk>


SUBWORD_TEXT = ("The lantern keeper counted the boats each evening, and the boats came home one by one. " * 40
                + "Then the harbour slept, and the keeper slept, and the lantern burned on.\n" * 20)


@pytest.fixture(scope="module")
def pieces():
    return Vocab.build(SUBWORD_TEXT, "subword", 300)


def test_token_healing_takes_the_last_piece_back_and_the_first_token_must_extend_it(pieces):
    ids, _ = pieces.encode("The lantern kee")
    healed = pieces.token_bytes[ids[-1]]
    longer = [i for i, b in enumerate(pieces.token_bytes) if b.startswith(healed) and len(b) > len(healed)]
    other = next(i for i, b in enumerate(pieces.token_bytes) if i and not b.startswith(healed))
    assert longer, "the test needs a piece that extends the prompt's last one"
    ending = pieces.token_bytes[longer[0]]
    gen = stub_generator(pieces, pieces.decode([other, *pieces.encode(" on")[0]]), runner_up=longer[0])
    g = gen.generate("The lantern kee", 1 + len(pieces.encode(" on")[0]), temperature=0)
    # The stub's best first token does not extend "kee": the runner-up, which does, is taken, and only
    # what it adds to the prompt is written.
    assert g.text == ending[len(healed):].decode() + " on"
    assert gen.stepper.fed.tolist() == [ids[:-2].tolist()]
    assert gen.stepper.stepped[0].tolist() == [ids[-2]]


def test_a_character_split_over_two_pieces_is_written_whole(pieces):
    owl = pieces.encode("\U0001f989")[0].tolist()                                # four bytes, four pieces
    gen = stub_generator(pieces, pieces.decode(owl + pieces.encode(" ok")[0].tolist()))
    gen.stepper.script = np.array([owl + pieces.encode(" ok")[0].tolist()])
    stream = list(gen.stream("\n", len(owl) + 2, temperature=0))
    assert stream[0] == "\U0001f989" and "".join(stream) == "\U0001f989 ok"


# -- the writer's constraints in the loop, the kept prompt state and the continuation's states ----------
class FixedStepper(ScriptedStepper):
    """The same logits at every step: `logits` by id, -10 for the rest."""

    def __init__(self, vocab_size, logits):
        super().__init__(vocab_size, [0])
        self.row = np.full(vocab_size, -10.0, np.float32)
        for i, value in logits.items():
            self.row[i] = value

    def step(self, ids, state):
        self.stepped.append(ids.copy())
        return np.tile(self.row, (len(ids), 1)), [state[0] + 1]


def test_the_repetition_penalty_steers_greedy_decoding_exactly():
    a, b = CHARS.encode("ab")[0]
    gen = stub_generator(CHARS, "x")
    gen.stepper = FixedStepper(len(CHARS), {a: 3.0, b: 2.0})
    assert gen.generate("x", 4, temperature=0).text == "aaaa"
    # step 2: a's 3 / 2 = 1.5 < b's 2; then both were written: a 1.5 > b 1.0
    assert gen.generate("x", 4, temperature=0, repetition_penalty=2.0).text == "abaa"


def test_banned_words_are_never_written_at_character_level():
    gen = stub_generator(CHARS, "the sea sea")
    assert gen.generate("x", 11, temperature=0).text == "the sea sea"
    first = CHARS.token_text(1)               # with 'a' refused, every other token ties at -10: id 1 wins
    assert gen.generate("x", 11, temperature=0, ban=("Sea",)).text == f"the se{first} se{first}"
    assert gen.generate("x", 11, temperature=0, ban=("he",)).text == "the sea sea"   # "he" is inside "the"
    with pytest.raises(GenerationError, match="at most 40 characters"):
        gen.generate("x", 3, ban=("w" * 41,))


def test_a_kept_prompt_state_is_used_without_reading_the_prompt_again():
    gen = stub_generator(CHARS, "xyz")
    primed = gen.prime("a cab")
    gen.stepper.fed = None
    assert gen.generate("a cab", 3, temperature=0, primed=primed).text == "xyz"
    assert gen.stepper.fed is None                                               # nothing was fed
    assert gen.generate("a cat", 3, temperature=0, primed=primed).text == "xyz"  # another prompt: read anew
    assert gen.stepper.fed.tolist() == [CHARS.encode("a ca")[0].tolist()]


def test_a_state_from_another_model_is_never_used():
    one, two = stub_generator(CHARS, "xyz"), stub_generator(CHARS, "xyz")
    primed = one.prime("a cab")
    assert two.prime("a cab", (primed,)) is not primed
    assert one.prime("a cab", (primed,)).state is primed.state


def test_the_continuations_end_state_is_the_next_continues_start_bit_for_bit(gen):
    record = []
    text = "".join(gen.stream("The keeper", 40, seed=5, record=record))
    cont = record[0]
    assert cont.text == text and len(cont.tokens) == 40 and len(cont.states) == 41
    fresh = gen.prime("The keeper" + text)
    kept = gen.prime("The keeper" + text, cont.ends())
    assert kept.state[0][0] is cont.states[-1][0][0]                             # reused, not recomputed
    for (h1, c1), (h2, c2) in zip(fresh.state, kept.state):
        assert np.array_equal(h1, h2) and np.array_equal(c1, c2)
    again = gen.generate("The keeper" + text, 30, seed=8, primed=kept).text
    assert again == gen.generate("The keeper" + text, 30, seed=8).text


def test_resuming_with_the_same_token_rewrites_the_same_greedy_text(gen):
    record = []
    gen.generate("The keeper", 30, temperature=0, record=record)
    cont = record[0]
    same = gen.resume(cont, 12, cont.tokens[12], 30, temperature=0)
    assert (same.tokens, same.pieces) == (cont.tokens, cont.pieces)
    assert same.states[:13] == cont.states[:13]                                  # the kept states, as they were
    other = next(t for t in range(1, len(gen.vocab)) if t != cont.tokens[12])
    branched = gen.resume(cont, 12, other, 30, temperature=0)
    assert branched.text.startswith(cont.text[:12] + gen.vocab.token_text(other))
    assert len(branched.tokens) == 30 and branched.tokens[:12] == cont.tokens[:12]
    with pytest.raises(GenerationError, match="no such token"):
        gen.resume(cont, 30, other, 30)


def test_the_cli_takes_the_penalty_and_banned_words(tiny_run, monkeypatch, capsys):
    from textgen import cli

    home, run_id = tiny_run
    monkeypatch.setenv("INKWELL_HOME", str(home))
    args = ["generate", run_id, "--prompt", "The ", "--length", "120", "--seed", "4"]
    assert cli.main(args) == 0
    free = capsys.readouterr().out[len("The "):-1]
    starts = [i for i, ch in enumerate(free) if ch in "tT" and (i == 0 or not free[i - 1].isalnum())]
    assert starts, "the test needs a word starting with t when nothing is banned"
    assert cli.main(args + ["--ban", "t, T"]) == 0
    banned = capsys.readouterr().out[len("The "):-1]
    assert len(banned) == 120 and not [i for i, ch in enumerate(banned)
                                       if ch in "tT" and (i == 0 or not banned[i - 1].isalnum())]
    assert cli.main(args + ["--repetition-penalty", "1.5"]) == 0
    assert capsys.readouterr().out[len("The "):-1] != free
    assert cli.main(args + ["--repetition-penalty", "0.5"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["textgen: The repetition penalty must be between 1 (off) and 3, not 0.5."]

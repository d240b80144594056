import numpy as np
import pytest

from textgen.artifacts import load_run
from textgen.errors import GenerationError, RunError
from textgen.generate import MAX_LENGTH, Generator, _apply_stop
from textgen.evaluate import evaluate
from textgen.runs import Registry
from textgen.stepper import Stepper


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
    assert _apply_stop(made, piece, stop) == expect


def test_sentence_stop_ends_on_punctuation(gen):
    g = gen.generate("The keeper", 400, seed=3, stop="sentence")
    assert g.stopped_by == "sentence" and g.text.rstrip()[-1] in ".!?" or len(g.text) == 400


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
    assert s.kwargs(7) == dict(length=30, temperature=0.5, top_k=3, top_p=0.9, seed=7, stop="sentence")
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

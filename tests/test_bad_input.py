"""Rows of docs/bad-input.md not covered elsewhere: odd corpora and settings, end to end in the engine."""
import pytest

from textgen import Generator, ModelConfig, TrainConfig, load_corpus
from textgen.corpus import decode_bytes
from textgen.errors import CorpusError
from textgen.train import train

TINY = ModelConfig(cell="gru", layers=1, units=8, embedding=4)


def test_one_character_is_too_short_to_train(tmp_path):
    corpus = load_corpus("a")
    with pytest.raises(CorpusError, match="has 1 characters, training needs at least 1,011"):
        train(corpus, TINY, TrainConfig(seq_len=100), workspace=tmp_path)


def test_sequence_longer_than_the_corpus(tmp_path):
    with pytest.raises(CorpusError, match="too short for sequence length 500.*choose a shorter sequence length"):
        train(load_corpus("word " * 300), TINY, TrainConfig(seq_len=500), workspace=tmp_path)


def test_invalid_utf8_is_decoded_as_a_legacy_encoding_and_says_which():
    text, encoding = decode_bytes("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, s'il vous pla\u00eet.".encode("cp1252"))
    assert text == "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, s'il vous pla\u00eet." and encoding == "cp1252"


def test_ten_megabyte_single_line_loads():
    line = ("the lamp turns " * 700_000)[:10_000_000]
    corpus = load_corpus(line.encode("utf-8"))
    assert corpus.stats.chars == 10_000_000 and corpus.stats.lines == 1


def test_batch_larger_than_the_windows_is_lowered_with_a_note(tmp_path):
    events = []
    result = train(load_corpus("The gulls circle the quay. " * 60), TINY,
                   TrainConfig(seq_len=20, batch_size=4096, epochs=1, sample_length=0),
                   workspace=tmp_path, on_event=events.append)
    assert result.status == "done"
    notes = [e["message"] for e in events if e["type"] == "note"]
    assert notes and notes[0].startswith("Batch size lowered to 72")


@pytest.mark.parametrize("text", [
    "\U0001F30A\U0001F6A2\U0001F4A1\U0001F319\u2728" * 400,                              # only emoji
    "灯塔守护人每天晚上爬上一百一十二级台阶，点亮灯火。渔船在雾中回家，面包店的窗户亮了。" * 60,  # Chinese
    "灯台守は毎晩百十二段の階段を登り、灯をともす。霧の中で船が帰ってくる。" * 60,                # Japanese
])
def test_cjk_and_emoji_train_and_generate_end_to_end(tmp_path, text):
    result = train(load_corpus(text), TINY, TrainConfig(seq_len=16, batch_size=8, epochs=1, sample_length=10),
                   workspace=tmp_path)
    assert result.status == "done"
    gen = Generator(result.run_id, workspace=tmp_path)
    out = gen.generate(text[:5], 30, seed=1).text
    assert len(out) == 30 and set(out) <= set(text)


def test_word_level_round_trip_generation_and_bits_per_character(tmp_path):
    """Word-level models join words exactly as split, and report bits per character, not per word."""
    from textgen.evaluate import evaluate

    text = "The gull sat on the quay. The boat came in, slowly; the rope was wet.\n" * 40
    result = train(load_corpus(text), TINY, TrainConfig(level="word", seq_len=8, batch_size=8, epochs=1,
                                                        sample_length=20), workspace=tmp_path)
    gen = Generator(result.run_id, workspace=tmp_path)
    assert gen.vocab.level == "word"
    out = gen.generate("The gull", 25, seed=3).text
    pieces = list(gen.stream("The gull", 25, seed=3))
    assert len(pieces) == 25 and "".join(pieces) == out          # one vocabulary token per step, joined as is
    assert set(pieces) <= set(gen.vocab.tokens[1:])               # never the unknown token
    ev = evaluate(result.run_id, text, workspace=tmp_path)
    assert ev.tokens < ev.chars                                   # several characters per word token
    assert ev.bpc == pytest.approx(ev.loss_nats * ev.tokens / ev.chars / 0.6931471805599453)

"""Subword level: byte-level BPE learned from the corpus, exact round trips, no unknown tokens."""
import json

import numpy as np
import pytest

from textgen.errors import ConfigError
from textgen.bpe import byte_alphabet
from textgen.vocab import UNK, Vocab, tokenize

from test_vocab import TRICKY

TEXT = ("The lantern keeper counted the boats each evening, and the boats came home one by one. " * 40
        + "Then the harbour slept, and the keeper slept, and the lantern burned on.\n" * 20)


@pytest.fixture(scope="module")
def vocab():
    return Vocab.build(TEXT, "subword", 300)


def test_build_learns_merges_and_is_deterministic(vocab):
    assert vocab.level == "subword"
    assert vocab.tokens[0] == UNK
    assert len(vocab) == 300                          # <unk>, 256 bytes, 43 merges
    assert Vocab.build(TEXT, "subword", 300) == vocab
    ids, unknown = vocab.encode("the lantern keeper")
    assert unknown == []
    assert len(ids) < len("the lantern keeper") / 2   # frequent runs are single tokens
    assert " keeper" in vocab.tokenize("the lantern keeper")


@pytest.mark.parametrize("text", TRICKY + ["Ünseen scripts: Ωμέγα, עברית, 한국어 🦉"])
def test_any_text_round_trips_exactly(vocab, text):
    ids, unknown = vocab.encode(text)
    assert ids.dtype == np.int32 and unknown == []
    assert 0 not in ids.tolist()                      # nothing maps to <unk>: every byte is a token
    assert vocab.decode(ids) == text
    assert vocab.missing(text) == []


def test_a_character_split_across_tokens_decodes_whole(vocab):
    ids, _ = vocab.encode("🦉")                        # four bytes the corpus never had: four byte tokens
    assert len(ids) == 4
    assert vocab.decode(ids[:2]) + vocab.decode(ids[2:]) != "🦉"   # halves alone are not the owl
    assert vocab.decode(ids) == "🦉"
    assert vocab.token_text(int(ids[0])) == "\ufffd"


def test_byte_alphabet_is_the_tokenizers_byte_level_one():
    from tokenizers import pre_tokenizers

    table = byte_alphabet()
    assert len(set(table)) == 256
    assert sorted(table) == sorted(pre_tokenizers.ByteLevel.alphabet())
    assert table[ord("A")] == "A" and table[ord(" ")] == "\u0120" and table[ord("\n")] == "\u010a"


def test_json_round_trip_keeps_the_merges(vocab, tmp_path):
    vocab.save(tmp_path / "vocab.json")
    again = Vocab.load(tmp_path / "vocab.json")
    assert again == vocab
    assert again.encode(TEXT)[0].tolist() == vocab.encode(TEXT)[0].tolist()
    assert json.loads((tmp_path / "vocab.json").read_text())["merges"][0] == list(vocab.merges[0])
    assert Vocab.build(TEXT, "subword", 290) != vocab


@pytest.mark.parametrize("size", [259, 32001])
def test_size_out_of_range(size):
    with pytest.raises(ConfigError, match=f"between 260 and 32,000 tokens, not {size}"):
        Vocab.build(TEXT, "subword", size)


def test_tokenize_needs_the_learned_vocabulary():
    with pytest.raises(ConfigError, match="depend on the vocabulary learned"):
        tokenize("x", "subword")


def test_from_json_rejects_bad_subword_data(vocab):
    good = vocab.to_json()
    assert set(good) == {"level", "tokens", "merges"}
    with pytest.raises(ConfigError, match="needs its merges"):
        Vocab.from_json({k: v for k, v in good.items() if k != "merges"})
    with pytest.raises(ConfigError, match="needs its merges"):
        Vocab.from_json({**good, "merges": [["a", "b", "c"]]})
    with pytest.raises(ConfigError, match="merges make tokens it does not have"):
        Vocab.from_json({**good, "tokens": good["tokens"][:-1]})          # the last merge's result is gone
    with pytest.raises(ConfigError, match="must hold the 256 bytes"):
        Vocab.from_json({**good, "tokens": [UNK, *good["tokens"][2:]]})
    with pytest.raises(ConfigError, match="byte-level token strings"):
        Vocab.from_json({**good, "tokens": [*good["tokens"], "\u4e00"]})
    with pytest.raises(ConfigError, match="Only a subword vocabulary carries"):
        Vocab.from_json({"level": "char", "tokens": [UNK, "a"], "merges": good["merges"]})


def test_an_imported_vocabulary_cannot_bring_its_own_rules(vocab):
    """Only tokens and merges are read: a vocab.json has no place for a pre-tokenizer or normalizer."""
    extra = {**vocab.to_json(), "bpe": '{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a+)+$"}}}'}
    assert Vocab.from_json(extra) == vocab
    assert Vocab.from_json(extra).encode(TEXT)[0].tolist() == vocab.encode(TEXT)[0].tolist()


def test_the_literal_text_unk_is_not_the_unknown_token(vocab):
    ids, unknown = vocab.encode("a <unk> b")
    assert 0 not in ids.tolist() and unknown == []
    assert vocab.decode(ids) == "a <unk> b"


# -- a trained subword run: training, evaluation, writing --------------------------------------

@pytest.fixture(scope="module")
def subword_run(tmp_path_factory, sample_text):
    from textgen import ModelConfig, TrainConfig, load_corpus
    from textgen.train import train

    home = tmp_path_factory.mktemp("subword-workspace")
    result = train(load_corpus(sample_text[:6000]), ModelConfig(cell="gru", layers=1, units=24, embedding=8),
                   TrainConfig(level="subword", subword_vocab=320, seq_len=12, batch_size=8, epochs=1, seed=3,
                               sample_length=30), label="tiny subword", workspace=home)
    return home, result.run_id


@pytest.fixture()
def sub_gen(subword_run):
    from textgen.generate import Generator

    home, run_id = subword_run
    return Generator(run_id, workspace=home)


def test_training_keeps_the_learned_vocabulary(subword_run, sample_text):
    from textgen.artifacts import load_run

    home, run_id = subword_run
    run = load_run(run_id, home)
    assert run.vocab.level == "subword" and len(run.vocab) == 320 and run.model.vocab_size == 320
    from textgen import data

    # The pieces are learned from the training side only: the validation text (the last 10%) stays unseen.
    assert run.vocab == Vocab.build(data.split(sample_text[:6000], 0.1)[0], "subword", 320)
    assert run.vocab != Vocab.build(sample_text[:6000], "subword", 320)
    assert run.train.subword_vocab == 320


def test_training_reports_what_evaluation_measures(subword_run, sample_text):
    """The best checkpoint scores on the validation text (the last 10% of the characters) exactly as training
    reported: bits over the characters the validation pieces spell."""
    from textgen import data
    from textgen.evaluate import evaluate
    from textgen.runs import Registry

    home, run_id = subword_run
    val = data.split(sample_text[:6000], 0.1)[1]
    best = Registry(home).get_run(run_id)["best_val_bpc"]
    assert evaluate(run_id, val, home).bpc == pytest.approx(best, rel=1e-4)


def test_evaluation_counts_characters_not_tokens(subword_run, sample_text):
    from textgen.evaluate import evaluate

    home, run_id = subword_run
    text = sample_text[6000:7000]
    ev = evaluate(run_id, text, home, window=12)
    assert ev.tokens < ev.chars <= len(text)
    carried = evaluate(run_id, text, home, streams=2)
    ids = load_vocab(home, run_id).encode(text)[0]
    length = (len(ids) - 1) // 2
    assert carried.tokens == 2 * length
    assert carried.chars == len(load_vocab(home, run_id).decode(ids[1: 2 * length + 1]))   # the targets' characters


def load_vocab(home, run_id):
    from textgen.artifacts import load_run

    return load_run(run_id, home).vocab


def test_same_seed_same_text_and_pieces_join(sub_gen):
    a = sub_gen.generate("The keeper", 30, seed=5).text
    assert a == sub_gen.generate("The keeper", 30, seed=5).text
    assert "".join(sub_gen.stream("The keeper", 30, seed=5)) == a
    assert sub_gen.generate("The keeper", 30, seed=5).unknown == ()


def test_a_one_token_prompt_is_not_healed(sub_gen):
    ids, _ = sub_gen.vocab.encode("\n")
    assert len(ids) == 1
    last, _, _, healed = sub_gen._prime("\n", 2)
    assert healed == b"" and last.tolist() == [ids[0]] * 2


def test_first_token_is_constrained_to_the_healed_bytes(sub_gen):
    vocab = sub_gen.vocab
    ids, _ = vocab.encode("The lantern kee")
    healed = vocab.token_bytes[ids[-1]]
    allowed = sub_gen._starts_with(healed)
    assert allowed[ids[-1]] and 0 < allowed.sum() < len(vocab)
    assert all(vocab.token_bytes[i].startswith(healed) for i in np.flatnonzero(allowed))
    # Greedy: the first token is the likeliest of the allowed ones after the rest of the prompt.
    last, state, _, got = sub_gen._prime("The lantern kee", 1)
    assert got == healed and last.tolist() == [ids[-2]]
    logits, _ = sub_gen.stepper.step(last, state)
    logits[:, ~allowed] = -np.inf
    logits[:, 0] = -np.inf
    best = int(np.argmax(logits[0]))
    expect = vocab.token_bytes[best][len(healed):].decode("utf-8", "replace")
    assert sub_gen.generate("The lantern kee", 1, temperature=0).text == expect


def test_a_character_split_across_sampled_tokens_streams_whole(sub_gen):
    """Tokens are bytes: pieces never hold half a character, and join to the decoded ids."""
    import textgen.generate as g

    owl = sub_gen.vocab.encode("🦉")[0]
    forced = iter([*owl.tolist(), *sub_gen.vocab.encode(" ok")[0].tolist()])
    real = g.sampling.sample
    try:
        g.sampling.sample = lambda logits, rng, *a: np.array([next(forced)] * len(logits))
        pieces = list(sub_gen.stream("", 4 + len(sub_gen.vocab.encode(" ok")[0]), seed=1))   # no healing
    finally:
        g.sampling.sample = real
    assert pieces[0] == "🦉"
    assert "".join(pieces) == "🦉 ok"


def test_each_side_of_the_split_needs_a_window():
    """Word pieces split the text by characters, so each side is counted on its own."""
    from textgen import data
    from textgen.errors import CorpusError

    data.check_sides(65, 65, 64, 0.1, "word pieces")   # one window each: enough
    with pytest.raises(CorpusError, match=r"too short for sequence length 64: its validation part \(the last 10%\) "
                                          r"makes 40 word pieces, and training needs at least 65 there"):
        data.check_sides(5000, 40, 64, 0.1, "word pieces")
    with pytest.raises(CorpusError, match="its training part makes 64 word pieces"):
        data.check_sides(64, 500, 64, 0.1, "word pieces")


def test_a_bundle_carries_the_pieces_and_writes_the_same_text(subword_run, tmp_path):
    from textgen.bundle import bundle_bytes, import_bundle
    from textgen.generate import Generator
    from textgen.runs import Registry

    home, run_id = subword_run
    other = Registry(tmp_path / "elsewhere")
    new_id = import_bundle(bundle_bytes(run_id, Registry(home)), other, label="copy")
    assert Generator(new_id, workspace=other.home).vocab == Generator(run_id, workspace=home).vocab
    assert (Generator(new_id, workspace=other.home).generate("The lantern kee", 20, seed=4).text
            == Generator(run_id, workspace=home).generate("The lantern kee", 20, seed=4).text)


def test_finetuning_keeps_the_pieces_and_takes_any_new_text(subword_run, tmp_path):
    """Word pieces cover every byte, so new text with unseen characters fine-tunes (characters would refuse)."""
    from textgen import TrainConfig, load_corpus
    from textgen.artifacts import load_run
    from textgen.train import train

    home, run_id = subword_run
    new_text = "Ünseen letters, ü and ñ, and a new harbour song: la la la. " * 40
    tuned = train(load_corpus(new_text), config=TrainConfig(seq_len=12, batch_size=8, epochs=1, sample_length=0),
                  finetune=run_id, workspace=home)
    assert tuned.status == "done"
    run = load_run(tuned.run_id, home)
    assert run.train.level == "subword" and run.vocab == load_run(run_id, home).vocab


def test_healing_hands_back_the_last_piece_and_the_decoder_skips_its_bytes(vocab):
    ids, _ = vocab.encode("the lantern kee")
    kept, healed = vocab.heal(ids)
    assert kept.tolist() == ids[:-1].tolist() and healed == vocab.token_bytes[ids[-1]]
    allowed = vocab.starting_with(healed)
    assert allowed[ids[-1]] and all(vocab.token_bytes[i].startswith(healed) for i in np.flatnonzero(allowed))
    one, _ = vocab.encode("\n")
    assert vocab.heal(one)[1] == b"" and vocab.heal(one)[0].tolist() == one.tolist()   # nothing would be left
    longer = next(i for i in np.flatnonzero(allowed) if len(vocab.token_bytes[i]) > len(healed))
    decoder = vocab.decoder(skip=len(healed))
    assert decoder.decode(int(longer)) == vocab.token_bytes[longer][len(healed):].decode()
    assert decoder.decode(int(longer)) == vocab.token_text(int(longer))             # only the first token is cut

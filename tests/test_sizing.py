"""The one estimate both pages show: counts, parameters, time, and the sentence that refuses a run."""
from dataclasses import replace

import pytest

from textgen import data, kernels, library, load_corpus, sizing
from textgen.config import ModelConfig, TrainConfig
from textgen.models import flops_per_token, param_count
from textgen.presets import DEFAULT, PRESETS
from textgen.sizing import GRU_KERNEL_SPEEDUP, TRAIN_GFLOPS, chars_per_second, seconds_per_epoch
from textgen.vocab import Vocab, tokenize

TEXT = "The keeper climbs the stair. The lamp turns; the gulls call.\n" * 50


@pytest.fixture(autouse=True)
def plain_cpu(monkeypatch):
    """No host limits and no bfloat16 kernel, so the numbers are the same on every machine."""
    monkeypatch.setattr(kernels, "cpu_has_bf16_matmul", lambda: False)
    for name in (sizing.MAX_PARAMS, sizing.MAX_TRAIN_SECONDS, sizing.ALLOW_LONG):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_time_estimate_is_flops_over_the_measured_rate():
    m = ModelConfig(vocab_size=80, cell="gru", layers=1, units=256, embedding=64)
    assert chars_per_second(m) == pytest.approx(TRAIN_GFLOPS * 1e9 / (3 * flops_per_token(m)))
    assert seconds_per_epoch(m, 1_000_000) == pytest.approx(1_000_000 / chars_per_second(m))


def test_time_estimate_counts_the_gru_kernel_where_it_will_be_used(plain_cpu):
    gru = ModelConfig(vocab_size=80, cell="gru", layers=1, units=256, embedding=64)
    lstm = ModelConfig(vocab_size=80, cell="lstm", layers=1, units=256, embedding=64)
    plain = seconds_per_epoch(gru, 1_000_000)
    assert seconds_per_epoch(gru, 1_000_000, train=TrainConfig()) == pytest.approx(plain)
    plain_cpu.setattr(kernels, "cpu_has_bf16_matmul", lambda: True)
    plain_cpu.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    plain_cpu.setattr(kernels, "_gpu_here", lambda: False)
    assert seconds_per_epoch(gru, 1_000_000, train=TrainConfig()) == pytest.approx(plain / GRU_KERNEL_SPEEDUP)
    assert seconds_per_epoch(gru, 1_000_000, train=TrainConfig(gru_kernel="keras")) == pytest.approx(plain)
    assert seconds_per_epoch(gru, 1_000_000, train=TrainConfig(carry_state=True)) == pytest.approx(plain)
    assert seconds_per_epoch(lstm, 1_000_000, train=TrainConfig()) == pytest.approx(seconds_per_epoch(lstm, 1_000_000))


def test_counts_at_each_level():
    assert sizing.text_counts(TEXT, TrainConfig()) == (len(TEXT), len(set(TEXT)) + 1, len(TEXT))
    words = tokenize(TEXT, "word")
    assert sizing.text_counts(TEXT, TrainConfig(level="word")) == (len(words), len(set(words)) + 1, len(TEXT))
    assert sizing.text_counts(TEXT, TrainConfig(level="word", max_vocab=10))[1] == 11
    cfg = TrainConfig(level="subword", subword_vocab=300)
    pieces = Vocab.build(data.split(TEXT, cfg.val_fraction)[0], "subword", 300)   # learned from the training part
    assert sizing.text_counts(TEXT, cfg) == (len(pieces.encode(TEXT)[0]), len(pieces), len(TEXT))


def test_a_saved_corpus_is_counted_as_its_text(workspace):
    cid = library.save_corpus("lamp", load_corpus(TEXT))
    [meta] = library.list_corpora()
    for cfg in (TrainConfig(), TrainConfig(level="word")):
        assert sizing.saved_counts(meta, cfg, workspace) == sizing.text_counts(library.load_saved(cid)[0], cfg)


def test_estimate_gives_the_pages_numbers():
    counts = sizing.text_counts(TEXT, TrainConfig())
    model, cfg = ModelConfig(cell="lstm", layers=2, units=32, embedding=8), TrainConfig(seq_len=20, epochs=3)
    est = sizing.estimate(counts, model, cfg)
    sized = ModelConfig(vocab_size=counts.vocab, cell="lstm", layers=2, units=32, embedding=8)
    per_epoch = int(len(TEXT) * 0.9) / chars_per_second(sized)
    assert (est.params, est.unit, est.refusal) == (param_count(sized), "characters", None)
    assert est.seconds_per_epoch == pytest.approx(per_epoch)
    assert (est.seconds, est.passes) == (pytest.approx(3 * per_epoch), pytest.approx(3))
    budget = sizing.estimate(counts, model, TrainConfig(seq_len=20, epochs=10**5, time_budget=60))
    assert (budget.seconds, budget.passes) == (60, pytest.approx(60 / per_epoch))
    assert est.params > 2 * len(TEXT) and est.memorises   # more parameters than twice its characters
    assert not sizing.estimate(counts, ModelConfig(cell="gru", layers=1, units=8, embedding=4), cfg).memorises


def test_too_short_is_the_sentence_training_gives():
    counts = sizing.char_counts(83, 20)
    est = sizing.estimate(counts, ModelConfig(), TrainConfig(seq_len=64))
    with pytest.raises(Exception) as raised:
        data.check_length(83, 64, 0.1, "characters")
    assert est.refusal == str(raised.value) == (
        "The text is too short for sequence length 64: it has 83 characters, training needs at least 651 "
        "(add about 568 more, or choose a shorter sequence length).")


def test_host_limits_refuse_with_one_sentence(plain_cpu):
    counts = sizing.char_counts(1_000_000, 80)
    model = ModelConfig(cell="lstm", layers=4, units=4096, embedding=1024)   # about 94 million parameters
    est = sizing.estimate(counts, model, TrainConfig(epochs=10))
    assert est.params > 90_000_000 and est.seconds > 100 * 3600
    assert est.refusal == (f"By the estimate this run would train for {est.seconds / 3600:,.0f} hours, more than the "
                           "60 minutes a run may take on this server: set a time budget, or choose a smaller model.")
    budgeted = sizing.estimate(counts, model, TrainConfig(epochs=10, time_budget=1200))
    assert budgeted.seconds == 1200 and budgeted.refusal is None          # the budget stops it in time
    assert sizing.estimate(counts, model, TrainConfig(epochs=10, time_budget=3601)).refusal is not None
    plain_cpu.setenv(sizing.ALLOW_LONG, "1")
    assert sizing.estimate(counts, model, TrainConfig(epochs=10)).refusal is None
    plain_cpu.delenv(sizing.ALLOW_LONG)
    plain_cpu.setenv(sizing.MAX_TRAIN_SECONDS, "7200")                   # the host caps every run's time instead
    capped = sizing.estimate(counts, model, TrainConfig(epochs=10))
    assert (capped.seconds, capped.refusal) == (7200, None)
    plain_cpu.setenv(sizing.MAX_PARAMS, "1000000")
    assert sizing.estimate(counts, model, TrainConfig(epochs=10)).refusal == (
        f"This model has {est.params:,} parameters; this server allows at most 1,000,000. Choose fewer units or layers.")


def test_advice_fits_data_and_time_and_says_why():
    cfg = TrainConfig(time_budget=1200, epochs=10**5)
    advice = sizing.advise(sizing.char_counts(600_000, 79), cfg)
    model = advice.model
    assert (model.cell, model.layers, model.units, advice.refused) == ("gru", 1, 512, False)
    sized = ModelConfig(vocab_size=80, cell="gru", layers=1, units=512, embedding=64)
    passes = 1200 / (540_000 / chars_per_second(sized))
    assert advice.message == (f"About 600,000 characters: a 1-layer GRU of 512 units (933,968 parameters) fits this "
                              f"size and reads the text about {passes:,.0f} times in 20 minutes.")
    assert sizing.advise(sizing.char_counts(5_000, 40), cfg).model.units == 64     # tiny text: the smallest model
    big = sizing.advise(sizing.char_counts(5_000_000, 80), TrainConfig(time_budget=60, epochs=10**5))
    assert "fewer than 5 times" in big.message and not big.refused               # too much text for a minute


def test_corpus_advice_and_train_estimate_refuse_a_short_text_alike():
    """The Corpus page advises for the preset the Train page opens with: the same sentence on both pages."""
    preset = PRESETS[DEFAULT]
    counts = sizing.char_counts(83, 30)
    advice = sizing.advise(counts, preset.train)
    assert advice.refused
    assert advice.message == sizing.estimate(counts, preset.model, preset.train).refusal
    assert advice.message.startswith(f"The text is too short for sequence length {preset.train.seq_len}: it has 83 ")


def chinese_corpus():
    from chinese import poems

    return load_corpus(poems(40_000, 3_000))


def test_a_chinese_text_is_advised_as_short_not_long_and_both_pages_agree():
    """Reported: on 40,000 characters of poems the Corpus page said the text was large for the budget while
    the Train page said the model would memorise it. The per-character rows made every model look too big."""
    stats = chinese_corpus().stats
    counts = sizing.stats_counts(stats)
    assert counts == sizing.Counts(40_000, stats.distinct - stats.rare + 1, 40_000) and stats.rare > 0
    before = sizing.advise(sizing.char_counts(40_000, stats.distinct), PRESETS[DEFAULT].train)
    assert "fewer than 5 times" not in before.message           # it was: "The text is large for this time budget"
    advice = sizing.corpus_advice(stats)
    fitted = sizing.adapt(PRESETS[DEFAULT], counts, cjk=True)
    train_page = sizing.estimate(counts, fitted.model, fitted.train)   # what the Train page shows for Quick
    assert not advice.refused and (advice.model, advice.estimate) == (fitted.model, train_page)
    assert advice.message == (
        f"About 40,000 characters: the preset's 1-layer GRU of 256 units ({train_page.params:,} parameters) reads "
        f"the text about {train_page.passes:,.0f} times in 1 minute. A 1-layer GRU of 128 units would suit its size "
        "better (Custom on the Train page).")
    assert train_page.memorises   # the Train page warns of it for the same model
    model = ModelConfig(cell="gru", layers=1, units=128, embedding=64)
    assert not sizing.estimate(counts, model, fitted.train).memorises


def test_memorising_leaves_out_the_rows_a_large_vocabulary_adds():
    cfg = TrainConfig(time_budget=60, epochs=1000)
    m = ModelConfig(cell="gru", layers=1, units=64, embedding=64)
    small, large = sizing.estimate(sizing.char_counts(40_000, 80), m, cfg), sizing.estimate(
        sizing.char_counts(40_000, 3_000), m, cfg)
    assert large.params - small.params == (3_001 - 81) * (64 + 64 + 1)
    assert large.alphabet_params - small.alphabet_params == large.params - small.params
    assert not small.memorises and not large.memorises


def test_the_advice_rule_is_the_memorising_rule_above_the_smallest_models():
    cfg = TrainConfig(seq_len=64, time_budget=60, epochs=1000)
    for chars, distinct in ((40_000, 3_000), (200_000, 4_000), (600_000, 80)):
        advice = sizing.advise(sizing.char_counts(chars, distinct), cfg)
        assert not advice.estimate.memorises and advice.estimate.learned_params <= 2 * chars
    small = sizing.advise(sizing.char_counts(9_000, 3_000), cfg)   # any text may have a model of 50,000
    assert small.model.units == 64 and small.estimate.learned_params <= sizing.SMALL_MODEL


def test_adapt_halves_the_batch_until_a_run_makes_enough_steps():
    quick = PRESETS["Quick"]
    zh = sizing.stats_counts(chinese_corpus().stats)
    fitted = sizing.adapt(quick, zh, cjk=True)
    assert fitted.model == quick.model and fitted.train.time_budget == quick.train.time_budget
    assert fitted.train.batch_size < quick.train.batch_size
    est = sizing.estimate(zh, fitted.model, fitted.train)
    steps = est.passes * 40_000 * 0.9 / (fitted.train.batch_size * fitted.train.seq_len)
    assert steps >= sizing.MIN_UPDATES or fitted.train.batch_size == sizing.MIN_BATCH
    english = sizing.char_counts(600_000, 79)
    assert sizing.adapt(quick, english) is quick                 # a long English text keeps the preset as it is


def test_adapt_reads_chinese_at_character_level():
    long = PRESETS["Long"]
    assert long.train.level == "subword"
    assert sizing.adapt(long, sizing.char_counts(2_000_000, 5_000), cjk=True).train.level == "char"
    assert sizing.adapt(long, sizing.char_counts(2_000_000, 90)).train.level == "subword"


def test_text_notes_speak_of_characters_rare_ones_and_how_much_a_poem_model_needs():
    stats = chinese_corpus().stats
    notes = sizing.text_notes(stats)
    assert notes[0].startswith("This text is read one character at a time (character level)")
    assert notes[1] == (f"{stats.rare:,} of its {stats.distinct:,} distinct characters appear only once; they are "
                        f"read as unknown, which keeps the vocabulary to {stats.distinct - stats.rare + 1:,} characters.")
    assert notes[2].startswith("For a poem model, 100,000 characters") and "with 40,000 it" in notes[2]
    assert sizing.text_notes(load_corpus(TEXT).stats) == []


def test_saved_counts_of_a_chinese_corpus_cap_rare_characters(tmp_path):
    corpus = chinese_corpus()
    counts = sizing.text_counts(corpus.text, TrainConfig())
    assert counts == sizing.stats_counts(corpus.stats)
    old = {"id": "x", "stats": {"chars": 40_000, "distinct": corpus.stats.distinct}}   # saved before "rare"
    sizing._saved_counts.cache_clear()
    import unittest.mock as mock
    with mock.patch.object(library, "load_saved", return_value=(corpus.text, None)):
        assert sizing.saved_counts(old, TrainConfig(), tmp_path) == counts


def test_fit_says_why_the_batch_shrank_in_numbers_the_estimate_gives():
    quick, zh = PRESETS["Quick"], sizing.char_counts(30_000, 3_000)   # a Chinese text: thousands of characters
    fit = sizing.fit(quick, zh, cjk=True)
    assert fit.preset == sizing.adapt(quick, zh, cjk=True) and fit.preset.train.batch_size == 16
    assert fit.notes == ["Batches of 16 instead of 64: at 64 this text gives only 132 updates in 1 minute of training, "
                         "and a run needs at least 400; at 16 it gives 529."]
    # the budget binds, so updates are the characters read in 60 s over the characters a batch reads
    sized = replace(quick.model, vocab_size=3_001)
    assert [int(60 * chars_per_second(sized) / (b * 64)) for b in (64, 16)] == [132, 529]


def test_fit_says_when_the_preset_is_kept_and_why():
    fit = sizing.fit(PRESETS["Quick"], sizing.char_counts(200_000, 80))
    assert fit.preset is PRESETS["Quick"]
    assert fit.notes == ["Batches of 64, as tuned: this text gives 503 updates in 1 minute of training, at least "
                         "the 400 a run needs."]


def test_fit_explains_character_level_for_a_chinese_text():
    long, zh = PRESETS["Long"], sizing.char_counts(30_000, 3_000)
    assert sizing.fit(long, zh, cjk=True).notes == [
        "Character level instead of word pieces: this text has no spaces between words (as Chinese and Japanese are "
        "written), and word pieces would split most of its characters into bytes.",
        "Batches of 32 instead of 64: at 64 this text gives only 368 updates in 20 minutes of training, and a run "
        "needs at least 400; at 32 it gives 737."]
    words = replace(PRESETS["Quick"], train=replace(PRESETS["Quick"].train, level="word"))
    assert sizing.fit(words, zh, cjk=True).notes[0] == ("Character level instead of words: this text has no spaces "
                                                        "between words to split it at.")


def test_fit_says_when_even_the_smallest_batch_gives_too_few_updates():
    quick = PRESETS["Quick"]
    brief = replace(quick, train=replace(quick.train, time_budget=10))
    fit = sizing.fit(brief, sizing.char_counts(30_000, 3_000), cjk=True)
    assert fit.preset.train.batch_size == sizing.MIN_BATCH
    assert fit.notes == ["Batches of 16 instead of 64: at 64 this text gives only 22 updates in under a minute of "
                         "training, and a run needs at least 400.",
                         "At batches of 16, the smallest worth their cost, it gives only 88: more text or a longer "
                         "budget would help more than a smaller batch."]

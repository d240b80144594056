"""What a run will cost before it starts: tokens, vocabulary, parameters, time, and what refuses it.

The Train page's estimate and the Corpus page's advice are both this module, so the two never disagree.
Throughput comes from this project's own measurements on a 2-core CPU (about 60 GFLOP/s achieved in
training, counting a training step as 3x the forward FLOPs).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from typing import NamedTuple

from . import data, library
from .config import LEVEL_UNITS, ModelConfig, TrainConfig
from .corpus import count_chars
from .errors import CorpusError
from .kernels import resolve
from .models import flops_per_token, param_count
from .presets import PRESETS, Preset
from .vocab import LARGE_ALPHABET, Vocab, kept_chars, tokenize

TRAIN_GFLOPS = 55.0   # achieved training rate on the reference 2-core machine (conservative)
# Inkwell's bfloat16 GRU kernel reads text at least this much faster (measured: benchmarks/README.md).
GRU_KERNEL_SPEEDUP = 1.4
# A run estimated longer than three times the longest preset is refused unless the host allows it.
LONG_RUN_SECONDS = 3 * max(p.train.time_budget for p in PRESETS.values())
ALLOW_LONG = "INKWELL_ALLOW_LONG"       # "1": a host lets runs train longer than LONG_RUN_SECONDS
MAX_PARAMS = "INKWELL_MAX_PARAMS"       # a host's cap on a model's parameters; 0 or unset = none
MAX_TRAIN_SECONDS = "INKWELL_MAX_TRAIN_SECONDS"   # a host's cap on a run's time budget; 0 or unset = none
SUBWORD_SAMPLE = 200_000   # characters the estimate learns word pieces from (a fraction of a second)


class Counts(NamedTuple):
    """A text as a run at some level sees it."""
    tokens: int   # tokens of the whole text
    vocab: int    # vocabulary size, with the unknown token
    chars: int    # characters of the whole text


@dataclass(frozen=True)
class Estimate:
    counts: Counts
    unit: str                  # what one token is called ("characters", "word pieces", "words")
    params: int
    max_params: int            # the host's cap (0: none)
    seconds_per_epoch: float
    seconds: float             # training time: the epochs, or the time budget where it ends sooner
    passes: float              # passes over the training text in that time
    refusal: str | None        # the one sentence that refuses this run (too short, over a limit), or None

    alphabet_params: int = 0   # the per-token rows (embedding in, softmax out): they grow with the vocabulary

    @property
    def memorises(self) -> bool:
        """More parameters than twice the characters: the model may learn the text by heart.

        The per-token rows are left out: a Chinese vocabulary of thousands of characters adds a row per
        character, which holds what that character is, not what the text says."""
        return self.learned_params > 2 * self.counts.chars

    @property
    def learned_params(self) -> int:
        """The parameters that can hold what the text says: all but the per-token rows."""
        return self.params - self.alphabet_params


def chars_per_second(model: ModelConfig, gflops: float = TRAIN_GFLOPS) -> float:
    return gflops * 1e9 / (3 * max(1, flops_per_token(model)))


def seconds_per_epoch(model: ModelConfig, train_chars: int, gflops: float = TRAIN_GFLOPS,
                      train: TrainConfig | None = None) -> float:
    """With the run's TrainConfig, a GRU that will train with Inkwell's bfloat16 kernel is estimated faster."""
    if train is not None:
        kernel = resolve(train.gru_kernel, model.cell, train.seq_len, train.carry_state, train.jit_compile, model.layers,
                         model.weight_drop, model.units)
        if kernel == "bfloat16":
            gflops *= GRU_KERNEL_SPEEDUP
    return train_chars / chars_per_second(model, gflops)


def host_time_cap(cfg: TrainConfig) -> TrainConfig:
    """A host's time per job (the Workshop page's, else INKWELL_MAX_TRAIN_SECONDS) cuts longer budgets down to it."""
    from .room import time_cap

    cap = time_cap()
    if cap and (cfg.time_budget == 0 or cfg.time_budget > cap):
        return replace(cfg, time_budget=cap)
    return cfg


def char_counts(chars: int, distinct: int, rare: int = 0) -> Counts:
    """rare: distinct characters the vocabulary maps to <unk> (CorpusStats.rare)."""
    return Counts(chars, distinct - rare + 1, chars)   # +1: the unknown token


def stats_counts(stats) -> Counts:
    """Character counts from a CorpusStats or a saved corpus's stats dict (older ones lack "rare")."""
    get = stats.get if isinstance(stats, dict) else lambda k, d=None: getattr(stats, k, d)
    return char_counts(get("chars"), get("distinct"), get("rare", 0) or 0)


def text_counts(text: str, cfg: TrainConfig) -> Counts:
    """Tokens and vocabulary of a text at cfg's level. Word pieces are learned from the training part, as a run
    does; a long text's pieces are counted on its first characters and scaled to the whole."""
    if cfg.level == "char":
        counts = count_chars(text)
        return char_counts(len(text), len(counts), len(counts) - len(kept_chars(counts)))
    if cfg.level == "word":
        tokens = tokenize(text, "word")
        return Counts(len(tokens), min(cfg.max_vocab, len(set(tokens))) + 1, len(text))
    sample = text[:SUBWORD_SAMPLE]
    vocab = Vocab.build(data.split(sample, cfg.val_fraction)[0], "subword", cfg.subword_vocab)
    pieces = len(vocab.encode(sample)[0])
    size = len(vocab) if len(text) <= len(sample) else cfg.subword_vocab
    return Counts(round(len(text) * pieces / max(1, len(sample))), size, len(text))


@functools.lru_cache(maxsize=32)
def _saved_counts(corpus_id: str, home: str, level: str, max_vocab: int, subword_vocab: int,
                  val_fraction: float) -> Counts:
    """Counting words or learning pieces takes a while on a big text: a saved corpus is counted once."""
    text, _ = library.load_saved(corpus_id, home)
    return text_counts(text, TrainConfig(level=level, max_vocab=max_vocab, subword_vocab=subword_vocab,
                                         val_fraction=val_fraction))


def saved_counts(corpus: dict, cfg: TrainConfig, home: str) -> Counts:
    """corpus: a library.list_corpora entry (its stats answer for characters without reading the text)."""
    stats = corpus["stats"]
    if cfg.level == "char" and ("rare" in stats or stats["distinct"] <= LARGE_ALPHABET):
        return stats_counts(stats)
    return _saved_counts(corpus["id"], str(home), cfg.level, cfg.max_vocab, cfg.subword_vocab, cfg.val_fraction)


def estimate(counts: Counts, model: ModelConfig, cfg: TrainConfig) -> Estimate:
    """What training `model` with `cfg` on a text of these counts costs, and the sentence that refuses it."""
    sized = replace(model, vocab_size=counts.vocab)
    cfg = host_time_cap(cfg)
    params = param_count(sized)
    train_tokens = int(counts.tokens * (1 - cfg.val_fraction))
    per_epoch = seconds_per_epoch(sized, train_tokens, train=cfg)
    seconds = per_epoch * cfg.epochs
    if cfg.time_budget:
        seconds = min(seconds, cfg.time_budget)
    max_params = int(_env_float(MAX_PARAMS))
    rows = counts.vocab * (sized.embedding + sized.units + 1)   # embedding rows, softmax weights and biases
    return Estimate(counts, LEVEL_UNITS[cfg.level], params, max_params, per_epoch, seconds,
                    seconds / per_epoch if per_epoch else float(cfg.epochs),
                    _refusal(counts, cfg, params, max_params, seconds), rows)


def _refusal(counts: Counts, cfg: TrainConfig, params: int, max_params: int, seconds: float) -> str | None:
    try:
        data.check_length(counts.tokens, cfg.seq_len, cfg.val_fraction, LEVEL_UNITS[cfg.level])
    except CorpusError as e:
        return str(e)
    if max_params and params > max_params:
        return (f"This model has {params:,} parameters; this server allows at most {max_params:,}. "
                "Choose fewer units or layers.")
    if seconds > LONG_RUN_SECONDS and not _env_float(MAX_TRAIN_SECONDS) and os.environ.get(ALLOW_LONG) != "1":
        return (f"By the estimate this run would train for {_span(seconds)}, more than the {_span(LONG_RUN_SECONDS)} "
                "a run may take on this server: set a time budget, or choose a smaller model.")
    return None


@dataclass(frozen=True)
class Advice:
    model: ModelConfig
    estimate: Estimate
    message: str          # one sentence: the model and why, or the refusal
    refused: bool         # the text cannot be trained with this recipe (message says why)


SMALL_MODEL = 50_000   # parameters (per-token rows left out) a model may have on any text: the smallest fit
# Candidate (layers, units) for advice, smallest first.
CANDIDATES = ((1, 64), (1, 128), (1, 256), (2, 256), (1, 512), (2, 384), (2, 512), (3, 512))


def advise(counts: Counts, cfg: TrainConfig) -> Advice:
    """The largest GRU that both fits the text and reads it enough times in cfg's budget, and why.

    Too many parameters for the data overfit (the char-rnn rule of thumb: parameters about the number
    of characters, within 2x); too many for the time never converge (aim for 5+ passes over the text).
    """
    best = None
    for layers, units in CANDIDATES:
        m = ModelConfig(cell="gru", layers=layers, units=units, embedding=64)
        est = estimate(counts, m, cfg)
        if est.refusal is None and est.learned_params <= max(2 * counts.chars, SMALL_MODEL) and est.passes >= 5:
            best = (m, est)
    if best is None:
        m = ModelConfig(cell="gru", layers=1, units=64, embedding=64)
        est = estimate(counts, m, cfg)
        if est.refusal is not None:
            return Advice(m, est, est.refusal, True)
        return Advice(m, est, "The text is large for this time budget: the smallest model still sees it fewer than 5 "
                              "times; a longer budget will help more than a bigger model.", False)
    m, est = best
    return Advice(m, est, f"About {counts.chars:,} characters: a {m.layers}-layer GRU of {m.units} units "
                          f"({est.params:,} parameters) fits this size and reads the text about {est.passes:,.0f} "
                          f"times in {_span(est.seconds)}.", False)


def _span(seconds: float) -> str:
    """A time in words: minutes up to two hours, hours beyond."""
    if seconds < 60:
        return "under a minute"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:,.0f} hours"
    m = round(seconds / 60)
    return "1 minute" if m == 1 else f"{m} minutes"


def _env_float(name: str) -> float:
    try:
        return float(os.environ.get(name, "0") or 0)
    except ValueError:
        return 0.0


MIN_UPDATES = 400   # optimiser steps a preset's run should make in its budget; fewer leave a large vocabulary unlearned
MIN_BATCH = 16   # smaller batches lose more to the fixed cost of a step than they gain in steps (measured)
# From about this many passes over a text a run may learn it by heart: a judgement, not tuned (benchmarks/README.md
# shows training and held-out scores parting after nine passes).
MANY_PASSES = 8
POEM_CHARS = 100_000      # Chinese: about 3,000 short poems, enough for line lengths, rhyme and parallel lines
PHRASING_CHARS = 1_000_000   # a large anthology: enough for the phrasing of a style


def updates(counts: Counts, model: ModelConfig, cfg: TrainConfig) -> int:
    """Optimiser steps a run makes in its estimated time: passes times the training windows, per batch."""
    est = estimate(counts, model, cfg)
    return int(est.passes * counts.tokens * (1 - cfg.val_fraction) / (cfg.batch_size * cfg.seq_len))


def adapt(preset: Preset, counts: Counts, cjk: bool = False) -> Preset:
    """The preset fitted to a text: the same model and budget, with batches small enough for MIN_UPDATES steps.

    A short text, or a vocabulary of thousands of characters (each step pays for a softmax over all of
    them), leaves a run under the preset's batch of 64 with a few dozen steps in its budget: it learns only
    how common each character is. Halving the batch doubles the steps for about the same time per pass.
    `cjk`: the text is Chinese or Japanese (CorpusStats.has_words is False), read at character level, and
    `counts` are its character counts. fit() says why, in sentences.
    """
    cfg = preset.train
    if cjk and cfg.level != "char":   # word pieces split most CJK characters into bytes and gain little
        cfg = replace(cfg, level="char")
    while cfg.batch_size > MIN_BATCH and updates(counts, preset.model, cfg) < MIN_UPDATES:
        cfg = replace(cfg, batch_size=max(MIN_BATCH, cfg.batch_size // 2))
    return preset if cfg == preset.train else replace(preset, train=cfg)


class Fit(NamedTuple):
    preset: Preset      # adapt()'s answer
    notes: list[str]    # what it chose and why, one sentence each


def fit(preset: Preset, counts: Counts, cjk: bool = False) -> Fit:
    """adapt(), with the sentences the Train page shows under the preset."""
    fitted = adapt(preset, counts, cjk)
    return Fit(fitted, fit_notes(preset, fitted.train, counts))


def fit_notes(preset: Preset, cfg: TrainConfig, counts: Counts) -> list[str]:
    """Why `cfg` (adapt's answer for this text) differs from the preset's training values, or why it does not."""
    tuned, notes = preset.train, []
    if cfg.level != tuned.level and tuned.level == "subword":
        notes.append("Character level instead of word pieces: this text has no spaces between words (as Chinese and "
                     "Japanese are written), and word pieces would split most of its characters into bytes.")
    elif cfg.level != tuned.level:
        notes.append("Character level instead of words: this text has no spaces between words to split it at.")
    now, span = updates(counts, preset.model, cfg), _span(estimate(counts, preset.model, cfg).seconds)
    if cfg.batch_size == tuned.batch_size and now >= MIN_UPDATES:
        notes.append(f"Batches of {cfg.batch_size}, as tuned: this text gives {now:,} updates in {span} of training, "
                     f"at least the {MIN_UPDATES} a run needs.")
        return notes
    before = updates(counts, preset.model, replace(cfg, batch_size=tuned.batch_size))
    if cfg.batch_size != tuned.batch_size and now >= MIN_UPDATES:
        notes.append(f"Batches of {cfg.batch_size} instead of {tuned.batch_size}: at {tuned.batch_size} this text "
                     f"gives only {before:,} updates in {span} of training, and a run needs at least {MIN_UPDATES}; "
                     f"at {cfg.batch_size} it gives {now:,}.")
    elif cfg.batch_size != tuned.batch_size:
        notes.append(f"Batches of {cfg.batch_size} instead of {tuned.batch_size}: at {tuned.batch_size} this text "
                     f"gives only {before:,} updates in {span} of training, and a run needs at least {MIN_UPDATES}.")
    if now < MIN_UPDATES:
        notes.append(f"At batches of {cfg.batch_size}, the smallest worth their cost, it gives only {now:,}: more text "
                     "or a longer budget would help more than a smaller batch.")
    return notes


def corpus_advice(stats, preset_name: str | None = None) -> Advice:
    """The Corpus page's advice for a checked text (a CorpusStats): the Train page's own figures for the preset
    it opens with, fitted to the text by adapt(), so the two pages say the same thing; where that model may learn
    the text by heart, also the size advise() would choose."""
    from .presets import DEFAULT

    counts = stats_counts(stats)
    preset = adapt(PRESETS[preset_name or DEFAULT], counts, cjk=not stats.has_words)
    m, est = preset.model, estimate(counts, preset.model, preset.train)
    if est.refusal is not None:
        return Advice(m, est, est.refusal, True)
    said = (f"About {counts.chars:,} characters: the preset's {m.layers}-layer GRU of {m.units} units "
            f"({est.params:,} parameters) reads the text about {est.passes:,.0f} times in {_span(est.seconds)}.")
    fits = advise(counts, preset.train).model   # the largest model this text and budget suit
    if est.memorises and (fits.layers, fits.units) != (m.layers, m.units):
        said += (f" A {fits.layers}-layer GRU of {fits.units} units would suit its size better (Custom on the "
                 "Train page).")
    return Advice(m, est, said, False)


def text_notes(stats) -> list[str]:
    """Sentences for a Chinese or Japanese text (a CorpusStats): how it is read, its rare characters, and how
    much text a poem model needs. Empty for a text written with spaces between words."""
    if stats.has_words:
        return []
    notes = ["This text is read one character at a time (character level): Chinese has no spaces between words, "
             "and word pieces would split most characters into bytes."]
    if stats.rare:
        notes.append(f"{stats.rare:,} of its {stats.distinct:,} distinct characters appear only once; they are read "
                     f"as unknown, which keeps the vocabulary to {stats.distinct - stats.rare + 1:,} characters.")
    if stats.chars < POEM_CHARS:
        notes.append(f"For a poem model, {POEM_CHARS:,} characters (about 3,000 short poems) teach line lengths, "
                     f"rhyme and paired lines; with {stats.chars:,} it will mostly learn which characters are common.")
    elif stats.chars < PHRASING_CHARS:
        notes.append(f"Enough for a poem model to learn line lengths and rhyme; about {PHRASING_CHARS:,} characters "
                     "(a large anthology) give it the phrasing of a style.")
    return notes

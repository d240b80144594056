"""Presets by time budget, auto-sizing and time estimates: plain values shared by the app and tests.

Throughput figures come from this project's own measurements on a 2-core CPU (about 60 GFLOP/s
achieved in training, counting a training step as 3x the forward FLOPs).
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import ModelConfig, TrainConfig
from .models import flops_per_token, param_count

TRAIN_GFLOPS = 55.0   # achieved training rate on the reference 2-core machine (conservative)
# Inkwell's bfloat16 GRU kernel reads text at least this much faster (measured: benchmarks/README.md).
GRU_KERNEL_SPEEDUP = 1.4


@dataclass(frozen=True)
class Preset:
    name: str
    blurb: str
    model: ModelConfig
    train: TrainConfig


# Each recipe is the best of timed trials on the reference machine (benchmarks/README.md, "The presets' trials").
PRESETS = {
    "Quick": Preset("Quick", "About 1 minute: a single GRU layer learns words and spelling.",
                    ModelConfig(cell="gru", layers=1, units=256, embedding=64, dropout=0.0),
                    TrainConfig(seq_len=64, batch_size=64, epochs=200, time_budget=60, lr=3e-3,
                                schedule="cosine", warmup_steps=20, clipnorm=1.0)),
    "Short": Preset("Short", "About 5 minutes: a wider GRU picks up common phrases and punctuation.",
                    ModelConfig(cell="gru", layers=1, units=512, embedding=64, dropout=0.0),
                    TrainConfig(seq_len=100, batch_size=64, epochs=500, time_budget=300, lr=3e-3,
                                schedule="cosine", warmup_steps=50, clipnorm=1.0)),
    "Long": Preset("Long", "About 20 minutes: one wide GRU layer reading word pieces, for phrasing and "
                           "longer-range structure.",
                   ModelConfig(cell="gru", layers=1, units=768, embedding=256, dropout=0.45, weight_drop=0.3),
                   TrainConfig(level="subword", subword_vocab=2048, seq_len=100, batch_size=64, epochs=1000,
                               time_budget=1200, lr=3e-3, schedule="cosine", warmup_steps=100, clipnorm=1.0)),
}

CELL_NOTES = {
    "rnn": "SimpleRNN: the plainest recurrent cell and the fastest per step; forgets quickly and is "
           "prone to exploding gradients, which makes it a good teaching contrast.",
    "lstm": "LSTM: gates and a separate memory cell keep information over long spans; the most "
            "parameters per unit and a little slower.",
    "gru": "GRU: two gates instead of three; nearly as good a memory as LSTM with fewer parameters, "
           "often the best choice on a CPU.",
}


def chars_per_second(model: ModelConfig, gflops: float = TRAIN_GFLOPS) -> float:
    return gflops * 1e9 / (3 * max(1, flops_per_token(model)))


def seconds_per_epoch(model: ModelConfig, train_chars: int, gflops: float = TRAIN_GFLOPS,
                      train: TrainConfig | None = None) -> float:
    """With the run's TrainConfig, a GRU that will train with Inkwell's bfloat16 kernel is estimated faster."""
    if train is not None:
        from .fastgru import resolve

        kernel = resolve(train.gru_kernel, model.cell, train.seq_len, train.carry_state, train.jit_compile, model.layers,
                         model.weight_drop)
        if kernel == "bfloat16":
            gflops *= GRU_KERNEL_SPEEDUP
    return train_chars / chars_per_second(model, gflops)


def recommend(corpus_chars: int, budget_seconds: float, vocab_size: int = 80,
              gflops: float = TRAIN_GFLOPS) -> tuple[ModelConfig, str]:
    """The largest GRU that both fits the data and sees it enough times in the budget, and why.

    Too many parameters for the data overfit (the char-rnn rule of thumb: parameters about the
    number of characters, within 2x); too many for the time never converge (aim for 5+ passes over the text).
    """
    best = None
    for layers, units in ((1, 64), (1, 128), (1, 256), (2, 256), (1, 512), (2, 384), (2, 512), (3, 512)):
        m = ModelConfig(vocab_size=vocab_size, cell="gru", layers=layers, units=units, embedding=64)
        passes = chars_per_second(m, gflops) * budget_seconds / max(1, corpus_chars)
        if param_count(m) <= max(2 * corpus_chars, 50_000) and passes >= 5:
            best = (m, passes)
    if best is None:
        m = ModelConfig(vocab_size=vocab_size, cell="gru", layers=1, units=64, embedding=64)
        return m, ("The text is large for this time budget: the smallest model still sees it fewer than 5 "
                   "times; a longer budget will help more than a bigger model.")
    m, passes = best
    return m, (f"About {corpus_chars:,} characters: a {m.layers}-layer GRU of {m.units} units "
               f"({param_count(m):,} parameters) fits this size and reads the text about {passes:,.0f} times "
               f"in {_minutes(budget_seconds)}.")


def _minutes(seconds: float) -> str:
    m = max(1, round(seconds / 60))
    return "1 minute" if m == 1 else f"{m} minutes"

"""Presets by time budget: plain values shared by the app, the command line and the tests (estimates: sizing.py)."""
from __future__ import annotations

from dataclasses import dataclass

from .config import ModelConfig, TrainConfig


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
DEFAULT = "Quick"   # the preset the Train page starts from

CELL_NOTES = {
    "rnn": "SimpleRNN: the plainest recurrent cell and the fastest per step; forgets quickly and is "
           "prone to exploding gradients, which makes it a good teaching contrast.",
    "lstm": "LSTM: gates and a separate memory cell keep information over long spans; the most "
            "parameters per unit and a little slower.",
    "gru": "GRU: two gates instead of three; nearly as good a memory as LSTM with fewer parameters, "
           "often the best choice on a CPU.",
}

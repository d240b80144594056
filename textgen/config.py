"""Frozen, typed configs saved as JSON beside the model and rebuilt from it on load."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError

CELLS = ("rnn", "lstm", "gru")
LEVELS = ("char", "word", "subword")
SUBWORD_SIZE, SUBWORD_MIN, SUBWORD_MAX = 1024, 260, 32000   # word pieces: default, least, most
LEVEL_UNITS = {"char": "characters", "word": "words", "subword": "word pieces"}   # what one token is called
CELL_NAMES = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
GRU_KERNELS = ("auto", "keras", "float32", "bfloat16")   # fastgru.KERNELS


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 0          # filled from the vocabulary when training starts
    cell: str = "lstm"           # one of CELLS
    layers: int = 2              # stacked recurrent layers, 1..4
    units: int = 256             # hidden units per recurrent layer
    embedding: int = 64          # embedding width
    dropout: float = 0.0         # dropout between recurrent layers and before the output, 0..0.8
    weight_drop: float = 0.0     # GRU: share of the recurrent weights dropped at each training step (DropConnect), 0..0.8

    def validate(self) -> "ModelConfig":
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}, not {self.cell!r}")
        _check_int("layers", self.layers, 1, 4)
        _check_int("units", self.units, 1, 4096)
        _check_int("embedding", self.embedding, 1, 4096)
        _check_float("dropout", self.dropout, 0.0, 0.8)
        _check_float("weight_drop", self.weight_drop, 0.0, 0.8)
        if self.weight_drop > 0 and self.cell != "gru":
            raise ConfigError("weight_drop (recurrent weight dropout) is for GRU models only")
        if self.vocab_size < 0:
            raise ConfigError("vocab_size must not be negative")
        return self


@dataclass(frozen=True)
class TrainConfig:
    level: str = "char"          # tokenisation: one of LEVELS
    max_vocab: int = 20000       # word level: keep this many most frequent tokens, the rest map to <unk>
    subword_vocab: int = SUBWORD_SIZE   # subword level: tokens in the byte-pair vocabulary learned from the corpus
    seq_len: int = 100           # tokens per training window (the model sees seq_len, predicts the next)
    batch_size: int = 64         # windows per batch
    epochs: int = 10             # upper bound on passes over the training windows
    time_budget: float = 0.0     # seconds of training before stopping cleanly; 0 = no limit
    lr: float = 2e-3             # Adam learning rate (peak, when a schedule is used)
    schedule: str = "constant"   # "constant" or "cosine" (warm-up then cosine decay over the run)
    warmup_steps: int = 50       # cosine: steps of linear warm-up
    clipnorm: float = 1.0        # gradient clipping by global norm; 0 disables it
    weight_decay: float = 0.0    # decoupled weight decay (AdamW), each step weights shrink by lr x this; 0 = Adam
    val_fraction: float = 0.1    # the last fraction of the text held out for validation
    patience: int = 0            # early stopping: epochs without validation improvement; 0 = off
    seed: int = 42               # data order, initial weights and epoch samples
    sample_length: int = 160     # characters of the sample written after each epoch
    jit_compile: bool = False    # XLA compilation of the train step
    carry_state: bool = False    # batch rows are contiguous streams and the state carries between batches
    gru_kernel: str = "auto"     # GRU training: "auto", "keras", "float32" or "bfloat16" (see fastgru.py)

    def validate(self) -> "TrainConfig":
        if self.level not in LEVELS:
            raise ConfigError(f"level must be 'char', 'word' or 'subword', not {self.level!r}")
        _check_int("max_vocab", self.max_vocab, 10, 500000)
        _check_int("subword_vocab", self.subword_vocab, SUBWORD_MIN, SUBWORD_MAX)
        _check_int("seq_len", self.seq_len, 2, 2000)
        _check_int("batch_size", self.batch_size, 1, 4096)
        _check_int("epochs", self.epochs, 1, 100000)
        _check_float("time_budget", self.time_budget, 0.0, 7 * 24 * 3600.0)
        _check_float("lr", self.lr, 1e-7, 10.0, open_low=False)
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError("schedule must be 'constant' or 'cosine'")
        _check_int("warmup_steps", self.warmup_steps, 0, 10**7)
        _check_float("clipnorm", self.clipnorm, 0.0, 1e6)
        _check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_float("val_fraction", self.val_fraction, 0.01, 0.5)
        _check_int("patience", self.patience, 0, 1000)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("sample_length", self.sample_length, 0, 5000)
        if self.gru_kernel not in GRU_KERNELS:
            raise ConfigError(f"gru_kernel must be one of {', '.join(GRU_KERNELS)}, not {self.gru_kernel!r}")
        for name in ("jit_compile", "carry_state"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, not {getattr(self, name)!r}")
        return self


# The TrainConfig fields the command line (and so the job runner) can set with a value; the booleans
# in BOOL_FLAG_FIELDS are switches (--carry-state); jit_compile has no flag.
FLAG_FIELDS = ("level", "max_vocab", "subword_vocab", "seq_len", "batch_size", "epochs", "time_budget", "lr", "schedule",
               "warmup_steps", "clipnorm", "weight_decay", "val_fraction", "patience", "seed", "sample_length", "gru_kernel")
BOOL_FLAG_FIELDS = ("carry_state",)
# The ModelConfig fields the command line sets (--cell, --layers, ...); vocab_size comes from the text.
MODEL_FLAG_FIELDS = ("cell", "layers", "units", "embedding", "dropout", "weight_drop")


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, not {value}")


def _check_float(name: str, value: Any, lo: float, hi: float, open_low: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"{name} must be a number, not {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo:g} and {hi:g}, not {value:g}")


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict) -> Any:
    """Rebuild a config, ignoring unknown keys (older or newer files) and keeping defaults for missing ones."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} must be a JSON object")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names}).validate()


def env_int(name: str, default: int) -> int:
    """A host limit from the environment (see README), falling back to the default when unset or bad."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default

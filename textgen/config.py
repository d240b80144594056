"""Frozen, typed configs saved as JSON beside the model and rebuilt from it on load."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from .errors import ConfigError

CELLS = ("rnn", "lstm", "gru")
LEVELS = ("char", "word", "subword")
SUBWORD_SIZE, SUBWORD_MIN, SUBWORD_MAX = 1024, 260, 32000   # word pieces: default, least, most
LEVEL_UNITS = {"char": "characters", "word": "words", "subword": "word pieces"}   # what one token is called


def is_text_run(row) -> bool:
    """Whether a registry row is a text model a writer trained or imported, not a measurement's or an
    experiment's job (their own levels, e.g. "vanishing", "memory"). An imported bundle's row has no level."""
    return row.get("level") is None or row.get("level") in LEVEL_UNITS


CELL_NAMES = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
GRU_KERNELS = ("auto", "keras", "float32", "bfloat16")   # fastgru.KERNELS
OPTIMIZERS = ("adam", "sgd")


class Widget(NamedTuple):
    """How the Train page shows a field. widget: "number", "fine" (a number shown to four places) or "slider";
    cells: the recurrent cells it applies to (None: all; for the others it is greyed out and sent as 0);
    scale: the field holds the shown value times this (the time budget is shown in minutes, kept in seconds)."""
    label: str
    step: float
    help: str | None = None
    widget: str = "number"
    cells: tuple[str, ...] | None = None
    scale: int = 1


def _field(default: Any, why: str, lo: float | None = None, hi: float | None = None, choices: tuple | None = None,
           says: str | None = None, flag: bool = True, ui: Widget | None = None):
    """A config field with its limits: validate(), the CLI's flags and the Train page's widgets all read them.
    why: the field's meaning (its comment, and the CLI's help); says: how a bad choice's message lists them."""
    return field(default=default, metadata={"why": why, "lo": lo, "hi": hi, "choices": choices, "says": says,
                                            "flag": flag, "ui": ui})


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = _field(0, "filled from the vocabulary when training starts", flag=False)
    cell: str = _field("lstm", "the recurrent cell", choices=CELLS)
    layers: int = _field(2, "stacked recurrent layers", 1, 4, ui=Widget("Layers", 1, "Stacked recurrent layers."))
    units: int = _field(256, "hidden units per recurrent layer", 1, 4096,
                        ui=Widget("Units per layer", 8, "Hidden state size: the model's memory."))
    embedding: int = _field(64, "embedding width", 1, 4096, ui=Widget("Embedding width", 4))
    dropout: float = _field(0.0, "dropout between recurrent layers and before the output", 0.0, 0.8,
                            ui=Widget("Dropout", 0.05, "Between layers and before the output, while training; helps "
                                      "on small texts.", widget="slider"))
    weight_drop: float = _field(0.0, "GRU: share of the recurrent weights dropped at each training step "
                                     "(DropConnect)", 0.0, 0.8,
                                ui=Widget("Weight dropout (GRU)", 0.05, "GRU only. At each training step, drops this "
                                          "share of the recurrent weights, the ones that carry the memory from one "
                                          "step to the next. Like dropout, it keeps a model from learning its text "
                                          "by heart.", widget="slider", cells=("gru",)))

    def validate(self) -> "ModelConfig":
        _check_fields(self, skip=("vocab_size",))
        if self.weight_drop > 0 and self.cell != "gru":
            raise ConfigError("weight_drop (recurrent weight dropout) is for GRU models only")
        if self.vocab_size < 0:
            raise ConfigError("vocab_size must not be negative")
        return self


@dataclass(frozen=True)
class TrainConfig:
    level: str = _field("char", "tokenisation: what one step predicts", choices=LEVELS,
                        says="'char', 'word' or 'subword'",
                        ui=Widget("Predict the next", 0, "Characters: small vocabulary, learns spelling. Word pieces: "
                                  "common runs of letters (' the', 'ing') learned from your text, about three "
                                  "characters a step, so a model reads more text in the same time and can still "
                                  "invent words. Words: reads fluently sooner but needs much more text and never "
                                  "invents words."))
    max_vocab: int = _field(20000, "word level: keep this many most frequent tokens, the rest map to <unk>",
                            10, 500000)
    subword_vocab: int = _field(SUBWORD_SIZE, "subword level: tokens in the byte-pair vocabulary learned from the "
                                              "corpus", SUBWORD_MIN, SUBWORD_MAX,
                                ui=Widget("Word pieces", 64, "Word-piece level: how many pieces (common runs of "
                                          "letters such as ' the' or 'ing') to learn from the text."))
    seq_len: int = _field(100, "tokens per training window (the model sees seq_len, predicts the next)", 2, 2000,
                          ui=Widget("Sequence length", 4, "Tokens the model reads before each prediction during "
                                    "training."))
    batch_size: int = _field(64, "windows per batch", 1, 4096, ui=Widget("Batch size", 8))
    epochs: int = _field(10, "upper bound on passes over the training windows", 1, 100000,
                         ui=Widget("Epochs (at most)", 1, "Passes over the text; the time budget may stop it sooner."))
    time_budget: float = _field(0.0, "seconds of training before stopping cleanly; 0 = no limit", 0.0, 7 * 24 * 3600.0,
                                ui=Widget("Time budget (minutes, 0 = none)", 1, scale=60))
    optimizer: str = _field("adam", "adam (each weight's step is about the learning rate, whatever the gradient's "
                                    "size) or sgd (plain gradient descent: the step is the learning rate times the "
                                    "gradient, so a huge gradient makes a huge step)", choices=OPTIMIZERS,
                            says="'adam' or 'sgd'",
                            ui=Widget("Optimizer", 0, "Adam (the default) moves each weight by about the learning rate "
                                      "whatever the gradient's size. Plain SGD moves it by the learning rate times "
                                      "the gradient: it needs a much higher rate, and without clipping one huge "
                                      "gradient throws the model off."))
    lr: float = _field(2e-3, "learning rate (peak, when a schedule is used)", 1e-7, 1.0,
                       ui=Widget("Learning rate", 1e-4, "Adam's step size; lower it if the loss explodes.",
                                 widget="fine"))
    schedule: str = _field("constant", "learning-rate schedule (cosine: warm-up then decay over the run)",
                           choices=("constant", "cosine"), says="'constant' or 'cosine'")
    warmup_steps: int = _field(50, "cosine: steps of linear warm-up", 0, 10**7,
                               ui=Widget("Warm-up steps", 10, "Cosine schedule: steps of linear warm-up."))
    clipnorm: float = _field(1.0, "gradient clipping by global norm; 0 disables it", 0.0, 1e6,
                             ui=Widget("Gradient clipping (0 = off)", 0.5))
    weight_decay: float = _field(0.0, "decoupled weight decay (AdamW with adam): each step weights shrink by lr x "
                                      "this; 0 = off", 0.0, 1.0,
                                 ui=Widget("Weight decay (0 = off)", 0.01, "Shrinks the weights a little at every "
                                           "step (AdamW); like dropout, it keeps a model from learning a small text by "
                                           "heart.", widget="fine"))
    val_fraction: float = _field(0.1, "the last fraction of the text held out for validation", 0.01, 0.5,
                                 ui=Widget("Validation fraction", 0.01, "The end of the text, held out to measure "
                                           "progress.", widget="slider"))
    patience: int = _field(0, "early stopping: epochs without validation improvement; 0 = off", 0, 1000,
                           ui=Widget("Early stopping patience (0 = off)", 1, "Epochs without improvement before "
                                     "stopping."))
    seed: int = _field(42, "data order, initial weights and epoch samples", 0, 2**31 - 1,
                       ui=Widget("Seed", 1, "Same seed, same run."))
    sample_length: int = _field(160, "characters of the sample written after each epoch", 0, 5000)
    jit_compile: bool = _field(False, "XLA compilation of the train step", flag=False)
    carry_state: bool = _field(False, "read the text as contiguous streams, carrying the state from batch to batch",
                               ui=Widget("Carry state", 0, "Between batches: each batch row goes on where it stopped "
                                         "in the text, with the memory it had, as when the model writes. Off: every "
                                         "window starts from an empty memory."))
    gru_kernel: str = _field("auto", "GRU training kernel (auto: Inkwell's bfloat16 kernel on CPUs with AMX; "
                                     "see fastgru.py)", choices=GRU_KERNELS)

    def validate(self) -> "TrainConfig":
        _check_fields(self)
        return self


def _flagged(cls: type, kind: type | None = None) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.metadata["flag"] and (kind is None) == (type(f.default) is not bool))


# The TrainConfig fields the command line (and so the job runner) can set with a value; the booleans
# in BOOL_FLAG_FIELDS are switches (--carry-state); jit_compile has no flag.
FLAG_FIELDS = _flagged(TrainConfig)
BOOL_FLAG_FIELDS = _flagged(TrainConfig, bool)
# The ModelConfig fields the command line sets (--cell, --layers, ...); vocab_size comes from the text.
MODEL_FLAG_FIELDS = _flagged(ModelConfig)
# Every field of both configs by name (the two share none), with its limits and widget in its metadata.
SPECS = {f.name: f for cls in (ModelConfig, TrainConfig) for f in fields(cls)}


def limits(name: str) -> tuple[float, float]:
    """(least, most) a numeric field allows."""
    return SPECS[name].metadata["lo"], SPECS[name].metadata["hi"]


def value_error(name: str, value: Any, label: str | None = None, scale: float = 1) -> str | None:
    """Why a value is refused for a field (the sentence validate() raises), or None. label names it in the
    sentence; scale: the value is given in the field's unit divided by this (minutes for seconds)."""
    try:
        _check(SPECS[name], value * scale if scale != 1 else value, label or name, scale)
    except ConfigError as e:
        return str(e)
    return None


def widget(name: str) -> Widget:
    return SPECS[name].metadata["ui"]


def widget_limits(name: str) -> tuple:
    """A field's limits in the unit its widget shows (minutes for the time budget)."""
    kind, scale = type(SPECS[name].default), widget(name).scale
    return tuple(kind(v / scale) for v in limits(name))


def widget_help(name: str) -> str:
    lo, hi = widget_limits(name)
    return " ".join(filter(None, [widget(name).help, f"From {lo:,g} to {hi:,g}."]))


def widget_error(name: str, value: Any) -> str | None:
    """The sentence refusing a value typed into a field's widget (its label names it), or None."""
    why = value_error(name, value, label=widget(name).label.split(" (")[0], scale=widget(name).scale)
    return why and why + "."


def _check_fields(cfg: Any, skip: tuple[str, ...] = ()) -> None:
    for f in fields(cfg):
        if f.name not in skip:
            _check(f, getattr(cfg, f.name), f.name)


def _check(f: dataclasses.Field, value: Any, name: str, scale: float = 1) -> None:
    meta, kind = f.metadata, type(f.default)
    if meta["choices"] is not None:
        if value not in meta["choices"]:
            says = meta["says"] or "one of " + ", ".join(meta["choices"])
            raise ConfigError(f"{name} must be {says}, not {value!r}")
    elif kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}")
    elif kind is int:
        _check_int(name, value, meta["lo"], meta["hi"])
    else:
        _check_float(name, value, meta["lo"], meta["hi"], scale)


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, not {value}")


def _check_float(name: str, value: Any, lo: float, hi: float, scale: float = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"{name} must be a number, not {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo / scale:g} and {hi / scale:g}, not {value / scale:g}")


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

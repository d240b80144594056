"""The memory task ("Why gates?"): can a cell carry one symbol across N steps of noise?

Each sequence starts with one of a few answer symbols, then `gap` noise symbols, then a query symbol;
the model must name the first symbol when it reads the query (chance: 1 / symbols). The three cells are
sized to equal parameter counts and trained for equal time at each gap, so a plain RNN's loss of memory
over long gaps shows against the gated cells' with nothing else different.

The task and the sizing are NumPy and arithmetic; `train_cell` imports Keras when it is called. Reading the
results is textgen/memory_verdict.py; an experiment's folder and jobs in the workspace, textgen/experiments.py.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .config import CELL_NAMES, CELLS
from .errors import ConfigError

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
NAMES = CELL_NAMES               # how a reader sees each cell: the engine's one map, under the task's old name


@dataclass(frozen=True)
class MemoryConfig:
    gaps: tuple[int, ...] = (5, 10, 20, 50, 100, 200)   # noise steps between the symbol and the query
    symbols: int = 4             # answer symbols (chance = 1 / symbols)
    noise: int = 8               # distinct noise symbols, never answer symbols
    params: int = 12_000         # parameters per model; each cell's units are chosen to come closest
    embedding: int = 8           # embedding width
    seconds: float = 12.0        # training time per cell and gap (18 x 12 s and start-up fit in 6 minutes)
    batch_size: int = 64         # sequences per step
    lr: float = 3e-3             # Adam's learning rate
    clipnorm: float = 1.0        # gradient clipping by global norm
    test_size: int = 512         # held-out sequences scored after training
    seed: int = 7                # task sequences and initial weights
    # Each symbol a fixed random vector: a learned embedding could map the noise to zero and so give the plain
    # RNN the input gate it does not have (with it, SimpleRNN held a symbol over 50 steps and the gated cells 10).
    fixed_inputs: bool = True
    # The gated cells' keep gates (LSTM's forget, GRU's update) start leaning open by this bias: about 95% of
    # the memory kept per step at first. Keras' own start (1 and 0) keeps 73% and 50%, too little for a gap of
    # 50 to be learned in seconds. None: Keras' defaults (experiments saved before this was set).
    keep_bias: float | None = 3.0

    def validate(self) -> "MemoryConfig":
        if not self.gaps or any((not isinstance(g, int)) or g < 1 or g > 2000 for g in self.gaps):
            raise ConfigError("gaps must be whole numbers between 1 and 2000")
        if not 2 <= self.symbols <= 32 or not 1 <= self.noise <= 64:
            raise ConfigError("symbols must be 2-32 and noise 1-64")
        if not 500 <= self.params <= 5_000_000:
            raise ConfigError("params must be between 500 and 5,000,000")
        if not 0 < self.seconds <= 3600:
            raise ConfigError("seconds must be above 0 and at most 3600")
        if self.keep_bias is not None and not -10 <= self.keep_bias <= 10:
            raise ConfigError("keep_bias must be between -10 and 10")
        return self

    @property
    def vocab(self) -> int:
        return self.symbols + self.noise + 1      # answers, noise, the query

    @property
    def chance(self) -> float:
        return 1.0 / self.symbols


# The Inside page's choices: the full preset, and a quick one that shows the page working in about a minute.
PRESETS = {"Full": MemoryConfig(),
           "Quick": MemoryConfig(gaps=(5, 60), params=3_000, seconds=3.0, test_size=256)}


def sequences(cfg: MemoryConfig, gap: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n sequences of length gap + 2 and their answers. Ids: answers 0..s-1, noise s..s+m-1, query s+m."""
    answers = rng.integers(0, cfg.symbols, n)
    noise = rng.integers(cfg.symbols, cfg.symbols + cfg.noise, (n, gap))
    query = np.full((n, 1), cfg.symbols + cfg.noise)
    return np.concatenate([answers[:, None], noise, query], axis=1).astype(np.int32), answers.astype(np.int32)


def param_count(cell: str, units: int, cfg: MemoryConfig) -> int:
    """Embedding, one recurrent layer (Keras' layout: GRU keeps two bias rows), a Dense over the answers."""
    g = GATES[cell]
    bias = 2 * g * units if cell == "gru" else g * units
    return cfg.vocab * cfg.embedding + g * units * (cfg.embedding + units) + bias + units * cfg.symbols + cfg.symbols


def units_for(cell: str, cfg: MemoryConfig) -> int:
    """The units whose parameter count comes closest to cfg.params."""
    g = GATES[cell]
    # g*u^2 + (g*(e+bias_rows) + s)*u + const = params: the positive root, then the nearer whole number.
    b = g * (cfg.embedding + (2 if cell == "gru" else 1)) + cfg.symbols
    c = cfg.vocab * cfg.embedding + cfg.symbols - cfg.params
    root = (-b + math.sqrt(b * b - 4 * g * c)) / (2 * g)
    best = min((max(1, math.floor(root)), max(1, math.ceil(root))),
               key=lambda u: abs(param_count(cell, u, cfg) - cfg.params))
    return best


@dataclass(frozen=True)
class CellResult:
    cell: str
    gap: int
    units: int
    params: int
    accuracy: float              # held-out accuracy after training
    steps: int                   # training steps taken in the time
    seconds: float               # training time actually spent
    losses: list[float] = field(default_factory=list)   # training loss every few steps (nats)

    def as_dict(self) -> dict:
        return asdict(self)


def keep_bias_init(cell: str, bias: float):
    """A Keras bias initializer with the keep gate's block at `bias` and the rest zero. The gate order is Keras':
    LSTM i, f, c, o (f keeps); GRU z, r, h (z keeps: h = z * h_prev + (1 - z) * candidate). A GRU's bias has
    an input and a recurrent row, which add: the lean goes in the first only."""
    def init(shape, dtype=None):
        b = np.zeros(shape, "float32")
        n = shape[-1] // GATES[cell]
        keep = slice(n, 2 * n) if cell == "lstm" else slice(0, n)
        b[(0, keep) if b.ndim == 2 else keep] = bias
        return b
    return init


def _start_tf_quietly() -> None:
    """TensorFlow without its C++ start-up lines (fit's quiet import, which also lists the devices)."""
    from .fit import import_tf_quietly

    import_tf_quietly()


def build(cell: str, gap: int, cfg: MemoryConfig):
    """The compiled Keras model for one cell at one gap: embedding, the recurrent layer, a Dense over the answers."""
    _start_tf_quietly()
    import keras

    units = units_for(cell, cfg)
    keras.utils.set_random_seed(cfg.seed)
    layer = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    opts = {}
    if cell != "rnn" and cfg.keep_bias is not None:
        opts = {"bias_initializer": keep_bias_init(cell, cfg.keep_bias), **({"unit_forget_bias": False}
                                                                           if cell == "lstm" else {})}
    embed = (keras.layers.Embedding(cfg.vocab, cfg.embedding, trainable=False,
                                    embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))
             if cfg.fixed_inputs else keras.layers.Embedding(cfg.vocab, cfg.embedding))
    net = keras.Sequential([keras.Input((gap + 2,), dtype="int32"), embed, layer(units, **opts),
                            keras.layers.Dense(cfg.symbols)])
    net.compile(optimizer=keras.optimizers.Adam(cfg.lr, global_clipnorm=cfg.clipnorm),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return net


def train_cell(cell: str, gap: int, cfg: MemoryConfig, should_stop=lambda: False) -> CellResult:
    """Train one cell at one gap for cfg.seconds on fresh batches, then score held-out sequences."""
    cfg.validate()
    units = units_for(cell, cfg)
    net = build(cell, gap, cfg)
    rng = np.random.default_rng([cfg.seed, gap])
    test_x, test_y = sequences(cfg, gap, cfg.test_size, np.random.default_rng([cfg.seed, gap, 1]))
    # The first step traces the graph (seconds on a loaded machine): it trains, but off the clock.
    losses = [float(net.train_on_batch(*sequences(cfg, gap, cfg.batch_size, rng)))]
    steps, t0 = 1, time.monotonic()
    while time.monotonic() - t0 < cfg.seconds and not should_stop():
        loss = float(net.train_on_batch(*sequences(cfg, gap, cfg.batch_size, rng)))
        steps += 1
        if steps % 10 == 0:
            losses.append(loss)
    spent = time.monotonic() - t0
    # A new model per gap traces its own predict graph, so from the fifth gap on TensorFlow warns of "excessive
    # retracing". The tracing is needed (an eager call is 3-10x slower at long gaps); the warning is not.
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)
    try:
        logits = np.asarray(net.predict_on_batch(test_x))
    finally:
        tf_log.setLevel(level)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == test_y))
    return CellResult(cell, gap, units, param_count(cell, units, cfg), accuracy, steps, spent, losses)

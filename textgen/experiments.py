"""The memory experiment ("Why gates?"): can a cell carry one symbol across N steps of noise?

Each sequence starts with one of a few answer symbols, then `gap` noise symbols, then a query symbol;
the model must name the first symbol when it reads the query (chance: 1 / symbols). The three cells are
sized to equal parameter counts and trained for equal time at each gap, so a plain RNN's loss of memory
over long gaps shows against the gated cells' with nothing else different.

The task and the sizing are NumPy and arithmetic; `train_cell` imports Keras when it is called.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import ConfigError, InkwellError

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


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

    def validate(self) -> "MemoryConfig":
        if not self.gaps or any((not isinstance(g, int)) or g < 1 or g > 2000 for g in self.gaps):
            raise ConfigError("gaps must be whole numbers between 1 and 2000")
        if not 2 <= self.symbols <= 32 or not 1 <= self.noise <= 64:
            raise ConfigError("symbols must be 2-32 and noise 1-64")
        if not 500 <= self.params <= 5_000_000:
            raise ConfigError("params must be between 500 and 5,000,000")
        if not 0 < self.seconds <= 3600:
            raise ConfigError("seconds must be above 0 and at most 3600")
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


def _start_tf_quietly() -> None:
    """TensorFlow without its C++ start-up lines (fit's quiet import, which also lists the devices)."""
    from .fit import import_tf_quietly

    import_tf_quietly()


def train_cell(cell: str, gap: int, cfg: MemoryConfig, should_stop=lambda: False) -> CellResult:
    """Train one cell at one gap for cfg.seconds on fresh batches, then score held-out sequences."""
    _start_tf_quietly()
    import keras

    cfg.validate()
    units = units_for(cell, cfg)
    keras.utils.set_random_seed(cfg.seed)
    layer = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    net = keras.Sequential([keras.Input((gap + 2,), dtype="int32"), keras.layers.Embedding(cfg.vocab, cfg.embedding),
                            layer(units), keras.layers.Dense(cfg.symbols)])
    net.compile(optimizer=keras.optimizers.Adam(cfg.lr, global_clipnorm=cfg.clipnorm),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
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


def falls_to_chance(results: list[CellResult], cfg: MemoryConfig, margin: float = 0.1) -> dict[str, int | None]:
    """For each cell, the smallest gap from which its accuracy stays within `margin` of chance (None: never)."""
    out: dict[str, int | None] = {}
    for cell in CELLS:
        rows = sorted((r for r in results if r.cell == cell), key=lambda r: r.gap)
        at = None
        for r in reversed(rows):
            if r.accuracy <= cfg.chance + margin:
                at = r.gap
            else:
                break
        out[cell] = at
    return out


NEAR_CHANCE = 0.1                # within this of chance, an accuracy reads "near chance"
PERFECT = 0.995                  # at or above, "100%" (512 held-out sequences: at most two wrong)


def first_near_chance(results: list[CellResult], cfg: MemoryConfig) -> dict[str, int | None]:
    """For each cell, the smallest gap where its accuracy was near chance (None: at no gap tried)."""
    return {cell: min((r.gap for r in results if r.cell == cell and r.accuracy <= cfg.chance + NEAR_CHANCE),
                      default=None) for cell in CELLS}


def _scores(rows: list[CellResult], cfg: MemoryConfig) -> str:
    """'100% up to a gap of 10, then 72.1% at 20 and near chance from a gap of 50': one cell's accuracies."""
    near = [r.accuracy <= cfg.chance + NEAR_CHANCE for r in rows]
    top = 0
    while top < len(rows) and rows[top].accuracy >= PERFECT:
        top += 1
    tail = len(rows)
    while tail > top and near[tail - 1]:
        tail -= 1
    items = []
    if top:
        items.append(f"100% up to a gap of {rows[top - 1].gap}" if top > 1 else f"100% at a gap of {rows[0].gap}")
    for r, n in zip(rows[top:tail], near[top:tail]):
        acc, gap = f"{r.accuracy:.1%}", r.gap
        if not items:   # the first reading names the gap in full, the later ones by its number
            items.append(f"{acc} at a gap of {gap} (near chance)" if n else f"{acc} at a gap of {gap}")
        else:
            items.append(f"{acc} at {gap} (near chance)" if n else f"{acc} at {gap}")
    if tail < len(rows):
        items.append(f"near chance from a gap of {rows[tail].gap}")
    if len(items) == 1:
        return items[0]
    rest = items[1:]
    return items[0] + ", then " + (", ".join(rest[:-1]) + " and " + rest[-1] if len(rest) > 1 else rest[0])


def explain(results: list[CellResult], cfg: MemoryConfig) -> str:
    """Plain words from the measured numbers: each cell's accuracies, then how they compare with the textbook
    (the gated cells should come near chance at longer gaps than the plain RNN, or never), said honestly."""
    cells = [c for c in CELLS if any(r.cell == c for r in results)]
    clauses = [f"{NAMES[c]} scored " + _scores(sorted((r for r in results if r.cell == c), key=lambda r: r.gap), cfg)
               for c in cells]
    text = "; ".join(clauses) + f" (chance is {cfg.chance:.0%})."
    first = first_near_chance(results, cfg)
    gated = [c for c in ("lstm", "gru") if c in cells]
    if "rnn" not in cells or not gated:
        return text
    rnn = first["rnn"]
    earlier = [c for c in gated if first[c] is not None and (rnn is None or first[c] < rnn)]
    if rnn is not None and all(first[c] is None or first[c] > rnn for c in gated):
        return text + " As the textbook says, the gates keep the symbol over spans where the plain RNN loses it."
    if rnn is None and not earlier:
        return text + " No cell came near chance at these gaps, so this run does not show which forgets first."
    if earlier:
        names = " and ".join(f"{NAMES[c]} (from a gap of {first[c]})" for c in earlier)
        text += (f" The textbook predicts that the gates remember longer; here the plain RNN never came near chance, "
                 f"while {names} did." if rnn is None else
                 f" The textbook predicts that the gates remember longer; here the plain RNN came near chance only at "
                 f"a gap of {rnn}, after {names}.")
    else:
        text += " This run does not show the gated cells remembering longer than the plain RNN."
    steps = {c: sum(r.steps for r in results if r.cell == c) for c in cells}
    slower = [c for c in gated if steps[c] < steps["rnn"]]
    if slower:   # equal time is not equal updates: a gate costs compute per step
        counts = ", ".join(f"{NAMES[c]} {steps[c]:,}" for c in ("rnn", *slower))
        text += (f" In the same time the gated cells took fewer training steps ({counts} in all): each of their "
                 "steps costs more compute, so equal time gave them fewer updates.")
    return text


# -- an experiment in the workspace: experiments/<id>/config.json, one <cell>.json per cell, registry rows --------
NAMES = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
LEVEL = "memory"                 # the registry's level column marks an experiment's jobs apart from text runs


def _dir(reg, exp_id: str):
    from .runs import check_run_id

    return reg.home / "experiments" / check_run_id(exp_id)   # ids are run ids: never a path


def create(cfg: MemoryConfig, reg, cells: tuple[str, ...] = CELLS, owner=None) -> str:
    """A new experiment folder with its config, `owner`'s (a textgen.identity.Identity; None: everyone's); its id."""
    from . import atomic
    from .identity import owner_of
    from .runs import new_run_id

    cfg.validate()
    if not cells or any(c not in CELLS for c in cells):
        raise ConfigError(f"cells must be some of {', '.join(CELLS)}")
    exp_id = new_run_id()
    _dir(reg, exp_id).mkdir(parents=True)
    atomic.write_json(_dir(reg, exp_id) / "config.json", {"memory": asdict(cfg), "cells": list(cells),
                                                         "created": time.time(), "owner": owner_of(owner)})
    return exp_id


def submit(cfg: MemoryConfig, reg=None, cells: tuple[str, ...] = CELLS, owner=None) -> str:
    """Queue one worker job per cell (it trains the gaps in turn: TensorFlow starts once per cell, not per gap),
    all `owner`'s: other writers see neither the jobs nor the experiment."""
    from . import jobs
    from .identity import owner_of
    from .runs import Registry

    reg = reg or Registry()
    jobs.check_turn(reg, owner)   # once: the experiment is one request
    exp_id = create(cfg, reg, cells, owner)
    for cell in cells:
        units = units_for(cell, cfg)
        rid = reg.create_run(f"Why gates? {NAMES[cell]}", status="queued", level=LEVEL, cell=cell, layers=1,
                             units=units, params=param_count(cell, units, cfg), corpus=f"memory task {exp_id}",
                             epochs=len(cfg.gaps), owner=owner_of(owner))
        reg.update_run(rid, args=json.dumps(["experiment", "memory", "--experiment", exp_id, "--cell", cell,
                                             "--run-id", rid]))
    jobs.pump(reg)
    return exp_id


def load(reg, exp_id: str, owner=None) -> tuple[MemoryConfig, tuple[str, ...], list[CellResult]]:
    """A saved experiment's config, cells and the results measured so far (read from disk: no retraining);
    with `owner`, another writer's experiment is refused."""
    from .errors import RunError
    from .identity import check

    d = _dir(reg, exp_id)
    if not (d / "config.json").is_file():
        raise RunError(f"There is no experiment {exp_id} in {reg.home}.")
    saved = json.loads((d / "config.json").read_text("utf-8"))
    check(owner, saved.get("owner"), f"experiment {exp_id}")
    cfg = MemoryConfig(**{**saved["memory"], "gaps": tuple(saved["memory"]["gaps"])})
    results = []
    for cell in saved["cells"]:
        if (d / f"{cell}.json").is_file():
            results += [CellResult(**r) for r in json.loads((d / f"{cell}.json").read_text("utf-8"))]
    return cfg, tuple(saved["cells"]), results


def list_experiments(reg, owner=None) -> list[dict]:
    """The saved experiments `owner` may see, newest first: {"id", "created", "cells", "gaps", "done", "expected"}."""
    root = reg.home / "experiments"
    out = []
    for d in sorted(root.glob("*/config.json"), reverse=True) if root.is_dir() else []:
        try:
            cfg, cells, results = load(reg, d.parent.name, owner)
        except (ValueError, TypeError, KeyError, InkwellError):
            continue   # a half-written or foreign folder is skipped, not fatal
        out.append({"id": d.parent.name, "created": d.stat().st_mtime, "cells": cells, "gaps": cfg.gaps,
                    "done": len(results), "expected": len(cells) * len(cfg.gaps)})
    return out


def run_cell(reg, exp_id: str, cell: str, run_id: str | None = None, on_result=lambda r: None) -> list[CellResult]:
    """Train one cell at each of the experiment's gaps in turn, saving each result as it is measured.
    With run_id (a worker job) the run's cancel flag stops it and its progress and heartbeat are kept."""
    from . import atomic

    cfg, cells, _ = load(reg, exp_id)
    if cell not in cells:
        raise ConfigError(f"Experiment {exp_id} does not train {cell}.")
    last = [0.0]

    def should_stop() -> bool:   # a registry read every half second, not every step
        if run_id is None or time.monotonic() - last[0] < 0.5:
            return False
        last[0] = time.monotonic()
        reg.beat(run_id)
        return reg.cancel_requested(run_id)

    done: list[CellResult] = []
    for i, gap in enumerate(cfg.gaps):
        r = train_cell(cell, gap, cfg, should_stop)
        if run_id is not None and reg.cancel_requested(run_id):
            break   # cut short: its accuracy is not this gap's measurement
        done.append(r)
        atomic.write_json(_dir(reg, exp_id) / f"{cell}.json", [x.as_dict() for x in done])
        reg.add_experiment_result(exp_id, run_id, r.as_dict())
        if run_id is not None:
            reg.update_run(run_id, epoch=i + 1, elapsed=sum(x.seconds for x in done), heartbeat=time.time())
        on_result(r)
    return done


def table(results: list[CellResult], cfg: MemoryConfig) -> str:
    """Held-out accuracy per gap (rows) and cell (columns), as plain text."""
    cells = [c for c in CELLS if any(r.cell == c for r in results)]
    acc = {(r.cell, r.gap): r.accuracy for r in results}
    lines = ["gap    " + "".join(f"{NAMES[c]:>11}" for c in cells)]
    for gap in cfg.gaps:
        lines.append(f"{gap:<7}" + "".join(f"{acc[(c, gap)]:>11.1%}" if (c, gap) in acc else f"{'—':>11}"
                                           for c in cells))
    return "\n".join(lines + [f"chance {cfg.chance:.1%}"])

"""The memory experiment ("Why gates?") in the workspace: experiments/<id>/config.json, one <cell>.json per cell,
one registry row (a worker job) per cell.

The task itself (sequences, equal-parameter sizing, training one cell) is textgen/memory_task.py; reading the
results (where each cell came near chance, the verdict, the table) is textgen/memory_verdict.py. Their names are
importable from here too, as they were before the split.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict

from .errors import ConfigError, InkwellError
from .memory_task import (CELLS, GATES, NAMES, PRESETS, CellResult, MemoryConfig, _start_tf_quietly,  # noqa: F401
                          build, param_count, sequences, train_cell, units_for)
from .memory_verdict import (NEAR_CHANCE, PERFECT, _scores, english, explain, falls_to_chance,  # noqa: F401
                             first_near_chance, table)

LEVEL = "memory"                 # the registry's level column marks an experiment's jobs apart from text runs
LEGACY = {"fixed_inputs": False, "keep_bias": None}   # how experiments saved before these settings were trained


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
    cfg = MemoryConfig(**{**LEGACY, **saved["memory"], "gaps": tuple(saved["memory"]["gaps"])})
    results = []
    for cell in saved["cells"]:
        if (d / f"{cell}.json").is_file():
            results += [CellResult(**r) for r in json.loads((d / f"{cell}.json").read_text("utf-8"))]
    return cfg, tuple(saved["cells"]), results


def list_experiments(reg, owner=None) -> list[dict]:
    """The saved experiments `owner` may see, newest first: {"id", "created", "cells", "gaps", "done", "expected",
    "keras_defaults"} (keras_defaults: set up with Keras' defaults, ex.LEGACY)."""
    root = reg.home / "experiments"
    out = []
    for d in sorted(root.glob("*/config.json"), reverse=True) if root.is_dir() else []:
        try:
            cfg, cells, results = load(reg, d.parent.name, owner)
        except (ValueError, TypeError, KeyError, InkwellError):
            continue   # a half-written or foreign folder is skipped, not fatal
        out.append({"id": d.parent.name, "created": d.stat().st_mtime, "cells": cells, "gaps": cfg.gaps,
                    "done": len(results), "expected": len(cells) * len(cfg.gaps),
                    "keras_defaults": all(getattr(cfg, k) == v for k, v in LEGACY.items())})
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


"""The job runner: training runs as worker processes (`python -m textgen train ...`), as do an experiment's
cells and a run's vanishing-curve measurement (`experiment ...`, `vanishing ...`), at most INKWELL_MAX_JOBS at
once, the rest queued in the registry. INKWELL_JOBS picks where a worker runs: on this machine
(`local`, the default) or as a Ray job on a cluster (textgen/raybackend.py, imported only then).

There is no daemon: `pump` starts queued jobs while there is room, and is called by the pages when
they poll and by each worker as it ends, so the queue moves whether or not a page is open.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .config import BOOL_FLAG_FIELDS, FLAG_FIELDS, MODEL_FLAG_FIELDS, ModelConfig, TrainConfig, env_int, to_dict
from .errors import RunError
from .identity import Identity, check, owner_of, sees_all
from .runs import Registry

ROOT = Path(__file__).resolve().parent.parent
_children: list[subprocess.Popen] = []   # reaped on each pump so finished workers leave no zombies


def max_jobs(reg: Registry | None = None) -> int:
    """Jobs at once: the host's limit for this session (the Workshop page), else INKWELL_MAX_JOBS."""
    from . import room

    return max(1, room.limits(reg).max_jobs or env_int("INKWELL_MAX_JOBS", 1))


def config_args(model: ModelConfig, cfg: TrainConfig) -> list[str]:
    """The command-line flags that rebuild these configs in a worker."""
    m, t = to_dict(model), to_dict(cfg)
    args = []
    for key in MODEL_FLAG_FIELDS:
        args += ["--" + key.replace("_", "-"), str(m[key])]
    for key in FLAG_FIELDS:
        args += ["--" + key.replace("_", "-"), str(t[key])]
    return args + ["--" + key.replace("_", "-") for key in BOOL_FLAG_FIELDS if t[key]]


def submit(corpus_path: str | os.PathLike, model: ModelConfig, cfg: TrainConfig, label: str,
           reg: Registry | None = None, owner: Identity | None = None) -> str:
    """Queue a training job as `owner`'s; it starts now if there is room, else when a running one ends.
    A writer may train only on their own text and has at most one job waiting at a time."""
    reg = reg or Registry()
    model.validate()
    cfg.validate()
    check_corpus(corpus_path, reg, owner)
    check_turn(reg, owner)
    run_id = reg.create_run(label, status="queued", cell=model.cell, layers=model.layers, units=model.units,
                            level=cfg.level, epochs=cfg.epochs, corpus=Path(corpus_path).stem[:200],
                            owner=owner_of(owner))
    reg.update_run(run_id, args=_json([str(corpus_path), *config_args(model, cfg), "--run-id", run_id]))
    pump(reg)
    return run_id


def check_corpus(corpus_path: str | os.PathLike, reg: Registry, owner: Identity | None) -> None:
    """A writer trains on a saved corpus of theirs, or on the text inside a run of theirs; nothing else."""
    from .library import owner_of_text

    if sees_all(owner):
        return
    path = Path(corpus_path).resolve()
    saved, corpus_owner = owner_of_text(path)
    if saved and path.parent == reg.home / "corpora":
        return check(owner, corpus_owner, f"corpus {path.stem}")
    if path.name == "corpus.txt" and path.parent.parent == reg.home / "runs":
        reg.require_run(path.parent.name, owner)
        return
    raise RunError("A writer can train only on a corpus saved on the Corpus page.")


def check_turn(reg: Registry, owner: Identity | None) -> None:
    """The fair queue of a workshop (INKWELL_HOST_CODE set): a writer (not the host, not the command line)
    waits with at most one job at a time. Alone on a laptop, "train with each cell" may queue three."""
    from . import room

    if sees_all(owner) or not room.host_code():
        return
    with reg.connect() as db:
        waiting = db.execute("SELECT 1 FROM runs WHERE status='queued' AND owner=? LIMIT 1", (owner.owner,)).fetchone()
    if waiting is not None:
        raise RunError("You already have a job waiting in the queue; it must start before you queue another.")


def submit_resume(run_id: str, reg: Registry | None = None, epochs: int | None = None,
                  owner: Identity | None = None) -> None:
    reg = reg or Registry()
    reg.require_run(run_id, owner)   # also marks a dead worker's run interrupted, so it can resume
    check_turn(reg, owner)
    reg.requeue(run_id, ["--resume", run_id] + (["--epochs", str(epochs)] if epochs else []))
    pump(reg)


def cancel(run_id: str, reg: Registry | None = None, owner: Identity | None = None) -> None:
    """Ask a worker to stop after its current batch (it checkpoints first); queued jobs just leave the queue.
    Only the run's owner or the host may."""
    # A flag, not a signal: a worker still starting up (importing TensorFlow) has no handler yet and
    # would die instead of checkpointing. Workers read the flag at every metrics flush (0.5 s).
    reg = reg or Registry()
    reg.require_run(run_id, owner)
    reg.request_cancel(run_id)


def backend() -> str:
    """INKWELL_JOBS: `local` (worker processes on this machine, the default) or a Ray cluster's address."""
    value = os.environ.get("INKWELL_JOBS", "").strip() or "local"
    if value != "local" and not value.startswith(("ray://", "http://", "https://")):
        raise RunError(f"INKWELL_JOBS is `local` or a Ray address (ray://HEAD or http://HEAD:8265), not {value!r}.")
    return value


def pump(reg: Registry | None = None) -> list[str]:
    """Start queued jobs while fewer than max_jobs() run. Safe to call from many processes at once."""
    import json

    from .db import BUSY

    reg = reg or Registry()
    where = backend()
    ray = None
    if where != "local":   # the only place Ray is imported, and only when the host named a cluster
        from . import raybackend as ray
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)
    started = []
    try:
        if ray is not None:
            ray.check(reg, where)
        if not reg.has_queued():
            return started
        reg.list_runs()   # marks workers that died without saying so, freeing their slots
        while (row := reg.claim_next(max_jobs(reg))) is not None:
            command = _command(json.loads(row["args"] or "[]"))
            try:
                if ray is None:
                    reg.update_run(row["id"], pid=_spawn(reg, row["id"], command))
                else:
                    reg.update_run(row["id"], job=ray.submit(reg, row["id"], command, where), node=None)
            except (OSError, ValueError) as e:
                reg.fail(row["id"], f"The training process could not start ({e}).")
                continue
            started.append(row["id"])
        return started
    except BUSY:
        return started   # a busy registry: the next poll tries again


WORKERS = ("experiment", "vanishing")   # worker commands a job's arguments may name; any other job trains
ONE_THREAD = ("vanishing",)            # NumPy workers: one BLAS thread each, so the web process keeps a core


def _command(args: list[str]) -> list[str]:
    """A job's arguments are `train`'s, unless they name another worker command (an experiment's cell, a curve)."""
    return args if args[:1] and args[0] in WORKERS else ["train", *args, "--quiet"]


def _spawn(reg: Registry, run_id: str, command: list[str]) -> int:
    log = open(reg.run_dir(run_id) / "worker.log", "ab")
    env = {**os.environ, "INKWELL_HOME": str(reg.home), "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    if command[0] in ONE_THREAD:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # A new session: closing the web server or the browser never takes the worker with it.
    child = subprocess.Popen([sys.executable, "-m", "textgen", *command], cwd=ROOT, env=env,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    _children.append(child)
    return child.pid


def _json(obj) -> str:
    import json

    return json.dumps(obj)

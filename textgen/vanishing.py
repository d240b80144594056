"""Measuring a finished run's vanishing curve after the fact, for runs trained before the worker stored it.

The curve is NumPy (textgen.gradients) but takes seconds for a large model, so the web page never computes it in
its own process: it starts `python -m textgen vanishing RUN --quiet` in the background, like a training worker,
and polls the run directory. The command measures exactly what the worker would have measured when training
ended (the same validation text, windows and seed) and stores it in the same file.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from . import atomic, gradients
from .errors import RunError

PENDING = "vanishing.pending"    # in the run directory while a background measurement runs: its process id
FAILED = "vanishing.error"       # the one sentence a failed measurement left
NICENESS = 10                    # like a training worker: writers waiting for text are served first
_children: list[subprocess.Popen] = []   # reaped when polled, so a finished measurement leaves no zombie


def measure_run(run_dir: Path) -> gradients.Curve:
    """The run's curve, as the worker measures it at the end of training, stored in its directory (CURVE_FILE)."""
    from .artifacts import open_run_dir
    from .data import split_encoded
    from .stepper import Stepper

    run = open_run_dir(Path(run_dir))
    if run.corpus_path is None:
        raise RunError(f"Run {run.id} keeps no copy of its text to measure on.")
    _, val = split_encoded(run.vocab, run.corpus_path.read_text("utf-8"), run.train.val_fraction)
    curve = gradients.measure_and_save(run.dir, Stepper(run.model, run.weights), val, run.train.seed)
    if curve is None:
        raise RunError(f"Run {run.id}'s held-out text is too short to measure a curve on ({len(val)} tokens).")
    return curve


def start(reg, run_id: str, owner=None) -> None:
    """Measure `owner`'s run in a background process (nothing happens if one is already measuring it)."""
    reg.require_run(run_id, owner)
    home, run_dir = reg.home, reg.run_dir(run_id)
    if state(run_dir)[0] == "measuring":
        return
    (run_dir / FAILED).unlink(missing_ok=True)
    # One BLAS thread each: several writers may measure at once, and the web process must keep a core.
    env = {**os.environ, "INKWELL_HOME": str(home), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    child = subprocess.Popen([sys.executable, "-m", "textgen", "vanishing", run_id, "--quiet"], cwd=root, env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    _children.append(child)
    atomic.write_text(run_dir / PENDING, str(child.pid))


def worker(run_dir: Path) -> gradients.Curve:
    """The background process's work: measure at a low priority, leaving FAILED's sentence if it cannot."""
    try:
        os.nice(NICENESS)
    except OSError:
        pass
    try:
        return measure_run(run_dir)
    except Exception as e:
        atomic.write_text(Path(run_dir) / FAILED, str(e) or type(e).__name__)
        raise
    finally:
        (Path(run_dir) / PENDING).unlink(missing_ok=True)


def state(run_dir: Path) -> tuple[str, str]:
    """("measured", ""), ("measuring", ""), ("failed", its sentence) or ("none", "") for a run directory."""
    from .runs import pid_alive

    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)
    run_dir = Path(run_dir)
    if gradients.read_curve(run_dir) is not None:
        return "measured", ""
    try:
        pid = int((run_dir / PENDING).read_text("utf-8"))
    except (OSError, ValueError):
        pid = 0
    if pid and pid_alive(pid):
        return "measuring", ""
    try:
        return "failed", (run_dir / FAILED).read_text("utf-8").strip()
    except OSError:
        return "none", ""


def wait(run_dir: Path, timeout: float = 120.0) -> str:
    """Block until a background measurement ends (for tests and scripts); the final state's name."""
    end = time.monotonic() + timeout
    while (now := state(run_dir)[0]) == "measuring" and time.monotonic() < end:
        time.sleep(0.1)
    return now


TABLE_STEPS = (0, 1, 2, 5, 10, 20, 50, 100)


def table(curve: gradients.Curve) -> str:
    """The curve at a few distances k, as plain text: |dL/dh| and its share of the value at k = 0."""
    last = len(curve.norms) - 1
    first = curve.norms[0]
    lines = [f"{'k':>4}  {'|dL/dh|':>10}  {'share':>8}"]
    for k in [k for k in TABLE_STEPS if k < last] + [last]:
        v = curve.norms[k]
        lines.append(f"{k:>4}  {v:>10.3g}  {v / first:>8.3g}" if first else f"{k:>4}  {v:>10.3g}  {'-':>8}")
    ratio = curve.ratio_per_step()
    lines.append(f"each step back keeps about {ratio:.0%} of the gradient ({curve.windows} windows of held-out text)")
    return "\n".join(lines)

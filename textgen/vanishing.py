"""Measuring a finished run's vanishing curve after the fact, for runs trained before the worker stored it.

The curve is NumPy (textgen.gradients) but takes seconds for a large model, so the web page never computes it in
its own process. `submit` queues one job per run in the registry (`python -m textgen vanishing RUN --job JOB`),
which the job runner starts within the host's cap like any training, and the page reads each job's row. The
command measures exactly what the worker would have measured when training ended (the same validation text,
windows and seed) and stores it in the same file.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from . import gradients
from .errors import InkwellError, RunError
from .workspace import check_run_id

LEVEL = "vanishing"       # the registry's level column marks a measurement's job apart from text runs
# On one thread of a busy 2-core machine the Long preset's curve took 2.2 s and a 2x1024 LSTM's 44 s: ten minutes
# covers models well past the presets, and a worker still measuring then is stuck or starved, not slow.
TIME_LIMIT = 600.0
BEAT = 10.0               # seconds between the worker's heartbeats (the queue presumes it dead after 90 s of none)
NICENESS = 10             # like a training worker: writers waiting for text are served first
STOPPED = "The measuring process stopped unexpectedly; measure again to retry."
_exit = os._exit          # how the watchdog ends a worker past its limit (a test replaces it)


def job_id(run_id: str) -> str:
    """The one job id a run's measurement has: a second request finds its row instead of adding one."""
    return check_run_id(f"{check_run_id(run_id)}-vc")


def measure_run(run_dir: Path) -> gradients.Curve:
    """The run's curve, as the worker measures it at the end of training, stored in its directory (CURVE_FILE)."""
    from .artifacts import open_run_dir
    from .data import split_encoded
    from .stepper import Stepper

    run = open_run_dir(Path(run_dir))
    if run.corpus_path is None:
        raise RunError("This run keeps no copy of its text to measure on.")
    _, val = split_encoded(run.vocab, run.corpus_path.read_text("utf-8"), run.train.val_fraction)
    curve = gradients.measure_and_save(run.dir, Stepper(run.model, run.weights), val, run.train.seed)
    if curve is None:
        raise RunError(f"This run's held-out text is too short to measure a curve on ({len(val)} tokens).")
    return curve


def submit(reg, run_ids: list[str], owner=None, limit: float = TIME_LIMIT) -> list[str]:
    """Queue a measurement of each of `owner`'s runs that has no curve and none queued or running (the host may
    name anyone's); the runs queued. Each run has one job row, queued under the registry's lock, so a second
    click or a second session queues nothing twice."""
    from . import jobs
    from .identity import owner_of

    runs = [reg.require_run(rid, owner) for rid in run_ids]   # all checked before any is queued
    for run in runs:
        if run["status"] != "done":   # a training worker measures its own curve when it ends
            raise RunError(f"Run {run['id']} has not finished training, so it has no curve to measure yet.")
    todo = [r for r in runs if state(reg, r["id"])[0] in ("none", "failed")]
    if not todo:
        return []
    jobs.check_turn(reg, owner)   # once: one click is one request, as an experiment's cells are
    queued = []
    for run in todo:
        job = job_id(run["id"])
        if reg.queue_job(job, f"Vanishing curve of {run['label']}",
                         ["vanishing", run["id"], "--job", job, "--limit", f"{limit:g}"], level=LEVEL,
                         cell=run["cell"], layers=run["layers"], units=run["units"], params=run["params"],
                         corpus=run["id"], owner=owner_of(owner)):
            queued.append(run["id"])
    jobs.pump(reg)
    return queued


def state(reg, run_id: str) -> tuple[str, str]:
    """("measured", ""), ("queued", ""), ("measuring", ""), ("failed", its sentence) or ("none", "") for a run."""
    if gradients.read_curve(reg.run_dir(run_id)) is not None:
        return "measured", ""
    job = reg.get_run(job_id(run_id))   # a worker whose pid is gone or whose heartbeat stopped reads interrupted
    status = job["status"] if job else None
    if status in ("queued", "running"):
        return ("queued" if status == "queued" else "measuring"), ""
    if status == "interrupted":
        return "failed", STOPPED
    if status in ("failed", "cancelled"):
        return "failed", job["message"] or STOPPED
    return "none", ""   # never asked for, or done and its curve deleted since


def states(reg, run_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Each run's state(), in the order given."""
    return {rid: state(reg, rid) for rid in run_ids}


def wait(reg, run_id: str, timeout: float = 120.0) -> str:
    """Block while a run's measurement is queued or measuring, moving the queue (for tests and scripts)."""
    from . import jobs

    end = time.monotonic() + timeout
    while (now := state(reg, run_id)[0]) in ("queued", "measuring") and time.monotonic() < end:
        jobs.pump(reg)
        time.sleep(0.1)
    return now


def over_limit(limit: float) -> str:
    """The sentence a measurement past its time limit ends with (its job's message)."""
    return (f"The measurement was stopped at its time limit of {limit:g} seconds: the machine may be too busy or "
            "the model too large; try again later.")


class Watch:
    """The worker's second thread: a heartbeat every BEAT seconds, the cancel flag read with it, and the time
    limit. Past the limit (or cancelled) it records how the job ended and ends the process, even mid-NumPy."""

    def __init__(self, reg, job: str, limit: float):
        self.reg, self.job, self.deadline = reg, job, time.monotonic() + limit
        self.limit, self.lock, self.done = limit, threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="vanishing-watch", daemon=True)
        self.thread.start()

    def stop(self) -> bool:
        """The measurement ended: False if the watch already recorded the job's end (limit or cancel)."""
        with self.lock:
            ended = self.done.is_set()
            self.done.set()
        return not ended

    def _run(self) -> None:
        while not self.done.wait(min(BEAT, max(0.0, self.deadline - time.monotonic()))):
            over = time.monotonic() >= self.deadline
            if over or self._cancelled():
                self._end(over)
                return

    def _cancelled(self) -> bool:
        try:
            self.reg.beat(self.job)
            return self.reg.cancel_requested(self.job)
        except Exception:  # noqa: BLE001 - a busy registry: the next beat tries again
            return False

    def _end(self, over: bool) -> None:
        with self.lock:
            if self.done.is_set():   # the measurement ended first: its own result stands
                return
            self.done.set()
            try:
                if over:
                    self.reg.fail(self.job, over_limit(self.limit))
                else:
                    self.reg.finish(self.job, "cancelled", "Stopped by request before the curve was measured.")
            except Exception:  # noqa: BLE001 - the process ends either way; the queue's heartbeat check remains
                pass
        _exit(124 if over else 0)


def work(reg, job: str, run_id: str, limit: float = TIME_LIMIT) -> gradients.Curve:
    """The job runner's worker: take the job, measure at a low priority under a Watch, record how it ended."""
    try:
        os.nice(NICENESS)
    except OSError:
        pass
    reg.start(job, os.getpid(), started=time.time())
    watch = Watch(reg, job, limit)
    try:
        curve = measure_run(reg.run_dir(run_id))
    except BaseException as e:
        if watch.stop():
            message = str(e) if isinstance(e, InkwellError) else f"The measurement failed: {type(e).__name__}: {e}"
            reg.fail(job, message or type(e).__name__)
        raise
    if watch.stop():
        reg.finish(job, "done", f"Measured over {curve.windows} windows of held-out text.")
    return curve


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

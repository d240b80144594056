"""Many writers' Continues advanced together: one thread steps every pending row of a model at once.

A room presses Continue at the same moment. Run one by one on the web server's script threads, thirty
loops fight over the GIL a step at a time; here each step is one stepper call for every row that uses
the same model, and each writer's characters go to a queue of its own as they are made. A row's text is
the one `Generator.stream` writes for the same seed (the sampling is the same code, textgen.generate.Walk).
Rows that shared a step are not marked `exact`: a batch's products may differ from one row's in the last
bit, so their end state is not reused as if read afresh.

NumPy only: no TensorFlow, no Streamlit.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .errors import GenerationError
from .generate import Generator, Walk, _one_blas_thread

log = logging.getLogger("inkwell.batcher")
_END = object()   # a request's last queue item
FAILED = "Something went wrong while the model was writing; please try again."


@dataclass(frozen=True)
class BatcherConfig:
    max_rows: int = 64          # rows in one stepper call; more are served in further calls of the same round
    wait_s: float = 120.0       # how long a reader waits for the next piece before giving up with one sentence


class Request:
    """One writer's Continue: iterate it for the pieces as they are made; `records` then holds its
    Continuation (when asked for)."""

    def __init__(self, gen: Generator, walk: Walk, wait_s: float):
        self.gen, self.walk, self.wait_s = gen, walk, wait_s
        self.pieces: queue.SimpleQueue = queue.SimpleQueue()
        self.cancelled = False
        self.records: list = []

    def __iter__(self) -> Iterator[str]:
        try:
            while True:
                try:
                    item = self.pieces.get(timeout=self.wait_s)
                except queue.Empty:
                    raise GenerationError("The model did not answer in time; please try again.") from None
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.cancelled = True   # a reader that stops early (the writer clicked) frees the row


class Batcher:
    """The shared generation service of one web process. Thread-safe; its thread starts on first use."""

    def __init__(self, config: BatcherConfig = BatcherConfig()):
        self.config = config
        self._new: list[Request] = []
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self.steps = 0          # stepper calls made, and the rows they carried (a benchmark reads them)
        self.rows_stepped = 0

    def submit(self, gen: Generator, prompt: str, primed=None, record: bool = False, **kw) -> Request:
        """Queue a Continue; `kw` as Generator.stream takes them (length, temperature, seed, ...). The
        prompt is read here, on the caller's thread, so a long draft does not hold up the others."""
        req = Request(gen, gen.walk(prompt, primed=primed, record=record, **kw), self.config.wait_s)
        with self._lock:
            self._new.append(req)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="inkwell-batcher", daemon=True)
                self._thread.start()
            self._lock.notify()
        return req

    def stream(self, gen: Generator, prompt: str, primed=None, record: list | None = None, **kw) -> Iterator[str]:
        """What Generator.stream yields (the non-empty pieces), made in the shared batch; `record`
        receives the Continuation at the end."""
        req = self.submit(gen, prompt, primed, record is not None, **kw)
        try:
            for piece in req:
                if piece:
                    yield piece
        finally:
            if record is not None:
                record.extend(req.records)

    # -- the service thread --------------------------------------------------------------------------
    def _serve(self) -> None:
        active: list[Request] = []
        while True:
            with self._lock:
                while not self._new and not active:
                    self._lock.wait()
                active.extend(self._new)
                self._new.clear()
            try:
                active = [r for r in active if not self._drop(r)]
                with _one_blas_thread():
                    for group in _groups(active, self.config.max_rows):
                        self._step(group)
                active = [r for r in active if not self._drop(r)]
            except Exception:  # noqa: BLE001 - a bug here must not leave writers waiting for a dead thread
                log.exception("the batch round failed")
                for r in active:
                    r.pieces.put(GenerationError(FAILED))
                active = []

    def _drop(self, req: Request) -> bool:
        """Whether a request leaves the batch (finished or cancelled); a finished one is told so."""
        if req.cancelled:
            return True
        if req.walk.finished:
            if req.walk.states is not None:
                req.records.extend(req.walk.records())
            req.pieces.put(_END)
            return True
        return False

    def _step(self, group: list[Request]) -> None:
        """One step for rows of the same model: one stepper call, then each row samples its own token."""
        stepper = group[0].gen.stepper
        try:
            last = np.concatenate([r.walk.last for r in group])                       # (rows,)
            logits, state = stepper.step(last, _stack([r.walk.state for r in group]))  # (rows, vocab)
        except Exception:  # noqa: BLE001 - every row of the call is told, the service goes on
            log.exception("a batched step failed")
            for r in group:
                r.pieces.put(GenerationError(FAILED))
                r.cancelled = True
            return
        self.steps += 1
        self.rows_stepped += len(group)
        for i, r in enumerate(group):
            if len(group) > 1:
                r.walk.exact = False
            try:
                (piece,) = r.walk.take(logits[i:i + 1], _take_row(state, i))
            except Exception as e:  # noqa: BLE001 - one writer's failure is theirs alone
                log.exception("sampling a batched row failed")
                r.pieces.put(e if isinstance(e, GenerationError) else GenerationError(FAILED))
                r.cancelled = True
                continue
            if piece:
                r.pieces.put(piece)


def _groups(active: list[Request], max_rows: int) -> Iterator[list[Request]]:
    """The active rows by model (the same stepper object), at most max_rows per call."""
    by_model: dict[int, list[Request]] = {}
    for r in active:
        by_model.setdefault(id(r.gen.stepper), []).append(r)
    for rows in by_model.values():
        for at in range(0, len(rows), max_rows):
            yield rows[at:at + max_rows]


def _stack(states: list[list]) -> list:
    """Batch-1 states of several rows, one layer at a time, as one batch (an LSTM layer is (h, c))."""
    out = []
    for layer in zip(*states):
        if isinstance(layer[0], tuple):
            out.append(tuple(np.concatenate(parts) for parts in zip(*layer)))
        else:
            out.append(np.concatenate(layer))
    return out


def _take_row(state: list, i: int) -> list:
    """Row i of a batch state as its own batch-1 arrays (copies: a kept state must not hold the batch)."""
    return [tuple(p[i:i + 1].copy() for p in s) if isinstance(s, tuple) else s[i:i + 1].copy() for s in state]

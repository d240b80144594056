"""Generation: the NumPy stepper plus samplers, streaming pieces as they are made. No TensorFlow."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import artifacts, sampling
from .artifacts import Run, check_weights, load_run
from .config import CELL_NAMES
from .errors import GenerationError
from .runs import check_run_id, clean_label, home
from .stepper import Stepper

MAX_LENGTH = 5000        # tokens per continuation; longer requests are refused with this number
MAX_ALTERNATIVES = 8
PROMPT_TAIL = 2000       # tokens of the draft fed as context: the carried state holds what came before
SENTENCE_ENDS = tuple(".!?\u2026\u3002\uff01\uff1f")
STOPS = ("length", "sentence", "line")
ORIGINALITY_MAX_BYTES = 20 * 1024 * 1024   # larger corpora skip the measure rather than hold a big index
log = logging.getLogger("inkwell.generate")


@dataclass(frozen=True)
class Generation:
    text: str                 # the continuation only
    unknown: tuple[str, ...]  # prompt tokens the model never saw (fed as <unk>)
    stopped_by: str           # "length", "sentence", "line" or the custom stop string
    seed: int


@dataclass(frozen=True)
class Settings:
    """A writer's choices for one press of Continue (the Write page's settings)."""
    length: int = 200          # tokens per continuation
    temperature: float = 0.8   # 0 always takes the likeliest token
    top_k: int = 0             # 0: off
    top_p: float = 1.0         # 1: off
    stop: str = "length"       # one of STOPS, or any text to stop after
    n: int = 1                 # alternatives; 1 streams
    seed: int | None = None    # None: a new random seed each time

    def kwargs(self, seed: int) -> dict:
        """The keyword arguments of Generator.stream, generate and alternatives, with this seed."""
        return dict(length=self.length, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                    seed=seed, stop=self.stop)


def weights_version(run_id: str, workspace=None) -> int:
    """The version (mtime in ns) of a run's weights file, or the demo's: a cache key that changes when
    a run trains further. A stat, not a config read, so a page may ask on every rerun."""
    run_dir = artifacts.DEMO_DIR if run_id == artifacts.DEMO_ID else home(workspace) / "runs" / check_run_id(run_id)
    if not artifacts.has_weights(run_dir):
        raise GenerationError(f"{run_id} cannot be found or has no trained weights yet")
    return (run_dir / artifacts.WEIGHTS_FILE).stat().st_mtime_ns


def unknown_note(unknown: tuple[str, ...], shown: int = 20) -> str:
    """One sentence naming the prompt's tokens the model never saw ('' when there are none)."""
    if not unknown:
        return ""
    names = ", ".join(repr(t) for t in unknown[:shown]) + (" ..." if len(unknown) > shown else "")
    return f"The model has never seen {names}; it reads them as unknown."


class Generator:
    """Continues text with a trained run. Cheap to keep: holds weights and the vocabulary only."""

    def __init__(self, run, workspace=None):
        self.run: Run = load_run(run, workspace)
        check_weights(self.run.weights, self.run.model)
        self.vocab = self.run.vocab
        self.stepper = Stepper(self.run.model, self.run.weights)
        self._texts = [self.vocab.token_text(i) for i in range(len(self.vocab))]   # benchmarks read it
        self._index = None

    def originality(self, text: str):
        """How much of text is copied from this run's training corpus (None when the corpus is unknown)."""
        from .originality import NgramIndex

        if self._index is None:
            path = self.run.corpus_path
            if path is None or path.stat().st_size > ORIGINALITY_MAX_BYTES:
                return None
            self._index = NgramIndex.build(path.read_text("utf-8"))
        return self._index.measure(text)

    def name(self) -> tuple[str, str]:
        """(the model's display name, its size such as 'GRU 2×512'), both plain text."""
        cfg = self.run.model
        name = "the demo model" if self.run.id == artifacts.DEMO_ID else clean_label(self.run.label)
        return name, f"{CELL_NAMES.get(cfg.cell, cfg.cell)} {cfg.layers}×{cfg.units}"

    def originality_note(self, text: str) -> str:
        """One sentence on how much of text was copied from the training text ('' when that is unknown)."""
        try:
            result = self.originality(text)
        except Exception:   # a nicety: it must never cost the writer a continuation
            log.exception("originality failed")
            return ""
        return result.describe() if result else ""

    # -- checks ----------------------------------------------------------------------------
    def check(self, length: int, temperature: float, top_k: int, top_p: float, n: int = 1) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise GenerationError("Length must be a whole number of at least 1.")
        if length > MAX_LENGTH:
            raise GenerationError(f"Length {length:,} is over the cap of {MAX_LENGTH:,} per continuation.")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ALTERNATIVES:
            raise GenerationError(f"The number of alternatives must be between 1 and {MAX_ALTERNATIVES}.")
        sampling.check_settings(temperature, top_k, top_p, len(self.vocab))

    def check_settings(self, s: Settings) -> None:
        self.check(s.length, s.temperature, s.top_k, s.top_p, s.n)

    # -- the loop ----------------------------------------------------------------------------
    def _prime(self, prompt: str, n: int):
        """(last token of each row, state after the rest of the prompt, unknown tokens, healed bytes)."""
        if not isinstance(prompt, str):
            raise GenerationError("The prompt must be text.")
        ids, unknown = self.vocab.encode(prompt)
        # Token healing: take back the last word piece; the first token sampled must start with its bytes.
        ids, healed = self.vocab.heal(ids[-PROMPT_TAIL:])
        if len(ids) == 0:
            # An empty prompt starts as at a paragraph break, or with the most common token.
            newline = self.vocab.encode("\n")[0]
            ids = newline[:1] if len(newline) == 1 and newline[0] != 0 else np.array([1], np.int32)
        # The prompt is the same for every alternative: feed it once, then copy the state n times.
        _, state = self.stepper.feed(ids[None, :-1], self.stepper.initial_state(1))
        state = [tuple(np.repeat(part, n, axis=0) for part in s) if isinstance(s, tuple)
                 else np.repeat(s, n, axis=0) for s in state]                        # (n, units) each
        return np.repeat(ids[-1:], n), state, tuple(unknown), healed

    def stream_batch(self, prompt: str, n: int = 1, length: int = 200, temperature: float = 0.8,
                     top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                     stop: str | None = None) -> Iterator[list[str]]:
        """Yields, per step, the new piece of each of the n continuations ('' once a row has stopped)."""
        for pieces, _ in self._loop(prompt, n, length, temperature, top_k, top_p, seed, stop):
            yield pieces

    def _loop(self, prompt, n, length, temperature, top_k, top_p, seed, stop):
        # Each step's products are tiny: splitting them over BLAS threads costs more than it saves, and
        # on a busy server every step would wait for a second core (measured in benchmarks/README.md).
        with _one_blas_thread():
            yield from self._steps(prompt, n, length, temperature, top_k, top_p, seed, stop)

    def _steps(self, prompt, n, length, temperature, top_k, top_p, seed, stop):
        self.check(length, temperature, top_k, top_p, n)
        stop = stop or "length"
        rng = np.random.default_rng(seed)
        last, state, _, healed = self._prime(prompt, n)
        done = np.zeros(n, bool)
        made = [""] * n
        # A character may span two word pieces, so each row decodes as a stream of its own.
        decoders = [self.vocab.decoder(skip=len(healed)) for _ in range(n)]
        for step in range(length):
            logits, state = self.stepper.step(last, state)                           # (n, vocab)
            logits[:, 0] = -np.inf   # never propose <unk>
            if step == 0 and healed:   # the healed token's bytes come first (the token itself qualifies)
                logits[:, ~self._starts_with(healed)] = -np.inf
            last = sampling.sample(logits, rng, temperature, top_k, top_p)
            pieces = []
            for row in range(n):
                if done[row]:
                    pieces.append("")
                    continue
                piece = decoders[row].decode(int(last[row]))
                if not prompt.strip() and not (made[row] + piece).strip():
                    piece = ""   # from an empty draft, start at the first visible character
                piece, finished = _apply_stop(made[row], piece, stop)
                made[row] += piece
                done[row] = finished
                pieces.append(piece)
            yield pieces, done
            if done.all():
                return

    def _starts_with(self, prefix: bytes) -> np.ndarray:
        """Which tokens' bytes start with prefix: (vocab,) bool."""
        return self.vocab.starting_with(prefix)

    def stream(self, prompt: str, length: int = 200, **kw) -> Iterator[str]:
        """Yields pieces of one continuation as they are sampled."""
        for pieces in self.stream_batch(prompt, 1, length, **kw):
            if pieces[0]:
                yield pieces[0]

    def generate(self, prompt: str, length: int = 200, temperature: float = 0.8, top_k: int = 0,
                 top_p: float = 1.0, seed: int | None = None, stop: str | None = None) -> Generation:
        return self.alternatives(prompt, 1, length, temperature, top_k, top_p, seed, stop)[0]

    def alternatives(self, prompt: str, n: int = 3, length: int = 200, temperature: float = 0.8,
                     top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                     stop: str | None = None) -> list[Generation]:
        """n continuations sampled as one batch (one matrix product per step for all of them)."""
        seed = _seed(seed)
        made, done = [""] * n, np.zeros(n, bool)
        for pieces, done in self._loop(prompt, n, length, temperature, top_k, top_p, seed, stop):
            made = [m + p for m, p in zip(made, pieces)]
        unknown = self.unknown(prompt)
        return [Generation(t, unknown, (stop or "length") if d else "length", seed) for t, d in zip(made, done)]

    def unknown(self, prompt: str) -> tuple[str, ...]:
        return tuple(self.vocab.missing(prompt))


_blas = None


def _one_blas_thread():
    """A context limiting NumPy's BLAS to one thread (process-wide while it is open)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()   # scanning the loaded libraries once, not per call
    return _blas.limit(limits=1, user_api="blas")


def _seed(seed: int | None) -> int:
    if seed is None:
        return secrets.randbits(31)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GenerationError("The seed must be a whole number, 0 or more.")
    return seed


def _apply_stop(made: str, piece: str, stop: str) -> tuple[str, bool]:
    """Cut the piece where the stop condition is met; returns (kept piece, finished)."""
    if stop == "length":
        return piece, False
    if stop == "line":
        if "\n" in piece and (made + piece[: piece.index("\n")]).strip():
            return piece[: piece.index("\n")], True
        return piece, False
    if stop == "sentence":
        stripped = piece.rstrip()
        # A sentence needs some words: a leading "." after the writer's own sentence does not end one.
        if stripped.endswith(SENTENCE_ENDS) and any(ch.isalnum() for ch in made + piece):
            return stripped, True
        return piece, False
    joined = made + piece
    at = joined.find(stop, max(0, len(made) - len(stop) + 1))
    if at >= 0:
        return joined[len(made): at + len(stop)], True
    return piece, False

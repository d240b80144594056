"""Generation: the NumPy stepper plus samplers, streaming pieces as they are made. No TensorFlow.

The Generator reads the prompt and runs the loop. A writer's Settings and their checks are textgen.settings';
the loop's rows (Walk, the stop rule, Primed states, Continuations) textgen.walk's: all importable from here."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from . import artifacts, demos, sampling
from .artifacts import Run, check_weights, load_run
from .config import CELL_NAMES
from .errors import GenerationError
from .runs import check_run_id, clean_label, home
from .settings import MAX_ALTERNATIVES, MAX_LENGTH, STOPS, Settings, check_values, seed_of, texts_of  # noqa: F401  (old import path)
from .stepper import Stepper
from .walk import SENTENCE_ENDS, Begin, Continuation, Primed, Walk  # noqa: F401  (SENTENCE_ENDS: old import path)

PROMPT_TAIL = 2000       # tokens of the draft fed as context: the carried state holds what came before
TAIL_CHARS = 64          # characters of the prompt's end kept with its state (banned words look back this far)
ORIGINALITY_MAX_BYTES = 20 * 1024 * 1024   # larger corpora skip the measure rather than hold a big index
log = logging.getLogger("inkwell.generate")


@dataclass(frozen=True)
class Generation:
    text: str                 # the continuation only
    unknown: tuple[str, ...]  # prompt tokens the model never saw (fed as <unk>)
    stopped_by: str           # "length", "sentence", "line" or the custom stop string
    seed: int


def weights_version(run_id: str, workspace=None) -> int:
    """The version (mtime in ns) of a run's weights file, or the demo's: a cache key that changes when
    a run trains further. A stat, not a config read, so a page may ask on every rerun."""
    if run_id == artifacts.DEMO_ID:
        run_dir = artifacts.DEMO_DIR   # read per call, so tests can point it elsewhere
    elif demo := demos.by_id(run_id):
        run_dir = demo.dir
    else:
        run_dir = home(workspace) / "runs" / check_run_id(run_id)
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
        self._bans: dict[tuple[str, ...], sampling.Bans] = {}
        self._owner = object()   # marks the Primed states this generator made: another's never match

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
        name = "the demo model" if demos.by_id(self.run.id) else clean_label(self.run.label)
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
    def check(self, length: int, temperature: float, top_k: int, top_p: float, n: int = 1,
              repetition_penalty: float = 1.0, ban: tuple[str, ...] = ()) -> None:
        check_values(length, temperature, top_k, top_p, n, repetition_penalty, len(self.vocab))
        self.bans(ban)

    def check_settings(self, s: Settings) -> None:
        self.check(s.length, s.temperature, s.top_k, s.top_p, s.n, s.repetition_penalty, s.ban)

    def bans(self, words) -> sampling.Bans | None:
        """The banned words (a tuple, or a writer's comma-separated text) against this vocabulary, built once."""
        words = sampling.parse_bans(words if isinstance(words, str) else ",".join(texts_of(words)))
        if not words:
            return None
        if words not in self._bans:
            if len(self._bans) >= 16:
                self._bans.clear()
            self._bans[words] = sampling.Bans.build(words, self._texts)
        return self._bans[words]

    def owns(self, primed: Primed) -> bool:
        """Whether this generator made the state (a page may hold one from a model since replaced)."""
        return primed.owner is self._owner

    # -- the prompt --------------------------------------------------------------------------
    def prime(self, prompt: str, reuse=()) -> Primed:
        """The state at the end of prompt. One of `reuse` is returned instead when this generator made it
        for the same tokens (a state depends on its tokens only), and then nothing is read again."""
        if not isinstance(prompt, str):
            raise GenerationError("The prompt must be text.")
        ids, unknown = self.vocab.encode(prompt)
        # Token healing: take back the last word piece; the first token sampled must start with its bytes.
        ids, healed = self.vocab.heal(ids[-PROMPT_TAIL:])
        if len(ids) == 0:
            # An empty prompt starts as at a paragraph break, or with the most common token.
            newline = self.vocab.encode("\n")[0]
            ids = newline[:1] if len(newline) == 1 and newline[0] != 0 else np.array([1], np.int32)
        tail = prompt[:len(prompt) - len(healed.decode("utf-8", "ignore"))][-TAIL_CHARS:]
        for p in reuse:
            if p is not None and p.owner is self._owner and np.array_equal(p.ids, ids):
                return replace(p, unknown=tuple(unknown), healed=healed, tail=tail)
        _, state = self.stepper.feed(ids[None, :-1], self.stepper.initial_state(1))
        return Primed(np.asarray(ids), state, tuple(unknown), healed, tail, self._owner)

    def _prime(self, prompt: str, n: int):
        """(last token of each row, state after the rest of the prompt, unknown tokens, healed bytes)."""
        p = self.prime(prompt)
        return np.repeat(p.ids[-1:], n), _repeat(p.state, n), p.unknown, p.healed

    def constrain(self, logits: np.ndarray, healed: bytes, recent: list[list[int]], tails: list[str],
                  penalty: float = 1.0, bans: sampling.Bans | None = None) -> np.ndarray:
        """What may come next, before temperature: never <unk>; after healing, only tokens that start with
        the healed bytes; the repetition penalty over each row's `recent` tokens; the banned words."""
        logits[:, 0] = -np.inf
        if healed:   # the healed token's bytes come first (the token itself qualifies)
            logits[:, ~self._starts_with(healed)] = -np.inf
        if penalty != 1.0:
            window = [r[-sampling.REPEAT_WINDOW:] for r in recent]
            width = max(map(len, window), default=0)
            ids = np.array([r + [-1] * (width - len(r)) for r in window], np.int64).reshape(len(window), width)
            logits = sampling.repetition_penalty(logits, ids, penalty)
        return sampling.ban_filter(logits, tails, bans)

    # -- the loop ----------------------------------------------------------------------------
    def stream_batch(self, prompt: str, n: int = 1, length: int = 200, temperature: float = 0.8,
                     top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                     stop: str | None = None, repetition_penalty: float = 1.0, ban=(),
                     primed: Primed | None = None, record: list | None = None) -> Iterator[list[str]]:
        """Yields, per step, the new piece of each of the n continuations ('' once a row has stopped).

        `primed`: this prompt's state from `prime` (read again only if it is not); `record`: a list that
        receives each row's Continuation when the loop ends."""
        for pieces, _ in self._batch(prompt, n, length, temperature, top_k, top_p, seed, stop, repetition_penalty,
                                     ban, primed, record):
            yield pieces

    def _batch(self, prompt, n, length, temperature, top_k, top_p, seed, stop, repetition_penalty=1.0, ban=(),
               primed=None, record=None):
        self.check(length, temperature, top_k, top_p, n, repetition_penalty, ban)
        p = self.prime(prompt, (primed,))
        begin = Begin(p, np.repeat(p.ids[-1:], n), _repeat(p.state, n), p.healed, [""] * n,
                       [[] for _ in range(n)], [[] for _ in range(n)], [],
                       [self.vocab.decoder(skip=len(p.healed)) for _ in range(n)], not prompt.strip())
        yield from self._loop(begin, length, temperature, top_k, top_p, seed, stop, repetition_penalty, ban, record)

    def resume(self, cont: Continuation, at: int, token: int, length: int, seed: int | None = None,
               **kw) -> Continuation:
        """The continuation with its token `at` replaced by `token` and written on from there, for up to
        `length` tokens in all; nothing before `at` is read again (its states are kept)."""
        if not 0 <= at < len(cont.tokens) or not 0 < int(token) < len(self.vocab):
            raise GenerationError("There is no such token to branch at.")
        if cont.primed.owner is not self._owner:
            raise GenerationError("That continuation was written by another model; press Continue for a new one.")
        self.check(length, kw.get("temperature", 0.8), kw.get("top_k", 0), kw.get("top_p", 1.0), 1,
                   kw.get("repetition_penalty", 1.0), kw.get("ban", ()))
        p = cont.primed
        decoder = self.vocab.decoder(skip=len(p.healed))
        for t in cont.tokens[:at]:   # the decoder's pending bytes, as they were at `at`
            decoder.decode(t)
        last = p.ids[-1:] if at == 0 else np.array([cont.tokens[at - 1]])
        begin = Begin(p, last, cont.states[at], p.healed if at == 0 else b"", ["".join(cont.pieces[:at])],
                       [list(cont.tokens[:at])], [list(cont.pieces[:at])], list(cont.states[:at]), [decoder],
                       not (p.tail + "".join(cont.pieces[:at])).strip())
        out: list[Continuation] = []
        for _ in self._loop(begin, max(1, length - at), record=out, seed=seed, force=int(token), **kw):
            pass
        return replace(out[0], exact=cont.exact)

    def _loop(self, begin, length, temperature=0.8, top_k=0, top_p=1.0, seed=None, stop=None,
              repetition_penalty=1.0, ban=(), record=None, force=None):
        walk = Walk(self, begin, length, temperature, top_k, top_p, seed, stop or "length", repetition_penalty,
                    self.bans(ban), record is not None, force)
        # Each step's products are tiny: splitting them over BLAS threads costs more than it saves, and
        # on a busy server every step would wait for a second core (measured in benchmarks/README.md).
        try:
            with _one_blas_thread():
                while not walk.finished:
                    yield walk.take(*self.stepper.step(walk.last, walk.state)), walk.done
        finally:
            if record is not None:
                record.extend(walk.records())

    def walk(self, prompt: str, length: int = 200, temperature: float = 0.8, top_k: int = 0, top_p: float = 1.0,
             seed: int | None = None, stop: str | None = None, repetition_penalty: float = 1.0, ban=(),
             primed: Primed | None = None, record: bool = False) -> "Walk":
        """One continuation as a Walk, for a caller that runs the stepper itself (textgen.batcher steps
        many writers' rows at once); the same arguments as stream, and the same text for the same seed."""
        self.check(length, temperature, top_k, top_p, 1, repetition_penalty, ban)
        p = self.prime(prompt, (primed,))
        begin = Begin(p, p.ids[-1:].copy(), p.state, p.healed, [""], [[]], [[]], [],
                       [self.vocab.decoder(skip=len(p.healed))], not prompt.strip())
        return Walk(self, begin, length, temperature, top_k, top_p, seed_of(seed), stop or "length",
                    repetition_penalty, self.bans(ban), record)

    def _starts_with(self, prefix: bytes) -> np.ndarray:
        """Which tokens' bytes start with prefix: (vocab,) bool."""
        return self.vocab.starting_with(prefix)

    def stream(self, prompt: str, length: int = 200, **kw) -> Iterator[str]:
        """Yields pieces of one continuation as they are sampled."""
        for pieces in self.stream_batch(prompt, 1, length, **kw):
            if pieces[0]:
                yield pieces[0]

    def generate(self, prompt: str, length: int = 200, temperature: float = 0.8, top_k: int = 0,
                 top_p: float = 1.0, seed: int | None = None, stop: str | None = None, **kw) -> Generation:
        return self.alternatives(prompt, 1, length, temperature, top_k, top_p, seed, stop, **kw)[0]

    def alternatives(self, prompt: str, n: int = 3, length: int = 200, temperature: float = 0.8,
                     top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                     stop: str | None = None, **kw) -> list[Generation]:
        """n continuations sampled as one batch (one matrix product per step for all of them).
        `kw`: repetition_penalty, ban, primed and record, as stream_batch takes them."""
        seed = seed_of(seed)
        made, done = [""] * n, np.zeros(n, bool)
        for pieces, done in self._batch(prompt, n, length, temperature, top_k, top_p, seed, stop, **kw):
            made = [m + p for m, p in zip(made, pieces)]
        unknown = self.unknown(prompt)
        return [Generation(t, unknown, (stop or "length") if d else "length", seed) for t, d in zip(made, done)]

    def unknown(self, prompt: str) -> tuple[str, ...]:
        return tuple(self.vocab.missing(prompt))


def _repeat(state: list, n: int) -> list:
    """A batch-1 state copied into n rows."""
    return [tuple(np.repeat(part, n, axis=0) for part in s) if isinstance(s, tuple) else np.repeat(s, n, axis=0)
            for s in state]


_blas = None


def _one_blas_thread():
    """A context limiting NumPy's BLAS to one thread (process-wide while it is open)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()   # scanning the loaded libraries once, not per call
    return _blas.limit(limits=1, user_api="blas")

"""Generation: the NumPy stepper plus samplers, streaming pieces as they are made. No TensorFlow."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np

from . import artifacts, demos, sampling
from .artifacts import Run, check_weights, load_run
from .config import CELL_NAMES
from .errors import GenerationError
from .runs import check_run_id, clean_label, home
from .stepper import Stepper

MAX_LENGTH = 5000        # tokens per continuation; longer requests are refused with this number
MAX_ALTERNATIVES = 8
PROMPT_TAIL = 2000       # tokens of the draft fed as context: the carried state holds what came before
TAIL_CHARS = 64          # characters of the prompt's end kept with its state (banned words look back this far)
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
class Primed:
    """The model's state at the end of a prompt: a Continue on the same prompt starts here, unread."""
    ids: np.ndarray                 # (tokens,) the prompt's tail as the model reads it, after healing
    state: list                     # batch-1 state after ids[:-1]; the first step feeds ids[-1]
    unknown: tuple[str, ...]        # prompt tokens the model never saw
    healed: bytes                   # word-piece bytes taken back from the prompt (token healing)
    tail: str                       # the prompt's last characters before those bytes (banned words look back)
    owner: object = field(default=None, repr=False, compare=False)   # the Generator that made it


@dataclass(frozen=True)
class Continuation:
    """One continuation with the states along it: enough to branch at any of its tokens unread."""
    primed: Primed                  # where it started
    tokens: tuple[int, ...]         # t_1..t_n as sampled
    pieces: tuple[str, ...]         # the text each token added ('' for the first bytes of a character)
    states: tuple                   # S_0..S_n, batch 1: S_0 = primed.state, S_j follows feeding t_(j-1)
    exact: bool = True              # made one row at a time, so its states equal a fresh reading's bits

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def ends(self) -> tuple[Primed, ...]:
        """The state at the end of prompt + text as `prime` reads it (the last token fed, or healed away),
        for `prime`'s reuse: the next Continue starts there unread. None for a batch's rows."""
        if not self.exact or not self.tokens:
            return ()
        p = self.primed
        full = np.concatenate([p.ids, np.asarray(self.tokens, p.ids.dtype)])
        return replace(p, ids=full, state=self.states[-1]), replace(p, ids=full[:-1], state=self.states[-2])

    def starts(self) -> list[int]:
        """Where each token's text starts in `text`."""
        out, at = [], 0
        for piece in self.pieces:
            out.append(at)
            at += len(piece)
        return out


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
    repetition_penalty: float = 1.0   # 1: off; above 1 makes recently generated tokens less likely
    ban: tuple[str, ...] = ()  # words the model may not write (sampling.parse_bans reads a writer's list)

    def kwargs(self, seed: int) -> dict:
        """The keyword arguments of Generator.stream, generate and alternatives, with this seed."""
        return dict(length=self.length, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                    seed=seed, stop=self.stop, repetition_penalty=self.repetition_penalty, ban=self.ban)


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
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise GenerationError("Length must be a whole number of at least 1.")
        if length > MAX_LENGTH:
            raise GenerationError(f"Length {length:,} is over the cap of {MAX_LENGTH:,} per continuation.")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ALTERNATIVES:
            raise GenerationError(f"The number of alternatives must be between 1 and {MAX_ALTERNATIVES}.")
        sampling.check_settings(temperature, top_k, top_p, len(self.vocab))
        sampling.check_penalty(repetition_penalty)
        self.bans(ban)

    def check_settings(self, s: Settings) -> None:
        self.check(s.length, s.temperature, s.top_k, s.top_p, s.n, s.repetition_penalty, s.ban)

    def bans(self, words) -> sampling.Bans | None:
        """The banned words (a tuple, or a writer's comma-separated text) against this vocabulary, built once."""
        words = sampling.parse_bans(words if isinstance(words, str) else ",".join(_texts_of(words)))
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
        begin = _Begin(p, np.repeat(p.ids[-1:], n), _repeat(p.state, n), p.healed, [""] * n,
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
        begin = _Begin(p, last, cont.states[at], p.healed if at == 0 else b"", ["".join(cont.pieces[:at])],
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
        begin = _Begin(p, p.ids[-1:].copy(), p.state, p.healed, [""], [[]], [[]], [],
                       [self.vocab.decoder(skip=len(p.healed))], not prompt.strip())
        return Walk(self, begin, length, temperature, top_k, top_p, _seed(seed), stop or "length",
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
        seed = _seed(seed)
        made, done = [""] * n, np.zeros(n, bool)
        for pieces, done in self._batch(prompt, n, length, temperature, top_k, top_p, seed, stop, **kw):
            made = [m + p for m, p in zip(made, pieces)]
        unknown = self.unknown(prompt)
        return [Generation(t, unknown, (stop or "length") if d else "length", seed) for t, d in zip(made, done)]

    def unknown(self, prompt: str) -> tuple[str, ...]:
        return tuple(self.vocab.missing(prompt))


@dataclass
class _Begin:
    """Where a loop starts: a prompt's state (n rows) or a point inside a continuation."""
    primed: Primed
    last: np.ndarray                # (n,) the token the first step feeds
    state: list                     # n rows
    healed: bytes                   # the first token must start with these bytes
    made: list[str]                 # text so far, per row
    tokens: list[list[int]]         # tokens so far, per row (the repetition penalty looks back over them)
    pieces: list[list[str]]
    states: list                    # batch-1 states before `state` (a branch keeps its continuation's)
    decoders: list
    blank: bool                     # an empty prompt: leading white space is not written


class Walk:
    """A loop's rows between two steps: what the next step feeds (`last`, `state`) and what each row has
    made. `take` turns one step's logits into each row's new piece; whoever runs the stepper calls it."""

    def __init__(self, gen: Generator, begin: _Begin, length: int, temperature: float, top_k: int, top_p: float,
                 seed, stop: str, penalty: float, bans, keep_states: bool, force: int | None = None):
        self.gen, self.begin, self.length = gen, begin, length
        self.sampling = (temperature, top_k, top_p)
        self.stop, self.penalty, self.bans, self.force = stop, penalty, bans, force
        self.rng = np.random.default_rng(seed)
        self.last, self.state = begin.last, begin.state          # (n,) and n rows
        self.done = np.zeros(len(begin.last), bool)
        self.steps = 0
        self.states = [begin.state] if keep_states else None    # the rows' states along the loop
        self.exact = True                                        # False once a step shared rows with others

    @property
    def finished(self) -> bool:
        return self.steps >= self.length or bool(self.done.all())

    def take(self, logits: np.ndarray, state: list) -> list[str]:
        """One step: logits (n, vocab) and the state after feeding `last`; returns each row's new piece."""
        b, gen, n = self.begin, self.gen, len(self.last)
        made, tokens, pieces_of = b.made, b.tokens, b.pieces
        logits = gen.constrain(logits, b.healed if self.steps == 0 else b"", tokens,
                               [b.primed.tail + m for m in made], self.penalty, self.bans)
        if self.steps == 0 and self.force is not None:
            last = np.full(n, self.force)
        else:
            last = sampling.sample(logits, self.rng, *self.sampling)
        self.steps += 1
        self.last, self.state = last, state
        if self.states is not None:
            self.states.append(state)
        pieces = []
        for row in range(n):
            if self.done[row]:
                pieces.append("")
                continue
            piece = b.decoders[row].decode(int(last[row]))
            if b.blank and not (made[row] + piece).strip():
                piece = ""   # from an empty draft, start at the first visible character
            piece, finished = _apply_stop(made[row], piece, self.stop)
            made[row] += piece
            self.done[row] = finished
            tokens[row].append(int(last[row]))
            pieces_of[row].append(piece)
            pieces.append(piece)
        return pieces

    def records(self) -> list[Continuation]:
        """Each row as a Continuation (needs keep_states)."""
        n = len(self.last)
        return [replace(_record(self.begin, self.states, r, n == 1), exact=n == 1 and self.exact) for r in range(n)]


def _repeat(state: list, n: int) -> list:
    """A batch-1 state copied into n rows."""
    return [tuple(np.repeat(part, n, axis=0) for part in s) if isinstance(s, tuple) else np.repeat(s, n, axis=0)
            for s in state]


def _row(state: list, r: int) -> list:
    return [tuple(part[r:r + 1] for part in s) if isinstance(s, tuple) else s[r:r + 1] for s in state]


def _record(begin: _Begin, states: list, r: int, exact: bool) -> Continuation:
    """Row r of a finished loop as a Continuation (its states: S_0 up to the one after its last token)."""
    new = len(begin.tokens[r]) - len(begin.states)          # tokens this loop added to the row
    rows = states[:new + 1]
    return Continuation(begin.primed, tuple(begin.tokens[r]), tuple(begin.pieces[r]),
                        tuple(begin.states) + tuple(s if exact else _row(s, r) for s in rows), exact)


def _texts_of(words) -> tuple[str, ...]:
    if not all(isinstance(w, str) for w in words):
        raise GenerationError("Banned words must be text.")
    return tuple(words)


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

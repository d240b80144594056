"""The sampling loop's rows: a prompt's state (Primed), where a loop starts (Begin), a Walk turning each
step's logits into each row's new piece under the stop rule, and the Continuations it records. The
Generator (textgen.generate) owns the stepper and runs the loop; textgen.batcher runs it for many writers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from . import sampling

if TYPE_CHECKING:
    from .generate import Generator

SENTENCE_ENDS = tuple(".!?\u2026\u3002\uff01\uff1f")


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


@dataclass
class Begin:
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

    def __init__(self, gen: Generator, begin: Begin, length: int, temperature: float, top_k: int, top_p: float,
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
            piece, finished = apply_stop(made[row], piece, self.stop)
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


def _row(state: list, r: int) -> list:
    return [tuple(part[r:r + 1] for part in s) if isinstance(s, tuple) else s[r:r + 1] for s in state]


def _record(begin: Begin, states: list, r: int, exact: bool) -> Continuation:
    """Row r of a finished loop as a Continuation (its states: S_0 up to the one after its last token)."""
    new = len(begin.tokens[r]) - len(begin.states)          # tokens this loop added to the row
    rows = states[:new + 1]
    return Continuation(begin.primed, tuple(begin.tokens[r]), tuple(begin.pieces[r]),
                        tuple(begin.states) + tuple(s if exact else _row(s, r) for s in rows), exact)


def apply_stop(made: str, piece: str, stop: str) -> tuple[str, bool]:
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

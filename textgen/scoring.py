"""Bits of surprise per token of a text, read once: what a scoring leaves is kept, so the same text with
more after it (a draft after Continue) reads only what was added.

NumPy only, over Stepper.walk and Stepper.logits_of. Kept scorings are found by their tokens' content (a
digest of each scored prefix), per stepper, so no caller has to carry them and no writer sees another's
text: an entry is only ever found by a caller that already has the very same tokens.
"""
from __future__ import annotations

import hashlib
import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .stepper import BLOCK

KEEP_EVERY = 64    # tokens between kept states: a retokenized tail (word pieces merge) re-reads at most this many
KEPT_MAX = 2048    # kept states per model, for a room of writers (a 768-unit GRU's state is 3 KB)
LN2 = math.log(2)


@dataclass(frozen=True)
class _Kept:
    state: list          # the stepper's state after reading the start token and tokens[:length - 1]
    bits: np.ndarray     # (at least length,) float64: raw bits of tokens[:length] (shared between entries)


_KEPT: "weakref.WeakKeyDictionary[object, OrderedDict[tuple[int, bytes], _Kept]]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def token_bits(stepper, start: np.ndarray, tokens: np.ndarray, reuse: bool = True) -> np.ndarray:
    """-log2 p(tokens[i] | start, tokens[:i]) for each i, from a zero state: (len(tokens),) float64.

    `start` (1,) is read first (a line break, or the text's own first token). With `reuse`, the longest
    prefix kept from an earlier call is not read again; the bits are the same, bit for bit."""
    n = len(tokens)
    if n == 0:
        return np.zeros(0)
    prefix = start.tobytes()
    done, state, bits = 0, None, np.empty(n)
    if reuse:
        done, kept = _longest(stepper, prefix, tokens)
        if kept is not None:
            bits[:done] = kept.bits[:done]
            state = kept.state
    if done == n:
        return bits
    fed = np.concatenate([start, tokens[:-1]])[done:][None, :]                # (1, n - done): what predicts each
    walked = stepper.walk(fed, state, offset=done)
    top = walked.hidden[-1][0]                                                  # (n - done, units)
    # One block of logits at a time, cut where a whole scoring cuts them (the same bits either way).
    cuts = [done] + list(range(-(-(done + 1) // BLOCK) * BLOCK, n, BLOCK)) + [n]
    for a, z in zip(cuts, cuts[1:]):
        logits = stepper.logits_of(top[a - done:z - done], offset=a)           # (z - a, vocab): our own copy
        picked = logits[np.arange(z - a), tokens[a:z]].astype(np.float64)
        peak = logits.max(axis=1)
        logits -= peak[:, None]
        np.exp(logits, out=logits)
        log_z = np.log(logits.sum(axis=1, dtype=np.float64)) + peak
        bits[a:z] = (log_z - picked) / LN2
    if reuse:
        _keep(stepper, prefix, tokens, done, walked, bits)
    return bits


def forget(stepper=None) -> None:
    """Drop the kept scorings (of one stepper, or all)."""
    with _LOCK:
        if stepper is None:
            _KEPT.clear()
        else:
            _KEPT.pop(stepper, None)


def _digests(prefix: bytes, tokens: np.ndarray, lengths: list[int]) -> list[bytes]:
    """A digest of prefix + tokens[:k] for each k of the ascending `lengths`, in one pass over the bytes."""
    running, at, out = hashlib.blake2b(prefix, digest_size=16), 0, []
    for k in lengths:
        running.update(tokens[at:k].tobytes())
        at = k
        out.append(running.copy().digest())
    return out


def _longest(stepper, prefix: bytes, tokens: np.ndarray) -> tuple[int, _Kept | None]:
    """(how many leading tokens are kept, their entry), longest first; (0, None) when none is."""
    with _LOCK:
        table = _KEPT.get(stepper)
        lengths = sorted({k for k, _ in table} if table else ())
    lengths = [k for k in lengths if k <= len(tokens)]
    keys = list(zip(lengths, _digests(prefix, tokens, lengths)))
    with _LOCK:
        for key in reversed(keys):
            found = table.get(key)
            if found is not None:
                table.move_to_end(key)
                return key[0], found
    return 0, None


def _keep(stepper, prefix: bytes, tokens: np.ndarray, done: int, walked, bits: np.ndarray) -> None:
    """Keep the state at every KEEP_EVERY-th token read this time, and at the end."""
    n = len(tokens)
    ends = [k for k in range(-(-(done + 1) // KEEP_EVERY) * KEEP_EVERY, n, KEEP_EVERY)] + [n]
    bits = bits.copy()                      # the caller may mark some bits unscored; the kept ones stay raw
    entries = [((k, d), _Kept(_state_at(walked, k - 1 - done), bits))
               for k, d in zip(ends, _digests(prefix, tokens, ends))]
    with _LOCK:
        table = _KEPT.setdefault(stepper, OrderedDict())
        for key, kept in entries:
            table[key] = kept
            table.move_to_end(key)
        while len(table) > KEPT_MAX:
            table.popitem(last=False)


def _state_at(walked, t: int) -> list:
    """The state after step t of a walk (batch 1), as Stepper.step takes it."""
    if walked.cells is not None:
        return [(h[:, t].copy(), c[:, t].copy()) for h, c in zip(walked.hidden, walked.cells)]
    return [h[:, t].copy() for h in walked.hidden]

"""Character n-gram baselines of a text: what a network must beat to have learned anything.

Each model is fitted on the training text and scored, in bits per character, on the validation text:
a uniform guess over the training alphabet (plus one symbol for characters it never saw), a unigram
with add-one smoothing, and bigram and trigram models with interpolated Kneser-Ney smoothing (absolute
discount D = 0.75, lower orders on continuation counts, the lowest order mixed with the uniform guess,
after Chen and Goodman, 1998). NumPy only: counting a few megabytes takes about a second.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

DISCOUNT = 0.75
FILE = "baselines.json"   # in the run directory, written by the worker when the run starts
NAMES = {"uniform": "uniform guess", "unigram": "unigram", "bigram": "bigram (Kneser-Ney)",
         "trigram": "trigram (Kneser-Ney)"}


@dataclass(frozen=True)
class Baselines:
    uniform: float     # bits per character of each model on the validation text
    unigram: float
    bigram: float
    trigram: float

    def as_dict(self) -> dict:
        return asdict(self)

    def best(self) -> tuple[str, float]:
        """(name, bits per character) of the strongest baseline."""
        name = min(NAMES, key=lambda k: getattr(self, k))
        return name, getattr(self, name)


def _encode(train: str, val: str) -> tuple[np.ndarray, np.ndarray, int]:
    alphabet = sorted(set(train))
    index = {ch: i for i, ch in enumerate(alphabet)}
    unk = len(alphabet)                                  # characters the training text never had
    x = np.fromiter((index[c] for c in train), np.int64, len(train))
    y = np.fromiter((index.get(c, unk) for c in val), np.int64, len(val))
    return x, y, unk + 1


def _counts(codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """How often each query code occurs in codes."""
    if codes.size == 0:
        return np.zeros(query.shape, np.int64)
    keys, n = np.unique(codes, return_counts=True)
    at = np.clip(np.searchsorted(keys, query), 0, len(keys) - 1)
    return np.where(keys[at] == query, n[at], 0)


class _KneserNey:
    """Interpolated Kneser-Ney over integer symbols 0..V-1, orders 1 to 3."""

    def __init__(self, x: np.ndarray, v: int):
        self.v = v
        self.x = x
        big = np.unique(x[:-1] * v + x[1:])                       # bigram types seen
        self.big_types = big
        self.cont1 = np.bincount(big % v, minlength=v)            # N1+(. w): contexts each symbol followed
        self.types1 = big.size                                     # N1+(. .)
        self.follow1 = np.bincount(big // v, minlength=v)         # N1+(v .): symbols each symbol preceded
        tri = np.unique((x[:-2] * v + x[1:-1]) * v + x[2:]) if x.size > 2 else np.zeros(0, np.int64)
        self.tri_types = tri
        self.mid = tri % (v * v)                                   # the (v, w) part of each trigram type

    def p1(self, w: np.ndarray) -> np.ndarray:
        if self.types1 == 0:
            return np.full(w.shape, 1.0 / self.v)
        seen = np.count_nonzero(self.cont1)
        return (np.maximum(self.cont1[w] - DISCOUNT, 0) + DISCOUNT * seen / self.v) / self.types1

    def p2(self, v_: np.ndarray, w: np.ndarray, top: bool) -> np.ndarray:
        """p(w | v): on raw counts when bigrams are the highest order, else on continuation counts."""
        lower = self.p1(w)
        if top:
            c = _counts(self.x[:-1] * self.v + self.x[1:], v_ * self.v + w)
            total = np.bincount(self.x[:-1], minlength=self.v)[v_]
            follow = self.follow1[v_]
        else:
            c = _counts(self.mid, v_ * self.v + w)                 # N1+(. v w)
            total = np.bincount(self.mid // self.v, minlength=self.v)[v_]   # N1+(. v .)
            follow = np.bincount(np.unique(self.mid) // self.v, minlength=self.v)[v_]
        safe = np.maximum(total, 1)
        p = (np.maximum(c - DISCOUNT, 0) + DISCOUNT * follow * lower) / safe
        return np.where(total > 0, p, lower)

    def p3(self, u: np.ndarray, v_: np.ndarray, w: np.ndarray) -> np.ndarray:
        lower = self.p2(v_, w, top=False)
        x, v = self.x, self.v
        tri = (x[:-2] * v + x[1:-1]) * v + x[2:]
        hist = u * v + v_
        c = _counts(tri, hist * v + w)
        total = _counts(x[:-2] * v + x[1:-1], hist) if x.size > 2 else np.zeros(hist.shape, np.int64)
        follow = _counts(self.tri_types // v, hist)
        safe = np.maximum(total, 1)
        p = (np.maximum(c - DISCOUNT, 0) + DISCOUNT * follow * lower) / safe
        return np.where(total > 0, p, lower)


def _bits(p: np.ndarray) -> float:
    return float(-np.log2(p).mean()) if p.size else float("nan")


def compute(train: str, val: str) -> Baselines:
    """The four baselines, fitted on train and scored on val, in bits per character.

    The first characters of val have less context than the order asks: they are scored by the next
    lower order (a trigram model scores the first character with its unigram part, the second with
    its bigram part), as a model reading val from its start would.
    """
    if not train or not val:
        raise ValueError("both the training and the validation text must be non-empty")
    x, y, v = _encode(train, val)
    unigram = (np.bincount(x, minlength=v)[y] + 1) / (x.size + v)
    kn = _KneserNey(x, v)
    first = kn.p1(y[:1])
    bigram = np.concatenate([first, kn.p2(y[:-1], y[1:], top=True)])
    second = kn.p2(y[:1], y[1:2], top=False) if y.size > 1 else np.zeros(0)
    trigram = np.concatenate([first, second, kn.p3(y[:-2], y[1:-1], y[2:])]) if y.size > 2 else \
        np.concatenate([first, second])
    return Baselines(uniform=math.log2(v), unigram=_bits(unigram), bigram=_bits(bigram), trigram=_bits(trigram))


def describe(network_bpc: float, baselines: Baselines) -> str:
    """One sentence: how far the network is below (or above) the best baseline."""
    name, bpc = baselines.best()
    gap = bpc - network_bpc
    model = f"a {NAMES[name]} model of your text" if name != "uniform" else "a uniform guess"
    if gap >= 0:
        return f"{gap:.2f} bits per character better than {model}."
    return f"{-gap:.2f} bits per character worse than {model}: the network has not learned more than it yet."


def save(run_dir: str | os.PathLike, text: str, val_fraction: float) -> Baselines:
    """Fit on the run's training side and score its validation side (the last val_fraction of the text)."""
    from . import atomic, data

    train, val = data.split(text, val_fraction)
    result = compute(train, val)
    atomic.write_json(Path(run_dir) / FILE, result.as_dict())
    return result


def load(run_dir: str | os.PathLike) -> Baselines | None:
    """A run's baselines, or None for a run made before they were recorded (or an unreadable file)."""
    try:
        raw = json.loads((Path(run_dir) / FILE).read_text("utf-8"))
        return Baselines(**{f.name: float(raw[f.name]) for f in fields(Baselines)})
    except (OSError, ValueError, KeyError, TypeError):
        return None

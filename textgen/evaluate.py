"""Evaluation with the NumPy stepper: loss in nats, bits per character and perplexity on any text."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import data
from .artifacts import check_weights, load_run
from .errors import CorpusError
from .stepper import Stepper

BATCH = 256


@dataclass(frozen=True)
class Evaluation:
    loss_nats: float     # mean cross-entropy per token
    bpc: float           # total bits over characters (word-level models too)
    perplexity: float    # per token
    chars: int
    tokens: int
    unknown: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"loss_nats": self.loss_nats, "bpc": self.bpc, "perplexity": self.perplexity,
                "chars": self.chars, "tokens": self.tokens, "unknown": list(self.unknown)}


def evaluate(run, text: str, workspace=None, window: int | None = None) -> Evaluation:
    """Score text the way training scores validation: windows of seq_len (or `window`) from a zero state."""
    run = load_run(run, workspace)
    check_weights(run.weights, run.model)
    ids, unknown = run.vocab.encode(text)
    seq = window or run.train.seq_len
    if len(ids) < 2:
        raise CorpusError("The text is too short to evaluate: it needs at least two tokens.")
    w = data.windows(ids, min(seq, len(ids) - 1))                                # (n, seq + 1)
    stepper = Stepper(run.model, run.weights)
    total, count = 0.0, 0
    for start in range(0, len(w), BATCH):
        x, y = data.inputs_targets(w[start:start + BATCH])
        logits = stepper.sequence_logits(x).astype(np.float64)                   # (b, seq, vocab)
        logz = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        picked = np.take_along_axis(logits, y[..., None].astype(np.int64), axis=-1)[..., 0]
        total += float((logz - picked).sum())
        count += y.size
    loss = total / count
    chars = len(run.vocab.decode(w[:, 1:].reshape(-1))) if run.vocab.level == "word" else count
    return Evaluation(loss, total / math.log(2) / chars, math.exp(min(loss, 700.0)), chars, count, tuple(unknown))

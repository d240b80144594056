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


def evaluate(run, text: str, workspace=None, window: int | None = None, streams: int = 0) -> Evaluation:
    """Score text the way training scores validation: windows of seq_len (or `window`) from a zero state.

    With `streams` > 0 the text is cut into that many contiguous pieces instead, and each is read
    from start to end with its state carried, as the Write page carries it through a draft: only
    each piece's first tokens start cold. `window` is then ignored.
    """
    run = load_run(run, workspace)
    check_weights(run.weights, run.model)
    ids, unknown = run.vocab.encode(text)
    if len(ids) < 2:
        raise CorpusError("The text is too short to evaluate: it needs at least two tokens.")
    if window is not None and window < 1:
        raise ValueError(f"window must be at least 1, not {window}")
    if streams < 0:
        raise ValueError(f"streams must not be negative, not {streams}")
    stepper = Stepper(run.model, run.weights)
    if streams:
        length = (len(ids) - 1) // min(streams, len(ids) - 1)                    # tokens per stream
        w = np.stack([ids[i * length: (i + 1) * length + 1] for i in range(min(streams, len(ids) - 1))])
        total, count = _carried_loss(stepper, w)
    else:
        w = data.windows(ids, min(window or run.train.seq_len, len(ids) - 1))      # (n, seq + 1)
        total, count = 0.0, 0
        for start in range(0, len(w), BATCH):
            x, y = data.inputs_targets(w[start:start + BATCH])
            total += _nll(stepper.sequence_logits(x), y)
            count += y.size
    loss = total / count
    # The rows' targets are contiguous in the text, so decoding them together counts each character once.
    chars = count if run.vocab.level == "char" else len(run.vocab.decode(w[:, 1:].reshape(-1)))
    return Evaluation(loss, total / math.log(2) / chars, math.exp(min(loss, 700.0)), chars, count, tuple(unknown))


def _nll(logits: np.ndarray, targets: np.ndarray) -> float:
    """Summed cross-entropy in nats of logits (..., vocab) against integer targets (...)."""
    logits = logits.astype(np.float64)
    top = logits.max(-1)
    logz = np.log(np.exp(logits - top[..., None]).sum(-1)) + top
    picked = np.take_along_axis(logits, targets[..., None].astype(np.int64), axis=-1)[..., 0]
    return float((logz - picked).sum())


def _carried_loss(stepper: Stepper, w: np.ndarray) -> tuple[float, int]:
    """Summed loss over rows of w (streams, length + 1), each read in one pass with its state carried."""
    x, y = data.inputs_targets(w)
    state, total = stepper.initial_state(len(w)), 0.0
    for t in range(x.shape[1]):
        logits, state = stepper.step(x[:, t], state)
        total += _nll(logits, y[:, t])
    return total, y.size

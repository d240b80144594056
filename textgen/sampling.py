"""Samplers: small pure functions over a (batch, vocab) logits array with an explicit generator.

`sample` combines them in the usual order: temperature, then top-k, then top-p, then a draw.
Temperature 0 means greedy. Each filter leaves at least the single most likely token.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import GenerationError

NEG_INF = -np.inf


def greedy(logits: np.ndarray) -> np.ndarray:
    return np.argmax(logits, axis=-1)                                          # (batch,)


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    return logits / np.float32(temperature)


def top_k_filter(logits: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest logits per row; the rest become -inf."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = np.partition(logits, -k, axis=-1)[:, -k][:, None]                   # (batch, 1)
    return np.where(logits < kth, NEG_INF, logits)


def top_p_filter(logits: np.ndarray, p: float) -> np.ndarray:
    """Nucleus: keep the smallest set of most likely tokens whose probability reaches p."""
    if p >= 1.0:
        return logits
    order = np.argsort(-logits, axis=-1)                                        # (batch, vocab)
    sorted_logits = np.take_along_axis(logits, order, axis=-1)
    probs = softmax(sorted_logits)
    cum = np.cumsum(probs, axis=-1)
    # A token stays if the mass before it is still below p: the first token always stays.
    keep_sorted = (cum - probs) < p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return np.where(keep, logits, NEG_INF)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def draw(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row by inverse CDF: one uniform per row, so seeds are stable."""
    probs = softmax(logits.astype(np.float64))
    cum = np.cumsum(probs, axis=-1)
    u = rng.random((logits.shape[0], 1)) * cum[:, -1:]
    return np.minimum((cum < u).sum(axis=-1), logits.shape[-1] - 1)


def sample(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0) -> np.ndarray:
    if temperature == 0:
        return greedy(logits)
    x = apply_temperature(logits, temperature)
    x = top_k_filter(x, top_k)
    x = top_p_filter(x, top_p)
    return draw(x, rng)


MAX_TEMPERATURE = 5.0


def check_settings(temperature: float, top_k: int, top_p: float, vocab_size: int) -> None:
    """Raise GenerationError with one readable sentence for settings that cannot work."""
    if not isinstance(temperature, (int, float)) or math.isnan(temperature):
        raise GenerationError("Temperature must be a number.")
    if temperature < 0:
        raise GenerationError("Temperature must be 0 (always the likeliest) or more, not negative.")
    if temperature > MAX_TEMPERATURE:
        raise GenerationError(f"Temperature {temperature:g} is too high to give text; use at most {MAX_TEMPERATURE:g}.")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise GenerationError("Top-k must be a whole number, 0 (off) or more.")
    if top_k > vocab_size:
        raise GenerationError(f"Top-k {top_k} is larger than the model's vocabulary of {vocab_size}; use 0 (off) or at most {vocab_size}.")
    if not isinstance(top_p, (int, float)) or math.isnan(top_p) or not 0.0 < top_p <= 1.0:
        raise GenerationError("Top-p must be above 0 and at most 1 (1 turns it off).")

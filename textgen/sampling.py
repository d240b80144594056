"""Samplers: small pure functions over a (batch, vocab) logits array with an explicit generator.

`sample` combines them in the usual order: temperature, then top-k, then top-p, then a draw.
Temperature 0 means greedy. Each filter leaves at least the single most likely token.
The writer's constraints come first: `repetition_penalty`, then `ban_filter` (see `Bans`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

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
MAX_PENALTY = 3.0
REPEAT_WINDOW = 64     # generated tokens the repetition penalty looks back over
MAX_BANS, MAX_BAN_CHARS = 50, 40


def repetition_penalty(logits: np.ndarray, recent: np.ndarray, penalty: float) -> np.ndarray:
    """Make recently generated tokens less likely (CTRL's rule): a positive logit is divided by the
    penalty, a negative one multiplied, so either way it drops. recent: (batch, window) ids, -1 for none."""
    if penalty == 1.0 or recent.size == 0:
        return logits
    seen = np.zeros(logits.shape, bool)                                          # (batch, vocab)
    rows = np.broadcast_to(np.arange(len(logits))[:, None], recent.shape)
    valid = recent >= 0
    seen[rows[valid], recent[valid]] = True
    return np.where(seen, np.where(logits > 0, logits / np.float32(penalty), logits * np.float32(penalty)), logits)


def parse_bans(text: str) -> tuple[str, ...]:
    """A writer's comma-separated list as words (stripped, empty entries dropped, each once, in order)."""
    if not isinstance(text, str):
        raise GenerationError("Banned words must be text, separated by commas.")
    words = []
    for part in text.split(","):
        word = part.strip()
        if word and word.casefold() not in {w.casefold() for w in words}:
            words.append(word)
    if len(words) > MAX_BANS:
        raise GenerationError(f"At most {MAX_BANS} banned words, not {len(words)}.")
    long = [w for w in words if len(w) > MAX_BAN_CHARS]
    if long:
        raise GenerationError(f"A banned word has at most {MAX_BAN_CHARS} characters; {long[0][:50]!r} is longer.")
    return tuple(words)


@dataclass(frozen=True)
class Bans:
    """Banned words against one vocabulary. A word is banned where it starts a word of the text (the
    character before it is not a letter or digit), in any case, and its longer forms with it: banning
    'sea' bans 'Sea' and 'seas', not 'overseas'. A token is refused when it would finish a banned word,
    so the rule holds whether tokens are characters, word pieces or words."""
    words: tuple[str, ...]           # casefolded
    finishing: tuple[tuple[np.ndarray, ...], ...]   # [w][j]: (vocab,) tokens that start with words[w][j:]
    inside: np.ndarray               # (vocab,) tokens holding a whole banned word after a non-word character

    @classmethod
    def build(cls, words: tuple[str, ...], token_texts: list[str]) -> "Bans":
        folded = [t.casefold() for t in token_texts]
        words = tuple(w.casefold() for w in words)
        finishing = tuple(tuple(np.fromiter((t.startswith(w[j:]) for t in folded), bool, len(folded))
                                for j in range(len(w))) for w in words)
        inside = np.zeros(len(folded), bool)
        for i, t in enumerate(folded):
            inside[i] = any(_starts_word(t, at) for w in words for at in _find_all(t, w) if at > 0)
        return cls(words, finishing, inside)

    @property
    def reach(self) -> int:
        """How many characters of text before a token the rule needs to see."""
        return max((len(w) for w in self.words), default=0) + 1


def ban_filter(logits: np.ndarray, tails: list[str], bans: Bans | None) -> np.ndarray:
    """-inf for tokens that would finish a banned word after each row's text so far (`tails`: its last
    `bans.reach` characters, or all of it when shorter). Raises when a row has nothing left to write."""
    if bans is None or not bans.words:
        return logits
    out = np.where(bans.inside, NEG_INF, logits)
    for row, tail in enumerate(tails):
        folded = tail.casefold()
        for w, masks in zip(bans.words, bans.finishing):
            for j in range(len(w)):
                # the word's first j characters end the text, at the start of a word of it
                if folded.endswith(w[:j]) and _starts_word(folded, len(folded) - j):
                    out[row, masks[j]] = NEG_INF
    if not np.isfinite(out).any(axis=-1).all():
        raise GenerationError("The banned words leave the model nothing it may write here; ban fewer words.")
    return out


def _starts_word(text: str, at: int) -> bool:
    return at <= 0 or not text[at - 1].isalnum()


def _find_all(text: str, word: str) -> list[int]:
    out, at = [], text.find(word)
    while at >= 0:
        out.append(at)
        at = text.find(word, at + 1)
    return out


def check_penalty(penalty: float) -> None:
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or math.isnan(penalty):
        raise GenerationError("The repetition penalty must be a number.")
    if not 1.0 <= penalty <= MAX_PENALTY:
        raise GenerationError(f"The repetition penalty must be between 1 (off) and {MAX_PENALTY:g}, not {penalty:g}.")


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

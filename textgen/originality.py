"""How much of a generated text is copied verbatim from the training corpus.

An index of the corpus's n-grams (n = 20 characters, 8 in a Chinese or Japanese text, where a character
carries about what a short English word does) as sorted 64-bit rolling hashes: building it
is one vectorised pass, and each query is a binary search per span, never a scan of the corpus.
A copied passage of L >= n characters shows up as L - n + 1 consecutive hits, which gives the
longest copied span. Hash collisions are possible but vanishingly rare at 64 bits.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPAN = 20
CJK_SPAN = 8   # about four Chinese words: as telling a copy as SPAN characters of English
_BASE = np.uint64(1_000_003)


def span_for(text: str) -> int:
    """The n-gram length for a corpus: CJK_SPAN when most of its letters are CJK, else SPAN."""
    from .corpus import count_chars, is_cjk_text

    return CJK_SPAN if is_cjk_text(count_chars(text[:200_000])) else SPAN


@dataclass(frozen=True)
class Originality:
    spans: int              # generated spans of SPAN characters that were checked
    copied_share: float     # share of them found verbatim in the corpus (0..1)
    longest_copied: int     # characters in the longest passage found verbatim (0 if under the span)
    span: int = SPAN        # characters per checked passage

    def describe(self) -> str:
        n = self.span
        if self.spans == 0:
            return f"Too short to check (under {n} characters)."
        if self.longest_copied == 0:
            return f"Original: no {n}-character passage appears in the training text."
        return (f"{self.copied_share:.0%} of {n}-character passages appear in the training text; "
                f"the longest copied passage is {self.longest_copied} characters.")


def _hashes(text: str, n: int = SPAN) -> np.ndarray:
    """Polynomial hash of every n-character window: (len(text) - n + 1,) uint64, wrapping arithmetic."""
    if len(text) < n:
        return np.zeros(0, np.uint64)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        powers = _BASE ** np.arange(n - 1, -1, -1, dtype=np.uint64)             # (n,)
        # Sum of code * base^(n-1-j) over each window, built from n shifted slices (n is small).
        h = np.zeros(len(codes) - n + 1, np.uint64)
        for j in range(n):
            h += codes[j: len(codes) - n + 1 + j] * powers[j]
    return h


class NgramIndex:
    def __init__(self, hashes: np.ndarray, n: int = SPAN):
        self.hashes = hashes                                                        # sorted, unique
        self.n = n

    @classmethod
    def build(cls, corpus: str, n: int | None = None) -> "NgramIndex":
        """n: the passage length; by default span_for(corpus)."""
        n = span_for(corpus) if n is None else n
        return cls(np.unique(_hashes(corpus, n)), n)

    @classmethod
    def cached(cls, corpus_path: Path, cache_path: Path) -> "NgramIndex":
        """Load the index beside the run, building it on first use (atomic write, plain .npy)."""
        from . import atomic

        text = corpus_path.read_text("utf-8")
        n = span_for(text)
        if n != SPAN:   # the file holds hashes only: another span gets a file of its own
            cache_path = cache_path.with_name(f"{cache_path.stem}-{n}{cache_path.suffix}")
        if cache_path.exists() and cache_path.stat().st_mtime >= corpus_path.stat().st_mtime:
            return cls(np.load(cache_path, allow_pickle=False), n)
        index = cls.build(text, n)
        import io

        buf = io.BytesIO()
        np.save(buf, index.hashes)
        atomic.write_bytes(cache_path, buf.getvalue())
        return index

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.hashes, hashes)
        pos = np.minimum(pos, len(self.hashes) - 1)
        return self.hashes[pos] == hashes if len(self.hashes) else np.zeros(len(hashes), bool)

    def measure(self, generated: str) -> Originality:
        h = _hashes(generated, self.n)
        if len(h) == 0:
            return Originality(0, 0.0, 0, self.n)
        hit = self.contains(h)
        longest_run, run = 0, 0
        for flag in hit:
            run = run + 1 if flag else 0
            longest_run = max(longest_run, run)
        return Originality(len(h), float(hit.mean()), longest_run + self.n - 1 if longest_run else 0, self.n)

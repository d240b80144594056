"""A text's figures: characters and their counts, words (each CJK character one), lines, and whether it is
mostly Chinese or Japanese; the labels a chart gives invisible characters. NumPy over code points."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_TOP_CHARS = 30


@dataclass(frozen=True)
class CorpusStats:
    chars: int                               # code points in the text
    distinct: int                            # distinct code points
    words: int                               # whitespace-separated words, plus one per CJK ideograph or kana
    lines: int                               # newline count + 1; 0 for an empty text
    top_chars: tuple[tuple[str, int], ...]   # the 30 most frequent characters, most frequent first
    rare: int = 0                            # distinct characters a character vocabulary maps to <unk> (vocab.py)
    has_words: bool = True                   # False when most letters are CJK: no spaces, so no word count to show


# Hiragana, katakana, CJK ideographs (with extension A, compatibility and the supplementary planes),
# halfwidth katakana, as the body of a regex character class. Chinese and Japanese put no spaces
# between words, so word counts and word-level tokens take each of these characters as a word.
CJK_CHARS = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")


def count_chars(text: str) -> list[tuple[str, int]]:
    """(char, count) for every distinct code point, most frequent first, ties by code point."""
    return _char_counts(_code_points(text))[1]


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # (chars,)


def _char_counts(points: np.ndarray) -> tuple[np.ndarray, list[tuple[str, int]]]:
    if not points.size:
        return np.zeros(0, dtype=np.int64), []
    counts = np.bincount(points)  # (max code point + 1,)
    present = np.flatnonzero(counts)
    order = np.lexsort((present, -counts[present]))
    return present, [(chr(int(present[i])), int(counts[present[i]])) for i in order]


def _count_words(points: np.ndarray, present: np.ndarray) -> int:
    """Whitespace-separated runs, with each CJK character a word of its own.

    Done with lookup tables over the distinct characters: str.split on 50 MB builds millions of
    strings only to count them.
    """
    if not points.size:
        return 0
    space = np.zeros(int(present[-1]) + 1, dtype=bool)
    cjk = np.zeros_like(space)
    for cp in present.tolist():
        ch = chr(cp)
        space[cp] = ch.isspace()
        cjk[cp] = _CJK_CHAR.match(ch) is not None
    is_cjk = cjk[points]                               # (chars,)
    in_word = ~(space[points] | is_cjk)                # (chars,)
    starts = int(in_word[0]) + int(np.count_nonzero(in_word[1:] & ~in_word[:-1]))
    return starts + int(np.count_nonzero(is_cjk))


def cjk_share(counts: list[tuple[str, int]]) -> float:
    """Share of a text's letters that are CJK ideographs or kana, from its (char, count) pairs."""
    letters = cjk = 0
    for ch, n in counts:
        if ch.isalpha():
            letters += n
            cjk += n if _CJK_CHAR.match(ch) else 0
    return cjk / letters if letters else 0.0


def is_cjk_text(counts: list[tuple[str, int]]) -> bool:
    """Mostly Chinese or Japanese: written without spaces between words, read at character level."""
    return cjk_share(counts) >= 0.5


# What a chart shows for characters that are invisible or blank on their own.
LABELS = {" ": "␣", "\n": "↵", "\t": "⇥", "\u3000": "␣␣", "\f": "↡", "\u00a0": "⍽"}


def char_label(ch: str) -> str:
    """A visible label for one character (a space, a new line, an ideographic space ...), never blank."""
    if ch in LABELS:
        return LABELS[ch]
    return ch if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"


def compute_stats(text: str) -> CorpusStats:
    from .vocab import kept_chars   # vocab imports textgen.corpus, which imports this module

    points = _code_points(text)
    present, counts = _char_counts(points)
    return CorpusStats(
        chars=len(text),
        distinct=len(counts),
        words=_count_words(points, present),
        lines=text.count("\n") + 1 if text else 0,
        top_chars=tuple(counts[:_TOP_CHARS]),
        rare=len(counts) - len(kept_chars(counts)),
        has_words=not is_cjk_text(counts),
    )

"""Which writing system a text is in, and whether a model's vocabulary shares it.

A Chinese draft on an English model is read as unknown characters and answered with English-looking
noise: the Write page says so in one sentence instead of writing silently.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter

from .corpus import CJK_CHARS

NAMES = {"LATIN": "Latin letters", "CJK": "Chinese characters", "CYRILLIC": "Cyrillic letters",
         "GREEK": "Greek letters", "ARABIC": "Arabic letters", "HEBREW": "Hebrew letters", "HANGUL": "Korean Hangul",
         "HIRAGANA": "Japanese kana", "KATAKANA": "Japanese kana", "DEVANAGARI": "Devanagari", "THAI": "Thai letters"}
SAMPLE = 4000   # the draft's last characters are enough to tell its script
MIN_LETTERS = 8   # fewer letters than this say nothing reliable about a script


# CJK ideographs and kana, with CJK punctuation (、。「」) and the full-width forms (，！？): text that CJK
# fonts set, which have no italic and get a slanted (synthetic) one from the browser.
_CJK_SET = re.compile(f"[{CJK_CHARS}\u3000-\u303f\uff00-\uffef]")


def has_cjk(text: str) -> bool:
    """Whether text holds any Chinese or Japanese character or CJK punctuation mark."""
    return _CJK_SET.search(text) is not None


def script(ch: str) -> str | None:
    """The writing system of one letter ("Latin letters", "Chinese characters", ...); None for non-letters."""
    if not ch.isalpha():
        return None
    first = unicodedata.name(ch, "").split(" ", 1)[0]
    return NAMES.get(first, first.capitalize() or None)


def scripts(text: str) -> Counter:
    return Counter(s for s in map(script, text) if s)


def vocab_text(vocab) -> str:
    """The characters a vocabulary can write (word pieces are byte runs: decoded where they form characters)."""
    if vocab.level == "subword":
        return b"".join(vocab.token_bytes[1:]).decode("utf-8", "ignore")
    return "".join(vocab.tokens[1:])


def mismatch(text: str, vocab) -> str:
    """One sentence when the text is mostly in a script the model's vocabulary barely has; '' otherwise."""
    mine = scripts(text[-SAMPLE:])
    if sum(mine.values()) < MIN_LETTERS:
        return ""
    main, count = mine.most_common(1)[0]
    if count < 0.5 * sum(mine.values()):
        return ""
    known = scripts(vocab_text(vocab))
    if known[main] >= max(3, 0.05 * sum(known.values())):   # the model learned this script too
        return ""
    theirs = known.most_common(1)[0][0] if known else "other symbols"
    return (f"Your draft is mostly in {main}, but this model learned {theirs}: it will not understand your text. "
            "Choose a model trained on text like yours, or train one.")

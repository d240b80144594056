"""Token <-> id mapping at character, word or subword level, saved as vocab.json beside a model.

Subword tokens (word pieces) are byte-level byte-pair encoding, kept in textgen.bpe; a Vocab hides
which level it is: generation asks it for a decoder and for token healing, never for its bytes.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import bpe
from .config import LEVELS, SUBWORD_MAX, SUBWORD_MIN, SUBWORD_SIZE
from .corpus import CJK_CHARS, count_chars
from .errors import ConfigError

UNK = "<unk>"
_UNK_TEXT = "\ufffd"  # what an unknown token prints as: the standard replacement character

# CJK ideographs and kana stand alone: without them \w+ would swallow a whole Chinese sentence
# as one "word" and a word-level vocabulary would learn nothing reusable.
_WORD = f"[^\\W{CJK_CHARS}]+"
# Every character is a word char, whitespace, or neither, so these alternatives cover any string
# with no gaps: "".join(tokenize(t, "word")) == t always holds.
_TOKEN = re.compile(f"{_WORD}(?:['\u2019]{_WORD})*|[{CJK_CHARS}]|\\s+|[^\\w\\s]|\\w", re.UNICODE)

# A text with more distinct characters than this is written in a large alphabet (Chinese, Japanese): there,
# a character seen only RARE_COUNT times or fewer maps to <unk>. Its row in the embedding and the softmax would
# be learned from one example, and hundreds of such rows slow every step for nothing.
LARGE_ALPHABET = 500
RARE_COUNT = 1


def kept_chars(counts: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The (char, count) pairs a character vocabulary keeps: all of them, or in a large alphabet the non-rare."""
    if len(counts) <= LARGE_ALPHABET:
        return counts
    return [(c, n) for c, n in counts if n > RARE_COUNT]


def tokenize(text: str, level: str = "char") -> list[str]:
    """Split text into tokens whose concatenation is exactly the text."""
    if level == "char":
        return list(text)
    if level == "word":
        return _TOKEN.findall(text)
    if level == "subword":
        raise ConfigError("Subword tokens depend on the vocabulary learned from a corpus: use Vocab.tokenize.")
    raise ConfigError(f"level must be 'char', 'word' or 'subword', not {level!r}")


class Vocab:
    """Ids are positions in `tokens`; id 0 is UNK, which every unseen or rare token maps to."""

    def __init__(self, tokens: list[str], level: str, merges: list | None = None) -> None:
        if level not in LEVELS:
            raise ConfigError(f"The vocabulary level must be 'char', 'word' or 'subword', not {level!r}.")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ConfigError("The vocabulary tokens must be a list of strings.")
        if not tokens or tokens[0] != UNK:
            raise ConfigError(f"The vocabulary must start with the unknown token {UNK}.")
        if len(set(tokens)) != len(tokens):
            raise ConfigError("The vocabulary lists the same token twice.")
        if level == "char" and any(len(t) != 1 for t in tokens[1:]):
            raise ConfigError("A character vocabulary must hold single characters.")
        self.level = level
        self.tokens = list(tokens)
        self._ids = {t: i for i, t in enumerate(self.tokens)}
        self._texts = [_UNK_TEXT] + self.tokens[1:]
        self._table: np.ndarray | None = None  # code point -> id, built on first char-level encode
        self._bpe: bpe.BytePairs | None = None
        self.merges: list[tuple[str, str]] | None = None
        self.token_bytes: list[bytes] | None = None   # subword only: the bytes each token spells
        if level == "subword":
            self._bpe = bpe.BytePairs(self.tokens, merges)
            self.merges, self.token_bytes, self._texts = self._bpe.merges, self._bpe.token_bytes, self._bpe.texts
        elif merges is not None:
            raise ConfigError("Only a subword vocabulary carries byte-pair merges.")

    @classmethod
    def build(cls, text: str, level: str = "char", max_size: int | None = None) -> "Vocab":
        """Most frequent tokens first (ties by token) so ids are the same for the same text.

        At subword level, max_size is the byte-pair vocabulary's size (default SUBWORD_SIZE)."""
        if level == "subword":
            size = SUBWORD_SIZE if max_size is None else max_size
            if not SUBWORD_MIN <= size <= SUBWORD_MAX:
                raise ConfigError(f"A subword vocabulary has between {SUBWORD_MIN} and {SUBWORD_MAX:,} tokens, not {size}.")
            tokens, merges = bpe.train(text, size, UNK)
            return cls(tokens, level, merges)
        if max_size is not None and max_size < 2:
            raise ConfigError(f"A vocabulary needs room for at least one token besides {UNK}, not {max_size}.")
        if level == "char":
            counts = kept_chars(count_chars(text))  # NumPy counting: a Counter over 50 MB of text takes seconds
        else:
            counts = list(Counter(tokenize(text, level)).items())
        counts.sort(key=lambda tc: (-tc[1], tc[0]))
        kept = [t for t, _ in counts if t != UNK]
        if max_size is not None:
            kept = kept[:max_size - 1]
        return cls([UNK] + kept, level)

    def tokenize(self, text: str) -> list[str]:
        """Tokens' texts, joining to exactly `text`. A character spread over word pieces (a Chinese character
        is 3 bytes) belongs to the piece that completes it; the pieces before it show as ''."""
        if self.level == "subword":
            decoder = self._bpe.decoder()
            return [decoder.decode(i) for i in self.encode(text)[0].tolist()]
        return tokenize(text, self.level)

    def encode(self, text: str) -> tuple[np.ndarray, list[str]]:
        """(ids, sorted unknown tokens); unknown tokens get id 0."""
        if self.level == "char":
            return self._encode_chars(text)
        if self.level == "subword":   # every byte is a token: nothing is unknown
            return self._bpe.encode(text), []
        tokens = tokenize(text, "word")
        get = self._ids.get
        ids = np.fromiter((get(t, 0) for t in tokens), dtype=np.int32, count=len(tokens))  # (tokens,)
        known = self._ids
        unknown = sorted({t for t in tokens if t not in known})
        return ids, unknown

    def _encode_chars(self, text: str) -> tuple[np.ndarray, list[str]]:
        if self._table is None:
            # A lookup table over all of Unicode (4 MB) turns encoding into one NumPy gather.
            table = np.zeros(0x110000, dtype=np.int32)
            for i, t in enumerate(self.tokens[1:], start=1):
                table[ord(t)] = i
            self._table = table
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # (chars,)
        ids = self._table[points]                                                          # (chars,)
        unknown = [chr(int(p)) for p in np.unique(points[ids == 0])]
        return ids, unknown

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        ids = np.asarray(ids, dtype=np.int64).ravel().tolist()
        try:
            if self._bpe is not None:
                return self._bpe.decode(ids)
            return "".join([self._texts[i] for i in ids])
        except IndexError:
            raise ConfigError(f"A token id is outside this vocabulary of {len(self)} tokens.") from None

    def decoder(self, skip: int = 0):
        """An object whose `decode(id)` gives the text of one more token of a stream (a character split
        over two word pieces comes out whole). `skip`: bytes of the first token that the text already
        ends with, from `heal`."""
        if self._bpe is not None:
            return self._bpe.decoder(skip)
        if skip:
            raise ConfigError("Only word pieces are healed: there are no bytes to skip.")
        return TextDecoder(self._texts)

    def heal(self, ids: np.ndarray) -> tuple[np.ndarray, bytes]:
        """Token healing: (ids without the last token, that token's bytes, which the next must start with).

        A text that stops mid-word ends in a word piece a model rarely saw there ("pa" of "pass").
        Whole characters and words, and prompts of one token (nothing would be left), come back as
        they are, with b"".
        """
        if self._bpe is None or len(ids) < 2:
            return ids, b""
        return ids[:-1], self.token_bytes[ids[-1]]

    def starting_with(self, prefix: bytes) -> np.ndarray:
        """Which tokens may follow a healed prefix, the token it came from included: (vocab,) bool."""
        if self._bpe is None:
            return np.ones(len(self), bool)
        return self._bpe.starting_with(prefix)

    def token_text(self, id: int) -> str:
        if not 0 <= int(id) < len(self.tokens):
            raise ConfigError(f"Token id {id} is outside this vocabulary of {len(self)} tokens.")
        return self._texts[int(id)]

    def missing(self, text: str) -> list[str]:
        """Tokens of text the vocabulary lacks (sorted, unique): what a prompt would lose to UNK."""
        return self.encode(text)[1]

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and (self.level, self.tokens, self.merges) == (other.level, other.tokens, other.merges)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value object: equal, not hashable

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={len(self)})"

    def to_json(self) -> dict[str, Any]:
        out = {"level": self.level, "tokens": list(self.tokens)}
        return out if self.merges is None else {**out, "merges": [list(m) for m in self.merges]}

    @classmethod
    def from_json(cls, d: Any) -> "Vocab":
        if not isinstance(d, dict) or "level" not in d or "tokens" not in d:
            raise ConfigError("A vocabulary must be a JSON object with 'level' and 'tokens'.")
        return cls(d["tokens"], d["level"], d.get("merges"))

    def save(self, path: str | os.PathLike) -> None:
        """Written atomically, so a crash mid-save never leaves a half-written vocab.json beside a model."""
        from . import atomic

        atomic.write_text(path, json.dumps(self.to_json(), ensure_ascii=False))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"The vocabulary file {path} does not exist.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise ConfigError(f"The vocabulary file {path} is not readable JSON.") from None
        return cls.from_json(data)


class TextDecoder:
    """Token ids to text one at a time, for characters and words: each token is its own text."""

    def __init__(self, texts: list[str]) -> None:
        self._texts = texts

    def decode(self, token: int) -> str:
        return self._texts[token]

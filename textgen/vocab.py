"""Token <-> id mapping at character, word or subword level, saved as vocab.json beside a model.

Subword tokens are byte-level byte-pair encoding (BPE), learned from the corpus with the `tokenizers`
library: frequent character runs (" the", "ing", "LORD") become single tokens, so a model reads about
three characters per step, and any text, in any script, encodes with no unknown token.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np

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


def tokenize(text: str, level: str = "char") -> list[str]:
    """Split text into tokens whose concatenation is exactly the text."""
    if level == "char":
        return list(text)
    if level == "word":
        return _TOKEN.findall(text)
    if level == "subword":
        raise ConfigError("Subword tokens depend on the vocabulary learned from a corpus: use Vocab.tokenize.")
    raise ConfigError(f"level must be 'char', 'word' or 'subword', not {level!r}")


def _byte_alphabet() -> list[str]:
    """The printable stand-in for each byte value in byte-level BPE token strings (index = byte).

    The usual byte-level scheme: printable Latin-1 bytes stand for themselves, and the others
    (control characters, space, a few more) take the code points from 256 up, in byte order.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    out, extra = [""] * 256, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


_BYTE_OF = {ch: b for b, ch in enumerate(_byte_alphabet())}


def _token_bytes(token: str) -> bytes:
    return bytes(_BYTE_OF[ch] for ch in token)


def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise ConfigError("Word pieces need the tokenizers package: run `make run` (or pip install -r "
                          "requirements.txt) to install it.") from None
    return tokenizers


def _bpe_tokenizer(ids: dict[str, int], merges: list[tuple[str, str]]):
    """The byte-level BPE encoder for these tokens and merges. Only the merges come from a file: the
    pre-tokenizer and decoder are fixed here, so an imported vocab.json cannot bring its own rules."""
    tk = _tokenizers()
    try:
        tok = tk.Tokenizer(tk.models.BPE(vocab=ids, merges=merges))
    except Exception:   # the library raises a bare Exception for merges of tokens it lacks
        raise ConfigError("The subword vocabulary's merges name tokens it does not have.") from None
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk.decoders.ByteLevel()
    return tok


def _train_bpe(text: str, size: int) -> tuple[list[str], list[tuple[str, str]]]:
    """(tokens, merges) of a byte-level BPE learned from text: <unk> is id 0, then the 256 bytes, then
    merged pieces until `size` tokens (or no pair repeats)."""
    tk = _tokenizers()
    tok = tk.Tokenizer(tk.models.BPE())
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tk.trainers.BpeTrainer(vocab_size=size, min_frequency=2, special_tokens=[UNK], show_progress=False,
                                     initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet())
    # Pieces of about 1 MB, cut after a newline: the trainer counts words per piece, and no word spans a cut.
    pieces, start = [], 0
    while start < len(text):
        end = text.find("\n", start + 1_000_000)
        end = len(text) if end < 0 else end + 1
        pieces.append(text[start:end])
        start = end
    tok.train_from_iterator(pieces or [""], trainer)
    model = json.loads(tok.to_str())["model"]
    ids = model["vocab"]
    # Merges are pairs (older releases of the library wrote "a b"; byte-level tokens hold no space).
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return sorted(ids, key=ids.get), merges


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
        self.merges, self._bpe, self.token_bytes = None, None, None
        if level == "subword":
            self._init_subword(merges)
        elif merges is not None:
            raise ConfigError("Only a subword vocabulary carries byte-pair merges.")

    def _init_subword(self, merges) -> None:
        if (not isinstance(merges, list)
                or not all(isinstance(m, (list, tuple)) and len(m) == 2 and all(isinstance(t, str) for t in m)
                           for m in merges)):
            raise ConfigError("A subword vocabulary needs its merges: a list of pairs of tokens.")
        merges = [tuple(m) for m in merges]
        try:
            self.token_bytes = [_UNK_TEXT.encode()] + [_token_bytes(t) for t in self.tokens[1:]]
        except KeyError:
            raise ConfigError("A subword vocabulary's tokens must be byte-level token strings.") from None
        if len(self.tokens) < 257 or sorted(self.tokens[1:257]) != sorted(_BYTE_OF):
            raise ConfigError("A subword vocabulary must hold the 256 bytes after <unk>.")
        if any(a + b not in self._ids for a, b in merges):
            raise ConfigError("A subword vocabulary's merges make tokens it does not have.")
        self._bpe = _bpe_tokenizer(self._ids, merges)
        self.merges = merges
        self._texts = [b.decode("utf-8", "replace") for b in self.token_bytes]

    @classmethod
    def build(cls, text: str, level: str = "char", max_size: int | None = None) -> "Vocab":
        """Most frequent tokens first (ties by token) so ids are the same for the same text.

        At subword level, max_size is the byte-pair vocabulary's size (default SUBWORD_SIZE)."""
        if level == "subword":
            size = SUBWORD_SIZE if max_size is None else max_size
            if not SUBWORD_MIN <= size <= SUBWORD_MAX:
                raise ConfigError(f"A subword vocabulary has between {SUBWORD_MIN} and {SUBWORD_MAX:,} tokens, not {size}.")
            tokens, merges = _train_bpe(text, size)
            return cls(tokens, level, merges)
        if max_size is not None and max_size < 2:
            raise ConfigError(f"A vocabulary needs room for at least one token besides {UNK}, not {max_size}.")
        if level == "char":
            counts = count_chars(text)  # NumPy counting: a Counter over 50 MB of text takes seconds
        else:
            counts = list(Counter(tokenize(text, level)).items())
        counts.sort(key=lambda tc: (-tc[1], tc[0]))
        kept = [t for t, _ in counts if t != UNK]
        if max_size is not None:
            kept = kept[:max_size - 1]
        return cls([UNK] + kept, level)

    def tokenize(self, text: str) -> list[str]:
        if self.level == "subword":
            return [self._texts[i] for i in self.encode(text)[0].tolist()]
        return tokenize(text, self.level)

    def encode(self, text: str) -> tuple[np.ndarray, list[str]]:
        """(ids, sorted unknown tokens); unknown tokens get id 0."""
        if self.level == "char":
            return self._encode_chars(text)
        if self.level == "subword":   # every byte is a token: nothing is unknown
            return np.asarray(self._bpe.encode(text).ids, dtype=np.int32), []
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
        texts = self._texts if self.token_bytes is None else self.token_bytes
        try:
            parts = [texts[i] for i in np.asarray(ids, dtype=np.int64).ravel().tolist()]
            if self.token_bytes is not None:   # a character may span two tokens: join the bytes first
                return b"".join(parts).decode("utf-8", "replace")
            return "".join(parts)
        except IndexError:
            raise ConfigError(f"A token id is outside this vocabulary of {len(self)} tokens.") from None

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

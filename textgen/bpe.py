"""Byte-level byte-pair encoding (word pieces): the subword level behind textgen.vocab.Vocab.

Pieces are learned from the corpus with the `tokenizers` library: frequent character runs (" the",
"ing", "LORD") become single tokens, so a model reads about three characters per step, and any
text, in any script, encodes with no unknown token. A token is a run of bytes: a character may span
two tokens, so text is decoded from bytes, and a stream of tokens through an incremental decoder.
"""
from __future__ import annotations

import codecs
import json

import numpy as np

from .errors import ConfigError

REPLACEMENT = "\ufffd".encode()   # what the unknown token (id 0) prints as


def byte_alphabet() -> list[str]:
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


_BYTE_OF = {ch: b for b, ch in enumerate(byte_alphabet())}


def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise ConfigError("Word pieces need the tokenizers package: run `make run` (or pip install -r "
                          "requirements.txt) to install it.") from None
    return tokenizers


def train(text: str, size: int, unknown: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(tokens, merges) learned from text: `unknown` is id 0, then the 256 bytes, then merged pieces
    until `size` tokens (or no pair repeats)."""
    tk = _tokenizers()
    tok = tk.Tokenizer(tk.models.BPE())
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tk.trainers.BpeTrainer(vocab_size=size, min_frequency=2, special_tokens=[unknown],
                                     show_progress=False, initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet())
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


class BytePairs:
    """Encodes and decodes with learned tokens (id 0 the unknown token, then the 256 bytes) and merges."""

    def __init__(self, tokens: list[str], merges) -> None:
        if (not isinstance(merges, list)
                or not all(isinstance(m, (list, tuple)) and len(m) == 2 and all(isinstance(t, str) for t in m)
                           for m in merges)):
            raise ConfigError("A subword vocabulary needs its merges: a list of pairs of tokens.")
        self.merges = [tuple(m) for m in merges]
        try:
            self.token_bytes = [REPLACEMENT] + [bytes(_BYTE_OF[ch] for ch in t) for t in tokens[1:]]
        except KeyError:
            raise ConfigError("A subword vocabulary's tokens must be byte-level token strings.") from None
        if len(tokens) < 257 or sorted(tokens[1:257]) != sorted(_BYTE_OF):
            raise ConfigError("A subword vocabulary must hold the 256 bytes after <unk>.")
        ids = {t: i for i, t in enumerate(tokens)}
        if any(a + b not in ids for a, b in self.merges):
            raise ConfigError("A subword vocabulary's merges make tokens it does not have.")
        self._tok = self._tokenizer(ids)
        self.texts = [b.decode("utf-8", "replace") for b in self.token_bytes]   # each token alone

    def _tokenizer(self, ids: dict[str, int]):
        """Only the merges come from a file: the pre-tokenizer and decoder are fixed here, so an
        imported vocab.json cannot bring its own rules."""
        tk = _tokenizers()
        try:
            tok = tk.Tokenizer(tk.models.BPE(vocab=ids, merges=self.merges))
        except Exception:   # the library raises a bare Exception for merges of tokens it lacks
            raise ConfigError("The subword vocabulary's merges name tokens it does not have.") from None
        tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = tk.decoders.ByteLevel()
        return tok

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self._tok.encode(text).ids, dtype=np.int32)          # (tokens,)

    def decode(self, ids: list[int]) -> str:
        """Bytes joined first: a character may span two tokens. Raises IndexError for unknown ids."""
        return b"".join([self.token_bytes[i] for i in ids]).decode("utf-8", "replace")

    def starting_with(self, prefix: bytes) -> np.ndarray:
        """Which tokens' bytes start with prefix: (vocab,) bool."""
        return np.fromiter((b.startswith(prefix) for b in self.token_bytes), bool, len(self.token_bytes))

    def decoder(self, skip: int = 0) -> "ByteDecoder":
        return ByteDecoder(self.token_bytes, skip)


class ByteDecoder:
    """Token ids to text one at a time; a character split over two tokens comes out whole, with the second.

    `skip`: bytes to drop from the first token, which the text already ends with (token healing).
    """

    def __init__(self, token_bytes: list[bytes], skip: int = 0) -> None:
        self._bytes, self._skip = token_bytes, skip
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")

    def decode(self, token: int) -> str:
        raw = self._bytes[token]
        if self._skip:
            raw, self._skip = raw[self._skip:], 0
        return self._utf8.decode(raw)

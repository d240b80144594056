"""Turn what a writer brings (pasted text, uploaded files, paths) into one clean text with stats."""
from __future__ import annotations

import codecs
import hashlib
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from .config import env_int
from .errors import CorpusError

ACCEPTED_SUFFIXES = (".txt", ".md", ".docx")
DEFAULT_MAX_BYTES = env_int("INKWELL_MAX_CORPUS_MB", 50) * 1024 * 1024

PASTED = "pasted text"
UPLOADED = "uploaded file"
_SAMPLE = 64 * 1024              # bytes/chars looked at when guessing encodings or sniffing binary
_CONTROL_LIMIT = 0.10            # share of control characters above which a "text" is really binary
_TOP_CHARS = 30
# C0 and C1 controls, DEL; the whitespace controls are ordinary in text (\f marks pages in old books).
_CONTROL = frozenset(map(chr, [*range(32), *range(0x7F, 0xA0)])) - set("\t\n\r\f")

Source = Union[str, bytes, os.PathLike, Sequence[Union[os.PathLike, tuple[str, bytes]]]]


@dataclass(frozen=True)
class CleanOptions:
    collapse_blank_lines: bool = False   # runs of 3+ newlines (lines of only spaces count as blank) -> one blank line
    strip_gutenberg: bool = False        # drop a Project Gutenberg licence header and footer
    lowercase: bool = False              # fold case, shrinking a char vocabulary for small models


@dataclass(frozen=True)
class CorpusStats:
    chars: int                               # code points in the text
    distinct: int                            # distinct code points
    words: int                               # whitespace-separated words, plus one per CJK ideograph or kana
    lines: int                               # newline count + 1; 0 for an empty text
    top_chars: tuple[tuple[str, int], ...]   # the 30 most frequent characters, most frequent first
    rare: int = 0                            # distinct characters a character vocabulary maps to <unk> (vocab.py)
    has_words: bool = True                   # False when most letters are CJK: no spaces, so no word count to show


@dataclass(frozen=True)
class Corpus:
    text: str                  # normalised (LF newlines, NFC) and cleaned text
    encoding: str              # encoding(s) the bytes were read with, comma-joined when files differ
    sources: tuple[str, ...]   # file names, or ("pasted text",)
    stats: CorpusStats = field(repr=False)

    @property
    def encoding_label(self) -> str:
        """The encoding(s) in a few words, short enough for a metric: "utf-8", "utf-8 + gb18030", "3 encodings"."""
        names = self.encoding.split(",")
        return " + ".join(names) if len(names) <= 2 else f"{len(names)} encodings"

    @property
    def digest(self) -> str:
        """Identifies the exact training text in a run's config, so runs can say what they learned from."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def decode_bytes(data: bytes, name: str = "the file") -> tuple[str, str]:
    """Decode a text file's bytes, returning (text, encoding used); binary data is refused."""
    if data.startswith(codecs.BOM_UTF8):
        text, enc = _strict(data, "utf-8-sig", name), "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # UTF-16 text is full of NUL bytes, so the NUL test can only run on the decoded text.
        text, enc = _strict(data, "utf-16", name), "utf-16"
        if "\x00" in text:
            raise _binary(name)
    else:
        if b"\x00" in data:
            raise _binary(name)
        try:
            text, enc = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as err:
            text, enc = _decode_legacy(data, err.start, name)
    if _looks_binary(text):
        raise _binary(name)
    return text, enc


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise CorpusError(f"{_cap(name)} starts with a {encoding} marker but is not valid {encoding} text.") from None


def _decode_legacy(data: bytes, bad_at: int, name: str) -> tuple[str, str]:
    """Pick a legacy encoding from a sample around the first non-UTF-8 byte, then decode everything."""
    sample = _sample_around(data, bad_at)
    # Short Western samples fool statistical detectors ("café" comes back as cp1006 or cp775), so a
    # sample that reads as plausible cp1252 skips the detector; it still decides Chinese, Cyrillic, ...
    guess = None if _western_plausible(sample) else _guess(sample)
    candidates = [enc for enc in (guess, "cp1252", "latin-1") if enc]
    for enc in dict.fromkeys(candidates):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise _binary(name)  # unreachable in practice: latin-1 decodes any byte


def _sample_around(data: bytes, bad_at: int) -> bytes:
    # Start at a line boundary so a multi-byte character is not cut in half.
    lo = data.rfind(b"\n", max(0, bad_at - 4096), bad_at) + 1 if bad_at else 0
    if lo == 0 and bad_at > 4096:
        lo = bad_at
    chunk = data[lo:lo + _SAMPLE]
    if lo + _SAMPLE < len(data):
        cut = chunk.rfind(b"\n")
        if cut > len(chunk) // 2:
            chunk = chunk[:cut]
    return chunk


def _guess(sample: bytes) -> str | None:
    from charset_normalizer import from_bytes  # import on first legacy file: most uploads are UTF-8

    best = from_bytes(sample).best()
    if best is None:
        return None
    name = codecs.lookup(best.encoding).name
    # GB18030 is a superset of GB2312 and GBK, so it reads any of them and never fails on rarer characters.
    return "gb18030" if name in ("gb2312", "gbk", "gb18030", "hz") else name


def _western_plausible(sample: bytes) -> bool:
    """Does the sample read as a Western European language in cp1252?

    In Western text accented letters are a minority inside mostly-ASCII words, whereas Cyrillic or
    Greek code pages read through cp1252 give words made only of accented letters, and Central
    European ones put symbols such as ¿ ³ ¹ between letters.
    """
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    letters = high_letters = mess = 0
    for i, ch in enumerate(text):
        if ch.isalpha():
            letters += 1
            high_letters += ch > "\x7f"
        elif ch > "\x7f" and not "\u2010" <= ch <= "\u205e" and 0 < i < len(text) - 1:
            mess += text[i - 1].isalpha() and text[i + 1].isalpha()
    return letters > 0 and high_letters / letters < 0.4 and mess == 0


def _looks_binary(text: str) -> bool:
    # Three windows so a text file with a binary tail (or head) is still caught cheaply.
    n = len(text)
    windows = {0, max(0, n // 2 - _SAMPLE // 2), max(0, n - _SAMPLE)}
    sample = "".join(text[s:s + _SAMPLE] for s in sorted(windows))
    if not sample:
        return False
    return sum(ch in _CONTROL for ch in sample) / len(sample) > _CONTROL_LIMIT


def _binary(name: str) -> CorpusError:
    return CorpusError(f"{_cap(name)} looks like binary data (an image or archive?), not text.")


def _cap(name: str) -> str:
    return name[:1].upper() + name[1:] if name.startswith("the ") else name


def _read_source(item: os.PathLike | tuple[str, bytes], max_bytes: int) -> tuple[str, bytes]:
    if isinstance(item, tuple) and len(item) == 2:
        name, data = str(item[0]), item[1]
        if not isinstance(data, (bytes, bytearray)):
            raise CorpusError(f"The upload {name} has no file content.")
        _check_size(len(data), max_bytes, name)
        return name, bytes(data)
    if not isinstance(item, (str, os.PathLike)):
        raise CorpusError(f"Cannot read a corpus from a {type(item).__name__}; give a file path or an upload.")
    path = Path(item)
    if not path.exists():
        raise CorpusError(f"The file {path} does not exist.")
    if not path.is_file():
        raise CorpusError(f"{path} is a folder, not a text file.")
    _check_size(path.stat().st_size, max_bytes, path.name)  # before reading: a huge file never enters memory
    try:
        return path.name, path.read_bytes()
    except OSError as err:
        raise CorpusError(f"{path} cannot be read ({err.strerror or err}).") from None


def _file_text(name: str, data: bytes, max_bytes: int) -> tuple[str, str]:
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise CorpusError(f"{name} cannot be used: Inkwell accepts .txt, .md or .docx files.")
    if suffix == ".docx":
        text = _docx_text(name, data)
        _check_size(len(text.encode("utf-8")), max_bytes, name)  # a small zip can hold a lot of text
        return text, "utf-8"  # Word stores its XML as UTF-8
    return decode_bytes(data, name)


def _docx_text(name: str, data: bytes) -> str:
    import docx  # python-docx is only needed for Word uploads

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # python-docx raises zip, KeyError and package errors alike for a broken file
        raise CorpusError(f"{name} is not a readable Word document.") from None
    return "\n".join(_docx_lines(document))


def _docx_lines(container):
    """Paragraphs and tables in document order; a table gives each cell's text, row by row.

    A merged cell appears once per grid column (and row) it spans in python-docx, so each is read once.
    """
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            # The cell elements themselves, not their id(): a proxy freed meanwhile can hand its id to another cell.
            seen: list = []
            for row in block.rows:
                for cell in row.cells:
                    if not any(cell._tc is tc for tc in seen):
                        seen.append(cell._tc)
                        yield from _docx_lines(cell)   # a cell holds paragraphs and maybe tables of its own
        else:
            yield block.text


def _check_size(size: int, max_bytes: int, name: str, verb: str = "is") -> None:
    if size > max_bytes:
        raise CorpusError(f"{_cap(name)} {verb} {_mb(size)}, over the {_mb(max_bytes)} limit.")


def _mb(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.1f} MB" if mb >= 0.1 else f"{mb:.6f}".rstrip("0").rstrip(".") + " MB"


_GUTENBERG_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK.*$", re.I | re.M)
_GUTENBERG_END = re.compile(r"^\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK.*$", re.I | re.M)
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n){2,}")


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    return text.lstrip("\ufeff")


def _clean(text: str, opts: CleanOptions) -> str:
    if opts.strip_gutenberg:
        start = _GUTENBERG_START.search(text)
        if start:
            text = text[start.end():]
        end = _GUTENBERG_END.search(text)
        if end:
            text = text[:end.start()]
        if start or end:
            text = text.strip("\n")
    if opts.collapse_blank_lines:
        text = _BLANK_RUN.sub("\n\n", text)
    if opts.lowercase:
        text = text.lower()
    return text


def _check_not_empty(text: str, name: str) -> None:
    label = {PASTED: "The text", UPLOADED: "The file"}.get(name, name)
    if not text:
        raise CorpusError(f"{label} is empty.")
    if text.isspace():  # no copy, unlike strip(), and stops at the first visible character
        raise CorpusError(f"{label} contains only whitespace.")


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
    from .vocab import kept_chars   # vocab imports this module

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


def load_corpus(source: Source, *, clean: CleanOptions | None = None, max_bytes: int | None = None) -> Corpus:
    """Read pasted text, raw bytes, a file or several files into one normalised, cleaned Corpus."""
    opts = clean or CleanOptions()
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    pieces: list[tuple[str, str, str]] = []  # (name, text, encoding)
    if isinstance(source, str):
        _check_size(len(source.encode("utf-8", "surrogatepass")), cap, "the text")
        pieces.append((PASTED, source, "utf-8"))
    elif isinstance(source, (bytes, bytearray)):
        _check_size(len(source), cap, "the file")
        text, enc = decode_bytes(bytes(source), "the file")
        pieces.append((UPLOADED, text, enc))
    else:
        items = [source] if isinstance(source, os.PathLike) else source
        if not isinstance(items, (list, tuple)) or not items:
            raise CorpusError("No text was given: paste some text or choose at least one file.")
        raw = [_read_source(item, cap) for item in items]
        _check_size(sum(len(data) for _, data in raw), cap, "the files together", "come to")
        for name, data in raw:
            pieces.append((name, *_file_text(name, data, cap)))

    # Cleaning is per file so each Gutenberg book loses its own header and footer.
    texts = []
    for name, text, _ in pieces:
        text = _clean(_normalise(text), opts)
        _check_not_empty(text, name)
        texts.append(text)
    text = "\n\n".join(texts)
    encoding = ",".join(dict.fromkeys(enc for _, _, enc in pieces))
    return Corpus(text=text, encoding=encoding, sources=tuple(n for n, _, _ in pieces), stats=compute_stats(text))

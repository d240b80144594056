"""Turn what a writer brings (pasted text, uploaded files, paths) into one clean text with stats.

Decoding bytes is textgen.decoding's and the figures textgen.textstats'; their names importers use
(decode_bytes, CorpusStats, count_chars, CJK_CHARS, ...) are still importable from here."""
from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

from .config import env_int
from .decoding import _cap, decode_bytes   # _cap keeps its name: the catalogue's error templates quote it
from .errors import CorpusError
from .textstats import (CJK_CHARS, LABELS, CorpusStats, char_label, cjk_share, compute_stats,  # noqa: F401  (old import path)
                        count_chars, is_cjk_text)

ACCEPTED_SUFFIXES = (".txt", ".md", ".docx")
DEFAULT_MAX_BYTES = env_int("INKWELL_MAX_CORPUS_MB", 50) * 1024 * 1024

PASTED = "pasted text"
UPLOADED = "uploaded file"

Source = Union[str, bytes, os.PathLike, Sequence[Union[os.PathLike, tuple[str, bytes]]]]


@dataclass(frozen=True)
class CleanOptions:
    collapse_blank_lines: bool = False   # runs of 3+ newlines (lines of only spaces count as blank) -> one blank line
    strip_gutenberg: bool = False        # drop a Project Gutenberg licence header and footer
    lowercase: bool = False              # fold case, shrinking a char vocabulary for small models


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

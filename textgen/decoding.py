"""A text file's bytes as text: a byte-order mark, UTF-8, else a legacy encoding guessed from a sample
around the first byte UTF-8 refuses; binary data (an image, an archive) is refused in one sentence."""
from __future__ import annotations

import codecs

from .errors import CorpusError

_SAMPLE = 64 * 1024              # bytes/chars looked at when guessing encodings or sniffing binary
_CONTROL_LIMIT = 0.10            # share of control characters above which a "text" is really binary
# C0 and C1 controls, DEL; the whitespace controls are ordinary in text (\f marks pages in old books).
_CONTROL = frozenset(map(chr, [*range(32), *range(0x7F, 0xA0)])) - set("\t\n\r\f")


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

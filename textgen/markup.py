"""Markdown for the writer's text: escaped so it shows exactly as typed, on screen and in a .md file.

Two readers, two escapes. Streamlit's Markdown adds extras to CommonMark (:color[...], $math$,
directives, bare-URL links), so text on screen escapes every ASCII punctuation mark. A downloaded
file is read by people and by CommonMark/GFM tools, so it escapes only what those would misread.
No Streamlit here: pages pass the results to st.markdown and friends.
"""
from __future__ import annotations

import re
import time
import unicodedata
from typing import Iterable, Iterator

from .scripts import has_cjk

WORD_JOINER = "\u2060"
NBSP = "\u00a0"
# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all also
# defuses the extensions renderers add on top (GFM tables and strikethrough, $math$, :directives[]).
_SCREEN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
# GFM turns bare URLs, www. names and e-mail addresses into links after escapes are resolved, so only
# a change to the text stops it: an invisible WORD JOINER before "://", after "www" and before "@".
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=www)(?=\.)|(?=@)")
# What CommonMark and GFM read as syntax anywhere in a line: escapes, code, emphasis, links and images,
# HTML and autolinks, strikethrough, table cells, and an '&' that would spell an entity.
_FILE_INLINE = re.compile(r"[\\`*_\[\]<~|]|&(?=#?[0-9A-Za-z]+;)")
# ... and at a line's start: headings, block quotes, list items, rules and setext underlines (a
# backslash before the first mark is enough), ordered list items (before the "." of "1." or ")" of "1)").
_FILE_LINE_START = re.compile(r"(?=[#>+=-])|[0-9]{1,9}(?=[.)])")
# The characters the stream escapes before: they would let a streamed URL or address become a link.
_STREAM_JOIN = ":.@"
# Italic markers around the text in a model format, and a Streamlit colour directive around it.
_ITALIC = re.compile(r"(?<![*_])([*_])\{\}\1(?![*_])")
_COLOUR = re.compile(r":([a-z]+)\[\{\}\]")


def cjk_format(model_format: str) -> str:
    """The model format for text with Chinese or Japanese in it: never italic, which CJK fonts lack (the
    browser slants the glyphs instead). A coloured italic becomes a coloured highlight (":violet[*{}*]" ->
    ":violet-background[{}]"), a plain italic bold ("*{}*" -> "**{}**", which CJK fonts do carry)."""
    plain = _ITALIC.sub("{}", model_format)
    if plain == model_format:
        return model_format
    colour = _COLOUR.fullmatch(plain)
    if colour:
        return f":{colour.group(1)}-background[{{}}]"
    return plain.replace("{}", "**{}**", 1) if "[" not in plain else plain


def escape_markdown(text: str, break_links: bool = False) -> str:
    """Text that Streamlit's Markdown renders as exactly itself: no emphasis, links, HTML or extras.

    `break_links` also stops GFM's bare-URL links (for on-screen views; it adds invisible characters).
    """
    if break_links:
        text = _AUTOLINK.sub(WORD_JOINER, text)
    return _SCREEN_SPECIAL.sub(r"\\\1", text)


def escape_file(text: str) -> str:
    """Text inside a line that a CommonMark/GFM renderer shows as itself; plain punctuation is left alone.

    What would start a block at a line's start is draft_markdown's to escape: it sees whole lines.
    """
    return _FILE_INLINE.sub(lambda m: "\\" + m.group(), text)


class StreamEscaper:
    """Escapes text that arrives in pieces (st.write_stream), remembering where lines start."""

    def __init__(self) -> None:
        self._line_start = False

    def __call__(self, piece: str) -> str:
        out = []
        for ch in piece:
            if ch == "\n":
                out.append("  \n")        # a hard break that shows nothing at the end of the text
                self._line_start = True
            elif self._line_start and ch in " \t":
                out.append(NBSP)          # indented lines would otherwise become a code block
            else:
                out.append((WORD_JOINER if ch in _STREAM_JOIN else "") + escape_markdown(ch))
                self._line_start = False
        return "".join(out)


def stream_markdown(pieces: Iterable[str], kept: list[str], every: float = 0.04) -> Iterator[str]:
    """Model text for st.write_stream: escaped, and in batches at most every `every` seconds, not per
    character (each update re-renders the element). The raw pieces are appended to `kept` as they come."""
    escape, buf, last = StreamEscaper(), [], time.monotonic()
    for piece in pieces:
        kept.append(piece)
        buf.append(escape(piece))
        if time.monotonic() - last >= every:
            yield "".join(buf)
            buf, last = [], time.monotonic()
    if buf:
        yield "".join(buf)


def draft_markdown(segments: list[dict], model_format: str = "*{}*", screen: bool = False) -> str:
    """A draft's segments as Markdown that renders as its text; the model's text wrapped in `model_format`.

    Emphasis cannot span lines or start or end with a space, so the model's text is wrapped line by
    line with its outer spaces left outside. Single line breaks become hard breaks (a backslash before
    the newline), blank lines a paragraph break, and leading spaces no-break spaces: plain Markdown
    would join the lines or read indented ones as code. `screen`: for Streamlit's Markdown (every
    punctuation mark escaped, bare URLs kept from becoming links); otherwise for a .md file. A span with
    Chinese or Japanese in it takes cjk_format(model_format) instead: it is never set in italics.
    """
    lines = split_lines((seg["author"], seg["text"]) for seg in segments)   # per line: (author, text) pieces
    return join_lines(_render_line(pieces, model_format, screen) for pieces in lines)


def split_lines(tagged) -> list[list[tuple]]:
    """(tag, text) pieces regrouped per line of the whole text: [[(tag, text on line 1), ...], ...]."""
    lines: list[list[tuple]] = [[]]
    for tag, text in tagged:
        for i, part in enumerate(text.split("\n")):
            if i:
                lines.append([])
            if part:
                lines[-1].append((tag, part))
    return lines


def join_lines(rendered) -> str:
    """Rendered lines joined as Markdown: a hard break between lines, a paragraph break where blank lines were."""
    out: list[str] = []
    blank = False
    for line in rendered:
        if not line:
            blank = bool(out)
            continue
        if out:
            out.append("\n\n" if blank else "\\\n")
        out.append(line)
        blank = False
    return "".join(out)


def _render_line(pieces: list[tuple[str, str]], model_format: str, screen: bool) -> str:
    text = "".join(t for _, t in pieces)
    indent = len(text) - len(text.lstrip(" \t"))
    end = len(text.rstrip())
    if end <= indent:
        return ""

    # In a file, the mark that would start a block gets a backslash, in whichever piece it falls.
    start_mark = None if screen else _FILE_LINE_START.match(text, indent, end)
    mark = -1 if start_mark is None else start_mark.end()

    def esc(chunk: str, at: int) -> str:
        if screen:
            return escape_markdown(chunk, break_links=True)
        if at <= mark < at + len(chunk):
            return escape_file(chunk[:mark - at]) + "\\" + escape_file(chunk[mark - at:])
        return escape_file(chunk)

    out, pos = [NBSP * indent], 0
    for author, piece in pieces:
        lo, hi = max(pos, indent), min(pos + len(piece), end)
        pos += len(piece)
        if lo >= hi:
            continue
        chunk = text[lo:hi]
        body = chunk.strip()
        if author != "model" or not body:
            out.append(esc(chunk, lo))
            continue
        start = lo + len(chunk) - len(chunk.lstrip())
        stop = start + len(body)
        if not screen:
            start, stop = _flanking(text, start, stop)
        out.append(esc(text[lo:start], lo))
        if start < stop:
            span = text[start:stop]
            fmt = cjk_format(model_format) if has_cjk(span) else model_format
            out.append(fmt.format(esc(span, start)))
        out.append(esc(text[stop:hi], stop))
    return "".join(out)


def _flanking(text: str, start: int, stop: int) -> tuple[int, int]:
    """Narrow text[start:stop] so '*' around it is emphasis by CommonMark's flanking rules.

    A '*' between a letter and a punctuation mark ("Hello*, world*") opens or closes nothing and
    would show as itself: the marks and spaces at that edge stay outside the emphasis.
    """
    if start > 0 and _is_word(text[start - 1]) and _is_mark(text[start]):
        while start < stop and not _is_word(text[start]):
            start += 1
    if stop < len(text) and _is_word(text[stop]) and _is_mark(text[stop - 1]):
        while stop > start and not _is_word(text[stop - 1]):
            stop -= 1
    return start, stop


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"          # CommonMark's "punctuation character"


def _is_word(ch: str) -> bool:
    return not ch.isspace() and not _is_mark(ch)

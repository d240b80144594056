"""The draft in memory: who wrote what, and undo/redo of the model's pieces (textgen.drafts saves it).

A draft is a list of segments `{"author": "writer" | "model", "text": str}`; consecutive segments
of one author are merged and empty ones dropped, so equal drafts have equal segment lists.
Undo and redo entries are either a piece the model appended (its text) or a branch: the model's last
piece rewritten from some point on, {"old": the entry it replaced, "new": the new piece's text}.
"""
from __future__ import annotations

from typing import Self

from .errors import InkwellError
from .markup import draft_markdown

AUTHORS = ("writer", "model")
MAX_CHARS = 500_000     # a novella; bigger drafts belong in a file, not a text box saved on every edit
MAX_UNDO = 200          # appended pieces remembered for undo (and branches of one piece kept in its entry)


class DraftError(InkwellError, ValueError):
    """A draft key or draft file cannot be used."""


def _merge(segments) -> list[dict]:
    out: list[dict] = []
    for seg in segments:
        author, text = seg["author"], seg["text"]
        if not text:
            continue
        if out and out[-1]["author"] == author:
            out[-1] = {"author": author, "text": out[-1]["text"] + text}
        else:
            out.append({"author": author, "text": text})
    return out


def _slice(segments: list[dict], start: int, stop: int) -> list[dict]:
    """The segments covering characters [start, stop) of the joined text, cut at the ends."""
    out, pos = [], 0
    for seg in segments:
        end = pos + len(seg["text"])
        lo, hi = max(start, pos), min(stop, end)
        if lo < hi:
            out.append({"author": seg["author"], "text": seg["text"][lo - pos: hi - pos]})
        pos = end
    return out


def piece_text(entry) -> str:
    """The text an undo entry left at the draft's end: the piece, or a branch's new piece."""
    return entry if isinstance(entry, str) else entry["new"]


def _entry_ok(entry, depth: int = 0) -> bool:
    if isinstance(entry, str):
        return True
    return (isinstance(entry, dict) and set(entry) == {"old", "new"} and isinstance(entry["new"], str)
            and depth < MAX_UNDO and _entry_ok(entry["old"], depth + 1))


def _shallow(entry, depth: int = 0):
    """The entry with at most MAX_UNDO branches of one piece: beyond that the oldest becomes a plain
    piece (undoing it removes it, as for a piece appended)."""
    if isinstance(entry, str):
        return entry
    if depth + 1 >= MAX_UNDO:
        return entry["new"]
    return {"old": _shallow(entry["old"], depth + 1), "new": entry["new"]}


def _check_size(text: str) -> None:
    if len(text) > MAX_CHARS:
        raise DraftError(f"The draft would be {len(text):,} characters; the limit is {MAX_CHARS:,}.")


class DraftText:
    """The draft's segments and undo/redo stacks, and every edit of them; textgen.drafts.Draft adds storage."""

    def __init__(self, segments=None, undo=None, redo=None):
        segments = list(segments or [])
        for seg in segments:
            if (not isinstance(seg, dict) or seg.get("author") not in AUTHORS
                    or not isinstance(seg.get("text"), str)):
                raise DraftError("A draft segment must be {'author': 'writer' or 'model', 'text': str}.")
        for stack in (undo or [], redo or []):
            if not all(_entry_ok(p) for p in stack):
                raise DraftError("Undo and redo entries must be text, or a branch {'old': entry, 'new': text}.")
        self.segments: list[dict] = _merge(segments)
        self.undo_stack: list = list(undo or [])[-MAX_UNDO:]   # model pieces and branches, most recent last
        self.redo_stack: list = list(redo or [])[-MAX_UNDO:]   # undone ones, most recent last
        _check_size(self.text)

    @classmethod
    def from_text(cls, text: str, author: str = "writer") -> Self:
        return cls([{"author": author, "text": text}])

    @property
    def text(self) -> str:
        return "".join(seg["text"] for seg in self.segments)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DraftText) and (self.segments, self.undo_stack, self.redo_stack) == (
            other.segments, other.undo_stack, other.redo_stack)

    def __repr__(self) -> str:
        return f"Draft({len(self.segments)} segments, {len(self.text)} chars)"

    # -- changes -------------------------------------------------------------------------------
    def append_model(self, text: str) -> None:
        """The writer kept a continuation: it joins the draft as the model's and can be undone."""
        if not isinstance(text, str):
            raise DraftError("A continuation must be text.")
        if not text:
            return
        _check_size(self.text + text)
        self.segments = _merge(self.segments + [{"author": "model", "text": text}])
        self.undo_stack = (self.undo_stack + [text])[-MAX_UNDO:]
        self.redo_stack = []

    def replace_model(self, old: str, new: str) -> None:
        """A branch: the model's last piece `old` (at the draft's end, on top of the undo stack) is
        rewritten as the model's `new`; Undo puts `old` back exactly, also after a reload."""
        if not isinstance(old, str) or not isinstance(new, str):
            raise DraftError("A branch replaces a piece of text with text.")
        if self.last_piece != old or not self.can_undo:
            raise DraftError("The draft no longer ends with the model's last piece, so it cannot be branched.")
        _check_size(self.text[:len(self.text) - len(old)] + new)
        self._truncate(len(self.text) - len(old))
        self.segments = _merge(self.segments + [{"author": "model", "text": new}])
        self.undo_stack[-1] = _shallow({"old": self.undo_stack[-1], "new": new})
        self.redo_stack = []

    @property
    def last_piece(self) -> str | None:
        """The text the model's last piece (or branch) left, or None when there is nothing to undo."""
        return piece_text(self.undo_stack[-1]) if self.undo_stack else None

    def set_text(self, new: str) -> bool:
        """The writer edited the whole text freely. Returns whether anything changed.

        Attribution is kept only where it is certain: the longest common prefix and the longest
        common suffix of the old and new text keep their authors; whatever lies between them (the
        edit) is the writer's. Typing after the model's piece, or fixing a typo earlier on, leaves
        the model's pieces marked as the model's.
        """
        if not isinstance(new, str):
            raise DraftError("The draft must be text.")
        old = self.text
        if new == old:
            return False
        _check_size(new)
        limit = min(len(old), len(new))
        p = 0
        while p < limit and old[p] == new[p]:
            p += 1
        s = 0
        while s < limit - p and old[len(old) - 1 - s] == new[len(new) - 1 - s]:
            s += 1
        self.segments = _merge(_slice(self.segments, 0, p)
                               + [{"author": "writer", "text": new[p: len(new) - s]}]
                               + _slice(self.segments, len(old) - s, len(old)))
        self.redo_stack = []
        return True

    def _truncate(self, length: int) -> None:
        self.segments = _merge(_slice(self.segments, 0, length))

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack) and self.text.endswith(piece_text(self.undo_stack[-1]))

    @property
    def can_redo(self) -> bool:
        return bool(self.redo_stack)

    def undo(self) -> str | None:
        """Remove the model's last piece if the draft still ends with it, or take back a branch (the piece
        it replaced comes back); returns the text removed, or None."""
        if not self.can_undo:
            return None
        entry = self.undo_stack.pop()
        piece = piece_text(entry)
        self._truncate(len(self.text) - len(piece))
        if not isinstance(entry, str):
            self.segments = _merge(self.segments + [{"author": "model", "text": piece_text(entry["old"])}])
            self.undo_stack.append(entry["old"])
        self.redo_stack.append(entry)
        return piece

    def redo(self) -> str | None:
        """Re-append the piece undone last, or branch again; returns its text, or None when there is
        nothing to redo (or the piece a branch replaced is no longer at the end)."""
        if not self.redo_stack:
            return None
        entry = self.redo_stack[-1]
        piece = piece_text(entry)
        if isinstance(entry, str):
            _check_size(self.text + piece)
        elif not self.undo_stack or self.undo_stack[-1] != entry["old"] or not self.can_undo:
            return None
        else:
            _check_size(self.text[:len(self.text) - len(piece_text(entry["old"]))] + piece)
            self._truncate(len(self.text) - len(piece_text(entry["old"])))
            self.undo_stack.pop()
        self.redo_stack.pop()
        self.segments = _merge(self.segments + [{"author": "model", "text": piece}])
        self.undo_stack = (self.undo_stack + [entry])[-MAX_UNDO:]
        return piece

    def clear(self) -> None:
        self.segments, self.undo_stack, self.redo_stack = [], [], []

    # -- export ---------------------------------------------------------------------------------
    def to_text(self) -> str:
        return self.text

    def to_markdown(self, model_format: str = "*{}*", screen: bool = False) -> str:
        """The draft as Markdown that renders as its text, the model's wrapped in `model_format`.

        `screen`: for Streamlit's Markdown (stricter escaping, no bare-URL links); else a .md file.
        """
        return draft_markdown(self.segments, model_format, screen)

"""The writer's draft: who wrote what, undo/redo of the model's pieces, saved in the workspace.

Undo and redo entries are either a piece the model appended (its text) or a branch: the model's last
piece rewritten from some point on, {"old": the entry it replaced, "new": the new piece's text}. Both are
in the saved file, so Undo after a reload still gives back the exact draft before a branch.

A draft is a list of segments `{"author": "writer" | "model", "text": str}`; consecutive segments
of one author are merged and empty ones dropped, so equal drafts have equal segment lists.
No Streamlit here: the Write page keys a draft by a token from the browser's URL. A draft saved by a
writer carries their owner id, and no other writer can open or overwrite it, even holding its key; a
draft saved before owners existed opens for whoever holds its key (as before) and is theirs once saved.
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from pathlib import Path

from . import atomic
from .errors import InkwellError
from .identity import AccessError, Identity, check, owner_of
from .markup import draft_markdown, escape_markdown  # noqa: F401  (escape_markdown: old import path)
from .runs import home

log = logging.getLogger("inkwell.drafts")

AUTHORS = ("writer", "model")
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_CHARS = 500_000     # a novella; bigger drafts belong in a file, not a text box saved on every edit
MAX_UNDO = 200          # appended pieces remembered for undo (and branches of one piece kept in its entry)
FORMAT_VERSION = 2      # 2: an undo/redo entry may be a branch ({"old", "new"}); version 1 files read as before


class DraftError(InkwellError, ValueError):
    """A draft key or draft file cannot be used."""


def check_key(key) -> str:
    """Keys come from a browser's URL: only a short run of safe characters may become a file name."""
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        shown = repr(key)[:40] + ("..." if len(repr(key)) > 40 else "")
        raise DraftError(f"{shown} is not a draft key (8 to 64 letters, digits, '-' or '_').")
    return key


def new_key() -> str:
    """A fresh draft key: 128 random bits, safe in a URL and as a file name."""
    return secrets.token_urlsafe(16)


def is_key(value) -> bool:
    return isinstance(value, str) and KEY_RE.fullmatch(value) is not None


def drafts_dir(workspace: str | os.PathLike | None = None) -> Path:
    return home(workspace) / "drafts"


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


class Draft:
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
    def from_text(cls, text: str, author: str = "writer") -> "Draft":
        return cls([{"author": author, "text": text}])

    @property
    def text(self) -> str:
        return "".join(seg["text"] for seg in self.segments)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Draft) and (self.segments, self.undo_stack, self.redo_stack) == (
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

    # -- storage --------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"format": FORMAT_VERSION, "segments": self.segments,
                "undo": self.undo_stack, "redo": self.redo_stack}

    @classmethod
    def from_json(cls, data) -> "Draft":
        if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
            raise DraftError("A draft file must hold a JSON object with a list of segments.")
        undo, redo = data.get("undo", []), data.get("redo", [])
        if not isinstance(undo, list) or not isinstance(redo, list):
            raise DraftError("A draft file's undo and redo entries must be lists.")
        return cls(data["segments"], undo, redo)

    def save(self, key: str, workspace: str | os.PathLike | None = None, owner: Identity | None = None) -> Path:
        """Save under key as `owner`'s; another writer's draft under that key is refused, never overwritten."""
        path = drafts_dir(workspace) / f"{check_key(key)}.json"
        keeper = owner_of(owner)
        if owner is not None and not owner.host:
            check(owner, _owner_in(path), "draft")
        elif path.exists():   # the host or the command line editing a writer's draft leaves it the writer's
            keeper = _owner_in(path) or keeper
        atomic.write_json(path, {**self.to_json(), "owner": keeper})
        return path

    @classmethod
    def path(cls, key: str, workspace: str | os.PathLike | None = None) -> Path:
        return drafts_dir(workspace) / f"{check_key(key)}.json"

    @classmethod
    def stamp(cls, key: str, workspace: str | os.PathLike | None = None) -> int | None:
        """The saved file's version (its mtime in ns), or None without one: a stat tells that another tab saved."""
        try:
            return cls.path(key, workspace).stat().st_mtime_ns
        except OSError:
            return None

    @classmethod
    def load(cls, key: str, workspace: str | os.PathLike | None = None, owner: Identity | None = None) -> "Draft":
        """The draft saved under key, or an empty one when there is none yet; another writer's is refused."""
        path = cls.path(key, workspace)
        try:
            raw = path.read_text("utf-8")
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as e:
            raise DraftError(f"The saved draft could not be read ({e.__class__.__name__}).") from None
        try:
            data = json.loads(raw)
            draft = cls.from_json(data)
        except ValueError as e:   # JSONDecodeError and DraftError are both ValueErrors
            raise DraftError(f"The saved draft is damaged and cannot be opened ({e}).") from None
        check(owner, data.get("owner"), "draft")
        return draft


def _owner_in(path: Path) -> str | None:
    """The owner written in a saved draft file; None when there is none (or no readable file)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("owner") if isinstance(data, dict) else None


class DraftSlot:
    """A browser tab's draft, kept in `state` (any mapping that lives across the tab's reruns, such as
    Streamlit's session_state) and saved in the workspace under the key the tab's link carries."""

    KEY, DRAFT, FOR, STAMP = "draft_key", "draft", "draft_for", "draft_stamp"   # its entries in state

    def __init__(self, state, workspace: str | os.PathLike | None = None, owner: Identity | None = None) -> None:
        self.state, self.workspace, self.owner = state, workspace, owner

    def open(self, link: str | None) -> tuple[Draft, str, list[tuple[str, str]]]:
        """(the draft, the key the link should carry, notes for the writer as (kind, sentence)).

        The link's key if it is one, else the tab's (a page switch can drop the query string), else a
        new one. The tab's own draft is kept unless its file changed (the same link open in another tab).
        """
        notes = []
        key = link if is_key(link) else self.state.get(self.KEY)
        if link and key != link:
            notes.append(("warning", "The draft link in the address bar was not valid, so a new draft was started."))
        key = self.state[self.KEY] = key if is_key(key) else new_key()
        draft = self.state.get(self.DRAFT)
        if isinstance(draft, Draft) and self.state.get(self.FOR) == key \
                and self.state.get(self.STAMP) == Draft.stamp(key, self.workspace):
            return draft, key, notes
        try:
            draft = Draft.load(key, self.workspace, self.owner)
        except AccessError:   # a link to another writer's draft: say so, and start one of this writer's own
            notes.append(("error", "That draft link is another writer's, so a new draft was started for you."))
            key = self.state[self.KEY] = new_key()
            draft = Draft()
        except InkwellError as e:
            # Never write over a file that could not be read: the tab moves to a new key, the old file stays.
            notes.append(("error", f"{e} A new draft was started under a new link; the old file was left as it is."))
            key = self.state[self.KEY] = new_key()
            draft = Draft()
        self.state.update({self.DRAFT: draft, self.FOR: key, self.STAMP: Draft.stamp(key, self.workspace)})
        return draft, key, notes

    def save(self, draft: Draft) -> str | None:
        """Keep the draft as the tab's and save it; returns why it could not be written to disk, or None."""
        self.state[self.DRAFT] = draft
        key, problem = self.state[self.KEY], None
        try:
            draft.save(key, self.workspace, self.owner)
        except (InkwellError, OSError) as e:
            problem = f"The draft could not be saved to disk ({e}); it is still here in this tab."
        self.state[self.STAMP] = Draft.stamp(key, self.workspace)
        return problem


def prune(days: float, workspace: str | os.PathLike | None = None, now: float | None = None) -> int:
    """Delete drafts not saved for `days` days (a host's INKWELL_DRAFT_DAYS; 0 keeps them all). Returns how many."""
    if days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - days * 86400
    removed = 0
    for path in drafts_dir(workspace).glob("*.json"):
        try:
            if KEY_RE.match(path.stem) and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:   # another server process pruned it first
            pass
        except OSError as e:        # a file the server may not delete: leave it, never fail a page for it
            log.warning("could not prune draft %s: %s", path.name, e)
    return removed

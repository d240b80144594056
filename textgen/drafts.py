"""The writer's draft saved in the workspace: its file, its key, its owner, and a browser tab's slot for it.

The editing itself (segments, undo/redo, branches) is textgen.drafttext's; its undo and redo entries,
branches too, are in the saved file, so Undo after a reload still gives back the exact draft before a branch.
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
from .drafttext import AUTHORS, MAX_CHARS, MAX_UNDO, DraftError, DraftText, piece_text  # noqa: F401  (old import path)
from .errors import InkwellError
from .identity import AccessError, Identity, check, owner_of
from .markup import escape_markdown  # noqa: F401  (old import path)
from .workspace import home

log = logging.getLogger("inkwell.drafts")

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
FORMAT_VERSION = 2      # 2: an undo/redo entry may be a branch ({"old", "new"}); version 1 files read as before


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


class Draft(DraftText):
    """A draft as the app and the command line use it: its edits (DraftText), saved and loaded under a key."""

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

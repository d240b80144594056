"""Saved corpora: the cleaned texts a writer kept, in the workspace's corpora/ folder.

Each corpus is `<id>.txt` (the exact training text) beside `<id>.json` (its display name,
sources, encoding, stats and owner). Ids are generated and checked with a strict pattern before any
path is built from them; names are display labels only and never become paths.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path

from . import atomic
from .corpus import Corpus
from .errors import CorpusError
from .identity import Identity, check, may, owner_of
from .runs import clean_label, home

CORPUS_ID_RE = re.compile(r"^c-[0-9a-f]{12}$")
FORMAT_VERSION = 1


def _folder(workspace: str | os.PathLike | None) -> Path:
    return home(workspace) / "corpora"   # the same folder as Registry(workspace).home / "corpora"


def check_corpus_id(corpus_id: str) -> str:
    """Refuse anything but a generated id (traversal, slashes, NUL, huge strings) before it nears the disk."""
    if not isinstance(corpus_id, str) or not CORPUS_ID_RE.fullmatch(corpus_id):
        shown = repr(corpus_id)[:60]
        raise CorpusError(f"{shown} is not a saved corpus id (ids look like c-0123456789ab).")
    return corpus_id


def new_corpus_id() -> str:
    return "c-" + secrets.token_hex(6)


def corpus_path(corpus_id: str, workspace: str | os.PathLike | None = None, owner: Identity | None = None) -> Path:
    """The text file of a saved corpus (what a training worker reads); another writer's is refused."""
    path = _folder(workspace) / f"{check_corpus_id(corpus_id)}.txt"
    if not path.is_file():
        raise CorpusError(f"There is no saved corpus {corpus_id}; it may have been deleted.")
    if owner is not None:
        check(owner, (_read_meta(path.with_suffix(".json")) or {}).get("owner"), f"corpus {corpus_id}")
    return path


def owner_of_text(path: Path) -> tuple[bool, str | None]:
    """(whether path is a saved corpus's text, its owner): a job's corpus is checked by what it is."""
    path = Path(path)
    if path.suffix != ".txt" or not CORPUS_ID_RE.fullmatch(path.stem) or path.parent.name != "corpora":
        return False, None
    return True, (_read_meta(path.with_suffix(".json")) or {}).get("owner")


def save_corpus(name: str, corpus: Corpus, workspace: str | os.PathLike | None = None,
                owner: Identity | None = None) -> str:
    """Save a checked corpus as `owner`'s (None: the command line's, open to everyone); returns its id."""
    if not isinstance(corpus, Corpus):
        raise CorpusError("Only a checked corpus can be saved; check the text first.")
    folder = _folder(workspace)
    label = clean_label(name, "untitled corpus")
    for saved in list_corpora(workspace, owner):  # the same text under the same name: keep one copy
        if saved.get("digest") == corpus.digest and saved.get("name") == label \
                and saved.get("owner") == owner_of(owner):   # never hand back another writer's copy
            return saved["id"]
    corpus_id = new_corpus_id()
    while (folder / f"{corpus_id}.json").exists():  # 48 random bits: a clash is astronomically rare
        corpus_id = new_corpus_id()
    s = corpus.stats
    meta = {
        "format": FORMAT_VERSION, "id": corpus_id, "name": label,
        "sources": list(corpus.sources), "encoding": corpus.encoding, "digest": corpus.digest,
        "stats": {"chars": s.chars, "distinct": s.distinct, "words": s.words, "lines": s.lines,
                  "rare": s.rare, "has_words": s.has_words},
        "created": time.time(), "owner": owner_of(owner),
    }
    # Text first, metadata last: list_corpora only shows corpora whose metadata exists.
    atomic.write_text(folder / f"{corpus_id}.txt", corpus.text)
    atomic.write_json(folder / f"{corpus_id}.json", meta)
    return corpus_id


def _read_meta(path: Path) -> dict | None:
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("id") != path.stem or not CORPUS_ID_RE.fullmatch(path.stem):
        return None
    return meta


def list_corpora(workspace: str | os.PathLike | None = None, owner: Identity | None = None) -> list[dict]:
    """Metadata of the saved corpora `owner` may see, newest first; unreadable or half-written entries are skipped."""
    folder = _folder(workspace)
    out = []
    for path in folder.glob("c-*.json"):
        meta = _read_meta(path)
        if meta and (folder / f"{path.stem}.txt").is_file() and may(owner, meta.get("owner")):
            out.append(meta)
    return sorted(out, key=lambda m: (-float(m.get("created") or 0), m["id"]))


def load_saved(corpus_id: str, workspace: str | os.PathLike | None = None,
               owner: Identity | None = None) -> tuple[str, dict]:
    path = corpus_path(corpus_id, workspace, owner)
    meta = _read_meta(path.with_suffix(".json"))
    if meta is None:
        raise CorpusError(f"The saved corpus {corpus_id} has no readable description; save it again.")
    return path.read_text("utf-8"), meta


def delete_corpus(corpus_id: str, workspace: str | os.PathLike | None = None, owner: Identity | None = None) -> None:
    """Remove a saved corpus (only its owner or the host may). Runs trained on it keep their own copy of the text."""
    folder = _folder(workspace)
    check_corpus_id(corpus_id)
    paths = [folder / f"{corpus_id}.json", folder / f"{corpus_id}.txt"]
    if not any(p.exists() for p in paths):
        raise CorpusError(f"There is no saved corpus {corpus_id}; it may have been deleted already.")
    check(owner, (_read_meta(paths[0]) or {}).get("owner"), f"corpus {corpus_id}")
    for p in paths:  # metadata first, so a crash midway leaves nothing listed
        p.unlink(missing_ok=True)

"""A writer's interface preferences (the language), kept in the workspace beside their corpora and runs.

Keyed by the owner digest (never the token), one small JSON file each, so a choice survives a reload and a
server restart for whoever holds the same link.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from . import atomic

OWNER_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def _path(home: str | Path, owner: str) -> Path | None:
    return Path(home) / "prefs" / f"{owner}.json" if OWNER_RE.fullmatch(owner or "") else None


def load(home: str | Path, owner: str) -> dict:
    """The owner's saved preferences; {} when there are none or the file cannot be read."""
    path = _path(home, owner)
    try:
        data = json.loads(path.read_text("utf-8")) if path is not None else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(home: str | Path, owner: str, **values) -> None:
    path = _path(home, owner)
    if path is not None:
        atomic.write_bytes(path, json.dumps({**load(home, owner), **values}).encode("utf-8"))

"""The workspace folder, and the names that may go in it: run ids and run labels."""
from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from .errors import RunError

RUN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{3,40}$")
MAX_LABEL = 80


def home(path: str | os.PathLike | None = None) -> Path:
    """The workspace folder: the argument, else $INKWELL_HOME, else ./workspace."""
    p = Path(path or os.environ.get("INKWELL_HOME") or "workspace").resolve()
    (p / "runs").mkdir(parents=True, exist_ok=True)
    (p / "corpora").mkdir(parents=True, exist_ok=True)
    return p


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def check_run_id(run_id: str) -> str:
    """Run ids are generated; anything else (paths, traversal, odd bytes) is refused before it nears the disk."""
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        shown = repr(run_id)[:60]
        raise RunError(f"{shown} is not a run id (ids look like 20260101-120000-a1b2c3; see `python -m textgen runs`).")
    return run_id


def clean_label(label: str | None, default: str = "untitled") -> str:
    """A label is display text only: strip control characters and cap its length."""
    text = "".join(ch for ch in str(label or "") if ch.isprintable()).strip()
    return (text[:MAX_LABEL].rstrip() or default)

"""The workshop room: the host's limits for the session, and who has been here lately.

Limits live in the workspace (`room.json`), so every server process and every worker reads the same
ones; 0 means "the server's default" (INKWELL_MAX_JOBS, INKWELL_MAX_TRAIN_SECONDS). Who was seen when
is a small table in the registry, written at most once a minute per writer.
"""
from __future__ import annotations

import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .errors import ConfigError
from .identity import Identity
from .runs import Registry

ROOM_FILE = "room.json"
ACTIVE_SECONDS = 300.0     # a writer seen within five minutes counts as in the room now
SEEN_EVERY = 60.0          # a session writes its "last seen" at most this often
MAX_JOBS_LIMIT, MAX_SECONDS_LIMIT = 64, 24 * 3600
SEEN_SCHEMA = "CREATE TABLE IF NOT EXISTS seen (owner TEXT PRIMARY KEY, last REAL NOT NULL)"


@dataclass(frozen=True)
class Limits:
    max_jobs: int = 0              # jobs training at once; 0 = INKWELL_MAX_JOBS
    max_train_seconds: float = 0   # each job's time cap in seconds; 0 = INKWELL_MAX_TRAIN_SECONDS

    def validate(self) -> "Limits":
        if not (isinstance(self.max_jobs, int) and 0 <= self.max_jobs <= MAX_JOBS_LIMIT):
            raise ConfigError(f"Jobs at once must be a whole number from 0 (the default) to {MAX_JOBS_LIMIT}.")
        if not (0 <= float(self.max_train_seconds) <= MAX_SECONDS_LIMIT):
            raise ConfigError(f"Time per job must be from 0 (the default) to {MAX_SECONDS_LIMIT} seconds.")
        return self


def limits(reg: Registry | None = None) -> Limits:
    """The host's limits; a missing or damaged file gives the server's defaults (never a failed page)."""
    # Without a registry, read where it would be: a limit lookup never creates a workspace.
    path = (reg.home if reg else Path(os.environ.get("INKWELL_HOME") or "workspace").resolve()) / ROOM_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        return Limits(int(data.get("max_jobs", 0)), float(data.get("max_train_seconds", 0))).validate()
    except (OSError, ValueError, TypeError, AttributeError, ConfigError):
        return Limits()


def set_limits(new: Limits, reg: Registry | None = None) -> Limits:
    new.validate()
    atomic.write_json((reg or Registry()).home / ROOM_FILE,
                      {"max_jobs": new.max_jobs, "max_train_seconds": float(new.max_train_seconds)})
    return new


def time_cap(reg: Registry | None = None) -> float:
    """Seconds a job may train at most: the host's limit, else INKWELL_MAX_TRAIN_SECONDS; 0 = no cap."""
    cap = limits(reg).max_train_seconds
    return float(cap or os.environ.get("INKWELL_MAX_TRAIN_SECONDS", "0") or 0)


def host_code() -> str:
    return os.environ.get("INKWELL_HOST_CODE", "")


def is_host_code(typed: str) -> bool:
    """Whether typed is the host code (compared in constant time); always False without one configured."""
    code = host_code()
    return bool(code) and isinstance(typed, str) and hmac.compare_digest(typed.encode(), code.encode())


def seen(reg: Registry, who: Identity, now: float | None = None) -> None:
    """Note that `who` is here (a page view)."""
    now = time.time() if now is None else now
    with reg.connect() as db:
        db.execute(SEEN_SCHEMA)
        db.execute("INSERT INTO seen VALUES (?, ?) ON CONFLICT(owner) DO UPDATE SET last=excluded.last",
                   (who.owner, now))


def active(reg: Registry, now: float | None = None, within: float = ACTIVE_SECONDS) -> list[dict]:
    """Writers seen within `within` seconds, latest first: [{"owner", "last"}]."""
    now = time.time() if now is None else now
    with reg.connect() as db:
        db.execute(SEEN_SCHEMA)
        rows = db.execute("SELECT owner, last FROM seen WHERE last>=? ORDER BY last DESC", (now - within,)).fetchall()
    return [dict(r) for r in rows]


def queue(reg: Registry) -> list[dict]:
    """Every queued and running job, running first, then the queue in the order it will be served, each with
    its position (0 while running)."""
    runs = reg.list_runs()
    running = sorted((r for r in runs if r["status"] == "running"), key=lambda r: r["created"])
    last: dict[str, float] = {}
    for r in runs:   # as claim_next orders them: an owner's latest start, a job training now as just started
        if r["status"] != "queued" and (t := r["started"] or r["heartbeat"]):
            last[r["owner"] or ""] = max(last.get(r["owner"] or "", 0.0), t)
    waiting, out = [r for r in runs if r["status"] == "queued"], []
    # The order claim_next serves: the owner whose latest start is oldest, then the oldest job. Serving one
    # changes its owner's latest start, so the order is simulated one job at a time.
    clock = max([0.0, *last.values()])
    while waiting:
        nxt = min(waiting, key=lambda r: (last.get(r["owner"] or "", 0.0), r["created"]))
        waiting.remove(nxt)
        clock += 1
        last[nxt["owner"] or ""] = clock
        out.append(nxt)
    return [{**r, "position": 0} for r in running] + [{**r, "position": i + 1} for i, r in enumerate(out)]

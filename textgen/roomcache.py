"""One shared read of the registry for every session of a web process: what the polling panels show.

Every open tab's sidebar (and a Train page's live panel) asks "what is training now?" every second or
two. Read separately, thirty idle tabs open thirty registry connections and read config.json each tick;
read here, they share one snapshot, taken again only when the registry's files changed (a worker's
progress, a new job) or the snapshot is older than `max_age` (so a worker that died silently is noticed).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from . import artifacts
from .errors import InkwellError
from .identity import Identity, may
from .runs import ACTIVE, Registry

MAX_AGE = 5.0   # seconds a snapshot may be reused while the registry's files are unchanged


@dataclass(frozen=True)
class Snapshot:
    """The registry as one moment saw it. Rows are read-only mappings shared by every session."""
    runs: tuple[Mapping, ...]         # every run, newest first (Registry.list_runs)
    budgets: Mapping[str, float]      # active run id -> its time budget in seconds (0 = none)
    stamp: tuple                      # the registry files' (size, mtime) when it was taken
    taken: float = field(default=0.0)  # time.monotonic() when it was taken

    @property
    def active(self) -> list[Mapping]:
        """Queued and running runs, oldest first: the order the queue runs them in."""
        return [r for r in reversed(self.runs) if r["status"] in ACTIVE]

    def active_for(self, who: Identity | None) -> list[Mapping]:
        """The active runs `who` may see (their own, ownerless ones; the host sees all)."""
        return [r for r in self.active if may(who, r["owner"])]

    def get(self, run_id: str, who: Identity | None = None) -> Mapping | None:
        """The run's row, or None, also when `who` may not see it (the same rule as Registry.get_run)."""
        run = next((r for r in self.runs if r["id"] == run_id), None)
        return run if run is not None and may(who, run["owner"], bool(run["shared"])) else None


def stamp(reg: Registry) -> tuple:
    """Size and mtime of registry.sqlite and its WAL: every commit (a worker's metrics, a new job) changes one.
    Another database (PostgreSQL) counts its writes itself: one small read."""
    if reg.db.file is None:
        return (reg.db.changes(),)
    out = []
    for path in (reg.db.file, reg.db.file.with_name(reg.db.file.name + "-wal")):
        try:
            st = os.stat(path)
            out += [st.st_size, st.st_mtime_ns]
        except OSError:
            out += [None, None]
    return tuple(out)


_lock = threading.Lock()
_snapshots: dict[str, Snapshot] = {}


def snapshot(reg: Registry, pump: Callable[[Registry], object] | None = None, max_age: float = MAX_AGE,
             clock: Callable[[], float] = time.monotonic) -> Snapshot:
    """The shared snapshot of this workspace, read again (after `pump`, which may start queued jobs) if stale.

    One caller reads while the others wait for its result, so a crowd of polls costs one read.
    """
    key = str(reg.home)
    with _lock:
        now, current = clock(), stamp(reg)
        snap = _snapshots.get(key)
        if snap is not None and snap.stamp == current and now - snap.taken < max_age:
            return snap
        if pump is not None:
            try:
                pump(reg)
            except InkwellError:
                pass
            current = stamp(reg)   # what pump wrote is in this read; later writes make it stale
        runs = tuple(MappingProxyType(r) for r in reg.list_runs())
        budgets = {r["id"]: _budget(reg, r["id"]) for r in runs if r["status"] in ACTIVE}
        snap = Snapshot(runs, MappingProxyType(budgets), current, now)
        _snapshots[key] = snap
        return snap


def forget(reg: Registry | None = None) -> None:
    """Drop the snapshot of one workspace (all with None): the next call reads the registry."""
    with _lock:
        if reg is None:
            _snapshots.clear()
        else:
            _snapshots.pop(str(reg.home), None)


def _budget(reg: Registry, run_id: str) -> float:
    try:
        return float(artifacts.read_config(reg.run_dir(run_id))[1].time_budget)
    except (InkwellError, OSError):
        return 0.0

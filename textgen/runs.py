"""The workspace: corpora, run directories and the SQLite registry that workers write and pages read."""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import RunError

STATUSES = ("queued", "running", "done", "cancelled", "diverged", "failed", "interrupted", "importing")
ACTIVE = ("queued", "running")
RUN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{3,40}$")
HEARTBEAT_TIMEOUT = 90.0   # seconds without a heartbeat before a running worker counts as dead
MAX_LABEL = 80

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, label TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT NULL,
  started REAL, finished REAL, heartbeat REAL, pid INTEGER, message TEXT DEFAULT '',
  level TEXT, cell TEXT, layers INTEGER, units INTEGER, params INTEGER, corpus TEXT,
  epoch INTEGER DEFAULT 0, epochs INTEGER DEFAULT 0, step INTEGER DEFAULT 0, steps INTEGER DEFAULT 0,
  eta REAL, chars_per_sec REAL, best_val_bpc REAL, last_val_bpc REAL, elapsed REAL DEFAULT 0,
  args TEXT DEFAULT '[]', cancel INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS metrics (
  run_id TEXT NOT NULL, kind TEXT NOT NULL, epoch INTEGER, step INTEGER, elapsed REAL,
  loss REAL, val_loss REAL, bpc REAL, val_bpc REAL, chars_per_sec REAL, lr REAL
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id, kind, step);
CREATE TABLE IF NOT EXISTS samples (
  run_id TEXT NOT NULL, epoch INTEGER, temperature REAL, text TEXT
);
CREATE INDEX IF NOT EXISTS samples_run ON samples(run_id, epoch);
"""


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


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process has exited but still has a pid
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class Registry:
    """Thin access to registry.sqlite. Each call opens a short connection: safe across processes and threads."""

    def __init__(self, workspace: str | os.PathLike | None = None):
        self.home = home(workspace)
        self.path = self.home / "registry.sqlite"
        with self.connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def connect(self):
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / check_run_id(run_id)

    # -- runs ---------------------------------------------------------------------------
    def create_run(self, label: str, *, run_id: str | None = None, status: str = "queued", **fields) -> str:
        run_id = check_run_id(run_id or new_run_id())
        cols = {"id": run_id, "label": clean_label(label), "status": status, "created": time.time(), **fields}
        if "args" in cols and not isinstance(cols["args"], str):
            cols["args"] = json.dumps(cols["args"])
        with self.connect() as db:
            db.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                       list(cols.values()))
        self.run_dir(run_id).mkdir(parents=True, exist_ok=True)
        return run_id

    def update_run(self, run_id: str, **fields) -> None:
        if not fields:
            return
        if "label" in fields:
            fields["label"] = clean_label(fields["label"])
        with self.connect() as db:
            db.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in fields)} WHERE id=?",
                       [*fields.values(), check_run_id(run_id)])

    def get_run(self, run_id: str) -> dict | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (check_run_id(run_id),)).fetchone()
        return self._alive(dict(row)) if row else None

    def require_run(self, run_id: str) -> dict:
        run = self.get_run(run_id)
        if run is None:
            raise RunError(f"There is no run {run_id} in {self.home} (see `python -m textgen runs`).")
        return run

    def list_runs(self) -> list[dict]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY created DESC").fetchall()
        return [self._alive(dict(r)) for r in rows]

    def _alive(self, run: dict) -> dict:
        """A worker that died without saying so (kill -9, power loss) is marked interrupted."""
        if run["status"] == "running":
            stale = time.time() - (run["heartbeat"] or run["started"] or run["created"]) > HEARTBEAT_TIMEOUT
            # pid is None only in the moment between the job runner claiming a run and the worker starting.
            if (run["pid"] and not pid_alive(run["pid"])) or stale:
                msg = "The training process stopped unexpectedly; resume continues from the last checkpoint."
                with self.connect() as db:
                    db.execute("UPDATE runs SET status='interrupted', message=? WHERE id=? AND status='running'",
                               (msg, run["id"]))
                run.update(status="interrupted", message=msg)
        return run

    def delete_run(self, run_id: str) -> None:
        run = self.require_run(run_id)
        if run["status"] == "running":
            raise RunError("This run is still training; stop it before deleting it.")
        with self.connect() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))
            db.execute("DELETE FROM metrics WHERE run_id=?", (run_id,))
            db.execute("DELETE FROM samples WHERE run_id=?", (run_id,))
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def request_cancel(self, run_id: str) -> None:
        """Workers poll this flag between batches; queued runs are cancelled at once."""
        with self.connect() as db:
            db.execute("UPDATE runs SET cancel=1 WHERE id=?", (check_run_id(run_id),))
            db.execute("UPDATE runs SET status='cancelled', message='Cancelled before it started.', finished=? "
                       "WHERE id=? AND status='queued'", (time.time(), run_id))

    def cancel_requested(self, run_id: str) -> bool:
        with self.connect() as db:
            row = db.execute("SELECT cancel FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row["cancel"])

    # -- metrics and samples --------------------------------------------------------------
    def add_metrics(self, run_id: str, rows: list[dict], **run_fields) -> None:
        """Append metric rows and update the run's progress in one transaction (one lock, one fsync)."""
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for r in rows:
                db.execute("INSERT INTO metrics (run_id, kind, epoch, step, elapsed, loss, val_loss, bpc, val_bpc,"
                           " chars_per_sec, lr) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           (run_id, r.get("kind", "batch"), r.get("epoch"), r.get("step"), r.get("elapsed"),
                            r.get("loss"), r.get("val_loss"), r.get("bpc"), r.get("val_bpc"),
                            r.get("chars_per_sec"), r.get("lr")))
            if run_fields:
                db.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in run_fields)} WHERE id=?",
                           [*run_fields.values(), run_id])
            db.execute("COMMIT")

    def metrics(self, run_id: str, kind: str | None = None, after_step: int = -1) -> list[dict]:
        q = "SELECT * FROM metrics WHERE run_id=? AND (step IS NULL OR step>?)"
        args: list = [check_run_id(run_id), after_step]
        if kind:
            q += " AND kind=?"
            args.append(kind)
        with self.connect() as db:
            return [dict(r) for r in db.execute(q + " ORDER BY rowid", args).fetchall()]

    def add_sample(self, run_id: str, epoch: int, temperature: float, text: str) -> None:
        with self.connect() as db:
            db.execute("INSERT INTO samples VALUES (?,?,?,?)", (run_id, epoch, temperature, text))

    def samples(self, run_id: str) -> list[dict]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM samples WHERE run_id=? ORDER BY epoch, temperature",
                              (check_run_id(run_id),)).fetchall()
        return [dict(r) for r in rows]

    def clear_metrics_after(self, run_id: str, step: int, partial_epoch: int | None = None) -> None:
        """On resume, drop rows logged after the checkpoint, and the summary of an epoch it stopped inside."""
        with self.connect() as db:
            db.execute("DELETE FROM metrics WHERE run_id=? AND step>?", (run_id, step))
            if partial_epoch is not None:
                db.execute("DELETE FROM metrics WHERE run_id=? AND kind='epoch' AND epoch=?", (run_id, partial_epoch))
                db.execute("DELETE FROM samples WHERE run_id=? AND epoch=?", (run_id, partial_epoch))

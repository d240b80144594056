"""The run registry: the runs table that workers write and pages read, and the run lifecycle, its only
writer of a run's status. Metrics and samples are textgen.measurements'; the workspace's folder and names,
textgen.workspace's."""
from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from . import db as database
from .config import is_text_run
from .errors import RunError
from .identity import Identity, check, may, sees_all
from .measurements import EXPERIMENT_COLUMNS, METRIC_COLUMNS, Measurements  # noqa: F401  (re-exported)
from .workspace import MAX_LABEL, RUN_ID_RE, check_run_id, clean_label, home, new_run_id  # noqa: F401  (re-exported)

STATUSES = ("queued", "running", "done", "cancelled", "diverged", "failed", "interrupted", "importing")
ACTIVE = ("queued", "running")
ENDED = ("done", "cancelled", "diverged", "failed", "interrupted")   # a run that may be queued again to resume
# The lifecycle: each status and the statuses a run may move to from it (the transition methods below).
# A worker presumed dead (interrupted) that was only slow still reports how its training ended.
MOVES = {
    "queued": {"running", "cancelled", "failed"},
    "running": {"done", "cancelled", "diverged", "failed", "interrupted"},
    "interrupted": {"queued", "done", "cancelled", "diverged", "failed"},
    "done": {"queued"}, "cancelled": {"queued"}, "diverged": {"queued"}, "failed": {"queued"},
    "importing": {"done"},
}
HEARTBEAT_TIMEOUT = 90.0   # seconds without a heartbeat before a running worker counts as dead


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


def stop_worker(pid: int | None, run_id: str) -> bool:
    """End the local worker of a job whose result nobody will read (its run deleted), with its process group.
    Only Inkwell's worker for this job is touched (its command names it): a pid the system gave to another
    program since is left alone. Never used on a silent training worker: a machine waking from sleep is
    silent too, and its workers go on."""
    import signal

    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False   # no /proc (not Linux) or gone: nothing is known about it, so nothing is done
    if b"textgen" not in argv or not any(run_id.encode() in a for a in argv):
        return False
    try:
        os.killpg(pid, signal.SIGKILL)   # a worker runs in its own session, so its group is its pid
    except (ProcessLookupError, PermissionError):
        return False
    return True


class Busy(RunError):
    """The run belongs to another live worker: leave its status alone."""


class Registry(Measurements):
    """Thin access to the registry database (INKWELL_DB, else registry.sqlite in the workspace). Each call opens
    a short connection: safe across processes, threads and (on PostgreSQL) machines."""

    def __init__(self, workspace: str | os.PathLike | None = None):
        self.home = home(workspace)
        self.path = self.home / "registry.sqlite"   # the default database; unused when INKWELL_DB names another
        self.url = database.url_for(self.home)
        self.db = database.open_db(self.url)        # migrated to the newest schema on open

    @contextmanager
    def connect(self):
        """A connection in autocommit mode: execute(sql, params) with ? placeholders, rows by name or position."""
        with self.db.connect() as db:
            yield db

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / check_run_id(run_id)

    # -- runs ---------------------------------------------------------------------------
    def create_run(self, label: str, *, run_id: str | None = None, status: str = "queued", **fields) -> str:
        """A new row: workers and the job runner create runs queued, running or importing."""
        if status not in STATUSES:
            raise RunError(f"{status!r} is not a run status ({', '.join(STATUSES)}).")
        run_id = check_run_id(run_id or new_run_id())
        with self.connect() as db:
            self._insert(db, run_id, label, status, fields)
        self.run_dir(run_id).mkdir(parents=True, exist_ok=True)
        return run_id

    @staticmethod
    def _insert(db, run_id: str, label: str, status: str, fields: dict) -> None:
        cols = {"id": run_id, "label": clean_label(label), "status": status, "created": time.time(), **fields}
        if "args" in cols and not isinstance(cols["args"], str):
            cols["args"] = json.dumps(cols["args"])
        db.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                   list(cols.values()))

    def update_run(self, run_id: str, **fields) -> None:
        """Any column but the status, which only the transition methods below write."""
        if "status" in fields:
            raise RunError("A run's status changes only through the registry's transitions (start, finish, ...).")
        if not fields:
            return
        if "label" in fields:
            fields["label"] = clean_label(fields["label"])
        with self.connect() as db:
            db.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in fields)} WHERE id=?",
                       [*fields.values(), check_run_id(run_id)])

    # -- the lifecycle: the only writers of runs.status ------------------------------------
    def _move(self, db, run_id: str, to: str, frm: tuple[str, ...] = STATUSES, **fields) -> None:
        """Inside an open transaction: check the move against MOVES (and the caller's own sources), then write it."""
        row = db.execute("SELECT status FROM runs WHERE id=?", (check_run_id(run_id),)).fetchone()
        if row is None:
            raise RunError(f"There is no run {run_id} in {self.home} (see `python -m textgen runs`).")
        if to not in MOVES.get(row["status"], ()) or row["status"] not in frm:
            raise RunError(f"Run {run_id} is {row['status']} and cannot become {to} this way.")
        cols = {"status": to, **fields}
        db.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in cols)} WHERE id=?", [*cols.values(), run_id])

    @contextmanager
    def _locked(self):
        """One write transaction under the registry's lock: a status is read and moved under the same lock."""
        with self.db.locked() as db:
            yield db

    def _transition(self, run_id: str, to: str, frm: tuple[str, ...], **fields) -> None:
        with self._locked() as db:
            self._move(db, run_id, to, frm, **fields)

    def has_queued(self) -> bool:
        with self.connect() as db:   # a read: the common case, nothing queued, takes no write lock
            return db.execute("SELECT 1 FROM runs WHERE status='queued' LIMIT 1").fetchone() is not None

    def claim_next(self, max_jobs: int) -> dict | None:
        """queued -> running for the oldest queued run, if fewer than max_jobs run; {"id", "args"} or None.
        Count and claim under one lock, so the cap holds across processes."""
        with self._locked() as db:
            running = db.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()[0]
            row = None
            if running < max_jobs:
                # Served in turn: the owner whose latest start is oldest goes first (one training now counts as
                # just started: its heartbeat), then the oldest job.
                row = db.execute(
                    "SELECT q.id, q.args FROM runs q LEFT JOIN (SELECT COALESCE(owner, '') AS o,"
                    " MAX(COALESCE(started, heartbeat)) AS last FROM runs WHERE status!='queued'"
                    " GROUP BY COALESCE(owner, '')) s ON s.o = COALESCE(q.owner, '')"
                    " WHERE q.status='queued' ORDER BY COALESCE(s.last, 0), q.created LIMIT 1").fetchone()
            if row is not None:   # its worker is not started yet: no pid
                self._move(db, row["id"], "running", ("queued",), pid=None, heartbeat=time.time(),
                           message="Starting…")
        return dict(row) if row is not None else None

    def start(self, run_id: str, pid: int, **fields) -> None:
        """A worker takes its run: one claimed for it (running, no pid yet), or a queued one (queued -> running).
        Raises Busy if another live worker has it."""
        fields = {"pid": pid, "heartbeat": time.time(), "message": "", **fields}
        with self._locked() as db:
            row = db.execute("SELECT status, pid FROM runs WHERE id=?", (check_run_id(run_id),)).fetchone()
            if row is None or row["status"] != "running":
                self._move(db, run_id, "running", ("queued",), **fields)
                return
            if row["pid"] not in (None, pid) and pid_alive(row["pid"]):
                raise Busy(f"Run {run_id} is still training.")
            db.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in fields)} WHERE id=?", [*fields.values(), run_id])

    def finish(self, run_id: str, status: str, message: str = "", **fields) -> None:
        """A worker's training ended: done, cancelled (stopped by request) or diverged."""
        if status not in ("done", "cancelled", "diverged"):
            raise RunError(f"A run finishes done, cancelled or diverged, not {status!r}.")
        self._transition(run_id, status, ("running", "interrupted"), message=message, finished=time.time(),
                         pid=None, eta=0, heartbeat=time.time(), cancel=0, **fields)

    def fail(self, run_id: str, message: str) -> None:
        """The worker could not train: the reason is kept in the run's message."""
        self._transition(run_id, "failed", ("queued", "running", "interrupted"), message=message[:500],
                         finished=time.time(), pid=None, cancel=0)

    def requeue(self, run_id: str, args: list[str], message: str = "Waiting to resume.") -> None:
        """An ended run goes back in the queue, to resume with these worker arguments."""
        with self._locked() as db:
            row = db.execute("SELECT status FROM runs WHERE id=?", (check_run_id(run_id),)).fetchone()
            if row is not None and row["status"] not in ENDED:
                raise RunError("This run is already training or waiting in the queue.")
            self._move(db, run_id, "queued", ENDED, message=message, args=json.dumps(args), cancel=0)

    def queue_job(self, run_id: str, label: str, args: list[str], **fields) -> bool:
        """A job with a fixed id (one per thing it works on): a new queued row, or its ended row queued again;
        False if it is already queued or running. Read and written under the lock: two sessions queue it once."""
        self.get_run(run_id)   # a worker that died without saying so is marked interrupted first: it may go again
        with self._locked() as db:
            row = db.execute("SELECT status FROM runs WHERE id=?", (check_run_id(run_id),)).fetchone()
            if row is None:
                self._insert(db, run_id, label, "queued", {"args": args, **fields})
            elif row["status"] in ENDED:
                self._move(db, run_id, "queued", ENDED, message="", args=json.dumps(args), cancel=0, finished=None,
                           label=clean_label(label), **fields)
            else:
                return False
        self.run_dir(run_id).mkdir(parents=True, exist_ok=True)
        return True

    def interrupt(self, run_id: str, message: str) -> None:
        """running -> interrupted: its worker died without saying so."""
        self._transition(run_id, "interrupted", ("running",), message=message)

    def cancel(self, run_id: str) -> None:
        """queued -> cancelled, before a worker ever started."""
        self._transition(run_id, "cancelled", ("queued",), message="Cancelled before it started.", finished=time.time())

    def finish_import(self, run_id: str, **fields) -> None:
        """importing -> done: a bundle's files are all in place."""
        self._transition(run_id, "done", ("importing",), **fields)

    def beat(self, run_id: str) -> None:
        """The worker's heartbeat: a running run whose beats stop counts as interrupted (see _alive)."""
        with self.connect() as db:
            db.execute("UPDATE runs SET heartbeat=? WHERE id=? AND status='running'",
                       (time.time(), check_run_id(run_id)))

    def get_run(self, run_id: str, owner: Identity | None = None, use: bool = False) -> dict | None:
        """The run's row; with `owner`, None unless they may see it (`use`: a run shared with the room counts)."""
        with self.connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (check_run_id(run_id),)).fetchone()
        if row is None or not may(owner, row["owner"], bool(row["shared"]), use):
            return None
        return self._alive(dict(row))

    def require_run(self, run_id: str, owner: Identity | None = None, use: bool = False) -> dict:
        """The run's row, or one sentence: unknown, or another writer's (refused, whatever is asked of it)."""
        run = self.get_run(run_id)
        if run is None:
            raise RunError(f"There is no run {run_id} in {self.home} (see `python -m textgen runs`).")
        check(owner, run["owner"], f"run {run_id}", bool(run["shared"]), use)
        return run

    def list_runs(self, owner: Identity | None = None, shared: bool = False) -> list[dict]:
        """Every run (the command line, the host), or a writer's own and ownerless ones, and with `shared` the
        runs others shared with the room."""
        q, args = "SELECT * FROM runs", []
        if not sees_all(owner):
            q += " WHERE owner IS NULL OR owner='' OR owner=?" + (" OR shared=1" if shared else "")
            args.append(owner.owner)
        with self.connect() as db:
            rows = db.execute(q + " ORDER BY created DESC", args).fetchall()
        return [self._alive(dict(r)) for r in rows]

    def rename(self, run_id: str, label: str, owner: Identity | None = None) -> None:
        self.require_run(run_id, owner)
        self.update_run(run_id, label=label)

    def share(self, run_id: str, shared: bool, owner: Identity | None = None) -> None:
        """Let the room write with a run (not read its corpus, export, stop or delete it), or take that back."""
        self.require_run(run_id, owner)
        self.update_run(run_id, shared=int(bool(shared)))

    def _alive(self, run: dict) -> dict:
        """A worker that died without saying so (kill -9, power loss) is marked interrupted."""
        if run["status"] == "running":
            stale = time.time() - (run["heartbeat"] or run["started"] or run["created"]) > HEARTBEAT_TIMEOUT
            # pid is None only in the moment between the job runner claiming a run and the worker starting. A
            # cluster job's pid is on another machine: its heartbeat (and its backend's status) decide.
            if (run["pid"] and not run.get("job") and not pid_alive(run["pid"])) or stale:
                msg = "The training process stopped unexpectedly; resume continues from the last checkpoint."
                try:
                    self.interrupt(run["id"], msg)
                except RunError:   # it ended (or was deleted) since it was read
                    return self.get_run(run["id"]) or run
                run.update(status="interrupted", message=msg)
        return run

    def delete_run(self, run_id: str, owner: Identity | None = None) -> None:
        run = self.require_run(run_id, owner)
        if run["status"] == "running":
            raise RunError("This run is still training; stop it before deleting it.")
        with self.connect() as db:
            # Its measurements' jobs go with it (their rows name the run in `corpus`). A running one is ended
            # here, or on a cluster by its watch, which reads its row gone as a cancel.
            rows = [dict(r) for r in db.execute("SELECT id, level, status, pid, job FROM runs WHERE corpus=? AND id<>?",
                                                (run_id, run_id))]
            rows = [r for r in rows if not is_text_run(r)]
            measures = [r["id"] for r in rows]
            for r in rows:   # killed before the folder goes: a measurement ending now would write into it again
                if r["status"] == "running" and r["pid"] and not r["job"]:
                    stop_worker(r["pid"], r["id"])
            for rid in (run_id, *measures):
                db.execute("DELETE FROM runs WHERE id=?", (rid,))
                db.execute("DELETE FROM metrics WHERE run_id=?", (rid,))
                db.execute("DELETE FROM samples WHERE run_id=?", (rid,))
        for rid in (run_id, *measures):
            shutil.rmtree(self.run_dir(rid), ignore_errors=True)

    def request_cancel(self, run_id: str) -> None:
        """Workers poll this flag between batches; queued runs are cancelled at once."""
        self.update_run(run_id, cancel=1)
        try:
            self.cancel(run_id)
        except RunError:   # not queued: its worker reads the flag
            pass

    def cancel_requested(self, run_id: str) -> bool:
        """Whether its worker should stop: asked to, or its row deleted (nobody is waiting for the result)."""
        with self.connect() as db:
            row = db.execute("SELECT cancel FROM runs WHERE id=?", (run_id,)).fetchone()
        return row is None or bool(row["cancel"])

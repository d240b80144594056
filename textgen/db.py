"""The registry's database: one URL (INKWELL_DB), SQLite in the workspace by default or PostgreSQL.

One code path for both through SQLAlchemy Core: every call is a short connection in autocommit mode, and
`locked` is the one write transaction that reads and moves a status under a single lock (SQLite's
BEGIN IMMEDIATE; on PostgreSQL a transaction-scoped advisory lock, so the queue cap holds across machines).
The schema is versioned by Alembic (textgen/migrations), upgraded when a registry is opened.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0002"              # the newest revision in MIGRATIONS: a registry at it needs no Alembic at open
LOCK_KEY = 7_341_102_219   # PostgreSQL advisory lock that stands for SQLite's single writer
# A busy or unreachable database: callers that poll (the job runner) try again on their next tick.
BUSY = (sa.exc.OperationalError, sqlite3.OperationalError)


def url_for(home: Path) -> str:
    """INKWELL_DB, else registry.sqlite in the workspace. postgresql:// means the psycopg (v3) driver."""
    url = os.environ.get("INKWELL_DB", "").strip()
    if not url:
        return "sqlite:///" + str(home / "registry.sqlite")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Row(dict):
    """A row by column name (dict(row) works) and, like sqlite3.Row, by position."""

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


class Result:
    def __init__(self, result):
        self._r = result
        self.rowcount = result.rowcount

    def _row(self, r) -> Row:
        return Row(zip(self._r.keys(), r))

    def fetchone(self) -> Row | None:
        r = self._r.fetchone()
        return None if r is None else self._row(r)

    def fetchall(self) -> list[Row]:
        return [self._row(r) for r in self._r.fetchall()]

    def __iter__(self):
        return iter(self.fetchall())


class Conn:
    """What `Registry.connect()` yields: execute(sql, params) with `?` placeholders on either database."""

    def __init__(self, conn: sa.Connection, qmark: bool):
        self.sa = conn
        self._qmark = qmark

    def execute(self, sql: str, params=()) -> Result:
        params = tuple(params)
        if params and not self._qmark:   # psycopg's placeholders; our SQL has no literal ? or %
            sql = sql.replace("%", "%%").replace("?", "%s")
        return Result(self.sa.exec_driver_sql(sql, params) if params else self.sa.exec_driver_sql(sql))


@dataclass(frozen=True)
class Database:
    url: str           # the SQLAlchemy URL (password included; never shown)
    engine: sa.Engine
    sqlite: bool       # SQLite's rowid orders rows; PostgreSQL tables carry a `seq` column instead

    @property
    def file(self) -> Path | None:
        """The SQLite database's file (the one INKWELL_DB names, else the workspace's); None on a server."""
        return Path(self.engine.url.database).resolve() if self.sqlite and self.engine.url.database else None

    @property
    def order(self) -> str:
        return "rowid" if self.sqlite else "seq"

    @contextmanager
    def connect(self):
        with self.engine.connect() as c:
            yield Conn(c, self.sqlite)

    @contextmanager
    def locked(self):
        """One write transaction under the registry's single lock."""
        with self.engine.connect() as c:
            c.exec_driver_sql("BEGIN IMMEDIATE" if self.sqlite else "BEGIN")
            try:
                if not self.sqlite:
                    c.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
                yield Conn(c, self.sqlite)
            except BaseException:
                c.exec_driver_sql("ROLLBACK")
                raise
            c.exec_driver_sql("COMMIT")

    def changes(self) -> int:
        """PostgreSQL: a number that grows with every write to runs, metrics or samples (the migrations' trigger)."""
        with self.connect() as db:   # a fresh sequence reads 1 before and after its first nextval
            row = db.execute("SELECT last_value, is_called FROM registry_changes").fetchone()
        return int(row[0]) if row[1] else 0

    def migrate(self) -> None:
        """Bring the schema to HEAD: a no-op read when it is there, else Alembic under the lock."""
        try:
            with self.connect() as db:
                row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            if row is not None and row[0] == HEAD:
                return
        except sa.exc.DBAPIError:
            pass   # no version table yet: a new registry, or one made before Alembic
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.locked() as db:   # two processes opening a new registry at once migrate it once
            cfg.attributes["connection"] = db.sa
            command.upgrade(cfg, "head")


_engines: dict[str, Database] = {}
_lock = threading.Lock()


def open_db(url: str) -> Database:
    """The process's engine for this URL (made once), its schema at HEAD."""
    with _lock:
        found = _engines.get(url)
    if found is not None:
        found.migrate()
        return found
    if url.startswith("sqlite"):
        # A connection per call, as the registry always did: many workspaces (tests) leave no open files.
        engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                  connect_args={"timeout": 30.0, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=8,
                                  pool_pre_ping=True)
    database = Database(url, engine, url.startswith("sqlite"))
    with _lock:
        database = _engines.setdefault(url, database)
    database.migrate()
    return database


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")   # wait for another writer instead of failing at once
    cur.execute("PRAGMA journal_mode=WAL")     # readers never block the worker writing metrics
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def dispose(url: str | None = None) -> None:
    """Close pooled connections (one URL, or all): a test's throwaway database can then be dropped."""
    with _lock:
        chosen = [_engines.pop(url)] if url in _engines else [] if url else list(_engines.values())
        if url is None:
            _engines.clear()
    for d in chosen:
        d.engine.dispose()

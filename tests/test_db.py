"""The registry's database: INKWELL_DB, the Alembic schema, in-place upgrades of older SQLite registries."""
import sqlite3
import threading

import pytest

from textgen import db
from textgen.runs import Registry

# The schema exactly as the registry created it before Alembic (textgen/runs.py's SCHEMA until December 2026).
PRE_ALEMBIC = """
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, label TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT NULL,
  started REAL, finished REAL, heartbeat REAL, pid INTEGER, message TEXT DEFAULT '',
  level TEXT, cell TEXT, layers INTEGER, units INTEGER, params INTEGER, corpus TEXT,
  epoch INTEGER DEFAULT 0, epochs INTEGER DEFAULT 0, step INTEGER DEFAULT 0, steps INTEGER DEFAULT 0,
  eta REAL, chars_per_sec REAL, best_val_bpc REAL, last_val_bpc REAL, elapsed REAL DEFAULT 0,
  args TEXT DEFAULT '[]', cancel INTEGER DEFAULT 0, owner TEXT, shared INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS metrics (
  run_id TEXT NOT NULL, kind TEXT NOT NULL, epoch INTEGER, step INTEGER, elapsed REAL,
  loss REAL, val_loss REAL, bpc REAL, val_bpc REAL, chars_per_sec REAL, lr REAL, grad_norm REAL, clipped INTEGER
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id, kind, step);
CREATE TABLE IF NOT EXISTS samples (
  run_id TEXT NOT NULL, epoch INTEGER, temperature REAL, text TEXT
);
CREATE INDEX IF NOT EXISTS samples_run ON samples(run_id, epoch);
CREATE TABLE IF NOT EXISTS experiment_results (
  experiment TEXT NOT NULL, run_id TEXT, cell TEXT NOT NULL, gap INTEGER NOT NULL, units INTEGER, params INTEGER,
  accuracy REAL, steps INTEGER, seconds REAL
);
CREATE TABLE IF NOT EXISTS seen (owner TEXT PRIMARY KEY, last REAL NOT NULL);
"""
RUN = "20251201-101010-abcdef"


def test_the_database_url_defaults_to_the_workspace_and_postgres_uses_psycopg(tmp_path, monkeypatch):
    monkeypatch.delenv("INKWELL_DB", raising=False)
    assert db.url_for(tmp_path) == f"sqlite:///{tmp_path}/registry.sqlite"
    monkeypatch.setenv("INKWELL_DB", "postgresql://inkwell:pw@db.example:5432/inkwell")
    assert db.url_for(tmp_path) == "postgresql+psycopg://inkwell:pw@db.example:5432/inkwell"
    monkeypatch.setenv("INKWELL_DB", "postgres://h/x")
    assert db.url_for(tmp_path) == "postgresql+psycopg://h/x"
    monkeypatch.setenv("INKWELL_DB", f"sqlite:///{tmp_path}/elsewhere.sqlite")   # the file roomcache watches
    assert Registry(tmp_path / "ws").db.file == tmp_path / "elsewhere.sqlite"
    assert (tmp_path / "elsewhere.sqlite").exists() and not (tmp_path / "ws" / "registry.sqlite").exists()


def test_a_registry_made_before_alembic_upgrades_in_place(tmp_path, monkeypatch):
    monkeypatch.delenv("INKWELL_DB", raising=False)
    tmp_path.mkdir(exist_ok=True)
    old = sqlite3.connect(tmp_path / "registry.sqlite", isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript(PRE_ALEMBIC)
    old.execute("INSERT INTO runs (id, label, status, created, owner, epoch) VALUES (?, 'kept', 'done', 5, 'w1', 3)",
                (RUN,))
    for step in (3, 1, 2):   # read back in insertion order, not by step
        old.execute("INSERT INTO metrics (run_id, kind, step, loss) VALUES (?, 'batch', ?, ?)", (RUN, step, step / 10))
    old.execute("INSERT INTO samples VALUES (?, 1, 0.5, 'the sea')", (RUN,))
    old.execute("INSERT INTO seen VALUES ('w1', 7.5)")
    old.close()
    reg = Registry(tmp_path)
    run = reg.get_run(RUN)
    assert (run["label"], run["status"], run["owner"], run["epoch"], run["node"], run["job"]) == \
        ("kept", "done", "w1", 3, None, None)
    assert [(m["step"], m["loss"]) for m in reg.metrics(RUN, "batch")] == [(3, 0.3), (1, 0.1), (2, 0.2)]
    assert reg.samples(RUN) == [{"run_id": RUN, "epoch": 1, "temperature": 0.5, "text": "the sea"}]
    with reg.connect() as c:
        assert c.execute("SELECT version_num FROM alembic_version").fetchall() == [{"version_num": db.HEAD}]
        assert c.execute("SELECT owner, last FROM seen").fetchone()[1] == 7.5
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"   # WAL, as before
    reg.update_run(RUN, node="node-2")
    assert Registry(tmp_path).get_run(RUN)["node"] == "node-2"   # opening again migrates nothing


def test_registries_older_still_gain_every_column(tmp_path, monkeypatch):
    """The first registries had runs without owners and metrics without gradient columns."""
    monkeypatch.delenv("INKWELL_DB", raising=False)
    old = sqlite3.connect(tmp_path / "registry.sqlite")
    old.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, label TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT"
                " NULL, heartbeat REAL, pid INTEGER, message TEXT DEFAULT '', args TEXT DEFAULT '[]')")
    old.execute("INSERT INTO runs (id, label, status, created) VALUES (?, 'old', 'failed', 1)", (RUN,))
    old.commit()
    old.close()
    reg = Registry(tmp_path)
    run = reg.get_run(RUN)
    assert (run["status"], run["owner"], run["shared"], run["cancel"], run["epoch"]) == ("failed", None, 0, 0, 0)
    reg.add_metrics(RUN, [{"step": 1, "grad_norm": 2.5, "clipped": 1}])
    assert [(m["grad_norm"], m["clipped"]) for m in reg.metrics(RUN)] == [(2.5, 1)]


def test_many_openers_of_a_new_registry_migrate_it_once(tmp_path, registry_db):
    errors = []

    def open_it():
        try:
            Registry(tmp_path)
        except Exception as e:  # noqa: BLE001 - the test reports any failure
            errors.append(e)
    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Registry(tmp_path).connect() as c:
        assert [r[0] for r in c.execute("SELECT version_num FROM alembic_version").fetchall()] == [db.HEAD]


def test_times_and_rows_round_trip_exactly_on_both_databases(tmp_path, registry_db):
    reg = Registry(tmp_path)
    t = 1764634567.123456   # a float4 column would round this by minutes
    run_id = reg.create_run("exact", status="running", heartbeat=t, pid=4206649, params=12_345_678_901)
    with reg.connect() as c:   # read raw: get_run would mark the stale heartbeat's run interrupted
        run = c.execute("SELECT heartbeat, pid, params, status FROM runs WHERE id=?", (run_id,)).fetchone()
    assert (run["heartbeat"], run["pid"], run["params"], run["status"]) == (t, 4206649, 12_345_678_901, "running")
    assert run[0] == t and dict(run) == {"heartbeat": t, "pid": 4206649, "params": 12_345_678_901, "status": "running"}
    reg.add_experiment_result("memory", run_id, {"cell": "gru", "gap": 5, "units": 8, "params": 99, "accuracy": 0.75,
                                                 "steps": 10, "seconds": 1.5})
    reg.add_experiment_result("memory", None, {"cell": "rnn", "gap": 2, "units": 8, "params": 9, "accuracy": 0.5,
                                               "steps": 10, "seconds": 0.5})
    assert [(r["cell"], r["gap"], r["accuracy"]) for r in reg.experiment_results("memory")] == \
        [("gru", 5, 0.75), ("rnn", 2, 0.5)]
    assert (reg.url.startswith("postgresql+psycopg://"), reg.db.sqlite) == \
        ((registry_db is not None), registry_db is None)


def test_writers_seen_use_the_registry_on_both_databases(tmp_path, registry_db):
    """room.py's upsert of who is here runs unchanged on PostgreSQL, in the table the migration made."""
    from textgen import room
    from textgen.identity import Identity

    reg = Registry(tmp_path)
    who = Identity("w-abc")
    room.seen(reg, who, now=1000.25)
    room.seen(reg, who, now=1002.5)
    assert room.active(reg, now=1003.0, within=10) == [{"owner": "w-abc", "last": 1002.5}]

"""roomcache: one shared registry read for every session's polling, read again when the registry changes."""
import os
import threading
import time

import pytest

from textgen import roomcache
from textgen.runs import Registry


@pytest.fixture()
def reg(workspace, registry_db):   # on SQLite and on PostgreSQL
    roomcache.forget()
    return Registry()


class Counting:
    """Counts list_runs calls on a registry."""

    def __init__(self, reg, monkeypatch):
        self.calls = 0
        original = reg.list_runs

        def list_runs():
            self.calls += 1
            return original()

        monkeypatch.setattr(reg, "list_runs", list_runs)


def test_unchanged_registry_is_read_once(reg, monkeypatch):
    reg.create_run("Sea words", status="running", pid=os.getpid(), heartbeat=time.time())
    count = Counting(reg, monkeypatch)
    first = roomcache.snapshot(reg)
    for _ in range(20):
        assert roomcache.snapshot(reg) is first
    assert count.calls == 1
    assert [r["label"] for r in first.active] == ["Sea words"]


def test_a_write_makes_the_next_snapshot_fresh(reg):
    assert roomcache.snapshot(reg).active == []
    run_id = reg.create_run("Queued words", status="queued")
    snap = roomcache.snapshot(reg)
    assert [r["id"] for r in snap.active] == [run_id]
    reg.update_run(run_id, epoch=3)
    assert roomcache.snapshot(reg).get(run_id)["epoch"] == 3


def test_an_old_snapshot_is_read_again(reg, monkeypatch):
    now = [100.0]
    count = Counting(reg, monkeypatch)
    roomcache.snapshot(reg, clock=lambda: now[0])
    now[0] += roomcache.MAX_AGE - 0.1
    roomcache.snapshot(reg, clock=lambda: now[0])
    assert count.calls == 1
    now[0] += 0.2
    roomcache.snapshot(reg, clock=lambda: now[0])
    assert count.calls == 2


def test_active_runs_oldest_first_with_budgets(reg):
    a = reg.create_run("first", status="running", pid=os.getpid(), heartbeat=time.time())
    time.sleep(0.01)
    reg.create_run("ended", status="done")
    time.sleep(0.01)
    b = reg.create_run("second", status="queued")
    snap = roomcache.snapshot(reg)
    assert [r["id"] for r in snap.active] == [a, b]
    assert dict(snap.budgets) == {a: 0.0, b: 0.0}     # no config.json yet: no budget
    with pytest.raises(TypeError):
        snap.runs[0]["status"] = "done"               # shared rows cannot be changed by one session


def test_pump_runs_only_on_a_fresh_read(reg):
    pumped = []
    for _ in range(5):
        roomcache.snapshot(reg, pump=pumped.append)
    assert pumped == [reg]


def test_a_crowd_of_sessions_shares_one_read(reg, monkeypatch):
    count = Counting(reg, monkeypatch)
    gate = threading.Barrier(16)
    seen = []

    def poll():
        gate.wait()
        seen.append(roomcache.snapshot(reg))

    threads = [threading.Thread(target=poll) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count.calls == 1 and len({id(s) for s in seen}) == 1


def test_workspaces_are_kept_apart(tmp_path):
    roomcache.forget()
    one, two = Registry(tmp_path / "one"), Registry(tmp_path / "two")
    one.create_run("only in one", status="queued")
    assert len(roomcache.snapshot(one).active) == 1
    assert roomcache.snapshot(two).active == []


def test_a_writer_sees_only_their_own_and_ownerless_runs(reg):
    from textgen.identity import Identity

    ann, bob = Identity.writer("a" * 24), Identity.writer("b" * 24)
    theirs = reg.create_run("Ann's manuscript", status="queued", owner=ann.owner)
    shared = reg.create_run("Bob's, shared", status="queued", owner=bob.owner, shared=1)
    anyone = reg.create_run("made on the command line", status="queued")
    snap = roomcache.snapshot(reg)
    assert [r["id"] for r in snap.active_for(ann)] == [theirs, anyone]
    assert [r["id"] for r in snap.active_for(bob)] == [shared, anyone]
    assert [r["id"] for r in snap.active_for(Identity.the_host())] == [theirs, shared, anyone]
    assert snap.get(theirs, bob) is None and snap.get(theirs, ann)["label"] == "Ann's manuscript"
    assert snap.get(shared, ann) is None     # shared with the room: others write with it, not follow it
    assert snap.get(anyone, ann)["id"] == anyone

"""The run lifecycle: every allowed move, every refused one, and the exact row each leaves."""
import json
import os
import time

import pytest

from textgen.errors import RunError
from textgen.runs import MOVES, STATUSES, Busy, Registry

NOW = 1_800_000_000.0
OTHER = os.getppid()   # another live process: a second worker


@pytest.fixture()
def reg(tmp_path, monkeypatch, registry_db):   # each test on SQLite and on PostgreSQL
    monkeypatch.setattr(time, "time", lambda: NOW)   # rows carry exact times
    return Registry(tmp_path)


def _run(reg, status, **fields):
    """A run in `status`; a running one has a live worker (this process) so it is not presumed dead."""
    if status == "running":
        fields = {"pid": os.getpid(), "heartbeat": NOW, **fields}
    return reg.create_run("r", status=status, args="[]", **fields)


def _row(reg, run_id):
    row = reg.get_run(run_id)
    return {k: row[k] for k in ("status", "message", "pid", "heartbeat", "finished", "eta", "cancel", "args")}


def _new_row(status, **changes):
    base = {"status": status, "message": "", "pid": None, "heartbeat": None, "finished": None, "eta": None,
            "cancel": 0, "args": "[]"}
    if status == "running":
        base.update(pid=os.getpid(), heartbeat=NOW)
    return {**base, **changes}


def test_the_table_names_every_status_and_only_statuses():
    assert set(MOVES) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in MOVES.values())
    assert MOVES["done"] == {"queued"} and MOVES["importing"] == {"done"}   # done is final but for a resume


# (method, the statuses it moves a run from, the status it leaves, the row's changed columns)
ENDED = ("done", "cancelled", "diverged", "failed", "interrupted")
METHODS = {
    "start": (("queued",), "running", {"pid": OTHER, "heartbeat": NOW, "message": ""}),
    "finish_done": (("running", "interrupted"), "done",
                    {"message": "ok", "finished": NOW, "pid": None, "eta": 0, "heartbeat": NOW, "cancel": 0}),
    "finish_cancelled": (("running", "interrupted"), "cancelled",
                         {"message": "ok", "finished": NOW, "pid": None, "eta": 0, "heartbeat": NOW, "cancel": 0}),
    "finish_diverged": (("running", "interrupted"), "diverged",
                        {"message": "ok", "finished": NOW, "pid": None, "eta": 0, "heartbeat": NOW, "cancel": 0}),
    "fail": (("queued", "running", "interrupted"), "failed",
             {"message": "disk full", "finished": NOW, "pid": None, "cancel": 0}),
    "requeue": (ENDED, "queued", {"message": "Waiting to resume.", "args": '["--resume", "x"]', "cancel": 0}),
    "interrupt": (("running",), "interrupted", {"message": "gone"}),
    "cancel": (("queued",), "cancelled", {"message": "Cancelled before it started.", "finished": NOW}),
    "finish_import": (("importing",), "done", {"message": "Imported from a bundle."}),
}


def _call(reg, method, run_id):
    if method == "start":
        reg.start(run_id, OTHER)
    elif method.startswith("finish_") and method != "finish_import":
        reg.finish(run_id, method.split("_")[1], "ok")
    elif method == "fail":
        reg.fail(run_id, "disk full")
    elif method == "requeue":
        reg.requeue(run_id, ["--resume", "x"])
    elif method == "interrupt":
        reg.interrupt(run_id, "gone")
    elif method == "cancel":
        reg.cancel(run_id)
    else:
        reg.finish_import(run_id, message="Imported from a bundle.")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", STATUSES)
def test_each_transition_from_each_status(reg, method, status):
    """Allowed: the row is exactly the old one with the move's columns. Refused: one sentence, row untouched."""
    sources, to, changes = METHODS[method]
    run_id = _run(reg, status, cancel=1 if status in ("running", "queued") else 0)
    before = _row(reg, run_id)
    if status in sources:
        _call(reg, method, run_id)
        assert _row(reg, run_id) == {**before, "status": to, **changes}
        assert to in MOVES[status]
    else:
        with pytest.raises(RunError) as e:
            _call(reg, method, run_id)
        assert _row(reg, run_id) == before
        if not (method == "start" and status == "running"):   # a claimed run is started in place (below)
            if method == "requeue" and status in ("queued", "running", "importing"):
                assert str(e.value) == "This run is already training or waiting in the queue."
            else:
                assert str(e.value) == f"Run {run_id} is {status} and cannot become {to} this way."


@pytest.mark.parametrize("status,to", [("done", "running"), ("queued", "done"), ("failed", "running"),
                                       ("importing", "running"), ("cancelled", "running"), ("done", "failed"),
                                       ("interrupted", "running"), ("diverged", "done")])
def test_named_illegal_moves_are_refused(reg, status, to):
    run_id = _run(reg, status)
    before = _row(reg, run_id)
    with pytest.raises(RunError, match=f"is {status} and cannot become {to} this way"):
        if to == "running":
            reg.start(run_id, OTHER)
        elif to == "failed":
            reg.fail(run_id, "x")
        else:
            reg.finish(run_id, to)
    assert _row(reg, run_id) == before


def test_claim_next_takes_the_oldest_queued_run_while_there_is_room(reg):
    second = reg.create_run("b", status="queued", args='["b"]', created=NOW - 1)
    first = reg.create_run("a", status="queued", args='["a"]', created=NOW - 2)
    assert reg.claim_next(1) == {"id": first, "args": '["a"]'}
    assert _row(reg, first) == _new_row("running", pid=None, heartbeat=NOW, message="Starting…", args='["a"]')
    assert reg.claim_next(1) is None                      # one runs: the cap holds
    assert _row(reg, second)["status"] == "queued"
    assert reg.claim_next(2) == {"id": second, "args": '["b"]'}
    assert reg.claim_next(5) is None                      # nothing left to claim


def test_a_claimed_run_is_started_by_its_worker_and_refused_to_another(reg):
    run_id = reg.create_run("r", status="queued", args="[]")
    reg.claim_next(1)
    reg.start(run_id, os.getpid(), epochs=3)
    assert _row(reg, run_id) == _new_row("running", pid=os.getpid(), heartbeat=NOW)
    assert reg.get_run(run_id)["epochs"] == 3
    with pytest.raises(Busy, match=f"Run {run_id} is still training."):
        reg.start(run_id, OTHER)
    assert _row(reg, run_id)["pid"] == os.getpid()
    reg.start(run_id, os.getpid(), message="again")       # the same worker may say it again
    assert _row(reg, run_id)["message"] == "again"


def test_a_resume_goes_through_the_queue(reg):
    run_id = _run(reg, "failed")
    reg.requeue(run_id, ["--resume", run_id])
    reg.start(run_id, OTHER)
    assert _row(reg, run_id) == _new_row("running", pid=OTHER, heartbeat=NOW, args=json.dumps(["--resume", run_id]))


def test_the_status_column_has_no_other_writer(reg):
    run_id = _run(reg, "queued")
    with pytest.raises(RunError, match="only through the registry's transitions"):
        reg.update_run(run_id, status="done")
    with pytest.raises(RunError, match="only through the registry's transitions"):
        reg.add_metrics(run_id, [{"kind": "batch", "step": 1}], status="done")
    assert reg.metrics(run_id) == [] and _row(reg, run_id)["status"] == "queued"
    with pytest.raises(RunError, match="'finished' is not a run status"):
        reg.create_run("x", status="finished")
    with pytest.raises(RunError, match="finishes done, cancelled or diverged, not 'failed'"):
        reg.finish(_run(reg, "running"), "failed")


def test_request_cancel_cancels_a_queued_run_and_flags_a_running_one(reg):
    queued, running = _run(reg, "queued"), _run(reg, "running")
    reg.request_cancel(queued)
    reg.request_cancel(running)
    assert _row(reg, queued) == _new_row("cancelled", message="Cancelled before it started.", finished=NOW, cancel=1)
    assert _row(reg, running) == _new_row("running", cancel=1)   # its worker stops at the next flush


def test_a_dead_worker_is_interrupted_and_its_late_report_still_lands(reg):
    run_id = reg.create_run("r", status="running", pid=2**22 + 12345, heartbeat=NOW, args="[]")
    assert _row(reg, run_id) == _new_row("interrupted", pid=2**22 + 12345, heartbeat=NOW,
                                         message="The training process stopped unexpectedly; resume continues "
                                                 "from the last checkpoint.")
    reg.finish(run_id, "done", "late")
    assert _row(reg, run_id) == _new_row("done", message="late", finished=NOW, eta=0, heartbeat=NOW)


def test_the_heartbeat_beats_only_for_a_running_run(reg, monkeypatch):
    running, done = _run(reg, "running"), _run(reg, "done")
    monkeypatch.setattr(time, "time", lambda: NOW + 5)
    reg.beat(running)
    reg.beat(done)
    assert (_row(reg, running)["heartbeat"], _row(reg, done)["heartbeat"]) == (NOW + 5, None)

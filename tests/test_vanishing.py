"""Measuring a stored run's vanishing curve after the fact: one queued job per run, within the job cap, under a
time limit, its state read from the job's registry row."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np

import pytest

from textgen import Registry, gradients, jobs, vanishing
from textgen.errors import RunError
from textgen.identity import Identity
from tests.waiting import wait_until


def _copy(tiny_run, tmp_path):
    home, run_id = tiny_run
    copy = tmp_path / "ws"
    shutil.copytree(home, copy)
    return copy, run_id, copy / "runs" / run_id


def _uncurved(tiny_run, tmp_path, monkeypatch):
    """A copy of the tiny run without its curve, as a run trained before the worker measured it."""
    home, run_id, run_dir = _copy(tiny_run, tmp_path)
    monkeypatch.setenv("INKWELL_HOME", str(home))
    stored = gradients.read_curve(run_dir).norms
    (run_dir / gradients.CURVE_FILE).unlink()
    return Registry(home), run_id, run_dir, stored


def _runs(reg, n, **fields):
    """n finished runs without a curve (rows only: nothing here measures them)."""
    return [reg.create_run(f"run {i}", status="running", **fields) for i in range(n)]


def _done(reg, run_ids):
    for rid in run_ids:
        reg.finish(rid, "done")


def test_a_queued_measurement_stores_what_the_worker_stored(tiny_run, tmp_path, monkeypatch):
    reg, run_id, run_dir, stored = _uncurved(tiny_run, tmp_path, monkeypatch)
    assert vanishing.state(reg, run_id) == ("none", "")
    assert vanishing.submit(reg, [run_id]) == [run_id]
    assert vanishing.wait(reg, run_id) == "measured"
    np.testing.assert_array_equal(gradients.read_curve(run_dir).norms, stored)
    job = reg.get_run(vanishing.job_id(run_id))
    assert (job["status"], job["level"], job["message"]) == (
        "done", vanishing.LEVEL, f"Measured over {gradients.CURVE_WINDOWS} windows of held-out text.")
    assert job["label"] == "Vanishing curve of tiny shared" and job["pid"] is None
    assert vanishing.submit(reg, [run_id]) == []   # measured: nothing to queue


def test_two_clicks_and_two_sessions_queue_one_job(workspace, monkeypatch):
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry()
    (rid,) = _runs(reg, 1)
    _done(reg, [rid])
    assert vanishing.submit(reg, [rid]) == [rid]
    assert vanishing.submit(reg, [rid]) == [] and vanishing.submit(Registry(), [rid]) == []
    assert vanishing.state(reg, rid) == ("queued", "")
    assert [r["id"] for r in reg.list_runs() if r["level"] == vanishing.LEVEL] == [vanishing.job_id(rid)]


def test_sessions_clicking_at_once_queue_one_job_on_both_databases(tmp_path, monkeypatch, registry_db):
    monkeypatch.setenv("INKWELL_HOME", str(tmp_path))
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry(tmp_path)
    (rid,) = _runs(reg, 1)
    _done(reg, [rid])
    queued, errors, go = [], [], threading.Barrier(8)

    def click():
        try:
            mine = Registry(tmp_path)   # a session of its own
            go.wait()
            queued.extend(vanishing.submit(mine, [rid]))
        except Exception as e:  # noqa: BLE001 - the test reports any failure
            errors.append(e)
    threads = [threading.Thread(target=click) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and queued == [rid]
    with reg.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM runs WHERE level=?", (vanishing.LEVEL,)).fetchone()[0] == 1


def test_measurements_run_within_the_hosts_job_cap(workspace, monkeypatch):
    monkeypatch.setenv("INKWELL_MAX_JOBS", "2")
    spawned = []
    monkeypatch.setattr(jobs, "_spawn", lambda reg, rid, command: spawned.append(command) or os.getpid())
    reg = Registry()
    training = reg.create_run("training now", status="running", pid=os.getpid(), heartbeat=time.time())
    rids = _runs(reg, 3)
    _done(reg, rids)
    assert vanishing.submit(reg, rids) == rids
    # One training and one measurement fill the cap of two; the other two measurements wait their turn.
    assert [s[0] for s in vanishing.states(reg, rids).values()] == ["measuring", "queued", "queued"]
    assert spawned == [["vanishing", rids[0], "--job", vanishing.job_id(rids[0]), "--limit", "600"]]
    reg.finish(training, "done")
    jobs.pump(reg)
    assert [s[0] for s in vanishing.states(reg, rids).values()] == ["measuring", "measuring", "queued"]


def test_a_writer_measures_only_their_own_runs_and_the_host_any(workspace, monkeypatch):
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    ana, ben = Identity.writer("a" * 22), Identity.writer("b" * 22)
    reg = Registry()
    mine, theirs = _runs(reg, 1, owner=ana.owner) + _runs(reg, 1, owner=ben.owner, shared=1)
    _done(reg, [mine, theirs])
    with pytest.raises(RunError, match="belongs to another writer"):
        vanishing.submit(reg, [mine, theirs], ana)   # a shared run is for writing with, not measuring
    assert vanishing.states(reg, [mine, theirs]) == {mine: ("none", ""), theirs: ("none", "")}   # nothing queued
    assert vanishing.submit(reg, [mine], ana) == [mine]
    assert vanishing.submit(reg, [theirs], Identity.the_host()) == [theirs]
    assert reg.get_run(vanishing.job_id(mine))["owner"] == ana.owner


def test_a_run_still_training_is_refused(workspace, monkeypatch):
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry()
    done, training = _runs(reg, 2)
    _done(reg, [done])
    with pytest.raises(RunError, match=f"^Run {training} has not finished training, so it has no curve to measure"):
        vanishing.submit(reg, [done, training])
    assert reg.get_run(vanishing.job_id(done)) is None


def test_a_failed_measurement_keeps_its_sentence_and_a_retry_measures(tiny_run, tmp_path, monkeypatch):
    reg, run_id, run_dir, stored = _uncurved(tiny_run, tmp_path, monkeypatch)
    text = (run_dir / "corpus.txt").read_text("utf-8")
    (run_dir / "corpus.txt").unlink()
    vanishing.submit(reg, [run_id])
    assert vanishing.wait(reg, run_id) == "failed"
    assert vanishing.state(reg, run_id) == ("failed", "This run keeps no copy of its text to measure on.")
    (run_dir / "corpus.txt").write_text(text, "utf-8")
    assert vanishing.submit(reg, [run_id]) == [run_id]   # the same job row, queued again
    assert vanishing.wait(reg, run_id) == "measured"
    np.testing.assert_array_equal(gradients.read_curve(run_dir).norms, stored)


def test_a_measurement_past_its_limit_ends_failed_with_the_message(workspace, monkeypatch):
    reg = Registry()
    (rid,) = _runs(reg, 1)
    _done(reg, [rid])
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    vanishing.submit(reg, [rid], limit=0.3)
    assert reg.claim_next(1)["id"] == vanishing.job_id(rid)
    release, exits = threading.Event(), []

    def stuck(run_dir):   # a measurement that would not end by itself
        assert release.wait(10)
        return gradients.Curve(np.ones(3), 1)
    monkeypatch.setattr(vanishing, "measure_run", stuck)
    monkeypatch.setattr(vanishing, "_exit", lambda code: exits.append(code) or release.set())
    monkeypatch.setattr(os, "nice", lambda n: 0)
    t0 = time.monotonic()
    vanishing.work(reg, vanishing.job_id(rid), rid, 0.3)
    assert exits == [124] and 0.3 <= time.monotonic() - t0 < 5
    said = "The measurement was stopped at its time limit of 0.3 seconds: the machine may be too busy or the " \
           "model too large; try again later."
    assert vanishing.state(reg, rid) == ("failed", said)
    assert reg.get_run(vanishing.job_id(rid))["status"] == "failed"   # the late result did not overwrite it
    assert vanishing.over_limit(vanishing.TIME_LIMIT).startswith("The measurement was stopped at its time limit of "
                                                                "600 seconds")


def _claimed(monkeypatch):
    """A finished run whose measurement was queued and claimed, with no worker started: (registry, run, job)."""
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry()
    (rid,) = _runs(reg, 1)
    _done(reg, [rid])
    vanishing.submit(reg, [rid])
    return reg, rid, reg.claim_next(1)["id"]


def test_a_worker_past_its_limit_ends_its_own_process(workspace, monkeypatch):
    """The real exit, mid-measurement: the process is gone with code 124 and its job failed with the message."""
    reg, rid, job = _claimed(monkeypatch)
    script = ("import sys, time\nfrom textgen import Registry, vanishing\n"
              "vanishing.measure_run = lambda run_dir: time.sleep(60)\n"
              f"vanishing.work(Registry(), {job!r}, {rid!r}, 0.5)\nsys.exit(3)\n")
    env = {**os.environ, "PYTHONPATH": str(vanishing.Path(__file__).resolve().parents[1])}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 124 and time.monotonic() - t0 < 30, r.stderr
    assert vanishing.state(reg, rid) == ("failed", vanishing.over_limit(0.5))


def test_a_killed_worker_is_noticed(tiny_run, tmp_path, monkeypatch):
    reg, run_id, run_dir, _ = _uncurved(tiny_run, tmp_path, monkeypatch)
    vanishing.submit(reg, [run_id])
    pid = reg.get_run(vanishing.job_id(run_id))["pid"]
    assert pid and vanishing.state(reg, run_id) == ("measuring", "")
    os.kill(pid, signal.SIGKILL)   # before it could measure: Python alone takes longer to start
    assert wait_until(lambda: vanishing.state(reg, run_id), lambda s: s[0] != "measuring", 10, 0.05) == (
        "failed", vanishing.STOPPED)
    assert gradients.read_curve(run_dir) is None
    assert vanishing.submit(reg, [run_id]) == [run_id]   # and it may go again
    assert vanishing.wait(reg, run_id) == "measured"


def test_a_reused_pid_without_heartbeats_is_not_measuring_forever(workspace, monkeypatch):
    reg, rid, job = _claimed(monkeypatch)
    reg.start(job, os.getpid())   # a live process, but not a worker: it never beats
    assert vanishing.state(reg, rid) == ("measuring", "")
    with reg.connect() as db:
        db.execute("UPDATE runs SET heartbeat=? WHERE id=?", (time.time() - 100, job))
    assert vanishing.state(reg, rid) == ("failed", vanishing.STOPPED)


def test_the_worker_beats_while_it_measures(workspace, monkeypatch):
    monkeypatch.setattr(vanishing, "BEAT", 0.05)
    monkeypatch.setattr(os, "nice", lambda n: 0)
    reg, rid, job = _claimed(monkeypatch)
    beats = []

    def slow(run_dir):
        for _ in range(6):
            time.sleep(0.05)
            beats.append(reg.get_run(job)["heartbeat"])
        return gradients.Curve(np.ones(3), 1)
    monkeypatch.setattr(vanishing, "measure_run", slow)
    vanishing.work(reg, job, rid, 60)
    assert len(set(beats)) >= 3 and reg.get_run(job)["status"] == "done"


def test_a_cancelled_measurement_says_so(workspace, monkeypatch):
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry()
    (rid,) = _runs(reg, 1)
    _done(reg, [rid])
    vanishing.submit(reg, [rid])
    jobs.cancel(vanishing.job_id(rid), reg)
    assert vanishing.state(reg, rid) == ("failed", "Cancelled before it started.")


def test_deleting_a_run_deletes_its_measurement_and_ends_a_running_one(workspace, monkeypatch):
    monkeypatch.setattr(vanishing, "BEAT", 0.05)
    monkeypatch.setattr(os, "nice", lambda n: 0)
    reg, rid, job = _claimed(monkeypatch)
    (other,) = _runs(reg, 1)   # another text run, untouched
    measuring, exits = threading.Event(), []

    def stuck(run_dir):   # until the watch ends it (the real _exit ends the process mid-NumPy)
        measuring.set()
        assert wait_until(lambda: exits, bool, 10, 0.05)
        return gradients.Curve(np.ones(3), 1)
    monkeypatch.setattr(vanishing, "measure_run", stuck)
    monkeypatch.setattr(vanishing, "_exit", lambda code: exits.append(code))
    worker = threading.Thread(target=vanishing.work, args=(reg, job, rid, 60), daemon=True)
    worker.start()
    assert measuring.wait(10)
    reg.delete_run(rid)
    assert reg.get_run(job) is None and not reg.run_dir(job).exists() and reg.get_run(rid) is None
    worker.join(10)
    assert exits == [0] and reg.get_run(job) is None   # its watch read the row gone as a cancel, and wrote no row
    assert [r["id"] for r in reg.list_runs()] == [other]


def test_the_worker_command_refuses_a_bad_run_in_one_line(workspace):
    env = {**os.environ, "PYTHONPATH": str(vanishing.Path(__file__).resolve().parents[1])}
    r = subprocess.run([sys.executable, "-m", "textgen", "vanishing", "../x", "--job", "20990101-000000-abcdef-vc"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("textgen: '../x' is not a run id") and r.stderr.count("\n") == 1


def test_the_table_reads_the_curve_at_a_few_distances():
    curve = gradients.Curve(np.array([2.0 * 0.5 ** k for k in range(31)]), 8)
    lines = vanishing.table(curve).splitlines()
    assert [l.split() for l in lines[1:-1]] == [["0", "2", "1"], ["1", "1", "0.5"], ["2", "0.5", "0.25"],
                                                ["5", "0.0625", "0.0312"], ["10", "0.00195", "0.000977"],
                                                ["20", "1.91e-06", "9.54e-07"], ["30", "1.86e-09", "9.31e-10"]]
    assert lines[-1] == "each step back keeps about 50% of the gradient (8 windows of held-out text)"

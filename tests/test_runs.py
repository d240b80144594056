"""Registry, job runner and faults: dead workers, concurrent writers, full disks, traversal."""
import errno
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from textgen import atomic, jobs
from textgen.config import ModelConfig, TrainConfig
from textgen.errors import RunError
from textgen.runs import Registry, check_run_id, clean_label
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("registry_db")   # every test on SQLite and on PostgreSQL


def test_labels_are_display_text_and_ids_are_checked(tmp_path):
    reg = Registry(tmp_path)
    run_id = reg.create_run("../../etc/passwd\x00" + "x" * 2000)
    run = reg.get_run(run_id)
    assert run["label"].startswith("../../etc/passwd") and "\x00" not in run["label"] and len(run["label"]) == 80
    assert reg.run_dir(run_id) == tmp_path / "runs" / run_id
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run_id]
    for bad in ["../../etc/passwd", "/etc", "a/b", "a\x00b", "x" * 2000, "", "UPPER-CASE-ID", "abcd-1234\n"]:
        with pytest.raises(RunError, match="is not a run id"):
            check_run_id(bad)
    assert clean_label("  \t ") == "untitled"


def test_dead_worker_is_marked_interrupted(tmp_path):
    reg = Registry(tmp_path)
    run_id = reg.create_run("r", status="running", pid=2**22 + 12345, heartbeat=time.time())
    assert reg.get_run(run_id)["status"] == "interrupted"
    stale = reg.create_run("s", status="running", pid=os.getpid(), heartbeat=time.time() - 3600)
    assert reg.get_run(stale)["status"] == "interrupted"
    alive = reg.create_run("a", status="running", pid=os.getpid(), heartbeat=time.time())
    assert reg.get_run(alive)["status"] == "running"


def test_deleting_a_run_ends_its_running_measurement_and_no_other_process(tmp_path):
    """A measurement of a deleted run would write its curve into the deleted folder: its worker is killed first.
    A process whose command does not name the job (the pid given to another program) is not touched, and a
    silent training worker is only marked interrupted: a machine waking from sleep is silent too."""
    import subprocess

    reg = Registry(tmp_path)
    run = reg.create_run("text", status="running")
    reg.finish(run, "done")
    job = f"{run}-vc"
    reg.queue_job(job, "Vanishing curve of text", ["vanishing", run, "--job", job], level="vanishing", corpus=run)
    quiet = reg.create_run("quiet", status="running")
    sleep = [sys.executable, "-c", "import time; time.sleep(120)", "textgen"]
    worker = subprocess.Popen([*sleep, "vanishing", run, "--job", job], start_new_session=True)
    stranger = subprocess.Popen([*sleep, "--run-id", "20260101-000000-000000"], start_new_session=True)
    trainer = subprocess.Popen([*sleep, "--run-id", quiet], start_new_session=True)
    try:
        reg.start(job, worker.pid)
        reg.update_run(quiet, pid=trainer.pid, heartbeat=time.time() - 1000)
        assert reg.get_run(quiet)["status"] == "interrupted" and trainer.poll() is None
        other = reg.create_run("other", status="running", pid=stranger.pid, level="vanishing", corpus=run)
        reg.delete_run(run)
        assert worker.wait(10) == -signal.SIGKILL
        assert stranger.poll() is None and trainer.poll() is None
        assert [reg.get_run(r) for r in (run, job, other)] == [None, None, None]
        assert not reg.run_dir(job).exists() and not reg.run_dir(run).exists()
    finally:
        for proc in (worker, stranger, trainer):
            proc.kill()
            proc.wait()


def test_two_writers_at_once_never_see_database_locked(tmp_path):
    reg = Registry(tmp_path)
    ids = [reg.create_run(f"w{i}", status="running") for i in range(4)]
    errors = []

    def write(run_id):
        try:
            r = Registry(tmp_path)
            for step in range(150):
                r.add_metrics(run_id, [{"kind": "batch", "step": step, "loss": 1.0}], step=step, heartbeat=time.time())
        except Exception as e:  # noqa: BLE001 - the test reports any failure
            errors.append(e)
    threads = [threading.Thread(target=write, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [len(reg.metrics(i, "batch")) for i in ids] == [150] * 4


def test_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "checkpoints" / "latest.npz"
    atomic.write_npz(target, {"w": np.arange(3)})

    def disk_full(fd):  # the data reaches the disk at fsync; a full disk reports it there
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic.write_npz(target, {"w": np.arange(1000)})
    monkeypatch.undo()
    assert atomic.read_npz(target)["w"].tolist() == [0, 1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["latest.npz"]   # no temp file left behind


def test_disk_full_during_training_fails_with_a_message(tmp_path, monkeypatch, sample_text):
    from textgen import checkpoint
    from textgen.corpus import load_corpus
    from textgen.train import train

    real_save = checkpoint.save
    calls = {"n": 0}

    def save_then_fill(path, model, state):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(path, model, state)
    monkeypatch.setattr(checkpoint, "save", save_then_fill)
    cfg = TrainConfig(seq_len=12, batch_size=4, epochs=2, seed=1, sample_length=0)
    with pytest.raises(RunError, match="could not write to disk.*previous checkpoint is intact"):
        train(load_corpus(sample_text[:3000]), ModelConfig(cell="gru", layers=1, units=8, embedding=4), cfg,
              workspace=tmp_path)
    reg = Registry(tmp_path)
    run = reg.list_runs()[0]
    assert run["status"] == "failed"
    state = checkpoint.load_state(reg.run_dir(run["id"]) / "checkpoints" / "latest.npz")
    assert state["epoch"] == 1   # the first epoch's checkpoint survived


def _wait(reg, run_id, pred, timeout=400.0):  # generous: CI machines are shared and slow
    return wait_until(lambda: reg.get_run(run_id), pred, timeout, every=0.2)


def test_kill_9_worker_then_resume_from_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("INKWELL_HOME", str(tmp_path))
    corpus = tmp_path / "c.txt"
    corpus.write_text(("The lamp turns over the dark water and the boats come home. " * 400))
    reg = Registry(tmp_path)
    cfg = TrainConfig(seq_len=20, batch_size=8, epochs=50, seed=1, sample_length=0)
    run_id = jobs.submit(corpus, ModelConfig(cell="gru", layers=1, units=16, embedding=8), cfg, "killed", reg)
    run = _wait(reg, run_id, lambda r: r["status"] == "running" and r["pid"]
                and (reg.run_dir(run_id) / "checkpoints" / "latest.npz").exists())
    os.kill(run["pid"], signal.SIGKILL)
    run = _wait(reg, run_id, lambda r: r["status"] == "interrupted", timeout=30)
    assert "resume" in run["message"]
    from textgen import checkpoint
    saved = checkpoint.load_state(reg.run_dir(run_id) / "checkpoints" / "latest.npz")
    assert saved["epoch"] >= 1
    jobs.submit_resume(run_id, reg, epochs=saved["epoch"] + 1)
    run = _wait(reg, run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "done", (reg.run_dir(run_id) / "worker.log").read_text()[-2000:]
    assert run["epoch"] == saved["epoch"] + 1


def test_queue_respects_the_cap_and_cancel(tmp_path, monkeypatch):
    monkeypatch.setenv("INKWELL_HOME", str(tmp_path))
    monkeypatch.setenv("INKWELL_MAX_JOBS", "1")
    corpus = tmp_path / "c.txt"
    corpus.write_text("Gulls over the quay, bread in the oven, rain on the glass. " * 300)
    reg = Registry(tmp_path)
    model = ModelConfig(cell="rnn", layers=1, units=8, embedding=4)
    cfg = TrainConfig(seq_len=20, batch_size=8, epochs=1000, seed=1, sample_length=0)
    first = jobs.submit(corpus, model, cfg, "first", reg)
    second = jobs.submit(corpus, model, cfg, "second", reg)
    assert reg.get_run(second)["status"] == "queued"
    _wait(reg, first, lambda r: r["status"] == "running" and r["epoch"] >= 1)
    jobs.cancel(first, reg)
    _wait(reg, first, lambda r: r["status"] == "cancelled")
    assert (reg.run_dir(first) / "checkpoints" / "latest.npz").exists()
    _wait(reg, second, lambda r: r["status"] == "running")   # the ending worker started the next job
    jobs.cancel(second, reg)
    _wait(reg, second, lambda r: r["status"] == "cancelled")


def test_job_survives_the_process_that_started_it(tmp_path, monkeypatch):
    """The web server restarting (its process gone) does not stop a training job."""
    import subprocess

    monkeypatch.setenv("INKWELL_HOME", str(tmp_path))
    corpus = tmp_path / "c.txt"
    corpus.write_text("Rain on the lantern glass and bread on the sill. " * 300)
    code = ("from textgen import jobs, ModelConfig, TrainConfig\n"
            f"print(jobs.submit({str(corpus)!r}, ModelConfig(cell='gru', layers=1, units=8, embedding=4), "
            "TrainConfig(seq_len=20, batch_size=8, epochs=2, sample_length=0), 'orphan'))")
    starter = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert starter.returncode == 0, starter.stderr
    run_id = starter.stdout.strip()                  # the starting process has exited by now
    run = _wait(Registry(tmp_path), run_id, lambda r: r["status"] not in ("queued", "running"))
    assert (run["status"], run["epoch"]) == ("done", 2)


def test_resume_refuses_a_run_that_is_training_or_queued(tmp_path):
    reg = Registry(tmp_path)
    live = reg.create_run("live", status="running", pid=os.getpid(), heartbeat=time.time())
    waiting = reg.create_run("waiting", status="queued")
    for run_id in (live, waiting):
        with pytest.raises(RunError, match="already training or waiting"):
            jobs.submit_resume(run_id, reg)
    assert (reg.get_run(live)["status"], reg.get_run(waiting)["status"]) == ("running", "queued")


def test_a_worker_that_cannot_start_training_marks_its_run_failed(tmp_path, monkeypatch):
    """A queued run whose corpus vanished fails with the reason instead of looking interrupted."""
    monkeypatch.setenv("INKWELL_HOME", str(tmp_path))
    corpus = tmp_path / "gone.txt"
    corpus.write_text("Words for a moment. " * 200)
    reg = Registry(tmp_path)
    monkeypatch.setenv("INKWELL_MAX_JOBS", "1")
    blocker = reg.create_run("busy", status="running", pid=os.getpid(), heartbeat=time.time())
    run_id = jobs.submit(corpus, ModelConfig(cell="gru", layers=1, units=8, embedding=4),
                         TrainConfig(seq_len=20, batch_size=8, epochs=1, sample_length=0), "doomed", reg)
    assert reg.get_run(run_id)["status"] == "queued"
    corpus.unlink()
    reg.finish(blocker, "done")
    jobs.pump(reg)
    run = _wait(reg, run_id, lambda r: r["status"] not in ("queued", "running"), timeout=120)
    assert run["status"] == "failed" and "does not exist" in run["message"]

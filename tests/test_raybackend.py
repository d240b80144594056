"""Training jobs on a Ray cluster (INKWELL_JOBS): the entrypoint, the process model, and real jobs on a local
two-node cluster, completing and resuming on the other node after their worker is killed."""
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from textgen import jobs
from textgen.config import ModelConfig, TrainConfig
from textgen.errors import RunError
from textgen.runs import Registry
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
HAS_RAY = importlib.util.find_spec("ray") is not None


def _imports_after_pump(tmp_path, jobs_env: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "INKWELL_JOBS"}
    if jobs_env:
        env["INKWELL_JOBS"] = jobs_env
    code = ("import sys, textgen, textgen.jobs, textgen.runs, textgen.roomcache\n"
            f"textgen.jobs.pump(textgen.runs.Registry({str(tmp_path)!r}))\n"
            "print('ray' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().splitlines()[-1]


def test_nothing_imports_ray_unless_inkwell_jobs_names_it(tmp_path):
    assert _imports_after_pump(tmp_path, None) == "False"
    assert _imports_after_pump(tmp_path, "local") == "False"
    if HAS_RAY:   # nothing is queued or running: no call reaches the (absent) cluster
        assert _imports_after_pump(tmp_path, "http://127.0.0.1:9") == "True"


def test_a_bad_inkwell_jobs_is_one_sentence(monkeypatch):
    monkeypatch.setenv("INKWELL_JOBS", "slurm")
    with pytest.raises(RunError) as e:
        jobs.backend()
    assert str(e.value) == "INKWELL_JOBS is `local` or a Ray address (ray://HEAD or http://HEAD:8265), not 'slurm'."
    monkeypatch.setenv("INKWELL_JOBS", " ")
    assert jobs.backend() == "local"


@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (an optional extra: requirements-cluster.txt)")
def test_the_ray_job_is_the_worker_command_with_its_resources(tmp_path, monkeypatch):
    from textgen import raybackend

    assert raybackend.dashboard_url("ray://head.lan:10001") == "http://head.lan:8265"
    assert raybackend.dashboard_url("http://127.0.0.1:8265/") == "http://127.0.0.1:8265"
    with pytest.raises(RunError, match="is not a Ray address"):
        raybackend.dashboard_url("ray://")
    reg = Registry(tmp_path)
    run_id = reg.create_run("r")
    line = raybackend.entrypoint(reg, run_id, ["train", "my corpus.txt", "--quiet"])
    assert line == (f"cd {ROOT} && exec {sys.executable} -m textgen train 'my corpus.txt' --quiet"
                    f" >> {tmp_path}/runs/{run_id}/worker.log 2>&1")
    monkeypatch.setenv("INKWELL_RAY_GPUS", "1")
    monkeypatch.setenv("INKWELL_DB", "postgresql://db/inkwell")
    assert raybackend.Resources.from_env() == raybackend.Resources(cpus=1.0, gpus=1.0)
    env = raybackend.worker_env(reg)
    assert (env["INKWELL_HOME"], env["INKWELL_DB"], env["INKWELL_RAY_GPUS"]) == \
        (str(tmp_path), "postgresql://db/inkwell", "1")
    monkeypatch.setenv("INKWELL_RAY_CPUS", "two")
    with pytest.raises(RunError, match="numbers of CPUs and GPUs"):
        raybackend.Resources.from_env()


# -- on a local cluster of two nodes ----------------------------------------------------------------------
MODEL = ModelConfig(cell="gru", layers=1, units=16, embedding=8)


def _corpus(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("The lamp turns over the dark water and the boats come home. " * 400)
    return corpus


def _pumping(reg, run_id, pred, timeout=300.0):
    """Wait for the run to satisfy pred while doing what the pages' polling does: pump (which checks Ray)."""
    return wait_until(lambda: reg.get_run(run_id), pred, timeout, every=0.5, before=lambda: jobs.pump(reg))


def _job_info(client, sid, pred, timeout=120.0):
    return wait_until(lambda: client.get_job_info(sid), pred, timeout, every=0.3,
                      failure=f"Ray job {sid} timed out: {{}}")


def _block_a_node(client, wait=True):
    """A Ray job holding one node's only CPU (the first to come free): the next job must go to the other node."""
    sid = "inkwell-test-block-" + secrets.token_hex(3)
    client.submit_job(entrypoint="sleep 900", submission_id=sid, entrypoint_num_cpus=1)
    if not wait:
        return sid
    return sid, _job_info(client, sid, lambda i: i.status == "RUNNING" and i.driver_node_id).driver_node_id


@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (an optional extra: requirements-cluster.txt)")
def test_a_ray_job_trains_and_lands_in_the_registry(tmp_path, monkeypatch, registry_db, ray_cluster):
    from textgen import raybackend

    monkeypatch.setenv("INKWELL_HOME", str(tmp_path))
    monkeypatch.setenv("INKWELL_JOBS", ray_cluster)
    reg = Registry(tmp_path)
    cfg = TrainConfig(seq_len=20, batch_size=8, epochs=2, seed=1, sample_length=0)
    run_id = jobs.submit(_corpus(tmp_path), MODEL, cfg, "on ray", reg)
    run = _pumping(reg, run_id, lambda r: r["status"] not in ("queued", "running"))
    log = (reg.run_dir(run_id) / "worker.log").read_text()
    assert (run["status"], run["epoch"]) == ("done", 2), log[-2000:]
    assert run["job"].startswith("ray:inkwell-" + run_id)
    client = raybackend.client(ray_cluster)
    info = _job_info(client, run["job"][4:], lambda i: i.status.is_terminal())   # the worker reports, then exits
    assert info.status == "SUCCEEDED" and info.metadata == {"inkwell_run": run_id}
    assert run["node"] == raybackend.node_name(info)   # where it ran, for the Train page
    assert (reg.run_dir(run_id) / "weights.npz").exists() and reg.metrics(run_id, "epoch")


@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (an optional extra: requirements-cluster.txt)")
@pytest.mark.parametrize("registry_db", ["postgresql"], indirect=True)   # several machines: a shared registry
def test_a_killed_ray_worker_resumes_on_the_other_node(tmp_path, monkeypatch, registry_db, ray_cluster):
    from textgen import checkpoint, raybackend

    monkeypatch.setenv("INKWELL_HOME", str(tmp_path))
    monkeypatch.setenv("INKWELL_JOBS", ray_cluster)
    client = raybackend.client(ray_cluster)
    reg = Registry(tmp_path)
    first_block, node_a = _block_a_node(client)
    try:
        cfg = TrainConfig(seq_len=20, batch_size=8, epochs=50, seed=1, sample_length=0)
        run_id = jobs.submit(_corpus(tmp_path), MODEL, cfg, "killed on ray", reg)
        run = _pumping(reg, run_id, lambda r: r["status"] == "running" and r["pid"] and r["node"]
                       and (reg.run_dir(run_id) / "checkpoints" / "latest.npz").exists())
        node_b = client.get_job_info(run["job"][4:]).driver_node_id
        assert node_b != node_a
        second_block = _block_a_node(client, wait=False)   # waits for room; takes node B when its worker dies
        os.kill(run["pid"], signal.SIGKILL)
        run = _pumping(reg, run_id, lambda r: r["status"] == "interrupted", timeout=60)
        assert run["message"] == raybackend.LOST
        assert _job_info(client, second_block, lambda i: i.status == "RUNNING").driver_node_id == node_b
        client.stop_job(first_block)   # node A has room again, and only node A
        _job_info(client, first_block, lambda i: i.status.is_terminal())
        saved = checkpoint.load_state(reg.run_dir(run_id) / "checkpoints" / "latest.npz")
        jobs.submit_resume(run_id, reg, epochs=saved["epoch"] + 1)
        run = _pumping(reg, run_id, lambda r: r["status"] not in ("queued", "running"))
        assert (run["status"], run["epoch"]) == ("done", saved["epoch"] + 1), \
            (reg.run_dir(run_id) / "worker.log").read_text()[-2000:]
        assert client.get_job_info(run["job"][4:]).driver_node_id == node_a   # resumed on the other node
    finally:
        for info in client.list_jobs():
            if info.submission_id and info.submission_id.startswith("inkwell-test-block-") \
                    and not info.status.is_terminal():
                client.stop_job(info.submission_id)


class FakeInfo:
    def __init__(self, status, node="ab12cd34ef56", address="http://10.0.0.7:52365"):
        from ray.job_submission import JobStatus

        self.status, self.driver_node_id, self.driver_agent_http_address = JobStatus(status), node, address


class FakeClient:
    """The Jobs API as check() sees it: each submission id's status, and the jobs it was asked to stop."""

    def __init__(self, statuses):
        self.statuses, self.stopped = statuses, []

    def get_job_info(self, sid):
        return FakeInfo(self.statuses[sid])

    def stop_job(self, sid):
        self.stopped.append(sid)


@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (an optional extra: requirements-cluster.txt)")
def test_check_follows_the_cluster_and_stops_a_worker_that_ignores_cancel(tmp_path, monkeypatch, registry_db):
    from textgen import raybackend

    reg = Registry(tmp_path)
    now = time.time()
    ids = {}
    for name in ("waiting", "training", "lost", "stopped", "deaf"):
        ids[name] = reg.create_run(name, status="running", pid=None, heartbeat=now - 60, job=f"ray:sid-{name}")
    local = reg.create_run("local", status="running", pid=os.getpid(), heartbeat=now)
    reg.update_run(ids["stopped"], cancel=1)
    reg.update_run(ids["deaf"], cancel=1)
    fake = FakeClient({"sid-waiting": "PENDING", "sid-training": "RUNNING", "sid-lost": "FAILED",
                       "sid-stopped": "STOPPED", "sid-deaf": "RUNNING"})
    monkeypatch.setattr(raybackend, "client", lambda address: fake)
    monkeypatch.setattr(raybackend, "_last_check", [0.0])
    monkeypatch.setattr(raybackend, "_cancel_seen", {})
    raybackend.check(reg, "http://head:8265", now=now)
    rows = {name: reg.get_run(run_id) for name, run_id in ids.items()}
    assert {n: r["status"] for n, r in rows.items()} == {"waiting": "running", "training": "running",
                                                         "lost": "interrupted", "stopped": "cancelled",
                                                         "deaf": "running"}
    assert rows["waiting"]["heartbeat"] > now - 5 and rows["training"]["heartbeat"] == now - 60   # only waiting beats
    assert (rows["lost"]["message"], rows["stopped"]["message"]) == (raybackend.LOST, raybackend.STOPPED)
    assert rows["training"]["node"] == "10.0.0.7 ab12cd34"
    assert reg.get_run(local)["node"] is None and fake.stopped == []
    raybackend.check(reg, "http://head:8265", now=now + 1)   # within CHECK_EVERY: no calls at all
    raybackend.check(reg, "http://head:8265", now=now + raybackend.STOP_AFTER - 1)
    assert fake.stopped == []                                 # the deaf worker still has time to answer
    raybackend.check(reg, "http://head:8265", now=now + raybackend.STOP_AFTER + 1)
    assert fake.stopped == ["sid-deaf"]

"""Training jobs on a Ray cluster: INKWELL_JOBS=http://HEAD:8265 (or ray://HEAD, taken as its dashboard).

Each job is one Ray job (the Jobs API) whose entrypoint is the worker command a user can type,
`python -m textgen train ...`, run from this checkout's path on whichever node has room. The nodes share
INKWELL_HOME (run directories, corpora) and the registry (INKWELL_DB), so a job started from here can resume
on any node. Imported only when INKWELL_JOBS names Ray: the single-machine install needs no Ray.
"""
from __future__ import annotations

import os
import secrets
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ray.job_submission import JobStatus, JobSubmissionClient

from .errors import RunError
from .runs import Registry

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ray:"           # runs.job of a Ray job: the prefix, then its submission id
DASHBOARD_PORT = 8265      # where the Jobs API listens on the head, Ray's default
STOP_AFTER = 20.0          # seconds a worker may take to answer the cancel flag before Ray stops its job
CHECK_EVERY = 2.0          # at most one round of job-status calls per process this often
STOPPED = "Stopped on the cluster: its worker did not answer the cancel flag in time."
LOST = "Its node on the cluster stopped the job; resume continues from the last checkpoint on any node."


@dataclass(frozen=True)
class Resources:
    """What one training job asks Ray for (INKWELL_RAY_CPUS, INKWELL_RAY_GPUS: the host's choice)."""
    cpus: float = 1.0   # CPU slots a job holds while it trains
    gpus: float = 0.0   # a GPU when the host's nodes have one (Keras then uses its cuDNN kernels)

    @classmethod
    def from_env(cls) -> "Resources":
        try:
            return cls(float(os.environ.get("INKWELL_RAY_CPUS") or 1), float(os.environ.get("INKWELL_RAY_GPUS") or 0))
        except ValueError:
            raise RunError("INKWELL_RAY_CPUS and INKWELL_RAY_GPUS are numbers of CPUs and GPUs per job.") from None


def dashboard_url(address: str) -> str:
    """The Jobs API's URL: http(s):// as given; ray://HOST[:PORT] means HOST's dashboard on its default port."""
    if address.startswith(("http://", "https://")):
        return address.rstrip("/")
    host = urlsplit(address).hostname
    if not address.startswith("ray://") or not host:
        raise RunError(f"{address!r} is not a Ray address (ray://HEAD or http://HEAD:{DASHBOARD_PORT}).")
    return f"http://{host}:{DASHBOARD_PORT}"


_clients: dict[str, JobSubmissionClient] = {}
_lock = threading.Lock()


def client(address: str) -> JobSubmissionClient:
    url = dashboard_url(address)
    with _lock:
        if url not in _clients:
            _clients[url] = JobSubmissionClient(url)
        return _clients[url]


def entrypoint(reg: Registry, run_id: str, command: list[str]) -> str:
    """The shell line Ray runs: this checkout's Python on the worker command, its output in the run's log."""
    log = reg.run_dir(run_id) / "worker.log"
    argv = [sys.executable, "-m", "textgen", *command]
    return f"cd {shlex.quote(str(ROOT))} && exec {shlex.join(argv)} >> {shlex.quote(str(log))} 2>&1"


def worker_env(reg: Registry) -> dict[str, str]:
    """The worker's environment on its node: the host's INKWELL_* settings and this workspace."""
    env = {k: v for k, v in os.environ.items() if k.startswith("INKWELL_")}
    env.update(INKWELL_HOME=str(reg.home), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return env


def submit(reg: Registry, run_id: str, command: list[str], address: str) -> str:
    """Start one claimed run as a Ray job; its runs.job value. OSError if the cluster does not take it."""
    res = Resources.from_env()
    sid = f"inkwell-{run_id}-{secrets.token_hex(3)}"   # a resume is a new Ray job: ids are never reused
    try:
        client(address).submit_job(entrypoint=entrypoint(reg, run_id, command), submission_id=sid,
                                   runtime_env={"env_vars": worker_env(reg)}, metadata={"inkwell_run": run_id},
                                   entrypoint_num_cpus=res.cpus, entrypoint_num_gpus=res.gpus or None)
    except (RuntimeError, ConnectionError, ValueError) as e:
        raise OSError(f"the Ray cluster at {dashboard_url(address)} did not take the job: {e}") from None
    return PREFIX + sid


def node_name(info) -> str:
    """Where a Ray job runs, for the Train page: its node's address and the start of its id."""
    host = urlsplit(info.driver_agent_http_address or "").hostname or "node"
    return f"{host} {info.driver_node_id[:8]}"


_last_check = [0.0]
_cancel_seen: dict[str, float] = {}   # run id -> when this process first saw its cancel flag still running


def check(reg: Registry, address: str, now: float | None = None) -> None:
    """Bring the registry's running Ray jobs up to date with the cluster: note the node a job landed on, keep
    a job waiting for room from looking dead, mark one whose Ray job ended without a word interrupted, and stop
    one whose worker has not answered the cancel flag."""
    now = time.time() if now is None else now
    if now - _last_check[0] < CHECK_EVERY:
        return
    _last_check[0] = now
    for run in reg.list_runs():
        if run["status"] != "running" or not (run["job"] or "").startswith(PREFIX):
            _cancel_seen.pop(run["id"], None)
            continue
        sid = run["job"][len(PREFIX):]
        try:
            info = client(address).get_job_info(sid)
        except (RuntimeError, ConnectionError, ValueError):
            continue   # the head is unreachable: the heartbeat decides
        if info.driver_node_id and run["node"] != node_name(info):
            reg.update_run(run["id"], node=node_name(info))
        if info.status == JobStatus.PENDING:
            reg.beat(run["id"])   # waiting for a free node is not a dead worker
        elif info.status.is_terminal():
            try:   # stopped at the host's or writer's request, or lost with its node
                if run["cancel"]:
                    reg.finish(run["id"], "cancelled", STOPPED)
                else:
                    reg.interrupt(run["id"], LOST)
            except RunError:   # its worker reported how it ended after the list was read
                pass
        elif run["cancel"]:
            seen = _cancel_seen.setdefault(run["id"], now)
            if now - seen > STOP_AFTER:
                client(address).stop_job(sid)   # Ray sends SIGTERM (the worker checkpoints), then SIGKILL

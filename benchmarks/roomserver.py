"""The server the room benchmarks measure: one code tree's app in a fresh workspace, under a probe that
counts the collector's work, with a training job beside it; and /proc readings of a process."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TRAIN_JOB = """
import sys, time
from textgen import ModelConfig, TrainConfig, jobs
from textgen.runs import Registry
reg = Registry(sys.argv[1])
job = jobs.submit(sys.argv[2], ModelConfig(cell="gru", layers=1, units=256),
                  TrainConfig(seq_len=100, batch_size=64, epochs=1000, time_budget=3600, sample_length=0),
                  "room job", reg)
print(job, flush=True)
"""


# The server runs under this wrapper: Streamlit's own command line, with the collector's work counted.
GC_PROBE = """
import gc, json, os, sys, threading, time
stats = {"full": 0, "full_s": 0.0, "young": 0}
began = [0.0]
def probe(phase, info):
    if phase == "start":
        began[0] = time.perf_counter()
    elif info["generation"] == 2:
        stats["full"] += 1
        stats["full_s"] += time.perf_counter() - began[0]
    else:
        stats["young"] += 1
gc.callbacks.append(probe)
def collect_now(*_):   # SIGUSR1: one full collection, to tell garbage from live memory
    stats["collected"] = gc.collect()
    stats["tracked_after"] = len(gc.get_objects())
import signal
signal.signal(signal.SIGUSR1, collect_now)
def dump():
    while True:
        time.sleep(1)
        with open(os.environ["ROOM_GC_STATS"] + ".tmp", "w") as f:
            json.dump(stats, f)
        os.replace(os.environ["ROOM_GC_STATS"] + ".tmp", os.environ["ROOM_GC_STATS"])
threading.Thread(target=dump, daemon=True).start()
sys.argv = ["streamlit", *sys.argv[1:]]
from streamlit.web.cli import main
main()
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak resident MB) of a process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = next((int(line.split()[1]) / 1024 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                 if line.startswith("VmHWM:")), float("nan"))
    return cpu, peak



class Server:
    """The app of one code tree in a fresh workspace, with one training job running beside it."""

    ROOT = ROOT

    def __init__(self, tree: Path, training: bool = True, env: dict | None = None):
        self.tree, self.home, self.port = tree, Path(tempfile.mkdtemp(prefix="inkwell-room-")), _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gc_stats = self.home / "gc-stats.json"
        self.env = {**os.environ, "INKWELL_HOME": str(self.home), "PYTHONPATH": str(tree),
                    "ROOM_GC_STATS": str(self.gc_stats), **(env or {})}
        self.log = Path(tempfile.mkstemp(prefix="room-server-", suffix=".log")[1])
        with open(self.log, "wb") as log:   # the child keeps its own descriptor
            self.proc = subprocess.Popen([sys.executable, "-c", GC_PROBE, "run", "app.py", "--server.port",
                                          str(self.port), "--server.headless", "true", "--server.address",
                                          "127.0.0.1"], cwd=tree, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(240):
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the server did not start")
        self.job = None
        if training:
            out = subprocess.run([sys.executable, "-c", TRAIN_JOB, str(self.home), str(tree / "assets" / "sample.txt")],
                                 cwd=tree, env=self.env, capture_output=True, text=True, check=True)
            self.job = out.stdout.split()[-1]
            while self.batches() == 0:   # the worker has imported TensorFlow and is training
                time.sleep(1)

    def errors(self) -> list[str]:
        """The last line of each traceback in the server's log (what a page's exception was), each once."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))   # Rich's colours
        return sorted({m.group(0)[:300] for m in re.finditer(r"^[\w.]+(Error|Exception|Warning): .*$", text, re.M)})

    def gc(self) -> dict:
        """The server's collections so far: full ones (count, seconds) and young ones."""
        try:
            return json.loads(self.gc_stats.read_text())
        except (OSError, ValueError):
            return {"full": 0, "full_s": 0.0, "young": 0}

    def rss_mb(self) -> float:
        return next((int(line.split()[1]) / 1024 for line in Path(f"/proc/{self.proc.pid}/status").read_text()
                     .splitlines() if line.startswith("VmRSS:")), float("nan"))

    def batches(self) -> int:
        import sqlite3

        with sqlite3.connect(self.home / "registry.sqlite", timeout=30) as db:
            return db.execute("SELECT COUNT(*) FROM metrics WHERE run_id=? AND kind='batch'",
                              (self.job,)).fetchone()[0] if self.job else 0

    def stop(self) -> None:
        if self.job:   # the worker's pid is in the registry; a cancel flag lets it checkpoint and end
            import sqlite3

            with sqlite3.connect(self.home / "registry.sqlite", timeout=30) as db:
                db.execute("UPDATE runs SET cancel=1 WHERE id=?", (self.job,))
        self.proc.terminate()
        self.proc.wait(timeout=30)
        time.sleep(3)
        shutil.rmtree(self.home, ignore_errors=True)
        self.log.unlink(missing_ok=True)

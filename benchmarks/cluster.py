"""Ray against local worker processes: what a Ray job adds to a training job's start, and 8 queued tiny jobs
on a two-node local Ray cluster against the same on `local`, side by side in one run. Not a test.

    python -m benchmarks.cluster [--address http://127.0.0.1:8265] [--repeat 3] [--jobs 8] [--max-jobs 2]
                                 [--out FILE]

Needs a running Ray cluster at --address (docs/cluster.md: a head and a second node, one CPU each). Each
mode gets a fresh workspace with its SQLite registry; the driver polls as the pages do (jobs.pump every
0.2 s). Figures from the registry's own times: start = the worker has read its corpus and taken its run
(runs.started - runs.created), total = the job ended (finished - created); the queue's makespan is first
submit to last end. The machine's load average is recorded before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import fmt_spread, fmt_time, loadavg, summary

TEXT = "The lamp turns over the dark water and the boats come home at dusk. " * 90   # ~6 000 characters


def _jobs_on(mode: str, n: int, max_jobs: int, address: str) -> list[dict]:
    """Submit n tiny jobs at once to a fresh workspace and poll until all end: their registry rows."""
    from textgen import jobs
    from textgen.config import ModelConfig, TrainConfig
    from textgen.runs import Registry

    home = Path(tempfile.mkdtemp(prefix=f"inkwell-bench-{mode}-"))
    os.environ.update(INKWELL_HOME=str(home), INKWELL_MAX_JOBS=str(max_jobs),
                      INKWELL_JOBS="local" if mode == "local" else address)
    os.environ.pop("INKWELL_DB", None)
    reg = Registry(home)
    corpus = home / "bench.txt"
    corpus.write_text(TEXT)
    model = ModelConfig(cell="gru", layers=1, units=16, embedding=8)
    cfg = TrainConfig(seq_len=20, batch_size=8, epochs=1, seed=1, sample_length=0)
    ids = [jobs.submit(corpus, model, cfg, f"bench {i}", reg) for i in range(n)]
    deadline = time.time() + 900
    while time.time() < deadline:
        rows = [reg.get_run(i) for i in ids]
        if all(r["status"] not in ("queued", "running") for r in rows):
            break
        jobs.pump(reg)
        time.sleep(0.2)
    else:
        raise SystemExit(f"{mode}: jobs did not end within 15 minutes")
    bad = [r for r in rows if r["status"] != "done"]
    if bad:
        raise SystemExit(f"{mode}: a job ended {bad[0]['status']}: {bad[0]['message']}")
    return rows


def _cell(s: dict) -> str:
    return f"{fmt_time(s['median'])} ({fmt_spread(s)})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", default="http://127.0.0.1:8265", help="the Ray cluster's Jobs API")
    ap.add_argument("--repeat", type=int, default=3, help="single jobs per mode for the start overhead")
    ap.add_argument("--jobs", type=int, default=8, help="jobs queued at once")
    ap.add_argument("--max-jobs", type=int, default=2, help="INKWELL_MAX_JOBS for the queue (2 nodes, 1 CPU each)")
    ap.add_argument("--out", help="also write the JSON here")
    a = ap.parse_args(argv)
    load_before = loadavg()
    result = {"load_before": load_before, "jobs": a.jobs, "max_jobs": a.max_jobs, "modes": {}}
    for mode in ("local", "ray"):
        singles = [_jobs_on(mode, 1, 1, a.address)[0] for _ in range(a.repeat)]
        queue = _jobs_on(mode, a.jobs, a.max_jobs, a.address)
        result["modes"][mode] = {
            "start": summary([r["started"] - r["created"] for r in singles]),
            "total": summary([r["finished"] - r["created"] for r in singles]),
            "queue_makespan": max(r["finished"] for r in queue) - min(r["created"] for r in queue),
            "queue_nodes": sorted({r["node"] or "local" for r in queue}),
        }
    result["load_after"] = loadavg()
    m = result["modes"]
    print(f"| figure | local | ray | ray - local |\n|---|---|---|---|")
    for key, label in (("start", "one job: submit to worker started"), ("total", "one job: submit to done")):
        print(f"| {label} | {_cell(m['local'][key])} | {_cell(m['ray'][key])} | "
              f"{m['ray'][key]['median'] - m['local'][key]['median']:+.2f} s |")
    print(f"| {a.jobs} queued jobs, {a.max_jobs} at a time: makespan | {m['local']['queue_makespan']:.1f} s | "
          f"{m['ray']['queue_makespan']:.1f} s | {m['ray']['queue_makespan'] - m['local']['queue_makespan']:+.1f} s |")
    print(f"\nload average before {load_before}, after {result['load_after']}; "
          f"ray queue ran on {len(m['ray']['queue_nodes'])} node(s)")
    text = json.dumps(result, indent=1)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

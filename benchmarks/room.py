"""The workshop room: N writers on the Write page of one server while a training job runs, measured with
Locust through Streamlit's own protocol (benchmarks/locustfile.py), so the load is the server's, not
thirty browsers'. Not a test: a measurement.

    python -m benchmarks.room [--writers 30] [--modes burst,steady] [--steady-seconds 300]
                              [--before REF] [--profile] [--out FILE]

burst: every writer presses Continue within the same second, once. steady: each presses every 10-30 s.
With --before REF the same rounds run first against that commit's code (exported with `git archive`),
side by side in one run. Figures: first character and completion (200 characters), median and p95 with
every failed or lost Continue counted as slower than any success; errors; each writer's saved draft
checked afterwards; the server's CPU seconds and peak memory; the machine's load; training progress.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # also when benchmarks/browsers.py imports this file as `room`
    sys.path.insert(0, str(ROOT))
from benchmarks.common import md_table  # noqa: E402
from benchmarks.roomserver import Server, _proc  # noqa: E402


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank); failures enter as +inf, so they count as the slowest."""
    if not values:
        return float("nan")
    vals = sorted(values)
    return vals[min(len(vals) - 1, max(0, math.ceil(q * len(vals)) - 1))]


def round_(server: Server, mode: str, writers: int, steady_seconds: int, profile: Path | None,
           locust_cmd: list[str]) -> dict:
    samples = Path(tempfile.mkstemp(prefix="room-", suffix=".jsonl")[1])
    log = Path(tempfile.mkstemp(prefix="room-locust-", suffix=".log")[1])
    at = time.time() + 15 + 0.5 * writers     # burst: time for every writer to open the page and type
    run_time = int(at - time.time() + 150) if mode == "burst" else steady_seconds + 15
    cmd = [*locust_cmd, "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
           "-u", str(writers), "-r", str(writers), "-t", f"{run_time}s", "-H", server.url, "--only-summary",
           "--room-mode", mode, "--room-at", str(at), "--room-samples", str(samples), "--stop-timeout", "130"]
    cpu0, _ = _proc(server.proc.pid)
    gc0, rss = server.gc(), [server.rss_mb()]
    batches0, t0, load0 = server.batches(), time.monotonic(), os.getloadavg()
    with open(log, "w") as out:   # a file, not a pipe nobody reads until the end (a full pipe stalls Locust)
        locust = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
    spy = None
    if profile is not None:
        spy = subprocess.Popen([shutil.which("py-spy") or str(Path(locust_cmd[0]).parent / "py-spy"), "record",
                                "--gil", "--format", "raw", "-o", str(profile), "-r", "50", "-d", str(run_time),
                                "-p", str(server.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tick = 0
    while locust.poll() is None:   # a burst ends as soon as every writer's one Continue is in
        time.sleep(1)
        tick += 1
        if tick % 10 == 0:         # the server's memory over the round
            rss.append(server.rss_mb())
        if mode == "burst" and samples.exists() and len(samples.read_text().splitlines()) >= writers:
            locust.send_signal(signal.SIGTERM)
    locust.wait()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    wall = time.monotonic() - t0
    cpu1, peak = _proc(server.proc.pid)
    time.sleep(1.5)   # the probe writes its counts each second
    gc1 = server.gc()
    rss.append(server.rss_mb())
    os.kill(server.proc.pid, signal.SIGUSR1)   # then one full collection: what memory was only garbage
    time.sleep(3)
    after = server.gc()
    rss_collected = server.rss_mb()
    rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    samples.unlink()
    opened = [r for r in rows if r.get("kind") != "open"]
    missing = writers - len({r["key"] for r in rows})   # a writer who left no row at all never came back
    first = [r["first"] if not r["error"] else math.inf for r in rows] + [math.inf] * missing
    done = [r["complete"] if not r["error"] else math.inf for r in rows] + [math.inf] * missing
    full = gc1["full"] - gc0["full"]
    intact, not_intact = _drafts_ok(server, rows)
    return {"mode": mode, "writers": writers, "continues": len(opened),
            "errors": sum(1 for r in rows if r["error"]) + missing,
            "error_samples": sorted({r["error"] for r in rows if r["error"]})[:3],
            "first_median": pct(first, 0.5), "first_p95": pct(first, 0.95),
            "complete_median": pct(done, 0.5), "complete_p95": pct(done, 0.95),
            "drafts_intact": intact, "drafts_not_intact": not_intact,
            "server_cpu_s": cpu1 - cpu0, "server_peak_mb": peak,
            "server_rss_mb": [round(x) for x in rss], "full_collections_per_s": full / wall,
            "full_collections": full, "garbage_collected_at_end": after.get("collected"),
            "server_rss_after_full_collection_mb": round(rss_collected),
            "full_collection_ms": 1000 * (gc1["full_s"] - gc0["full_s"]) / full if full else 0.0,
            "wall_s": wall, "server_cores": (cpu1 - cpu0) / wall, "loadavg_before": load0,
            "loadavg_after": os.getloadavg(), "locust_log_tail": _tail(log),
            "server_errors": server.errors()[:5],
            "training_batches": server.batches() - batches0 if server.job else None}


def _tail(log: Path) -> str:
    text = log.read_text(errors="replace")[-1500:]
    log.unlink()
    return text


def _drafts_ok(server: Server, rows: list[dict]) -> tuple[str, list[dict]]:
    """Each writer's saved draft still begins with what they typed (and, after a success, holds more):
    ("ok/total", what the page measured and the draft held for the first few that do not)."""
    ok = total = 0
    bad = []
    for r in {r["key"]: r for r in rows if r.get("kind") != "open"}.values():
        total += 1
        try:
            data = json.loads((server.home / "drafts" / f"{r['key']}.json").read_text("utf-8"))
            text = "".join(seg["text"] for seg in data["segments"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            text = f"(unreadable: {e})"
        good = text.startswith(r["prompt"]) and (bool(r["error"]) or len(text) > len(r["prompt"]))
        ok += good
        if not good and len(bad) < 3:
            bad.append({"row": {k: r.get(k) for k in ("error", "first", "complete", "chars", "page_done")},
                        "typed": r["prompt"], "saved": text[:300]})
    return f"{ok}/{total}", bad


def top_frames(raw: Path, limit: int = 8) -> list[tuple[str, float]]:
    """From py-spy's raw (collapsed) output: the functions in the most GIL-holding samples, inclusive."""
    counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        # A function once per sample, wherever it recurs in the stack (several files' <module>).
        for name in {frame.split(" (")[0] for frame in stack.split(";")}:
            counts[name] = counts.get(name, 0) + int(n)
    return [(k, v / max(1, total)) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.room")
    ap.add_argument("--writers", type=int, default=30)
    ap.add_argument("--modes", default="burst,steady")
    ap.add_argument("--steady-seconds", type=int, default=300)
    ap.add_argument("--before", default=None, help="a git ref to measure side by side with the working tree")
    ap.add_argument("--no-training", action="store_true")
    ap.add_argument("--profile", action="store_true", help="py-spy --gil on the server during each round")
    ap.add_argument("--locust", default=None, help="the locust command (default: this Python's -m locust)")
    ap.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment variable for every server (say STREAMLIT_RUNNER_POST_SCRIPT_GC=true)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    server_env = dict(kv.split("=", 1) for kv in args.server_env)
    locust_cmd = [args.locust] if args.locust else [sys.executable, "-m", "locust"]
    trees: list[tuple[str, Path]] = []
    tmp = None
    if args.before:
        tmp = Path(tempfile.mkdtemp(prefix="inkwell-before-"))
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        trees.append((f"before ({args.before})", tmp))
    trees.append(("now", ROOT))
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "writers": args.writers,
              "length": 200, "model": "demo", "training_job": not args.no_training, "server_env": server_env,
              "rows": []}
    out = args.out or ROOT / "benchmarks" / "results" / f"room-{time.strftime('%Y-%m-%d-%H%M')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for mode in args.modes.split(","):   # each mode's rounds back to back, so both codes meet the same load
            for name, tree in trees:
                server = Server(tree, training=not args.no_training, env=server_env)
                prof = Path(tempfile.mkstemp(suffix=".txt")[1]) if args.profile else None
                try:
                    row = round_(server, mode, args.writers, args.steady_seconds, prof, locust_cmd)
                finally:
                    server.stop()
                row["code"] = name
                if prof is not None and prof.exists() and prof.stat().st_size:
                    row["profile_top"] = top_frames(prof)
                report["rows"].append(row)
                out.write_text(json.dumps(report, indent=2, default=str))   # kept if a later round fails
                print(line(row), flush=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(table(report))
    print(f"\nwrote {out}")
    return 0


def _s(x: float) -> str:
    return "lost" if x == math.inf else f"{x:.2f} s"


def line(r: dict) -> str:
    return (f"{r['code']}, {r['mode']}, {r['writers']} writers: first p95 {_s(r['first_p95'])}, "
            f"complete p95 {_s(r['complete_p95'])}, errors {r['errors']}, drafts {r['drafts_intact']}")


HEADER = ("code", "mode", "writers", "continues", "first char median / p95", "200 chars median / p95", "errors",
          "drafts intact", "server cores", "full GCs /s (ms each)", "server RSS start / end (peak)",
          "load before / after", "training batches")


def table(report: dict) -> str:
    return md_table(HEADER, ([r["code"], r["mode"], r["writers"], r["continues"],
                              f"{_s(r['first_median'])} / {_s(r['first_p95'])}",
                              f"{_s(r['complete_median'])} / {_s(r['complete_p95'])}", r["errors"], r["drafts_intact"],
                              f"{r['server_cores']:.2f}",
                              f"{r['full_collections_per_s']:.1f} ({r['full_collection_ms']:.0f})",
                              f"{r['server_rss_mb'][0]} / {r['server_rss_mb'][-1]} ({r['server_peak_mb']:.0f}) MB",
                              f"{r['loadavg_before'][0]:.1f} / {r['loadavg_after'][0]:.1f}", r["training_batches"]]
                             for r in report["rows"]))


if __name__ == "__main__":
    sys.exit(main())

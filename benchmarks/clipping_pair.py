"""The clipping pair's settings, measured: a SimpleRNN trained with clipping off and on per setting, each side a
real `python -m textgen train` on the sample text, summarised by clipping.measure (what the Inside page says).

    .venv/bin/python -m benchmarks.clipping_pair --out benchmarks/results/clipping-pair-DATE.json
    .venv/bin/python -m benchmarks.clipping_pair --try sgd:0.5:30 --try adam:0.03:30   # optimizer:lr:seconds

Prints a table and writes JSON; the load average is recorded before and after each training.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import PYTHON, ROOT, loadavg
from textgen import clipping, jobs

SAMPLE = ROOT / "assets" / "sample.txt"


def one(optimizer: str, lr: float, seconds: float, clip: float, units: int, seq_len: int) -> dict:
    """Train one side in a fresh workspace and measure it."""
    from textgen.runs import Registry

    cfg = replace(clipping.TRAIN, optimizer=optimizer, lr=lr, time_budget=seconds, clipnorm=clip, seq_len=seq_len)
    model = replace(clipping.MODEL, units=units)
    with tempfile.TemporaryDirectory(prefix="clip-") as home:
        env = {**os.environ, "INKWELL_HOME": home, "TF_CPP_MIN_LOG_LEVEL": "2"}
        env.pop("INKWELL_DB", None)
        before, t0 = loadavg(), time.monotonic()
        subprocess.run([PYTHON, "-m", "textgen", "train", str(SAMPLE), *jobs.config_args(model, cfg), "--quiet"],
                       env=env, cwd=ROOT, check=False, capture_output=True)
        wall = time.monotonic() - t0
        os.environ["INKWELL_HOME"] = home
        reg = Registry()
        run = reg.list_runs()[0]
        rows = reg.metrics(run["id"], "batch")
    return {"optimizer": optimizer, "lr": lr, "clipnorm": clip, "units": units, "seq_len": seq_len, "budget_s": seconds,
            "wall_s": round(wall, 1), "status": run["status"], "load_before": before, "load_after": loadavg(),
            **clipping.measure(rows, run["status"]), "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--try", dest="tries", action="append", default=[],
                    help="optimizer:lr:seconds[:units[:clip]], both sides (default: the pair's own settings)")
    ap.add_argument("--seq-len", type=int, default=clipping.TRAIN.seq_len, help="every try's window length")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    t = clipping.TRAIN
    tries = args.tries or [f"{t.optimizer}:{t.lr}:{t.time_budget}:{clipping.MODEL.units}"]
    rows = []
    for spec in tries:
        opt, lr, secs, *more = spec.split(":")
        units = int(more[0]) if more else clipping.MODEL.units
        clip_on = float(more[1]) if more[1:] else clipping.CLIP_ON
        pair = {}
        for side, clip in (("off", 0.0), ("on", clip_on)):
            r = pair[side] = {"side": side, **one(opt, float(lr), float(secs), clip, units, args.seq_len)}
            rows.append(r)
            fmt = lambda v: "-" if v is None else f"{v:.3g}"   # noqa: E731
            print(f"{opt:4} lr {lr:>6} u{units} s{args.seq_len} clip {clip:g} {side:3} {r['status']:8} "
                  f"steps {r['steps']:5} loss {fmt(r['start_loss'])}"
                  f" -> {fmt(r['end_loss'])} (best {fmt(r['best_loss'])})  norm {fmt(r['start_norm'])} -> peak "
                  f"{fmt(r['peak_norm'])}  clipped {r['clipped']}  learned {r['learned']}  {r['wall_s']} s  "
                  f"load {r['load_before'][:1]}", flush=True)
        # what the Inside page would say of this pair, from the same metrics
        pair["on"]["verdict"] = clipping.verdict(pair["off"]["status"], pair["on"]["status"],
                                                 pair["off"].pop("rows"), pair["on"].pop("rows"))
        print(pair["on"]["verdict"], flush=True)
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "text": SAMPLE.name, "cores": os.cpu_count(),
           "model": {"cell": clipping.MODEL.cell, "layers": clipping.MODEL.layers,
                     "embedding": clipping.MODEL.embedding},
           "train": {"batch_size": t.batch_size, "seed": t.seed}, "rows": rows}
    print(json.dumps(out, indent=1))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()

"""Quality at a time budget: each Inkwell preset against the TensorFlow tutorial's recipe, trained
for the same wall time on the same split of a real public-domain text, side by side in one run.

    python -m benchmarks.quality [--presets Quick,Short,Long] [--tiny] [--out FILE]

The text is the King James Version of the Bible (public domain; translated 1611), as Debian's
`bible-kjv` package prints it: `make bench-quality` installs the package, nothing is downloaded at
run time and no text is committed. Verse references are stripped; about 4.2 MB remain.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textgen import ModelConfig, TrainConfig, load_corpus  # noqa: E402
from textgen.presets import PRESETS  # noqa: E402

# The recipe of TensorFlow's text-generation tutorial: embedding 256, one GRU of 1024 units,
# sequence 100, batch 64, Adam at 1e-3, no schedule, no clipping, no dropout; trained with Keras' own
# GRU layer, as the tutorial is (Inkwell's presets train with Inkwell's GRU kernel where it applies).
TUTORIAL_MODEL = ModelConfig(cell="gru", layers=1, units=1024, embedding=256, dropout=0.0)
TUTORIAL_TRAIN = TrainConfig(seq_len=100, batch_size=64, lr=1e-3, schedule="constant", clipnorm=0.0,
                             gru_kernel="keras")
VAL_WINDOW = 100   # both models are scored alike: float32 NumPy, windows of 100 characters from a zero state
#                   (word-piece models: windows of as many tokens as spell about 100 characters)
VAL_STREAMS = 50   # ... and again as 50 pieces of 2,000 characters read with the state carried, as when writing
VAL_CHARS = 100_000


def kjv_text() -> str:
    if shutil.which("bible") is None:
        raise SystemExit("benchmarks.quality needs Debian's bible-kjv package: run `make bench-quality`.")
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"^\S+\d+:\d+ ", "", out, flags=re.M)   # drop "Ge1:1 " verse references


def tiny_text() -> str:
    return (ROOT / "assets" / "sample.txt").read_text("utf-8")


def run_one(name: str, corpus, model: ModelConfig, cfg: TrainConfig, workspace: Path) -> dict:
    from textgen import data
    from textgen.evaluate import evaluate
    from textgen.generate import Generator
    from textgen.runs import Registry
    from textgen.train import train

    steps = {"n": 0, "kernel": None}

    def count(ev):
        if ev["type"] == "batch":
            steps["n"] = ev["global_step"]
        elif ev["type"] == "start":
            steps["kernel"] = ev.get("gru_kernel")

    t0 = time.monotonic()
    result = train(corpus, model, cfg, label=name, workspace=workspace, on_event=count)
    wall = time.monotonic() - t0
    gen = Generator(result.run_id, workspace=workspace)
    cpt = len(corpus.text) / len(gen.vocab.encode(corpus.text)[0])   # characters per token: 1 for characters
    length = round((60 if corpus.stats.chars < 100_000 else 300) / cpt)   # about 300 characters at any level
    sample = gen.generate("And it came to pass", length, temperature=0.8, seed=1).text
    orig = gen.originality(sample)
    run = Registry(workspace).get_run(result.run_id)
    val_text = data.split(corpus.text, cfg.val_fraction)[1]   # the run's own validation text, at any level
    # Windows of about VAL_WINDOW characters for every model: word pieces would otherwise see 3x the context.
    window = max(1, round(VAL_WINDOW / cpt))
    score = evaluate(result.run_id, val_text, workspace, window=window)
    carried = evaluate(result.run_id, val_text, workspace, streams=VAL_STREAMS)
    # training_val_bpc is training's own figure, over windows of seq_len tokens (word pieces: about 3x the characters)
    return {"name": name, "val_bpc": score.bpc, "carried_val_bpc": carried.bpc, "training_val_bpc": result.best_val_bpc,
            "train_seconds": run["elapsed"], "wall_seconds": wall,
            "chars_seen": round(steps["n"] * cfg.batch_size * cfg.seq_len * cpt), "params": run["params"],
            "level": cfg.level, "chars_per_token": cpt, "val_window_tokens": window,
            "gru_kernel": steps["kernel"],
            "model": model.__dict__, "train": {k: v for k, v in cfg.__dict__.items()},
            "sample": sample, "originality": orig.describe() if orig else None,
            "copied_share": orig.copied_share if orig else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.quality")
    ap.add_argument("--presets", default="Quick,Short,Long")
    ap.add_argument("--tiny", action="store_true", help="seconds-long budgets on the sample text (for tests)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--inkwell-only", action="store_true",
                    help="train only the presets (to try a preset change); the comparison needs both")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    text = tiny_text() if args.tiny else kjv_text()
    val_fraction = 0.1 if args.tiny else VAL_CHARS / len(text)
    corpus = load_corpus(text)
    rows = []
    with tempfile.TemporaryDirectory() as home:
        for name in names:
            preset = PRESETS[name]
            budget = 3.0 if args.tiny else preset.train.time_budget
            shrink = (lambda m: replace(m, units=16, embedding=8, layers=1)) if args.tiny else (lambda m: m)
            ours = replace(preset.train, time_budget=budget, val_fraction=val_fraction, epochs=100000,
                           sample_length=0, seq_len=min(preset.train.seq_len, 32) if args.tiny else preset.train.seq_len)
            ref = replace(TUTORIAL_TRAIN, time_budget=budget, val_fraction=val_fraction, epochs=100000,
                          sample_length=0, seq_len=32 if args.tiny else 100)
            a = run_one(f"Inkwell {name}", corpus, shrink(preset.model), ours, Path(home))
            if args.inkwell_only:
                print(f"{name}: Inkwell {a['val_bpc']:.3f} bits/char in windows, {a['carried_val_bpc']:.3f} carried "
                      f"({a['chars_seen']:,} characters seen)", flush=True)
                rows.append({"preset": name, "budget_seconds": budget, "inkwell": a})
                continue
            b = run_one(f"Tutorial recipe ({name} budget)", corpus, shrink(TUTORIAL_MODEL), ref, Path(home))
            rows.append({"preset": name, "budget_seconds": budget, "inkwell": a, "tutorial": b,
                         "gain_bpc": b["val_bpc"] - a["val_bpc"],
                         "carried_gain_bpc": b["carried_val_bpc"] - a["carried_val_bpc"]})
            print(f"{name}: Inkwell {a['val_bpc']:.3f} vs tutorial {b['val_bpc']:.3f} bits/char in windows, "
                  f"{a['carried_val_bpc']:.3f} vs {b['carried_val_bpc']:.3f} carried", flush=True)
    report = {"date": time.strftime("%Y-%m-%d"), "text": "tiny sample" if args.tiny else "KJV Bible (bible-kjv)",
              "text_chars": len(text), "val_chars": int(len(text) * val_fraction), "cpus": os.cpu_count(),
              "loadavg": os.getloadavg(), "rows": rows}
    if len(rows) > 1 and {"Quick", "Long"} <= {r["preset"] for r in rows}:
        q = next(r for r in rows if r["preset"] == "Quick")["inkwell"]
        lo = next(r for r in rows if r["preset"] == "Long")["inkwell"]
        report["long_minus_quick_bpc"] = q["val_bpc"] - lo["val_bpc"]
        report["carried_long_minus_quick_bpc"] = q["carried_val_bpc"] - lo["carried_val_bpc"]
    if not args.inkwell_only:
        print(table(report))
    out = args.out or ROOT / "benchmarks" / "results" / f"quality-{report['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")
    return 0


def table(report: dict) -> str:
    lines = ["| preset | budget | scored | Inkwell val bpc | tutorial val bpc | gain (target ≥ 0.3) | chars seen (Inkwell / tutorial) |",
             "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        a, b = r["inkwell"], r["tutorial"]
        for scored, key, gain in (("windows of 100", "val_bpc", r["gain_bpc"]),
                                  ("state carried", "carried_val_bpc", r["carried_gain_bpc"])):
            ok = "met" if gain >= 0.3 else f"missed by {0.3 - gain:.2f}"
            lines.append(f"| {r['preset']} | {r['budget_seconds']:.0f} s | {scored} | {a[key]:.3f} | {b[key]:.3f} | "
                         f"{gain:+.3f} ({ok}) | {a['chars_seen']:,} / {b['chars_seen']:,} |")
    if "long_minus_quick_bpc" in report:
        d, c = report["long_minus_quick_bpc"], report["carried_long_minus_quick_bpc"]
        lines.append(f"\nLong beats Quick by {d:.3f} bits/char in windows and {c:.3f} with the state carried "
                     f"(target ≥ 0.3: {'met' if min(d, c) >= 0.3 else 'missed'}).")
    for r in report["rows"]:
        for key in ("inkwell", "tutorial"):
            run = r[key]
            lines.append(f"\n**{run['name']}** (temperature 0.8; {run['originality']}):\n\n    "
                         + run["sample"].replace("\n", "\n    "))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

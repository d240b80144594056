"""Quick on Chinese: the preset as it was against the preset fitted to the text, side by side in one run.

    python -m benchmarks.zh_quick [--variants before,after,...] [--budget 60] [--out FILE]

Trains on assets/sample_zh.txt (the team's own Chinese text) and scores the run's own validation text
(the last tenth) in bits per character. Where rare characters map to <unk>, "fair bpc" also pays for
spelling out which rare character it was (log2 of how many there are, for each <unk> in the text), so a
smaller vocabulary cannot look better only by lumping characters together.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import loadavg  # noqa: E402
from textgen import load_corpus, sizing, vocab  # noqa: E402
from textgen.presets import PRESETS  # noqa: E402

TEXT = ROOT / "assets" / "sample_zh.txt"


def variants(counts) -> dict:
    """name -> (model, train config, whether rare characters map to <unk>)."""
    quick = PRESETS["Quick"]
    fitted = sizing.adapt(quick, counts)
    return {
        "before": (quick.model, quick.train, False),
        "cap": (quick.model, quick.train, True),
        "after": (fitted.model, fitted.train, True),
        "b16": (quick.model, replace(quick.train, batch_size=16), True),
        "b8": (quick.model, replace(quick.train, batch_size=8), True),
        "b16u128": (replace(quick.model, units=128), replace(quick.train, batch_size=16), True),
        "after_lr6": (fitted.model, replace(fitted.train, lr=6e-3), True),
        "after_u128": (replace(fitted.model, units=128), fitted.train, True),
    }


def run_one(name, corpus, model, cfg, cap: bool, workspace: Path) -> dict:
    from textgen import data
    from textgen.evaluate import evaluate
    from textgen.train import train

    steps = {"n": 0}

    def count(ev):
        if ev["type"] == "batch":
            steps["n"] = ev["global_step"]

    saved = vocab.LARGE_ALPHABET
    vocab.LARGE_ALPHABET = saved if cap else 10**9   # "before": every character in the vocabulary
    try:
        t0 = time.monotonic()
        load0 = loadavg()
        result = train(corpus, model, cfg, label=name, workspace=workspace, on_event=count)
        wall = time.monotonic() - t0
    finally:
        vocab.LARGE_ALPHABET = saved
    val_text = data.split(corpus.text, cfg.val_fraction)[1]
    score = evaluate(result.run_id, val_text, workspace)
    from textgen.artifacts import load_run

    v = load_run(result.run_id, workspace).vocab
    ids, _ = v.encode(val_text)
    unk = int((ids[1:] == 0).sum())               # <unk> targets (the first character is never predicted)
    rare = corpus.stats.distinct - (len(v) - 1)
    fair = score.bpc + (unk * math.log2(rare) / max(1, len(ids) - 1) if rare > 1 else 0.0)
    return {"variant": name, "vocab": len(v), "units": model.units, "batch_size": cfg.batch_size,
            "seq_len": cfg.seq_len, "lr": cfg.lr, "steps": steps["n"], "train_s": round(wall, 1),
            "val_bpc": round(score.bpc, 3), "unk_targets": unk, "fair_bpc": round(fair, 3),
            "load_before": load0, "load_after": loadavg()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--variants", default="before,after")
    ap.add_argument("--budget", type=float, default=None, help="seconds per run (default: the preset's)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    corpus = load_corpus(TEXT)
    counts = sizing.stats_counts(corpus.stats)
    table = variants(counts)
    rows = []
    with tempfile.TemporaryDirectory() as home:
        for name in args.variants.split(","):
            model, cfg, cap = table[name]
            if args.budget:
                cfg = replace(cfg, time_budget=args.budget)
            rows.append(run_one(name, corpus, model, cfg, cap, Path(home)))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| variant | vocab | units | batch | steps | val bpc | fair bpc | load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['vocab']} | {r['units']} | {r['batch_size']} | {r['steps']} | "
              f"{r['val_bpc']:.3f} | {r['fair_bpc']:.3f} | {r['load_before'][0]:.1f}-{r['load_after'][0]:.1f} |")
    from textgen import baselines, data

    # What a network must beat: n-gram levels of the same split (a unigram model knows only how common each is).
    levels = baselines.compute(*data.split(corpus.text, PRESETS["Quick"].train.val_fraction)).as_dict()
    print("n-gram baselines (bits/char): " + ", ".join(f"{k} {v:.2f}" for k, v in levels.items()))
    out = {"text": str(TEXT.relative_to(ROOT)), "chars": corpus.stats.chars, "distinct": corpus.stats.distinct,
           "rare": corpus.stats.rare, "baselines": levels, "runs": rows}
    if args.out:
        args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

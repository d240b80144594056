"""Rebuild the demo models from the team's own sample texts: assets/demo (English, assets/sample.txt) and
assets/demo_zh (Chinese, assets/sample_zh.txt).

Run with `make demo` (both), or `python assets/make_demo.py zh` for one. Each trains through the same engine
as everyone else, in a temporary workspace, then copies the files the NumPy generator needs. About 4 minutes
each on 2 cores.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEEP = ("config.json", "vocab.json", "weights.npz")


def recipes() -> dict:
    """language -> (model, training config). The Chinese model is narrower: its vocabulary of about a thousand
    characters makes the softmax the largest layer, and the files stay about as small as the English ones."""
    from textgen import ModelConfig, TrainConfig

    return {
        "en": (ModelConfig(cell="gru", layers=1, units=256, embedding=48, dropout=0.1),
               TrainConfig(seq_len=100, batch_size=32, epochs=80, time_budget=240, lr=3e-3, schedule="cosine",
                           warmup_steps=30, clipnorm=1.0, val_fraction=0.1, seed=7, sample_length=120)),
        "zh": (ModelConfig(cell="gru", layers=1, units=160, embedding=48, dropout=0.1),
               TrainConfig(seq_len=64, batch_size=32, epochs=300, time_budget=240, lr=3e-3, schedule="cosine",
                           warmup_steps=30, clipnorm=1.0, val_fraction=0.1, seed=7, sample_length=60)),
    }


def build(language: str) -> None:
    from textgen import demos, load_corpus
    from textgen.train import train

    demo = demos.demo_for(language)
    model, cfg = recipes()[language]
    corpus = load_corpus(demo.sample)

    def show(ev: dict) -> None:
        if ev["type"] == "epoch":
            print(f"[{language}] epoch {ev['epoch']:.0f}: validation {ev['val_bpc']:.3f} bits/char", flush=True)

    result = train(corpus, model, cfg, label=demo.label, on_event=show)
    demo.dir.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        shutil.copy2(result.run_dir / name, demo.dir / name)
        os.chmod(demo.dir / name, 0o644)   # run files are private to their writer; shipped files are not
    print(f"demo model written to {demo.dir} (best validation {result.best_val_bpc:.3f} bits/char)")


def main(argv: list[str]) -> None:
    languages = argv or ["en", "zh"]
    with tempfile.TemporaryDirectory() as home:
        os.environ["INKWELL_HOME"] = home
        for language in languages:
            build(language)


if __name__ == "__main__":
    main(sys.argv[1:])

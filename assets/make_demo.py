"""Rebuild the demo model in assets/demo from the team's own sample text (assets/sample.txt).

Run with `make demo`. It trains through the same engine as everyone else, in a temporary
workspace, then copies the files the NumPy generator needs. About 4 minutes on 2 cores.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "assets" / "demo"
KEEP = ("config.json", "vocab.json", "weights.npz")


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["INKWELL_HOME"] = home
        from textgen import ModelConfig, TrainConfig, load_corpus
        from textgen.train import train

        corpus = load_corpus(ROOT / "assets" / "sample.txt")
        model = ModelConfig(cell="gru", layers=1, units=256, embedding=48, dropout=0.1)
        cfg = TrainConfig(seq_len=100, batch_size=32, epochs=80, time_budget=240, lr=3e-3, schedule="cosine",
                          warmup_steps=30, clipnorm=1.0, val_fraction=0.1, seed=7, sample_length=120)

        def show(ev: dict) -> None:
            if ev["type"] == "epoch":
                print(f"epoch {ev['epoch']:.0f}: validation {ev['val_bpc']:.3f} bits/char", flush=True)

        result = train(corpus, model, cfg, label="Demo model (lighthouse town)", on_event=show)
        DEMO.mkdir(parents=True, exist_ok=True)
        for name in KEEP:
            shutil.copy2(result.run_dir / name, DEMO / name)
        print(f"demo model written to {DEMO} (best validation {result.best_val_bpc:.3f} bits/char)")


if __name__ == "__main__":
    main()

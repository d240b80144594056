"""The clipping companion: one SimpleRNN trained twice on the same text, clipping off and on, at a learning rate
high enough that the unclipped run's gradient norm blows up.

Both trainings are ordinary worker jobs (queue, cancel, limits and the divergence guard apply) owned by the writer
who asked; the pair is a small JSON file in the workspace (companions/<id>.json), so the page can find the two
runs again and draw them side by side.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

from .config import ModelConfig, TrainConfig
from .errors import RunError
from .identity import Identity, may, owner_of

# About two minutes for the pair on two cores, one job at a time. With Adam a rate of 0.1 or more diverges
# clipped or not; at 0.03 over 200-step windows the unclipped run's norm spikes and its loss lags the clipped one's.
MODEL = ModelConfig(cell="rnn", layers=1, units=256, embedding=32)
TRAIN = TrainConfig(seq_len=200, batch_size=32, epochs=100, time_budget=40, lr=0.03, clipnorm=0.0,
                    sample_length=0, seed=1)
CLIP_ON = 1.0                    # the clipped run's threshold (global norm)
SIDES = {"off": 0.0, "on": CLIP_ON}


def _dir(reg) -> Path:
    return reg.home / "companions"


def submit(corpus_path: str | os.PathLike, reg, owner: Identity | None = None, source: str = "") -> str:
    """Queue the pair on corpus_path as `owner`'s (the same checks as any training); returns the pair's id."""
    from . import atomic, jobs
    from .runs import new_run_id

    jobs.check_corpus(corpus_path, reg, owner)
    jobs.check_turn(reg, owner)   # once for the pair: it is one request
    pair_id = new_run_id()
    runs = {}
    for side, clip in SIDES.items():
        cfg = replace(TRAIN, clipnorm=clip)
        label = f"Clipping {side}: SimpleRNN at lr {cfg.lr:g}" + (f" on {source}" if source else "")
        rid = reg.create_run(label, status="queued", cell=MODEL.cell, layers=MODEL.layers, units=MODEL.units,
                             level=cfg.level, epochs=cfg.epochs, corpus=Path(corpus_path).stem[:200],
                             owner=owner_of(owner))
        reg.update_run(rid, args=json.dumps([str(corpus_path), *jobs.config_args(MODEL, cfg), "--run-id", rid]))
        runs[side] = rid
    atomic.write_json(_dir(reg) / f"{pair_id}.json", {"runs": runs, "owner": owner_of(owner), "source": source,
                                                      "lr": TRAIN.lr, "clipnorm": CLIP_ON, "created": time.time()})
    jobs.pump(reg)
    return pair_id


def list_pairs(reg, owner: Identity | None = None) -> list[dict]:
    """The pairs `owner` may see, newest first: {"id", "runs": {"off", "on"}, "source", "lr", "clipnorm", ...}."""
    from .runs import check_run_id

    out = []
    for path in sorted(_dir(reg).glob("*.json"), reverse=True) if _dir(reg).is_dir() else []:
        try:
            pair = {**json.loads(path.read_text("utf-8")), "id": check_run_id(path.stem)}
            if not may(owner, pair.get("owner")) or set(pair["runs"]) != set(SIDES):
                continue
        except (OSError, ValueError, KeyError, TypeError, RunError):
            continue   # a half-written or foreign file is skipped, not fatal
        out.append(pair)
    return out


def verdict(off: str, on: str) -> str:
    """One sentence on what the pair showed, from the two runs' final statuses (done, diverged, cancelled...)."""
    if "running" in (off, on) or "queued" in (off, on):
        return ""
    if off == "diverged" and on != "diverged":
        return "Without clipping the run diverged; clipped, the same model at the same rate kept learning."
    if off == "diverged":
        return ("Both runs diverged: Adam already moves each weight by about the learning rate whatever the "
                "gradient's size, so clipping cannot rescue a rate this high. It tames the rare huge batch, not a "
                "rate that is too high.")
    if on == "diverged":
        return "Here only the clipped run diverged, which clipping does not explain: the two runs' batches differ."
    return ("Neither run diverged at this rate: compare how often the clipped run was cut back and whether its loss "
            "fell more steadily.")

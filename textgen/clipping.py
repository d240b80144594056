"""The clipping companion: one SimpleRNN trained twice on the same text, clipping off and on, with plain SGD at a
learning rate high enough that the unclipped run's gradient norm blows up.

Both trainings are ordinary worker jobs (queue, cancel, limits and the divergence guard apply) owned by the writer
who asked; the pair is a small JSON file in the workspace (companions/<id>.json), so the page can find the two
runs again and draw them side by side.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path

from .config import ModelConfig, TrainConfig
from .errors import RunError
from .identity import Identity, may, owner_of

# Plain SGD, because its step is the rate times the gradient: a gradient that blows up is a step that blows up,
# which clipping caps at rate x CLIP_ON. (Adam's step is about the rate whatever the gradient, so clipping barely
# changes it.) Settings measured on two loaded cores: benchmarks/results/clipping-pair-2026-12-02.json.
MODEL = ModelConfig(cell="rnn", layers=1, units=256, embedding=32)
TRAIN = TrainConfig(optimizer="sgd", seq_len=200, batch_size=32, epochs=100, time_budget=40, lr=0.5, clipnorm=0.0,
                    sample_length=0, seed=1)
CLIP_ON = 0.5                    # the clipped run's threshold (global norm): its step is at most lr x this
SIDES = {"off": 0.0, "on": CLIP_ON}
LEARNED = 0.85                   # a side learned when its last loss is at most this share of its first


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
        label = f"Clipping {side}: SimpleRNN, {cfg.optimizer.upper()} at lr {cfg.lr:g}" + (
            f" on {source}" if source else "")
        rid = reg.create_run(label, status="queued", cell=MODEL.cell, layers=MODEL.layers, units=MODEL.units,
                             level=cfg.level, epochs=cfg.epochs, corpus=Path(corpus_path).stem[:200],
                             owner=owner_of(owner))
        reg.update_run(rid, args=json.dumps([str(corpus_path), *jobs.config_args(MODEL, cfg), "--run-id", rid]))
        runs[side] = rid
    atomic.write_json(_dir(reg) / f"{pair_id}.json", {"runs": runs, "owner": owner_of(owner), "source": source,
                                                      "lr": TRAIN.lr, "optimizer": TRAIN.optimizer,
                                                      "clipnorm": CLIP_ON, "created": time.time()})
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


def measure(rows: list[dict], status: str = "") -> dict:
    """What one side's batch metrics showed: the loss at its start, end and best, the gradient norm at its start
    and peak, how many steps were clipped, and whether it learned (its last loss at most LEARNED x its first)."""
    def finite(key):
        return [float(r[key]) for r in rows if r.get(key) is not None and math.isfinite(float(r[key]))]

    losses, norms = finite("loss"), finite("grad_norm")
    last = rows[-1].get("loss") if rows else None
    end = float(last) if last is not None else math.nan
    broke = status == "diverged" or not math.isfinite(end)
    return {"steps": max([int(r.get("step") or 0) for r in rows] or [0]),
            "clipped": sum(int(r.get("clipped") or 0) for r in rows),
            "start_loss": losses[0] if losses else None, "end_loss": end if math.isfinite(end) else None,
            "best_loss": min(losses) if losses else None, "start_norm": norms[0] if norms else None,
            "peak_norm": max(norms) if norms else None, "diverged": broke,
            "learned": bool(losses) and not broke and end <= LEARNED * losses[0]}


def verdict(off: str, on: str, off_rows: list[dict] | None = None, on_rows: list[dict] | None = None) -> str:
    """What the pair showed, from the two runs' final statuses (done, diverged, cancelled...) and, when given, their
    batch metrics: every number in it is one the runs measured, and the ending follows from them."""
    if "running" in (off, on) or "queued" in (off, on):
        return ""
    if off_rows is None or on_rows is None:   # statuses alone: say only what they say
        said = {("diverged", "diverged"): "Both runs diverged.", ("diverged", "done"): "Only the unclipped run "
                "diverged.", ("done", "diverged"): "Only the clipped run diverged."}
        return said.get((off, on), "Neither run diverged.")
    a, b = measure(off_rows, off), measure(on_rows, on)
    text = f"Without clipping {_told(a)}; clipped at {CLIP_ON:g}, {_told(b)}, {b['clipped']} of {b['steps']} steps " \
           "cut back."
    if not a["learned"] and b["learned"]:
        return text + " Clipping is what let the same model learn at the same rate."
    if a["learned"] and b["learned"]:
        return text + " Both learned: at this rate the unclipped gradients did not grow enough to throw the model off."
    if a["learned"]:   # the same seed and batches on both sides: clipping is the only difference
        return text + " Only the unclipped run learned: at this rate clipping held the other back."
    return text + " Neither learned: this rate is too high even with clipping."


def _told(m: dict) -> str:
    """'the gradient norm went from 3.2 to a peak of 9,800 and the loss went from 4.4 to 2.1'"""
    if m["start_loss"] is None:
        return "the run recorded no steps"
    # Each ending is its own whole template, so the interface can translate it (no clause glued to a number).
    if m["diverged"] and m["end_loss"] is not None:
        loss = f"the loss went from {m['start_loss']:.2f} to {m['end_loss']:.2f}, where it was stopped as diverged"
    elif m["diverged"] or m["end_loss"] is None:
        loss = f"the loss went from {m['start_loss']:.2f} to not a number (it diverged)"
    else:
        loss = f"the loss went from {m['start_loss']:.2f} to {m['end_loss']:.2f}"
    if m["peak_norm"] is None:
        return loss
    return f"the gradient norm went from {_num(m['start_norm'])} to a peak of {_num(m['peak_norm'])} and {loss}"


def _num(v: float) -> str:
    """3 significant figures, and whole numbers with thousands separators from 100 up (3,100, not 3.1e+03)."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

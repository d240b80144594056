"""Checkpoints: model weights, optimizer state and progress in one .npz, written atomically.

One file per checkpoint, so weights and the step they belong to can never disagree.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import atomic
from .errors import RunError


def save(path: Path, model, state: dict) -> None:
    arrays = {f"w/{i:04d}": w for i, w in enumerate(model.get_weights())}
    for i, v in enumerate(model.optimizer.variables):
        arrays[f"opt/{i:04d}"] = np.asarray(v.numpy())
    arrays["state"] = np.array(json.dumps(state))
    atomic.write_npz(path, arrays)


def load_state(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["state"]))


def restore(path: Path, model, with_optimizer: bool = True) -> dict:
    """Load weights (and optimizer slots) into a compiled model; returns the saved progress."""
    data = atomic.read_npz(path)
    model.set_weights([data[k] for k in sorted(k for k in data if k.startswith("w/"))])
    if with_optimizer:
        opt = model.optimizer
        if not opt.built:
            opt.build(model.trainable_variables)
        saved = [data[k] for k in sorted(k for k in data if k.startswith("opt/"))]
        if len(saved) != len(opt.variables):
            raise RunError("The checkpoint's optimizer state does not match this model.")
        for var, value in zip(opt.variables, saved):
            var.assign(value)
    return json.loads(str(data["state"]))

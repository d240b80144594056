"""Checkpoints: model weights, optimizer state and progress in one .npz, written atomically.

One file per checkpoint, so weights and the step they belong to can never disagree.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import atomic
from .errors import RunError


def _stateful_layers(model) -> list:
    return [layer for layer in model.layers if getattr(layer, "stateful", False) and layer.states is not None]


def save(path: Path, model, state: dict) -> None:
    arrays = {f"w/{i:04d}": w for i, w in enumerate(model.get_weights())}
    for i, v in enumerate(model.optimizer.variables):
        arrays[f"opt/{i:04d}"] = np.asarray(v.numpy())
    # Carried-state training: the streams' state is not a weight, but resuming mid-epoch needs it.
    states = [v for layer in _stateful_layers(model) for v in layer.states]
    for i, v in enumerate(states):
        arrays[f"rnn/{i:04d}"] = np.asarray(v.numpy())
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
    carried = [data[k] for k in sorted(k for k in data if k.startswith("rnn/"))]
    if carried and _stateful_layers(model):   # a stateless twin of a carried-state net takes only the weights
        set_rnn_states(model, carried)
    return json.loads(str(data["state"]))


def set_rnn_states(model, values: list | None) -> None:
    """Put saved values (in save's order) into the stateful layers, or zero them when values is None."""
    variables = [v for layer in _stateful_layers(model) for v in layer.states]
    if values is not None and [tuple(v.shape) for v in variables] != [a.shape for a in values]:
        raise RunError("The checkpoint's carried state does not match this model.")
    for i, var in enumerate(variables):
        var.assign(np.zeros(var.shape, var.dtype) if values is None else values[i])

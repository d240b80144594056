"""The run directory contract: config.json, vocab.json, weights.npz, model.keras, checkpoints/.

Reading a run needs NumPy only; nothing here is pickled.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import atomic, demos
from .config import ModelConfig, TrainConfig, from_dict, to_dict
from .errors import ConfigError, RunError
from .vocab import Vocab

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEMO_DIR = ASSETS / "demo"
DEMO_ID = "demo"
FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.npz"      # what the NumPy stepper reads; a run without it cannot write yet


def has_weights(run_dir: Path) -> bool:
    return (run_dir / WEIGHTS_FILE).is_file()


@dataclass
class Run:
    id: str
    dir: Path
    model: ModelConfig
    train: TrainConfig
    meta: dict                      # corpus digest, sources, versions, label
    vocab: Vocab
    _weights: dict | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return self.meta.get("label") or self.id

    @property
    def weights(self) -> dict:
        if self._weights is None:
            path = self.dir / WEIGHTS_FILE
            if not path.exists():
                raise RunError(f"Run {self.id} has no trained weights yet (it has not finished an epoch).")
            self._weights = atomic.read_npz(path)
        return self._weights

    @property
    def corpus_path(self) -> Path | None:
        """The text the run was trained on: saved in the run, or the team's sample for the demo."""
        if (self.dir / "corpus.txt").exists():
            return self.dir / "corpus.txt"
        if self.id == DEMO_ID and (ASSETS / "sample.txt").exists():
            return ASSETS / "sample.txt"
        demo = demos.by_id(self.id)
        if demo and demo.sample.exists():
            return demo.sample
        return None

    @property
    def has_weights(self) -> bool:
        return self._weights is not None or has_weights(self.dir)


def write_config(run_dir: Path, model: ModelConfig, train: TrainConfig, meta: dict) -> None:
    atomic.write_json(run_dir / "config.json", {
        "format": FORMAT_VERSION, "model": to_dict(model), "train": to_dict(train), "meta": meta})


def read_config(run_dir: Path) -> tuple[ModelConfig, TrainConfig, dict]:
    try:
        data = json.loads((run_dir / "config.json").read_text("utf-8"))
        return from_dict(ModelConfig, data["model"]), from_dict(TrainConfig, data["train"]), dict(data.get("meta", {}))
    except FileNotFoundError:
        raise RunError(f"{run_dir.name} has no config.json: it is not a complete run.") from None
    except (ValueError, KeyError, TypeError, ConfigError) as e:
        raise RunError(f"{run_dir.name}/config.json is not a valid run configuration ({e}).") from None


def open_run_dir(run_dir: Path, run_id: str | None = None) -> Run:
    model, train, meta = read_config(run_dir)
    try:
        vocab = Vocab.load(run_dir / "vocab.json")
    except (ValueError, ConfigError) as e:   # Vocab.load reports a missing file as ConfigError too
        raise RunError(f"{run_dir.name}/vocab.json is not a valid vocabulary ({e}).") from None
    if len(vocab) != model.vocab_size:
        raise RunError(f"{run_dir.name}: the vocabulary has {len(vocab)} tokens but the model expects {model.vocab_size}.")
    return Run(id=run_id or run_dir.name, dir=run_dir, model=model, train=train, meta=meta, vocab=vocab)


def load_run(ref, workspace: str | os.PathLike | None = None, owner=None) -> Run:
    """A run by id (from the registry's workspace), 'demo' for the shipped demo model, or a Run.
    With `owner` (a textgen.identity.Identity), another writer's run opens only if shared with the room."""
    if isinstance(ref, Run):
        return ref
    if isinstance(ref, Path):
        return open_run_dir(ref)
    if ref == DEMO_ID:
        return open_run_dir(DEMO_DIR, DEMO_ID)
    demo = demos.by_id(ref)   # the other languages' shipped demos
    if demo:
        return open_run_dir(demo.dir, demo.id)
    from .runs import Registry

    reg = Registry(workspace)
    reg.require_run(ref, owner, use=True)
    return open_run_dir(reg.run_dir(ref), ref)


def weights_digest(weights: dict) -> str:
    """A fingerprint of a model's arrays (names, dtypes, shapes, values): the same model has the same one."""
    h = hashlib.sha256()
    for name in sorted(weights):
        a = np.ascontiguousarray(weights[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def check_weights(weights: dict, cfg: ModelConfig) -> None:
    """Shapes must match the config before the stepper trusts them (imports and hand-edited files)."""
    g = {"rnn": 1, "gru": 3, "lstm": 4}[cfg.cell]
    u, v, e = cfg.units, cfg.vocab_size, cfg.embedding
    want = {"embedding": (v, e), "logits/kernel": (u, v), "logits/bias": (v,)}
    for i in range(cfg.layers):
        want[f"rnn_{i}/kernel"] = (e if i == 0 else u, g * u)
        want[f"rnn_{i}/recurrent"] = (u, g * u)
        want[f"rnn_{i}/bias"] = (2, g * u) if cfg.cell == "gru" else (g * u,)
    if set(weights) != set(want):
        raise RunError("The weights file does not have the arrays this model needs.")
    for k, shape in want.items():
        if tuple(weights[k].shape) != shape or not np.issubdtype(weights[k].dtype, np.floating):
            raise RunError(f"The weights file's {k} has shape {tuple(weights[k].shape)}, expected {shape}.")

"""Portable model bundles (.zip): export a run, and import one safely.

An import trusts nothing: a size cap, only the expected members, no absolute or parent paths,
config and vocabulary validated, weights read without pickle and checked against the config.
The Keras file is copied but never loaded here; anything that loads it must use safe_mode=True.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from pathlib import Path

from . import atomic
from .artifacts import WEIGHTS_FILE, check_weights, has_weights, open_run_dir, read_config, weights_digest
from .config import ModelConfig, TrainConfig, from_dict
from .errors import ConfigError, RunError
from .identity import Identity, owner_of
from .runs import Registry, clean_label

REQUIRED = ("config.json", "vocab.json", "weights.npz")
OPTIONAL = ("model.keras", "metrics.json")
MAX_BUNDLE_BYTES = 512 * 1024 * 1024     # the archive as uploaded
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # all members together, as declared and as actually read
MAX_RATIO = 50                           # weights barely compress; far more than this is a zip bomb


def export_bundle(run_id: str, dest: str | os.PathLike, reg: Registry | None = None,
                  owner: Identity | None = None) -> Path:
    dest = Path(dest)
    atomic.write_bytes(dest, bundle_bytes(run_id, reg, owner))
    return dest


def bundle_bytes(run_id: str, reg: Registry | None = None, owner: Identity | None = None) -> bytes:
    """The bundle as bytes (the app's download button needs no file). Only the run's owner or the host may
    export it: a run shared with the room is for writing with, not for taking away."""
    reg = reg or Registry()
    run = reg.require_run(run_id, owner)
    run_dir = reg.run_dir(run_id)
    if not (run_dir / "weights.npz").exists():
        raise RunError(f"Run {run_id} has no trained weights to export yet.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in REQUIRED + ("model.keras",):
            if name == "config.json":   # a rename lives in the registry: the bundle carries the label shown now
                z.writestr(name, _relabelled_config(run_dir, run["label"]))
            elif (run_dir / name).exists():
                z.write(run_dir / name, name)
        epochs = [{k: m[k] for k in ("epoch", "step", "elapsed", "loss", "val_loss", "bpc", "val_bpc")}
                  for m in reg.metrics(run_id, "epoch")]
        z.writestr("metrics.json", json.dumps({"label": run["label"], "elapsed": run["elapsed"], "epochs": epochs}))
    return buf.getvalue()


def _relabelled_config(run_dir: Path, label: str) -> str:
    data = json.loads((run_dir / "config.json").read_text("utf-8"))
    data["meta"] = {**data.get("meta", {}), "label": label}
    return json.dumps(data)


def import_bundle(source: str | os.PathLike | bytes, reg: Registry | None = None, label: str | None = None,
                  owner: Identity | None = None) -> str:
    """Validate a bundle and add it to the workspace as a finished run of `owner`'s under a new id."""
    reg = reg or Registry()
    raw = source if isinstance(source, bytes) else _read_file(Path(source))
    if len(raw) > MAX_BUNDLE_BYTES:
        raise RunError(f"The bundle is {len(raw) / 2**20:.0f} MB; the limit is {MAX_BUNDLE_BYTES // 2**20} MB.")
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise RunError("This is not an Inkwell model bundle (not a zip file).") from None
    members = {}
    infos = z.infolist()
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in Path(name).parts or "\\" in name or ":" in name:
            raise RunError(f"The bundle contains an unsafe path ({name[:60]!r}); refusing it.")
        if name not in REQUIRED + OPTIONAL:
            raise RunError(f"The bundle contains an unexpected file ({name[:60]!r}); refusing it.")
        if name in members or sum(i.filename == name for i in infos) > 1:
            raise RunError(f"The bundle contains {name} twice; refusing it.")
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise RunError(f"{name} in the bundle unpacks to far more than its size; refusing it.")
        members[name] = b""
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise RunError(f"The bundle unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB; refusing it.")
    for info in infos:
        try:
            with z.open(info) as f:   # read no more than declared, whatever the header claims
                data = f.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError):
            raise RunError(f"{info.filename} in the bundle is damaged or encrypted.") from None
        if len(data) > info.file_size:
            raise RunError(f"{info.filename} in the bundle is larger than it says; refusing it.")
        members[info.filename] = data
    missing = [m for m in REQUIRED if m not in members]
    if missing:
        raise RunError(f"The bundle lacks {', '.join(missing)}.")
    try:
        data = json.loads(members["config.json"])
        model = from_dict(ModelConfig, data["model"])
        from_dict(TrainConfig, data["train"])
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise ConfigError("meta must be an object")
    except (ValueError, KeyError, TypeError, ConfigError) as e:
        raise RunError(f"The bundle's config.json is not valid ({e}).") from None
    try:
        weights = atomic.read_npz(io.BytesIO(members["weights.npz"]))
    except Exception:
        raise RunError("The bundle's weights.npz cannot be read as plain arrays.") from None
    check_weights(weights, model)
    twin = same_model(reg, model, weights, owner)   # only among runs the importer may see: no other's label
    if twin is not None:
        raise RunError(f"This model is already here, as the run \"{twin['label']}\" ({twin['id']}); "
                       "rename that one instead of importing it again.")
    name = clean_label(label or meta.get("label") or "imported model")
    run_id = reg.create_run(name, status="importing", cell=model.cell, layers=model.layers, units=model.units,
                            owner=owner_of(owner))
    run_dir = reg.run_dir(run_id)
    try:
        for member, blob in members.items():
            atomic.write_bytes(run_dir / member, blob)
        run = open_run_dir(run_dir, run_id)  # validates the vocabulary against the config
    except (RunError, OSError) as e:
        reg.delete_run(run_id)
        raise RunError(str(e)) from None
    from .models import param_count

    _, train, _ = read_config(run_dir)
    reg.finish_import(run_id, message="Imported from a bundle.", level=train.level,
                      params=param_count(model), label=name)
    _import_metrics(reg, run_id, members.get("metrics.json"), run.meta.get("chars_per_token", 1.0))
    return run_id


def same_model(reg: Registry, model: ModelConfig, weights: dict, owner: Identity | None = None) -> dict | None:
    """The run `owner` may see with exactly these weights, if any (only runs of the same shape are read)."""
    digest = weights_digest(weights)
    for run in reg.list_runs(owner):
        if (run["cell"], run["layers"], run["units"]) != (model.cell, model.layers, model.units):
            continue
        run_dir = reg.run_dir(run["id"])
        if not has_weights(run_dir):
            continue
        try:
            if weights_digest(atomic.read_npz(run_dir / WEIGHTS_FILE)) == digest:
                return run
        except (OSError, ValueError, zipfile.BadZipFile):
            continue   # a damaged run is not a twin
    return None


def _import_metrics(reg: Registry, run_id: str, blob: bytes | None, cpt: float) -> None:
    if not blob:
        reg.update_run(run_id, elapsed=None)   # unknown, not "under 1 s"
        return
    keys = ("epoch", "step", "elapsed", "loss", "val_loss", "bpc", "val_bpc")
    try:
        doc = json.loads(blob)
        rows = doc["epochs"]
        clean = [{"kind": "epoch", **{k: float(r[k]) if r.get(k) is not None else None for k in keys}}
                 for r in rows[:10000] if isinstance(r, dict)]
        clean = [r for r in clean if all(v is None or math.isfinite(v) for k, v in r.items() if k != "kind")]
        vals = [r["val_bpc"] for r in clean if r["val_bpc"] is not None]
        last_epoch = int(clean[-1]["epoch"] or 0) if clean else 0
        # The original run's training time: said outright by newer bundles, else its last epoch's clock.
        elapsed = doc.get("elapsed")
        if not (isinstance(elapsed, (int, float)) and math.isfinite(elapsed) and elapsed >= 0):
            elapsed = clean[-1]["elapsed"] if clean else None
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        reg.update_run(run_id, elapsed=None)
        return  # curves are a nicety; a model without them still works
    reg.add_metrics(run_id, clean, best_val_bpc=min(vals) if vals else None, epoch=last_epoch, elapsed=elapsed)


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        raise RunError(f"{path} is not a file.")
    if path.stat().st_size > MAX_BUNDLE_BYTES:
        raise RunError(f"{path.name} is larger than the {MAX_BUNDLE_BYTES // 2**20} MB bundle limit.")
    return path.read_bytes()

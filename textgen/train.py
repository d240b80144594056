"""Training: a run's preparation (new, resume, fine-tune) and its ending; the Keras loop is in fit.py.

Nothing here imports TensorFlow: `train` imports fit.py (which does) once the run is ready, so
`import textgen.train` stays light and bad input is refused before TensorFlow's start-up.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import atomic, baselines, checkpoint, data
from .artifacts import open_run_dir, read_config, write_config
from .config import LEVEL_UNITS, ModelConfig, TrainConfig
from .corpus import Corpus
from .errors import ConfigError, CorpusError, InkwellError, RunError
from .models import param_count
from .runs import ENDED, Busy, Registry
from .vocab import Vocab

FINETUNE_MAX_UNKNOWN = 0.01   # share of a new text's tokens a fine-tune may read as unknown


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    run_dir: Path
    status: str                  # done, cancelled, diverged
    message: str
    epochs_done: float
    best_val_bpc: float | None


@dataclass(frozen=True)
class Job:
    """A run ready for the Keras loop: its directory is written, its registry row says running."""
    run_id: str
    run_dir: Path
    model: ModelConfig
    cfg: TrainConfig
    vocab: Vocab
    text: str
    base_weights: Path | None = None   # fine-tuning: the base run's weights.npz, loaded before the first step
    resuming: bool = False             # continue from checkpoints/latest.npz


@dataclass(frozen=True)
class Outcome:
    """How fit.py's loop ended; train.py records it with the registry's finish()."""
    status: str                  # done, cancelled, diverged
    message: str
    elapsed: float               # seconds of training over all sessions of the run
    best_val_bpc: float | None


def mark_failed(reg: Registry, run_id: str | None, e: BaseException) -> None:
    """Record why a job's worker could not train (shown on the Train page instead of a stale status)."""
    if not run_id:
        return
    msg = str(e) if isinstance(e, InkwellError) else f"Training failed: {type(e).__name__}: {e}"
    try:   # a run that is not this worker's to fail (ended, or another's) keeps its status
        if reg.get_run(run_id) is not None:
            reg.fail(run_id, msg)
    except Exception:  # noqa: BLE001 - reporting a failure must not hide it
        pass


class _Stop:
    """Why training should end after the current batch; set from a signal handler or a callback."""
    reason: str | None = None


def train(corpus: Corpus | str | None = None, model: ModelConfig | None = None,
          config: TrainConfig | None = None, *, label: str | None = None, workspace=None,
          run_id: str | None = None, resume: str | None = None, finetune: str | None = None,
          on_event: Callable[[dict], None] | None = None, handle_signals: bool = False,
          resume_overrides: dict | None = None) -> TrainResult:
    """Train a new run (or resume / fine-tune one) and return how it ended.

    run_id: a queued run created by the job runner, to train under that id.
    resume_overrides: on resume, new values for "epochs" and/or "time_budget" (else `config`'s, if
    given, else the run's own).
    """
    reg = Registry(workspace)
    emit = on_event or (lambda event: None)
    stop = _Stop()
    if handle_signals:
        def _on_signal(signum, frame):
            stop.reason = "cancelled"
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)

    try:
        if resume:
            job = _prepare_resume(reg, resume, config, resume_overrides)
        else:
            if corpus is None:
                raise CorpusError("No text to train on.")
            cfg = (config or TrainConfig()).validate()
            model_cfg = (model or ModelConfig()).validate()
            if finetune:
                job = _prepare_finetune(reg, corpus, cfg, label, run_id, finetune)
            else:
                job = _prepare_new(reg, corpus, model_cfg, cfg, label, run_id)
    except Busy:
        raise
    except BaseException as e:
        mark_failed(reg, run_id or resume, e)
        raise
    run_id = job.run_id
    beat = _Heartbeat(reg, run_id)
    record = _recorder(reg, run_id)

    def channel(event: dict) -> None:   # the one way progress leaves the loop: registry rows first, then the caller
        record(event)
        emit(event)
    try:
        from . import fit   # TensorFlow starts here

        end = fit.fit(job, stop, channel, lambda: reg.cancel_requested(run_id))
        reg.finish(run_id, end.status, end.message, elapsed=end.elapsed)
        epochs_done = reg.get_run(run_id)["epoch"]
        channel({"type": "end", "status": end.status, "message": end.message, "run_id": run_id,
                 "best_val_bpc": end.best_val_bpc})
        from .jobs import pump  # let the next queued job start even if no page is open

        pump(reg)
        return TrainResult(run_id, job.run_dir, end.status, end.message, epochs_done, end.best_val_bpc)
    except OSError as e:
        err = RunError(f"Training stopped: could not write to disk ({e.strerror or e}). "
                       "The previous checkpoint is intact.")
        mark_failed(reg, run_id, err)
        raise err from None
    except BaseException as e:
        mark_failed(reg, run_id, e)
        raise
    finally:
        beat.stop()


def _recorder(reg: Registry, run_id: str) -> Callable[[dict], None]:
    """The one place a training event becomes registry rows (which the pages poll): the run's progress, its
    batch and epoch metrics and its samples. Notes and the end are the caller's; the status is finish()'s."""
    def record(ev: dict) -> None:
        if ev["type"] == "start":
            reg.update_run(run_id, steps=ev["steps_per_epoch"], epoch=ev["epoch"], step=ev["step"])
        elif ev["type"] == "batch":
            row = {"kind": "batch", "epoch": ev["epoch"] + 1, "step": ev["global_step"],
                   **{k: ev.get(k) for k in ("elapsed", "loss", "bpc", "chars_per_sec", "lr", "grad_norm", "clipped")}}
            reg.add_metrics(run_id, [row], epoch=ev["epoch"], step=ev["step"], eta=ev["eta"],
                            chars_per_sec=ev["chars_per_sec"], heartbeat=time.time(), elapsed=ev["elapsed"])
        elif ev["type"] == "epoch":
            row = {"kind": "epoch", "epoch": ev["number"], "step": ev["global_step"],
                   **{k: ev[k] for k in ("elapsed", "loss", "val_loss", "bpc", "val_bpc", "chars_per_sec")}}
            reg.add_metrics(run_id, [row], epoch=ev["epochs_done"], step=ev["step"], best_val_bpc=ev["best_val_bpc"],
                            last_val_bpc=ev["val_bpc"], elapsed=ev["elapsed"], heartbeat=time.time())
            for temperature, text in ev["samples"].items():
                reg.add_sample(run_id, ev["number"], temperature, text)
    return record


class _Heartbeat:
    """Beats every few seconds from a thread, so a worker busy importing TensorFlow or compiling its
    first step on a loaded machine is not mistaken for a dead one."""

    def __init__(self, reg: Registry, run_id: str, every: float = 5.0):
        import threading

        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(reg, run_id, every), daemon=True)
        self._thread.start()

    def _run(self, reg, run_id, every):
        while not self._done.wait(every):
            try:
                reg.beat(run_id)
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one retries
                pass

    def stop(self) -> None:
        self._done.set()


def _prepare_resume(reg: Registry, run_id: str, config: TrainConfig | None, overrides: dict | None) -> Job:
    """Continue a stopped run from its last checkpoint; only the length of training may change."""
    run = reg.require_run(run_id)
    # The job runner marks a run running before its worker starts (pid not yet known, or ours).
    if run["status"] == "running" and run["pid"] not in (None, os.getpid()):
        raise Busy(f"Run {run_id} is still training.")
    run_dir = reg.run_dir(run_id)
    model_cfg, cfg, meta = read_config(run_dir)
    if overrides is not None:
        cfg = replace(cfg, **{k: v for k, v in overrides.items() if k in ("epochs", "time_budget")})
    elif config is not None:
        cfg = replace(cfg, epochs=config.epochs, time_budget=config.time_budget)
    cfg = _host_time_cap(cfg.validate())
    if not (run_dir / "checkpoints" / "latest.npz").exists():
        raise RunError(f"Run {run_id} has no checkpoint to resume from.")
    text = (run_dir / "corpus.txt").read_text("utf-8")
    vocab = Vocab.load(run_dir / "vocab.json")
    write_config(run_dir, model_cfg, cfg, meta)
    if run["status"] in ENDED:
        reg.requeue(run_id, ["--resume", run_id])   # resumed by hand: through the queue, as the job runner does
    reg.start(run_id, os.getpid(), epochs=cfg.epochs, finished=None)
    at = checkpoint.load_state(run_dir / "checkpoints" / "latest.npz")   # what was logged after it is redone
    reg.clear_metrics_after(run_id, at["global_step"], at["epoch"])
    return Job(run_id, run_dir, model_cfg, cfg, vocab, text, resuming=True)


def _prepare_new(reg: Registry, corpus: Corpus | str, model_cfg: ModelConfig, cfg: TrainConfig,
                 label: str | None, run_id: str | None) -> Job:
    """A fresh model with a vocabulary built from the text."""
    text = _text(corpus)
    size = {"word": cfg.max_vocab, "subword": cfg.subword_vocab}.get(cfg.level)
    # Word pieces are learned from the training side only: the validation text stays unseen.
    vocab = Vocab.build(data.split(text, cfg.val_fraction)[0] if cfg.level == "subword" else text, cfg.level, size)
    model_cfg = replace(model_cfg, vocab_size=len(vocab)).validate()
    return _create(reg, corpus, model_cfg, cfg, vocab, label or "untitled", run_id, None)


def _prepare_finetune(reg: Registry, corpus: Corpus | str, cfg: TrainConfig, label: str | None,
                      run_id: str | None, base_id: str) -> Job:
    """A new run that starts from another run's weights, model and vocabulary."""
    text = _text(corpus)
    base = open_run_dir(reg.run_dir(reg.require_run(base_id)["id"]))
    vocab = base.vocab
    ids, missing = vocab.encode(text)
    # A model that capped its rare characters already reads a few tokens as unknown; the same small share of
    # unknowns in the new text is no reason to refuse (its own training text would be refused otherwise).
    unknown_share = float(np.mean(np.asarray(ids) == 0)) if len(ids) else 0.0
    if missing and unknown_share > FINETUNE_MAX_UNKNOWN:
        shown = "".join(missing[:20]) if vocab.level == "char" else " ".join(missing[:10])
        raise CorpusError(f"The new text has {len(missing)} {'characters' if vocab.level == 'char' else 'words'} "
                          f"the model never saw ({shown!r}); start a fresh run instead.")
    cfg = replace(cfg, level=base.train.level, max_vocab=base.train.max_vocab, subword_vocab=base.train.subword_vocab)
    if not (base.dir / "weights.npz").exists():
        raise RunError(f"Run {base_id} has no trained weights to start from.")
    return _create(reg, corpus, base.model, cfg, vocab, label or f"{base.label} (fine-tuned)", run_id, base_id,
                   base.dir / "weights.npz")


def _text(corpus: Corpus | str) -> str:
    return corpus.text if isinstance(corpus, Corpus) else str(corpus)


def _create(reg: Registry, corpus: Corpus | str, model_cfg: ModelConfig, cfg: TrainConfig, vocab: Vocab,
            label: str, run_id: str | None, finetune: str | None, base_weights: Path | None = None) -> Job:
    """Length and size checks, then the registry row and the run directory (config, vocabulary, text)."""
    text = _text(corpus)
    sources = list(corpus.sources) if isinstance(corpus, Corpus) else ["text"]
    sides = [len(ids) for ids in data.split_encoded(vocab, text, cfg.val_fraction)]
    n_tokens = sum(sides)
    data.check_length(n_tokens, cfg.seq_len, cfg.val_fraction, LEVEL_UNITS[cfg.level])
    if cfg.level == "subword":   # split by characters: the two sides' pieces need not divide as the whole's do
        data.check_sides(*sides, cfg.seq_len, cfg.val_fraction, LEVEL_UNITS[cfg.level])
    params = param_count(model_cfg)
    max_params = int(os.environ.get("INKWELL_MAX_PARAMS", "0") or 0)
    if max_params and params > max_params:
        raise ConfigError(f"This model has {params:,} parameters; this server allows at most {max_params:,}.")
    cfg = _host_time_cap(cfg)

    fields = dict(level=cfg.level, cell=model_cfg.cell, layers=model_cfg.layers, units=model_cfg.units,
                  params=params, corpus=", ".join(sources)[:200], epochs=cfg.epochs)
    if run_id:
        reg.require_run(run_id)
        fields.pop("corpus")   # a queued run keeps the library corpus id the job runner gave it
        reg.start(run_id, os.getpid(), **fields)
    else:
        run_id = reg.create_run(label, status="running", pid=os.getpid(), heartbeat=time.time(), **fields)
    run_dir = reg.run_dir(run_id)
    meta = {"label": reg.get_run(run_id)["label"], "corpus_digest": corpus.digest if isinstance(corpus, Corpus) else None,
            "sources": sources, "finetuned_from": finetune, "versions": _versions(),
            "chars_per_token": len(text) / max(1, n_tokens)}
    write_config(run_dir, model_cfg, cfg, meta)
    vocab.save(run_dir / "vocab.json")
    atomic.write_text(run_dir / "corpus.txt", text)
    baselines.save(run_dir, text, cfg.val_fraction)   # the chart's reference lines: n-gram models of this text
    reg.update_run(run_id, started=time.time(), heartbeat=time.time())
    return Job(run_id, run_dir, model_cfg, cfg, vocab, text, base_weights)


def _host_time_cap(cfg: TrainConfig) -> TrainConfig:
    """A host's time per job (the Workshop page's, else INKWELL_MAX_TRAIN_SECONDS) cuts longer budgets down to it."""
    from .room import time_cap

    max_time = time_cap()
    if max_time and (cfg.time_budget == 0 or cfg.time_budget > max_time):
        return replace(cfg, time_budget=max_time)
    return cfg


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("numpy", "tensorflow", "keras"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out

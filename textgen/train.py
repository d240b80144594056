"""Training: Keras fit, one epoch per call so each epoch's data order is reproducible, with
checkpoints, resume, cancellation, a time budget, a divergence guard and live metrics in the registry.

TensorFlow is imported inside `train`, so `import textgen` stays light.
"""
from __future__ import annotations

import math
import os
import shutil
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import atomic, checkpoint, data, fastgru
from .artifacts import Run, open_run_dir, read_config, write_config
from .config import LEVEL_UNITS, ModelConfig, TrainConfig
from .corpus import Corpus
from .errors import ConfigError, CorpusError, InkwellError, RunError
from .models import export_weights, flops_per_token, param_count
from .runs import Registry
from .schedule import learning_rate
from .vocab import Vocab

FLUSH_EVERY = 0.5               # seconds between registry writes of batch metrics
SAMPLE_TEMPERATURES = (0.5, 1.0)
STREAM_WINDOWS = 4              # carried-state training: the fewest windows each stream runs through
LN2 = math.log(2.0)


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    run_dir: Path
    status: str                  # done, cancelled, diverged
    message: str
    epochs_done: float
    best_val_bpc: float | None


class Busy(RunError):
    """The run belongs to another live worker: leave its status alone."""


def mark_failed(reg: Registry, run_id: str | None, e: BaseException) -> None:
    """Record why a job's worker could not train (shown on the Train page instead of a stale status)."""
    if not run_id:
        return
    msg = str(e) if isinstance(e, InkwellError) else f"Training failed: {type(e).__name__}: {e}"
    try:
        if reg.get_run(run_id) is not None:
            reg.update_run(run_id, status="failed", message=msg[:500], finished=time.time(), pid=None, cancel=0)
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
        run_id, run_dir, model_cfg, cfg, vocab, text, base_ckpt = _prepare(
            reg, corpus, model, config, label, run_id, resume, finetune, resume_overrides)
    except Busy:
        raise
    except BaseException as e:
        mark_failed(reg, run_id or resume, e)
        raise
    beat = _Heartbeat(reg, run_id)
    try:
        return _fit(reg, run_id, run_dir, model_cfg, cfg, vocab, text, base_ckpt, bool(resume), stop, emit)
    except InkwellError as e:
        reg.update_run(run_id, status="failed", message=str(e), finished=time.time(), pid=None)
        raise
    except OSError as e:
        msg = f"Training stopped: could not write to disk ({e.strerror or e}). The previous checkpoint is intact."
        reg.update_run(run_id, status="failed", message=msg, finished=time.time(), pid=None)
        raise RunError(msg) from None
    except BaseException as e:
        reg.update_run(run_id, status="failed", message=f"Training failed: {type(e).__name__}: {e}"[:500],
                       finished=time.time(), pid=None)
        raise
    finally:
        beat.stop()


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
                with reg.connect() as db:
                    db.execute("UPDATE runs SET heartbeat=? WHERE id=? AND status='running'", (time.time(), run_id))
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one retries
                pass

    def stop(self) -> None:
        self._done.set()


def _prepare(reg, corpus, model, config, label, run_id, resume, finetune, resume_overrides=None):
    """Everything before TensorFlow: configs, vocabulary, length checks, the run directory."""
    base_ckpt = None
    if resume:
        run = reg.require_run(resume)
        # The job runner marks a run running before its worker starts (pid not yet known, or ours).
        if run["status"] == "running" and run["pid"] not in (None, os.getpid()):
            raise Busy(f"Run {resume} is still training.")
        run_dir = reg.run_dir(resume)
        model_cfg, cfg, meta = read_config(run_dir)
        # Only the length of training may change on resume.
        if resume_overrides is not None:
            cfg = replace(cfg, **{k: v for k, v in resume_overrides.items() if k in ("epochs", "time_budget")})
        elif config is not None:
            cfg = replace(cfg, epochs=config.epochs, time_budget=config.time_budget)
        cfg = _host_time_cap(cfg.validate())
        if not (run_dir / "checkpoints" / "latest.npz").exists():
            raise RunError(f"Run {resume} has no checkpoint to resume from.")
        text = (run_dir / "corpus.txt").read_text("utf-8")
        vocab = Vocab.load(run_dir / "vocab.json")
        write_config(run_dir, model_cfg, cfg, meta)
        reg.update_run(resume, status="running", message="", epochs=cfg.epochs, pid=os.getpid(),
                       heartbeat=time.time(), finished=None)
        return resume, run_dir, model_cfg, cfg, vocab, text, None

    if corpus is None:
        raise CorpusError("No text to train on.")
    text = corpus.text if isinstance(corpus, Corpus) else str(corpus)
    sources = list(corpus.sources) if isinstance(corpus, Corpus) else ["text"]
    cfg = (config or TrainConfig()).validate()
    model_cfg = (model or ModelConfig()).validate()
    if finetune:
        base = open_run_dir(reg.run_dir(reg.require_run(finetune)["id"]))
        vocab = base.vocab
        missing = vocab.missing(text)
        if missing:
            shown = "".join(missing[:20]) if vocab.level == "char" else " ".join(missing[:10])
            raise CorpusError(f"The new text has {len(missing)} {'characters' if vocab.level == 'char' else 'words'} "
                              f"the model never saw ({shown!r}); start a fresh run instead.")
        model_cfg, cfg = base.model, replace(cfg, level=base.train.level, max_vocab=base.train.max_vocab,
                                             subword_vocab=base.train.subword_vocab)
        base_ckpt = base.dir / "weights.npz"
        if not base_ckpt.exists():
            raise RunError(f"Run {finetune} has no trained weights to start from.")
        label = label or f"{base.label} (fine-tuned)"
    else:
        size = {"word": cfg.max_vocab, "subword": cfg.subword_vocab}.get(cfg.level)
        # Word pieces are learned from the training side only: the validation text stays unseen.
        vocab = Vocab.build(data.split(text, cfg.val_fraction)[0] if cfg.level == "subword" else text, cfg.level, size)
        model_cfg = replace(model_cfg, vocab_size=len(vocab)).validate()
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
        reg.update_run(run_id, status="running", **fields)
    else:
        run_id = reg.create_run(label or "untitled", status="running", **fields)
    run_dir = reg.run_dir(run_id)
    meta = {"label": reg.get_run(run_id)["label"], "corpus_digest": corpus.digest if isinstance(corpus, Corpus) else None,
            "sources": sources, "finetuned_from": finetune, "versions": _versions(),
            "chars_per_token": len(text) / max(1, n_tokens)}
    write_config(run_dir, model_cfg, cfg, meta)
    vocab.save(run_dir / "vocab.json")
    atomic.write_text(run_dir / "corpus.txt", text)
    reg.update_run(run_id, pid=os.getpid(), started=time.time(), heartbeat=time.time(), message="")
    return run_id, run_dir, model_cfg, cfg, vocab, text, base_ckpt


def _host_time_cap(cfg: TrainConfig) -> TrainConfig:
    """A host's INKWELL_MAX_TRAIN_SECONDS cuts longer (or unlimited) budgets down to it."""
    max_time = float(os.environ.get("INKWELL_MAX_TRAIN_SECONDS", "0") or 0)
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


def _import_tf_quietly() -> None:
    """TensorFlow's C++ start-up lines go to fd 2 before any log setting applies: hide just those."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def make_optimizer(cfg: TrainConfig):
    """Adam at the config's learning rate and clipping; with weight_decay, AdamW, whose decay spares the biases.

    AdamW's decay is decoupled from the gradient: each step every weight matrix shrinks by lr x weight_decay
    of itself (lr as the schedule sets it), whatever its gradient. Its slots are Adam's, so checkpoints match.
    """
    import keras

    if cfg.weight_decay <= 0:
        return keras.optimizers.Adam(learning_rate=cfg.lr, clipnorm=cfg.clipnorm or None)
    opt = keras.optimizers.AdamW(learning_rate=cfg.lr, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm or None)
    opt.exclude_from_weight_decay(var_names=[r"(^|/)bias(:\d+)?$"])   # "bias" or ".../gru_cell/bias:0", nothing else
    return opt


def _fit(reg, run_id, run_dir, model_cfg, cfg, vocab, text, base_ckpt, resuming, stop, emit) -> TrainResult:
    _import_tf_quietly()
    import keras

    from .models import build_model

    train_ids, val_ids = data.split_encoded(vocab, text, cfg.val_fraction)
    # Characters per token on each side (1 at character level): bits per character divide by them.
    cpt = 1.0 if vocab.level == "char" else len(vocab.decode(train_ids)) / max(1, len(train_ids))
    train_w, val_w = data.windows(train_ids, cfg.seq_len), data.windows(val_ids, cfg.seq_len)
    # Bits per character of validation divide by the characters its targets spell (tokens vary in length).
    val_cpt = cpt if vocab.level == "char" else len(vocab.decode(val_w[:, 1:].reshape(-1))) / max(1, val_w[:, 1:].size)
    if cfg.carry_state:   # each of the batch's streams should run through several windows, or nothing is carried
        batch = max(1, min(cfg.batch_size, len(train_w) // STREAM_WINDOWS))
        if batch < cfg.batch_size:
            emit({"type": "note", "message": f"Batch size lowered to {batch}: the text makes only {len(train_w)} "
                                             f"training windows, and each stream should carry its state through "
                                             f"at least {STREAM_WINDOWS}."})
        spe = data.stream_steps(len(train_ids), cfg.seq_len, batch)
    else:
        batch = min(cfg.batch_size, len(train_w))
        if batch < cfg.batch_size:
            emit({"type": "note", "message": f"Batch size lowered to {batch}: the text makes only {len(train_w)} training windows."})
        spe = data.steps_per_epoch(len(train_w), batch)
    total_steps = spe * cfg.epochs

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    kernel = fastgru.resolve(cfg.gru_kernel, model_cfg.cell, cfg.seq_len, cfg.carry_state, cfg.jit_compile,
                             model_cfg.layers, model_cfg.weight_drop)
    if cfg.gru_kernel in ("float32", "bfloat16") and kernel == "keras":
        emit({"type": "note", "message": "Inkwell's GRU kernel does not apply to this run (it trains stateless GRU "
                                         f"layers over at most {fastgru.MAX_UNROLL} steps x layers, without XLA): "
                                         "training with Keras' layers."})
    if model_cfg.weight_drop > 0 and kernel == "keras":
        emit({"type": "note", "message": "Recurrent weight dropout needs Inkwell's GRU kernel, which does not apply "
                                         "to this run: training without it."})
    saved_model_cfg, saved_cfg, meta = read_config(run_dir)
    if meta.get("gru_kernel") != kernel:   # which kernel trained the run: it is not in the config when "auto"
        write_config(run_dir, saved_model_cfg, saved_cfg, {**meta, "gru_kernel": kernel})
    net = build_model(model_cfg, seed=cfg.seed, stateful_batch=batch if cfg.carry_state else None, gru_kernel=kernel)
    net.compile(optimizer=make_optimizer(cfg), loss=loss, jit_compile=cfg.jit_compile)
    # Validation always reads windows from a zero state, with Keras' layers (so it is exactly what
    # evaluate() and the saved model compute): a carried-state net or Inkwell's GRU kernel gets a twin.
    val_net = net
    if cfg.carry_state or kernel != "keras":
        val_net = build_model(model_cfg, seed=cfg.seed)
        val_net.compile(loss=loss, jit_compile=cfg.jit_compile)
    ckpt_dir = run_dir / "checkpoints"
    start_epoch, skip, gstep, best_val, elapsed0 = 0, 0, 0, math.inf, 0.0
    if resuming:   # a carried-state run stopped mid-epoch gets its streams' state back too
        st = checkpoint.restore(ckpt_dir / "latest.npz", net)
        start_epoch, skip, gstep = st["epoch"], st["step_in_epoch"], st["global_step"]
        best_val, elapsed0 = st.get("best_val_loss") or math.inf, st.get("elapsed", 0.0)
        reg.clear_metrics_after(run_id, gstep, partial_epoch=start_epoch + 1 if skip else None)
    elif base_ckpt is not None:
        from .artifacts import check_weights
        from .models import import_weights

        weights = atomic.read_npz(base_ckpt)
        check_weights(weights, model_cfg)
        import_weights(net, model_cfg, weights)

    reg.update_run(run_id, steps=spe, epoch=start_epoch, step=skip)
    emit({"type": "start", "run_id": run_id, "run_dir": str(run_dir), "steps_per_epoch": spe,
          "epochs": cfg.epochs, "params": param_count(model_cfg), "flops_per_token": flops_per_token(model_cfg),
          "gru_kernel": kernel})
    t0 = time.monotonic()
    tracker = _tracker_class()(reg, run_id, cfg, spe, total_steps, batch * cfg.seq_len * cpt, cpt,
                       math.log(len(vocab)), stop, emit, t0, elapsed0)
    tracker.gstep = gstep
    status, message, epoch = "done", "", start_epoch
    epochs_no_gain = 0
    for epoch in range(start_epoch, cfg.epochs):
        if reg.cancel_requested(run_id):
            stop.reason = "cancelled"
        if stop.reason or tracker.over_budget():
            break
        tracker.begin_epoch(epoch, skip)
        if skip < spe:
            if cfg.carry_state:   # each epoch's streams start from a zero state; a resumed one goes on from its stop
                if not (resuming and skip and epoch == start_epoch):
                    checkpoint.set_rnn_states(net, None)
                ds = data.stream_dataset(train_ids, cfg.seq_len, batch, cfg.seed, epoch, skip)
            else:
                ds = data.epoch_dataset(train_w, batch, cfg.seed, epoch, skip)
            net.fit(ds, epochs=epoch + 1, initial_epoch=epoch, verbose=0, callbacks=[tracker], shuffle=False)
        if tracker.diverged:
            status = "diverged"
            message = (f"The loss exploded at step {tracker.gstep} (learning rate {cfg.lr:g} is too high for this model). "
                       f"Try a lower learning rate, such as {cfg.lr / 3:.2g}. The last good checkpoint is kept.")
            break
        done_in_epoch = skip + tracker.batches
        finished = done_in_epoch >= spe
        if val_net is not net:
            val_net.set_weights(net.get_weights())
        val_loss = float(val_net.evaluate(data.eval_dataset(val_w, batch), verbose=0))
        elapsed = elapsed0 + time.monotonic() - t0
        improved = val_loss < best_val
        best_val = min(best_val, val_loss)
        state = {"epoch": epoch + 1 if finished else epoch, "step_in_epoch": 0 if finished else done_in_epoch,
                 "global_step": tracker.gstep, "best_val_loss": best_val, "val_loss": val_loss, "elapsed": elapsed}
        checkpoint.save(ckpt_dir / "latest.npz", net, state)
        weights = export_weights(net, model_cfg)
        if improved:
            checkpoint.save(ckpt_dir / "best.npz", net, state)
            atomic.write_npz(run_dir / "weights.npz", weights)
        progress = epoch + done_in_epoch / spe
        train_bpc = tracker.epoch_loss / LN2 / cpt
        val_bpc = val_loss / LN2 / val_cpt
        reg.add_metrics(run_id, [{"kind": "epoch", "epoch": epoch + 1, "step": tracker.gstep, "elapsed": elapsed,
                                  "loss": tracker.epoch_loss, "val_loss": val_loss, "bpc": train_bpc,
                                  "val_bpc": val_bpc, "chars_per_sec": tracker.chars_per_sec}],
                        epoch=epoch + 1 if finished else epoch, step=0 if finished else done_in_epoch,
                        best_val_bpc=best_val / LN2 / val_cpt, last_val_bpc=val_bpc, elapsed=elapsed,
                        heartbeat=time.time())
        samples = _samples(run_dir, model_cfg, cfg, vocab, weights, epoch + 1, reg, run_id)
        emit({"type": "epoch", "epoch": progress, "loss": tracker.epoch_loss, "val_loss": val_loss,
              "val_bpc": val_bpc, "perplexity": math.exp(min(val_loss, 50.0)), "samples": samples,
              "chars_per_sec": tracker.chars_per_sec})
        skip = 0
        epochs_no_gain = 0 if improved else epochs_no_gain + 1
        if stop.reason or tracker.over_budget():
            break
        if cfg.patience and epochs_no_gain >= cfg.patience:
            message = f"Stopped early: validation loss did not improve for {cfg.patience} epochs."
            break

    if status != "diverged":
        if stop.reason == "cancelled":
            status, message = "cancelled", "Stopped by request; resume continues from here."
        elif tracker.over_budget():
            message = "Reached its time budget."
    elapsed = elapsed0 + time.monotonic() - t0
    if (ckpt_dir / "best.npz").exists():
        checkpoint.restore(ckpt_dir / "best.npz", val_net, with_optimizer=False)
        _save_keras(val_net, run_dir)   # the saved model takes any batch size
    best = best_val / LN2 / val_cpt if math.isfinite(best_val) else None
    reg.update_run(run_id, status=status, message=message, finished=time.time(), elapsed=elapsed, pid=None,
                   eta=0, heartbeat=time.time(), cancel=0)
    epochs_done = reg.get_run(run_id)["epoch"]
    emit({"type": "end", "status": status, "message": message, "run_id": run_id, "best_val_bpc": best})
    from .jobs import pump  # let the next queued job start even if no page is open
    pump(reg)
    return TrainResult(run_id, run_dir, status, message, epochs_done, best)


def _save_keras(net, run_dir: Path) -> None:
    # Keras insists on the .keras suffix, so the temp file lives in a temp folder beside the target.
    tmp = run_dir / ".tmp-model"
    tmp.mkdir(exist_ok=True)
    net.save(tmp / "model.keras")
    os.replace(tmp / "model.keras", run_dir / "model.keras")
    shutil.rmtree(tmp, ignore_errors=True)


def _samples(run_dir, model_cfg, cfg, vocab, weights, epoch, reg, run_id) -> dict:
    from .generate import Generator

    if cfg.sample_length <= 0:
        return {}
    gen = Generator(Run(run_id, run_dir, model_cfg, cfg, {}, vocab, weights))
    length = max(1, cfg.sample_length // {"char": 1, "word": 5, "subword": 3}[cfg.level])   # about as many characters
    out = {}
    for temp in SAMPLE_TEMPERATURES:
        out[temp] = gen.generate("", length, temperature=temp, seed=cfg.seed + epoch).text
        reg.add_sample(run_id, epoch, temp, out[temp])
    return out


_TRACKER = None


def _tracker_class():
    """The Keras callback class, built on first use: importing this module must not load TensorFlow."""
    global _TRACKER
    if _TRACKER is None:
        _import_tf_quietly()
        import keras

        _TRACKER = type("Tracker", (_TrackerMixin, keras.callbacks.Callback), {})
    return _TRACKER


class _TrackerMixin:
    """Per-batch bookkeeping: loss, schedule, throttled registry writes, budget, cancel, divergence."""

    def __init__(self, reg, run_id, cfg, spe, total_steps, chars_per_batch, cpt, ln_vocab, stop, emit, t0, elapsed0):
        super().__init__()  # keras.callbacks.Callback, next in the MRO
        self.reg, self.run_id, self.cfg, self.spe, self.total_steps = reg, run_id, cfg, spe, total_steps
        self.chars_per_batch, self.cpt, self.stop, self.emit = chars_per_batch, cpt, stop, emit
        self.t0, self.elapsed0 = t0, elapsed0
        self.explode_at = 2.0 * ln_vocab + 1.0
        self.gstep, self.diverged, self.chars_per_sec = 0, False, 0.0
        self.pending: list[dict] = []
        self.last_flush = time.monotonic()

    def elapsed(self) -> float:
        return self.elapsed0 + time.monotonic() - self.t0

    def over_budget(self) -> bool:
        return bool(self.cfg.time_budget) and self.elapsed() >= self.cfg.time_budget

    def begin_epoch(self, epoch: int, skip: int) -> None:
        self.epoch, self.skip, self.batches = epoch, skip, 0
        self.prev_mean, self.epoch_loss, self.window = 0.0, float("nan"), []
        self.rate_t, self.rate_steps = time.monotonic(), 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.cfg.schedule != "constant":
            lr = learning_rate(self.cfg, self.gstep, self.total_steps, self.elapsed())
            self.model.optimizer.learning_rate.assign(lr)

    def on_train_batch_end(self, batch, logs=None):
        # Keras reports the running mean over the epoch; recover this batch's own loss from it.
        mean = float(logs["loss"])
        n = self.batches + 1
        loss = n * mean - (n - 1) * self.prev_mean
        self.prev_mean, self.epoch_loss, self.batches = mean, mean, n
        self.gstep += 1
        self.window.append(loss)
        if not math.isfinite(loss) or (self.gstep > 10 and loss > self.explode_at):
            self.diverged = True
            self.model.stop_training = True
            return
        if self.stop.reason or self.over_budget():
            self.model.stop_training = True
        now = time.monotonic()
        if now - self.last_flush >= FLUSH_EVERY or self.model.stop_training:
            self.flush(now)

    def flush(self, now: float) -> None:
        dt = max(now - self.rate_t, 1e-9)
        steps = self.batches - self.rate_steps
        if steps:
            self.chars_per_sec = steps * self.chars_per_batch / dt
        self.rate_t, self.rate_steps = now, self.batches
        remaining = self.total_steps - (self.epoch * self.spe + self.skip + self.batches)
        eta = remaining * self.chars_per_batch / self.chars_per_sec if self.chars_per_sec else None
        if self.cfg.time_budget and eta is not None:
            eta = min(eta, max(0.0, self.cfg.time_budget - self.elapsed()))
        loss = float(np.mean(self.window)) if self.window else None
        lr = float(self.model.optimizer.learning_rate.numpy())
        row = {"kind": "batch", "epoch": self.epoch + 1, "step": self.gstep, "elapsed": self.elapsed(),
               "loss": loss, "bpc": loss / LN2 / self.cpt if loss is not None else None,
               "chars_per_sec": self.chars_per_sec, "lr": lr}
        self.window = []
        self.reg.add_metrics(self.run_id, [row], epoch=self.epoch, step=self.skip + self.batches,
                             eta=eta, chars_per_sec=self.chars_per_sec, heartbeat=time.time(),
                             elapsed=self.elapsed())
        self.last_flush = now
        self.emit({"type": "batch", "epoch": self.epoch, "step": self.skip + self.batches, "steps": self.spe,
                   "global_step": self.gstep, "loss": loss, "eta": eta, "chars_per_sec": self.chars_per_sec})
        if self.reg.cancel_requested(self.run_id):
            self.stop.reason = "cancelled"
            self.model.stop_training = True

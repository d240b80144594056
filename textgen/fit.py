"""The Keras loop: one fit() call per epoch (so each epoch's data order is reproducible), with
checkpoints, cancellation, a time budget, a divergence guard and live metrics.

Progress leaves only as events (start, note, batch, epoch) through `emit`: train.py turns them into
registry rows, the command line into its progress lines. Importing this module imports TensorFlow;
train.py imports it only once a run is ready.
"""
from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np


def import_tf_quietly() -> None:
    """TensorFlow's C++ start-up lines go to fd 2 before any log setting applies: hide just those. The first
    device listing adds one more on a machine without a GPU ("failed call to cuInit"), so it happens here too."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow

            tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


import_tf_quietly()
import keras  # noqa: E402

from . import atomic, checkpoint, data, gradients, kernels  # noqa: E402
from .artifacts import Run, check_weights, read_config, write_config  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .generate import Generator  # noqa: E402
from .models import (build_model, export_weights, flops_per_token, import_weights, param_count,  # noqa: E402
                     record_gradient_norms)
from .schedule import learning_rate  # noqa: E402
from .stepper import Stepper  # noqa: E402
from .train import Job, Outcome  # noqa: E402 - what train.py prepares, and what this loop tells it

FLUSH_EVERY = 0.5               # seconds between batch-metric events (each one is a registry write)
SAMPLE_TEMPERATURES = (0.5, 1.0)
STREAM_WINDOWS = 4              # carried-state training: the fewest windows each stream runs through
LN2 = math.log(2.0)


def make_optimizer(cfg: TrainConfig):
    """The config's optimizer at its learning rate, clipping all gradients by their global norm (not each weight's
    on its own): Adam (AdamW with weight_decay) or plain SGD, whose step is the learning rate times the gradient,
    so an exploding gradient is an exploding step unless clipped: what the clipping pair shows.

    The decay is decoupled from the gradient: each step every weight matrix shrinks by lr x weight_decay of itself
    (lr as the schedule sets it), whatever its gradient; the biases are spared. AdamW's slots are Adam's, so
    checkpoints match; SGD without momentum has none.
    """
    clip, decay = cfg.clipnorm or None, cfg.weight_decay or None
    if cfg.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=cfg.lr, weight_decay=decay, global_clipnorm=clip)
    elif decay is None:
        return keras.optimizers.Adam(learning_rate=cfg.lr, global_clipnorm=clip)
    else:
        opt = keras.optimizers.AdamW(learning_rate=cfg.lr, weight_decay=decay, global_clipnorm=clip)
    if decay is not None:
        opt.exclude_from_weight_decay(var_names=[r"(^|/)bias(:\d+)?$"])   # "bias" or ".../gru_cell/bias:0" only
    return opt


def fit(job: Job, stop, emit: Callable[[dict], None], cancelled: Callable[[], bool]) -> Outcome:
    """Train job's run to its end (last epoch, budget, cancel, divergence, patience); the best weights are saved.
    cancelled: whether a stop was asked for from outside (polled between epochs and at each batch event)."""
    cfg, model_cfg, vocab, run_id, run_dir = job.cfg, job.model, job.vocab, job.run_id, job.run_dir
    train_ids, val_ids = data.split_encoded(vocab, job.text, cfg.val_fraction)
    # Characters per token on each side (1 at character level): bits per character divide by them.
    cpt = 1.0 if vocab.level == "char" else len(vocab.decode(train_ids)) / max(1, len(train_ids))
    train_w, val_w = data.windows(train_ids, cfg.seq_len), data.windows(val_ids, cfg.seq_len)
    # Bits per character of validation divide by the characters its targets spell (tokens vary in length).
    val_cpt = cpt if vocab.level == "char" else len(vocab.decode(val_w[:, 1:].reshape(-1))) / max(1, val_w[:, 1:].size)
    batch, spe = _batching(cfg, train_ids, train_w, emit)
    kernel = _kernel(job, emit)
    net, val_net = _nets(job, kernel, batch)
    ckpt_dir = run_dir / "checkpoints"
    start_epoch, skip, gstep, best_val, elapsed0 = 0, 0, 0, math.inf, 0.0
    if job.resuming:   # a carried-state run stopped mid-epoch gets its streams' state back too
        st = checkpoint.restore(ckpt_dir / "latest.npz", net)
        start_epoch, skip, gstep = st["epoch"], st["step_in_epoch"], st["global_step"]
        best_val, elapsed0 = st.get("best_val_loss") or math.inf, st.get("elapsed", 0.0)
    elif job.base_weights is not None:
        weights = atomic.read_npz(job.base_weights)
        check_weights(weights, model_cfg)
        import_weights(net, model_cfg, weights)

    emit({"type": "start", "run_id": run_id, "run_dir": str(run_dir), "steps_per_epoch": spe,
          "epoch": start_epoch, "step": skip, "epochs": cfg.epochs, "params": param_count(model_cfg),
          "flops_per_token": flops_per_token(model_cfg), "gru_kernel": kernel})
    tracker = Tracker(cfg, spe, batch * cfg.seq_len * cpt, cpt, math.log(len(vocab)), stop, emit, cancelled,
                      elapsed0, gstep)
    status, message, epochs_no_gain = "done", "", 0
    for epoch in range(start_epoch, cfg.epochs):
        if cancelled():
            stop.reason = "cancelled"
        if stop.reason or tracker.over_budget():
            break
        tracker.begin_epoch(epoch, skip)
        if skip < spe:
            if cfg.carry_state:   # each epoch's streams start from a zero state; a resumed one goes on from its stop
                if not (job.resuming and skip and epoch == start_epoch):
                    checkpoint.set_rnn_states(net, None)
                ds = data.stream_dataset(train_ids, cfg.seq_len, batch, cfg.seed, epoch, skip)
            else:
                ds = data.epoch_dataset(train_w, batch, cfg.seed, epoch, skip)
            net.fit(ds, epochs=epoch + 1, initial_epoch=epoch, verbose=0, callbacks=[tracker], shuffle=False)
        if tracker.diverged:
            status = "diverged"
            message = (f"The loss exploded at step {tracker.gstep} (learning rate {cfg.lr:g} is too high for this "
                       f"model). Try a lower learning rate, such as {cfg.lr / 3:.2g}. "
                       "The last good checkpoint is kept.")
            break
        done_in_epoch = skip + tracker.batches
        finished = done_in_epoch >= spe
        if val_net is not net:
            val_net.set_weights(net.get_weights())
        val_loss = float(val_net.evaluate(data.eval_dataset(val_w, batch), verbose=0))
        elapsed = tracker.elapsed()
        improved = val_loss < best_val
        best_val = min(best_val, val_loss)
        state = {"epoch": epoch + 1 if finished else epoch, "step_in_epoch": 0 if finished else done_in_epoch,
                 "global_step": tracker.gstep, "best_val_loss": best_val, "val_loss": val_loss, "elapsed": elapsed}
        checkpoint.save(ckpt_dir / "latest.npz", net, state)
        weights = export_weights(net, model_cfg)
        if improved:
            checkpoint.save(ckpt_dir / "best.npz", net, state)
            atomic.write_npz(run_dir / "weights.npz", weights)
        val_bpc = val_loss / LN2 / val_cpt
        progress = epoch + done_in_epoch / spe
        # number: what the validation and samples are labelled, epochs trained: a whole epoch's count, or a stopped
        # one's progress cut to two decimals (8.25: never 9 beside a run that finished 8); epochs_done, step: resume
        number = epoch + 1 if finished else math.floor(progress * 100) / 100
        emit({"type": "epoch", "epoch": progress, "number": number, "loss": tracker.epoch_loss,
              "val_loss": val_loss, "bpc": tracker.epoch_loss / LN2 / cpt, "val_bpc": val_bpc,
              "best_val_bpc": best_val / LN2 / val_cpt, "perplexity": math.exp(min(val_loss, 50.0)),
              "samples": _samples(job, weights, epoch + 1), "chars_per_sec": tracker.chars_per_sec,
              "global_step": tracker.gstep, "elapsed": elapsed, "epochs_done": state["epoch"],
              "step": state["step_in_epoch"]})
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
    elapsed = tracker.elapsed()
    if (ckpt_dir / "best.npz").exists():
        checkpoint.restore(ckpt_dir / "best.npz", val_net, with_optimizer=False)
        _save_keras(val_net, run_dir)   # the saved model takes any batch size
    if (run_dir / "weights.npz").exists():   # the best weights' vanishing curve, so the page need only read it
        gradients.measure_and_save(run_dir, Stepper(model_cfg, atomic.read_npz(run_dir / "weights.npz")), val_ids,
                                   cfg.seed)
    return Outcome(status, message, elapsed, best_val / LN2 / val_cpt if math.isfinite(best_val) else None)


def _batching(cfg: TrainConfig, train_ids, train_w, emit) -> tuple[int, int]:
    """(batch size, steps per epoch): a text too short for the configured batch gets a smaller one."""
    if cfg.carry_state:   # each of the batch's streams should run through several windows, or nothing is carried
        batch = max(1, min(cfg.batch_size, len(train_w) // STREAM_WINDOWS))
        if batch < cfg.batch_size:
            emit({"type": "note", "message": f"Batch size lowered to {batch}: the text makes only {len(train_w)} "
                                             f"training windows, and each stream should carry its state through "
                                             f"at least {STREAM_WINDOWS}."})
        return batch, data.stream_steps(len(train_ids), cfg.seq_len, batch)
    batch = min(cfg.batch_size, len(train_w))
    if batch < cfg.batch_size:
        emit({"type": "note",
              "message": f"Batch size lowered to {batch}: the text makes only {len(train_w)} training windows."})
    return batch, data.steps_per_epoch(len(train_w), batch)


def _kernel(job: Job, emit) -> str:
    """Which GRU implementation trains the run, said when the one asked for does not apply, and kept in its config."""
    cfg, model_cfg = job.cfg, job.model
    kernel = kernels.resolve(cfg.gru_kernel, model_cfg.cell, cfg.seq_len, cfg.carry_state, cfg.jit_compile,
                             model_cfg.layers, model_cfg.weight_drop, model_cfg.units)
    if cfg.gru_kernel in ("float32", "bfloat16") and kernel == "keras":
        emit({"type": "note", "message": "Inkwell's GRU kernel does not apply to this run (it trains stateless GRU "
                                         f"layers over at most {kernels.MAX_UNROLL} steps x layers, without XLA): "
                                         "training with Keras' layers."})
    if model_cfg.weight_drop > 0 and kernel == "keras":
        emit({"type": "note", "message": "Recurrent weight dropout needs Inkwell's GRU kernel, which does not apply "
                                         "to this run: training without it."})
    saved_model_cfg, saved_cfg, meta = read_config(job.run_dir)
    if meta.get("gru_kernel") != kernel:   # it is not in the config when "auto"
        write_config(job.run_dir, saved_model_cfg, saved_cfg, {**meta, "gru_kernel": kernel})
    return kernel


def _nets(job: Job, kernel: str, batch: int):
    """(the net that trains, the net that validates). Validation reads windows from a zero state with Keras' layers
    (what evaluate() and the saved model compute): a carried-state net or Inkwell's GRU kernel gets a twin."""
    cfg, model_cfg = job.cfg, job.model
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    net = build_model(model_cfg, seed=cfg.seed, stateful_batch=batch if cfg.carry_state else None, gru_kernel=kernel)
    record_gradient_norms(net)   # each batch's logs carry its gradient norm and whether clipping acted
    net.compile(optimizer=make_optimizer(cfg), loss=loss, jit_compile=cfg.jit_compile)
    if not (cfg.carry_state or kernel != "keras"):
        return net, net
    val_net = build_model(model_cfg, seed=cfg.seed)
    val_net.compile(loss=loss, jit_compile=cfg.jit_compile)
    return net, val_net


def _save_keras(net, run_dir: Path) -> None:
    # Keras insists on the .keras suffix, so the temp file lives in a temp folder beside the target.
    tmp = run_dir / ".tmp-model"
    tmp.mkdir(exist_ok=True)
    net.save(tmp / "model.keras")
    os.replace(tmp / "model.keras", run_dir / "model.keras")
    shutil.rmtree(tmp, ignore_errors=True)


def _samples(job: Job, weights: dict, epoch: int) -> dict:
    """{temperature: text} the epoch's weights write from nothing, about sample_length characters each."""
    cfg = job.cfg
    if cfg.sample_length <= 0:
        return {}
    gen = Generator(Run(job.run_id, job.run_dir, job.model, cfg, {}, job.vocab, weights))
    length = max(1, cfg.sample_length // {"char": 1, "word": 5, "subword": 3}[cfg.level])   # about as many characters
    return {t: gen.generate("", length, temperature=t, seed=cfg.seed + epoch).text for t in SAMPLE_TEMPERATURES}


class Tracker(keras.callbacks.Callback):
    """Per-batch bookkeeping: loss, schedule, a batch event every FLUSH_EVERY seconds, budget, cancel, divergence."""

    def __init__(self, cfg, spe, chars_per_batch, cpt, ln_vocab, stop, emit, cancelled, elapsed0=0.0, gstep=0):
        super().__init__()
        self.cfg, self.spe, self.total_steps, self.cpt = cfg, spe, spe * cfg.epochs, cpt
        self.chars_per_batch, self.stop, self.emit, self.cancelled = chars_per_batch, stop, emit, cancelled
        self.t0, self.elapsed0, self.gstep = time.monotonic(), elapsed0, gstep   # elapsed0: earlier sessions'
        self.explode_at = 2.0 * ln_vocab + 1.0
        self.diverged, self.chars_per_sec, self.last_flush = False, 0.0, time.monotonic()

    def elapsed(self) -> float:
        return self.elapsed0 + time.monotonic() - self.t0

    def over_budget(self) -> bool:
        return bool(self.cfg.time_budget) and self.elapsed() >= self.cfg.time_budget

    def begin_epoch(self, epoch: int, skip: int) -> None:
        self.epoch, self.skip, self.batches = epoch, skip, 0
        self.prev_mean, self.epoch_loss, self.window, self.norms, self.clipped = 0.0, float("nan"), [], [], 0
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
        if "grad_norm" in logs:
            self.norms.append(float(logs["grad_norm"]))
            self.clipped += int(float(logs["clipped"]))
        if not math.isfinite(loss) or (self.gstep > 10 and loss > self.explode_at):
            self.diverged = True
            self.model.stop_training = True
            self.flush(time.monotonic())   # the last norms show why it diverged
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
        loss = float(np.mean(self.window)) if self.window else None   # the mean since the last event
        # The mean gradient norm since the last event and how many of those batches were clipped.
        grad_norm = float(np.mean(self.norms)) if self.norms else None
        clipped, self.window, self.norms, self.clipped = self.clipped, [], [], 0
        self.last_flush = now
        # epoch: the index of the epoch running; step: batches done in it; global_step: over the whole run
        self.emit({"type": "batch", "epoch": self.epoch, "step": self.skip + self.batches, "steps": self.spe,
                   "global_step": self.gstep, "loss": loss, "bpc": loss / LN2 / self.cpt if loss is not None else None,
                   "eta": eta, "chars_per_sec": self.chars_per_sec, "elapsed": self.elapsed(),
                   "lr": float(self.model.optimizer.learning_rate.numpy()), "grad_norm": grad_norm,
                   "clipped": clipped})
        if self.cancelled():
            self.stop.reason = "cancelled"
            self.model.stop_training = True

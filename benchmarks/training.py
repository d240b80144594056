"""Training throughput (characters/second): Inkwell's train() vs a plain model.fit of the same Keras
model on the same tf.data pipeline, plus the same fit with XLA (jit_compile=True) as an extra row.
GRU models get one more row: train() with Keras' GRU layer (gru_kernel="keras"), so that train()'s
own overhead is compared like for like, while the default train() row uses Inkwell's GRU kernel
wherever it applies (textgen/fastgru.py: bfloat16 recurrent products on CPUs with AMX).

Why batch windows, not whole epochs: at seq 100 x batch 64 on ~300k characters an epoch of the
LSTM 2x256 takes tens of seconds on two shared cores, so "time epochs after a warm-up epoch" does
not fit a 20 s time box. Instead every path is timed the way Inkwell's own progress bar is: the
throughput over consecutive windows of at least 0.5 s of training batches (Inkwell's `on_event`
'batch' events carry exactly this `chars_per_sec`; for plain fit a callback stamps each batch end
and groups batches into the same >= 0.5 s windows). The first window, which holds the first
batch's tracing / XLA compilation, is dropped; its duration is reported separately. Windows never
span the between-epoch work (validation, checkpoint), which is Inkwell's and not fit's.
"""
from __future__ import annotations

import os
import tempfile
import time

from .common import ROOT, Row, cpu_facts, fmt_num, fmt_time, loadavg, summary

WINDOW = 0.5          # seconds per throughput window, as Inkwell's FLUSH_EVERY
TARGET_CHARS = 300_000
MODELS = {"lstm_2x256": ("lstm", 2, 256), "gru_1x512": ("gru", 1, 512)}
QUICK_MODELS = {"lstm_2x256": ("lstm", 2, 16), "gru_1x512": ("gru", 1, 32)}


def import_tf_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from textgen.fit import import_tf_quietly as quiet   # importing fit imports TensorFlow quietly

    quiet()


def corpus_text(n_chars: int) -> str:
    text = (ROOT / "assets" / "sample.txt").read_text("utf-8")
    return (text * (n_chars // len(text) + 1))[:n_chars]


def _windows(stamps: list[float], chars_per_batch: float) -> list[float]:
    """Throughputs over consecutive >= WINDOW s groups of batches; stamps[0] is the end of the first batch."""
    rates, start, n = [], stamps[0], 0
    for t in stamps[1:]:
        n += 1
        if t - start >= WINDOW:
            rates.append(n * chars_per_batch / (t - start))
            start, n = t, 0
    return rates


def time_inkwell(text: str, cfg, seq_len: int, batch: int, budget: float, gru_kernel: str = "auto") -> dict:
    """train() with time_budget = budget (plus the first batch's tracing, estimated by the caller)."""
    from textgen.config import TrainConfig
    from textgen.train import train

    events: list[dict] = []
    tcfg = TrainConfig(seq_len=seq_len, batch_size=batch, epochs=1000, time_budget=budget, sample_length=0,
                       seed=42, lr=2e-3, clipnorm=1.0, gru_kernel=gru_kernel)
    with tempfile.TemporaryDirectory(prefix="inkwell-bench-train-") as home:
        t0 = time.perf_counter()
        result = train(text, cfg, tcfg, label="benchmark", workspace=home, on_event=events.append)
        wall = time.perf_counter() - t0
    batch_events = [e for e in events if e["type"] == "batch"]
    # The first event of epoch 0 covers the first batch, i.e. tracing the train step: drop it.
    steady = [e for i, e in enumerate(batch_events) if not (i == 0 and e["epoch"] == 0)]
    rates = [e["chars_per_sec"] for e in steady if e["chars_per_sec"]]
    start = next(e for e in events if e["type"] == "start")
    return {"chars_per_sec": summary(rates, "chars/s") if rates else None, "batches": batch_events[-1]["global_step"]
            if batch_events else 0, "steps_per_epoch": start["steps_per_epoch"], "wall_s": wall,
            "status": result.status, "gru_kernel": start.get("gru_kernel"), "first_window_chars_per_sec": batch_events[0]["chars_per_sec"] if batch_events else None}


def time_fit(text: str, cfg, seq_len: int, batch: int, budget: float, jit: bool) -> dict:
    import keras

    from textgen import data
    from textgen.models import build_model
    from textgen.vocab import Vocab

    vocab = Vocab.build(text, "char")
    ids, _ = vocab.encode(text)
    train_ids, _ = data.split(ids, 0.1)
    w = data.windows(train_ids, seq_len)
    keras.backend.clear_session()
    net = build_model(cfg, seed=42)
    net.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3, clipnorm=1.0),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    stamps: list[float] = []

    class Clock(keras.callbacks.Callback):
        # The time box starts after the first batch, so a long trace or XLA compile still leaves
        # `budget` seconds of steady training to measure.
        def on_train_batch_end(self, b, logs=None):
            stamps.append(time.perf_counter())
            if stamps[-1] - stamps[0] >= budget:
                self.model.stop_training = True

    t_start = time.perf_counter()
    epoch = 0
    while True:
        n_before = len(stamps)
        net.fit(data.epoch_dataset(w, batch, 42, epoch), epochs=1, verbose=0, shuffle=False, callbacks=[Clock()])
        epoch_stamps = stamps[n_before:]
        if epoch == 0:
            first_batch = epoch_stamps[0] - t_start if epoch_stamps else None
        epoch += 1
        if net.stop_training:
            break
    # Windows within each epoch only; the first batch of the run (tracing) is never inside a window.
    rates = []
    per_epoch = data.steps_per_epoch(len(w), batch)
    for e0 in range(0, len(stamps), per_epoch):
        rates += _windows(stamps[e0: e0 + per_epoch], batch * seq_len)
    return {"chars_per_sec": summary(rates, "chars/s") if rates else None, "batches": len(stamps),
            "steps_per_epoch": per_epoch, "wall_s": time.perf_counter() - t_start,
            "first_batch_s": first_batch, "vocab": len(vocab)}


def run(quick: bool = False) -> tuple[dict, list[Row]]:
    import_tf_quietly()
    from textgen.config import ModelConfig
    from textgen.models import flops_per_token
    from textgen.vocab import Vocab

    models = QUICK_MODELS if quick else MODELS
    seq_len, batch = (20, 8) if quick else (100, 64)
    budget = 5.0 if quick else 15.0
    text = corpus_text(20_000 if quick else TARGET_CHARS)
    vocab_size = len(Vocab.build(text, "char"))
    cpu = cpu_facts()
    peak = cpu["peak_gflops_fp32"]
    results: dict = {"loadavg_start": loadavg(), "corpus_chars": len(text), "seq_len": seq_len, "batch": batch,
                     "time_box_s": budget, "window_s": WINDOW, "cpu": cpu, "models": {},
                     "method": __doc__.strip().split("\n\n", 1)[1]}
    rows: list[Row] = []
    for name, (cell, layers, units) in models.items():
        cfg = ModelConfig(vocab_size=vocab_size, cell=cell, layers=layers, units=units, embedding=64, dropout=0.0)
        fpt = flops_per_token(cfg)
        m = {"config": {"cell": cell, "layers": layers, "units": units, "embedding": 64, "vocab": vocab_size},
             "forward_flops_per_char": fpt, "train_flops_per_char": 3 * fpt}
        m["plain_fit"] = time_fit(text, cfg, seq_len, batch, budget, jit=False)
        # Inkwell's time budget counts from before the first batch: add plain fit's tracing time to it.
        m["inkwell_train"] = time_inkwell(text, cfg, seq_len, batch, budget + (m["plain_fit"]["first_batch_s"] or 0))
        if cell == "gru":
            m["inkwell_train_keras_gru"] = time_inkwell(text, cfg, seq_len, batch,
                                                        budget + (m["plain_fit"]["first_batch_s"] or 0), "keras")
        m["plain_fit_xla"] = time_fit(text, cfg, seq_len, batch, budget, jit=True)
        base = m["plain_fit"]["chars_per_sec"]["median"] if m["plain_fit"]["chars_per_sec"] else float("nan")
        label = f"{cell.upper()} {layers}x{units}"
        for key, title in (("inkwell_train", "Inkwell train()"),
                           ("inkwell_train_keras_gru", "Inkwell train() with Keras' GRU"),
                           ("plain_fit", "plain model.fit"),
                           ("plain_fit_xla", "plain model.fit, jit_compile=True (extra)")):
            if key not in m:
                continue
            s = m[key]["chars_per_sec"]
            if s is None:
                rows.append(Row("training", f"{label}: {title}", "not measured", "no steady window in the time box"))
                continue
            gflops = s["median"] * 3 * fpt / 1e9
            m[key]["achieved_gflops"] = gflops
            m[key]["fraction_of_peak"] = gflops / peak if peak else None
            m[key]["ratio_to_plain_fit"] = s["median"] / base
            note = f"{s['median'] / base:.2f}x plain fit; {gflops:.2f} GFLOP/s = {100 * gflops / peak:.1f}% of float32 peak"
            if m[key].get("gru_kernel") not in (None, "keras"):
                note += f"; Inkwell's GRU kernel, {m[key]['gru_kernel']}"
            if key == "plain_fit_xla" and m[key].get("first_batch_s"):
                note += f"; first batch (compile) {fmt_time(m[key]['first_batch_s'])}"
            rows.append(Row("training", f"{label}: {title}", fmt_num(s["median"], "chars/s"),
                            f"{fmt_num(s['min'])}–{fmt_num(s['max'])} (n={s['n']})", note, "", ""))
        rows.append(Row("training", f"{label}: FLOPs per character (train = 3x forward)", fmt_num(3 * fpt, "FLOP"),
                        "", f"forward {fmt_num(fpt)}", "", ""))
        results["models"][name] = m
    results["loadavg_end"] = loadavg()
    return results, rows

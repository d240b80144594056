"""Generation latency per character, one stream, four ways on the same weights; and alternatives.

(a) Inkwell's Generator.stream (NumPy stepper + sampler), as shipped, and with NumPy's BLAS
    limited to one thread (an engine setting this benchmark argues for).
(b) The TF tutorial's reference: a one-step Keras model that takes and returns the recurrent
    state, called inside a tf.function with tf.random.categorical sampling (the tutorial's OneStep).
(c) Naive Keras: model.predict on that same step model, one token plus the state per call,
    sampling in NumPy. Each call builds a predict loop, which is what a naive loop pays.
(d) The floor: only the matrix products of one step in NumPy (embedding row, x@W, h@U per layer,
    h@W_out), 1-D vectors, in a tight loop; no nonlinearities, no sampling, no Python bookkeeping.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from .common import Row, Target, blas_threads, fmt_spread, fmt_time, loadavg, summary

VOCAB, EMBED = 80, 64
MODELS = {"gru_1x512": ("gru", 1, 512), "lstm_2x512": ("lstm", 2, 512)}
QUICK_MODELS = {"gru_1x512": ("gru", 1, 32), "lstm_2x512": ("lstm", 2, 32)}
PROMPT = "The "
TEMPERATURE = 0.8


def make_run(root: Path, cell: str, layers: int, units: int, seed: int = 0):
    """A run directory with random-initialised weights: returns (run dir, keras model, ModelConfig)."""
    from textgen import atomic
    from textgen.artifacts import write_config
    from textgen.config import ModelConfig, TrainConfig
    from textgen.models import build_model, export_weights
    from textgen.vocab import UNK, Vocab

    cfg = ModelConfig(vocab_size=VOCAB, cell=cell, layers=layers, units=units, embedding=EMBED, dropout=0.0)
    model = build_model(cfg, seed=seed)
    run_dir = root / f"{cell}_{layers}x{units}"
    run_dir.mkdir(parents=True, exist_ok=True)
    # 79 characters after <unk>: newline, space, letters, digits, then ASCII punctuation.
    import string

    chars = ["\n", " "] + list(string.ascii_letters + string.digits + string.punctuation)
    tokens = [UNK] + chars[: VOCAB - 1]
    assert len(tokens) == VOCAB, len(tokens)
    Vocab(tokens, "char").save(run_dir / "vocab.json")
    write_config(run_dir, cfg, TrainConfig(), {"label": f"benchmark {cell} {layers}x{units}"})
    atomic.write_npz(run_dir / "weights.npz", export_weights(model, cfg))
    return run_dir, model, cfg


def step_model(model, cfg):
    """A one-step Keras model with the recurrent state as inputs and outputs, sharing `model`'s weights."""
    import keras

    ids = keras.Input(shape=(1,), batch_size=1, dtype="int32", name="ids")
    emb = keras.layers.Embedding(cfg.vocab_size, cfg.embedding, name="embedding")
    x = emb(ids)
    layer_cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cfg.cell]
    state_in, state_out, rnns = [], [], []
    for i in range(cfg.layers):
        n_states = 2 if cfg.cell == "lstm" else 1
        s_in = [keras.Input(shape=(cfg.units,), batch_size=1, name=f"s{i}_{j}") for j in range(n_states)]
        rnn = layer_cls(cfg.units, return_sequences=True, return_state=True, name=f"rnn_{i}")
        x, *s_out = rnn(x, initial_state=s_in)
        state_in += s_in
        state_out += s_out
        rnns.append(rnn)
    dense = keras.layers.Dense(cfg.vocab_size, name="logits")
    logits = dense(x)                                                             # (1, 1, vocab)
    step = keras.Model([ids] + state_in, [logits] + state_out)
    emb.set_weights(model.get_layer("embedding").get_weights())
    for i, rnn in enumerate(rnns):
        rnn.set_weights(model.get_layer(f"rnn_{i}").get_weights())
    dense.set_weights(model.get_layer("logits").get_weights())
    return step


def _zero_states(cfg) -> list[np.ndarray]:
    n = cfg.layers * (2 if cfg.cell == "lstm" else 1)
    return [np.zeros((1, cfg.units), np.float32) for _ in range(n)]


# -- the four ways ------------------------------------------------------------------------------------
def time_generator(gen, n_chars: int, threads: int | None = None) -> float:
    """Seconds per character of Generator.stream over n_chars (the 4-character prompt is fed first)."""
    with blas_threads(threads):
        t0 = time.perf_counter()
        made = 0
        for piece in gen.stream(PROMPT, length=n_chars, temperature=TEMPERATURE, seed=1):
            made += len(piece)
        dt = time.perf_counter() - t0
    assert made == n_chars, (made, n_chars)
    return dt / n_chars


def make_tf_one_step(step, cfg):
    """The tutorial's OneStep: model call with states + temperature + <unk> mask + categorical, in a tf.function."""
    import tensorflow as tf

    mask = np.zeros((1, cfg.vocab_size), np.float32)
    mask[0, 0] = -np.inf
    mask = tf.constant(mask)

    @tf.function(reduce_retracing=True)
    def one_step(ids, states):
        out = step([ids] + list(states), training=False)
        logits = out[0][:, -1, :] / TEMPERATURE + mask                              # (1, vocab)
        nxt = tf.random.categorical(logits, 1, dtype=tf.int32)                       # (1, 1)
        return nxt, out[1:]

    return one_step


def time_tf_function(one_step, cfg, texts, n_chars: int) -> float:
    """Seconds per character; each step's id comes back to Python (a stream must show every character)."""
    import tensorflow as tf

    states = [tf.constant(s) for s in _zero_states(cfg)]
    ids = tf.constant([[1]], tf.int32)
    t0 = time.perf_counter()
    out = []
    for _ in range(n_chars):
        ids, states = one_step(ids, states)
        out.append(texts[int(ids[0, 0])])
    return (time.perf_counter() - t0) / n_chars


def time_predict(step, cfg, texts, n_chars: int) -> float:
    """Seconds per character of model.predict on the step model (1 token + state in, logits + state out)."""
    from textgen import sampling

    rng = np.random.default_rng(1)
    states = _zero_states(cfg)
    ids = np.array([[1]], np.int32)
    t0 = time.perf_counter()
    out = []
    for _ in range(n_chars):
        res = step.predict([ids] + states, verbose=0)
        logits, states = res[0][:, -1, :].copy(), list(res[1:])
        logits[:, 0] = -np.inf
        nxt = sampling.sample(logits, rng, TEMPERATURE)
        ids = nxt.reshape(1, 1).astype(np.int32)
        out.append(texts[int(nxt[0])])
    return (time.perf_counter() - t0) / n_chars


def make_floor(weights: dict, cfg):
    """Only the matrix products of one step, on 1-D vectors (gemv), from the exported weights."""
    emb = np.ascontiguousarray(weights["embedding"], np.float32)
    ks = [np.ascontiguousarray(weights[f"rnn_{i}/kernel"], np.float32) for i in range(cfg.layers)]
    rs = [np.ascontiguousarray(weights[f"rnn_{i}/recurrent"], np.float32) for i in range(cfg.layers)]
    w_out = np.ascontiguousarray(weights["logits/kernel"], np.float32)
    h = np.full(cfg.units, 0.1, np.float32)

    def run(n_steps: int) -> float:
        t0 = time.perf_counter()
        for t in range(n_steps):
            x = emb[t % cfg.vocab_size]                                              # (emb,)
            for k, r in zip(ks, rs):
                x @ k                                                               # (gates*units,)
                h @ r
                x = h                                                               # next layer's input
            h @ w_out                                                               # (vocab,)
        return (time.perf_counter() - t0) / n_steps

    return run


# -- the benchmark --------------------------------------------------------------------------------------
def run(quick: bool = False) -> tuple[dict, list[Row]]:
    from .training import import_tf_quietly

    import_tf_quietly()
    from textgen import Generator
    from textgen.artifacts import load_run

    models = QUICK_MODELS if quick else MODELS
    reps = 3 if quick else 7
    n_np = 30 if quick else 300                  # characters per repetition, NumPy paths and tf.function
    n_predict = 5 if quick else 15              # model.predict is ~100x slower: fewer characters per rep
    n_alt = 30 if quick else 100
    results: dict = {"loadavg_start": loadavg(), "models": {}, "alternatives": {}}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="inkwell-bench-gen-") as tmp:
        for name, (cell, layers, units) in models.items():
            run_dir, model, cfg = make_run(Path(tmp), cell, layers, units)
            gen = Generator(load_run(run_dir))
            step = step_model(model, cfg)
            texts = gen._texts
            one_step = make_tf_one_step(step, cfg)
            floor = make_floor(gen.run.weights, cfg)
            agreement = _agreement(gen, step, cfg)

            # Warm up every path: traces, BLAS buffers, caches.
            time_generator(gen, min(50, n_np))
            time_generator(gen, min(50, n_np), threads=1)
            time_tf_function(one_step, cfg, texts, 20)
            time_predict(step, cfg, texts, 3)
            floor(50)
            with blas_threads(1):
                floor(50)

            timings: dict[str, list[float]] = {k: [] for k in
                                               ("generator", "generator_1thread", "tf_function", "predict",
                                                "floor", "floor_1thread")}
            # Interleave repetitions so a burst of load from other users hits every path alike.
            for _ in range(reps):
                timings["generator"].append(time_generator(gen, n_np))
                timings["generator_1thread"].append(time_generator(gen, n_np, threads=1))
                timings["tf_function"].append(time_tf_function(one_step, cfg, texts, n_np))
                timings["predict"].append(time_predict(step, cfg, texts, n_predict))
                timings["floor"].append(floor(n_np))
                with blas_threads(1):
                    timings["floor_1thread"].append(floor(n_np))
            s = {k: summary(v) for k, v in timings.items()}
            med = {k: v["median"] for k, v in s.items()}
            floor_key = min(("floor", "floor_1thread"), key=lambda k: med[k])
            targets = [
                Target(f"{name}: tf.function / Generator", med["tf_function"] / med["generator"], 10.0, "min", "x"),
                Target(f"{name}: Generator / floor", med["generator"] / med[floor_key], 2.0, "max", "x"),
            ]
            results["models"][name] = {
                "cell": cell, "layers": layers, "units": units, "vocab": VOCAB, "embedding": EMBED,
                "chars_per_rep": {"numpy_and_tf_function": n_np, "predict": n_predict},
                "seconds_per_char": s, "floor_used": floor_key,
                "ratios": {"tf_function_over_generator": med["tf_function"] / med["generator"],
                           "predict_over_generator": med["predict"] / med["generator"],
                           "generator_over_floor": med["generator"] / med[floor_key],
                           "generator_1thread_over_floor": med["generator_1thread"] / med[floor_key],
                           "generator_over_generator_1thread": med["generator"] / med["generator_1thread"]},
                "keras_step_vs_stepper_max_abs_logit_diff": agreement,
                "targets": [t.as_dict() for t in targets],
            }
            label = f"{cell.upper()} {layers}x{units}"
            sec = "generation / char"
            rows += [
                Row(sec, f"{label}: (a) Inkwell Generator.stream", fmt_time(med["generator"]),
                    fmt_spread(s["generator"]), "1.00x", "", ""),
                Row(sec, f"{label}: (a') Generator, BLAS 1 thread", fmt_time(med["generator_1thread"]),
                    fmt_spread(s["generator_1thread"]),
                    f"{med['generator_1thread'] / med['generator']:.2f}x of (a)", "", "extra (engine setting)"),
                Row(sec, f"{label}: (b) tf.function one-step (TF tutorial)", fmt_time(med["tf_function"]),
                    fmt_spread(s["tf_function"]), f"{targets[0].value:.1f}x of (a); {med['tf_function'] / med['generator_1thread']:.1f}x of (a')", "(b) ≥ 10x (a)",
                    targets[0].verdict),
                Row(sec, f"{label}: (c) model.predict per step", fmt_time(med["predict"]),
                    fmt_spread(s["predict"]), f"{med['predict'] / med['generator']:.0f}x of (a)", "", ""),
                Row(sec, f"{label}: (d) floor, matmuls only ({'1 thread' if floor_key == 'floor_1thread' else 'default threads'})",
                    fmt_time(med[floor_key]), fmt_spread(s[floor_key]),
                    f"(a) is {targets[1].value:.2f}x of (d); (a') {med['generator_1thread'] / med[floor_key]:.2f}x",
                    "(a) ≤ 2x (d)", targets[1].verdict),
            ]

            # Alternatives: one batch of 4 vs one stream vs 4 streams one after another.
            alt = _alternatives(gen, n_alt, min(reps, 5))
            alt["blas_1thread"] = _alternatives(gen, n_alt, min(reps, 5), threads=1)
            t_alt = Target(f"{name}: batch of 4 / one stream", alt["ratios"]["batch4_over_single"], 2.0, "max", "x")
            alt["targets"] = [t_alt.as_dict()]
            results["alternatives"][name] = alt
            sa = alt["seconds_per_step"]
            rows += [
                Row("alternatives / step", f"{label}: one stream (n=1)", fmt_time(sa["single"]["median"]),
                    fmt_spread(sa["single"]), "1.00x", "", ""),
                Row("alternatives / step", f"{label}: 4 alternatives as one batch", fmt_time(sa["batch4"]["median"]),
                    fmt_spread(sa["batch4"]), f"{t_alt.value:.2f}x one stream", "≤ 2x one stream", t_alt.verdict),
                Row("alternatives / step", f"{label}: 4 single streams in turn", fmt_time(sa["four_singles"]["median"]),
                    fmt_spread(sa["four_singles"]),
                    f"{alt['ratios']['four_singles_over_batch4']:.2f}x the batch", "", ""),
            ]
            a1 = alt["blas_1thread"]
            s1 = a1["seconds_per_step"]
            rows.append(Row("alternatives / step", f"{label}: BLAS 1 thread: batch of 4 vs one stream",
                            f"{fmt_time(s1['batch4']['median'])} vs {fmt_time(s1['single']['median'])}",
                            f"{fmt_spread(s1['batch4'])}; {fmt_spread(s1['single'])}",
                            f"{a1['ratios']['batch4_over_single']:.2f}x one stream; 4 streams in turn "
                            f"{a1['ratios']['four_singles_over_batch4']:.2f}x the batch", "", "extra (engine setting)"))
            del model, step, one_step
    results["loadavg_end"] = loadavg()
    return results, rows


def _alternatives(gen, n_steps: int, reps: int, threads: int | None = None) -> dict:
    with blas_threads(threads):
        return _alternatives_inner(gen, n_steps, reps)


def _alternatives_inner(gen, n_steps: int, reps: int) -> dict:
    def batch4() -> float:
        t0 = time.perf_counter()
        alts = gen.alternatives(PROMPT, 4, n_steps, TEMPERATURE, seed=3)
        assert len(alts) == 4 and all(len(a.text) == n_steps for a in alts)
        return (time.perf_counter() - t0) / n_steps

    def single() -> float:
        t0 = time.perf_counter()
        gen.generate(PROMPT, n_steps, TEMPERATURE, seed=3)
        return (time.perf_counter() - t0) / n_steps

    def four_singles() -> float:
        t0 = time.perf_counter()
        for i in range(4):
            gen.generate(PROMPT, n_steps, TEMPERATURE, seed=3 + i)
        return (time.perf_counter() - t0) / n_steps

    batch4(), single()                                                               # warm-up
    t = {"batch4": [], "single": [], "four_singles": []}
    for _ in range(reps):
        t["batch4"].append(batch4())
        t["single"].append(single())
        t["four_singles"].append(four_singles())
    s = {k: summary(v) for k, v in t.items()}
    return {"steps_per_rep": n_steps, "seconds_per_step": s,
            "ratios": {"batch4_over_single": s["batch4"]["median"] / s["single"]["median"],
                       "four_singles_over_batch4": s["four_singles"]["median"] / s["batch4"]["median"]},
            "method": "Generator.alternatives(n=4) and Generator.generate (n=1), stop='length', wall time / steps"}


def _agreement(gen, step, cfg) -> float:
    """Max |logit difference| between the Keras step model and the NumPy stepper over 5 fed tokens:
    proves (b), (c) and (a) run the same weights."""
    ids = [5, 17, 3, 42, 9]
    states = _zero_states(cfg)
    np_state = gen.stepper.initial_state(1)
    worst = 0.0
    for i in ids:
        res = step([np.array([[i]], np.int32)] + states, training=False)
        k_logits = np.asarray(res[0])[:, -1, :]
        states = [np.asarray(r) for r in res[1:]]
        n_logits, np_state = gen.stepper.step(np.array([i]), np_state)
        worst = max(worst, float(np.max(np.abs(k_logits - n_logits))))
    return worst

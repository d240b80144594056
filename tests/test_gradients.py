"""Gradients: the vanishing curve's slope where it is known, its cells' steps against finite differences, and
the norm recorded in training against one computed independently with a GradientTape."""
import numpy as np
import pytest

from textgen.config import ModelConfig
from textgen.gradients import loss_gradients, vanishing_curve
from textgen.stepper import Stepper

N, T, E, H, V = 3, 12, 4, 5, 6


def _weights(cell, rng, scale=0.5):
    g = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    bias = rng.normal(0, scale, (2, g * H) if cell == "gru" else (g * H,))
    return {"embedding": rng.normal(0, 1, (V, E)), "rnn_0/kernel": rng.normal(0, scale, (E, g * H)),
            "rnn_0/recurrent": rng.normal(0, scale, (H, g * H)), "rnn_0/bias": bias,
            "logits/kernel": rng.normal(0, 1, (H, V)), "logits/bias": rng.normal(0, 1, (V,))}


def test_a_linear_rnn_with_recurrent_a_times_identity_falls_by_a_per_step():
    # Zero inputs keep h at 0, where tanh' is exactly 1: dL/dh_{T-k} = a^k dL/dh_T.
    a = 0.7
    w = _weights("rnn", np.random.default_rng(0))
    w.update({"embedding": np.zeros((V, E)), "rnn_0/bias": np.zeros(H), "rnn_0/recurrent": a * np.eye(H)})
    st = Stepper(ModelConfig(cell="rnn", layers=1, units=H, embedding=E, vocab_size=V), w)
    ids = np.random.default_rng(1).integers(0, V, 200)
    curve = vanishing_curve(st, ids, max_k=30, windows=8)
    np.testing.assert_allclose(curve.norms[1:] / curve.norms[:-1], a, rtol=1e-5)
    assert curve.ratio_per_step() == pytest.approx(a, rel=1e-5)
    assert curve.norms[30] == pytest.approx(curve.norms[0] * a ** 30, rel=1e-4)


def _loss_from(st, ids, target, t0, state):
    """Cross-entropy at the last step when the top (only) layer's state after token t0 is `state`."""
    xin = st.input_table[ids]
    _, r, _, b_rec = st.layers[0]
    s = state
    for t in range(t0 + 1, ids.shape[1]):
        s = st._cell(xin[:, t], s, r, b_rec)
    h = s[0] if isinstance(s, tuple) else s
    z = (h @ st.out_w + st.out_b).astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    return -(z[np.arange(len(target)), target] - np.log(np.exp(z).sum(axis=1)))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_each_cells_backward_step_matches_finite_differences(cell):
    rng = np.random.default_rng(2)
    st = Stepper(ModelConfig(cell=cell, layers=1, units=H, embedding=E, vocab_size=V), _weights(cell, rng))
    ids, target = rng.integers(0, V, (N, T + 1)), rng.integers(0, V, N)
    g = loss_gradients(st, ids, target, max_k=T)
    tr = st.trace(ids)
    for k in (1, 4, T - 1):
        t0 = T - k
        h = tr.hidden[0][:, t0].astype(np.float64)
        v = rng.normal(0, 1, h.shape)
        eps = 1e-3

        def state(hh):
            hh = hh.astype(np.float32)
            return (hh, tr.cells[0][:, t0]) if cell == "lstm" else hh

        fd = (_loss_from(st, ids, target, t0, state(h + eps * v)) -
              _loss_from(st, ids, target, t0, state(h - eps * v))) / (2 * eps)
        np.testing.assert_allclose(fd, (g[:, k] * v).sum(axis=1), rtol=2e-2, atol=2e-4)


def test_a_text_too_short_for_the_curve_is_refused():
    st = Stepper(ModelConfig(cell="rnn", layers=1, units=H, embedding=E, vocab_size=V),
                 _weights("rnn", np.random.default_rng(0)))
    with pytest.raises(ValueError, match="too short"):
        vanishing_curve(st, np.zeros(20, int), max_k=30)


def _tape_norm(cfg, x, y, loss_fn):
    """The global norm of a fresh seed-5 model's gradients on (x, y), densified and summed in float64."""
    import tensorflow as tf

    from textgen.models import build_model

    ref = build_model(cfg, seed=5)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, ref(x, training=True))
    grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, ref.trainable_weights)]
    return float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)))


def _batch(rng):
    # 36 ids from a vocabulary of 6: ids repeat, so the embedding's sparse gradient has rows to sum.
    return rng.integers(0, V, (N, T)).astype("int32"), rng.integers(0, V, (N, T)).astype("int32")


def test_recorded_gradient_norm_equals_an_independent_tape_and_flags_clipping():
    import keras

    from textgen.models import build_model, record_gradient_norms

    cfg = ModelConfig(cell="lstm", layers=1, units=H, embedding=E, vocab_size=V)
    x, y = _batch(np.random.default_rng(3))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = _tape_norm(cfg, x, y, loss_fn)

    for clipnorm, flag in ((expected * 1.01, 0.0), (expected * 0.99, 1.0), (None, 0.0)):
        net = build_model(cfg, seed=5)
        record_gradient_norms(net)
        net.compile(optimizer=keras.optimizers.Adam(1e-2, global_clipnorm=clipnorm), loss=loss_fn)
        logs = net.train_on_batch(x, y, return_dict=True)
        assert float(logs["grad_norm"]) == pytest.approx(expected, rel=1e-5)
        assert float(logs["clipped"]) == flag


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_a_gradient_over_the_limit_is_scaled_to_exactly_the_limit_in_global_norm(cell):
    # Plain SGD at rate 1 moves the weights by minus the clipped gradient: its global norm is the step's.
    import keras

    from textgen.models import build_model, record_gradient_norms

    cfg = ModelConfig(cell=cell, layers=1, units=H, embedding=E, vocab_size=V)
    x, y = _batch(np.random.default_rng(4))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    norm = _tape_norm(cfg, x, y, loss_fn)
    for limit in (norm / 4, norm * 2):
        net = build_model(cfg, seed=5)
        record_gradient_norms(net)
        net.compile(optimizer=keras.optimizers.SGD(1.0, global_clipnorm=limit), loss=loss_fn)
        before = [w.astype(np.float64) for w in net.get_weights()]
        logs = net.train_on_batch(x, y, return_dict=True)
        step = np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(net.get_weights(), before, strict=True)))
        assert float(logs["grad_norm"]) == pytest.approx(norm, rel=1e-5)
        assert step == pytest.approx(min(limit, norm), rel=1e-4)   # over the limit: cut to it; under: untouched
        assert float(logs["clipped"]) == float(norm > limit)


def test_training_clips_by_the_global_norm():
    from textgen.config import TrainConfig
    from textgen.fit import make_optimizer

    for wd in (0.0, 0.01):
        opt = make_optimizer(TrainConfig(clipnorm=0.5, weight_decay=wd))
        assert (opt.global_clipnorm, opt.clipnorm) == (0.5, None)
    assert make_optimizer(TrainConfig(clipnorm=0.0)).global_clipnorm is None


def test_the_norms_are_described_in_one_sentence():
    from textgen.gradients import describe_norms

    steps = list(range(10, 110, 10))
    assert describe_norms(steps, [1.0] * 5 + [50.0] * 5, [0] * 5 + [10] * 5, 5.0) == (
        "50 of 100 batches were clipped (threshold 5). The gradient norm explodes: it grew from about 1 to 50.")
    assert describe_norms(steps, [2.0] * 5 + [0.01] * 5, [0] * 10, 0.0) == ("Clipping is off for this run. The "
        "gradient norm collapses: it fell from about 2 to 0.01, so learning all but stops.")
    assert describe_norms(steps, [1.0] * 9 + [None], [0] * 10, 1.0) == ("0 of 100 batches were clipped (threshold 1). "
        "The gradient norm blew up to infinity or NaN at step 100: the loss went with it.")
    assert describe_norms(steps, [1.0] * 10, [3] + [0] * 9, 1.0) == (
        "3 of 100 batches were clipped (threshold 1). The gradient norm stays between about 1 and 1.")
    assert describe_norms([], [], [], 1.0) == ""


def test_a_norm_that_rises_or_a_diverged_run_is_not_said_to_stay():
    from textgen.gradients import describe_norms

    steps = list(range(1, 11))
    sgd = [2.6, 2.8, 4.8, 7.0, 16.0, 13.3, 9.0, 6.0, 5.0, 4.8]   # peaks at 6x its start, then falls back
    assert describe_norms(steps, sgd, [0] * 10, 0.0) == (
        "Clipping is off for this run. The gradient norm rises from about 2.7 to a peak of 16 at step 5.")
    assert describe_norms(steps, sgd, [0] * 10, 0.0, diverged=True) == (
        "Clipping is off for this run. "
        "The gradient norm rose from about 2.7 to a peak of 16 at step 5, and the run diverged.")
    assert describe_norms(steps, [2.0] * 10, [0] * 10, 0.0, diverged=True) == (
        "Clipping is off for this run. The run diverged while its gradient norm stayed between about 2 and 2.")
    assert describe_norms(steps, [2.0] * 9 + [4.0], [0] * 10, 0.0) == (   # under 3x: still a steady norm
        "Clipping is off for this run. The gradient norm stays between about 2 and 3.1.")


def test_the_norms_read_in_chinese_sentence_by_sentence():
    """Each sentence finds its own template: the reading's last number does not swallow the clipping sentence."""
    from pages import i18n
    from textgen.gradients import describe_norms

    steps = list(range(10, 110, 10))
    assert i18n.error_text(describe_norms(steps, [1.0] * 5 + [50.0] * 5, [0] * 5 + [10] * 5, 5.0), "zh") == (
        "100 个批次中有 50 个被裁剪（阈值 5）。梯度爆炸：梯度范数从约 1 涨到了 50。")
    assert i18n.error_text(describe_norms(steps[:1], [4.76], [0], 0.0), "zh") == (
        "这次训练没有开启梯度裁剪。只记录到一个梯度范数：第 10 步的 4.76。")


def test_a_single_norm_is_described_not_called_missing():
    from textgen.gradients import describe_norms

    assert describe_norms([7], [4.76], [1], 0.5) == (
        "1 of 7 batches were clipped (threshold 0.5). One gradient norm was recorded: 4.76 at step 7.")


def test_an_older_registry_gains_the_gradient_columns(tmp_path):
    import sqlite3

    from textgen.runs import Registry

    (tmp_path / "ws").mkdir()
    db = sqlite3.connect(tmp_path / "ws" / "registry.sqlite")
    db.execute("CREATE TABLE metrics (run_id TEXT NOT NULL, kind TEXT NOT NULL, epoch INTEGER, step INTEGER, "
               "elapsed REAL, loss REAL, val_loss REAL, bpc REAL, val_bpc REAL, chars_per_sec REAL, lr REAL)")
    db.execute("INSERT INTO metrics (run_id, kind, step, loss) VALUES ('20260101-120000-a1b2c3', 'batch', 1, 2.5)")
    db.commit()
    db.close()
    reg = Registry(tmp_path / "ws")
    reg.add_metrics("20260101-120000-a1b2c3", [{"step": 2, "loss": 2.0, "grad_norm": 3.5, "clipped": 4}])
    rows = reg.metrics("20260101-120000-a1b2c3", "batch")
    assert [(r["step"], r["loss"], r["grad_norm"], r["clipped"]) for r in rows] == [(1, 2.5, None, None),
                                                                                    (2, 2.0, 3.5, 4)]
    Registry(tmp_path / "ws")   # opening it again adds nothing twice


def test_training_events_carry_the_norms_and_clipped_counts(tmp_path, sample_text, monkeypatch):
    import textgen.train as train_mod
    from textgen import ModelConfig as M, TrainConfig, load_corpus

    events, real = [], train_mod._recorder

    def spy(reg, run_id):
        record = real(reg, run_id)
        return lambda ev: (events.append(ev), record(ev))

    monkeypatch.setattr(train_mod, "_recorder", spy)
    train_mod.train(load_corpus(sample_text[:3000]), M(cell="rnn", layers=1, units=8, embedding=4),
                    TrainConfig(seq_len=12, batch_size=4, epochs=1, lr=1e-2, seed=3, sample_length=0, clipnorm=0.05),
                    workspace=tmp_path)
    batches = [e for e in events if e["type"] == "batch"]
    assert batches and all(e["grad_norm"] > 0 for e in batches)
    steps = [0] + [e["global_step"] for e in batches]
    # A threshold this low clips every batch: each event counts all the batches since the one before.
    assert [e["clipped"] for e in batches] == [b - a for a, b in zip(steps, steps[1:])]


def test_the_worker_stores_the_vanishing_curve_the_numpy_function_gives(tmp_path, sample_text):
    import json

    from textgen import ModelConfig as M, TrainConfig, load_corpus
    from textgen import atomic
    from textgen.artifacts import open_run_dir
    from textgen.data import split_encoded
    from textgen.gradients import CURVE_FILE, CURVE_WINDOWS, read_curve
    from textgen.train import train

    cfg = TrainConfig(seq_len=12, batch_size=4, epochs=1, lr=1e-2, seed=3, sample_length=0)
    result = train(load_corpus(sample_text[:3000]), M(cell="gru", layers=1, units=8, embedding=4), cfg,
                   workspace=tmp_path)
    saved = json.loads((result.run_dir / CURVE_FILE).read_text("utf-8"))
    run = open_run_dir(result.run_dir)
    _, val = split_encoded(run.vocab, run.corpus_path.read_text("utf-8"), cfg.val_fraction)
    expected = vanishing_curve(Stepper(run.model, atomic.read_npz(result.run_dir / "weights.npz")), val,
                               min(100, len(val) - 3), CURVE_WINDOWS, cfg.seed)
    assert saved["windows"] == CURVE_WINDOWS and len(saved["norms"]) == 101
    np.testing.assert_array_equal(np.array(saved["norms"]), expected.norms)   # JSON keeps a float64 exactly
    np.testing.assert_array_equal(read_curve(result.run_dir).norms, expected.norms)
    assert not [p.name for p in result.run_dir.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    assert read_curve(tmp_path / "nowhere") is None


def test_a_run_without_its_text_says_so_without_its_id():
    from textgen import gradients
    from types import SimpleNamespace

    with pytest.raises(ValueError) as e:
        gradients.run_curve(SimpleNamespace(id="20260101-120000-a1b2c3", corpus_path=None))
    assert str(e.value) == "This run keeps no copy of its text to measure on."

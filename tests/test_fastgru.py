"""Inkwell's GRU kernel: the same function and gradient as Keras' GRU, used only where it applies."""
import dataclasses
import json

import numpy as np
import pytest

from textgen import atomic, kernels
from textgen.config import ModelConfig, TrainConfig
from textgen.corpus import load_corpus
from textgen.errors import ConfigError
from textgen.models import build_model
from textgen.train import train


def _loss_and_grads(model, x, y):
    import keras
    import tensorflow as tf

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        logits = model(x)
        value = loss(y, logits)
    grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(value, model.trainable_variables)]
    return logits.numpy(), float(value), grads


def _batch(vocab, batch=3, steps=7, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, vocab, (batch, steps)).astype("int32"),
            rng.integers(0, vocab, (batch, steps)).astype("int32"))


@pytest.mark.parametrize("layers", [1, 2])
def test_float32_kernel_matches_keras_gru_outputs_and_gradients(layers):
    cfg = ModelConfig(vocab_size=11, cell="gru", layers=layers, units=6, embedding=5)
    ref, fast = build_model(cfg, seed=4), build_model(cfg, seed=4, gru_kernel="float32")
    for a, b in zip(ref.get_weights(), fast.get_weights(), strict=True):   # same start for the seed
        np.testing.assert_array_equal(a, b)
    # non-zero biases, so every term of the gradient is exercised
    w = [v + 0.1 * np.random.default_rng(i).standard_normal(v.shape).astype("float32")
         for i, v in enumerate(ref.get_weights())]
    ref.set_weights(w)
    fast.set_weights(w)
    x, y = _batch(11)
    lr, vr, gr = _loss_and_grads(ref, x, y)
    lf, vf, gf = _loss_and_grads(fast, x, y)
    np.testing.assert_allclose(lf, lr, rtol=1e-5, atol=1e-6)
    assert vf == pytest.approx(vr, rel=1e-6)
    assert len(gf) == len(gr) == 2 + 3 * layers + 2 - 1   # embedding, (kernel, recurrent, bias) per layer, dense x2
    for a, b in zip(gr, gf, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_bfloat16_kernel_is_close_to_keras_gru():
    cfg = ModelConfig(vocab_size=20, cell="gru", layers=1, units=32, embedding=8)
    ref, fast = build_model(cfg, seed=1), build_model(cfg, seed=1, gru_kernel="bfloat16")
    w = [v + 0.1 * np.random.default_rng(i).standard_normal(v.shape).astype("float32")
         for i, v in enumerate(ref.get_weights())]
    ref.set_weights(w)
    fast.set_weights(w)
    x, y = _batch(20, batch=4, steps=20)
    lr, vr, gr = _loss_and_grads(ref, x, y)
    lf, vf, gf = _loss_and_grads(fast, x, y)
    assert vf == pytest.approx(vr, rel=1e-3)
    assert np.abs(lf - lr).max() > 0      # it really is a different product
    # bfloat16 keeps about 3 significant digits: each gate's block of each recurrent-layer gradient
    # (kernel, recurrent kernel, both biases) and every other gradient within 2% of its own scale
    blocks = [g for g in gr[:1] + gr[4:]] + [b for g in gr[1:4] for b in np.split(g, 3, axis=-1)]
    fast_blocks = [g for g in gf[:1] + gf[4:]] + [b for g in gf[1:4] for b in np.split(g, 3, axis=-1)]
    for a, b in zip(blocks, fast_blocks, strict=True):
        assert np.abs(a).max() > 0
        assert np.abs(a - b).max() <= 2e-2 * np.abs(a).max()
    # the output layer's product is in bfloat16 too (its logits differ), its bias and logits in float32
    x3 = np.random.default_rng(3).standard_normal((2, 5, 32)).astype("float32")
    head_ref, head = ref.get_layer("logits"), fast.get_layer("logits")
    out = head(x3).numpy()
    assert out.dtype == np.float32 and out.shape == (2, 5, 20)
    assert np.abs(out - head_ref(x3).numpy()).max() > 0
    np.testing.assert_allclose(out, head_ref(x3).numpy(), atol=2e-2 * np.abs(out).max())
    assert [w.dtype for w in head.weights] == ["float32", "float32"]


def test_bfloat16_build_starts_from_keras_weights():
    cfg = ModelConfig(vocab_size=20, cell="gru", layers=2, units=16, embedding=8, dropout=0.2)
    ref, fast = build_model(cfg, seed=4), build_model(cfg, seed=4, gru_kernel="bfloat16")
    assert [w.shape for w in fast.get_weights()] == [w.shape for w in ref.get_weights()]
    for a, b in zip(ref.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fast_kernel_refuses_other_cells_and_stateful_models():
    with pytest.raises(ValueError, match="resolved gru_kernel"):
        build_model(ModelConfig(vocab_size=5, cell="gru", layers=1, units=4, embedding=3), gru_kernel="auto")
    with pytest.raises(ValueError):
        build_model(ModelConfig(vocab_size=5, cell="lstm", layers=1, units=4, embedding=3), gru_kernel="float32")
    with pytest.raises(ValueError):
        build_model(ModelConfig(vocab_size=5, cell="gru", layers=1, units=4, embedding=3),
                    stateful_batch=2, gru_kernel="float32")


def test_bad_kernel_name_is_refused():
    with pytest.raises(ConfigError, match="gru_kernel must be one of auto, keras, float32, bfloat16"):
        TrainConfig(gru_kernel="fast").validate()


def test_training_with_the_float32_kernel_equals_training_with_keras_gru(tmp_path, sample_text):
    model = ModelConfig(cell="gru", layers=2, units=8, embedding=4)
    base = dict(seq_len=12, batch_size=4, epochs=1, lr=1e-2, seed=5, sample_length=0)
    events = []
    a = train(load_corpus(sample_text[:2000]), model, TrainConfig(**base, gru_kernel="keras"),
              workspace=tmp_path / "a")
    b = train(load_corpus(sample_text[:2000]), model, TrainConfig(**base, gru_kernel="float32"),
              workspace=tmp_path / "b", on_event=events.append)
    assert [e["gru_kernel"] for e in events if e["type"] == "start"] == ["float32"]
    assert a.run_dir.joinpath("config.json").read_text().count('"gru_kernel": "keras"') == 2   # asked and used
    assert json.loads(b.run_dir.joinpath("config.json").read_text())["meta"]["gru_kernel"] == "float32"
    wa, wb = atomic.read_npz(a.run_dir / "weights.npz"), atomic.read_npz(b.run_dir / "weights.npz")
    assert sorted(wa) == sorted(wb)
    for k in wa:
        np.testing.assert_allclose(wb[k], wa[k], rtol=1e-4, atol=1e-5)
    assert b.best_val_bpc == pytest.approx(a.best_val_bpc, rel=1e-4)


def test_an_explicit_kernel_that_does_not_apply_is_reported(tmp_path, sample_text):
    events = []
    train(load_corpus(sample_text[:2000]), ModelConfig(cell="lstm", layers=1, units=8, embedding=4),
          TrainConfig(seq_len=12, batch_size=4, epochs=1, sample_length=0, gru_kernel="bfloat16"),
          workspace=tmp_path, on_event=events.append)
    assert [e["gru_kernel"] for e in events if e["type"] == "start"] == ["keras"]
    notes = [e["message"] for e in events if e["type"] == "note"]
    assert any("GRU kernel does not apply" in m for m in notes)


def test_weight_drop_without_the_kernel_is_reported(tmp_path, sample_text):
    events = []
    train(load_corpus(sample_text[:2000]), ModelConfig(cell="gru", layers=1, units=8, embedding=4, weight_drop=0.3),
          TrainConfig(seq_len=12, batch_size=4, epochs=1, sample_length=0, carry_state=True),
          workspace=tmp_path, on_event=events.append)
    assert [e["gru_kernel"] for e in events if e["type"] == "start"] == ["keras"]
    notes = [e["message"] for e in events if e["type"] == "note"]
    assert any("Recurrent weight dropout needs Inkwell's GRU kernel" in m for m in notes)


def _recorded_dropout(monkeypatch):
    """Wrap keras.random.dropout so a test sees the exact dropped recurrent kernel the layer used."""
    import keras

    seen, real = [], keras.random.dropout

    def spy(x, rate, *args, **kwargs):
        out = real(x, rate, *args, **kwargs)
        seen.append(np.asarray(out))
        return out

    monkeypatch.setattr(keras.random, "dropout", spy)
    return seen


def test_weight_drop_trains_on_a_masked_recurrent_kernel_and_writes_with_the_whole_one(monkeypatch):
    import keras
    import tensorflow as tf

    rate = 0.5
    cfg = ModelConfig(vocab_size=11, cell="gru", layers=1, units=8, embedding=5, weight_drop=rate)
    plain = ModelConfig(vocab_size=11, cell="gru", layers=1, units=8, embedding=5)
    fast, ref = build_model(cfg, seed=3, gru_kernel="float32"), build_model(plain, seed=3)
    w = [v + 0.1 * np.random.default_rng(i).standard_normal(v.shape).astype("float32")
         for i, v in enumerate(ref.get_weights())]
    fast.set_weights(w)
    ref.set_weights(w)
    assert len(fast.get_weights()) == len(ref.get_weights())   # the mask's seed is not a weight: checkpoints are unchanged
    x, y = _batch(11)
    # Outside training (validation, saving, writing) the whole kernel is used: exactly Keras' GRU.
    np.testing.assert_allclose(fast(x, training=False).numpy(), ref(x).numpy(), rtol=1e-5, atol=1e-6)

    seen = _recorded_dropout(monkeypatch)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        out = fast(x, training=True)
        value = loss(y, out)
    recurrent = fast.get_layer("rnn_0").recurrent_kernel
    grad = tf.convert_to_tensor(tape.gradient(value, recurrent)).numpy()
    assert len(seen) == 1
    U, dropped = np.asarray(recurrent.numpy()), seen[0]
    kept = dropped != 0
    # each entry is dropped or scaled up by 1 / (1 - rate), and about that share is dropped
    np.testing.assert_allclose(dropped[kept], U[kept] / (1 - rate), rtol=1e-6)
    assert 0.35 < 1 - kept.mean() < 0.65
    # the training output is Keras' GRU run with the dropped kernel...
    ref_w = list(w)
    ref_w[2] = dropped
    ref.set_weights(ref_w)
    np.testing.assert_allclose(out.numpy(), ref(x).numpy(), rtol=1e-5, atol=1e-6)
    # ... and a dropped weight gets no gradient, while the kept ones do
    assert np.all(grad[~kept] == 0)
    assert np.count_nonzero(grad[kept]) > 0.9 * kept.sum()
    # a new training step draws a new mask
    fast(x, training=True)
    assert len(seen) == 2 and not np.array_equal(seen[0] != 0, seen[1] != 0)


def test_weight_drop_is_for_grus_and_takes_inkwells_kernel(monkeypatch):
    with pytest.raises(ConfigError, match="weight_drop .* GRU models only"):
        ModelConfig(cell="lstm", weight_drop=0.2).validate()
    with pytest.raises(ConfigError, match="weight_drop must be between 0 and 0.8, not 0.9"):
        ModelConfig(cell="gru", weight_drop=0.9).validate()
    monkeypatch.setattr(kernels, "cpu_has_bf16_matmul", lambda: False)
    monkeypatch.setattr(kernels, "_gpu_here", lambda: False)
    assert kernels.resolve("auto", "gru", 100) == "keras"
    assert kernels.resolve("auto", "gru", 100, weight_drop=0.3) == "float32"   # only Inkwell's kernel drops weights
    assert kernels.resolve("keras", "gru", 100, weight_drop=0.3) == "keras"    # asked for by name: honoured
    monkeypatch.setattr(kernels, "_gpu_here", lambda: True)
    assert kernels.resolve("auto", "gru", 100, weight_drop=0.3) == "keras"     # a GPU keeps cuDNN's GRU


def test_weight_drop_reaches_training_and_is_saved(tmp_path):
    text = "The quick brown fox jumps over the lazy dog, and the dog sleeps on. " * 60
    model = ModelConfig(cell="gru", layers=1, units=16, embedding=8)
    cfg = TrainConfig(seq_len=20, batch_size=8, epochs=1, lr=0.01, sample_length=0, gru_kernel="float32")
    plain = train(load_corpus(text), model, cfg, workspace=tmp_path / "a")
    again = train(load_corpus(text), model, cfg, workspace=tmp_path / "c")
    dropped = train(load_corpus(text), dataclasses.replace(model, weight_drop=0.5), cfg,
                    workspace=tmp_path / "b")
    saved = json.loads((dropped.run_dir / "config.json").read_text())
    assert saved["model"]["weight_drop"] == 0.5
    a = atomic.read_npz(plain.run_dir / "weights.npz")["rnn_0/recurrent"]
    b = atomic.read_npz(dropped.run_dir / "weights.npz")["rnn_0/recurrent"]
    np.testing.assert_array_equal(a, atomic.read_npz(again.run_dir / "weights.npz")["rnn_0/recurrent"])   # a rerun is exact
    assert a.shape == b.shape and not np.allclose(a, b)   # same seed, same data: only the masks differ

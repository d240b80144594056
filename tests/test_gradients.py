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


def test_recorded_gradient_norm_equals_an_independent_tape_and_flags_clipping():
    import keras
    import tensorflow as tf

    from textgen.models import build_model, record_gradient_norms

    cfg = ModelConfig(cell="lstm", layers=1, units=H, embedding=E, vocab_size=V)
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, V, (N, T)).astype("int32"), rng.integers(0, V, (N, T)).astype("int32")
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ref = build_model(cfg, seed=5)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, ref(x, training=True))
    grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, ref.trainable_weights)]
    expected = float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)))
    worst = max(float(np.linalg.norm(g)) for g in grads)

    for clipnorm, flag in ((worst * 1.01, 0.0), (worst * 0.99, 1.0), (None, 0.0)):
        net = build_model(cfg, seed=5)
        record_gradient_norms(net)
        net.compile(optimizer=keras.optimizers.Adam(1e-2, clipnorm=clipnorm), loss=loss_fn)
        logs = net.train_on_batch(x, y, return_dict=True)
        assert float(logs["grad_norm"]) == pytest.approx(expected, rel=1e-5)
        assert float(logs["clipped"]) == flag
        plain = build_model(cfg, seed=5)   # the step itself is Keras' own: the same weights after it
        plain.compile(optimizer=keras.optimizers.Adam(1e-2, clipnorm=clipnorm), loss=loss_fn)
        plain.train_on_batch(x, y)
        for a, b in zip(net.get_weights(), plain.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)

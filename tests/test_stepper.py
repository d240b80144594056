"""The NumPy stepper must agree with the Keras model on the same weights, for every cell and depth."""
import numpy as np
import pytest

from textgen.config import ModelConfig
from textgen.models import build_model, export_weights, flops_per_token, param_count
from textgen.stepper import Stepper

N, T, V = 2, 7, 6   # batch, time, vocab (tiny, torch-rnn style)


def _model(cell: str, layers: int):
    cfg = ModelConfig(vocab_size=V, cell=cell, layers=layers, units=5, embedding=4)
    model = build_model(cfg, seed=3)
    rng = np.random.default_rng(0)
    for w in model.weights:  # non-zero biases and larger weights so every term matters
        w.assign(rng.normal(0, 0.5, size=w.shape).astype("float32"))
    return cfg, model


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_stepper_matches_keras_logits(cell, layers):
    cfg, model = _model(cell, layers)
    ids = np.random.default_rng(1).integers(0, V, size=(N, T)).astype("int32")
    keras_logits = np.asarray(model(ids))                                     # (N, T, V)
    numpy_logits = Stepper(cfg, export_weights(model, cfg)).sequence_logits(ids)
    np.testing.assert_allclose(numpy_logits, keras_logits, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_carried_state_equals_one_pass(cell):
    """Feeding a prompt then stepping gives the same logits as running the whole sequence at once."""
    cfg, model = _model(cell, 2)
    st = Stepper(cfg, export_weights(model, cfg))
    ids = np.random.default_rng(2).integers(0, V, size=(N, T)).astype("int32")
    _, state = st.feed(ids[:, :4], st.initial_state(N))
    logits, _ = st.step(ids[:, 4], state)
    np.testing.assert_allclose(logits, st.sequence_logits(ids[:, :5])[:, -1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stateful_model_carries_state_between_calls(cell):
    """Carried-state training: a stateful twin fed a sequence in two calls gives the one-pass logits."""
    cfg, model = _model(cell, 2)
    twin = build_model(cfg, seed=3, stateful_batch=N)
    twin.set_weights(model.get_weights())
    ids = np.random.default_rng(4).integers(0, V, size=(N, T)).astype("int32")
    whole = np.asarray(model(ids))
    first, second = np.asarray(twin(ids[:, :3])), np.asarray(twin(ids[:, 3:]))
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-5, atol=1e-5)
    for layer in twin.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()
    np.testing.assert_allclose(np.asarray(twin(ids[:, 3:])), np.asarray(model(ids[:, 3:])), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 3])
def test_param_count_matches_keras(cell, layers):
    cfg, model = _model(cell, layers)
    assert param_count(cfg) == model.count_params()


def test_flops_per_token_by_hand():
    # GRU 1x5, emb 4, vocab 6: 2 * 3 * 5 * (4 + 5) + 2 * 5 * 6
    cfg = ModelConfig(vocab_size=6, cell="gru", layers=1, units=5, embedding=4)
    assert flops_per_token(cfg) == 270 + 60


# -- what the stepper exposes per step (insight reads these) ---------------------------------------
def _keras_states(model, cfg, ids):
    """Keras' own per-step values: h of each layer (its sequence output) and, for an LSTM, c after each
    prefix (a return_state twin of the layer run on ids[:, :t])."""
    import keras

    x = model.get_layer("embedding")(ids)
    hidden, cells = [], []
    for i in range(cfg.layers):
        layer = model.get_layer(f"rnn_{i}")
        h = np.asarray(layer(x))                                                  # (N, T, units)
        hidden.append(h)
        if cfg.cell == "lstm":
            twin = keras.layers.LSTM(cfg.units, return_state=True)
            twin(x[:, :1])
            twin.set_weights(layer.get_weights())
            cells.append(np.stack([np.asarray(twin(x[:, :t])[2]) for t in range(1, ids.shape[1] + 1)], axis=1))
        x = h
    return hidden, cells


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_trace_probabilities_and_states_match_keras(cell, layers):
    cfg, model = _model(cell, layers)
    ids = np.random.default_rng(6).integers(0, V, size=(N, T)).astype("int32")
    logits = np.asarray(model(ids)).astype(np.float64)                            # (N, T, V)
    keras_probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    trace = Stepper(cfg, export_weights(model, cfg)).trace(ids)
    np.testing.assert_allclose(trace.probs, keras_probs, atol=1e-4)
    np.testing.assert_allclose(trace.probs.sum(-1), 1.0, atol=1e-9)
    hidden, cells = _keras_states(model, cfg, ids)
    assert len(trace.hidden) == layers
    for ours, theirs in zip(trace.hidden, hidden):
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    if cell == "lstm":
        assert len(trace.cells) == layers
        for ours, theirs in zip(trace.cells, cells):
            np.testing.assert_allclose(ours, theirs, atol=1e-4)
            assert np.abs(ours).max() > 0.1                                       # the test sees real values
    else:
        assert trace.cells is None


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_trace_agrees_with_stepping_and_carries_its_state(cell):
    cfg, model = _model(cell, 2)
    st = Stepper(cfg, export_weights(model, cfg))
    ids = np.random.default_rng(7).integers(0, V, size=(N, T)).astype("int32")
    whole = st.trace(ids)
    np.testing.assert_allclose(whole.logits, st.sequence_logits(ids), rtol=1e-5, atol=1e-5)
    first = st.trace(ids[:, :3])
    rest = st.trace(ids[:, 3:], first.state)                                      # continues from the state
    np.testing.assert_allclose(rest.logits, whole.logits[:, 3:], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(st.top_logits(whole.state), whole.logits[:, -1], rtol=1e-5, atol=1e-5)
    logits, state = st.step(ids[:, 0], st.initial_state(N))
    assert np.array_equal(st.top_logits(state), logits)                           # exactly what step returned


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_feed_gives_steps_states_and_last_logits_bit_for_bit(cell):
    """feed skips the logits of all but the last token; what it returns is exactly what stepping gives."""
    cfg, model = _model(cell, 2)
    st = Stepper(cfg, export_weights(model, cfg))
    ids = np.random.default_rng(8).integers(0, V, size=(1, T)).astype("int32")
    state = st.initial_state(1)
    for t in range(T):
        logits, state = st.step(ids[:, t], state)
    fed_logits, fed_state = st.feed(ids, st.initial_state(1))
    assert np.array_equal(fed_logits, logits)
    for a, b in zip(fed_state, state):
        assert all(np.array_equal(x, y) for x, y in zip(a, b)) if isinstance(a, tuple) else np.array_equal(a, b)
    assert st.feed(ids[:, :0], st.initial_state(1))[0] is None


def _random_stepper(cell, layers, units=48, emb=16, vocab=40, seed=2):
    g = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(seed)
    shapes = {"embedding": (vocab, emb), "logits/kernel": (units, vocab), "logits/bias": (vocab,)}
    for i in range(layers):
        shapes |= {f"rnn_{i}/kernel": (emb if i == 0 else units, g * units), f"rnn_{i}/recurrent": (units, g * units),
                   f"rnn_{i}/bias": (2, g * units) if cell == "gru" else (g * units,)}
    cfg = ModelConfig(vocab_size=vocab, cell=cell, layers=layers, units=units, embedding=emb)
    return Stepper(cfg, {k: rng.normal(0, 0.3, s).astype(np.float32) for k, s in shapes.items()})


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_walk_in_two_parts_equals_the_whole_walk_bit_for_bit(cell):
    from textgen.stepper import BLOCK

    st = _random_stepper(cell, 2)
    ids = np.random.default_rng(4).integers(0, 40, size=(1, 2 * BLOCK + 23))
    cut = BLOCK + 6                                                    # inside a block, so the products differ
    whole = st.walk(ids)
    first = st.walk(ids[:, :cut])
    rest = st.walk(ids[:, cut:], first.state, offset=cut)
    assert whole.logits is None
    for a, b, c in zip(whole.hidden, first.hidden, rest.hidden):
        assert np.array_equal(a, np.concatenate([b, c], axis=1))
    top = whole.hidden[-1][0]
    assert np.array_equal(st.logits_of(top)[cut:], st.logits_of(top[cut:], offset=cut))
    np.testing.assert_allclose(st.logits_of(top), top @ st.out_w + st.out_b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(st.trace(ids).logits, st.sequence_logits(ids), rtol=1e-5, atol=1e-5)


def test_a_saturated_gru_gate_gives_its_limit_exactly_and_no_warning():
    """The GRU block applies a gate by dividing by 1 + exp(-x); far below zero that is inf: no overflow
    warning, and an update gate of 0 makes h the candidate, a reset gate of 0 drops the recurrent term."""
    import warnings

    st = _random_stepper("gru", 1, units=6, emb=3, vocab=9)
    k, r, b_in, b_rec = st.layers[0]
    b_rec[:12] = -500.0                                                # z and r: sigmoid(-500) = 0 to float32
    st._gru_cache.clear()
    ids = np.random.default_rng(5).integers(0, 9, size=(1, 11))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        walked = st.walk(ids)
    assert np.array_equal(walked.hidden[0][0], np.tanh(st.input_table[ids[0]][:, 12:]))
    stepped, state = [], st.initial_state(1)
    for t in range(ids.shape[1]):
        state = st._advance(ids[:, t], state)[1]
        stepped.append(state[0][0])
    np.testing.assert_allclose(walked.hidden[0][0], np.array(stepped), atol=1e-6)


def test_saturated_gates_stay_silent_and_both_loops_give_the_same_bits(monkeypatch):
    """Under np.errstate(over="raise") saturated gates still pass: their exp's overflow is the only silent one,
    whether one errstate spans the GRU loop (values far below overflow) or each step silences its exp alone."""
    import textgen.stepper as stepper

    st = _random_stepper("gru", 2, units=6, emb=3, vocab=9)
    for _, _, _, b_rec in st.layers:
        b_rec[:6] = -500.0                                             # z saturated at 0 in both layers
        b_rec[6:12] = 500.0                                            # r saturated at 1
    st._gru_cache.clear()
    ids = np.random.default_rng(6).integers(0, 9, size=(2, 9))
    with np.errstate(over="raise"):
        spanned = st.walk(ids)
        monkeypatch.setattr(stepper, "REACH_LIMIT", 0.0)               # every block takes the per-step loop
        stepped = st.walk(ids)
    for a, b in zip(spanned.hidden, stepped.hidden):
        assert np.array_equal(a, b)
    assert np.array_equal(spanned.state[1], stepped.state[1])


def test_an_overflow_outside_the_gates_is_not_silenced():
    """The candidate's sum overflowing float32 (input and recurrent terms each 3e38, the reset gate 1) is a real
    overflow: it raises under np.errstate(over="raise") and warns under the default, as NumPy does elsewhere."""
    import warnings

    u, emb, vocab = 4, 3, 5
    bias = np.zeros((2, 3 * u), np.float32)
    bias[0, u:2 * u] = 50.0                                            # the reset gate: 1 - exp(-50), i.e. 1.0
    bias[0, 2 * u:] = bias[1, 2 * u:] = 3e38                           # the candidate's two terms
    weights = {"embedding": np.ones((vocab, emb), np.float32), "rnn_0/kernel": np.zeros((emb, 3 * u), np.float32),
               "rnn_0/recurrent": np.zeros((u, 3 * u), np.float32), "rnn_0/bias": bias,
               "logits/kernel": np.zeros((u, vocab), np.float32), "logits/bias": np.zeros(vocab, np.float32)}
    st = Stepper(ModelConfig(vocab_size=vocab, cell="gru", layers=1, units=u, embedding=emb), weights)
    ids = np.array([[1, 2, 3]])
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow encountered in add"):
        st.walk(ids)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        walked = st.walk(ids)
    assert [str(w.message) for w in seen] == ["overflow encountered in add"] * 3   # once per step
    # tanh(inf) = 1 and z = 1/2: h halves its way to 1 each step
    assert np.array_equal(walked.hidden[0][0], np.repeat([[0.5], [0.75], [0.875]], u, axis=1).astype(np.float32))

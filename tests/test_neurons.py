"""The neuron explorer: features of a crafted text, and units ranked by how well they track them."""
import numpy as np

from textgen.neurons import FEATURES, rank_units, text_features


def test_features_of_a_crafted_text():
    f = text_features('ab "cd" (e)\nf')
    assert f["inside quotes"].tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert f["inside brackets"].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert f["just after a newline"].tolist() == [0] * 12 + [1]
    assert f["inside a word"].tolist() == [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert f["position in the line"][11] == 11 / 80 and f["position in the line"][12] == 0
    curly = text_features("a “b” c")["inside quotes"].tolist()
    assert curly == [0, 0, 1, 1, 1, 0, 0]


def test_the_unit_that_copies_a_feature_ranks_first():
    text = 'he said "yes" and (then) "no" again\n' * 4
    feats = text_features(text)
    rng = np.random.default_rng(0)
    acts = rng.normal(0, 1, (len(text), 6))
    acts[:, 4] = np.tanh(2 * feats["inside quotes"] - 1)       # unit 4 is the quote neuron
    acts[:, 1] = -feats["inside brackets"] + 0.01 * rng.normal(size=len(text))   # unit 1 anti-tracks brackets
    ranked = rank_units(acts, feats, top=3)
    assert set(ranked) == set(FEATURES)
    assert ranked["inside quotes"][0][0] == 4 and abs(ranked["inside quotes"][0][1] - 1.0) < 1e-9
    assert ranked["inside brackets"][0][0] == 1 and ranked["inside brackets"][0][1] < -0.99
    assert rank_units(acts, {"never": np.zeros(len(text))})["never"] == []


def _stepper(cell, rng, units=3, emb=2, vocab=5, layers=2):
    from textgen.config import ModelConfig
    from textgen.stepper import Stepper

    g = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    w = {"embedding": rng.normal(0, 1, (vocab, emb)), "logits/kernel": rng.normal(0, 1, (units, vocab)),
         "logits/bias": np.zeros(vocab)}
    for i in range(layers):
        w[f"rnn_{i}/kernel"] = rng.normal(0, 0.5, (emb if i == 0 else units, g * units))
        w[f"rnn_{i}/recurrent"] = rng.normal(0, 0.5, (units, g * units))
        w[f"rnn_{i}/bias"] = rng.normal(0, 0.5, (2, g * units) if cell == "gru" else (g * units,))
    return Stepper(ModelConfig(cell=cell, layers=layers, units=units, embedding=emb, vocab_size=vocab), w), w


def test_a_gate_with_only_a_bias_is_the_sigmoid_of_it():
    from textgen.neurons import keep_gates

    rng = np.random.default_rng(0)
    for cell, rows in (("gru", slice(0, 3)), ("lstm", slice(3, 6))):   # z is a GRU's first block, f an LSTM's second
        st, w = _stepper(cell, rng, layers=1)
        bias = np.array([-2.0, 0.0, 3.0])
        w["rnn_0/kernel"][:, rows] = 0.0
        w["rnn_0/recurrent"][:, rows] = 0.0
        if cell == "gru":
            w["rnn_0/bias"][:, rows] = [bias / 2, bias / 2]    # the input and recurrent biases add up
        else:
            w["rnn_0/bias"][rows] = bias
        st = type(st)(st.cfg, w)
        gates = keep_gates(st, np.array([0, 4, 1, 1, 3]))
        assert len(gates) == 1 and gates[0].shape == (5, 3)
        np.testing.assert_allclose(gates[0], np.broadcast_to(1 / (1 + np.exp(-bias)), (5, 3)), rtol=1e-6)


def test_the_gates_explain_the_states_the_stepper_computes():
    # A GRU's h_t is z*h_{t-1} + (1-z)*candidate: with the stepper's states and the gate, the candidate the
    # identity implies must be what the cell's own candidate formula gives, in every layer.
    from textgen.neurons import activations, keep_gates

    st, _ = _stepper("gru", np.random.default_rng(1))
    ids = np.array([0, 3, 2, 2, 4, 1, 0])
    acts, gates = activations(st, ids), keep_gates(st, ids)
    below = None
    for i, (k, r, b, b_rec) in enumerate(st.layers):
        h = acts[i].astype(np.float64)
        h_prev = np.vstack([np.zeros((1, 3)), h[:-1]])
        xin = st.input_table[ids] if i == 0 else below @ k + b
        rec = h_prev @ r + b_rec
        reset = 1 / (1 + np.exp(-(xin[:, 3:6] + rec[:, 3:6])))
        cand = np.tanh(xin[:, 6:] + reset * rec[:, 6:])
        np.testing.assert_allclose(h, gates[i] * h_prev + (1 - gates[i]) * cand, atol=1e-5)
        below = acts[i]
    assert keep_gates(_stepper("rnn", np.random.default_rng(2))[0], ids) == []

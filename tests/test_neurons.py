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

"""The memory task: its sequences, equal-parameter sizing (checked against Keras), a tiny run, the wording."""
import dataclasses

import numpy as np
import pytest

from textgen.errors import ConfigError
from textgen.experiments import (CELLS, CellResult, MemoryConfig, explain, falls_to_chance, param_count, sequences,
                                 train_cell, units_for)


def test_sequences_hold_the_answer_and_noise_never_does():
    cfg = MemoryConfig(symbols=3, noise=5)
    x, y = sequences(cfg, gap=7, n=500, rng=np.random.default_rng(0))
    assert x.shape == (500, 9) and y.shape == (500,)
    assert np.array_equal(x[:, 0], y)                       # the answer is recoverable: it is the first symbol
    assert set(np.unique(y)) == {0, 1, 2}
    noise = x[:, 1:-1]
    assert noise.min() >= 3 and noise.max() <= 7            # noise symbols are never answer symbols
    assert np.all(x[:, -1] == 8)                            # the query closes every sequence
    assert cfg.vocab == 9 and cfg.chance == pytest.approx(1 / 3)


@pytest.mark.parametrize("params", [3_000, 12_000, 60_000])
def test_cells_get_equal_parameter_counts(params):
    cfg = MemoryConfig(params=params)
    counts = {c: param_count(c, units_for(c, cfg), cfg) for c in CELLS}
    for cell, n in counts.items():
        assert abs(n - params) / params < 0.05, (cell, n)


def test_param_count_matches_keras():
    import keras

    cfg = MemoryConfig(params=5_000, symbols=3, noise=4, embedding=6)
    layers = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    for cell in CELLS:
        u = units_for(cell, cfg)
        net = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(cfg.vocab, cfg.embedding),
                                layers[cell](u), keras.layers.Dense(cfg.symbols)])
        assert net.count_params() == param_count(cell, u, cfg), cell


def test_a_tiny_experiment_runs():
    cfg = MemoryConfig(gaps=(2,), params=800, embedding=4, seconds=0.5, batch_size=16, test_size=64)
    r = train_cell("gru", 2, cfg)
    assert r.cell == "gru" and r.gap == 2 and r.steps >= 2
    assert r.accuracy in {i / 64 for i in range(65)}        # a share of the 64 held-out sequences
    assert r.params == param_count("gru", r.units, cfg)


def _r(cell, gap, acc):
    return CellResult(cell, gap, 10, 100, acc, 5, 1.0)


def test_where_each_cell_falls_to_chance_and_the_words():
    cfg = MemoryConfig(gaps=(5, 50, 200), symbols=4)
    rows = [_r("rnn", 5, 1.0), _r("rnn", 50, 0.3), _r("rnn", 200, 0.26),
            _r("lstm", 5, 1.0), _r("lstm", 50, 1.0), _r("lstm", 200, 0.9),
            _r("gru", 5, 1.0), _r("gru", 50, 0.9), _r("gru", 200, 0.27)]
    assert falls_to_chance(rows, cfg) == {"rnn": 50, "lstm": None, "gru": 200}
    text = explain(rows, cfg)
    assert text.startswith("SimpleRNN falls to chance from a gap of 50; LSTM stays above chance at every gap tried; "
                           "GRU falls to chance from a gap of 200 (chance is 25%).")
    assert "As the textbook says" in text
    # A run that disagrees with the textbook says so.
    rows2 = [_r("rnn", g, 1.0) for g in (5, 50, 200)] + [_r("lstm", g, 1.0) for g in (5, 50, 200)]
    assert "does not predict" in explain(rows2, cfg)


def test_bad_config_is_refused():
    with pytest.raises(ConfigError):
        dataclasses.replace(MemoryConfig(), gaps=(0,)).validate()
    with pytest.raises(ConfigError):
        dataclasses.replace(MemoryConfig(), seconds=0).validate()

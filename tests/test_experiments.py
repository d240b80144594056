"""The memory task: its sequences, equal-parameter sizing (checked against Keras), a tiny run, the wording."""
import dataclasses

import numpy as np
import pytest

from textgen.errors import ConfigError
from textgen.experiments import (CELLS, CellResult, MemoryConfig, build, explain, falls_to_chance,
                                 first_near_chance, param_count, sequences, train_cell, units_for)


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
    cfg = MemoryConfig(params=5_000, symbols=3, noise=4, embedding=6)
    for cell in CELLS:
        for fixed in (True, False):
            net = build(cell, 3, dataclasses.replace(cfg, fixed_inputs=fixed))
            assert net.count_params() == param_count(cell, units_for(cell, cfg), cfg), cell


def test_the_inputs_are_fixed_vectors_and_the_keep_gates_start_open():
    """A learned embedding could silence the noise (the plain RNN's missing input gate); the gated cells' keep
    gates start at sigmoid(3), about 95% kept per step. LSTM's gates run i, f, c, o; GRU's z, r, h."""
    cfg = MemoryConfig(params=2_000)
    lstm, gru, rnn = (build(c, 4, cfg) for c in ("lstm", "gru", "rnn"))
    assert [l.trainable for l in (lstm.layers[0], rnn.layers[0])] == [False, False]
    before = lstm.layers[0].get_weights()[0].copy()
    lstm.train_on_batch(*sequences(cfg, 4, 8, np.random.default_rng(0)))
    np.testing.assert_array_equal(lstm.layers[0].get_weights()[0], before)
    n = units_for("lstm", cfg)
    expect = np.zeros(4 * n, "float32")
    expect[n:2 * n] = 3.0
    np.testing.assert_array_equal(build("lstm", 4, cfg).layers[1].get_weights()[2], expect)
    n = units_for("gru", cfg)
    expect = np.zeros((2, 3 * n), "float32")
    expect[0, :n] = 3.0   # the input and recurrent rows add: the lean is in one
    np.testing.assert_array_equal(gru.layers[1].get_weights()[2], expect)
    assert len(rnn.layers[1].get_weights()) == 3 and not rnn.layers[1].get_weights()[2].any()   # no gate to lean
    legacy, n = build("lstm", 4, dataclasses.replace(cfg, fixed_inputs=False, keep_bias=None)), units_for("lstm", cfg)
    assert legacy.layers[0].trainable   # as before the settings: a learned embedding, Keras' forget bias of 1
    np.testing.assert_array_equal(legacy.layers[1].get_weights()[2][n:2 * n], np.ones(n, "float32"))


def test_an_experiment_saved_before_the_settings_reads_as_it_was_trained(workspace):
    import json

    from textgen import experiments as ex
    from textgen.runs import Registry

    reg = Registry()
    exp = reg.home / "experiments" / "20260101-120000-abc123"
    exp.mkdir(parents=True)
    memory = {k: v for k, v in dataclasses.asdict(MemoryConfig()).items() if k not in ("fixed_inputs", "keep_bias")}
    (exp / "config.json").write_text(json.dumps({"cells": ["rnn"], "memory": memory, "owner": None}))
    cfg, cells, results = ex.load(reg, exp.name)
    assert (cfg.fixed_inputs, cfg.keep_bias, cells, results) == (False, None, ("rnn",), [])


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
    assert first_near_chance(rows, cfg) == {"rnn": 50, "lstm": None, "gru": 200}
    assert explain(rows, cfg) == (
        "SimpleRNN scored 100% at a gap of 5, then near chance from a gap of 50; LSTM scored 100% up to a gap of 50, "
        "then 90.0% at 200; GRU scored 100% at a gap of 5, then 90.0% at 50 and near chance from a gap of 200 "
        "(chance is 25%). As the textbook says, the gates keep the symbol over spans where the plain RNN loses it.")
    # No cell near chance: the run cannot tell which forgets first, and says so.
    rows2 = [_r("rnn", g, 1.0) for g in (5, 50, 200)] + [_r("lstm", g, 1.0) for g in (5, 50, 200)]
    assert explain(rows2, cfg) == ("SimpleRNN scored 100% up to a gap of 200; LSTM scored 100% up to a gap of 200 "
                                   "(chance is 25%). No cell came near chance at these gaps, so this run does not "
                                   "show which forgets first.")


def test_the_quiet_machines_full_run_is_read_as_measured():
    """Accuracies where the plain RNN falls near chance at gap 100 and rises at 200 and the gated cells fall first
    (benchmarks/results/memory-experiment-2026-12-02-quiet.json): read as measured, and said against the textbook."""
    acc = {"rnn": (1.0, 1.0, 1.0, 1.0, 0.248046875, 0.482421875), "lstm": (1.0, 1.0, 0.720703125, 0.234375, 0.25,
           0.232421875), "gru": (1.0, 1.0, 0.259765625, 0.263671875, 0.236328125, 0.244140625)}
    steps = {"rnn": (4240, 4286, 2814, 1426, 768, 395), "lstm": (3442, 2201, 1625, 951, 645, 350),
             "gru": (3949, 2234, 1565, 849, 473, 258)}
    cfg = MemoryConfig()
    rows = [CellResult(c, g, 10, 100, acc[c][i], steps[c][i], 12.0) for c in CELLS for i, g in enumerate(cfg.gaps)]
    assert first_near_chance(rows, cfg) == {"rnn": 100, "lstm": 50, "gru": 20}
    assert explain(rows, cfg) == (
        "SimpleRNN scored 100% up to a gap of 50, then 24.8% at 100 (near chance) and 48.2% at 200; "
        "LSTM scored 100% up to a gap of 10, then 72.1% at 20 and near chance from a gap of 50; "
        "GRU scored 100% up to a gap of 10, then near chance from a gap of 20 (chance is 25%). "
        "The textbook predicts that the gates remember longer; here the plain RNN came near chance only at a gap of "
        "100, after LSTM (from a gap of 50) and GRU (from a gap of 20). "
        "In the same time the gated cells took fewer training steps (SimpleRNN 13,929, LSTM 9,214, GRU 9,328 in all): "
        "each of their steps costs more compute, so equal time gave them fewer updates.")
    # Had the plain RNN never come near chance, that is what it says.
    kept = [r if r.cell != "rnn" else dataclasses.replace(r, accuracy=0.9) for r in rows]
    assert ("here the plain RNN never came near chance, while LSTM (from a gap of 50) and GRU (from a gap of 20) did."
            in explain(kept, cfg))


def test_bad_config_is_refused():
    with pytest.raises(ConfigError):
        dataclasses.replace(MemoryConfig(), gaps=(0,)).validate()
    with pytest.raises(ConfigError):
        dataclasses.replace(MemoryConfig(), seconds=0).validate()


def test_an_experiment_is_saved_as_data_and_reopens_without_retraining(workspace, monkeypatch):
    from textgen import experiments as ex
    from textgen.runs import Registry

    reg = Registry()
    cfg = MemoryConfig(gaps=(3, 30), params=800, embedding=4, seconds=0.2, batch_size=8, test_size=32)
    exp_id = ex.create(cfg, reg, ("rnn", "gru"))
    trained = []

    def fake(cell, gap, cfg, should_stop=lambda: False):
        trained.append((cell, gap))
        return CellResult(cell, gap, units_for(cell, cfg), 123, {3: 0.9, 30: 0.25}[gap] if cell == "rnn" else 0.75,
                          7, 0.2, [1.0])

    monkeypatch.setattr(ex, "train_cell", fake)
    for cell in ("rnn", "gru"):
        ex.run_cell(reg, exp_id, cell)
    assert trained == [("rnn", 3), ("rnn", 30), ("gru", 3), ("gru", 30)]
    monkeypatch.setattr(ex, "train_cell", lambda *a, **k: pytest.fail("re-opening retrained"))
    cfg2, cells, results = ex.load(reg, exp_id)
    assert cfg2 == cfg and cells == ("rnn", "gru")
    assert [(r.cell, r.gap, r.accuracy) for r in results] == [("rnn", 3, 0.9), ("rnn", 30, 0.25), ("gru", 3, 0.75),
                                                              ("gru", 30, 0.75)]
    rows = reg.experiment_results(exp_id)
    assert [(r["cell"], r["gap"], r["accuracy"]) for r in rows] == [(r.cell, r.gap, r.accuracy) for r in results]
    assert ex.list_experiments(reg)[0] | {"created": 0} == {"id": exp_id, "created": 0, "cells": ("rnn", "gru"),
                                                             "gaps": (3, 30), "done": 4, "expected": 4,
                                                             "keras_defaults": False}
    assert ex.table(results, cfg).splitlines() == ["gap      SimpleRNN        GRU", "3            90.0%      75.0%",
                                                   "30           25.0%      75.0%", "chance 25.0%"]


def test_submit_queues_one_worker_job_per_cell(workspace, monkeypatch):
    from textgen import experiments as ex
    from textgen import jobs
    from textgen.runs import Registry

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])   # nothing starts: the queue is what is checked
    reg = Registry()
    exp_id = ex.submit(MemoryConfig(gaps=(2,), params=800, embedding=4), reg)
    rows = sorted(reg.list_runs(), key=lambda r: r["cell"])
    assert [(r["cell"], r["status"], r["level"]) for r in rows] == [("gru", "queued", "memory"),
                                                                    ("lstm", "queued", "memory"),
                                                                    ("rnn", "queued", "memory")]
    import json
    assert json.loads(rows[0]["args"]) == ["experiment", "memory", "--experiment", exp_id, "--cell", "gru",
                                           "--run-id", rows[0]["id"]]
    assert all(r["corpus"] == f"memory task {exp_id}" for r in rows)


def test_a_writers_experiment_and_its_jobs_are_theirs_alone(workspace, monkeypatch):
    from textgen import experiments as ex
    from textgen import jobs
    from textgen.errors import RunError
    from textgen.identity import Identity
    from textgen.runs import Registry

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry()
    ana, ben = Identity.writer("a" * 22), Identity.writer("b" * 22)
    exp_id = ex.submit(MemoryConfig(gaps=(2,), params=800, embedding=4), reg, owner=ana)
    assert {r["owner"] for r in reg.list_runs()} == {ana.owner} and len(reg.list_runs(ana)) == 3
    assert reg.list_runs(ben) == [] and ex.list_experiments(reg, ben) == []
    assert [e["id"] for e in ex.list_experiments(reg, ana)] == [exp_id]
    assert [e["id"] for e in ex.list_experiments(reg, Identity.the_host())] == [exp_id]   # the host sees all
    with pytest.raises(RunError, match="belongs to another writer"):
        ex.load(reg, exp_id, ben)
    assert ex.load(reg, exp_id)[1] == ex.CELLS   # the worker (no identity) opens it


@pytest.mark.parametrize("argv, said", [
    (["--gaps", "5,x"], "textgen: --gaps takes whole numbers separated by commas, such as 5,20,100\n"),
    (["--gaps", "0"], "textgen: gaps must be whole numbers between 1 and 2000\n"),
    (["--cells", "rnn,tcn"], "textgen: cells must be some of rnn, lstm, gru\n"),
    (["--keep-bias", "open"], "textgen: --keep-bias takes a number, such as 3, or 'keras'\n"),
    (["--keep-bias", "40"], "textgen: keep_bias must be between -10 and 10\n")])
def test_the_command_line_refuses_bad_input_in_one_line(workspace, capsys, argv, said):
    from textgen.cli import main

    assert main(["experiment", "memory", *argv]) == 1
    assert capsys.readouterr().err == said


def test_a_run_where_the_plain_rnn_wins_says_the_gated_cells_took_fewer_steps():
    cfg = MemoryConfig(gaps=(5, 50), symbols=4)
    rows = [CellResult("rnn", 5, 10, 100, 1.0, 300, 1.0), CellResult("rnn", 50, 10, 100, 0.26, 200, 1.0),
            CellResult("lstm", 5, 10, 100, 0.3, 150, 1.0), CellResult("lstm", 50, 10, 100, 0.25, 50, 1.0)]
    text = explain(rows, cfg)
    assert text == ("SimpleRNN scored 100% at a gap of 5, then near chance from a gap of 50; LSTM scored near chance "
                    "from a gap of 5 (chance is 25%). The textbook predicts that the gates remember longer; here the "
                    "plain RNN came near chance only at a gap of 50, after LSTM (from a gap of 5). In the same time "
                    "the gated cells took fewer training steps (SimpleRNN 500, LSTM 200 in all): each of their steps "
                    "costs more compute, so equal time gave them fewer updates.")
    # Both near chance from the same gap: a tie, not the textbook's order nor its opposite.
    tie = rows[:1] + [CellResult("rnn", 50, 10, 100, 0.26, 200, 1.0), CellResult("lstm", 5, 10, 100, 1.0, 150, 1.0),
                      CellResult("lstm", 50, 10, 100, 0.25, 50, 1.0)]
    assert "(chance is 25%). This run does not show the gated cells remembering longer than the plain RNN. In " \
           "the same time" in explain(tie, cfg)


def test_the_command_line_prints_no_tensorflow_noise(tmp_path):
    """Six gaps: from the fifth new model on, TensorFlow would warn of retracing its predict graph; and the first
    device listing on a machine without a GPU prints a C++ "failed call to cuInit" line. Neither reaches stderr."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}   # as a user's shell has it
    r = subprocess.run([sys.executable, "-m", "textgen", "experiment", "memory", "--gaps", "2,3,4,5,6,7",
                        "--cells", "rnn", "--seconds", "0.05", "--params", "600"], capture_output=True, text=True,
                       env={**env, "INKWELL_HOME": str(tmp_path), "PYTHONPATH": str(root)}, cwd=root, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("experiment ") and lines[0].endswith(": 1 cells x 6 gaps, 0.05 s each")
    assert [l.split()[:3] for l in lines[1:]] == [["SimpleRNN", "gap", str(g)] for g in range(2, 8)], r.stderr


def test_the_cli_can_set_the_task_up_as_before_to_show_why_it_changed(workspace, monkeypatch, capsys):
    from textgen import cli
    from textgen import experiments as ex
    from textgen.runs import Registry

    seen = []
    monkeypatch.setattr(ex, "train_cell", lambda cell, gap, cfg, should_stop=None: seen.append(cfg) or CellResult(
        cell, gap, 10, 123, 1.0, 40, 0.1, [1.0]))
    assert cli.main(["experiment", "memory", "--gaps", "5", "--cells", "lstm", "--keep-bias", "keras",
                     "--learned-inputs"]) == 0
    assert cli.main(["experiment", "memory", "--gaps", "5", "--cells", "lstm", "--keep-bias", "1.5"]) == 0
    assert cli.main(["experiment", "memory", "--gaps", "5", "--cells", "lstm"]) == 0
    assert [(c.keep_bias, c.fixed_inputs) for c in seen] == [(None, False), (1.5, True), (3.0, True)]
    reg = Registry()   # each experiment saved with the settings it trained with
    saved = {(c.keep_bias, c.fixed_inputs) for c in (ex.load(reg, e["id"])[0] for e in ex.list_experiments(reg))}
    assert saved == {(None, False), (1.5, True), (3.0, True)}


def test_the_cli_prints_the_table_and_the_english_verdict(workspace, monkeypatch, capsys):
    from textgen import cli
    from textgen import experiments as ex

    acc = {("rnn", 5): 1.0, ("rnn", 50): 0.26, ("gru", 5): 1.0, ("gru", 50): 0.9}
    monkeypatch.setattr(ex, "train_cell", lambda cell, gap, cfg, should_stop=None: CellResult(
        cell, gap, units_for(cell, cfg), 123, acc[(cell, gap)], {"rnn": 40, "gru": 25}[cell], 0.1, [1.0]))
    assert cli.main(["experiment", "memory", "--gaps", "5,50", "--cells", "rnn,gru", "--seconds", "1"]) == 0
    out, err = capsys.readouterr()
    assert out == ("gap      SimpleRNN        GRU\n"
                   "5           100.0%     100.0%\n"
                   "50           26.0%      90.0%\n"
                   "chance 25.0%\n"
                   "SimpleRNN scored 100% at a gap of 5, then near chance from a gap of 50; GRU scored 100% at a gap of "
                   "5, then 90.0% at 50 (chance is 25%). As the textbook says, the gates keep the symbol over spans "
                   "where the plain RNN loses it.\n")
    assert err.splitlines()[1:] == ["  SimpleRNN gap 5     accuracy 100.0% (40 steps)",
                                    "  SimpleRNN gap 50    accuracy 26.0% (40 steps)",
                                    "  GRU       gap 5     accuracy 100.0% (25 steps)",
                                    "  GRU       gap 50    accuracy 90.0% (25 steps)"]


def test_the_split_keeps_every_old_name_importable():
    """textgen.experiments was one module; the task and the verdict moved out, and each name is still the same object."""
    from textgen import experiments as ex
    from textgen import memory_task, memory_verdict

    for name in ("CELLS", "GATES", "NAMES", "PRESETS", "CellResult", "MemoryConfig", "param_count", "sequences",
                 "train_cell", "units_for", "_start_tf_quietly"):
        assert getattr(ex, name) is getattr(memory_task, name), name
    for name in ("NEAR_CHANCE", "PERFECT", "explain", "_scores", "falls_to_chance", "first_near_chance", "table"):
        assert getattr(ex, name) is getattr(memory_verdict, name), name
    for name in ("LEVEL", "create", "submit", "load", "list_experiments", "run_cell"):
        assert callable(getattr(ex, name)) or name == "LEVEL", name
    from textgen.config import CELL_NAMES

    assert ex.NAMES is CELL_NAMES   # one map of the cells' names in the engine

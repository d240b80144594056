"""The Inside page: a saved experiment re-opens as its chart and words, the vanishing curves of a trained run."""
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from _shown import shown
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from textgen import Registry
from textgen import experiments as ex

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "inside.py")


def open_page():
    return AppTest.from_file(PAGE, default_timeout=60).run()


def chart_data(at, i=0, column=None):
    """The chart's first dataset, or its first with `column` (a layer's own small frame may come first)."""
    frames = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data)
              for d in at.get("vega_lite_chart")[i].proto.datasets]
    return next(f for f in frames if column is None or column in f.columns)


def test_an_empty_workspace_invites_an_experiment(workspace):
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "Inside"
    assert "No experiment yet: run one above." in [c.value for c in at.caption]
    assert not at.get("vega_lite_chart")


def test_a_finished_experiment_reopens_as_its_chart_and_words(workspace, monkeypatch):
    reg = Registry()
    cfg = ex.MemoryConfig(gaps=(5, 50))
    exp_id = ex.create(cfg, reg)
    acc = {("rnn", 5): 1.0, ("rnn", 50): 0.26, ("lstm", 5): 1.0, ("lstm", 50): 0.97, ("gru", 5): 1.0, ("gru", 50): 0.9}
    for cell in ex.CELLS:
        rows = [ex.CellResult(cell, g, 10, 100, acc[(cell, g)], 50, 18.0).as_dict() for g in cfg.gaps]
        (reg.home / "experiments" / exp_id / f"{cell}.json").write_text(json.dumps(rows))
    monkeypatch.setattr(ex, "train_cell", lambda *a, **k: pytest.fail("the page retrained"))
    at = open_page()
    assert not at.exception
    frame = chart_data(at, 0, "cell")
    assert sorted(zip(frame["cell"], frame["gap"], frame["accuracy"])) == sorted(
        (ex.NAMES[c], g, a) for (c, g), a in acc.items())
    words = " ".join(shown(m.value) for m in at.markdown)
    assert ("SimpleRNN scored 100% at a gap of 5, then near chance from a gap of 50; LSTM scored 100% at a gap of 5, "
            "then 97.0% at 50; GRU scored 100% at a gap of 5, then 90.0% at 50 (chance is 25%). As the textbook says, "
            "the gates keep the symbol over spans where the plain RNN loses it.") in words


def test_the_run_button_queues_the_chosen_preset(workspace, monkeypatch):
    from textgen import jobs

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    at = open_page()
    at.radio(key="inside_preset").set_value("Quick").run()
    at.button[0].click().run()
    assert not at.exception
    reg = Registry()
    queued = reg.list_runs()
    assert sorted(r["cell"] for r in queued) == ["gru", "lstm", "rnn"] and {r["status"] for r in queued} == {"queued"}
    exp_id = at.session_state["inside_experiment"]
    assert ex.load(reg, exp_id)[0] == ex.PRESETS["Quick"]
    assert at.get("progress")[0].proto.value == 0   # 0 of 6 measured, the jobs waiting


def test_the_keras_defaults_toggle_queues_the_task_as_it_was_and_says_so(workspace, monkeypatch):
    from textgen import jobs

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    at = open_page()
    at.radio(key="inside_preset").set_value("Quick").run()
    at.toggle(key="inside_keras_defaults").set_value(True).run()
    at.button[0].click().run()
    assert not at.exception
    reg = Registry()
    cfg = ex.load(reg, at.session_state["inside_experiment"])[0]
    assert cfg == dataclasses.replace(ex.PRESETS["Quick"], fixed_inputs=False, keep_bias=None)
    assert ex.list_experiments(reg)[0]["keras_defaults"] is True
    assert at.selectbox(key="inside_experiment").format_func(at.session_state["inside_experiment"]).endswith(
        " · gaps 5, 60 · Keras defaults")


def test_the_caption_says_how_the_task_was_set_up():
    from pages import memory_words

    assert memory_words.setup(ex.PRESETS["Full"]) == (
        "Set up with fixed input vectors, the keep gates starting at a bias of 3.")
    assert memory_words.setup(dataclasses.replace(ex.PRESETS["Full"], **ex.LEGACY)) == (
        "Set up with a learned embedding, the keep gates at Keras' defaults (LSTM's forget bias 1, GRU's update "
        "bias 0).")


def test_a_trained_run_shows_its_vanishing_curve(tiny_run, tmp_path, monkeypatch):
    home, run_id = tiny_run
    copy = tmp_path / "ws"
    shutil.copytree(home, copy)
    monkeypatch.setenv("INKWELL_HOME", str(copy))
    from textgen import gradients

    expected = gradients.read_curve(copy / "runs" / run_id).norms   # what the worker stored when training ended
    monkeypatch.setattr(gradients, "vanishing_curve", lambda *a, **k: pytest.fail("the page measured the curve"))
    at = open_page()
    assert not at.exception
    frames = [chart_data(at, i) for i in range(len(at.get("vega_lite_chart")))]
    curve = next(f for f in frames if "k" in f.columns)
    assert curve["norm"].tolist() == expected.tolist()
    assert any("each step back keeps about" in c.value for c in at.caption)

    (copy / "runs" / run_id / gradients.CURVE_FILE).unlink()   # a run trained before the worker measured it
    at = open_page()
    assert not at.exception and not any("k" in chart_data(at, i).columns for i in range(len(at.get("vega_lite_chart"))))
    assert any("has no curve yet: it was trained before Inkwell measured it" in shown(c.value) for c in at.caption)

    # The button queues a job that measures it in a worker (not in the page), which stores what the worker stored.
    from textgen import vanishing

    at.button(key="inside_vanish_measure").click().run()
    assert not at.exception
    assert vanishing.wait(Registry(copy), run_id) == "measured"
    at.run()
    frames = [chart_data(at, i) for i in range(len(at.get("vega_lite_chart")))]
    assert next(f for f in frames if "k" in f.columns)["norm"].tolist() == expected.tolist()
    assert "inside_vanish_measure" not in [b.key for b in at.button]


def test_the_neuron_explorer_ranks_a_char_runs_units(tiny_run, tmp_path, monkeypatch):
    home, run_id = tiny_run
    copy = tmp_path / "ws"
    shutil.copytree(home, copy)
    monkeypatch.setenv("INKWELL_HOME", str(copy))
    from textgen import load_run, neurons
    from textgen.stepper import Stepper

    run = load_run(run_id, copy)
    text = neurons.passage(run)
    acts = neurons.activations(Stepper(run.model, run.weights), run.vocab.encode(text)[0])
    ranked = neurons.rank_units(acts[0], neurons.text_features(text))   # layer 1 of the tiny LSTM's two
    at = open_page()
    assert not at.exception
    table = at.dataframe[-1].value.to_dict("records")
    first = {r["feature"]: r["#1"] for r in table}
    assert first == {name: f"unit {top[0][0]} ({top[0][1]:+.2f})" for name, top in ranked.items() if top}
    grid = chart_data(at, len(at.get("vega_lite_chart")) - 1)
    unit = next(top[0][0] for top in ranked.values() if top)
    assert grid["act"].tolist()[:50] == pytest.approx(acts[0][:50, unit].tolist(), rel=1e-5)
    forget = neurons.keep_gates(Stepper(run.model, run.weights), run.vocab.encode(text)[0])[0]
    assert grid["gate"].tolist()[:50] == pytest.approx(forget[:50, unit].tolist(), rel=1e-5)   # the LSTM's f
    assert any("green band under each character is the unit's forget gate" in shown(c.value) for c in at.caption)


def test_a_runs_gradient_norms_are_charted_with_the_threshold_and_read_out(tiny_run, tmp_path, monkeypatch):
    home, run_id = tiny_run
    copy = tmp_path / "ws"
    shutil.copytree(home, copy)
    monkeypatch.setenv("INKWELL_HOME", str(copy))
    reg = Registry(copy)
    with reg.connect() as db:   # the norms a run recorded: a steady start, then a tenfold rise, clipped
        db.execute("DELETE FROM metrics WHERE kind='batch'")
    reg.add_metrics(run_id, [{"kind": "batch", "step": 10 * i, "grad_norm": 0.5 if i <= 5 else 8.0,
                              "clipped": 0 if i <= 5 else 10, "loss": 2.0} for i in range(1, 11)])
    at = open_page()
    assert not at.exception
    frames = [chart_data(at, i) for i in range(len(at.get("vega_lite_chart")))]
    norms = next(f for f in frames if "grad_norm" in f.columns)
    assert norms["grad_norm"].tolist() == [0.5] * 5 + [8.0] * 5
    from textgen.artifacts import read_config

    clip = read_config(copy / "runs" / run_id)[1].clipnorm
    assert any(shown(c.value) == f"50 of 100 batches were clipped (threshold {clip:g}). The gradient norm explodes: it "
                          "grew from about 0.5 to 8." for c in at.caption)


def test_a_run_with_one_recorded_norm_is_read_out_not_called_empty(tiny_run, tmp_path, monkeypatch):
    home, run_id = tiny_run
    copy = tmp_path / "ws"
    shutil.copytree(home, copy)
    monkeypatch.setenv("INKWELL_HOME", str(copy))
    reg = Registry(copy)
    with reg.connect() as db:
        db.execute("DELETE FROM metrics WHERE kind='batch'")
    reg.add_metrics(run_id, [{"kind": "batch", "step": 3, "grad_norm": 4.76, "clipped": 0, "loss": 2.0}])
    at = open_page()
    assert not at.exception
    words = [shown(c.value) for c in at.caption]
    assert any(w.endswith("One gradient norm was recorded: 4.76 at step 3.") for w in words), words
    assert not any("recorded no gradient norms" in w for w in words)


def as_writer(at, token):
    at.query_params["w"] = token
    return at.run()


def test_an_experiment_belongs_to_the_writer_who_ran_it(workspace, monkeypatch):
    from textgen import jobs
    from textgen.identity import Identity

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    ana, ben = "a" * 22, "b" * 22
    at = as_writer(AppTest.from_file(PAGE, default_timeout=60), ana)
    at.radio(key="inside_preset").set_value("Quick").run()
    at.button[0].click().run()
    assert not at.exception
    reg = Registry()
    exp_id = at.session_state["inside_experiment"]
    assert {r["owner"] for r in reg.list_runs()} == {Identity.writer(ana).owner}
    assert [e["id"] for e in ex.list_experiments(reg, Identity.writer(ana))] == [exp_id]
    assert ex.list_experiments(reg, Identity.writer(ben)) == [] and reg.list_runs(Identity.writer(ben)) == []
    other = as_writer(AppTest.from_file(PAGE, default_timeout=60), ben)
    assert not other.exception
    assert "No experiment yet: run one above." in [c.value for c in other.caption]
    with pytest.raises(textgen_errors().RunError, match="belongs to another writer"):
        ex.load(reg, exp_id, Identity.writer(ben))


def textgen_errors():
    from textgen import errors

    return errors


def test_the_clipping_pair_is_queued_and_drawn_side_by_side(tiny_run, tmp_path, monkeypatch):
    from textgen import clipping, jobs
    from textgen.identity import Identity

    home, run_id = tiny_run
    copy = tmp_path / "ws"
    shutil.copytree(home, copy)
    monkeypatch.setenv("INKWELL_HOME", str(copy))
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    token = "c" * 22
    at = as_writer(AppTest.from_file(PAGE, default_timeout=60), token)
    at.button(key="inside_pair_start").click().run()
    assert not at.exception
    reg = Registry(copy)
    pair = clipping.list_pairs(reg)[0]
    owner = Identity.writer(token).owner
    runs = {side: reg.get_run(rid) for side, rid in pair["runs"].items()}
    assert {s: (r["status"], r["cell"], r["owner"]) for s, r in runs.items()} == {
        "off": ("queued", "rnn", owner), "on": ("queued", "rnn", owner)}
    args = {s: json.loads(r["args"]) for s, r in runs.items()}
    assert args["off"][0] == str(copy / "runs" / run_id / "corpus.txt")
    flag = {s: a[a.index("--clipnorm") + 1] for s, a in args.items()}
    assert (float(flag["off"]), float(flag["on"])) == (0.0, clipping.CLIP_ON)

    # Both trained: the unclipped norm blows up and its loss goes with it; the clipped one learns.
    with reg.connect() as db:
        db.execute("UPDATE runs SET status='diverged' WHERE id=?", (pair["runs"]["off"],))
        db.execute("UPDATE runs SET status='done' WHERE id=?", (pair["runs"]["on"],))
    reg.add_metrics(pair["runs"]["off"], [{"kind": "batch", "step": i, "grad_norm": 2.0 * 10 ** i, "clipped": 0,
                                           "loss": 4.0 + i} for i in range(1, 6)])
    reg.add_metrics(pair["runs"]["on"], [{"kind": "batch", "step": i, "grad_norm": 2.0, "clipped": 1,
                                          "loss": 4.0 - 0.1 * i} for i in range(1, 6)])
    assert clipping.list_pairs(reg, Identity.writer("d" * 22)) == []   # another writer's page shows no pair
    at = as_writer(AppTest.from_file(PAGE, default_timeout=60), token)
    assert not at.exception
    frames = [chart_data(at, i) for i in range(len(at.get("vega_lite_chart")))]
    pairs = [f for f in frames if "run" in f.columns and "value" in f.columns]
    norms, losses = pairs
    assert sorted(zip(norms["run"], norms["step"], norms["value"])) == sorted(
        [("clipping off", i, 2.0 * 10 ** i) for i in range(1, 6)] + [("clipping on", i, 2.0) for i in range(1, 6)])
    assert sorted(zip(losses["run"], losses["value"]))[:2] == [("clipping off", 5.0), ("clipping off", 6.0)]
    words = [shown(c.value) for c in at.caption]
    assert any(w.startswith("Clipping off (diverged): Clipping is off for this run. The gradient norm explodes")
               for w in words)
    assert any(w.startswith("Clipping on (finished):") and "5 of 5 batches were clipped" in w for w in words)
    said = clipping.verdict("diverged", "done", reg.metrics(pair["runs"]["off"], "batch"),
                            reg.metrics(pair["runs"]["on"], "batch"))
    assert said.startswith("Without clipping the gradient norm went from 20 to a peak of 200,000")
    assert said in [shown(m.value) for m in at.markdown]


def test_the_memory_chart_keeps_to_0_100_percent_with_labels_on_their_values(workspace):
    from pages import gatecharts

    rows = [ex.CellResult(c, g, 10, 100, a, 50, 12.0) for c, g, a in
            (("rnn", 5, 1.0), ("rnn", 200, 0.482), ("lstm", 5, 1.0), ("lstm", 200, 0.232), ("gru", 20, 0.26))]
    spec = gatecharts.memory_chart(rows, 0.25).to_dict()
    line, lstm, rule, outline, text = spec["layer"]
    # LSTM again over the others, dashed: where it scores as GRU does, GRU's line would hide it
    assert lstm["transform"] == [{"filter": "(datum.cell === 'LSTM')"}] and lstm["mark"]["strokeDash"] == [7, 6]
    assert outline["mark"]["stroke"] == "white" and outline["encoding"] == text["encoding"]   # readable over a line
    y = line["encoding"]["y"]
    assert y["scale"] == {"domain": [0, 1], "clamp": True, "nice": False}
    assert y["axis"] == {"format": "%", "tickCount": 5, "labelFlush": False}   # 0, 20, ... 100%, each on its value
    x = line["encoding"]["x"]
    assert x["scale"]["domain"] == [5.0, 200.0] and x["axis"]["values"] == [5, 20, 200]
    assert rule["encoding"]["y"] == {"datum": 0.25} and text["encoding"]["y"] == {"datum": 0.25}   # one y scale
    drawn = spec["datasets"][line["data"]["name"]]
    assert sorted(d["accuracy"] for d in drawn) == [0.232, 0.26, 0.482, 1.0, 1.0]
    assert spec["datasets"][text["data"]["name"]] == [{"label": "chance (25%)"}]

"""The Train page, driven through AppTest, starting a real (tiny) worker process."""
from _shown import shown  # noqa: E402
import json
import random
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages import charts
from textgen import Registry, load_corpus, library
from textgen.presets import PRESETS

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")
TINY = {"hp_layers": 1, "hp_units": 16, "hp_embedding": 8, "hp_seq_len": 20, "hp_batch_size": 8, "hp_epochs": 1,
        "hp_time_budget": 0.0}


def tiny_text(n_chars: int = 3000) -> str:
    rng = random.Random(7)
    words = "the keeper climbs one hundred steps to light the lamp above the grey sea".split()
    out = []
    while sum(len(w) + 1 for w in out) < n_chars:
        out.append(rng.choice(words))
    return " ".join(out)


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def chart_frame(at, index=0):
    from streamlit import dataframe_util

    proto = at.get("vega_lite_chart")[index].proto
    return dataframe_util.convert_arrow_bytes_to_pandas_df(proto.datasets[0].data.data)


def start(workspace, text):
    cid = library.save_corpus("Lamp words", load_corpus(text))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="train_preset").set_value("Custom").run()
    for key, value in TINY.items():
        at.number_input(key=key).set_value(value)
    return cid, at.run()


def test_without_corpora_points_to_corpus_page(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Train"
    assert at.info[0].value.startswith("Save a corpus first")
    assert not at.button  # nothing to start


def test_presets_fill_the_fields_and_estimates(workspace):
    text = tiny_text()
    library.save_corpus("Lamp words", load_corpus(text))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.radio(key="train_preset").value == "Quick"
    assert not [n for n in at.number_input if n.key == "hp_units"]   # folded away until asked for
    at.toggle(key="train_show_hp").set_value(True).run()
    assert at.number_input(key="hp_units").value == 256 and at.number_input(key="hp_units").disabled
    assert at.radio(key="train_cell").value == "gru"
    long = PRESETS["Long"].model
    at.radio(key="train_preset").set_value("Long").run()
    assert at.number_input(key="hp_units").value == long.units
    assert at.radio(key="train_cell").value == long.cell
    assert at.segmented_control(key="train_level").value == PRESETS["Long"].train.level
    assert at.number_input(key="hp_subword_vocab").value == PRESETS["Long"].train.subword_vocab
    at.radio(key="train_preset").set_value("Custom").run()
    assert not at.number_input(key="hp_units").disabled
    assert at.number_input(key="hp_units").value == long.units   # Custom starts from the last preset
    for key, value in TINY.items():
        at.number_input(key=key).set_value(value)
    at.segmented_control(key="train_level").set_value("char")   # Long's level is word pieces
    at.radio(key="train_cell").set_value("gru").run()
    distinct = len(set(text))
    v = distinct + 1
    # GRU 1x16, embedding 8: embedding + kernels + two bias rows + output layer
    expected = v * 8 + 3 * 16 * (8 + 16) + 2 * 3 * 16 + 16 * v + v
    assert metrics(at)["Parameters"] == f"{expected:,}"
    assert metrics(at)["Vocabulary"] == f"{v}"
    # word level: the 12 distinct words, the space between them, and the unknown token
    at.segmented_control(key="train_level").set_value("word").run()
    assert not at.exception
    assert metrics(at)["Vocabulary"] == "14"
    assert metrics(at)["Parameters"] == f"{14 * 8 + 3 * 16 * 24 + 96 + 16 * 14 + 14:,}"
    # word pieces (Long's count, kept by Custom): this text runs out of repeated pairs long before it
    from textgen.vocab import Vocab

    at.segmented_control(key="train_level").set_value("subword").run()
    assert not at.exception
    from textgen import data

    size = PRESETS["Long"].train.subword_vocab
    pieces = Vocab.build(data.split(text, 0.1)[0], "subword", size)   # learned from the training part, as a run does
    assert metrics(at)["Vocabulary"] == f"{len(pieces):,}" and 257 < len(pieces) < size
    assert metrics(at)["Parameters"] == f"{len(pieces) * 8 + 3 * 16 * 24 + 96 + 16 * len(pieces) + len(pieces):,}"


def test_too_short_text_is_refused_before_starting(workspace):
    library.save_corpus("short", load_corpus("tiny text " * 10))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert at.error[0].value.startswith("The text is too short for sequence length 64")
    start_button = next(b for b in at.button if b.label == "Start training")
    assert start_button.disabled
    assert Registry().list_runs() == []


def test_server_limit_is_an_error_next_to_start(workspace, monkeypatch):
    monkeypatch.setenv("INKWELL_MAX_PARAMS", "1000")
    library.save_corpus("Lamp words", load_corpus(tiny_text()))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_input(key="train_label").set_value("my big model").run()
    assert not at.exception
    [error] = [shown(e.value) for e in at.error]   # said before Start, which is refused
    params = metrics(at)["Parameters"]
    assert error == f"This model has {params} parameters; this server allows at most 1,000. Choose fewer units or layers."
    assert next(b for b in at.button if b.label == "Start training").disabled
    assert at.text_input(key="train_label").value == "my big model"
    assert Registry().list_runs() == []


def test_start_a_tiny_run_and_watch_it_finish(workspace):
    text = tiny_text()
    cid, at = start(workspace, text)
    at.text_input(key="train_label").set_value("tiny page run")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    reg = Registry()
    runs = reg.list_runs()
    assert len(runs) == 1 and runs[0]["label"] == "tiny page run"
    run_id = runs[0]["id"]
    assert at.session_state["train_run"] == run_id
    assert runs[0]["status"] in ("queued", "running")
    assert runs[0]["corpus"] == cid

    deadline = time.time() + 120
    while reg.get_run(run_id)["status"] in ("queued", "running"):
        assert time.time() < deadline, "the tiny run did not finish in 120 s"
        time.sleep(1)
    run = reg.get_run(run_id)
    log = (reg.run_dir(run_id) / "worker.log").read_text(errors="replace")
    assert run["status"] == "done", (run["message"], log[-2000:])

    at.run()
    assert not at.exception
    assert any(shown(s.value).startswith("Training finished.") for s in at.success)
    numbers = metrics(at)
    assert numbers["Best score"] == f"{run['best_val_bpc']:.3f}"
    assert numbers["Perplexity"] == f"{2 ** run['best_val_bpc']:.2f}"
    assert numbers["Parameters"] == f"{run['params']:,}"
    assert at.get("progress")[-1].proto.text == "finished 1 epoch"
    # the loss chart carries the registry's numbers: per-batch train loss and the epoch's validation point
    # (a run with fewer than charts.MIN_CURVE_STEPS steps says so in words instead of drawing a lone dot)
    frames = [chart_frame(at, i) for i in range(len(at.get("vega_lite_chart")))]
    loss = next((f for f in frames if "series" in f.columns), None)
    if loss is None:
        steps = charts.curve_steps(reg.metrics(run_id))
        assert steps < charts.MIN_CURVE_STEPS
        assert any(c.value.startswith(f"This run took only {steps} training step") for c in at.caption)
        loss = charts.loss_frame(reg.metrics(run_id))
    val = loss[loss.series == "validation"]
    assert val["bpc"].round(6).tolist() == [round(run["best_val_bpc"], 6)]
    assert (loss.series == "train (per batch)").sum() >= 1
    samples = reg.samples(run_id)
    assert [s["temperature"] for s in samples] == [0.5, 1.0]
    assert [c.value for c in at.code][:2] == [s["text"].rstrip("\n") or " " for s in samples]
    assert any(b.label == "Write with this model" for b in at.button)

    # a fresh session (a reloaded browser) shows nothing until a run is active; the run stays in the registry
    fresh = AppTest.from_file(PAGE, default_timeout=30).run()
    assert "train_run" not in fresh.session_state


def wait_for(reg, run_id, done, timeout=120):
    deadline = time.time() + timeout
    while not done(reg.get_run(run_id)):
        assert time.time() < deadline, reg.get_run(run_id)
        time.sleep(0.5)
    return reg.get_run(run_id)


def test_stop_then_resume(workspace):
    cid, at = start(workspace, tiny_text(6000))
    at.number_input(key="hp_epochs").set_value(500).run()
    next(b for b in at.button if b.label == "Start training").click().run()
    reg = Registry()
    run_id = at.session_state["train_run"]
    wait_for(reg, run_id, lambda r: r["status"] == "running" and (r["step"] or 0) > 0)
    at.run()
    at.button(key="train_stop").click().run()
    assert not at.exception
    run = wait_for(reg, run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "cancelled", run["message"]

    at.run()
    assert any("resume continues from here" in w.value for w in at.warning)
    assert not at.button(key="train_resume").disabled
    logged = len(reg.metrics(run_id, "batch"))
    at.button(key="train_resume").click().run()
    assert not at.exception
    assert reg.get_run(run_id)["status"] in ("queued", "running")
    # the reloaded page reattaches to the active run
    fresh = AppTest.from_file(PAGE, default_timeout=30)
    fresh.query_params["w"] = at.query_params["w"]   # a reload keeps the link, and the writer's token in it
    fresh.run()
    assert fresh.session_state["train_run"] == run_id
    # stop once the resumed worker is really training, so the stop exercises the checkpointing path
    wait_for(reg, run_id, lambda r: r["status"] != "running" or len(reg.metrics(run_id, "batch")) > logged)
    fresh.run()
    assert reg.get_run(run_id)["status"] == "running", (reg.get_run(run_id), [e.value for e in fresh.error])
    fresh.button(key="train_stop").click().run()
    run = wait_for(reg, run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "cancelled"


def test_carry_state_switch_reaches_the_worker(workspace):
    cid, at = start(workspace, tiny_text())
    box = at.checkbox(key="hp_carry_state")
    assert box.value is PRESETS["Quick"].train.carry_state and not box.disabled   # Custom keeps the last preset's
    box.check().run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    reg = Registry()
    run_id = reg.list_runs()[0]["id"]
    assert "--carry-state" in reg.get_run(run_id)["args"]
    run = wait_for(reg, run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "done", run["message"]
    config = json.loads((reg.run_dir(run_id) / "config.json").read_text())
    assert config["train"]["carry_state"] is True


def test_weight_dropout_slider_is_for_grus_only(workspace):
    library.save_corpus("Lamp words", load_corpus(tiny_text()))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="train_preset").set_value("Long").run()
    at.toggle(key="train_show_hp").set_value(True).run()
    slider = at.slider(key="hp_weight_drop")
    assert slider.value == PRESETS["Long"].model.weight_drop > 0 and slider.disabled   # a preset's value, read only
    at.radio(key="train_preset").set_value("Custom").run()
    assert not at.slider(key="hp_weight_drop").disabled
    for key, value in TINY.items():
        at.number_input(key=key).set_value(value)
    at.segmented_control(key="train_level").set_value("char")
    at.radio(key="train_cell").set_value("lstm").run()
    assert at.slider(key="hp_weight_drop").disabled          # other cells have no weight dropout ...
    assert not at.error and not at.exception                  # ... and Long's value left in it is no error
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    reg = Registry()
    run_id = reg.list_runs()[0]["id"]
    args = json.loads(reg.get_run(run_id)["args"])
    assert args[args.index("--cell") + 1] == "lstm" and args[args.index("--weight-drop") + 1] == "0.0"
    run = wait_for(reg, run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "done", run["message"]
    assert json.loads((reg.run_dir(run_id) / "config.json").read_text())["model"]["weight_drop"] == 0.0


def test_a_preset_keeps_the_chosen_cell(workspace):
    """Choosing a preset after SimpleRNN or LSTM sets sizes and training, and says the recipe was a GRU's."""
    library.save_corpus("Lamp words", load_corpus(tiny_text()))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not [c for c in at.caption if "recipe" in c.value]          # Quick with its own GRU: nothing to say
    at.toggle(key="train_show_hp").set_value(True).run()
    for cell, name in (("lstm", "LSTM"), ("rnn", "SimpleRNN")):
        at.radio(key="train_cell").set_value(cell).run()
        at.radio(key="train_preset").set_value("Short").run()
        at.radio(key="train_preset").set_value("Long").run()
        assert not at.exception
        assert at.radio(key="train_cell").value == cell
        assert at.number_input(key="hp_units").value == PRESETS["Long"].model.units
        assert at.segmented_control(key="train_level").value == "subword"
        assert [c.value for c in at.caption if "recipe" in c.value] == [
            f"Long was tuned as a GRU recipe; with {name} it keeps its sizes and training values."]
    at.radio(key="train_cell").set_value("gru").run()
    assert not [c for c in at.caption if "recipe" in c.value]


def test_values_out_of_range_are_refused_next_to_their_fields(workspace):
    library.save_corpus("Lamp words", load_corpus(tiny_text()))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="train_preset").set_value("Custom").run()
    assert at.number_input(key="hp_layers").help == "Stacked recurrent layers. From 1 to 4."   # the range, before typing
    assert at.number_input(key="hp_time_budget").help == "From 0 to 10,080."                   # in minutes, as shown
    at.number_input(key="hp_layers").set_value(99)
    at.number_input(key="hp_units").set_value(-5)
    at.number_input(key="hp_lr").set_value(5.0).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Layers must be between 1 and 4, not 99.",
                                           "Units per layer must be between 1 and 4096, not -5.",
                                           "Learning rate must be between 1e-07 and 1, not 5."]
    assert at.number_input(key="hp_layers").value == 99        # kept as typed, and said, not silently replaced
    assert not [b for b in at.button if b.label == "Start training"] and not at.metric
    at.number_input(key="hp_layers").set_value(2)
    at.number_input(key="hp_units").set_value(64)
    at.number_input(key="hp_lr").set_value(0.002).run()
    assert not at.error and metrics(at)["Parameters"]
    assert not next(b for b in at.button if b.label == "Start training").disabled


def test_a_run_far_over_the_time_limit_is_refused_unless_the_host_allows_it(workspace, monkeypatch):
    from textgen import sizing

    monkeypatch.delenv(sizing.ALLOW_LONG, raising=False)
    monkeypatch.delenv(sizing.MAX_TRAIN_SECONDS, raising=False)
    library.save_corpus("Lamp words", load_corpus(tiny_text()))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="train_preset").set_value("Custom").run()
    for key, value in {"hp_layers": 4, "hp_units": 4096, "hp_embedding": 1024, "hp_epochs": 1000,
                       "hp_time_budget": 0.0}.items():
        at.number_input(key=key).set_value(value)
    at.run()
    assert not at.exception
    [said] = [shown(e.value) for e in at.error]
    assert said.startswith("By the estimate this run would train for ") and said.endswith(
        "hours, more than the 60 minutes a run may take on this server: set a time budget, or choose a smaller model.")
    assert next(b for b in at.button if b.label == "Start training").disabled
    at.number_input(key="hp_time_budget").set_value(20.0).run()          # a budget stops it in time
    assert not at.error and not next(b for b in at.button if b.label == "Start training").disabled
    monkeypatch.setenv(sizing.ALLOW_LONG, "1")
    at.number_input(key="hp_time_budget").set_value(0.0).run()
    assert not at.error and not next(b for b in at.button if b.label == "Start training").disabled
    assert Registry().list_runs() == []


def test_a_preset_is_fitted_to_a_chinese_text(workspace):
    """The Long preset reads word pieces; on a Chinese text the page fits it as the Corpus page's advice does:
    character level, and batches small enough for the steps a vocabulary of many characters needs."""
    import dataclasses

    from textgen import sizing

    poems = "".join(chr(0x4E00 + (i * 37) % 900) + ("，" if i % 7 == 6 else "") for i in range(30_000))
    saved = library.save_corpus("唐诗", load_corpus(poems))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="train_preset").set_value("Long").run()
    assert not at.exception
    meta = library.list_corpora()[0]
    assert meta["id"] == saved and meta["stats"]["has_words"] is False
    long = PRESETS["Long"]
    chars = dataclasses.replace(long.train, level="char")
    fitted = sizing.adapt(long, sizing.saved_counts(meta, chars, str(workspace)), cjk=True).train
    assert fitted.level == "char"
    notes = sizing.fit(long, sizing.saved_counts(meta, chars, str(workspace)), cjk=True).notes
    assert notes[0].startswith("Character level instead of word pieces: this text has no spaces between words")
    assert notes[1].startswith(f"Batches of {fitted.batch_size}") and len(notes) == 2   # 900 characters: 64 may do
    # the notes say what changed and why, once: no summary sentence before them repeating the batch size
    said = [shown(c.value) for c in at.caption if c.value.startswith("Character level instead")]
    assert said == [" ".join(notes)]
    assert not [c for c in at.caption if c.value.startswith("Fitted to this text")]


def test_a_preset_says_why_it_keeps_its_batch_and_that_a_small_text_is_read_many_times(workspace, monkeypatch):
    from textgen import kernels

    monkeypatch.setattr(kernels, "cpu_has_bf16_matmul", lambda: False)   # the estimate of the reference CPU
    library.save_corpus("Lamp words", load_corpus(tiny_text(180_000)))   # more than half the model's size
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert [shown(c.value) for c in at.caption if c.value.startswith("Batches")] == [
        "Batches of 64, as tuned: this text gives 534 updates in 1 minute of training, at least the 400 a run needs."]
    assert [i.value for i in at.info] == [
        "By the estimate this run reads the text about 14 times, often enough that it may learn it by heart; the "
        "learning curve rings its best score on held-back text, and that checkpoint is the one that writes."]
    at.radio(key="train_preset").set_value("Custom").run()
    at.number_input(key="hp_epochs").set_value(2).run()   # two passes at most: nothing to say
    assert not at.exception and not at.info
    assert not [c for c in at.caption if c.value.startswith(("Batches", "Fitted"))]   # Custom is never fitted


def test_a_text_too_small_for_the_model_gets_one_note_not_two(workspace, monkeypatch):
    from textgen import kernels

    monkeypatch.setattr(kernels, "cpu_has_bf16_matmul", lambda: False)
    library.save_corpus("Pebble words", load_corpus(tiny_text(20_000)))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "This model has over twice as many parameters as the text has characters: it may learn the text by heart. "
        "The learning curve rings its best score on held-back text, and that checkpoint is the one that writes; a "
        "smaller model (Custom) or more text will generalise better."]
    assert not at.info   # the many-passes note would say the same again


def test_custom_can_train_with_plain_sgd(workspace):
    cid, at = start(workspace, tiny_text())
    box = at.selectbox(key="hp_optimizer")
    assert (box.value, box.options, box.disabled) == ("adam", ["Adam", "plain SGD"], False)
    box.set_value("sgd").run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    reg = Registry()
    run_id = reg.list_runs()[0]["id"]
    args = json.loads(reg.get_run(run_id)["args"])
    assert args[args.index("--optimizer") + 1] == "sgd"
    run = wait_for(reg, run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "done", run["message"]
    assert json.loads((reg.run_dir(run_id) / "config.json").read_text())["train"]["optimizer"] == "sgd"


def test_a_preset_trains_with_adam_and_shows_it_read_only(workspace):
    library.save_corpus("Lamp words", load_corpus(tiny_text()))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.toggle(key="train_show_hp").set_value(True).run()
    box = at.selectbox(key="hp_optimizer")
    assert (box.value, box.disabled) == (PRESETS["Quick"].train.optimizer, True) == ("adam", True)

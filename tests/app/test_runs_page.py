"""The Runs page, driven through AppTest over a run trained by the command line."""
from _shown import shown  # noqa: E402
import dataclasses
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from textgen import Registry, bundle

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "runs.py")


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory) -> Path:
    """One tiny run, trained once by `python -m textgen train`; each test gets its own copy."""
    home = tmp_path_factory.mktemp("runs-page") / "workspace"
    rng = random.Random(3)
    words = "the gull turns over the harbour wall and the bell rings twice".split()
    corpus = home.parent / "gulls.txt"
    corpus.write_text(" ".join(rng.choice(words) for _ in range(600)), "utf-8")
    env = {**os.environ, "INKWELL_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-m", "textgen", "train", str(corpus), "--cell", "gru", "--layers", "1",
                           "--units", "16", "--embedding", "8", "--seq-len", "20", "--batch-size", "8",
                           "--epochs", "2", "--sample-length", "20", "--name", "Gulls"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    return home


@pytest.fixture()
def ws(trained_home, tmp_path, monkeypatch) -> Registry:
    home = tmp_path / "workspace"
    shutil.copytree(trained_home, home)
    monkeypatch.setenv("INKWELL_HOME", str(home))
    return Registry(home)


def open_page():
    return AppTest.from_file(PAGE, default_timeout=30).run()


def tick(at: AppTest, rows: list[int]) -> None:
    """Tick table rows as a browser does (the table's key changes with its rows)."""
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": []}}
    at.run()


def overlay_runs(at: AppTest) -> list[str]:
    from streamlit import dataframe_util

    chart = at.get("vega_lite_chart")[0].proto
    return sorted(set(dataframe_util.convert_arrow_bytes_to_pandas_df(chart.datasets[0].data.data)["run"]))


def other_model(blob: bytes) -> bytes:
    """The same bundle with other weights (of the same shape): a different model, not a re-import."""
    import io
    import zipfile

    import numpy as np

    src = zipfile.ZipFile(io.BytesIO(blob))
    with np.load(io.BytesIO(src.read("weights.npz"))) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["logits/bias"] = arrays["logits/bias"] + 0.25
    weights = io.BytesIO()
    np.savez(weights, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, weights.getvalue() if name == "weights.npz" else src.read(name))
    return out.getvalue()


def import_on_page(at: AppTest, blob: bytes) -> None:
    at.file_uploader(key="bundle_upload").set_value(("gulls.zip", blob, "application/zip"))
    at.run()
    at.button(key="bundle_import").click().run()


def test_empty_workspace(workspace):
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "Runs"
    assert at.info[0].value.startswith("No runs yet")
    assert not at.dataframe


def test_table_lists_the_run(ws):
    run = ws.list_runs()[0]
    at = open_page()
    assert not at.exception
    rows = at.dataframe[0].value.to_dict("records")
    assert len(rows) == 1
    row = rows[0]
    assert {k: row[k] for k in ("label", "status", "level", "cell", "size", "parameters", "epochs")} == {
        "label": "Gulls", "status": "done", "level": "character", "cell": "GRU", "size": "1×16",
        "parameters": run["params"], "epochs": 2}
    assert row["best score"] == pytest.approx(run["best_val_bpc"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Best score"] == f"{run['best_val_bpc']:.3f}"
    assert metrics["Parameters"] == f"{run['params']:,}"
    assert any("Tick runs in the table" in c.value for c in at.caption)


def test_selected_runs_overlay_their_curves(ws):
    from streamlit import dataframe_util

    run = ws.list_runs()[0]
    at = open_page()
    tick(at, [0])
    assert not at.exception
    chart = at.get("vega_lite_chart")[0].proto
    frame = dataframe_util.convert_arrow_bytes_to_pandas_df(chart.datasets[0].data.data)
    expected = [(m["epoch"], m["val_bpc"], "Gulls") for m in ws.metrics(run["id"], "epoch")]
    assert len(expected) == 2
    # Without a time budget the runs raced no clock: the axis is the epoch.
    assert at.session_state["runs_axis"] == "epoch"
    assert [tuple(r) for r in frame[["x", "val_bpc", "run"]].itertuples(index=False)] == expected


def test_the_overlay_rings_each_runs_best_epoch_and_says_it_writes(ws):
    from streamlit import dataframe_util

    run = ws.list_runs()[0]
    at = open_page()
    tick(at, [0])
    frames = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data)
              for d in at.get("vega_lite_chart")[0].proto.datasets]
    marked = [f for f in frames if "label" in f.columns and "run" in f.columns]
    best = min(ws.metrics(run["id"], "epoch"), key=lambda m: m["val_bpc"])
    assert best["val_bpc"] == run["best_val_bpc"]   # the registry's best is the point ringed
    assert marked and all(f.drop(columns=["label_y"], errors="ignore").to_dict("records") == [{
        "x": best["epoch"], "val_bpc": best["val_bpc"], "epoch": best["epoch"], "run": "Gulls",
        "label": f"best {best['val_bpc']:.3f} · epoch {best['epoch']:g}"}] for f in marked)
    assert any(c.value.startswith("Ringed: each run's best score on held-out text.") for c in at.caption)


def test_rename(ws):
    run_id = ws.list_runs()[0]["id"]
    at = open_page()
    at.text_input(key=f"rename_{run_id}").set_value("  Gulls, take two\x07 ")
    at.button(key=f"do_rename_{run_id}").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Renamed."]
    assert ws.get_run(run_id)["label"] == "Gulls, take two"
    assert at.dataframe[0].value["label"].tolist() == ["Gulls, take two"]


def test_bad_bundle_upload_shows_an_error(ws):
    at = open_page()
    at.file_uploader(key="bundle_upload").set_value(("model.zip", b"PK\x03\x04 not really", "application/zip"))
    at.run()
    at.button(key="bundle_import").click().run()
    assert not at.exception
    assert [shown(e.value) for e in at.error] == ["This is not an Inkwell model bundle (not a zip file)."]
    assert len(ws.list_runs()) == 1


def test_bundle_round_trip(ws):
    run_id = ws.list_runs()[0]["id"]
    blob = other_model(bundle.bundle_bytes(run_id, ws))
    at = open_page()
    assert not at.get("download_button")[0].proto.disabled
    import_on_page(at, blob)
    assert not at.exception
    assert [s.value for s in at.success] == ["Imported: it is in the table above."]
    labels = at.dataframe[0].value["label"].tolist()
    assert labels == ["Gulls", "Gulls"]
    assert [r["status"] for r in ws.list_runs()] == ["done", "done"]


def test_write_with_this_model_makes_it_the_active_run(ws):
    run_id = ws.list_runs()[0]["id"]
    at = open_page()
    at.button(key=f"write_{run_id}").click().run()
    assert not at.exception
    assert at.session_state["active_run"] == run_id
    # the page runs alone here (no st.navigation): the switch falls back to a hint
    assert [i.value for i in at.info] == ["Open the page from the menu on the left."]


def test_importing_a_model_that_is_here_already_says_so(ws):
    run = ws.list_runs()[0]
    at = open_page()
    import_on_page(at, bundle.bundle_bytes(run["id"], ws))
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        f'This model is already here, as the run "Gulls" ({run["id"]}); rename that one instead of importing it again.']
    assert len(ws.list_runs()) == 1


def test_ticks_stay_on_their_runs_after_an_import(ws):
    gulls = ws.list_runs()[0]
    at = open_page()
    tick(at, [0])
    assert overlay_runs(at) == ["Gulls"]
    import_on_page(at, other_model(bundle.bundle_bytes(gulls["id"], ws)))
    assert not at.exception
    ws.update_run(ws.list_runs()[0]["id"], label="Imported")
    at.run()
    assert at.dataframe[0].value["label"].tolist() == ["Imported", "Gulls"]    # the new run is row 0 now
    assert overlay_runs(at) == ["Gulls"]                                          # the tick moved with Gulls
    assert at.session_state[at.dataframe[0].key]["selection"]["rows"] == [1]
    assert at.selectbox[0].value == gulls["id"]                                   # the picker follows the ticks


def test_delete_needs_confirmation(ws):
    run_id = ws.list_runs()[0]["id"]
    at = open_page()
    assert at.button(key=f"delete_{run_id}").disabled
    at.checkbox(key=f"sure_{run_id}").check().run()
    at.button(key=f"delete_{run_id}").click().run()
    assert not at.exception
    assert ws.list_runs() == []
    assert not ws.run_dir(run_id).exists()
    assert [s.value for s in at.success] == ["Deleted."]


def test_running_run_cannot_be_deleted(ws):
    run_id = ws.list_runs()[0]["id"]
    ws.requeue(run_id, [])
    ws.start(run_id, os.getpid())       # a live worker (this process) holds it
    at = open_page()
    at.checkbox(key=f"sure_{run_id}").check().run()
    at.button(key=f"delete_{run_id}").click().run()
    assert [shown(e.value) for e in at.error] == ["This run is still training; stop it before deleting it."]
    assert len(ws.list_runs()) == 1


def _chart_frame(at):
    from streamlit import dataframe_util

    return dataframe_util.convert_arrow_bytes_to_pandas_df(at.get("vega_lite_chart")[0].proto.datasets[0].data.data)


def test_the_overlay_runs_along_time_or_characters_seen(ws):
    from textgen.artifacts import read_config, write_config

    run = ws.list_runs()[0]
    model, cfg, meta = read_config(ws.run_dir(run["id"]))
    write_config(ws.run_dir(run["id"]), model, dataclasses.replace(cfg, time_budget=30.0), meta)
    at = open_page()
    tick(at, [0])
    assert at.session_state["runs_axis"] == "time"             # equal budgets: time by default
    epochs = ws.metrics(run["id"], "epoch")
    assert _chart_frame(at)["x"].tolist() == [m["elapsed"] for m in epochs]
    at.session_state["runs_axis"] = "characters"
    at.run()
    assert not at.exception
    per_step = cfg.batch_size * cfg.seq_len * meta["chars_per_token"]
    assert _chart_frame(at)["x"].tolist() == pytest.approx([m["step"] * per_step for m in epochs])


def test_train_with_each_cell_queues_three_equal_runs(ws, monkeypatch):
    from textgen import jobs
    from textgen.models import param_count
    from textgen.artifacts import read_config

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])   # queued, not started: the jobs are what is checked
    run = ws.list_runs()[0]
    at = open_page()
    at.button(key=f"each_cell_{run['id']}").click().run()
    assert not at.exception
    queued = [r for r in ws.list_runs() if r["status"] == "queued"]
    assert sorted(r["cell"] for r in queued) == ["gru", "lstm", "rnn"]
    cfgs = [json.loads(r["args"]) for r in queued]
    budgets = {a[a.index("--time-budget") + 1] for a in cfgs}
    assert len(budgets) == 1 and float(budgets.pop()) == pytest.approx(round(run["elapsed"]))
    model, _, _ = read_config(ws.run_dir(run["id"]))
    for r in queued:
        m = dataclasses.replace(model, cell=r["cell"], units=r["units"])
        assert abs(param_count(m) - run["params"]) / run["params"] < 0.05, r["cell"]
    assert sorted(at.session_state["runs_ticked"]) == sorted(r["id"] for r in queued)


def test_experiments_are_listed_apart_from_text_runs(ws):
    from textgen import experiments as ex

    exp_id = ex.create(ex.MemoryConfig(gaps=(5, 50)), ws)
    ws.create_run("Why gates? GRU", status="done", level=ex.LEVEL, cell="gru", corpus=f"memory task {exp_id}")
    at = open_page()
    assert not at.exception
    assert at.dataframe[0].value["label"].tolist() == ["Gulls"]          # the job is not a text run
    assert at.dataframe[1].value.to_dict("records")[0]["experiment"] == exp_id
    assert at.dataframe[1].value.to_dict("records")[0]["measured"] == "0 of 6"


def test_measurement_and_experiment_jobs_are_not_runs(ws, monkeypatch):
    from textgen import experiments as ex
    from textgen import jobs, vanishing

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    gulls = ws.list_runs()[0]
    sea = ws.create_run("Sea", status="done", level="char", cell="gru", layers=1, units=16, params=900)
    vanishing.submit(ws, [sea])                                                           # queued
    ws.create_run("Vanishing curve of Gulls", status="failed", level=vanishing.LEVEL, epochs=1)   # a failed one
    ex.submit(ex.MemoryConfig(gaps=(5, 50)), ws, cells=("gru",))
    imported = ws.create_run("Harbour bundle", status="done", cell="gru", layers=1, units=16)   # no level
    at = open_page()
    assert not at.exception
    assert sorted(at.dataframe[0].value["label"].tolist()) == ["Gulls", "Harbour bundle", "Sea"]
    assert sorted(at.selectbox[0].options) == sorted(
        f"{n} · {i[-6:]}" for n, i in (("Gulls", gulls["id"]), ("Harbour bundle", imported), ("Sea", sea)))

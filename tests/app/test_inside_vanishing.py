"""The Inside page's missing vanishing curves: each run's measurement queued once, and shown waiting, measuring,
failed with its reason, or measured."""
import os
import shutil
import time
from pathlib import Path

from _shown import shown
from streamlit.testing.v1 import AppTest

from textgen import Registry, gradients, jobs, vanishing

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "inside.py")


def _workspace(tiny_run, tmp_path, monkeypatch, n):
    """A copy of the tiny run and n more copies of it under their own ids and labels, none with a curve."""
    home, run_id = tiny_run
    copy = tmp_path / "ws"
    shutil.copytree(home, copy)
    monkeypatch.setenv("INKWELL_HOME", str(copy))
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])   # nothing starts: the states are the test's to set
    reg = Registry(copy)
    (copy / "runs" / run_id / gradients.CURVE_FILE).unlink()
    ids = []
    for i in range(n):
        rid = reg.create_run(f"copy {i}", status="running", cell="lstm", layers=2, units=16, level="char")
        shutil.rmtree(reg.run_dir(rid))
        shutil.copytree(copy / "runs" / run_id, reg.run_dir(rid))
        reg.finish(rid, "done")
        ids.append(rid)
        time.sleep(0.01)   # distinct creation times: the page lists runs newest first
    return reg, [run_id, *ids]


def _page(picked, token=None):
    at = AppTest.from_file(PAGE, default_timeout=60)
    if token:
        at.query_params["w"] = token
    at.session_state["draft"] = "A draft that must survive."   # the Write page's canonical key
    at.run()
    at.multiselect(key="inside_vanish_runs").set_value(picked).run()
    return at


def _lines(at):
    return [shown(c.value) for c in at.caption]


def test_each_missing_curve_shows_its_measurements_state(tiny_run, tmp_path, monkeypatch):
    reg, (a, b, c, d) = _workspace(tiny_run, tmp_path, monkeypatch, 3)
    vanishing.submit(reg, [a, b, c])
    reg.claim_next(1)                                   # a's measurement takes the only slot
    reg.start(vanishing.job_id(a), os.getpid())
    reg.fail(reg.claim_next(2)["id"], "This run keeps no copy of its text to measure on.")   # b's failed
    vanishing.measure_run(reg.run_dir(d))               # d's curve is there: it is charted, not listed
    titles = {r["id"]: f"{r['label']} · {r['id'][-6:]}" for r in reg.list_runs()}
    at = _page([a, b, c, d])
    assert not at.exception
    lines = _lines(at)
    assert f"{titles[a]}: measuring its curve…" in lines
    assert f"{titles[b]} has no curve: This run keeps no copy of its text to measure on." in lines
    assert f"{titles[c]}: waiting in the queue to be measured." in lines
    assert not any(l.startswith(titles[d]) and "curve" in l and "keeps about" not in l for l in lines)
    assert any(l.startswith(f"{titles[d]} (LSTM): each step back keeps about") for l in lines)   # d is charted
    assert at.get("progress")[0].proto.text == "0 of 3 curves measured"
    assert "inside_vanish_measure" not in [x.key for x in at.button]   # while some wait, no second request


def test_one_click_queues_one_job_per_missing_run_and_a_second_session_none(tiny_run, tmp_path, monkeypatch):
    reg, (a, b, c) = _workspace(tiny_run, tmp_path, monkeypatch, 2)
    first, second = _page([a, b, c]), _page([a, b, c])   # two sessions that both see the button
    lines = _lines(first)
    assert sum("has no curve yet: it was trained before Inkwell measured it." in l for l in lines) == 3
    first.button(key="inside_vanish_measure").click().run()
    second.button(key="inside_vanish_measure").click().run()
    assert not first.exception and not second.exception
    measuring = [r for r in reg.list_runs() if r["level"] == vanishing.LEVEL]
    assert sorted(r["id"] for r in measuring) == sorted(vanishing.job_id(x) for x in (a, b, c))
    assert {r["status"] for r in measuring} == {"queued"}
    assert sum("waiting in the queue to be measured." in l for l in _lines(second)) == 3
    assert first.session_state["draft"] == "A draft that must survive."
    # The measurement jobs are not text runs: the page's run pickers do not offer them.
    assert len(first.selectbox(key="inside_grad_run").options) == 3
    assert not any("Vanishing curve" in o for o in first.selectbox(key="inside_grad_run").options)


def test_the_page_queues_as_the_writer_who_clicked(tiny_run, tmp_path, monkeypatch):
    from textgen.identity import Identity

    reg, (a,) = _workspace(tiny_run, tmp_path, monkeypatch, 0)
    ana = "a" * 22
    reg.update_run(a, owner=Identity.writer(ana).owner)
    at = _page([a], ana)
    at.button(key="inside_vanish_measure").click().run()
    assert not at.exception
    assert reg.get_run(vanishing.job_id(a))["owner"] == Identity.writer(ana).owner
    assert reg.list_runs(Identity.writer("b" * 22)) == []   # another writer sees neither the run nor its job

"""app.py: navigation, the shared sidebar (model picker, training now), the workshop access code."""
from _shown import shown  # noqa: E402
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pages.ui import ACTIVE_RUN
from textgen.identity import Identity
from textgen import Registry
from textgen.artifacts import DEMO_ID

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture(autouse=True)
def v2_navigation(request):
    """Every shell test runs app.py as a browser does (conftest's v2_pages), unless it asks for
    real_page_detection."""
    if "real_page_detection" not in request.fixturenames:
        request.getfixturevalue("v2_pages")


@pytest.fixture()
def real_page_detection():
    """Asked for by a test that needs Streamlit's own pages/ detection (v2_navigation stands aside)."""


WRITER = "shell-test-writer-token-0001"   # the browser's writer token: the sidebar offers this writer's runs


def open_app():
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["w"] = WRITER
    return at.run()


def fake_finished_run(reg: Registry, label: str) -> str:
    """A registry row with a weights file: all the sidebar looks at (no TensorFlow needed)."""
    run_id = reg.create_run(label, status="done", cell="gru", layers=1, units=8, level="char",
                            owner=Identity.writer(WRITER).owner)   # the writer's own: their newest is the default
    np.savez(reg.run_dir(run_id) / "weights.npz", embedding=np.zeros((2, 2), np.float32))
    return run_id


def test_fresh_workspace_opens_on_corpus(workspace, monkeypatch):
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    monkeypatch.setattr("textgen.artifacts.DEMO_DIR", workspace / "no-demo")
    at = open_app()
    assert not at.exception
    assert at.title[0].value == "Corpus"    # nothing to write with yet
    assert not at.sidebar.radio
    assert any("No trained model yet" in c.value for c in at.sidebar.caption)
    assert "active_run" not in at.session_state


def test_demo_makes_write_the_default(workspace, monkeypatch):
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    at = open_app()
    assert not at.exception
    assert at.session_state[ACTIVE_RUN] == DEMO_ID
    assert [shown(o) for o in at.sidebar.radio(key="sidebar_model").options] == ["Demo model (lighthouse town)"]
    assert at.title[0].value == "Write"


def test_every_page_renders(workspace, monkeypatch):
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    at = open_app()
    for page, title in (("pages/train.py", "Train"), ("pages/runs.py", "Runs"), ("pages/corpus.py", "Corpus")):
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.title[0].value == title


def test_model_picker_sets_the_canonical_key(workspace, monkeypatch):
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    reg = Registry()
    older = fake_finished_run(reg, "Older")
    time.sleep(0.01)
    newer = fake_finished_run(reg, "Newer")
    reg.create_run("No weights", status="done")          # finished without an epoch: not offered
    reg.create_run("Broken", status="failed")
    at = open_app()
    assert not at.exception
    assert at.title[0].value == "Write"                  # a model exists: Write is the default page
    picker = at.sidebar.radio(key="sidebar_model")
    assert [shown(o) for o in picker.options] == [f"Newer · {newer[-6:]}", f"Older · {older[-6:]}",
                                                  "Demo model (lighthouse town)"]
    assert at.session_state[ACTIVE_RUN] == newer
    picker.set_value(older).run()
    assert at.session_state[ACTIVE_RUN] == older
    # another page setting the canonical key moves the picker too
    at.session_state[ACTIVE_RUN] = newer
    at.run()
    assert at.sidebar.radio(key="sidebar_model").value == newer


def popover_labels(node) -> list[str]:
    """The labels of the popovers under an AppTest node (its blocks, walked depth first)."""
    out = []
    for child in getattr(node, "children", {}).values():
        proto = getattr(child, "proto", None)
        if type(proto).__name__ == "Block" and proto.WhichOneof("type") == "popover":
            out.append(proto.popover.label)
        out += popover_labels(child)
    return out


def test_sidebar_shows_the_models_name_once_and_whole(workspace, monkeypatch):
    """A select box cut long names short (and a caption then repeated them): the name is a wrapping button."""
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    reg = Registry()
    long_name = "Letters from the lighthouse keeper, autumn and winter"
    longer = fake_finished_run(reg, long_name)
    at = open_app()
    assert not at.exception
    whole = f"{long_name} · {longer[-6:]}"
    assert [shown(label) for label in popover_labels(at.sidebar)] == [whole]
    assert not [c for c in at.sidebar.caption if "lighthouse" in c.value]
    assert not at.sidebar.selectbox
    at.sidebar.radio(key="sidebar_model").set_value(DEMO_ID).run()
    assert [shown(label) for label in popover_labels(at.sidebar)] == ["Demo model (lighthouse town)"]
    assert at.session_state[ACTIVE_RUN] == DEMO_ID


def test_training_now_shows_progress(workspace, monkeypatch):
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    monkeypatch.setenv("INKWELL_MAX_JOBS", "1")
    reg = Registry()
    # A "running" row owned by this (live) process keeps the queue full, so pump() starts nothing.
    reg.create_run("Sea words", status="running", pid=os.getpid(), heartbeat=time.time(), epoch=1, epochs=4,
                   step=5, steps=10)
    reg.create_run("Waiting words", status="queued", args=json.dumps([]))
    at = open_app()
    assert not at.exception
    assert "**Training now**" in [m.value for m in at.sidebar.markdown]
    assert [t.value for t in at.sidebar.text] == ["Sea words", "Waiting words"]
    bars = at.sidebar.get("progress")
    assert [b.proto.text for b in bars] == ["epoch 2 of 4 · step 5 of 10", "queued"]
    assert [b.proto.value for b in bars] == [37, 0]     # (1 + 5/10) / 4
    assert [r["status"] for r in reg.list_runs()] == ["queued", "running"]


def test_access_code(workspace, monkeypatch):
    monkeypatch.setenv("INKWELL_ACCESS_CODE", "lighthouse")
    at = open_app()
    assert not at.exception
    assert at.title[0].value == "Inkwell"
    assert [t.label for t in at.text_input] == ["Access code"]
    assert not at.sidebar.selectbox and not at.get("page_link")
    at.text_input(key="access_code_input").set_value("harbour").run()
    assert [shown(e.value) for e in at.error] == ["That code is not right; ask your host for it."]
    assert at.title[0].value == "Inkwell"
    at.text_input(key="access_code_input").set_value("lighthouse").run()
    assert not at.exception
    assert at.session_state["access_ok"] is True
    assert at.title[0].value in ("Corpus", "Write")
    at.run()   # remembered for the session
    assert at.title[0].value in ("Corpus", "Write")


def test_a_first_request_for_a_page_goes_through_app_py(workspace, monkeypatch, real_page_detection):
    """A fresh server whose first request is a page's URL (a tab reloaded after a restart) would run that
    page file alone in the old pages/ mode: no access gate, no sidebar. ui.through_app sends it through app.py."""
    monkeypatch.setenv("INKWELL_ACCESS_CODE", "lighthouse")
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/train.py").run()     # before any run: the page is found by its file name
    assert not at.exception
    assert at.title[0].value == "Inkwell"
    assert [t.label for t in at.text_input] == ["Access code"]
    at.text_input(key="access_code_input").set_value("lighthouse").run()
    assert not at.exception
    assert at.title[0].value == "Train"       # the deep link survives the gate


def test_the_web_process_never_imports_tensorflow(workspace):
    """Every page, rendered in a fresh interpreter, leaves TensorFlow and Keras unimported."""
    import subprocess
    import sys

    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from streamlit.testing.v1 import AppTest
for page in ("app.py", "pages/write.py", "pages/corpus.py", "pages/train.py", "pages/runs.py"):
    at = AppTest.from_file({str(ROOT)!r} + "/" + page, default_timeout=60).run()
    assert not at.exception, (page, at.exception)
print(sorted(m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "INKWELL_ACCESS_CODE": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_tab_icon_ships_with_the_app(workspace, monkeypatch):
    """A Material icon favicon is fetched from fonts.gstatic.com, which a room without internet cannot reach."""
    import streamlit as st
    from PIL import Image

    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    seen = {}
    real = st.set_page_config
    monkeypatch.setattr(st, "set_page_config", lambda **kw: (seen.update(kw), real(**kw))[1])
    at = open_app()
    assert not at.exception
    icon = seen["page_icon"]
    assert Path(icon) == ROOT / "assets" / "icon.png"
    with Image.open(icon) as im:
        assert (im.format, im.size, im.mode) == ("PNG", (64, 64), "RGBA")


def test_the_icon_is_what_make_icon_draws():
    import importlib.util

    from PIL import Image

    spec = importlib.util.spec_from_file_location("make_icon", ROOT / "assets" / "make_icon.py")
    make_icon = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icon)
    drawn = make_icon.rgba()
    assert (ROOT / "assets" / "icon.png").read_bytes() == make_icon.png_bytes(drawn)
    with Image.open(ROOT / "assets" / "icon.png") as im:
        assert np.array_equal(np.asarray(im), drawn)          # our PNG writer decodes to the same pixels
    assert tuple(drawn[32, 4, :3]) == make_icon.VIOLET and drawn[0, 0, 3] == 0   # violet inside, clear corners


def test_no_full_collection_after_every_script_run(workspace, monkeypatch):
    """Streamlit's post-script full collection held the GIL 0.1-0.2 s after every run of every session (3.5 a
    second in a polling room), stalling every other session's stream: it is off, and the start-up objects are
    frozen out of the collections Python still makes."""
    import gc
    import tomllib

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text("utf-8"))
    assert settings["runner"]["postScriptGC"] is False
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    at = open_app()
    assert not at.exception
    assert gc.get_freeze_count() > 10_000   # Streamlit, pandas and altair alone are over 100,000 objects


def test_measurements_are_not_training_they_are_named_for_what_they_are(workspace, monkeypatch):
    from textgen import experiments as ex
    from textgen import jobs, vanishing

    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    monkeypatch.setenv("INKWELL_MAX_JOBS", "1")
    reg = Registry()
    me = Identity.writer(WRITER)
    real_pump = jobs.pump
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])   # queue both jobs; the app's pump starts none below
    done = reg.create_run("Gulls", status="done", level="char", cell="gru", layers=1, units=16, params=900,
                          owner=me.owner)
    vanishing.submit(reg, [done], owner=me)
    ex.submit(ex.MemoryConfig(gaps=(5, 50)), reg, cells=("gru",), owner=me)
    monkeypatch.setattr(jobs, "pump", real_pump)
    # A running text run of this (live) process keeps the one slot full.
    reg.create_run("Sea words", status="running", pid=os.getpid(), heartbeat=time.time(), epoch=1, epochs=4,
                   step=5, steps=10, level="char", owner=me.owner)
    at = open_app()
    assert not at.exception
    heads = [m.value for m in at.sidebar.markdown]
    assert heads.index("**Training now**") < heads.index("**Measuring now**")
    assert [t.value for t in at.sidebar.text] == ["Sea words", "Vanishing curve of Gulls", "Why gates? GRU"]
    assert [b.proto.text for b in at.sidebar.get("progress")] == ["epoch 2 of 4 · step 5 of 10"]   # no epoch bars
    assert [c.value for c in at.sidebar.caption if " · " in c.value] == ["measuring a curve · queued",
                                                                        "memory experiment · queued"]


def test_only_measurements_show_no_training_heading(workspace, monkeypatch):
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    monkeypatch.setenv("INKWELL_MAX_JOBS", "1")
    reg = Registry()
    reg.create_run("Vanishing curve of Gulls", status="running", pid=os.getpid(), heartbeat=time.time(),
                   level="vanishing", epochs=1, owner=Identity.writer(WRITER).owner)
    at = open_app()
    assert not at.exception
    assert "**Training now**" not in [m.value for m in at.sidebar.markdown]
    assert "**Measuring now**" in [m.value for m in at.sidebar.markdown]
    assert [c.value for c in at.sidebar.caption if " · " in c.value] == ["measuring a curve · running"]

"""The Train page's live panel follows a text run, never a measurement's or an experiment's job."""
import os
import time

import pytest
import streamlit as st

from pages import train_panel, ui
from textgen import Registry, jobs, vanishing
from textgen import experiments as ex
from textgen.identity import Identity


@pytest.fixture()
def reg(workspace, monkeypatch):
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    monkeypatch.setattr(st, "session_state", {})   # followed() reads and writes only the session's dict
    return Registry(str(workspace))


def test_followed_attaches_to_the_text_run_not_the_newer_jobs(reg):
    me = Identity.writer("f" * 22)
    done = reg.create_run("Gulls", status="done", level="char", cell="gru", layers=1, units=16, params=900,
                          owner=me.owner)
    training = reg.create_run("Sea words", status="running", pid=os.getpid(), heartbeat=time.time(), level="char",
                              owner=me.owner)
    vanishing.submit(reg, [done], owner=me)                                 # newer than the text run: listed first
    ex.submit(ex.MemoryConfig(gaps=(5, 50)), reg, cells=("gru",), owner=me)
    assert [r["level"] for r in reg.list_runs(me)][:2] == [ex.LEVEL, vanishing.LEVEL]
    run = train_panel.followed(reg, me)
    assert run["id"] == training and st.session_state[ui.TRAIN_RUN] == training


def test_followed_finds_nothing_when_only_measurements_are_active(reg):
    me = Identity.writer("g" * 22)
    done = reg.create_run("Gulls", status="done", level="char", cell="gru", layers=1, units=16, params=900,
                          owner=me.owner)
    vanishing.submit(reg, [done], owner=me)
    assert train_panel.followed(reg, me) is None and ui.TRAIN_RUN not in st.session_state


def test_a_followed_id_that_names_a_job_shows_no_panel(reg):
    me = Identity.writer("h" * 22)
    done = reg.create_run("Gulls", status="done", level="char", owner=me.owner)
    vanishing.submit(reg, [done], owner=me)
    st.session_state[ui.TRAIN_RUN] = vanishing.job_id(done)
    assert train_panel.followed(reg, me) is None
    st.session_state[ui.TRAIN_RUN] = done
    assert train_panel.followed(reg, me)["id"] == done

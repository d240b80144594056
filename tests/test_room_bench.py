"""The workshop room through Streamlit's own protocol: a real server, several writers' sessions at once.

No timings are asserted: only that every rerun finishes, every Continue writes, every draft is intact, and
that idle sessions stop polling. The deadlines below bound how long a failure takes to show.
"""
import json
import os
import threading
import time

import pytest

from benchmarks.room import Server
from benchmarks.stclient import StreamlitSession
from textgen.runs import Registry

PROMPT = "The keeper climbed the tower and looked out over the harbor. "
WRITERS = 8


@pytest.fixture(scope="module")
def server():
    srv = Server(Server.ROOT, training=False)
    yield srv
    srv.stop()


def open_write(server, key: str) -> StreamlitSession:
    s = StreamlitSession(server.url, timeout=120)
    s.connect()
    s.rerun(query_string=f"d={key}")
    if "write_editor" not in s.widget_ids:
        s.rerun(page="write")
    return s


def saved(server, key: str) -> str:
    data = json.loads((server.home / "drafts" / f"{key}.json").read_text("utf-8"))
    return "".join(seg["text"] for seg in data["segments"])


def until(check, seconds: float = 60.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.2)
    return check()


def fake_job(server) -> tuple[Registry, str]:
    """A running row whose "worker" is this test process: every session's sidebar shows it and polls."""
    reg = Registry(server.home)
    return reg, reg.create_run("Room job", status="running", pid=os.getpid(), heartbeat=time.time(),
                               epoch=0, epochs=3, step=1, steps=10)


def test_a_fresh_server_opens_for_a_whole_room_at_once():
    """The first runs of a fresh server import pages.ui at the same moment; one import that raised (st.rerun,
    leaving Streamlit's old pages/ mode) made the others fail with "cannot import name 'ui'"."""
    srv = Server(Server.ROOT, training=False)
    gate = threading.Barrier(WRITERS * 2)
    outcome = []

    def first_view(i):
        s = StreamlitSession(srv.url, timeout=120)
        try:
            s.connect()
            gate.wait()
            s.rerun(query_string=f"d=firstview{i:02d}-abcd")
            outcome.append("ok" if "write_editor" in s.widget_ids else "no Write page")
        except Exception as e:  # noqa: BLE001 - counted below
            outcome.append(str(e)[:120])
        finally:
            s.close()

    try:
        threads = [threading.Thread(target=first_view, args=(i,)) for i in range(WRITERS * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=200)
        assert outcome == ["ok"] * WRITERS * 2, (sorted(set(outcome)), srv.errors())
        assert srv.errors() == []
    finally:
        srv.stop()


def test_sessions_poll_only_while_a_job_trains(server):
    s = open_write(server, "pollkey-" + "a" * 12)
    try:
        s.rerun(strings={"write_editor": PROMPT})
        assert s.fragments == {}                       # nothing trains: nothing to poll
        reg, job = fake_job(server)
        s.rerun()
        assert list(s.fragments.values()) == [2.0]     # the sidebar's "Training now" polls every 2 s
        reg.finish(job, "done")
        # The next poll finds nothing training and makes one full run, which ends the timer.
        assert until(lambda: s.fragments == {}), "the sidebar kept polling after the job ended"
        assert saved(server, "pollkey-" + "a" * 12) == PROMPT
    finally:
        s.close()


def test_a_crowd_of_writers_loses_no_continue(server):
    reg, job = fake_job(server)          # every session polls the sidebar all through the test
    keys = [f"crowd{i:02d}-" + "b" * 12 for i in range(WRITERS)]
    sessions = [open_write(server, k) for k in keys]
    results: dict[str, object] = {}
    try:
        for s, k in zip(sessions, keys):
            s.rerun(strings={"write_editor": PROMPT + k})
        assert all(s.fragments for s in sessions)
        gate = threading.Barrier(WRITERS)

        def press(s, k):
            got = []
            s.listener = lambda now, path, delta: got.append(path)
            try:
                gate.wait()
                s.rerun(triggers=("w_continue",))
                results[k] = len(got)
            except Exception as e:  # noqa: BLE001 - reported below, per writer
                results[k] = e
            finally:
                s.listener = None

        threads = [threading.Thread(target=press, args=(s, k)) for s, k in zip(sessions, keys)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=200)
        failed = {k: r for k, r in results.items() if not isinstance(r, int) or r == 0}
        assert len(results) == WRITERS and not failed, failed
        time.sleep(5)   # a few sidebar polls carry each tab's widget states after the Continue
        for k in keys:
            text = saved(server, k)
            assert text.startswith(PROMPT + k) and len(text) > len(PROMPT + k), (k, text[:120])
        for s, k in zip(sessions, keys):   # and the next full run keeps the model's text too
            before = saved(server, k)
            s.rerun()
            assert saved(server, k) == before
            assert s.widget_value("write_editor").string_value == before
    finally:
        reg.finish(job, "done")
        for s in sessions:
            s.close()

"""The protocol client's reading of fragment runs, fed the messages a server sends (no server needed)."""
import threading

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.stclient import StreamlitSession

DESK, POLL = "desk-fragment", "sidebar-fragment"


class Wire:
    """The socket: keeps what the client sent."""

    def __init__(self):
        self.sent = []

    def send_binary(self, data):
        msg = BackMsg()
        msg.ParseFromString(data)
        self.sent.append(msg)


def session() -> StreamlitSession:
    s = StreamlitSession("http://127.0.0.1:1", timeout=5, poll_fragments=False)
    s.ws = Wire()
    s.widget_ids = {"w_continue": "$$ID-abc-w_continue", "w_sidebar": "$$ID-def-w_sidebar"}
    s.widget_fragments = {"w_continue": DESK, "w_sidebar": ""}
    return s


def started(*fragments) -> bytes:
    fwd = ForwardMsg()
    fwd.new_session.page_script_hash = "page"
    fwd.metadata.run.fragment_ids.extend(fragments)
    return fwd.SerializeToString()


def finished(status, *fragments) -> bytes:
    fwd = ForwardMsg()
    fwd.script_finished = status
    fwd.metadata.run.fragment_ids.extend(fragments)
    return fwd.SerializeToString()


def press(s, key, messages) -> list:
    """Press a button while the server sends `messages`; returns [status] or [the exception]."""
    out = []

    def run():
        try:
            out.append(s.rerun(triggers=(key,)))
        except Exception as e:  # noqa: BLE001 - the test reads it
            out.append(e)

    t = threading.Thread(target=run)
    t.start()
    while not s.ws.sent:
        pass
    for raw in messages:
        s._handle(0.0, raw)
    t.join(timeout=10)
    return out


def test_a_button_in_a_fragment_reruns_that_fragment_and_waits_for_its_end():
    s = session()
    got = press(s, "w_continue", [started(POLL), finished(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY, POLL),
                                  started(DESK), finished(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY, DESK)])
    assert got == [ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY]
    assert s.ws.sent[0].rerun_script.fragment_id == DESK        # a poll's end before it is not its end


def test_a_fragment_run_whose_end_was_dropped_ends_when_a_poll_begins():
    """Streamlit drops or rewrites ("early for rerun") a fragment run's end when a poll's run starts first."""
    for lost_end in ([], [finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN, DESK)]):
        s = session()
        got = press(s, "w_continue", [started(DESK), *lost_end, started(POLL)])
        assert got == [ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY]


def test_an_early_end_followed_by_the_same_fragment_waits_for_that_run():
    s = session()
    got = press(s, "w_continue", [started(DESK), finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN, DESK),
                                  started(DESK), finished(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY, DESK)])
    assert got == [ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY] and s._finished.empty()


def test_a_button_outside_fragments_waits_for_the_full_run():
    s = session()
    got = press(s, "w_sidebar", [started(), started(POLL), finished(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
                                                                     POLL), finished(ForwardMsg.FINISHED_SUCCESSFULLY)])
    assert got == [ForwardMsg.FINISHED_SUCCESSFULLY] and s.ws.sent[0].rerun_script.fragment_id == ""

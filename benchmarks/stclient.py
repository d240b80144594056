"""A minimal client of Streamlit's browser protocol, for load tests that measure the server, not browsers.

It speaks what the browser speaks over `/_stcore/stream`: binary protobuf BackMsg frames up (a rerun with
the page's widget states), ForwardMsg frames down (new_session, deltas, script_finished, auto_rerun). It
renders nothing; it keeps the widget ids it has seen (by their keys), reruns `run_every` fragments as a
browser does (the sidebar's and the live panel's polling are part of the load), and hands each delta to a
listener, which is enough to type into the Write page, press Continue and time the streamed text.

Works with plain threads and under gevent's monkey-patching (Locust), where the threads are greenlets. The
socket is websocket-client's where it is installed (cooperative under gevent), else that of the `websockets`
package Streamlit itself depends on, so tests need nothing beyond the app's own requirements.
"""
from __future__ import annotations

import collections
import queue
import threading
import time

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ID_PREFIX = "$$ID-"   # Streamlit's element ids: "$$ID-<hash>-<user key>"


class ProtocolError(RuntimeError):
    """The server closed the stream, showed an exception, or took too long."""


class _Websockets:
    """The three calls of websocket-client's socket this client uses, over the `websockets` sync client."""

    def __init__(self, url: str, origin: str):
        from websockets.sync.client import connect

        self.conn = connect(url, subprotocols=["streamlit"], origin=origin, max_size=None, proxy=None, legacy=True, ping_interval=None,
                            compression=None)

    def recv(self) -> bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            return self.conn.recv()
        except ConnectionClosed:
            return b""

    def send_binary(self, data: bytes) -> None:
        self.conn.send(data)

    def close(self) -> None:
        self.conn.close()


def _open(url: str, origin: str):
    try:
        import websocket   # websocket-client: blocking sockets, which gevent makes cooperative
    except ImportError:
        return _Websockets(url, origin)
    return websocket.create_connection(url, subprotocols=["streamlit"], origin=origin, timeout=None)


class StreamlitSession:
    """One browser tab: a WebSocket session with its own Streamlit session state."""

    def __init__(self, base_url: str, timeout: float = 120.0, poll_fragments: bool = True):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.poll_fragments = poll_fragments
        self.ws = None
        self.widget_ids: dict[str, str] = {}      # user key -> widget id
        self.widget_fragments: dict[str, str] = {}  # user key -> the st.fragment it is drawn in
        self.values: dict[str, WidgetState] = {}  # widget id -> the value a browser would send again
        self.block_paths: dict[str, tuple[int, ...]] = {}   # keyed container -> its delta path
        self.page_hashes: dict[str, str] = {}     # url path name -> page_script_hash
        self.page_hash = ""                       # the page the session is on
        self.query_string = ""
        self.fragments: dict[str, float] = {}     # run_every fragment id -> interval (s)
        self.exceptions: list[str] = []           # st.exception messages seen (a page that crashed)
        self.listener = None                      # called as listener(time, path, delta) for full runs' deltas
        self._finished: queue.Queue = queue.Queue()
        self._send_lock = threading.RLock()
        self._closed = threading.Event()
        self._in_fragment_run = False
        self._run_fragments: tuple[str, ...] = ()  # the fragments the run now streaming redraws
        self._awaited = ""                        # the fragment whose run `rerun` waits for
        self._awaited_began = False               # a run of the awaited fragment has started
        self.trail: collections.deque = collections.deque(maxlen=8)   # the latest runs' starts and ends

    # -- connection -------------------------------------------------------------------------------
    def connect(self) -> None:
        url = "ws" + self.base_url[len("http"):] + "/_stcore/stream"
        self.ws = _open(url, self.base_url)
        threading.Thread(target=self._reader, daemon=True).start()
        if self.poll_fragments:
            threading.Thread(target=self._poller, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - closing a dead socket
                pass

    # -- one script run ------------------------------------------------------------------------------
    def rerun(self, query_string: str | None = None, page: str | None = None, triggers: tuple[str, ...] = (),
              strings: dict[str, str] | None = None) -> int:
        """Send the rerun a browser sends and wait until the run (and any st.rerun() it makes) ends.

        triggers: keys of buttons pressed now; strings: key -> new text of a text widget. As a browser
        does, a change to widgets that all sit in one st.fragment reruns only that fragment. Returns the
        final script_finished status. Raises ProtocolError on a timeout, a closed socket or an exception.
        """
        changed = {self.widget_fragments.get(k, "") for k in (*triggers, *(strings or {}))}
        fragment = changed.pop() if len(changed) == 1 and query_string is None and page is None else ""
        if query_string is not None:
            self.query_string = query_string
        if page is not None:
            self.page_hash = self.page_hashes.get(page, "")
        # One lock from reading the widget values to sending them: a poll that read them before this change
        # and went out after it would carry the old text, and the server takes the later message's values.
        with self._send_lock:
            for key, text in (strings or {}).items():
                st_ = WidgetState(id=self._id(key), string_value=text)
                self.values[st_.id] = st_
            states = dict(self.values)
            for key in triggers:   # a trigger lasts one run: not kept in self.values
                states[self._id(key)] = WidgetState(id=self._id(key), trigger_value=True)
            while not self._finished.empty():
                self._finished.get_nowait()
            msg = BackMsg()
            cs = msg.rerun_script
            cs.query_string = self.query_string
            cs.page_script_hash = self.page_hash
            if page is not None:
                cs.page_name = page
            cs.widget_states.widgets.extend(states.values())
            cs.fragment_id = fragment
            self._awaited, self._awaited_began = fragment, False
            self._send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise queue.Empty
                status = self._finished.get(timeout=left)
            except queue.Empty:
                raise ProtocolError(f"the page did not finish within {self.timeout:.0f} s "
                                    f"(awaited {fragment or 'a full run'}; last: {self._trail()})") from None
            if isinstance(status, Exception):
                raise status
            if status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:   # st.rerun(): the next run follows by itself
                self._awaited = ""
                if self.exceptions:
                    raise ProtocolError("the page showed an exception: " + self.exceptions[-1][:200])
                return status

    def _trail(self) -> str:
        """The latest runs as the server announced them: which fragments, started or ended how, and when."""
        now = time.monotonic()
        return ", ".join(f"{what} {'/'.join(f[:6] for f in frags) or 'full'} {now - at:.1f} s ago"
                         for at, what, frags in self.trail) or "nothing"

    def widget_value(self, key: str):
        return self.values.get(self.widget_ids.get(key, ""))

    def _id(self, key: str) -> str:
        if key not in self.widget_ids:
            raise ProtocolError(f"no widget with key {key!r} on the page")
        return self.widget_ids[key]

    def _send(self, msg: BackMsg) -> None:
        if self.ws is None:
            raise ProtocolError("not connected")
        with self._send_lock:
            self.ws.send_binary(msg.SerializeToString())

    # -- background: read every message; rerun run_every fragments --------------------------------------
    def _reader(self) -> None:
        try:
            while not self._closed.is_set():
                raw = self.ws.recv()
                if not raw:
                    raise ProtocolError("the server closed the connection")
                self._handle(time.monotonic(), raw)
        except Exception as e:  # noqa: BLE001 - whatever ends the stream ends the waiting run too
            if not self._closed.is_set():
                self._finished.put(e if isinstance(e, ProtocolError) else ProtocolError(f"connection lost: {e}"))

    def _handle(self, now: float, raw: bytes) -> None:
        fwd = ForwardMsg()
        fwd.ParseFromString(raw)
        kind = fwd.WhichOneof("type")
        if kind == "new_session":
            self._run_fragments = tuple(fwd.metadata.run.fragment_ids)
            self.trail.append((now, "began", self._run_fragments))
            if self._awaited and self._awaited in self._run_fragments:
                self._awaited_began = True
            elif self._awaited_began and self._run_fragments:
                # Runs are one at a time: another fragment's run (a poll) means the awaited one ended. Streamlit
                # rewrites or drops that run's end message when the next run starts before it was sent.
                self._awaited_began = False
                self._finished.put(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
            self._in_fragment_run = bool(self._run_fragments)
            for p in fwd.new_session.app_pages:
                self.page_hashes[p.url_pathname] = p.page_script_hash
            if not self._in_fragment_run:
                # As the browser does: a full run ends every polling timer; the fragments it draws set theirs again.
                self.fragments.clear()
                if fwd.new_session.page_script_hash:
                    self.page_hash = fwd.new_session.page_script_hash
        elif kind == "delta":
            path = tuple(fwd.metadata.delta_path)
            self._learn(path, fwd.delta)
            if self.listener is not None and self._watched(self._run_fragments):
                self.listener(now, path, fwd.delta)
        elif kind == "script_finished":
            ran = tuple(fwd.metadata.run.fragment_ids) if fwd.metadata.HasField("run") else self._run_fragments
            self.trail.append((now, f"ended({fwd.script_finished})", ran))
            if self._watched(ran):
                self._awaited_began = self._awaited_began and fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN
                self._finished.put(fwd.script_finished)
        elif kind == "auto_rerun":
            self.fragments[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fid in fwd.stop_auto_rerun.fragment_ids:
                self.fragments.pop(fid, None)

    def _watched(self, fragments: tuple[str, ...]) -> bool:
        """Whether a run is the one `rerun` waits for: a full run, or a run of the fragment it asked for."""
        return not fragments or bool(self._awaited) and self._awaited in fragments

    def _learn(self, path: tuple[int, ...], delta) -> None:
        """Remember widget ids by their keys, and keyed containers' paths."""
        which = delta.WhichOneof("type")
        if which == "new_element":
            el = delta.new_element
            kind = el.WhichOneof("type")
            if kind == "exception":
                self.exceptions.append(el.exception.message)
                return
            wid = getattr(getattr(el, kind), "id", "") if kind else ""
            if wid.startswith(ID_PREFIX) and wid.count("-") >= 2:
                key = wid.split("-", 2)[2]
                self.widget_ids[key] = wid
                self.widget_fragments[key] = delta.fragment_id
            widget = getattr(el, kind) if kind in ("text_area", "text_input") else None
            if widget is not None and widget.set_value:
                # The script set the box's text (st.session_state[key] = ...): a browser shows it and sends it
                # from now on. Sending the old text instead would read as the writer's edit of the draft.
                self.values[wid] = WidgetState(id=wid, string_value=widget.value)
        elif which == "add_block":
            bid = delta.add_block.id
            if bid.startswith(ID_PREFIX) and bid.count("-") >= 2:
                self.block_paths[bid.split("-", 2)[2]] = path

    def _poller(self) -> None:
        """What a browser does for each st.fragment(run_every=...): ask for a rerun of it at its interval."""
        due: dict[str, float] = {}
        while not self._closed.wait(0.2):
            now = time.monotonic()
            for fid, interval in list(self.fragments.items()):
                if now >= due.setdefault(fid, now + interval):
                    due[fid] = now + interval
                    msg = BackMsg()
                    cs = msg.rerun_script
                    cs.fragment_id, cs.is_auto_rerun = fid, True
                    try:
                        with self._send_lock:
                            cs.query_string, cs.page_script_hash = self.query_string, self.page_hash
                            cs.widget_states.widgets.extend(self.values.values())
                            self._send(msg)
                    except Exception:  # noqa: BLE001 - the reader reports a dead socket
                        return


def markdown_body(delta) -> str | None:
    """The body of a markdown element delta, else None."""
    if delta.WhichOneof("type") != "new_element":
        return None
    el = delta.new_element
    return el.markdown.body if el.WhichOneof("type") == "markdown" else None

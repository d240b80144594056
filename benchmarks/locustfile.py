"""Locust users that write on Inkwell's Write page through Streamlit's own protocol (benchmarks/stclient.py).

Run by `python -m benchmarks.room`, which starts the server and a training job and reads the results;
by hand: `locust -f benchmarks/locustfile.py --headless -u 30 -r 30 -t 2m -H http://127.0.0.1:8501`.

Each user opens the Write page with a draft of its own (`?d=KEY`), types a paragraph, then presses
Continue: in `steady` mode every 10-30 s; in `burst` mode once, all users within one second of the same
moment. Two timings per Continue, both from the press: the first character of the model's text
(`first_char`) and the last one (`complete`). A Continue that fails or never completes is a failure
with its reason; every Continue is also written as one JSON line to --room-samples, so the p95 can
count failures instead of leaving them out, and the driver can check each writer's saved draft.
"""
from __future__ import annotations

import json
import random
import secrets
import sys
import time
from pathlib import Path

from locust import User, between, events, task
from locust.exception import StopUser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stclient import ProtocolError, StreamlitSession, markdown_body  # noqa: E402

PROMPT = "The keeper climbed the tower and looked out over the harbor. "
VIEW, EDITOR, CONTINUE = "w_view", "write_editor", "w_continue"   # the Write page's widget keys


@events.init_command_line_parser.add_listener
def _args(parser):
    parser.add_argument("--room-mode", choices=["steady", "burst"], default="steady")
    parser.add_argument("--room-at", type=float, default=0.0, help="burst: the Unix time to press Continue at")
    parser.add_argument("--room-samples", default="", help="a JSONL file for every Continue's outcome")
    parser.add_argument("--room-timeout", type=float, default=120.0)


def _record(environment, row: dict) -> None:
    path = environment.parsed_options.room_samples
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


class Writer(User):
    wait_time = between(10, 30)

    def on_start(self):
        opts = self.environment.parsed_options
        self.mode = opts.room_mode
        self.key = secrets.token_urlsafe(16)
        self.s = StreamlitSession(self.host, timeout=opts.room_timeout)
        t0 = time.monotonic()
        try:
            self.s.connect()
            self.s.rerun(query_string=f"d={self.key}")
            if EDITOR not in self.s.widget_ids:   # Write is the first page only when a model exists
                self.s.rerun(page="write")
            self.text = PROMPT + f"Writer {self.key[:6]} began. "
            self.shown = None               # the view's draft as the page last drew it
            self.s.listener = self._watch
            self.s.rerun(strings={EDITOR: self.text})
        except ProtocolError as e:
            self._fire("open", t0, e)
            # A writer who never got the page counts as a failed Continue, not as a missing sample.
            _record(self.environment, {"key": self.key, "kind": "open", "mode": self.mode, "start": time.time(),
                                       "error": f"could not open the Write page: {e}", "first": None,
                                       "complete": None, "prompt": ""})
            raise StopUser() from None
        self._fire("open", t0)
        if self.mode == "burst":   # everyone waits for the same moment, then presses within one second
            delay = opts.room_at - time.time() + random.uniform(0.0, 1.0)
        else:                      # writers arrive at different moments, as in a room
            delay = random.uniform(0.0, 10.0)
        if delay > 0:
            time.sleep(delay)

    def on_stop(self):
        self.s.close()

    def _fire(self, name: str, t0: float, exc: BaseException | None = None, length: int = 0) -> None:
        self.environment.events.request.fire(request_type="WS", name=name,
                                             response_time=(time.monotonic() - t0) * 1000,
                                             response_length=length, exception=exc, context={})

    def _watch(self, now, path, delta):
        view = self.s.block_paths.get(VIEW)
        if not view or len(path) != len(view) + 1 or path[:-1] != view:
            return
        body = markdown_body(delta)
        if body is None:
            return
        if path[-1] == 0:   # the view's first element: the draft as this run draws it
            if self.pressed is not None and self.shown is not None and body != self.shown:
                self.pressed(now, None)   # the model's text is in the draft the page shows
            self.shown = body
        elif self.pressed is not None:   # after it: the text streaming in
            self.pressed(now, body)

    pressed = None

    @task
    def press_continue(self):
        first = last = None
        chars = 0

        # What a person sees: the first streamed piece, or, where the stream's messages never left the
        # server (a rerun drops the ones still queued), the new draft in the view when the page redraws.
        def listen(now, body):
            nonlocal first, last, chars
            first = first or now
            if body is not None:
                last, chars = now, len(body)
            elif last is None:
                last = now

        self.pressed = listen
        t0 = time.monotonic()
        wall0 = time.time()
        error = None
        try:
            self.s.rerun(triggers=(CONTINUE,))
            if first is None:
                error = "no text arrived"
        except ProtocolError as e:
            error = str(e)
        finally:
            self.pressed = None
        done = time.monotonic()
        row = {"key": self.key, "mode": self.mode, "start": wall0, "error": error,
               "first": None if first is None else first - t0, "complete": None if last is None else last - t0,
               "page_done": done - t0, "chars": chars, "prompt": self.text}
        _record(self.environment, row)
        if error:
            self.environment.events.request.fire(request_type="WS", name="first_char", response_time=(done - t0) * 1000,
                                                 response_length=0, exception=ProtocolError(error), context={})
        else:
            self.environment.events.request.fire(request_type="WS", name="first_char",
                                                 response_time=row["first"] * 1000, response_length=chars,
                                                 exception=None, context={})
            self.environment.events.request.fire(request_type="WS", name="complete",
                                                 response_time=row["complete"] * 1000, response_length=chars,
                                                 exception=None, context={})
        if self.mode == "burst":   # one press each; the driver ends the run when all are in
            while True:
                time.sleep(3600)

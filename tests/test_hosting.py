"""Two Inkwell processes behind nginx, as docs/hosting.md sets them up: a writer's draft and runs follow them
from one process to the other, another writer's do not, and each browser stays on one process.

nginx runs unprivileged from a temporary prefix with docs/nginx-inkwell.conf as shipped (only its ports
changed). The browser tabs speak Streamlit's protocol (benchmarks/stclient.py), carrying the route cookie
nginx gave them as a browser would. No timings are asserted; the deadlines only bound a failure.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from benchmarks import stclient
from textgen.artifacts import DEMO_DIR
from textgen.identity import Identity, new_token
from textgen.runs import Registry

ROOT = Path(__file__).resolve().parent.parent
CONF, DOC = ROOT / "docs" / "nginx-inkwell.conf", ROOT / "docs" / "hosting.md"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
EDITOR, CONTINUE = "write_editor", "w_continue"   # the Write page's widget keys
PICKER = "sidebar_model"
PROMPT = "The ferry left at dawn, and the harbour master counted the gulls on the pier. "
LOG_FORMAT = "$cookie_inkwell_route $upstream_addr $uri"   # the test's access log: which process served what

# The test's own nginx.conf around the shipped file: pid, logs and temp paths under the prefix, no root needed.
MAIN_CONF = """daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    log_format routes '{log_format}';
    access_log {prefix}/access.log routes;
    include {prefix}/inkwell.conf;
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ok(url: str, proc: subprocess.Popen, seconds: float, log: Path) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"{url} exited ({proc.returncode}): {log.read_text(errors='replace')[-800:]}")
        try:
            if urllib.request.urlopen(url, timeout=2).read().strip() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds:.0f} s: {log.read_text(errors='replace')[-800:]}")


def proxied_conf(text: str, listen: int, upstreams: list[int]) -> str:
    """The shipped file with only its ports changed; fails if the file's shape changed under the test."""
    text, n = re.subn(r"(?m)^(\s*listen )\d+;", rf"\g<1>127.0.0.1:{listen};", text)
    ports = iter(upstreams)
    text, m = re.subn(r"(?m)^(\s*server 127\.0\.0\.1:)\d+;", lambda mt: f"{mt.group(1)}{next(ports)};", text)
    assert (n, m) == (1, len(upstreams)), "docs/nginx-inkwell.conf no longer has one listen and two servers"
    return text


class Room:
    """nginx on a free loopback port in front of two Streamlit processes sharing one workspace."""

    def __init__(self, tmp: Path):
        self.tmp, self.home, self.prefix = tmp, tmp / "workspace", tmp / "nginx"
        (self.prefix / "tmp").mkdir(parents=True)
        tmp.chmod(0o755)   # run as root, nginx's workers are `nobody` and must reach the prefix
        self.ports, self.port = [free_port(), free_port()], free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        tmp = self.tmp
        env = {k: v for k, v in os.environ.items() if not k.startswith("INKWELL_")}   # no access code, no host
        env.update(INKWELL_HOME=str(self.home), STREAMLIT_SERVER_COOKIE_SECRET="test-room-secret")
        for p in self.ports:
            log = tmp / f"streamlit-{p}.log"
            with open(log, "wb") as out:   # the child keeps its own descriptor
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(p),
                     "--server.address", "127.0.0.1", "--server.headless", "true",
                     "--browser.gatherUsageStats", "false"],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        (self.prefix / "inkwell.conf").write_text(proxied_conf(CONF.read_text(), self.port, self.ports))
        (self.prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=self.prefix, log_format=LOG_FORMAT))
        err = self.prefix / "error.log"
        self.nginx = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
                                       "-e", str(err)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.procs.append(self.nginx)
        for p, proc in zip(self.ports, self.procs):
            wait_ok(f"http://127.0.0.1:{p}/_stcore/health", proc, 60, tmp / f"streamlit-{p}.log")
        wait_ok(self.url + "/_stcore/health", self.nginx, 20, err)

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def log_lines(self) -> list[list[str]]:
        return [line.split() for line in (self.prefix / "access.log").read_text().splitlines() if line.strip()]

    def first_visit(self) -> str:
        """A new browser's first request: nginx answers with a route cookie. Returns its value."""
        with urllib.request.urlopen(self.url + "/", timeout=10) as r:
            cookies = r.headers.get_all("Set-Cookie") or []
        found = [m.group(1) for c in cookies if (m := re.match(r"inkwell_route=([0-9a-f]{32}); Path=/;", c))]
        assert len(found) == 1, f"nginx set no route cookie on a first visit: {cookies!r}"
        return found[0]

    def process_of(self, route: str, requests: int = 4) -> int:
        """Which Streamlit process a browser with this route cookie reaches (from the access log); each of
        several requests must reach the same one."""
        before = len(self.hits(route))
        for _ in range(requests):
            req = urllib.request.Request(self.url + "/_stcore/health", headers={"Cookie": f"inkwell_route={route}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                again = [c for c in r.headers.get_all("Set-Cookie") or [] if c.startswith("inkwell_route=")]
                assert again == [], "a browser with a route cookie was given another one"
        end = time.monotonic() + 10   # nginx logs a request just after answering it
        while len(hits := self.hits(route)[before:]) < requests:
            assert time.monotonic() < end, "nginx logged no line for a request it answered"
            time.sleep(0.05)
        assert len(set(hits)) == 1, f"one browser's requests reached several processes: {hits}"
        return hits[0]

    def hits(self, route: str, uri: str = "/_stcore/health") -> list[int]:
        """The process port of each logged request with this route cookie, oldest first."""
        return [int(f[1].rsplit(":", 1)[1]) for f in self.log_lines() if f[0] == route and f[2] == uri]

    def route_to(self, port: int) -> str:
        """A fresh browser's route that lands on the process at `port` (each lands on one or the other)."""
        for _ in range(40):
            route = self.first_visit()
            if self.process_of(route) == port:
                return route
        pytest.fail(f"40 new browsers and none reached the process on port {port}")


class _CookieSocket(stclient._Websockets):
    """stclient's socket as a browser opens it on a named site: the Cookie header, and Host and Origin that
    name the site and its port. The TCP connection goes to loopback (the name resolves nowhere)."""

    def __init__(self, url: str, origin: str, cookie: str, port: int):
        from websockets.sync.client import connect

        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn = connect(url, sock=sock, subprotocols=["streamlit"], origin=origin, max_size=None, proxy=None,
                            ping_interval=None, compression=None, legacy=True, additional_headers={"Cookie": cookie})


class Tab(stclient.StreamlitSession):
    """A browser tab behind the proxy, with its route cookie. Its site is not loopback, which Streamlit lets
    in from any Origin: only a Host with the port (nginx's $http_host) matches the page's Origin."""

    SITE = "inkwell.test"

    def __init__(self, room: Room, route: str):
        super().__init__(f"http://{self.SITE}:{room.port}", timeout=60, poll_fragments=False)
        self.route, self.port = route, room.port

    def connect(self) -> None:
        url = "ws" + self.base_url[len("http"):] + "/_stcore/stream"
        self.ws = _CookieSocket(url, self.base_url, f"inkwell_route={self.route}", self.port)
        threading.Thread(target=self._reader, daemon=True).start()

    def open_write(self, token: str, key: str) -> None:
        self.connect()
        self.rerun(query_string=f"w={token}&d={key}")
        if EDITOR not in self.widget_ids:   # Write is the first page only when a model exists
            self.rerun(page="write")

    def draft_shown(self) -> str:
        return self.widget_value(EDITOR).string_value

    def models(self) -> list[str]:
        """The sidebar picker's labels, as this run drew them."""
        seen = []
        self.listener = lambda now, path, delta: seen.append(delta)
        self.rerun()
        self.listener = None
        return [o for d in seen if d.WhichOneof("type") == "new_element"
                and d.new_element.WhichOneof("type") == "radio" and d.new_element.radio.id.endswith("-" + PICKER)
                for o in d.new_element.radio.options]


@pytest.fixture(scope="module")
def room():
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install -y nginx); the hosting test needs it")
    tmp = Path(tempfile.mkdtemp(prefix="inkwell-hosting-"))
    r = Room(tmp)
    try:
        r.start()
        yield r
    finally:   # also after a failed start: end whatever did start
        r.close()
        shutil.rmtree(tmp, ignore_errors=True)


def saved_text(room: Room, key: str) -> str:
    import json

    data = json.loads((room.home / "drafts" / f"{key}.json").read_text("utf-8"))
    return "".join(seg["text"] for seg in data["segments"])


def a_finished_run(room: Room, token: str, label: str) -> str:
    """A run of this writer's that finished: made the way a worker process does, from outside both servers."""
    reg = Registry(room.home)
    rid = reg.create_run(label, status="done", owner=Identity.writer(token).owner)
    shutil.copytree(DEMO_DIR, reg.run_dir(rid), dirs_exist_ok=True)   # the demo's weights stand in for training
    return rid


def test_the_doc_shows_the_config_the_test_runs():
    blocks = re.findall(r"```nginx\n(.*?)```", DOC.read_text("utf-8"), re.S)
    assert blocks == [CONF.read_text("utf-8")]


def test_the_doc_names_every_limit_a_host_can_set():
    code = "".join(p.read_text("utf-8") for d in ("textgen", "pages") for p in (ROOT / d).rglob("*.py"))
    names = set(re.findall(r"INKWELL_[A-Z_]+", code + (ROOT / "app.py").read_text("utf-8")))
    missing = sorted(n for n in names if n not in DOC.read_text("utf-8"))
    assert len(names) >= 8 and missing == []


def test_a_writers_draft_and_runs_follow_them_across_processes(room):
    one, two = room.ports
    a, b, key = new_token(), new_token(), "harbour-draft-0001"
    tabs = []
    try:
        # Writer A writes on process 1: types, presses Continue; the draft is saved in the shared workspace.
        a1 = Tab(room, room.route_to(one))
        tabs.append(a1)
        a1.open_write(a, key)
        a1.rerun(strings={EDITOR: PROMPT})
        a1.rerun(triggers=(CONTINUE,))
        after_one = saved_text(room, key)
        assert after_one.startswith(PROMPT) and len(after_one) > len(PROMPT)
        label = "Harbour model"   # no Markdown characters: the picker escapes them
        rid = a_finished_run(room, a, label)

        # The same link in a browser that lands on process 2: the same draft, the same runs.
        a2 = Tab(room, room.route_to(two))
        tabs.append(a2)
        a2.open_write(a, key)
        assert a2.draft_shown() == after_one
        mine = [m for m in a2.models() if m.startswith(label)]
        assert mine == [f"{label} · {rid[-6:]}"]
        assert [m for m in a1.models() if m.startswith(label)] == mine

        # A continues on process 2; the tab on process 1 shows the longer draft on its next run.
        a2.rerun(triggers=(CONTINUE,))
        after_two = saved_text(room, key)
        assert after_two.startswith(after_one) and len(after_two) > len(after_one)
        a1.rerun()
        assert a1.draft_shown() == after_two

        # Writer B, on either process, with A's draft link: neither A's text nor A's run.
        for port in (one, two):
            bt = Tab(room, room.route_to(port))
            tabs.append(bt)
            bt.open_write(b, key)
            assert PROMPT not in bt.draft_shown()
            assert not [m for m in bt.models() if m.startswith(label)]
        assert saved_text(room, key) == after_two   # B's visit left A's draft as it was
    finally:
        for t in tabs:
            t.close()

    # Each tab's WebSocket went to the process its route cookie chose, and both processes served tabs.
    routes = {t.route: room.process_of(t.route) for t in tabs}
    end = time.monotonic() + 10   # a WebSocket's log line is written when it closes
    while time.monotonic() < end and len([f for f in room.log_lines() if f[2] == "/_stcore/stream"]) < len(tabs):
        time.sleep(0.2)
    streams = [f for f in room.log_lines() if f[2] == "/_stcore/stream"]
    assert sorted((f[0], int(f[1].rsplit(":", 1)[1])) for f in streams) == sorted(
        (t.route, routes[t.route]) for t in tabs)
    assert set(routes.values()) == {one, two}

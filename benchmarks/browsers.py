"""Does the protocol client measure what a person sees? Five writers on one server press Continue at the same
moment, once as headless Chromium pages (the time read off the DOM) and once through benchmarks/stclient.py
(the time read off the protocol's messages), side by side in one run. Not a test: a measurement.

    python -m benchmarks.browsers [--writers 5] [--rounds 2] [--ref HEAD] [--training] [--out FILE]

Each round gives fresh writers (a new ?w= token and draft each) a typed paragraph, then presses Continue
for all of them at one wall-clock moment (in the page: a timer that clicks; in the client: threads that
wait for it). Timed from each writer's own press: the first change of the Write page's view (the draft
and the text streaming under it) and the last one, and when the longer draft is saved and shown. Rounds
alternate the two clients (browser, client, client, browser, ...), so a drift in the machine's load
falls on both. The code measured is `git archive REF`, fixed for the run, or the working tree (--ref .).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from room import Server, _proc, pct  # noqa: E402
from stclient import ProtocolError, StreamlitSession, markdown_body  # noqa: E402

from benchmarks.common import md_table  # noqa: E402

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
PROMPT = "The keeper climbed the tower and looked out over the harbor. "
EDITOR, CONTINUE, VIEW = "write_editor", "w_continue", "w_view"   # the Write page's widget keys
TIMEOUT = 120.0

# Before the page's scripts: the time each WebSocket message reaches the page, so a browser's delay can be
# split into the message's arrival (what the protocol client times) and the redraw that shows it.
MESSAGES = """(() => {
  const Socket = window.WebSocket;
  window.__messages = [];
  window.WebSocket = function (...args) {
    const ws = new Socket(...args);
    ws.addEventListener('message', () => { if (window.__t0 !== undefined) window.__messages.push(performance.now()); });
    return ws;
  };
  window.WebSocket.prototype = Socket.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})()"""

# In the page: at the wall-clock moment `at` (ms), click Continue and note every change of the view's text.
PRESS = """([at]) => new Promise(resolve => {
  const view = () => document.querySelector('.st-key-w_view');
  const box = () => document.querySelector('textarea[aria-label="Your draft"]');
  window.__changes = []; window.__saved = null;
  let text = view() ? view().innerText : '';
  const before = box().value.length;
  new MutationObserver(() => {
    const now = performance.now(), v = view(), t = v ? v.innerText : '';
    if (window.__t0 !== undefined && t !== text) { text = t; window.__changes.push([now, t.length]); }
    if (window.__t0 !== undefined && window.__saved === null && box() && box().value.length > before)
      window.__saved = now;
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  setTimeout(() => {
    window.__t0 = performance.now();
    document.querySelector('.st-key-w_continue button').click();
    resolve(before);
  }, Math.max(0, at - Date.now()));
})"""


async def _browser_writer(browser, url: str, at: float, out: list) -> None:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    await ctx.add_init_script(MESSAGES)
    page = await ctx.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    row = {"client": "browser", "error": None}
    try:
        await page.goto(f"{url}/?w={secrets.token_urlsafe(16)}&d={secrets.token_urlsafe(12)}")
        box = page.get_by_role("textbox", name="Your draft")
        await box.fill(PROMPT)
        await box.press("Tab")   # leaving the box sends its text, as a person's click elsewhere would
        await page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
        before = await page.evaluate(PRESS, [at * 1000])
        await page.wait_for_function("() => window.__saved !== null", timeout=TIMEOUT * 1000)
        await page.wait_for_timeout(1500)   # the redraw after the save, and nothing after it
        t0, changes, saved, msgs = await page.evaluate(
            "() => [window.__t0, window.__changes, window.__saved, window.__messages]")
        # The message that brought the first change is the last one to arrive before it.
        carried = max((m for m in msgs if changes and m <= changes[0][0]), default=None)
        row.update(first=(changes[0][0] - t0) / 1000 if changes else None,
                   first_message=(carried - t0) / 1000 if carried is not None else None,
                   last=(changes[-1][0] - t0) / 1000 if changes else None, saved=(saved - t0) / 1000,
                   changes=len(changes), chars=len(await box.input_value()) - before)
    except Exception as e:  # noqa: BLE001 - a measurement counts every failure
        row["error"] = f"{type(e).__name__}: {str(e)[:160]}"
    finally:
        await ctx.close()
    out.append(row)


async def _browser_round(url: str, writers: int, at: float) -> list[dict]:
    from playwright.async_api import async_playwright

    out: list[dict] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                          headless=True, args=FLAGS)
        await asyncio.gather(*(_browser_writer(browser, url, at, out) for _ in range(writers)))
        await browser.close()
    return out


def _client_writer(url: str, at: float, out: list, lock: threading.Lock) -> None:
    """The protocol client: the view's block and what is drawn in it, from the deltas."""
    row = {"client": "protocol", "error": None}
    s = StreamlitSession(url, timeout=TIMEOUT)
    shown: dict[int, str] = {}
    changes: list[float] = []

    def watch(now, path, delta):
        view = s.block_paths.get(VIEW)
        body = markdown_body(delta)
        if view and body is not None and len(path) == len(view) + 1 and path[:-1] == view:
            if shown.get(path[-1]) != body:
                shown[path[-1]] = body
                changes.append(now)

    try:
        s.connect()
        s.rerun(query_string=f"w={secrets.token_urlsafe(16)}&d={secrets.token_urlsafe(12)}")
        if EDITOR not in s.widget_ids:
            s.rerun(page="write")
        s.listener = watch
        s.rerun(strings={EDITOR: PROMPT})
        time.sleep(max(0.0, at - time.time()))
        changes.clear()
        t0 = time.monotonic()
        s.rerun(triggers=(CONTINUE,))
        saved = time.monotonic()
        text = s.widget_value(EDITOR).string_value
        row.update(first=changes[0] - t0 if changes else None, last=changes[-1] - t0 if changes else None,
                   saved=saved - t0, changes=len(changes), chars=len(text) - len(PROMPT))
    except ProtocolError as e:
        row["error"] = str(e)[:160]
    finally:
        s.close()
    with lock:
        out.append(row)


def _client_round(url: str, writers: int, at: float) -> list[dict]:
    out: list[dict] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_client_writer, args=(url, at, out, lock)) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT + at - time.time() + 30)
    return out


def summary(rows: list[dict], writers: int) -> dict:
    """Medians and p95s over the writers who saw text; a failed or missing one counts as slower than any."""
    ok = [r for r in rows if not r["error"] and r["first"] is not None]
    lost = writers - len(ok)
    stat = {}
    for k in ("first", "last", "saved"):
        vals = [r[k] for r in ok] + [float("inf")] * lost
        stat[f"{k}_median"], stat[f"{k}_p95"] = pct(vals, 0.5), pct(vals, 0.95)
    stat["errors"] = lost
    # Browsers only: from the message that carried the first change to the change on screen.
    redraw = [r["first"] - r["first_message"] for r in ok if r.get("first_message") is not None]
    stat["redraw_median"] = pct(redraw, 0.5) if redraw else None
    stat["chars_median"] = pct([r["chars"] for r in ok], 0.5)
    return stat


def _cpu() -> float:
    """CPU seconds of this process (the protocol clients' threads) and of its ended children: Playwright's
    driver, and through it the Chromium processes it reaped. The server has not ended, so it is not in."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _tree(ref: str) -> tuple[Path, Path | None, str]:
    """The code to measure: `git archive REF` in a temporary folder, or the working tree for '.'."""
    if ref == ".":
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.split("\n")
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        return ROOT, None, f"working tree at {head}" + (f", {len([d for d in dirty if d])} files changed" * any(dirty))
    commit = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="inkwell-browsers-"))
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    return tmp, tmp, commit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.browsers")
    ap.add_argument("--writers", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="rounds per client, alternating")
    ap.add_argument("--ref", default="HEAD", help="the commit to measure; '.' for the working tree")
    ap.add_argument("--training", action="store_true", help="one training job runs beside the writers")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    tree, tmp, code = _tree(args.ref)
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "code": code,
              "writers": args.writers, "length": 200, "model": "demo", "training_job": args.training,
              "browser": "one headless Chromium, a context per writer", "rounds": []}
    out = args.out or ROOT / "benchmarks" / "results" / f"browsers-{time.strftime('%Y-%m-%d-%H%M')}.json"
    server = Server(tree, training=args.training)
    try:
        _client_round(server.url, 1, time.time())   # the first Continue loads the model: not a round's cost
        order = ["browser", "protocol", "protocol", "browser"] * args.rounds
        for i, client in enumerate(order[:2 * args.rounds]):
            load0, server0, mine0 = os.getloadavg(), _proc(server.proc.pid)[0], _cpu()
            at = time.time() + (8.0 if client == "browser" else 4.0) + 1.0 * args.writers   # all open and type
            rows = (asyncio.run(_browser_round(server.url, args.writers, at)) if client == "browser"
                    else _client_round(server.url, args.writers, at))
            entry = {"round": i + 1, "client": client, **summary(rows, args.writers), "loadavg_before": load0,
                     "loadavg_after": os.getloadavg(), "server_cpu_s": _proc(server.proc.pid)[0] - server0,
                     "clients_cpu_s": _cpu() - mine0, "writers_rows": rows}
            report["rounds"].append(entry)
            print(line(entry), flush=True)
        report["server_errors"] = server.errors()[:5]
    finally:
        server.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print()
    print(table(report))
    print(json.dumps({k: v for k, v in report.items() if k != "rounds"}, default=str))
    print(f"\nwrote {out}")
    return 0


def _s(x) -> str:
    return "lost" if x is None or x == float("inf") else f"{x:.2f} s"


def line(r: dict) -> str:
    return (f"round {r['round']} ({r['client']}): first p95 {_s(r['first_p95'])}, last p95 {_s(r['last_p95'])}, "
            f"errors {r['errors']}, load {r['loadavg_before'][0]:.2f}")


HEADER = ("round", "client", "first change median / p95", "last change median / p95", "saved median / p95",
          "first message to first change, median", "chars", "errors", "CPU s: server / clients", "load before / after")


def table(report: dict) -> str:
    rows = ([r["round"], r["client"], f"{_s(r['first_median'])} / {_s(r['first_p95'])}",
             f"{_s(r['last_median'])} / {_s(r['last_p95'])}", f"{_s(r['saved_median'])} / {_s(r['saved_p95'])}",
             "n/a" if r.get("redraw_median") is None else _s(r["redraw_median"]), r["chars_median"], r["errors"],
             f"{r['server_cpu_s']:.1f} / {r['clients_cpu_s']:.1f}",
             f"{r['loadavg_before'][0]:.2f} / {r['loadavg_after'][0]:.2f}"] for r in report["rounds"])
    return (f"{report['writers']} writers press Continue together; code {report['code']}; "
            f"training job: {'yes' if report['training_job'] else 'no'}\n" + md_table(HEADER, rows))


if __name__ == "__main__":
    sys.exit(main())

"""Many writers at once: the real server, N concurrent browser sessions continuing drafts on the
Write page with the demo model, while one training job runs. Not a test: a measurement.

    python -m benchmarks.load [--writers 1,5,10] [--turns 3] [--out FILE]

For each N: median and 95th percentile of the time from clicking Continue to the first streamed
character and to the last (the draft updated), errors, the server's peak memory (VmHWM), and
whether the training job kept making progress. Drives Debian's Chromium through Playwright.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.common import md_table  # noqa: E402

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
PROMPT = "The keeper climbed the tower and looked out over the harbor."

# Installed in the page before a click: records when the model's text first appears in the view.
WATCH = """() => {
  const view = document.querySelector('.st-key-w_view');
  window.__base = view ? view.innerText.length : 0;
  window.__first = null;
  const obs = new MutationObserver(() => {
    const v = document.querySelector('.st-key-w_view');
    if (window.__first === null && v && v.innerText.length > window.__base) window.__first = performance.now();
  });
  obs.observe(document.body, {subtree: true, childList: true, characterData: true});
  return performance.now();
}"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vmhwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def writer(browser, url: str, turns: int, results: list, errors: list) -> None:
    ctx = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await ctx.new_page()
    page.set_default_timeout(120_000)
    try:
        await page.goto(url)
        box = page.get_by_role("textbox", name="Your draft")
        await box.fill(PROMPT)
        await box.press("Tab")
        await page.wait_for_timeout(800)
        for _ in range(turns):
            before = len(await box.input_value())
            t0 = await page.evaluate(WATCH)
            await page.get_by_role("button", name="Continue", exact=True).click()
            await page.wait_for_function(f"() => document.querySelector('textarea[aria-label=\"Your draft\"]')"
                                         f".value.length > {before}", timeout=120_000)
            t_last = await page.evaluate("() => performance.now()")
            t_first = await page.evaluate("() => window.__first")
            results.append({"first": ((t_first or t_last) - t0) / 1000, "last": (t_last - t0) / 1000})
            await page.wait_for_timeout(300)
    except Exception as e:  # noqa: BLE001 - a measurement counts every failure as an error
        errors.append(f"{type(e).__name__}: {str(e)[:200]}")
    finally:
        await ctx.close()


async def round_of(url: str, n: int, turns: int) -> tuple[list, list]:
    from playwright.async_api import async_playwright

    results, errors = [], []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                          headless=True, args=FLAGS)
        await asyncio.gather(*(writer(browser, url, turns, results, errors) for _ in range(n)))
        await browser.close()
    return results, errors


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.load")
    ap.add_argument("--writers", default="1,5,10")
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--no-training", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.writers.split(",")]
    home = Path(tempfile.mkdtemp(prefix="inkwell-load-"))
    port = _port()
    env = {**os.environ, "INKWELL_HOME": str(home), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true", "--server.address", "127.0.0.1"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for _ in range(180):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        os.environ["INKWELL_HOME"] = str(home)
        from textgen import ModelConfig, TrainConfig, jobs
        from textgen.runs import Registry

        reg = Registry(home)
        job = None
        if not args.no_training:
            job = jobs.submit(ROOT / "assets" / "sample.txt", ModelConfig(cell="gru", layers=1, units=256),
                              TrainConfig(seq_len=100, batch_size=64, epochs=1000, time_budget=3600, sample_length=0),
                              "load-test job", reg)
            while reg.get_run(job)["status"] != "running" or not reg.metrics(job, "batch"):
                time.sleep(1)
        for n in counts:
            step0 = len(reg.metrics(job, "batch")) if job else 0
            t0 = time.monotonic()
            results, errors = asyncio.run(round_of(url, n, args.turns))
            wall = time.monotonic() - t0
            progressed = (len(reg.metrics(job, "batch")) - step0) if job else None
            first = [r["first"] for r in results]
            last = [r["last"] for r in results]
            rows.append({"writers": n, "continues": len(results), "errors": len(errors), "error_samples": errors[:3],
                         "first_median": statistics.median(first) if first else None, "first_p95": pct(first, 0.95),
                         "last_median": statistics.median(last) if last else None, "last_p95": pct(last, 0.95),
                         "server_peak_mb": _vmhwm(server.pid), "training_flushes_during": progressed,
                         "wall_seconds": wall, "loadavg": os.getloadavg()})
            print(f"{n} writers: first p95 {rows[-1]['first_p95']:.2f}s, last p95 {rows[-1]['last_p95']:.2f}s, "
                  f"errors {len(errors)}", flush=True)
        if job:
            jobs.cancel(job, reg)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "turns": args.turns,
              "length": 200, "model": "demo (GRU 1x256)", "training_job": not args.no_training, "rows": rows}
    print(table(report))
    out = args.out or ROOT / "benchmarks" / "results" / f"load-{report['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")
    shutil.rmtree(home, ignore_errors=True)
    return 0


HEADER = ("writers", "continues", "first char median / p95 (target p95 < 1 s at 10)", "last char median / p95",
          "errors", "server peak", "training progressed")


def table(report: dict) -> str:
    def progressed(flushes) -> str:
        return f"{'yes' if flushes else 'no' if flushes == 0 else 'n/a'} ({flushes} metric flushes)"
    return md_table(HEADER, ([r["writers"], r["continues"], f"{r['first_median']:.2f} s / {r['first_p95']:.2f} s",
                              f"{r['last_median']:.2f} s / {r['last_p95']:.2f} s", r["errors"],
                              f"{r['server_peak_mb']:.0f} MB", progressed(r["training_flushes_during"])]
                             for r in report["rows"]))


if __name__ == "__main__":
    sys.exit(main())

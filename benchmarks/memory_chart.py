"""The memory experiment's chart as a PNG, taken from the Inside page in Chromium (what the README shows).

    nice -n 19 .venv/bin/python -m benchmarks.memory_chart WORKSPACE OUT.png [--experiment ID]

WORKSPACE is an INKWELL_HOME holding a finished experiment (the newest, or --experiment ID). The app runs on a
copy of it, so the page's polling never touches the original registry; in the copy the experiment is made
everyone's, so a page with no signed-in writer shows it whoever ran it. Prints the experiment's table and a JSON
line. The browser test (tests/e2e/test_browser.py) saves the same element with `save_chart`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
CHART = ".st-key-inside_memory_chart [data-testid='stVegaLiteChart']"   # the Inside page's experiment chart
VIEWPORT = {"width": 1100, "height": 1000}
SCALE = 2                        # device pixels per CSS pixel: sharp on a high-density screen
# Settled: the script is not running and no skeleton or running indicator is on screen.
SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') !== 'running'
        && document.querySelectorAll('[data-testid="stSkeleton"], [data-testid="stStatusWidget"]').length === 0;
}"""


def save_chart(page, out: Path, timeout_ms: int = 60_000) -> Path:
    """Wait for the Inside page's experiment chart to settle and save a PNG of that element alone."""
    chart = page.locator(CHART).first
    chart.wait_for(state="visible", timeout=timeout_ms)
    for _ in range(2):   # twice: a rerun can start just after the first check passes
        page.wait_for_function(SETTLED, timeout=timeout_ms)
        page.wait_for_timeout(700)   # the chart's own drawing after the element appears
    out.parent.mkdir(parents=True, exist_ok=True)
    chart.screenshot(path=str(out), timeout=timeout_ms)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(workspace: Path, into: Path, exp_id: str | None):
    """Copy the workspace; keep only the chosen experiment and make it everyone's. Its id, config and results."""
    from textgen import Registry
    from textgen import experiments as ex

    shutil.copytree(workspace, into)
    found = ex.list_experiments(Registry(into))
    if not found:
        raise SystemExit(f"memory_chart: {workspace} holds no memory experiment.")
    ids = [e["id"] for e in found]
    exp_id = exp_id or ids[0]
    if exp_id not in ids:
        raise SystemExit(f"memory_chart: there is no experiment {exp_id} in {workspace}.")
    for other in ids:
        if other != exp_id:
            shutil.rmtree(into / "experiments" / other)
    cfg_path = into / "experiments" / exp_id / "config.json"
    saved = json.loads(cfg_path.read_text("utf-8"))
    cfg_path.write_text(json.dumps({**saved, "owner": None}), "utf-8")
    cfg, cells, results = ex.load(Registry(into), exp_id)
    if len(results) < len(cells) * len(cfg.gaps):
        raise SystemExit(f"memory_chart: experiment {exp_id} is not finished ({len(results)} of "
                         f"{len(cells) * len(cfg.gaps)} trainings measured).")
    return exp_id, cfg, results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memory_chart", description=__doc__.split("\n")[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--experiment", default=None, help="its id (default: the newest)")
    args = ap.parse_args(argv)
    from textgen import experiments as ex

    with tempfile.TemporaryDirectory(prefix="memory-chart-") as tmp:
        home = Path(tmp) / "home"
        exp_id, cfg, results = _prepare(args.workspace, home, args.experiment)
        port = _free_port()
        env = {**os.environ, "INKWELL_HOME": str(home), "PYTHONPATH": str(ROOT)}
        for var in ("INKWELL_HOST_CODE", "INKWELL_ACCESS_CODE"):   # no code screen before the page
            env.pop(var, None)
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                   "--server.headless", "true", "--server.address", "127.0.0.1"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 90
            while True:
                try:
                    if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                        break
                except OSError:
                    if time.time() > deadline:
                        raise SystemExit("memory_chart: the app did not start within 90 s.") from None
                    time.sleep(0.5)
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                page = browser.new_page(viewport=VIEWPORT, device_scale_factor=SCALE)
                page.goto(url + "/inside", timeout=120_000)
                save_chart(page, args.out, timeout_ms=120_000)
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    print(ex.table(results, cfg))
    print(ex.explain(results, cfg))
    print(json.dumps({"png": str(args.out), "experiment": exp_id, "gaps": list(cfg.gaps), "seconds": cfg.seconds,
                      "accuracy": {f"{r.cell}/{r.gap}": r.accuracy for r in results},
                      "steps": {f"{r.cell}/{r.gap}": r.steps for r in results}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory (resident set) of (1) a process that loads the demo run and generates 500 characters
(NumPy only) and (2) the Streamlit web process serving the Write page.

(1) is ru_maxrss of the measuring child, read with resource.getrusage(RUSAGE_CHILDREN) by a
small launcher process (see LAUNCHER for why not directly); the child also reports whether
TensorFlow ended up in sys.modules. (2) starts `streamlit run app.py` with an
empty INKWELL_HOME, waits for /_stcore/health, fetches the page once (which does not run the
script), then, when Playwright and /usr/bin/chromium are present, opens the page in headless
Chromium so the script runs, waits 5 s, and reads VmHWM (peak RSS) from /proc/<pid>/status.
Chromium's own memory is a different process and is not counted.
"""
from __future__ import annotations

import json

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from .common import PYTHON, ROOT, Row, Target, env_for_child, loadavg, summary

CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]

GEN_SCRIPT = """
import json, resource, sys
from textgen import Generator
gen = Generator("demo")
text = "".join(gen.stream("The ", length={n}, seed=1))
print(json.dumps({{"chars": len(text), "tensorflow_loaded": "tensorflow" in sys.modules,
                  "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""
BASE_SCRIPT = "import numpy"


# Linux carries a process's peak RSS across exec, and a child forked from this (TensorFlow-sized)
# benchmark process starts with our page tables: its own ru_maxrss would report our size. So a
# small launcher process starts the measured program as *its* child and reports
# resource.getrusage(RUSAGE_CHILDREN).ru_maxrss for it: a child of a 10 MB process, measured cleanly.
LAUNCHER = """
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
print(json.dumps({"child_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
sys.exit(proc.returncode)
"""


def _child_maxrss(args: list[str], env: dict) -> tuple[int, str]:
    """Peak RSS in bytes of one child process (via a small launcher, see above), and its stdout."""
    proc = subprocess.run([PYTHON, "-c", LAUNCHER, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    lines = proc.stdout.strip().splitlines()
    kb = json.loads(lines[-1])["child_maxrss_kb"]
    return kb * 1024, "\n".join(lines[:-1])


def generation_memory(quick: bool, env: dict) -> dict:
    n = 100 if quick else 500
    reps = 1 if quick else 3
    peaks, base, info = [], [], {}
    for _ in range(reps):
        rss, out = _child_maxrss([PYTHON, "-c", GEN_SCRIPT.format(n=n)], env)
        peaks.append(rss / 1e6)
        info = json.loads(out.strip().splitlines()[-1])
        rss0, _ = _child_maxrss([PYTHON, "-c", BASE_SCRIPT], env)
        base.append(rss0 / 1e6)
    return {"peak_rss_mb": summary(peaks, "MB"), "python_numpy_baseline_mb": summary(base, "MB"),
            "chars": info.get("chars"), "tensorflow_loaded": info.get("tensorflow_loaded"),
            "child_self_report_maxrss_mb": info.get("self_maxrss_kb", 0) * 1024 / 1e6}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _maps_mention(pid: int, word: str) -> bool:
    try:
        return word in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _browse(url: str, wait: float) -> dict:
    """Open the page in headless Chromium so Streamlit runs the script; returns what happened."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"browser": "playwright not installed"}
    if not Path(CHROMIUM).exists():
        return {"browser": f"{CHROMIUM} not found"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_FLAGS)
        try:
            page = browser.new_page()
            page.goto(url, timeout=60_000)
            page.wait_for_selector('[data-testid="stApp"]', timeout=60_000)
            page.wait_for_timeout(wait * 1000)
            return {"browser": "chromium (playwright)", "title": page.title(),
                    "exceptions_on_page": page.locator('[data-testid="stException"]').count(),
                    "text_areas": page.locator("textarea").count()}
        finally:
            browser.close()


def streamlit_memory(quick: bool) -> dict:
    app = ROOT / "app.py"
    if not app.exists():
        return {"status": "not measured", "why": "app.py does not exist yet"}
    port = _free_port()
    home = tempfile.mkdtemp(prefix="inkwell-bench-web-")
    env = env_for_child(home)
    cmd = [PYTHON, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    log = open(Path(home) / "streamlit.log", "w+")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    out: dict = {"command": " ".join(cmd[1:]), "port": port}
    try:
        url = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None:
                log.seek(0)
                return {"status": "not measured", "why": f"streamlit exited ({proc.returncode}): {log.read()[-500:]}"}
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > 90:
                return {"status": "not measured", "why": "no health answer within 90 s"}
            time.sleep(0.2)
        out["seconds_to_healthy"] = time.perf_counter() - t0
        with urllib.request.urlopen(url + "/", timeout=10) as r:
            r.read()
        out["vmhwm_after_fetch_mb"] = (_status_kb(proc.pid, "VmHWM") or 0) * 1024 / 1e6
        try:
            out.update(_browse(url + "/", 2.0 if quick else 5.0))
        except Exception as e:  # a browser failure leaves the fetch-only figure, said as such
            out["browser"] = f"failed: {type(e).__name__}: {str(e)[:200]}"
        out["vmhwm_mb"] = (_status_kb(proc.pid, "VmHWM") or 0) * 1024 / 1e6
        out["vmrss_mb"] = (_status_kb(proc.pid, "VmRSS") or 0) * 1024 / 1e6
        out["tensorflow_mapped"] = _maps_mention(proc.pid, "tensorflow")
        out["script_ran"] = out.get("browser", "").startswith("chromium")
        out["status"] = "measured"
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def run(quick: bool = False) -> tuple[dict, list[Row]]:
    results: dict = {"loadavg_start": loadavg(), "method": __doc__.strip().split("\n\n", 1)[1]}
    with tempfile.TemporaryDirectory(prefix="inkwell-bench-mem-") as home:
        gen = generation_memory(quick, env_for_child(home))
    web = streamlit_memory(quick)
    results["generation_process"] = gen
    results["streamlit_process"] = web
    targets = []
    g = gen["peak_rss_mb"]
    t_gen = Target("generation process peak RSS", g["median"], 250.0, "max", "MB")
    targets.append(t_gen)
    rows = [Row("memory", f"load demo + generate {gen['chars']} chars (no TF: "
                f"{'TF loaded!' if gen['tensorflow_loaded'] else 'confirmed'})", f"{g['median']:.0f} MB",
                f"{g['min']:.0f}–{g['max']:.0f} MB (n={g['n']})",
                f"Python+NumPy alone {gen['python_numpy_baseline_mb']['median']:.0f} MB", "< 250 MB",
                t_gen.verdict)]
    if web.get("status") == "measured":
        t_web = Target("Streamlit Write page peak RSS", web["vmhwm_mb"], 350.0, "max", "MB")
        targets.append(t_web)
        how = "page rendered in headless Chromium" if web["script_ran"] else f"fetch only ({web.get('browser')})"
        rows.append(Row("memory", f"Streamlit process serving Write ({how})", f"{web['vmhwm_mb']:.0f} MB",
                        f"VmHWM, one run; after plain fetch {web['vmhwm_after_fetch_mb']:.0f} MB",
                        f"TF mapped: {'yes' if web['tensorflow_mapped'] else 'no'}", "< 350 MB", t_web.verdict))
    else:
        rows.append(Row("memory", "Streamlit process serving Write", "not measured", web.get("why", "")[:120],
                        "", "< 350 MB", "not measured"))
    results["targets"] = [t.as_dict() for t in targets]
    results["loadavg_end"] = loadavg()
    return results, rows

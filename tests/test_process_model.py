"""The web process and generation never import TensorFlow (ARCHITECTURE: process model)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorflow", "keras", "tf_keras")


def _run(code: str, **env) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env={**os.environ, **env})
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def test_import_textgen_and_generate_without_tensorflow():
    out = _run("import sys, textgen\n"
               "g = textgen.Generator('demo')\n"
               "print(len(g.generate('The sea', 20, seed=1).text), 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    assert out == "20 False False"


def test_preparing_a_run_and_choosing_its_kernel_need_no_tensorflow():
    """train.py refuses bad input before TensorFlow starts: importing it, the job runner, the registry and the
    kernel choice load none of it (only fit.py, the Keras loop, does)."""
    out = _run("import sys\n"
               "import textgen.train, textgen.jobs, textgen.runs, textgen.kernels, textgen.fastgru, textgen.checkpoint\n"
               "from textgen.kernels import resolve\n"
               "resolve('auto', 'gru', 100)\n"
               f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert out == "[]"
    assert _run("import sys, textgen.fit\nprint('tensorflow' in sys.modules, 'keras' in sys.modules)") == "True True"


def test_every_page_runs_without_importing_tensorflow(tiny_run, tmp_path):
    """app.py and its pages, run by Streamlit's AppTest in a fresh interpreter through app.py's navigation, and
    every file in pages/ run on its own, over a workspace with a trained run, leave TensorFlow and Keras unimported."""
    home, run_id = tiny_run
    ws = tmp_path / "ws"
    shutil.copytree(home, ws)
    pages = sorted(p.name for p in (ROOT / "pages").glob("*.py") if p.name != "ui.py")
    assert {"corpus.py", "runs.py", "train.py", "write.py"} <= set(pages)
    script = f"""
import sys
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

# As in tests/app: keep AppTest in st.navigation's mode, so each switch runs app.py and then the page.
original = PagesManager.__init__
def init(self, *args, **kwargs):
    original(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False
PagesManager.__init__ = init

at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=120).run()
assert not at.exception, at.exception
titles = [at.title[0].value]
for page in ("corpus.py", "runs.py", "train.py", "write.py"):
    at.switch_page("pages/" + page).run()
    assert not at.exception, (page, at.exception)
    titles.append(at.title[0].value)
for page in {pages!r}:
    alone = AppTest.from_file({str(ROOT / "pages")!r} + "/" + page, default_timeout=120).run()
    assert not alone.exception, (page, alone.exception)
print(titles)
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env={**os.environ, "INKWELL_HOME": str(ws), "INKWELL_ACCESS_CODE": ""})
    assert r.returncode == 0, r.stderr[-3000:]
    titles, heavy = r.stdout.strip().splitlines()[-2:]
    assert titles == "['Write', 'Corpus', 'Runs', 'Train', 'Write']"   # a trained run: Write opens first
    assert heavy == "[]"

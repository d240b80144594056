"""The web process and generation never import TensorFlow (ARCHITECTURE: process model)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_import_textgen_and_generate_without_tensorflow():
    out = _run("import sys, textgen\n"
               "g = textgen.Generator('demo')\n"
               "print(len(g.generate('The sea', 20, seed=1).text), 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    assert out == "20 False False"


def test_pages_do_not_import_tensorflow():
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        text = path.read_text()
        assert "import tensorflow" not in text and "import keras" not in text, path

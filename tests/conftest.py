import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture()
def workspace(tmp_path, monkeypatch):
    """Every test that touches runs gets its own empty workspace."""
    home = tmp_path / "workspace"
    monkeypatch.setenv("INKWELL_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sample_text() -> str:
    return (ROOT / "assets" / "sample.txt").read_text("utf-8")

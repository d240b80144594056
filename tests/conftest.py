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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, sample_text):
    """One tiny trained character-level run shared by the tests that only read it: (workspace, run_id)."""
    from textgen import ModelConfig, TrainConfig, load_corpus
    from textgen.train import train

    home = tmp_path_factory.mktemp("shared-workspace")
    result = train(load_corpus(sample_text[:4000]), ModelConfig(cell="lstm", layers=2, units=16, embedding=8),
                   TrainConfig(seq_len=16, batch_size=8, epochs=1, seed=5, sample_length=10),
                   label="tiny shared", workspace=home)
    return home, result.run_id

"""The quality benchmark runs end to end at tiny sizes and writes its JSON (no timing assertions)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quality_benchmark_tiny(tmp_path):
    out = tmp_path / "q.json"
    r = subprocess.run([sys.executable, "-m", "benchmarks.quality", "--tiny", "--presets", "Quick", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(out.read_text())
    row = report["rows"][0]
    assert row["preset"] == "Quick"
    for key in ("inkwell", "tutorial"):
        assert row[key]["val_bpc"] > 0 and row[key]["carried_val_bpc"] > 0
        assert row[key]["chars_seen"] > 0 and row[key]["sample"]
    assert row["gain_bpc"] == row["tutorial"]["val_bpc"] - row["inkwell"]["val_bpc"]
    assert row["carried_gain_bpc"] == row["tutorial"]["carried_val_bpc"] - row["inkwell"]["carried_val_bpc"]
    assert "| Quick | 3 s | windows of 100 |" in r.stdout and "| Quick | 3 s | state carried |" in r.stdout

"""benchmarks.kernel_choice runs end to end at tiny shapes: one table row and the JSON it promises.

No timing assertions (the machine is shared): only which kernel each measurement used and the report's shape.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tiny_run_times_both_kernels_and_writes_json(tmp_path):
    out = tmp_path / "k.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.kernel_choice", "--tiny", "--seconds", "3",
                           "--rounds", "1", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| tiny GRU 1x16, seq 20 |" in proc.stdout
    report = json.loads(out.read_text("utf-8"))
    shape = report["shapes"]["tiny"]
    assert shape["units"] == 16 and shape["seq_len"] == 20
    assert sorted(shape["chars_per_sec"]) == ["float32", "keras"]
    assert all(len(v) == 1 for v in shape["chars_per_sec"].values())
    # What training built, from its start event: a kernel argument lost on the way would make both rows Keras'.
    assert shape["kernel_used"] == {"float32": ["float32"], "keras": ["keras"]}
    assert "asked for" not in proc.stdout
    assert isinstance(report["amx_bf16"], bool) and len(report["loadavg_end"]) == 3

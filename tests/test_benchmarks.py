"""The benchmark harness runs end to end in --quick mode and writes the JSON it promises.

No timing assertions: the machine is shared, so only the shape of the report and the sign of
the numbers are checked, never how fast anything is.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(section: str, out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", section, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| section | measurement |" in proc.stdout       # the Markdown table was printed
    return json.loads(out.read_text("utf-8"))


def _positive_summary(s: dict) -> None:
    assert {"median", "min", "max", "q1", "q3", "n", "values"} <= set(s)
    assert s["n"] == len(s["values"]) >= 1
    assert 0 < s["min"] <= s["median"] <= s["max"]


def _check_machine(report: dict, section: str) -> None:
    assert report["quick"] is True and report["sections"] == [section]
    m = report["machine"]
    assert len(m["loadavg_start"]) == 3 and len(m["loadavg_end"]) == 3
    assert m["cpu"]["cores"] >= 1 and m["cpu"]["peak_gflops_fp32"] >= 0
    assert report["table_markdown"].startswith("Inkwell benchmarks")
    for t in report[section]["targets"] if "targets" in report[section] else []:
        assert {"name", "value", "limit", "met"} <= set(t) and t["value"] > 0


def test_quick_generation_report(tmp_path):
    report = _run("generation", tmp_path / "r.json")
    _check_machine(report, "generation")
    gen = report["generation"]
    assert set(gen["models"]) == {"gru_1x512", "lstm_2x512"}
    for name, m in gen["models"].items():
        assert set(m["seconds_per_char"]) == {"generator", "generator_1thread", "tf_function", "predict",
                                              "floor", "floor_1thread"}
        for s in m["seconds_per_char"].values():
            _positive_summary(s)
        for r in m["ratios"].values():
            assert r > 0
        # (a), (b) and (c) really ran the same weights: the Keras step model agrees with the stepper.
        assert m["keras_step_vs_stepper_max_abs_logit_diff"] < 1e-4
        assert [t["name"].split(": ")[1] for t in m["targets"]] == ["tf.function / Generator", "Generator / floor"]
        alt = gen["alternatives"][name]
        assert set(alt["seconds_per_step"]) == {"batch4", "single", "four_singles"}
        for s in alt["seconds_per_step"].values():
            _positive_summary(s)
        assert alt["ratios"]["batch4_over_single"] > 0
    assert len(gen["loadavg_start"]) == 3


def test_quick_coldstart_report(tmp_path):
    report = _run("coldstart", tmp_path / "r.json")
    _check_machine(report, "coldstart")
    cold = report["coldstart"]
    assert set(cold["subprocess_seconds"]) == {"cli_generate", "python_bare", "import_textgen"}
    for s in cold["subprocess_seconds"].values():
        _positive_summary(s)
    assert cold["cli_stdout_chars"] > 200                 # the prompt-less demo wrote its 200 characters
    for s in cold["warm_first_char_seconds"].values():
        _positive_summary(s)
    assert [t["name"] for t in cold["targets"]] == ["cold CLI generate 200 chars",
                                                     "warm load + Generator + first char"]


@pytest.mark.parametrize("argv", [["--only", "nonsense"], ["--bogus"]])
def test_bad_arguments_are_refused(argv, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", *argv, "--out", str(tmp_path / "x.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "usage" in proc.stderr
    assert not (tmp_path / "x.json").exists()

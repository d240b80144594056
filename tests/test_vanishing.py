"""Measuring a stored run's vanishing curve after the fact: in a background process, into the run directory."""
import shutil

import numpy as np

import pytest

from textgen import Registry, gradients, vanishing
from textgen.errors import RunError
from textgen.identity import Identity


def _copy(tiny_run, tmp_path):
    home, run_id = tiny_run
    copy = tmp_path / "ws"
    shutil.copytree(home, copy)
    return copy, run_id, copy / "runs" / run_id


def test_a_background_measurement_stores_what_the_worker_stored(tiny_run, tmp_path):
    home, run_id, run_dir = _copy(tiny_run, tmp_path)
    stored = gradients.read_curve(run_dir).norms
    (run_dir / gradients.CURVE_FILE).unlink()
    assert vanishing.state(run_dir) == ("none", "")
    vanishing.start(Registry(home), run_id)
    assert vanishing.wait(run_dir) == "measured"
    np.testing.assert_array_equal(gradients.read_curve(run_dir).norms, stored)
    assert not (run_dir / vanishing.PENDING).exists() and not (run_dir / vanishing.FAILED).exists()


def test_a_failed_measurement_leaves_its_sentence_and_a_retry_clears_it(tiny_run, tmp_path):
    home, run_id, run_dir = _copy(tiny_run, tmp_path)
    (run_dir / gradients.CURVE_FILE).unlink()
    text = (run_dir / "corpus.txt").read_text("utf-8")
    (run_dir / "corpus.txt").unlink()
    vanishing.start(Registry(home), run_id)
    assert vanishing.wait(run_dir) == "failed"
    assert vanishing.state(run_dir) == ("failed", f"Run {run_id} keeps no copy of its text to measure on.")
    (run_dir / "corpus.txt").write_text(text, "utf-8")
    vanishing.start(Registry(home), run_id)
    assert vanishing.wait(run_dir) == "measured" and not (run_dir / vanishing.FAILED).exists()


def test_another_writers_run_is_refused(tiny_run, tmp_path):
    home, run_id, run_dir = _copy(tiny_run, tmp_path)
    reg = Registry(home)
    reg.update_run(run_id, owner=Identity.writer("a" * 22).owner)
    with pytest.raises(RunError, match="belongs to another writer"):
        vanishing.start(reg, run_id, Identity.writer("b" * 22))
    assert not (run_dir / vanishing.PENDING).exists()


def test_a_measurement_whose_process_died_is_not_shown_as_running(tiny_run, tmp_path):
    _, _, run_dir = _copy(tiny_run, tmp_path)
    (run_dir / gradients.CURVE_FILE).unlink()
    (run_dir / vanishing.PENDING).write_text("999999999")   # no such process
    assert vanishing.state(run_dir) == ("none", "")


def test_the_table_reads_the_curve_at_a_few_distances():
    curve = gradients.Curve(np.array([2.0 * 0.5 ** k for k in range(31)]), 8)
    lines = vanishing.table(curve).splitlines()
    assert [l.split() for l in lines[1:-1]] == [["0", "2", "1"], ["1", "1", "0.5"], ["2", "0.5", "0.25"],
                                                ["5", "0.0625", "0.0312"], ["10", "0.00195", "0.000977"],
                                                ["20", "1.91e-06", "9.54e-07"], ["30", "1.86e-09", "9.31e-10"]]
    assert lines[-1] == "each step back keeps about 50% of the gradient (8 windows of held-out text)"

"""pages/ui.py: the chart frames and formatting the pages show, with exact values."""
import pytest

from pages import ui
from pages import charts


def test_smoothing_is_centred_and_exact():
    assert charts.smooth([0.0, 0.0, 3.0, 0.0, 0.0], half=1) == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert charts.smooth([4.0, 0.0, 2.0, 6.0, 8.0], half=2) == [4.0, 2.0, 4.0, 16 / 3, 8.0]   # windows shrink at the ends
    assert charts.smooth([]) == []
    assert charts.smooth([5.0]) == [5.0]


def test_smoothed_falling_line_does_not_sit_above_it():
    """A trailing average lags a falling loss and draws above it; the centred one follows a straight line."""
    line = [6.0 - 0.01 * i for i in range(400)]
    smoothed = charts.smooth(line)                       # default: 10 points either side for 400 batches
    assert smoothed == pytest.approx(line, abs=1e-9)
    assert smoothed[200] == pytest.approx(line[200], abs=1e-12)
    # and it still smooths: alternating noise around the line averages out in the middle
    noisy = [v + (0.5 if i % 2 else -0.5) for i, v in enumerate(line)]
    assert charts.smooth(noisy)[100:300] == pytest.approx(line[100:300], abs=0.5 / 21 + 1e-9)


def test_visible_characters():
    assert [charts.visible_char(c) for c in " \n\tA\u00a0\x07é"] == ["␣", "↵", "⇥", "A", "⍽", "U+0007", "é"]
    frame = charts.top_chars_frame([(" ", 5), ("\n", 2), ("a", 1)])
    assert frame.to_dict("records") == [{"character": "␣", "count": 5}, {"character": "↵", "count": 2},
                                        {"character": "a", "count": 1}]


def test_loss_frame_has_raw_smoothed_and_validation():
    metrics = [
        {"kind": "batch", "step": 1, "bpc": 6.0},
        {"kind": "batch", "step": 2, "bpc": 4.0},
        {"kind": "epoch", "step": 2, "val_bpc": 4.5, "bpc": 5.0},
        {"kind": "batch", "step": 3, "bpc": None},            # skipped
    ]
    rows = charts.loss_frame(metrics).to_dict("records")
    assert rows == [
        {"step": 1, "bpc": 6.0, "series": "train (per batch)"},
        {"step": 2, "bpc": 4.0, "series": "train (per batch)"},
        {"step": 1, "bpc": 6.0, "series": "train (smoothed)"},     # the ends of a curve are kept as they are
        {"step": 2, "bpc": 4.0, "series": "train (smoothed)"},
        {"step": 2, "bpc": 4.5, "series": "validation"},
    ]
    assert charts.loss_frame([]).empty


def test_overlay_frame():
    frame = charts.overlay_frame({"a": [{"epoch": 1, "val_bpc": 3.0}, {"epoch": 2, "val_bpc": None}],
                              "b": [{"epoch": 1, "val_bpc": 2.5}]})
    assert frame.to_dict("records") == [{"epoch": 1, "val_bpc": 3.0, "run": "a"},
                                        {"epoch": 1, "val_bpc": 2.5, "run": "b"}]


def test_progress_by_epochs_and_by_time():
    run = {"status": "running", "epoch": 1, "epochs": 4, "step": 5, "steps": 10, "elapsed": 10.0}
    assert ui.progress(run) == (0.375, "epoch 2 of 4 · step 5 of 10")
    # a 20 s budget half spent is further along than 1.5 of 4 epochs
    assert ui.progress(run, budget=20.0) == (0.5, "epoch 2 · step 5 of 10 · 10 s of 20 s")
    assert ui.progress({**run, "status": "done", "epoch": 3, "step": 0}) == (1.0, "finished 3 epochs")
    # stopped by its budget 28.5% into the 17th epoch: as the best checkpoint's label counts it
    assert ui.progress({**run, "status": "done", "epoch": 16, "step": 57, "steps": 200}) == (
        1.0, "finished 16.28 epochs")
    assert ui.progress({"status": "done", "epoch": 1, "step": 0, "steps": 7}) == (1.0, "finished 1 epoch")
    assert ui.progress({"status": "queued", "epochs": 0}) == (0.0, "waiting in the queue")
    # a worker still loading has no epoch to count: not "epoch 1 of 200" with a 5-minute budget
    assert ui.progress({"status": "running", "epochs": 200}, budget=300.0) == (0.0, "starting…")
    started = {"status": "running", "epoch": 0, "epochs": 200, "step": 0, "steps": 40, "elapsed": 0.0}
    assert ui.progress(started, budget=300.0) == (0.0, "epoch 1 · step 0 of 40 · under 1 s of 5 min 00 s")
    assert ui.progress({**run, "status": "cancelled"}) == (0.375, "epoch 2 of 4 · step 5 of 10")


def test_formatting():
    assert [ui.duration(s) for s in (None, 0.4, 59.4, 61, 3725)] == ["—", "under 1 s", "59 s", "1 min 01 s",
                                                                    "1 h 02 min"]
    assert [ui.fmt_count(n) for n in (None, 999, 1000, 13_240, 2_500_000)] == ["—", "999", "1k", "13.2k", "2.5M"]


def test_overlay_y_title_fits_beside_the_plot():
    """One long line was cut off once the legend (a row per run) squeezed the plot: two short lines, and the
    chart grows with its legend."""
    one = {"a": [{"epoch": 1, "val_bpc": 3.0}]}
    four = {k: one["a"] for k in "abcd"}
    spec = charts.overlay_chart(one).to_dict()
    assert spec["encoding"]["y"]["title"] == ["held-out bits per character", "(lower is better)"]
    assert max(len(line) for line in spec["encoding"]["y"]["title"]) <= 28
    assert (spec["height"], charts.overlay_chart(four).to_dict()["height"]) == (310, 400)


def test_the_train_page_says_where_a_cluster_job_runs():
    from pages.ui import where_text

    assert where_text({"status": "running", "node": None, "job": None}) is None   # a local worker: nothing to say
    assert where_text({"status": "done"}) is None   # a registry row from before the node column
    assert where_text({"status": "running", "node": None, "job": "raysubmit_1"}) == "Waiting for a free node on the cluster."
    assert where_text({"status": "running", "node": "10.0.0.7", "job": "raysubmit_1"}) == \
        "Training on the cluster node 10.0.0.7."
    assert where_text({"status": "interrupted", "node": "10.0.0.7", "job": "raysubmit_1"}) == \
        "Ran on the cluster node 10.0.0.7."

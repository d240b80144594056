"""pages/ui.py: the chart frames and formatting the pages show, with exact values."""
import pytest

from pages import ui


def test_ema_exact():
    assert ui.ema([4.0, 2.0, 2.0], alpha=0.5) == [4.0, 3.0, 2.5]
    assert ui.ema([]) == []
    # default weight: 0.5 for short curves, 20/n for long ones, never below 0.05
    assert ui.ema([1.0, 3.0]) == [1.0, 2.0]
    assert ui.ema([0.0] * 99 + [100.0])[-1] == pytest.approx(20.0)


def test_visible_characters():
    assert [ui.visible_char(c) for c in " \n\tA\u00a0\x07é"] == ["␣", "↵", "⇥", "A", "⍽", "U+0007", "é"]
    frame = ui.top_chars_frame([(" ", 5), ("\n", 2), ("a", 1)])
    assert frame.to_dict("records") == [{"character": "␣", "count": 5}, {"character": "↵", "count": 2},
                                        {"character": "a", "count": 1}]


def test_loss_frame_has_raw_smoothed_and_validation():
    metrics = [
        {"kind": "batch", "step": 1, "bpc": 6.0},
        {"kind": "batch", "step": 2, "bpc": 4.0},
        {"kind": "epoch", "step": 2, "val_bpc": 4.5, "bpc": 5.0},
        {"kind": "batch", "step": 3, "bpc": None},            # skipped
    ]
    rows = ui.loss_frame(metrics).to_dict("records")
    assert rows == [
        {"step": 1, "bpc": 6.0, "series": "train (per batch)"},
        {"step": 2, "bpc": 4.0, "series": "train (per batch)"},
        {"step": 1, "bpc": 6.0, "series": "train (smoothed)"},
        {"step": 2, "bpc": 5.0, "series": "train (smoothed)"},
        {"step": 2, "bpc": 4.5, "series": "validation"},
    ]
    assert ui.loss_frame([]).empty


def test_overlay_frame():
    frame = ui.overlay_frame({"a": [{"epoch": 1, "val_bpc": 3.0}, {"epoch": 2, "val_bpc": None}],
                              "b": [{"epoch": 1, "val_bpc": 2.5}]})
    assert frame.to_dict("records") == [{"epoch": 1, "val_bpc": 3.0, "run": "a"},
                                        {"epoch": 1, "val_bpc": 2.5, "run": "b"}]


def test_progress_by_epochs_and_by_time():
    run = {"status": "running", "epoch": 1, "epochs": 4, "step": 5, "steps": 10, "elapsed": 10.0}
    assert ui.progress(run) == (0.375, "epoch 2 of 4 · step 5 of 10")
    # a 20 s budget half spent is further along than 1.5 of 4 epochs
    assert ui.progress(run, budget=20.0) == (0.5, "epoch 2 · step 5 of 10 · 10 s of 20 s")
    assert ui.progress({**run, "status": "done", "epoch": 3}) == (1.0, "finished 3 epochs")
    assert ui.progress({"status": "queued", "epochs": 0}) == (0.0, "epoch 1 of 1")


def test_formatting():
    assert [ui.duration(s) for s in (None, 0.4, 59.4, 61, 3725)] == ["—", "under 1 s", "59 s", "1 min 01 s",
                                                                    "1 h 02 min"]
    assert [ui.fmt_count(n) for n in (None, 999, 1000, 13_240, 2_500_000)] == ["—", "999", "1k", "13.2k", "2.5M"]

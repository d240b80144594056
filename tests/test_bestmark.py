"""The best validation score marked on the learning curves: at the exact epoch and value training kept."""
import pytest

from pages import bestmark, charts
from textgen.baselines import Baselines

# A run that over-fits: validation falls to 2.41 at epoch 3 and climbs after; 10 steps an epoch.
VAL = [3.0, 2.6, 2.41, 2.5, 2.41, 2.7]
METRICS = ([{"kind": "batch", "epoch": 1 + i // 10, "step": i, "bpc": 4.0 - 0.03 * i} for i in range(1, 61)]
           + [{"kind": "epoch", "epoch": e, "step": 10 * e, "val_bpc": v} for e, v in enumerate(VAL, start=1)])


def layer_data(spec: dict) -> list[list[dict]]:
    """Each layer's rows, the named datasets resolved."""
    return [spec["datasets"][layer["data"]["name"]] for layer in spec["layer"] if "data" in layer]


def test_the_best_is_the_first_lowest_validation_score_as_training_keeps_it():
    best = bestmark.best_epoch(METRICS)
    assert (best["epoch"], best["step"], best["val_bpc"]) == (3, 30, 2.41)   # epoch 5 ties it and saves nothing
    assert bestmark.best_epoch([m for m in METRICS if m["kind"] == "batch"]) is None


def test_the_loss_chart_rings_and_labels_the_best_epoch():
    frame = bestmark.loss_frame(METRICS)
    assert frame.to_dict("records") == [{"step": 30, "bpc": 2.41, "epoch": 3,
                                         "label": "best: 2.410 bits/char, epoch 3 — this checkpoint writes"}]
    spec = charts.loss_chart(METRICS).to_dict()
    marked = [rows for rows in layer_data(spec) if rows and "label" in rows[0]]
    assert marked and all([{k: r[k] for k in frame.columns} for r in rows] == frame.to_dict("records")
                          for rows in marked)
    marks = [layer["mark"]["type"] for layer in spec["layer"] if layer.get("data", {}).get("name") in
             {n for n, rows in spec["datasets"].items() if rows and "label" in rows[0]}]
    assert marks == ["rule", "point", "text", "text"]   # the rule, the ring, the label on its white outline
    # before the first epoch ends there is nothing to mark, and the chart is the curves alone
    early = [m for m in METRICS if m["kind"] == "batch"]
    assert bestmark.loss_frame(early).empty and len(charts.loss_chart(early).to_dict()["layer"]) == 3


def test_a_late_best_reads_leftwards_to_stay_inside_the_chart():
    late = METRICS[:-1] + [{"kind": "epoch", "epoch": 6, "step": 60, "val_bpc": 2.2}]
    spec = charts.loss_chart(late).to_dict()
    texts = [layer["mark"] for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert {t["align"] for t in texts} == {"right"} and {t["dx"] for t in texts} == {-8}
    assert bestmark.loss_frame(late)["label"].tolist() == ["best: 2.200 bits/char, epoch 6 — this checkpoint writes"]
    assert {t["align"] for t in (layer["mark"] for layer in charts.loss_chart(METRICS).to_dict()["layer"])
            if t["type"] == "text"} == {"left"}   # epoch 3 of 6: the label reads rightwards


def test_the_compare_chart_rings_each_runs_best_at_its_own_point():
    curves = {"over-fits": [{"x": 10.0 * e, "val_bpc": v, "epoch": e} for e, v in enumerate(VAL, start=1)],
              "still falling": [{"x": 15.0 * e, "val_bpc": 3.0 - 0.1 * e, "epoch": e} for e in (1, 2, 3, 4)],
              "imported": [{"x": 5.0, "val_bpc": 1.9}]}   # no epoch: nothing to say which checkpoint it was
    frame = bestmark.compare_frame(curves)
    assert frame.to_dict("records") == [
        {"x": 30.0, "val_bpc": 2.41, "epoch": 3, "run": "over-fits", "label": "best 2.410 · epoch 3"},
        {"x": 60.0, "val_bpc": 2.6, "epoch": 4, "run": "still falling", "label": "best 2.600 · epoch 4"}]
    spec = charts.compare_chart(curves, "time").to_dict()
    assert frame.to_dict("records") in layer_data(spec)   # the rule and the ring; the labels add their height
    texts = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    # epoch 3 of "over-fits" sits left of 60% of the widest x (60 s): rightwards; "still falling" ends there: leftwards
    placed = [(spec["datasets"][t["data"]["name"]][0]["run"], t["mark"]["align"]) for t in texts[::2]]
    assert placed == [("over-fits", "left"), ("still falling", "right")]


def test_a_label_goes_above_its_ring_unless_a_baselines_label_is_there():
    band = bestmark.TEXT_BAND * 4.0   # a chart from 2 to 6 bits per character
    assert bestmark.label_heights([3.0], 2.0, 6.0, []) == [3.0 + 0.6 * band]
    # the trigram's label sits just over its line at 3.1: the best's label goes under the ring instead
    assert bestmark.label_heights([3.0], 2.0, 6.0, [3.1]) == [3.0 - 1.7 * band]
    # no room under the ring (the plot ends at 2.6): a line further up, clear of the trigram's label
    assert bestmark.label_heights([3.0], 2.6, 6.0, [3.1]) == [3.0 + 1.8 * bestmark.TEXT_BAND * 3.4]
    # hemmed in by labels on every side, the label goes where it is furthest from them
    assert bestmark.label_heights([3.0], 2.0, 6.0, [2.0, 2.5, 3.0, 3.5, 4.0]) == [3.0 - 2.9 * band]
    two = bestmark.label_heights([3.0, 3.0], 2.0, 6.0, [])   # two runs with the same best: the second goes under
    assert two == [3.0 + 0.6 * band, 3.0 - 1.7 * band]


def test_the_loss_chart_keeps_the_best_label_off_the_baselines_labels():
    refs = Baselines(uniform=6.0, unigram=4.5, bigram=3.4, trigram=2.8)
    spec = charts.loss_chart(METRICS, refs).to_dict()
    heights = [row["label_y"] for rows in spec["datasets"].values() for row in rows if "epoch" in row and "label_y" in row]
    # the values span 2.2 (the last batch) to 6.0 (uniform), and the plot a line of text more either side; above
    # the ring at 2.41 are the trigram's and bigram's labels, under it too little room: the label stands at the foot
    foot, top = 2.2 - bestmark.TEXT_BAND * 3.8, 6.0 + (bestmark.TEXT_BAND + bestmark.LINE_ROOM) * 3.8
    assert spec["layer"][0]["encoding"]["y"]["scale"] == {"zero": False, "nice": False,
                                                         "domain": pytest.approx([foot, top])}
    assert heights == pytest.approx([foot])   # one dataset for the white outline and the label
    # before the first epoch there is no best, but the baselines' labels are placed on the same fixed scale
    assert charts.loss_chart(METRICS[:60], refs).to_dict()["layer"][0]["encoding"]["y"]["scale"]["domain"] == \
        pytest.approx([foot, top])
    assert charts.loss_chart(METRICS[:60]).to_dict()["layer"][0]["encoding"]["y"]["scale"] == {"zero": False}
    assert charts.loss_chart(METRICS).to_dict() != spec

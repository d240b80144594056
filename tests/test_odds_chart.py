"""pages/odds.py: the odds chart's plain Vega-Lite spec carries exactly the rows the page means to draw."""
import pyarrow as pa

from pages import odds as chart
from textgen.insight import Odds


def _odds():
    return [Odds(5, "e", "e", 0.75, 0.6, True), Odds(1, " ", "␣", 0.25, 0.2, True),
            Odds(7, "e", "e", 0.0, 0.15, False), Odds(2, "\n", "⏎", 0.0, 0.05, False)]


def _table(spec) -> list[dict]:
    (name, data), = spec["datasets"].items()
    assert spec["data"] == {"name": name}
    return pa.ipc.open_stream(data).read_all().to_pylist()


def test_rows_show_the_final_chance_of_kept_tokens_and_the_chance_before_the_cut_of_cut_ones():
    got = _table(chart.spec(_odds()))
    assert got == [
        {"token": "e", "rank": 0, "chance": 0.75, "kind": chart.KEPT, "before": 0.6},
        {"token": "␣", "rank": 1, "chance": 0.25, "kind": chart.KEPT, "before": 0.2},
        {"token": "e ·2", "rank": 2, "chance": 0.15, "kind": chart.CUT, "before": 0.15},   # labels stay distinct
        {"token": "⏎", "rank": 3, "chance": 0.05, "kind": chart.CUT, "before": 0.05},
    ]


def test_the_spec_keeps_the_likeliest_on_top_and_a_row_height_per_token():
    s = chart.spec(_odds())
    assert s["encoding"]["y"]["sort"] == ["e", "␣", "e ·2", "⏎"]
    assert s["height"] == 4 * chart.ROW_PX + chart.FRAME_PX
    assert s["layer"][1]["transform"] == [{"calculate": chart.LABEL, "as": "label"}]     # "<1%", never a bare 0%
    assert s["layer"][0]["encoding"]["color"]["scale"] == {"domain": [chart.KEPT, chart.CUT],
                                                           "range": ["#7b4bd6", "#d4d4d8"]}


def test_each_call_gives_a_fresh_dict_and_other_odds_get_another_dataset_name():
    a, b = chart.spec(_odds()), chart.spec(_odds())
    assert a == b and a is not b and a["datasets"] is not b["datasets"]
    a.pop("datasets")                                   # Streamlit moves the data out of the spec in place
    assert "datasets" in chart.spec(_odds())
    other = chart.spec(_odds()[:2])
    assert set(other["datasets"]) != set(b["datasets"])
    assert len(_table(other)) == 2


def test_percent_writes_small_chances_as_under_one_percent_like_the_chart():
    assert [chart.percent(p) for p in (0.954, 0.01, 0.0099, 1e-9, 0.0)] == ["95%", "1%", "<1%", "<1%", "0%"]

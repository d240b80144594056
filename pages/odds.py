"""The Write page's next-token odds chart as a plain Vega-Lite spec (for st.vega_lite_chart).

Redrawn on every slider move for every writer, so it is built without Altair or pandas: a profile of a
crowded server showed most of its samples inside Altair's schema validation. No Streamlit here.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import pyarrow as pa

KEPT, CUT = "can be drawn", "cut by top-k / top-p"
COLORS = {KEPT: "#7b4bd6", CUT: "#d4d4d8"}
LABEL = "datum.chance >= 0.01 ? format(datum.chance, '.0%') : datum.chance > 0 ? '<1%' : '0%'"
ROW_PX, FRAME_PX = 28, 100   # Streamlit fits the legend and axes inside the height too: no label is dropped

_SCHEMA = pa.schema([("token", pa.string()), ("rank", pa.int64()), ("chance", pa.float64()),
                     ("kind", pa.string()), ("before", pa.float64())])


def percent(p: float) -> str:
    """A chance as the chart's labels write it: whole percent, "<1%" for a small one that is not zero."""
    return f"{p:.0%}" if p >= 0.01 else "<1%" if p > 0 else "0%"


def rows(odds) -> list[dict]:
    """textgen.insight.Odds as chart rows; a cut token's bar is its chance before the cut, and a repeated
    label gets a counter (the axis needs distinct labels)."""
    out, seen = [], {}
    for rank, o in enumerate(odds):
        seen[o.shown] = seen.get(o.shown, 0) + 1
        label = o.shown if seen[o.shown] == 1 else f"{o.shown} ·{seen[o.shown]}"
        out.append({"token": label, "rank": rank, "chance": o.prob if o.kept else o.before,
                    "kind": KEPT if o.kept else CUT, "before": o.before})
    return out


@lru_cache(maxsize=256)
def _dataset(odds: tuple) -> tuple[str, bytes, list[str]]:
    """(a name from the content, Arrow IPC stream bytes, the labels in order): Streamlit sends bytes as
    they are, and the name changes with the data so the browser never keeps a stale table."""
    found = rows(odds)
    table = pa.Table.from_pylist(found, schema=_SCHEMA)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, _SCHEMA) as writer:
        writer.write_table(table)
    data = sink.getvalue().to_pybytes()
    return "odds-" + hashlib.blake2b(data, digest_size=8).hexdigest(), data, [r["token"] for r in found]


def spec(odds) -> dict:
    """The likeliest next tokens as horizontal bars, likeliest on top, each with its chance written at its
    end; greyed bars for what top-k / top-p cut away. A fresh dict per call: Streamlit edits it in place."""
    odds = tuple(odds)
    name, data, labels = _dataset(odds)
    chance = {"field": "chance", "type": "quantitative"}
    return {
        "datasets": {name: data},
        "data": {"name": name},
        "height": ROW_PX * max(1, len(odds)) + FRAME_PX,
        "encoding": {
            "y": {"field": "token", "type": "nominal", "title": None, "sort": list(labels),
                  "axis": {"labelFontSize": 15, "labelLimit": 200, "labelOverlap": False}},
            "x": {**chance, "title": "chance of being written next", "axis": {"format": "%"},
                  "scale": {"domain": [0, 1]}},
            "tooltip": [{"field": "token", "type": "nominal"}, {**chance, "format": ".1%"},
                        {"field": "before", "type": "quantitative", "format": ".1%",
                         "title": "before top-k / top-p"}],
        },
        "layer": [
            {"mark": {"type": "bar", "cornerRadiusEnd": 3},
             "encoding": {"color": {"field": "kind", "type": "nominal",
                                    "scale": {"domain": list(COLORS), "range": list(COLORS.values())},
                                    "legend": {"orient": "top", "title": None}}}},
            # A chance under one percent reads "<1%", not a flat "0%" beside a bar that is there.
            {"mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 12, "color": "#555"},
             "transform": [{"calculate": LABEL, "as": "label"}],
             "encoding": {"text": {"field": "label", "type": "nominal"}}},
        ],
    }

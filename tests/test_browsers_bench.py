"""benchmarks/browsers.py's arithmetic: what a round's figures are made of (no browser, no server)."""
import math

from benchmarks.browsers import summary, table


def _row(first, last, saved, chars=200, error=None):
    return {"client": "browser", "error": error, "first": first, "last": last, "saved": saved, "chars": chars}


def test_a_failed_or_missing_writer_counts_as_slower_than_any_success():
    rows = [_row(0.2, 1.0, 1.1), _row(0.4, 1.2, 1.3), _row(0.3, 2.0, 2.1, chars=198),
            _row(None, None, None, error="TimeoutError: no text")]   # and a fifth writer never reported
    s = summary(rows, writers=5)
    assert s["errors"] == 2
    assert (s["first_median"], s["last_median"], s["saved_median"]) == (0.4, 2.0, 2.1)
    assert math.isinf(s["first_p95"]) and math.isinf(s["last_p95"]) and math.isinf(s["saved_p95"])
    assert s["chars_median"] == 200


def test_a_writer_who_saw_no_change_in_the_view_is_lost():
    s = summary([_row(None, None, 0.9, chars=0), _row(0.5, 0.9, 1.0)], writers=2)
    assert s["errors"] == 1 and s["first_median"] == 0.5 and math.isinf(s["first_p95"])
    assert s["saved_median"] == 1.0 and math.isinf(s["saved_p95"])   # the lost writer's own save is not a sample


def test_a_browsers_redraw_is_the_time_from_the_message_to_the_change():
    rows = [{**_row(0.5, 1.0, 1.2), "first_message": 0.25}, {**_row(0.9, 1.0, 1.2), "first_message": 0.3},
            {**_row(0.4, 1.0, 1.2), "first_message": None}]   # a change with no message before it is no sample
    assert summary(rows, writers=3)["redraw_median"] == 0.25


def test_the_table_shows_each_round_with_its_load():
    s = summary([_row(0.25, 1.5, 1.75)], writers=1)
    report = {"writers": 1, "code": "abc1234", "training_job": False,
              "rounds": [{"round": 1, "client": "protocol", **s, "loadavg_before": (1.5, 1, 1),
                          "loadavg_after": (2.25, 1, 1), "server_cpu_s": 3.0, "clients_cpu_s": 12.5}]}
    assert table(report).splitlines()[-1] == \
        "| 1 | protocol | 0.25 s / 0.25 s | 1.50 s / 1.50 s | 1.75 s / 1.75 s | n/a | 200 | 0 | 3.0 / 12.5 | 1.50 / 2.25 |"

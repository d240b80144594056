"""The clipping pair: what it queues, who sees it, and the sentence its two outcomes earn."""
import json

import pytest

from textgen import clipping
from textgen.identity import Identity
from textgen.runs import Registry


def test_the_pair_is_two_owned_jobs_that_differ_only_in_clipping(workspace, monkeypatch, sample_text):
    from textgen import jobs

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry()
    text = reg.home / "corpus.txt"
    text.write_text(sample_text[:2000], "utf-8")
    pair_id = clipping.submit(text, reg, None, source="sample")
    pair = clipping.list_pairs(reg)[0]
    assert pair["id"] == pair_id and pair["source"] == "sample" and pair["owner"] is None
    args = {s: json.loads(reg.get_run(rid)["args"]) for s, rid in pair["runs"].items()}
    i = args["off"].index("--clipnorm")
    assert (args["off"][i + 1], args["on"][i + 1]) == ("0.0", str(clipping.CLIP_ON))
    strip = lambda a: a[:i] + a[i + 2:-1]   # noqa: E731 - all but the clipping and the run id
    assert strip(args["off"]) == strip(args["on"])
    assert args["off"][args["off"].index("--lr") + 1] == str(clipping.TRAIN.lr)
    (reg.home / "companions" / "junk.json").write_text("{", "utf-8")   # a broken file is skipped
    assert [p["id"] for p in clipping.list_pairs(reg, Identity.writer("e" * 22))] == [pair_id]   # ownerless: all


def test_a_writer_cannot_pair_another_writers_text(workspace):
    reg = Registry()
    with pytest.raises(Exception, match="only on a corpus saved"):
        clipping.submit(reg.home / "elsewhere.txt", reg, Identity.writer("f" * 22))


def test_the_pair_trains_with_plain_sgd(workspace, monkeypatch, sample_text):
    """Adam moves each weight by about the rate whatever the gradient, so only SGD can show a step blow up."""
    from textgen import jobs

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry()
    text = reg.home / "corpus.txt"
    text.write_text(sample_text[:2000], "utf-8")
    clipping.submit(text, reg)
    for rid in clipping.list_pairs(reg)[0]["runs"].values():
        args = json.loads(reg.get_run(rid)["args"])
        assert args[args.index("--optimizer") + 1] == "sgd"


@pytest.mark.parametrize("off, on, said", [("diverged", "done", "Only the unclipped run diverged."),
                                           ("diverged", "diverged", "Both runs diverged."),
                                           ("done", "done", "Neither run diverged."),
                                           ("done", "diverged", "Only the clipped run diverged."),
                                           ("running", "queued", "")])
def test_without_metrics_the_verdict_says_only_what_the_statuses_say(off, on, said):
    assert clipping.verdict(off, on) == said


def rows(losses, norms, clipped=None):
    return [{"step": 10 * (i + 1), "loss": l, "grad_norm": n, "clipped": c}
            for i, (l, n, c) in enumerate(zip(losses, norms, clipped or [0] * len(losses)))]


EXPLODED = rows([4.2, 3.9, 5.0, None], [2.5, 40.0, 3100.0, None])
LEARNED = rows([4.2, 3.5, 2.9, 2.6], [2.5, 3.0, 6.0, 1.5], [10, 10, 10, 4])
STALLED = rows([4.2, 4.1, 4.0, 4.0], [2.5, 30.0, 80.0, 50.0])


def test_measure_reads_the_numbers_the_verdict_quotes():
    assert clipping.measure(EXPLODED, "diverged") == {
        "steps": 40, "clipped": 0, "start_loss": 4.2, "end_loss": None, "best_loss": 3.9, "start_norm": 2.5,
        "peak_norm": 3100.0, "diverged": True, "learned": False}
    m = clipping.measure(LEARNED, "done")
    assert (m["end_loss"], m["clipped"], m["learned"], m["diverged"]) == (2.6, 34, True, False)
    assert clipping.measure(STALLED, "done")["learned"] is False   # 4.0 > 0.85 x 4.2
    stopped = clipping.measure(EXPLODED[:3], "diverged")   # the guard stopped it at a finite but exploded loss
    assert (stopped["end_loss"], stopped["diverged"], stopped["learned"]) == (5.0, True, False)
    assert clipping.measure([], "done")["start_loss"] is None


def test_the_verdict_quotes_the_measured_numbers():
    assert clipping.verdict("diverged", "done", EXPLODED, LEARNED) == (
        "Without clipping the gradient norm went from 2.5 to a peak of 3,100 and the loss went from 4.20 to not a "
        f"number (it diverged); clipped at {clipping.CLIP_ON:g}, the gradient norm went from 2.5 to a peak of 6 and the "
        "loss went from 4.20 to 2.60, 34 of 40 steps cut back. Clipping is what let the same model learn at the same rate.")
    assert clipping.verdict("diverged", "done", EXPLODED[:3], LEARNED).startswith(
        "Without clipping the gradient norm went from 2.5 to a peak of 3,100 and the loss went from 4.20 to 5.00, "
        "where it was stopped as diverged; clipped at")
    assert clipping.verdict("done", "done", STALLED, LEARNED).endswith(
        "Clipping is what let the same model learn at the same rate.")
    assert clipping.verdict("done", "done", LEARNED, LEARNED).endswith("did not grow enough to throw the model off.")
    assert clipping.verdict("done", "done", LEARNED, STALLED).endswith("clipping held the other back.")
    assert clipping.verdict("diverged", "done", EXPLODED, STALLED).endswith("too high even with clipping.")
    assert clipping.verdict("running", "queued", EXPLODED, LEARNED) == ""

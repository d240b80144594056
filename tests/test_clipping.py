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


@pytest.mark.parametrize("off, on, start", [("diverged", "done", "Without clipping the run diverged"),
                                            ("diverged", "diverged", "Both runs diverged"),
                                            ("done", "done", "Neither run diverged"),
                                            ("done", "diverged", "Here only the clipped run diverged"),
                                            ("running", "queued", "")])
def test_the_verdict_follows_the_outcomes(off, on, start):
    said = clipping.verdict(off, on)
    assert said.startswith(start) and (said != "") == (start != "")

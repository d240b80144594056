"""The Chinese interface beyond first views: alternatives on Write, a run training and one queued on Train, two
runs compared on Runs, a finished experiment and clipping pair on Inside. No English left in what is drawn."""
import json
import os
import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from test_i18n import ROOT, WRITER, english_words, shown_text
from textgen import Registry, jobs, library, load_corpus, prefs
from textgen import experiments as ex
from textgen.identity import Identity

POEMS = (ROOT / "assets" / "sample_zh.txt").read_text("utf-8")[:6000]


@pytest.fixture(scope="module")
def zh_home(tmp_path_factory):
    """One tiny LSTM trained on Chinese (its samples and curves are Chinese, like a Chinese writer's), once."""
    from textgen import ModelConfig, TrainConfig, load_corpus
    from textgen.train import train

    home = tmp_path_factory.mktemp("zh-states") / "workspace"
    result = train(load_corpus(POEMS), ModelConfig(cell="lstm", layers=1, units=16, embedding=8),
                   TrainConfig(seq_len=16, batch_size=8, epochs=1, seed=5, sample_length=12),
                   label="唐诗 · 长短期记忆", workspace=home)
    return home, result.run_id


def _metrics(reg, run_id, steps=6):
    reg.add_metrics(run_id, [{"kind": "batch", "epoch": 0, "step": s, "elapsed": s * 2.0, "loss": 6 - s * 0.3,
                              "bpc": 8 - s * 0.4, "grad_norm": 1.5 + s, "clipped": 0} for s in range(1, steps + 1)])
    reg.add_metrics(run_id, [{"kind": "epoch", "epoch": 1, "step": steps, "elapsed": steps * 2.0, "loss": 4.2,
                              "val_loss": 4.5, "bpc": 6.1, "val_bpc": 6.5}])


@pytest.fixture()
def app(zh_home, tmp_path, monkeypatch, v2_pages):
    home, trained = zh_home
    ws = tmp_path / "workspace"
    shutil.copytree(home, ws)
    monkeypatch.setenv("INKWELL_HOME", str(ws))
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])   # a queued run here must never start a real worker
    reg, me = Registry(str(ws)), Identity.writer(WRITER)
    with reg.connect() as db:
        db.execute("UPDATE runs SET owner=? WHERE id=?", (me.owner, trained))
    prefs.save(reg.home, me.owner, lang="zh")
    library.save_corpus("唐诗选", load_corpus(POEMS), reg.home, me)   # the Train form, fitted to it, under the panel
    mine = dict(owner=me.owner, cell="gru", layers=1, units=8, level="char", epochs=3, steps=40)
    # Ended runs with the lines workers store (textgen/fit.py), for the Runs page's compare and details.
    early = reg.create_run("宋词 · 门控循环", status="done", finished=time.time(), epoch=1, elapsed=12.0,
                           best_val_bpc=6.5, last_val_bpc=6.5,
                           message="Stopped early: validation loss did not improve for 3 epochs.", **mine)
    _metrics(reg, early)
    blown = reg.create_run("宋词 · 高学习率", status="diverged", finished=time.time(), epoch=0, elapsed=4.0,
                           message="The loss exploded at step 12 (learning rate 0.3 is too high for this model). "
                                   "Try a lower learning rate, such as 0.1. The last good checkpoint is kept.", **mine)
    _metrics(reg, blown, 3)
    # A live job: running in this (alive) process, its heartbeat ahead so it is not taken for dead mid-test.
    running = reg.create_run("元曲 · 训练中", status="running", pid=os.getpid(), heartbeat=time.time() + 3600,
                             started=time.time(), epoch=0, step=6, elapsed=12.0, eta=50.0, chars_per_sec=900.0,
                             message="Starting…", **mine)
    _metrics(reg, running)
    reg.add_sample(running, 1, 0.8, "春风又绿江南岸")
    queued = reg.create_run("元曲 · 排队", status="queued", **mine)
    # A finished memory experiment (results on disk, as its jobs leave them) and a finished clipping pair.
    cfg = ex.MemoryConfig(gaps=(5, 50))
    exp_id = ex.create(cfg, reg, owner=me)
    acc = {("rnn", 5): 1.0, ("rnn", 50): 0.26, ("lstm", 5): 1.0, ("lstm", 50): 0.97, ("gru", 5): 1.0, ("gru", 50): 0.9}
    for cell in ex.CELLS:
        rows = [ex.CellResult(cell, g, 10, 100, acc[(cell, g)], 50, 18.0).as_dict() for g in cfg.gaps]
        (reg.home / "experiments" / exp_id / f"{cell}.json").write_text(json.dumps(rows))
    from textgen import clipping

    pair_id = clipping.submit(reg.run_dir(trained) / "corpus.txt", reg, me, source="唐诗")
    pair = next(p for p in clipping.list_pairs(reg, me) if p["id"] == pair_id)
    with reg.connect() as db:
        db.execute("UPDATE runs SET status='diverged', message=? WHERE id=?",
                   ("The loss exploded at step 5 (learning rate 0.5 is too high for this model). Try a lower "
                    "learning rate, such as 0.17. The last good checkpoint is kept.", pair["runs"]["off"]))
        db.execute("UPDATE runs SET status='done', message='Reached its time budget.' WHERE id=?",
                   (pair["runs"]["on"],))
    reg.add_metrics(pair["runs"]["off"], [{"kind": "batch", "step": i, "grad_norm": 2.0 * 10 ** i, "clipped": 0,
                                           "loss": 4.0 + i} for i in range(1, 6)])
    reg.add_metrics(pair["runs"]["on"], [{"kind": "batch", "step": i, "grad_norm": 2.0, "clipped": 1,
                                          "loss": 4.0 - 0.1 * i} for i in range(1, 6)])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["w"] = WRITER
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at, {"trained": trained, "running": running, "queued": queued, "early": early, "blown": blown}


def _left(at) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    return sorted(english_words(shown_text(at)))


def test_every_state_reads_in_chinese(app):
    at, runs = app
    left = {}
    # Train: the live panel of the running job (progress, ETA, its curve and sample), the queued one, the diverged.
    at.session_state["train_run"] = runs["running"]
    at.switch_page("pages/train.py").run()
    assert at.get("progress") and any("元曲 · 训练中" in t.value for t in at.text), "no live panel"
    assert any(e.label == "再训练一个模型" for e in at.expander), [e.label for e in at.expander]
    left["train, running"] = _left(at)
    at.session_state["train_run"] = runs["queued"]
    at.run()
    assert any("排队" in i.value for i in at.info), [i.value for i in at.info]
    left["train, queued"] = _left(at)
    at.session_state["train_run"] = runs["blown"]
    at.run()
    left["train, diverged"] = _left(at)

    # Runs: two runs ticked draw one compare chart; the picked run shows its stored message.
    at.switch_page("pages/runs.py").run()
    ids = [r["id"] for r in Registry().list_runs(Identity.writer(WRITER))]
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [ids.index(runs["early"]), ids.index(
        runs["trained"])], "columns": []}}
    at.run()
    assert at.get("vega_lite_chart"), "no compare chart"
    assert "提前停止：验证损失连续 3 轮没有改善。" in [c.value for c in at.caption]
    left["runs, compare"] = _left(at)

    # Write: three alternatives from the Chinese model, as cards.
    at.session_state["active_run"] = runs["trained"]
    at.switch_page("pages/write.py").run()
    at.number_input(key="w_n").set_value(3).run()
    at.button(key="w_continue").click().run()
    assert len(at.session_state["write_alternatives"]["texts"]) == 3
    left["write, alternatives"] = _left(at)
    at.number_input(key="w_n").set_value(1).run()   # one continuation, streamed into the draft, and its note
    at.button(key="w_continue").click().run()
    assert any(c.value.startswith("种子 ") for c in at.caption), [c.value for c in at.caption]   # "Seed 7: ..."
    left["write, continued"] = _left(at)
    # Inside: the finished experiment's chart and words, the clipping pair side by side, the trained run's curves.
    at.switch_page("pages/inside.py").run()
    assert len(at.get("vega_lite_chart")) >= 3
    left["inside, results"] = _left(at)

    assert left == {k: [] for k in left}

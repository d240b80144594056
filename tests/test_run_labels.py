"""Labels the engine writes (the clipping pair) read in Chinese; a writer's own label stays as typed."""
import pytest

from pages import i18n, run_labels
from textgen import Registry, clipping
from textgen.identity import Identity


@pytest.fixture()
def zh(monkeypatch):
    monkeypatch.setattr(i18n, "current", lambda: "zh")
    monkeypatch.setattr(run_labels, "current", lambda: "zh")


def test_the_clipping_pairs_labels_read_in_chinese(workspace, monkeypatch, zh):
    from textgen import jobs

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    monkeypatch.setattr(jobs, "check_corpus", lambda *a, **k: None)
    reg, me = Registry(str(workspace)), Identity.writer("l" * 22)
    corpus = workspace / "poems.txt"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text("春眠不觉晓" * 200, "utf-8")
    pair_id = clipping.submit(corpus, reg, me, source="唐诗")
    pair = next(p for p in clipping.list_pairs(reg, me) if p["id"] == pair_id)
    labels = {side: run_labels.label(reg.get_run(rid)["label"]) for side, rid in pair["runs"].items()}
    lr = f"{clipping.TRAIN.lr:g}"
    assert labels == {"off": f"不裁剪：SimpleRNN，SGD，学习率 {lr}，训练于唐诗",
                      "on": f"裁剪：SimpleRNN，SGD，学习率 {lr}，训练于唐诗"}


def test_a_writers_own_label_is_left_as_typed(zh):
    assert run_labels.label("Clipping on my poems") == "Clipping on my poems"
    assert run_labels.label("Write") == "Write"   # a label that is also a catalogue entry is still the writer's
    assert run_labels.label(None) == ""


def test_english_shows_the_label_as_stored():
    said = "Clipping on: SimpleRNN, SGD at lr 0.5 on poems"
    assert run_labels.label(said) == said


def test_a_run_per_cell_is_stored_in_english_and_read_in_chinese(zh):
    stored = run_labels.EACH_CELL.format(label="my story", cell="GRU", units=58)
    assert stored == "my story · GRU (58 units)"
    assert run_labels.label(stored) == "my story · GRU（58 个单元）"

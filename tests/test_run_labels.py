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


class _Catalogue:
    """A catalogue holding only the given translations (msgid -> msgstr), whatever the .po holds today."""
    def __init__(self, zh: dict[str, str]):
        self.zh = zh

    def pgettext(self, context, message):
        assert context == i18n.ERROR_CONTEXT
        return self.zh.get(message, message)


def test_a_vanishing_measurements_label_reads_in_chinese_with_its_runs_label(workspace, monkeypatch, zh):
    from textgen import jobs, vanishing

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry(str(workspace))
    off = f"Clipping off: SimpleRNN, SGD at lr {clipping.TRAIN.lr:g}"
    runs = [reg.create_run(name, status="done", level="char", cell="rnn", layers=1, units=8, params=100)
            for name in ("sea words", off)]
    assert vanishing.submit(reg, runs) == runs
    stored = [reg.get_run(vanishing.job_id(r))["label"] for r in runs]
    assert stored == ["Vanishing curve of sea words", f"Vanishing curve of {off}"]   # the engine's English
    monkeypatch.setattr(run_labels, "translations", lambda lang: _Catalogue({
        run_labels.VANISHING: "{label} 的梯度消失曲线",
        "Clipping off: SimpleRNN, {optimizer} at lr {lr}": "不裁剪：SimpleRNN，{optimizer}，学习率 {lr}"}))
    assert [run_labels.label(s) for s in stored] == [
        "sea words 的梯度消失曲线", f"不裁剪：SimpleRNN，SGD，学习率 {clipping.TRAIN.lr:g} 的梯度消失曲线"]


def test_a_vanishing_measurement_of_a_run_per_cell_is_not_taken_for_the_cell_template(monkeypatch, zh):
    stored = "Vanishing curve of " + run_labels.EACH_CELL.format(label="my story", cell="GRU", units=58)
    monkeypatch.setattr(run_labels, "translations", lambda lang: _Catalogue({
        run_labels.VANISHING: "{label} 的梯度消失曲线", run_labels.EACH_CELL: "{label} · {cell}（{units} 个单元）"}))
    assert run_labels.label(stored) == "my story · GRU（58 个单元） 的梯度消失曲线"


def test_the_memory_experiments_jobs_read_in_chinese(workspace, monkeypatch, zh):
    from textgen import experiments as ex
    from textgen import jobs

    monkeypatch.setattr(jobs, "pump", lambda reg=None: [])
    reg = Registry(str(workspace))
    ex.submit(ex.MemoryConfig(gaps=(5, 50)), reg)
    stored = sorted(r["label"] for r in reg.list_runs())
    assert stored == ["Why gates? GRU", "Why gates? LSTM", "Why gates? SimpleRNN"]
    monkeypatch.setattr(run_labels, "translations", lambda lang: _Catalogue({run_labels.WHY_GATES: "为什么要门控？{cell}"}))
    assert [run_labels.label(s) for s in stored] == ["为什么要门控？GRU", "为什么要门控？LSTM", "为什么要门控？SimpleRNN"]


def test_without_a_translation_the_measurements_label_stays_english(zh, monkeypatch):
    monkeypatch.setattr(run_labels, "translations", lambda lang: _Catalogue({}))
    assert run_labels.label("Vanishing curve of sea words") == "Vanishing curve of sea words"

"""The message catalogue: extracted from the code, fully translated, placeholders kept, the .mo up to date;
engine errors shown in Chinese; the language remembered per writer; every page rendered in Chinese."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pages import catalogue, i18n
from pages.i18n_extract import extract_engine
from textgen import Registry, library, load_corpus, prefs
from textgen.identity import Identity

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@pytest.fixture(scope="module")
def extracted():
    return catalogue.extract()


@pytest.fixture(scope="module")
def zh():
    return catalogue.read("zh_CN")


def test_the_catalogue_holds_every_string_the_code_shows(extracted, zh):
    code = {(m.id, m.context) for m in extracted if m.id}
    po = {(m.id, m.context) for m in zh if m.id}
    assert sorted(map(str, code - po)) == [], "new strings: run `python -m pages.catalogue` and translate them"
    assert sorted(map(str, po - code)) == [], "strings no longer in the code: run `python -m pages.catalogue`"


def test_every_string_has_a_chinese_translation(zh):
    missing = [m.id for m in zh if m.id and not catalogue.translated(m)]
    assert missing == []
    assert not [m.id for m in zh if m.id and m.fuzzy]


def test_translations_keep_their_placeholders(zh):
    lost = []
    for m in zh:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, (tuple, list)) else (m.string,)
        want = set(PLACEHOLDER.findall(ids[-1]))
        lost += [(ids[0], s) for s in strings if set(PLACEHOLDER.findall(s)) != want]
    assert lost == []


def test_the_compiled_catalogue_is_up_to_date(zh):
    mo = catalogue.po_path("zh_CN").with_suffix(".mo")
    assert mo.read_bytes() == catalogue.mo_bytes(zh), "run `python -m pages.catalogue` to compile the .mo"


def test_engine_errors_are_extracted_as_templates(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f(n, path):\n"
                   "    raise CorpusError(f'You gave {n:,} files from {path.name!r}.')\n"
                   "    raise ValueError('not ours either')\n"
                   "    raise RunError(message)\n"
                   "W = Widget('Layers', 1, 'Stacked layers.')\n", "utf-8")
    with open(src, "rb") as f:
        got = [(line, func, msg) for line, func, msg, _ in extract_engine(f, None, [], {})]
    assert got == [(2, "pgettext", ("engine", "You gave {n:,} files from {path.name!r}.")),
                   (3, "pgettext", ("engine", "not ours either")),
                   (5, "gettext", "Layers"), (5, "gettext", "Stacked layers.")]


def test_run_messages_are_extracted_where_textgen_sets_them(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def run(reg, e, n):\n"
                   "    message = f'Stopped after {n} steps.'\n"
                   "    status, message = 'done', 'All done here.'\n"
                   "    reg.finish(rid, 'cancelled', f'Cancelled at {n}.')\n"
                   "    reg.fail(rid, message)\n"
                   "    reg.update(rid, message='Kept for later.', label='not a message')\n"
                   "def requeue(run_id, message='Waiting in line.'):\n"
                   "    pass\n", "utf-8")
    with open(src, "rb") as f:
        got = sorted((line, msg[1]) for line, _f, msg, _ in extract_engine(f, None, [], {}))
    assert got == [(2, "Stopped after {n} steps."), (3, "All done here."), (4, "Cancelled at {n}."),
                   (6, "Kept for later."), (7, "Waiting in line.")]



def test_an_engine_functions_hook_pieces_are_plain_entries(tmp_path):
    """textgen's `_("...")` (a translation hook such as memory_verdict.explain's) is a plain entry, like a page's;
    one given anything but a str literal could not be looked up as written, and the catalogue refuses it."""
    src = tmp_path / "m.py"
    src.write_text("def explain(n, _=str):\n"
                   "    return _('{n} at a gap').format(n=n) + _(' Said twice.')\n", "utf-8")
    with open(src, "rb") as f:
        assert sorted((line, func, msg) for line, func, msg, _ in extract_engine(f, None, [], {})) == [
            (2, "gettext", " Said twice."), (2, "gettext", "{n} at a gap")]
    src.write_text("def explain(n, _=str):\n    return _(f'{n} at a gap')\n", "utf-8")
    with open(src, "rb") as f, pytest.raises(ValueError, match=r"line 2: _\(\) takes a str literal"):
        list(extract_engine(f, None, [], {}))

def _run_message_templates() -> list[str]:
    import ast

    from pages import i18n_extract

    out = []
    for path in sorted((ROOT / "textgen").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            out += [msg[1] for _line, _f, msg in i18n_extract._run_messages(node)]
    return out


def test_every_run_message_a_worker_stores_reads_in_chinese():
    """Filled as a worker fills them (numbers, a name), each stored status line comes back wholly in Chinese."""
    templates = _run_message_templates()
    assert "Stopped early: validation loss did not improve for {cfg.patience} epochs." in templates
    assert len(templates) >= 13
    english = {}
    for t in templates:
        filled = PLACEHOLDER.sub("7", t)
        zh = i18n.error_text(filled, "zh")
        if re.search(r"[A-Za-z]{2}", zh):
            english[filled] = zh
    assert english == {}


def test_a_run_message_from_the_registry_reads_in_chinese(workspace):
    reg = Registry(str(workspace))
    rid = reg.create_run("诗", status="queued")
    reg.cancel(rid)
    assert i18n.error_text(reg.get_run(rid)["message"], "zh") == "还没开始就取消了。"
    said = (   # textgen/fit.py's line for a run whose loss blew up, as the worker fills it
        "The loss exploded at step 120 (learning rate 0.3 is too high for this model). Try a lower learning "
        "rate, such as 0.1. The last good checkpoint is kept.")
    assert i18n.error_text(said, "zh") == ("损失在第 120 步爆炸了（学习率 0.3 对这个模型太高）。试试更低的学习率，比如 0.1。"
                                           "最后一个正常的检查点已保留。")


@pytest.mark.parametrize("chars", [3_000, 30_000, 400_000, 4_000_000])
@pytest.mark.parametrize("cjk", [False, True])
def test_the_train_pages_fit_notes_read_in_chinese(chars, cjk):
    """sizing.fit's sentences under the preset (batch lowered, as tuned, too few updates), wholly in Chinese."""
    from textgen import presets, sizing

    counts = sizing.char_counts(chars, 3000 if cjk else 80, 0)
    for name in presets.PRESETS:
        for note in sizing.fit(presets.PRESETS[name], counts, cjk=cjk).notes:
            zh = i18n.error_text(note, "zh")
            assert re.search(r"[A-Za-z]{2}", zh) is None, (note, zh)


def test_an_engine_error_reads_in_chinese_with_its_values():
    from textgen.identity import check

    with pytest.raises(Exception) as e:
        check(Identity.writer("a" * 22), "w-someone-else", "run 2026-a1b2c3")
    assert i18n.error_text(e.value, "zh") == "run 2026-a1b2c3属于另一位写作者，只有本人或主持人才能打开。"
    assert i18n.error_text(e.value, "en") == str(e.value)   # English and the CLI: the engine's own sentence


def test_a_field_error_names_the_field_in_chinese():
    from textgen.config import widget_error

    why = widget_error("layers", 9)   # "Layers must be between 1 and 4, not 9."
    assert i18n.error_text(why, "zh") == "层数必须在 1 到 4 之间，不能是 9。"


def test_an_unknown_sentence_stays_as_it_is():
    assert i18n.error_text("Something nobody wrote a template for.", "zh") == "Something nobody wrote a template for."


def test_numbers_and_dates_outside_a_session_are_english():
    assert i18n.num(1234567) == "1,234,567"
    assert i18n.num(0.5, 2) == "0.50"
    assert i18n.num(None) == "—"


def test_the_language_is_kept_per_writer(tmp_path):
    assert prefs.load(tmp_path, "w-abc") == {}
    prefs.save(tmp_path, "w-abc", lang="zh")
    assert prefs.load(tmp_path, "w-abc") == {"lang": "zh"}
    assert prefs.load(tmp_path, "w-other") == {}
    prefs.save(tmp_path, "../escape", lang="zh")   # not an owner digest: nothing written anywhere
    assert not (tmp_path / "escape.json").exists() and not (tmp_path / "prefs" / "..").resolve().joinpath(
        "escape.json").exists()


# -- every page in Chinese -----------------------------------------------------------------------------
WRITER = "i18n-test-writer-token-0001"
# Words that stay as they are in the Chinese interface: product and model names, file types, units.
ALLOWED = {"Inkwell", "GRU", "LSTM", "RNN", "SimpleRNN", "Markdown", "Word", "MB", "Project", "Gutenberg", "Adam", "Keras",
           "AdamW", "Dropout", "CPU", "Top-k", "Top-p", "top-k", "top-p", "SGD", "NaN", "lr", "INKWELL_HOST_CODE", "txt", "md", "docx", "zip", "Kneser", "Ney", "top",
           "Top", "The", "Gannet", "Light", "UTF", "utf", "GBK", "gbk", "ASCII", "zh", "en", "English", "Language"}
TEXT_FIELDS = {"label", "help", "placeholder", "body", "options", "captions", "content", "text"}
CHINESE = "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。\n" * 400


def _strings(msg, out: list) -> None:
    for field, value in msg.ListFields():
        scalar = isinstance(value, (str, bytes, bool, int, float)) or hasattr(value, "ListFields")
        values = [value] if scalar else list(value)
        if field.type == field.TYPE_MESSAGE:
            for v in values:
                _strings(v, out)
        elif field.type == field.TYPE_STRING and field.name in TEXT_FIELDS:
            out += values
        elif field.type == field.TYPE_STRING and field.name == "spec":   # a chart: its titles and labels
            out += [t if isinstance(t, str) else " ".join(t) for t in _titles(json.loads(value))]


def _titles(spec):
    if isinstance(spec, dict):
        for k, v in spec.items():
            if k in ("title", "label") and isinstance(v, (str, list)):
                yield v
            else:
                yield from _titles(v)
    elif isinstance(spec, list):
        for v in spec:
            yield from _titles(v)


def shown_text(at) -> list[str]:
    out = []

    def walk(node):
        if getattr(node, "proto", None) is not None and getattr(node, "type", "") != "html":   # our own CSS
            _strings(node.proto, out)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def english_words(texts: list[str]) -> set[str]:
    words = set()
    for t in texts:
        t = t.replace("\\", "")   # Markdown escapes (ui.safe)
        # icons, code, file names, run ids and the id end that tells runs apart (" · 1a2b3c")
        t = re.sub(r":material/[a-z_]+:|:[a-z-]+\[|`[^`]*`|\b[\w.-]+\.(txt|md|docx|zip|json)\b| · [0-9a-f]{6}(?![0-9a-f])|\b\d{8}-\d{6}-[0-9a-f]{6}(?![0-9a-f])", " ", t)
        words |= {w for w in re.findall(r"[A-Za-z][A-Za-z_'-]*[A-Za-z]", t) if w not in ALLOWED}
    return words


@pytest.fixture()
def zh_app(workspace, monkeypatch, v2_pages):
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    monkeypatch.setenv("INKWELL_HOST_CODE", "host-code-for-the-test")
    reg = Registry(str(workspace))
    me = Identity.writer(WRITER)
    library.save_corpus("唐诗选", load_corpus(CHINESE), reg.home, me)
    run_id = reg.create_run("唐诗 · GRU 1×8", status="done", cell="gru", layers=1, units=8, level="char",
                            owner=me.owner)
    np.savez(reg.run_dir(run_id) / "weights.npz", embedding=np.zeros((2, 2), np.float32))
    prefs.save(reg.home, me.owner, lang="zh")   # this writer chose 中文 before: no switch needed
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["w"] = WRITER
    return at.run()


PAGES = ("pages/corpus.py", "pages/train.py", "pages/runs.py", "pages/workshop.py", "pages/write.py",
         "pages/inside.py")


def _page(at, path):
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_every_page_reads_in_chinese(zh_app):
    at = zh_app
    assert at.session_state[i18n.LANG] == "zh"
    left = {}
    for path in PAGES:
        _page(at, path)
        if path == "pages/corpus.py":   # the checked text's figures, chart and advice too
            at.text_area(key="corpus_paste").input(CHINESE[:3000]).run()
            next(b for b in at.button if b.label == "检查文本").click().run()
            assert not at.exception and at.metric, [e.value for e in at.error] + [b.label for b in at.button]
        if path == "pages/train.py":    # every hyperparameter's label and help
            at.radio(key="train_preset").set_value("Custom").run()
        if path == "pages/workshop.py":
            at.text_input(key="workshop_code").input("host-code-for-the-test").run()
        left[path] = english_words(shown_text(at))
    assert {p: sorted(w) for p, w in left.items()} == {p: [] for p in left}, left


def test_the_switch_changes_the_language_and_remembers_it(workspace, monkeypatch, v2_pages):
    monkeypatch.delenv("INKWELL_ACCESS_CODE", raising=False)
    monkeypatch.setattr("textgen.artifacts.DEMO_DIR", workspace / "no-demo")   # a fresh server opens on Corpus
    monkeypatch.setattr("pages.ui.language_demo", lambda: None)   # nor the Chinese demo
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["w"] = WRITER
    at.run()
    assert at.session_state[i18n.LANG] == "en"   # AppTest's browser reports no Chinese locale
    assert at.title[0].value == "Corpus"
    at.sidebar.segmented_control(key=i18n.SWITCH).set_value("zh").run()
    assert at.title[0].value == "语料"
    # The switch's callback saved the choice for this writer: a new session (a reload, a restart) reads it.
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    fresh.query_params["w"] = WRITER
    fresh.run()
    assert fresh.session_state[i18n.LANG] == "zh"
    assert fresh.title[0].value == "语料"


def test_bold_text_still_renders_in_chinese(zh):
    """Markdown closes ** only when it is not wedged between punctuation and a letter: "**来看：**约" shows its
    stars. Every Chinese string keeps its bold closable: punctuation goes outside the stars."""
    wedged = re.compile(r"\*\*[^*\s][^*]*[，。：；！？（）、“”]\*\*[^\s，。：；！？（）、“”*]")
    bad = [m.string for m in zh if m.id and isinstance(m.string, str) and wedged.search(m.string)]
    assert bad == []


def test_the_clipping_verdict_reads_wholly_in_chinese():
    import re

    from textgen import clipping

    off = [{"step": i, "loss": 4.13 + i * 0.5, "grad_norm": 2.6 + i} for i in range(11)]
    on = [{"step": i, "loss": 4.13 - i * 0.01, "grad_norm": 2.6, "clipped": i % 2} for i in range(116)]
    for status in ("diverged", "done"):
        said = clipping.verdict(status, "done", off, on)
        zh = i18n.error_text(said, "zh")
        assert said.startswith("Without clipping") and re.search("[A-Za-z]", zh) is None, zh


def test_a_language_switch_sets_every_choice_again_and_leaves_buttons_and_files_alone():
    """Streamlit keeps a radio's choice by its label on screen; set again through session state, each choice is
    labelled afresh in the new language (the browser test switches the Train page's preset back and forth)."""
    from pages import i18n

    class State(dict):
        def __init__(self, *a):
            super().__init__(*a)
            self.set = []

        def __setitem__(self, k, v):
            self.set.append(k)
            super().__setitem__(k, v)

    upload = object()
    state = State({"train_preset": "Short", "hp_units": 512, "hp_lr": 0.003, "runs_pick": ["a", "b"],
                   "train_go": False, "corpus_files": upload, "maybe": None, i18n.LANG: "zh", i18n.SWITCH: "zh"})
    i18n.reseat(state)
    assert state.set == ["train_preset", "hp_units", "hp_lr", "runs_pick"]
    assert state["train_preset"] == "Short" and state["corpus_files"] is upload and state["runs_pick"] == ["a", "b"]


def test_lists_and_sentences_are_joined_as_each_language_writes_them():
    assert i18n.listing([5, 10, 20], "en") == "5, 10, 20"
    assert i18n.listing([5, 10, 20], "zh") == "5、10、20"
    assert i18n.sentences("Training finished.", "The time budget ran out.", lang="en") == \
        "Training finished. The time budget ran out."
    assert i18n.sentences("训练完成。", "", "已用完时间预算。", lang="zh") == "训练完成。已用完时间预算。"
    assert i18n.sentences("排队中：第 2 位。", "这台服务器一次训练 1 个模型。", lang="zh") == \
        "排队中：第 2 位。这台服务器一次训练 1 个模型。"
    assert i18n.tidy("LSTM（从间隔 50 起） 和 GRU", "zh") == "LSTM（从间隔 50 起）和 GRU"
    assert i18n.tidy("a （b） c", "en") == "a （b） c"   # English text is left as written


def test_the_memory_verdict_joins_cells_without_a_stray_space_in_chinese(monkeypatch):
    """The measured verdict of memory-experiment-2026-12-02-quiet.json, as the Inside page shows it in Chinese."""
    from pages import memory_words
    from textgen.experiments import CELLS, CellResult, MemoryConfig

    acc = {"rnn": (1.0, 1.0, 1.0, 1.0, 0.248, 0.482), "lstm": (1.0, 1.0, 0.721, 0.234, 0.25, 0.232),
           "gru": (1.0, 1.0, 0.26, 0.264, 0.236, 0.244)}
    cfg = MemoryConfig()
    rows = [CellResult(c, g, 10, 100, acc[c][i], 1000, 12.0) for c in CELLS for i, g in enumerate(cfg.gaps)]
    monkeypatch.setattr(i18n, "current", lambda: "zh")
    said = memory_words.explain(rows, cfg)
    assert "比 LSTM（从间隔 50 起）和 GRU（从间隔 20 起）还晚。" in said, said
    assert re.search(r" [，。（）、]|[，。（）、] ", said) is None, said

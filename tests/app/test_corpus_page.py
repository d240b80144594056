"""The Corpus page, driven through AppTest: checking text, errors next to the input, saving and deleting."""
from _shown import shown
from pathlib import Path

from streamlit.testing.v1 import AppTest

from textgen import library

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "corpus.py")

# 20 x "The cat sat.\nThe dog ran!\n": 26 chars a time; T h e ␣ c a t s . ↵ d o g r n ! are 16 distinct;
# 6 words and 2 newlines a time, so 41 lines.
TEXT = "The cat sat.\nThe dog ran!\n" * 20


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def check(at):
    return next(b for b in at.button if b.label == "Check text").click().run()


def chart_frame(at, index=0):
    from streamlit import dataframe_util

    proto = at.get("vega_lite_chart")[index].proto
    return dataframe_util.convert_arrow_bytes_to_pandas_df(proto.datasets[0].data.data)


def test_page_loads_with_empty_state(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Corpus"
    assert at.text_area(key="corpus_paste").value == ""
    assert any("Nothing saved yet" in c.value for c in at.caption)


def test_pasted_text_shows_exact_stats(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="corpus_paste").set_value(TEXT)
    check(at)
    assert not at.exception
    assert metrics(at) == {"Characters": "520", "Distinct characters": "16", "Words": "120", "Lines": "41",
                           "Encoding": "utf-8"}
    top = chart_frame(at)
    assert top.iloc[0].to_dict() == {"character": "␣", "count": 80}   # 4 spaces a time
    assert set(top["character"]) >= {"↵", "T", "h", "e"}
    assert at.code[0].value == TEXT.rstrip("\n")   # all of it: shorter than the preview (st.code drops the last newline)


def test_sizing_advice_is_the_train_pages_estimate(workspace):
    from textgen import sizing
    from textgen.presets import DEFAULT, PRESETS

    text = "The cat sat on the mat by the door.\n" * 200    # 7,200 characters, 19 distinct
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="corpus_paste").set_value(text)
    check(at)
    counts = sizing.char_counts(len(text), len(set(text)))
    fitted = sizing.adapt(PRESETS[DEFAULT], counts)
    est = sizing.estimate(counts, fitted.model, fitted.train)   # the Train page's figures for the same preset
    said = (f"About 7,200 characters: the preset's 1-layer GRU of 256 units ({est.params:,} parameters) reads the "
            f"text about {est.passes:,.0f} times in under a minute. A 1-layer GRU of 64 units would suit its size "
            "better (Custom on the Train page).")
    assert [shown(i.value) for i in at.info] == [f"**For a 1-minute run ({DEFAULT}):** {said}"]
    assert not at.error


def test_a_text_too_short_to_train_is_said_before_save(workspace):
    """83 characters: the Corpus page says what the Train page would, instead of advising a model."""
    text = "The lamp turned all night, and the gulls slept on the rocks below the lighthouse wall."[:83]
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="corpus_paste").set_value(text)
    check(at)
    assert not at.exception and not at.info
    said = ("The text is too short for sequence length 64: it has 83 characters, training needs at least 651 "
            "(add about 568 more, or choose a shorter sequence length).")
    assert [shown(e.value) for e in at.error] == [said] and not at.warning   # not also "a short text"
    # the same sentence the Train page shows next to Start for this corpus, once saved
    next(b for b in at.button if b.label == "Save corpus").click().run()
    train = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=30)
    train.query_params["w"] = at.query_params["w"]   # the same writer (their token is in the link)
    train.run()
    assert [shown(e.value) for e in train.error] == [said]
    assert next(b for b in train.button if b.label == "Start training").disabled


def test_lowercase_option_merges_characters(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="corpus_paste").set_value(TEXT)
    at.checkbox(key="clean_lower").check()
    check(at)
    assert metrics(at)["Distinct characters"] == "15"   # T folds into t


def test_whitespace_paste_shows_error_and_keeps_text(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="corpus_paste").set_value("  \n\t  ")
    check(at)
    assert not at.exception
    assert [shown(e.value) for e in at.error] == ["The text contains only whitespace."]
    assert at.text_area(key="corpus_paste").value == "  \n\t  "
    assert not at.metric


def test_empty_paste_shows_error(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    check(at)
    assert [shown(e.value) for e in at.error] == ["The text is empty."]


def test_error_clears_an_earlier_result(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="corpus_paste").set_value(TEXT)
    check(at)
    at.text_area(key="corpus_paste").set_value("")
    check(at)
    assert not at.metric and len(at.error) == 1


def test_uploads_are_checked_on_the_server(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.segmented_control(key="corpus_mode").set_value("upload").run()
    up = at.file_uploader(key="corpus_files")
    assert up.allowed_type == [".txt", ".md", ".docx"]
    up.set_value([("a.txt", b"one two\n", "text/plain"), ("b.md", "caf\xe9 ok".encode("cp1252"), "text/markdown")])
    at.run()
    # Two files are never merged without asking: Check says so, and nothing is read.
    check(at)
    assert [shown(e.value) for e in at.error] == [
        'You chose 2 files: tick "Join these files" to read them as one text, or remove the ones you do not want.']
    assert "Characters" not in metrics(at)
    join = at.checkbox(key="corpus_join")
    assert shown(join.label) == "Join these 2 files into one corpus, in this order: a.txt, b.md"
    join.check().run()
    check(at)
    assert not at.exception   # read fine; only too short to train (said before Save)
    assert [shown(e.value) for e in at.error] == [
        "The text is too short for sequence length 64: it has 17 characters, training needs at least 651 (add about "
        "634 more, or choose a shorter sequence length)."]
    # "one two\n" + "\n\n" + "café ok": 17 characters, 4 words, 4 lines
    assert metrics(at)["Characters"] == "17"
    assert metrics(at)["Words"] == "4"
    assert metrics(at)["Encoding"] == "utf-8 + cp1252"   # whole in the metric; per file in its help
    assert at.text_input(key="corpus_name").value == "a and 1 more"

    at.file_uploader(key="corpus_files").set_value(("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
                                                    "text/plain"))
    check(at)
    assert [shown(e.value) for e in at.error] == ["photo.txt looks like binary data (an image or archive?), not text."]


def test_upload_mode_without_files(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.segmented_control(key="corpus_mode").set_value("upload").run()
    check(at)
    assert [shown(e.value) for e in at.error] == ["Choose at least one .txt, .md or .docx file first."]


def test_pasted_text_survives_a_mode_switch(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="corpus_paste").set_value("keep me")
    at.segmented_control(key="corpus_mode").set_value("sample").run()
    at.segmented_control(key="corpus_mode").set_value("paste").run()
    assert at.text_area(key="corpus_paste").value == "keep me"


def test_sample_text(workspace, sample_text):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.segmented_control(key="corpus_mode").set_value("sample").run()
    check(at)
    assert not at.error
    expected = sample_text.replace("\r\n", "\n").lstrip("\ufeff")
    assert metrics(at)["Characters"] == f"{len(expected):,}"
    assert at.text_input(key="corpus_name").value == "sample"


def test_save_lists_and_delete(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="corpus_paste").set_value(TEXT)
    check(at)
    assert at.text_input(key="corpus_name").value == "Pasted text"
    at.text_input(key="corpus_name").set_value("Cats and dogs")
    next(b for b in at.button if b.label == "Save corpus").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Saved. It is ready on the Train page."]
    saved = library.list_corpora()
    assert [c["name"] for c in saved] == ["Cats and dogs"]
    assert library.load_saved(saved[0]["id"])[0] == TEXT
    table = at.dataframe[0].value
    assert table[["name", "characters", "distinct", "words", "sources"]].to_dict("records") == [
        {"name": "Cats and dogs", "characters": 520, "distinct": 16, "words": 120, "sources": "pasted text"}]

    assert at.button(key="corpus_delete").disabled
    at.checkbox(key="corpus_delete_sure").check().run()
    at.button(key="corpus_delete").click().run()
    assert not at.exception
    assert library.list_corpora() == []
    assert not at.dataframe

import json
import time

import pytest

from textgen import CorpusError, Registry, load_corpus
from textgen import library

TEXT = "ab ab\ncab"   # 9 chars, distinct {a, b, space, newline, c} = 5, words 3, lines 2


def test_save_writes_text_and_metadata(workspace):
    cid = library.save_corpus("  My\x00 notes\n ", load_corpus(TEXT))
    assert library.CORPUS_ID_RE.match(cid)
    folder = Registry().home / "corpora"
    assert (folder / f"{cid}.txt").read_text("utf-8") == TEXT
    meta = json.loads((folder / f"{cid}.json").read_text("utf-8"))
    assert meta["name"] == "My notes"  # control characters dropped, whitespace trimmed
    assert meta["sources"] == ["pasted text"]
    assert meta["encoding"] == "utf-8"
    assert meta["stats"] == {"chars": 9, "distinct": 5, "words": 3, "lines": 2, "rare": 0, "has_words": True}
    assert meta["id"] == cid
    assert abs(meta["created"] - time.time()) < 60
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{cid}.txt", f"{cid}.json"])


def test_name_never_becomes_a_path(workspace):
    cid = library.save_corpus("../../etc/passwd", load_corpus(TEXT))
    text, meta = library.load_saved(cid)
    assert text == TEXT
    assert meta["name"] == "../../etc/passwd"
    assert library.corpus_path(cid) == Registry().home / "corpora" / f"{cid}.txt"


def test_empty_name_gets_a_default(workspace):
    cid = library.save_corpus("   ", load_corpus(TEXT))
    assert library.load_saved(cid)[1]["name"] == "untitled corpus"


def test_list_is_newest_first_and_skips_junk(workspace):
    first = library.save_corpus("first", load_corpus(TEXT))
    second = library.save_corpus("second", load_corpus("xyz xyz"))
    folder = Registry().home / "corpora"
    # make the order independent of clock resolution
    for cid, created in ((first, 1000.0), (second, 2000.0)):
        meta = json.loads((folder / f"{cid}.json").read_text("utf-8"))
        meta["created"] = created
        (folder / f"{cid}.json").write_text(json.dumps(meta), "utf-8")
    (folder / "c-000000000000.json").write_text("{not json", "utf-8")          # corrupt
    (folder / "c-111111111111.json").write_text(json.dumps({"id": "c-111111111111"}), "utf-8")  # no text
    (folder / "notes.json").write_text("{}", "utf-8")                          # not ours
    listed = library.list_corpora()
    assert [m["id"] for m in listed] == [second, first]
    assert [m["name"] for m in listed] == ["second", "first"]
    assert listed[0]["stats"] == {"chars": 7, "distinct": 4, "words": 2, "lines": 1, "rare": 0, "has_words": True}


def test_empty_workspace_lists_nothing(workspace):
    assert library.list_corpora() == []


def test_delete_removes_both_files(workspace):
    cid = library.save_corpus("gone", load_corpus(TEXT))
    keep = library.save_corpus("kept", load_corpus(TEXT))
    library.delete_corpus(cid)
    assert [m["id"] for m in library.list_corpora()] == [keep]
    assert sorted(p.name for p in (Registry().home / "corpora").iterdir()) == sorted([f"{keep}.txt", f"{keep}.json"])
    with pytest.raises(CorpusError, match="no saved corpus"):
        library.delete_corpus(cid)
    with pytest.raises(CorpusError, match="no saved corpus"):
        library.load_saved(cid)
    with pytest.raises(CorpusError, match="no saved corpus"):
        library.corpus_path(cid)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "c-0123456789ab/../x", "c-0123456789a\x00", "c-" + "a" * 2000,
                                 "", "C-0123456789AB", "c-0123456789ab.txt", "c-0123456789ab\n", "/etc/passwd", None, 12])
def test_bad_ids_are_refused_before_the_disk(workspace, bad):
    for call in (library.corpus_path, library.load_saved, library.delete_corpus):
        with pytest.raises(CorpusError, match="is not a saved corpus id"):
            call(bad)


def test_long_id_message_is_short(workspace):
    with pytest.raises(CorpusError) as info:
        library.corpus_path("x" * 2000)
    assert len(str(info.value)) < 130


def test_only_a_corpus_can_be_saved(workspace):
    with pytest.raises(CorpusError, match="check the text first"):
        library.save_corpus("raw", "just a string")


def test_explicit_workspace_argument(tmp_path):
    cid = library.save_corpus("here", load_corpus(TEXT), workspace=tmp_path / "ws")
    assert library.corpus_path(cid, tmp_path / "ws") == (tmp_path / "ws").resolve() / "corpora" / f"{cid}.txt"
    assert [m["id"] for m in library.list_corpora(tmp_path / "ws")] == [cid]


def test_saving_the_same_text_under_the_same_name_keeps_one_copy(workspace):
    from textgen.corpus import load_corpus

    corpus = load_corpus("The same words, saved twice. " * 20)
    first = library.save_corpus("Twice", corpus, workspace)
    assert library.save_corpus("Twice", corpus, workspace) == first
    assert library.save_corpus("Another name", corpus, workspace) != first
    assert [c["name"] for c in library.list_corpora(workspace)].count("Twice") == 1


def test_a_chinese_text_is_saved_as_having_no_words(workspace):
    from tests.chinese import poems

    cid = library.save_corpus("poems", load_corpus(poems(5_000)))
    meta = json.loads((Registry().home / "corpora" / f"{cid}.json").read_text("utf-8"))
    assert meta["stats"]["has_words"] is False and meta["stats"]["chars"] == 5_000

"""The draft in memory (textgen.drafttext): authorship, free edits, undo/redo, the size limit, export."""
import pytest

from textgen.drafttext import MAX_CHARS, DraftError, DraftText

W, M = "writer", "model"


def seg(author, text):
    return {"author": author, "text": text}


def test_append_merges_and_joins():
    d = DraftText.from_text("Once")
    d.append_model(" upon")
    d.append_model(" a time")
    assert d.segments == [seg(W, "Once"), seg(M, " upon a time")]
    assert d.text == "Once upon a time"
    assert d.undo_stack == [" upon", " a time"]
    d.append_model("")                      # nothing kept, nothing to undo
    assert d.undo_stack == [" upon", " a time"]


def test_constructor_merges_and_drops_empty_segments():
    d = DraftText([seg(W, "a"), seg(W, "b"), seg(M, ""), seg(M, "c"), seg(W, "")])
    assert d.segments == [seg(W, "ab"), seg(M, "c")]


def test_bad_segments_are_refused():
    with pytest.raises(DraftError):
        DraftText([{"author": "robot", "text": "x"}])
    with pytest.raises(DraftError):
        DraftText([{"author": W, "text": 3}])


def test_typing_after_the_model_keeps_its_piece():
    d = DraftText.from_text("Hello")
    d.append_model(" world")
    assert d.set_text("Hello world, said the cat.") is True
    assert d.segments == [seg(W, "Hello"), seg(M, " world"), seg(W, ", said the cat.")]


def test_editing_inside_the_model_piece_makes_the_edit_the_writers():
    d = DraftText.from_text("Hello")
    d.append_model(" wonderful world")
    d.set_text("Hello wondrous world")
    # common prefix "Hello wond", common suffix " world": only "rous" between them is the writer's
    assert d.text == "Hello wondrous world"
    assert d.segments == [seg(W, "Hello"), seg(M, " wond"), seg(W, "rous"), seg(M, " world")]


def test_fixing_a_typo_early_keeps_later_attribution():
    d = DraftText.from_text("Teh cat")
    d.append_model(" sat down.")
    d.set_text("The cat sat down.")
    assert d.segments == [seg(W, "The cat"), seg(M, " sat down.")]
    assert d.can_undo                        # the draft still ends with the model's piece
    assert d.undo() == " sat down."
    assert d.segments == [seg(W, "The cat")]


def test_set_text_same_text_is_no_change():
    d = DraftText.from_text("abc")
    d.append_model("def")
    d.undo()
    assert d.set_text("abc") is False
    assert d.redo_stack == ["def"]          # an unchanged text keeps redo
    assert d.set_text("abcx") is True
    assert d.redo_stack == []               # a real edit ends the redo chain


def test_set_text_replacing_everything():
    d = DraftText.from_text("abc")
    d.append_model("def")
    d.set_text("xyz")
    assert d.segments == [seg(W, "xyz")]
    d.set_text("")
    assert d.segments == [] and d.text == ""


def test_undo_and_redo():
    d = DraftText.from_text("It was")
    d.append_model(" a dark")
    d.append_model(" and stormy night.")
    assert d.undo() == " and stormy night."
    assert d.segments == [seg(W, "It was"), seg(M, " a dark")]
    assert d.undo() == " a dark"
    assert d.segments == [seg(W, "It was")]
    assert d.undo() is None
    assert d.redo() == " a dark"
    assert d.redo() == " and stormy night."
    assert d.redo() is None
    assert d.text == "It was a dark and stormy night."
    assert d.segments == [seg(W, "It was"), seg(M, " a dark and stormy night.")]


def test_undo_refuses_when_the_writer_wrote_after_the_piece():
    d = DraftText.from_text("A")
    d.append_model("B")
    d.set_text("ABC")
    assert not d.can_undo
    assert d.undo() is None
    assert d.text == "ABC"


def test_new_append_clears_redo():
    d = DraftText.from_text("A")
    d.append_model("B")
    d.undo()
    d.append_model("C")
    assert d.redo_stack == [] and d.redo() is None
    assert d.text == "AC"


def test_size_limit():
    d = DraftText.from_text("a" * (MAX_CHARS - 1))
    with pytest.raises(DraftError, match="limit"):
        d.append_model("bc")
    with pytest.raises(DraftError, match="limit"):
        d.set_text("a" * (MAX_CHARS + 1))
    assert len(d.text) == MAX_CHARS - 1     # a refused change leaves the draft as it was


def test_to_markdown_escapes_and_italicises_model_text():
    d = DraftText.from_text("<script>alert(1)</script> [x](javascript:alert(1))")
    d.append_model(" and *then*")
    assert d.to_markdown(screen=True) == (r"\<script\>alert\(1\)\<\/script\> \[x\]\(javascript\:alert\(1\)\)"
                                          r" *and \*then\**")
    assert d.to_markdown() == r"\<script>alert(1)\</script> \[x\](javascript:alert(1)) *and \*then\**"


def test_to_markdown_lines_paragraphs_and_indents():
    d = DraftText.from_text("Title\n\n    indented\n")
    d.append_model("one\ntwo  \n\n\nthree")
    assert d.to_markdown() == ("Title\n\n\u00a0\u00a0\u00a0\u00a0indented\\\n*one*\\\n*two*\n\n*three*")
    assert d.to_markdown(":violet[*{}*]").endswith(":violet[*three*]")


def test_to_text():
    d = DraftText.from_text("a")
    d.append_model("b")
    assert d.to_text() == "ab"

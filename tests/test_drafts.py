"""The saved draft (textgen.drafts): its file and key, pruning, a browser tab's slot, branches kept in the file."""
import json

import pytest

from tests.test_drafttext import M, W, seg
from textgen.drafts import Draft, DraftError, check_key, drafts_dir
from textgen.errors import InkwellError


def test_save_load_round_trip(workspace):
    d = Draft.from_text("Línea uno\n\"dos\" 🙂")
    d.append_model(" tres")
    d.append_model(" cuatro")
    d.undo()
    path = d.save("abcdEFGH-_12")
    assert path == workspace.resolve() / "drafts" / "abcdEFGH-_12.json"
    back = Draft.load("abcdEFGH-_12")
    assert back == d
    assert back.segments == [seg(W, "Línea uno\n\"dos\" 🙂"), seg(M, " tres")]
    assert back.undo_stack == [" tres"] and back.redo_stack == [" cuatro"]
    assert list(workspace.joinpath("drafts").iterdir()) == [path]     # no temp files left behind


def test_load_missing_is_empty(workspace):
    assert Draft.load("nothing-here-yet") == Draft()


def test_load_damaged_file_says_so(workspace):
    drafts_dir().mkdir(parents=True, exist_ok=True)
    (drafts_dir() / "damaged-draft.json").write_text("{not json", "utf-8")
    with pytest.raises(DraftError, match="damaged"):
        Draft.load("damaged-draft")
    (drafts_dir() / "damaged-draft.json").write_text(json.dumps({"segments": [{"author": "x", "text": ""}]}))
    with pytest.raises(DraftError, match="damaged"):
        Draft.load("damaged-draft")


@pytest.mark.parametrize("key", ["../../etc/passwd", "a/b/c/d/e/f", "abc", "x" * 2000, "abcdefgh\x00",
                                 "abcdefgh.json", "abcdefgh\n", "ábcdefgh", "", None, 12345678, "a b c d e f"])
def test_bad_keys_are_refused(workspace, key):
    with pytest.raises(DraftError, match="is not a draft key") as err:
        Draft.load(key)
    assert isinstance(err.value, InkwellError) and isinstance(err.value, ValueError)
    assert len(str(err.value)) < 120        # a 2000-character key is not echoed in full
    with pytest.raises(DraftError):
        Draft.from_text("x").save(key)
    assert not drafts_dir().exists() or list(drafts_dir().iterdir()) == []


def test_check_key_accepts_tokens():
    assert check_key("Ab3_-xyZ") == "Ab3_-xyZ"
    assert check_key("a" * 64) == "a" * 64


def test_prune_deletes_only_drafts_untouched_for_the_hosts_days(workspace):
    import os
    import time

    from textgen.drafts import prune

    now = time.time()
    for key, age_days in (("oldoldold1", 40), ("recent0001", 5), ("edgecase01", 29.9)):
        path = Draft.from_text("a line").save(key)
        os.utime(path, (now - age_days * 86400, now - age_days * 86400))
    other = drafts_dir() / "notes.json"            # not a draft key: never touched
    other.write_text("{}")
    os.utime(other, (now - 400 * 86400, now - 400 * 86400))
    assert prune(0, now=now) == 0                  # the default: keep every draft
    assert prune(30, now=now) == 1
    assert sorted(p.stem for p in drafts_dir().glob("*.json")) == ["edgecase01", "notes", "recent0001"]
    assert Draft.load("oldoldold1") == Draft()     # its link now opens an empty draft


def test_prune_leaves_a_draft_it_may_not_delete_and_goes_on(workspace, monkeypatch):
    import os
    import time
    from pathlib import Path

    from textgen.drafts import prune

    old = time.time() - 100 * 86400
    for key in ("lockedkey1", "freekey001"):
        os.utime(Draft.from_text("x").save(key), (old, old))
    real_unlink = Path.unlink

    def unlink(self, *a, **kw):
        if self.stem == "lockedkey1":
            raise PermissionError(13, "Permission denied")
        return real_unlink(self, *a, **kw)

    monkeypatch.setattr(Path, "unlink", unlink)
    assert prune(30) == 1
    assert [p.stem for p in drafts_dir().glob("*.json")] == ["lockedkey1"]


# -- a browser tab's draft ------------------------------------------------------------------------
def test_a_tab_opens_the_links_draft_and_keeps_it_until_the_file_changes(workspace):
    from textgen.drafts import DraftSlot

    Draft.from_text("saved before").save("linkkey-0001")
    state = {}
    draft, key, notes = DraftSlot(state).open("linkkey-0001")
    assert (draft.text, key, notes) == ("saved before", "linkkey-0001", [])
    assert state["draft"] is draft and state["draft_key"] == "linkkey-0001"
    assert DraftSlot(state).open("linkkey-0001")[0] is draft          # unchanged file: the tab's own object
    Draft.from_text("written in another tab").save("linkkey-0001")
    assert DraftSlot(state).open("linkkey-0001")[0].text == "written in another tab"


def test_a_tab_without_a_usable_link_keeps_its_key_or_makes_one(workspace):
    from textgen.drafts import DraftSlot, is_key

    state = {}
    draft, key, notes = DraftSlot(state).open(None)
    assert is_key(key) and draft == Draft() and notes == []
    assert DraftSlot(state).open(None)[1] == key                         # a page switch dropped the link
    _, again, notes = DraftSlot(state).open("../../etc/passwd")
    assert again == key
    assert notes == [("warning", "The draft link in the address bar was not valid, so a new draft was started.")]


def test_a_tab_never_writes_over_a_file_it_cannot_read(workspace):
    from textgen.drafts import DraftSlot

    drafts_dir().mkdir(parents=True, exist_ok=True)
    (drafts_dir() / "damaged-key1.json").write_text("{not json", "utf-8")
    state = {}
    draft, key, notes = DraftSlot(state).open("damaged-key1")
    assert key != "damaged-key1" and draft == Draft()
    assert [kind for kind, _ in notes] == ["error"] and "damaged" in notes[0][1]
    draft.append_model("new words")
    assert DraftSlot(state).save(draft) is None
    assert Draft.load(key).text == "new words"
    assert (drafts_dir() / "damaged-key1.json").read_text("utf-8") == "{not json"


def test_a_save_that_fails_says_why_and_keeps_the_draft_in_the_tab(workspace, monkeypatch):
    from textgen.drafts import DraftSlot

    state = {}
    draft, _, _ = DraftSlot(state).open("savefail-01")

    def refuse(*a, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("textgen.atomic.write_json", refuse)
    draft.append_model("kept here")
    problem = DraftSlot(state).save(draft)
    assert problem.startswith("The draft could not be saved to disk (") and problem.endswith("still here in this tab.")
    assert state["draft"].text == "kept here" and state["draft_stamp"] is None


# -- branches: a replaced piece in the history ----------------------------------------------------------
def _continued():
    d = Draft.from_text("The sea ")
    d.append_model("was calm")
    d.append_model(" that night")
    return d


def test_a_branch_saved_and_reloaded_undoes_to_the_exact_draft_before_it(workspace):
    d = _continued()
    before = Draft.from_json(d.to_json())
    d.replace_model(" that night", " that nothing moved")
    assert d.text == "The sea was calm that nothing moved"
    assert d.segments == [seg(W, "The sea "), seg(M, "was calm that nothing moved")]
    assert d.undo_stack == ["was calm", {"old": " that night", "new": " that nothing moved"}]
    d.save("branchkey1")
    again = Draft.load("branchkey1")
    assert again == d                                              # the branch survives the file
    assert again.undo() == " that nothing moved"
    assert again.text == "The sea was calm that night"
    assert (again.segments, again.undo_stack) == (before.segments, before.undo_stack)
    assert again.undo() == " that night" and again.text == "The sea was calm"   # then the piece itself


def test_redo_branches_again_and_a_branch_of_a_branch_undoes_one_at_a_time():
    d = _continued()
    d.replace_model(" that night", " at dawn")
    d.replace_model(" at dawn", " at dusk")
    assert d.undo_stack[-1] == {"old": {"old": " that night", "new": " at dawn"}, "new": " at dusk"}
    assert d.undo() == " at dusk" and d.text == "The sea was calm at dawn"
    assert d.undo() == " at dawn" and d.text == "The sea was calm that night"
    assert d.redo() == " at dawn" and d.text == "The sea was calm at dawn"
    assert d.redo() == " at dusk" and d.text == "The sea was calm at dusk"
    assert d.redo() is None
    assert Draft.from_json(json.loads(json.dumps(d.to_json()))) == d


def test_a_branch_needs_the_piece_at_the_end_and_changes_nothing_otherwise():
    d = _continued()
    d.set_text(d.text + "!")
    kept = d.to_json()
    with pytest.raises(DraftError, match="no longer ends with the model's last piece"):
        d.replace_model(" that night", " at dawn")
    with pytest.raises(DraftError):
        _continued().replace_model("was calm", "was rough")         # not the last piece
    assert d.to_json() == kept
    e = _continued()
    e.replace_model(" that night", " at dawn")
    e.set_text(e.text + "!")                                        # typed after the branch
    assert e.undo() is None and e.text.endswith("at dawn!")


@pytest.mark.parametrize("entry", [{"old": "a"}, {"old": 3, "new": "b"}, {"new": "b", "old": "a", "x": 1}, 5])
def test_bad_history_entries_are_refused(entry):
    with pytest.raises(DraftError, match="Undo and redo entries"):
        Draft.from_json({"segments": [seg(M, "b")], "undo": [entry]})

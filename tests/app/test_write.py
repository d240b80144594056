"""The Write page through Streamlit's AppTest, with a tiny GRU run made in a temporary workspace.

The run's weights are random NumPy arrays of the shapes training writes (no TensorFlow here): the
page only needs a Generator, and random weights give varied text, which is what these tests want.
"""
import re
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from textgen import ModelConfig, Registry, TrainConfig
from textgen.artifacts import write_config
from textgen.atomic import write_npz
from textgen.drafts import KEY_RE, Draft
from textgen.vocab import Vocab

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "write.py")
XSS = "<script>alert(1)</script> and [x](javascript:alert(1)) "


def make_run(sample_text: str, units: int = 16) -> str:
    vocab = Vocab.build(sample_text, "char")
    cfg = ModelConfig(vocab_size=len(vocab), cell="gru", layers=1, units=units, embedding=8).validate()
    rng = np.random.default_rng(0)
    u, v, e = cfg.units, cfg.vocab_size, cfg.embedding
    shapes = {"embedding": (v, e), "logits/kernel": (u, v), "logits/bias": (v,),
              "rnn_0/kernel": (e, 3 * u), "rnn_0/recurrent": (u, 3 * u), "rnn_0/bias": (2, 3 * u)}
    weights = {k: rng.normal(0, 0.5, s).astype(np.float32) for k, s in shapes.items()}
    reg = Registry()
    run_id = reg.create_run("tiny <b>gru</b>", status="done", cell="gru", layers=1, units=u)
    run_dir = reg.run_dir(run_id)
    write_config(run_dir, cfg, TrainConfig(), {"label": "tiny <b>gru</b>"})
    vocab.save(run_dir / "vocab.json")
    write_npz(run_dir / "weights.npz", weights)
    (run_dir / "corpus.txt").write_text(sample_text)   # what the originality measure compares with
    return run_id


@pytest.fixture()
def page(workspace, sample_text):
    run_id = make_run(sample_text)
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["active_run"] = run_id
    at.run()
    assert not at.exception
    return at


def draft(at) -> Draft:
    return at.session_state["draft"]


def type_text(at, text: str) -> None:
    at.text_area(key="write_editor").input(text).run()
    assert not at.exception


def continue_(at) -> None:
    at.button(key="w_continue").click().run()
    assert not at.exception


@pytest.mark.parametrize("run_id", ["no-such-run-1", "../../etc/passwd"])
def test_loads_with_a_missing_model_and_makes_a_draft_link(workspace, run_id):
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["active_run"] = run_id
    at.run()
    assert not at.exception
    assert KEY_RE.fullmatch(at.query_params["d"])
    assert at.title[0].value == "Write"
    # the unknown run is named in a warning; the page carries on with the demo model or says none is ready
    assert any(run_id in w.value.replace("\\", "") for w in at.warning)
    assert at.text_area(key="write_editor").value == ""


def test_continue_streams_and_appends(page, workspace):
    type_text(page, "Once upon a time")
    page.number_input(key="w_seed").set_value(7).run()
    continue_(page)
    d = draft(page)
    assert d.text.startswith("Once upon a time") and len(d.text) > len("Once upon a time")
    assert d.segments[0] == {"author": "writer", "text": "Once upon a time"}
    assert d.segments[1]["author"] == "model"
    assert page.text_area(key="write_editor").value == d.text      # the text box shows the new draft
    key = page.query_params["d"]
    assert Draft.load(key) == d                                     # saved as it went
    assert any(c.value.startswith("Seed 7") for c in page.caption)


def test_same_seed_same_text_and_undo_redo(page):
    type_text(page, "The sea ")
    page.number_input(key="w_seed").set_value(123).run()
    page.slider(key="w_length").set_value(60).run()
    continue_(page)
    first = draft(page).text
    assert len(first) == len("The sea ") + 60                       # stop at length: exactly 60 characters
    page.button(key="w_undo").click().run()
    assert draft(page).text == "The sea "
    assert page.text_area(key="write_editor").value == "The sea "
    continue_(page)
    assert draft(page).text == first                                # same seed, draft, settings: same text
    page.button(key="w_undo").click().run()
    page.button(key="w_redo").click().run()
    assert draft(page).text == first
    assert draft(page).segments[-1] == {"author": "model", "text": first[len("The sea "):]}


def test_alternatives_cards_and_use_this(page):
    type_text(page, "It was a dark ")
    page.number_input(key="w_n").set_value(3).run()
    page.number_input(key="w_seed").set_value(5).run()
    page.slider(key="w_length").set_value(30).run()
    continue_(page)
    assert draft(page).text == "It was a dark "                     # nothing added until one is picked
    texts = page.session_state["write_alternatives"]["texts"]
    assert len(texts) == 3 and len(set(texts)) == 3
    uses = [b for b in page.button if b.label == "Use this"]
    assert len(uses) == 3
    page.button(key="w_use_1").click().run()
    assert not page.exception
    assert draft(page).text == "It was a dark " + texts[1]
    assert not [b for b in page.button if b.label == "Use this"]    # the cards are gone once one is used
    page.button(key="w_undo").click().run()
    assert draft(page).text == "It was a dark "


def cards(at) -> list[str]:
    """The alternatives' cards on screen: the Markdown of each, in order."""
    return [m.value for i in range(8) for m in at.get("markdown") if _in_card(at, m, i)]


def _in_card(at, element, i) -> bool:
    try:
        return element in at.container(key=f"w_alt_{i}").markdown
    except KeyError:
        return False


def test_undo_after_use_this_brings_the_alternatives_back(page):
    type_text(page, "It was a dark ")
    page.number_input(key="w_n").set_value(3).run()
    page.number_input(key="w_seed").set_value(5).run()
    page.slider(key="w_length").set_value(30).run()
    continue_(page)
    texts = page.session_state["write_alternatives"]["texts"]
    shown = [Draft.from_text(t, "model").to_markdown(":violet[*{}*]", screen=True) for t in texts]
    assert len(set(texts)) == 3 and cards(page) == shown
    page.button(key="w_use_2").click().run()
    assert draft(page).text == "It was a dark " + texts[2]
    assert cards(page) == [] and not [b for b in page.button if b.label == "Use this"]
    page.button(key="w_undo").click().run()
    assert not page.exception
    assert draft(page).text == "It was a dark "
    assert cards(page) == shown                                    # the same three, in the same order
    assert [b.key for b in page.button if b.label == "Use this"] == ["w_use_0", "w_use_1", "w_use_2"]
    page.button(key="w_use_0").click().run()                      # and any of them can be used again
    assert draft(page).text == "It was a dark " + texts[0]
    page.button(key="w_undo").click().run()
    page.button(key="w_dismiss").click().run()                    # Dismiss is what puts them away for good
    assert cards(page) == [] and "write_alternatives" not in page.session_state


def test_regenerate_makes_new_alternatives(page):
    page.number_input(key="w_n").set_value(2).run()
    page.slider(key="w_length").set_value(40).run()
    continue_(page)
    before = page.session_state["write_alternatives"]["texts"]
    page.button(key="w_regen").click().run()
    assert not page.exception
    after = page.session_state["write_alternatives"]["texts"]
    assert len(after) == 2 and after != before


def test_script_and_links_are_shown_as_text(page):
    type_text(page, XSS)
    page.slider(key="w_length").set_value(20).run()
    continue_(page)
    html = MarkdownIt("commonmark").render
    values = [m.value for m in page.markdown] + [c.value for c in page.caption]
    view = [v for v in values if "alert" in v]
    assert view, "the draft view is missing"
    for v in view:
        ours = v.replace(":violet[*", "").replace("*]", "")         # the view's own formatting
        assert not re.search(r"(?<!\\)[<>\[\]()]", ours)           # every bracket of the text arrives escaped
        rendered = html(v)
        assert "<script" not in rendered and "<a " not in rendered
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered   # shown as the characters typed
    assert draft(page).text.startswith(XSS)


def test_a_bad_setting_shows_an_error_and_keeps_the_draft(page):
    type_text(page, "Keep me.")
    page.number_input(key="w_top_k").set_value(5000).run()         # more than the model's vocabulary
    assert any("Top\\-k 5000 is larger" in e.value for e in page.error)
    continue_(page)
    assert any("Top\\-k 5000 is larger" in e.value for e in page.error)
    assert draft(page).text == "Keep me."
    assert page.text_area(key="write_editor").value == "Keep me."


def test_a_reload_of_the_same_link_finds_the_draft(page, workspace):
    type_text(page, "Saved across reloads.")
    key = page.query_params["d"]
    fresh = AppTest.from_file(PAGE, default_timeout=30)             # a new browser session, same URL
    fresh.query_params["d"] = key
    fresh.run()
    assert not fresh.exception
    assert fresh.text_area(key="write_editor").value == "Saved across reloads."
    assert fresh.query_params["d"] == key


def test_a_bad_link_starts_a_new_draft(workspace):
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.query_params["d"] = "../../etc/passwd"
    at.run()
    assert not at.exception
    assert KEY_RE.fullmatch(at.query_params["d"])
    assert any("not valid" in w.value for w in at.warning)
    assert not (workspace / "etc").exists()


def test_clear_with_confirm(page):
    type_text(page, "Gone soon.")
    page.button(key="w_clear").click().run()
    assert not page.exception
    assert draft(page).text == ""
    assert page.text_area(key="write_editor").value == ""


def test_unknown_characters_are_noted_gently(page):
    type_text(page, "Snow ☃ and 🙂 here")
    notes = [c.value for c in page.caption if "never seen" in c.value]
    assert notes == [r"The model has never seen \'☃\'\, \'🙂\'\; it reads them as unknown\."]
    assert not page.error


def test_each_continuation_says_how_much_it_copied(page):
    type_text(page, "The keeper")
    page.slider(key="w_length").set_value(40).run()
    continue_(page)
    assert any("training text" in c.value for c in page.caption)   # e.g. "Original: no 20-character passage …"
    page.number_input(key="w_n").set_value(3).run()
    continue_(page)
    assert sum("training text" in c.value for c in page.caption) >= 3


def test_a_click_while_streaming_keeps_what_was_written(page, monkeypatch):
    """Streamlit stops a run when the writer clicks mid-stream; the text streamed so far stays in the draft."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from textgen.generate import Generator

    def interrupted(self, prompt, **kw):
        yield "The lamp "
        yield "went out"
        raise StopException()          # what Streamlit raises inside the script when a click arrives

    monkeypatch.setattr(Generator, "stream", interrupted)
    type_text(page, "At night")
    page.button(key="w_continue").click().run()
    d = draft(page)
    assert d.text == "At nightThe lamp went out"
    assert d.segments[-1] == {"author": "model", "text": "The lamp went out"}
    assert Draft.load(page.query_params["d"]) == d                  # saved, so a reload finds it
    page.run()                                                      # the next run shows it in the text box
    assert not page.exception
    assert page.text_area(key="write_editor").value == "At nightThe lamp went out"

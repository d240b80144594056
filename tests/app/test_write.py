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
VIEW_FORMAT = ":violet[*{}*]"        # the page's style for the model's text in the view
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


def test_a_continue_shows_its_piece_in_the_same_run_without_a_rerun(page, monkeypatch):
    """A rerun would drop the stream's messages still queued: the text box, the view and Undo show the new
    piece from the Continue's own run (the one the click started), and nothing asks for another run."""
    import streamlit as st

    type_text(page, "The harbor ")
    reruns = []
    monkeypatch.setattr(st, "rerun", lambda *a, **kw: reruns.append(kw))
    continue_(page)
    d = draft(page)
    assert reruns == [] and len(d.text) > len("The harbor ")
    assert page.text_area(key="write_editor").value == d.text
    assert not page.button(key="w_undo").disabled
    (view,) = [m.value for m in page.get("markdown") if m.value.startswith("The harbor")]
    assert view == d.to_markdown(VIEW_FORMAT, screen=True)             # the draft view, the piece in it once


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
    if "w" in page.query_params:                                    # the writer's token travels in the link too
        fresh.query_params["w"] = page.query_params["w"]
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

    from textgen.batcher import Batcher

    def interrupted(self, gen, prompt, **kw):
        yield "The lamp "
        yield "went out"
        raise StopException()          # what Streamlit raises inside the script when a click arrives

    monkeypatch.setattr(Batcher, "stream", interrupted)
    type_text(page, "At night")
    page.button(key="w_continue").click().run()
    d = draft(page)
    assert d.text == "At nightThe lamp went out"
    assert d.segments[-1] == {"author": "model", "text": "The lamp went out"}
    assert Draft.load(page.query_params["d"]) == d                  # saved, so a reload finds it
    page.run()                                                      # the next run shows it in the text box
    assert not page.exception
    assert page.text_area(key="write_editor").value == "At nightThe lamp went out"


# -- what the model expects: the odds chart, branching, the surprise view ------------------------------
def chart_rows(at) -> list[dict]:
    """The odds chart's data as the page sent it."""
    import pyarrow as pa

    (chart,) = at.get("vega_lite_chart") or at.get("arrow_vega_lite_chart")
    (data,) = chart.proto.datasets
    return pa.ipc.open_stream(data.data.data).read_all().to_pylist()


def generator(at):
    from textgen.generate import Generator

    return Generator(at.session_state["active_run"])


def test_the_odds_chart_shows_the_next_tokens_after_the_settings(page):
    from textgen import insight
    from textgen.generate import Settings

    type_text(page, "The sea ")
    gen = generator(page)
    want = insight.next_odds(gen, gen.prime("The sea "), Settings(temperature=0.8))
    rows = chart_rows(page)
    assert [r["token"] for r in rows] == [o.shown for o in want] and len(rows) == 10
    assert [r["chance"] for r in rows] == pytest.approx([o.prob for o in want])
    assert {r["kind"] for r in rows} == {"can be drawn"}
    page.number_input(key="w_top_k").set_value(3).run()                  # the chart follows at once
    rows = chart_rows(page)
    assert [r["kind"] for r in rows] == ["can be drawn"] * 3 + ["cut by top-k / top-p"] * 7
    cut = insight.next_odds(gen, gen.prime("The sea "), Settings(temperature=0.8, top_k=3))
    assert [r["chance"] for r in rows] == pytest.approx([o.prob if o.kept else o.before for o in cut])
    assert sum(r["chance"] for r in rows[:3]) == pytest.approx(1.0)
    page.slider(key="w_temperature").set_value(1.5).run()
    hotter = chart_rows(page)
    assert hotter[0]["chance"] < rows[0]["chance"]                      # a flatter distribution


def _continued(page, text="The sea ", length=30):
    type_text(page, text)
    page.number_input(key="w_seed").set_value(3).run()
    page.slider(key="w_length").set_value(length).run()
    continue_(page)
    return page.session_state["write_latest"]["cont"]


def insight_visible(text):
    from textgen.insight import visible

    return visible(text)


def picker(page):
    (found,) = [s for s in page.selectbox if s.label == "At"]
    return found


def _choice(page):
    return next(b for b in page.button if b.key.startswith("w_branch_") and not b.disabled)


def test_a_branch_rewrites_the_piece_and_undo_gives_back_the_exact_draft(page):
    cont = _continued(page)
    before = Draft.from_json(draft(page).to_json())
    picker(page).set_value(5).run()
    assert not page.exception
    _choice(page).click().run()
    assert not page.exception
    after = draft(page)
    start = cont.starts()[5]
    assert after.text != before.text and after.text.startswith("The sea " + cont.text[:start])
    assert after.text[len("The sea ") + start] != cont.text[start]             # another token there
    assert page.text_area(key="write_editor").value == after.text
    assert Draft.load(page.query_params["d"]) == after                          # saved
    new = page.session_state["write_latest"]["cont"]
    assert picker(page).value == 5                                              # still at the branch point
    assert picker(page).options[5].endswith("⟨" + insight_visible(new.pieces[5]) + "⟩")
    page.button(key="w_undo").click().run()
    assert not page.exception
    assert draft(page) == before                                                # segments, undo and redo alike
    assert page.text_area(key="write_editor").value == before.text
    assert Draft.load(page.query_params["d"]) == before
    assert page.session_state["write_latest"]["cont"] is cont                  # and it can be branched again
    assert picker(page).options[0].endswith("⟨" + insight_visible(cont.pieces[0]) + "⟩")


def test_a_branch_on_an_edited_draft_is_refused_and_the_draft_kept(page):
    _continued(page)
    edited = draft(page).text + " and the writer's own words"
    page.text_area(key="write_editor").input(edited)
    _choice(page).click().run()                                                 # the click races the edit
    assert not page.exception
    assert draft(page).text == edited
    assert any("The draft has changed since the model wrote that piece" in e.value.replace("\\", "")
               for e in page.error)


def test_the_surprise_view_shades_escaped_text_and_shows_both_averages(page):
    from textgen import insight

    type_text(page, XSS)
    page.slider(key="w_length").set_value(20).run()
    continue_(page)
    page.toggle(key="w_surprise").set_value(True).run()
    assert not page.exception
    (view,) = [m.value for m in page.container(key="w_view").markdown]
    gen = generator(page)
    assert view == insight.shaded_markdown(insight.surprise(gen, draft(page).segments))
    assert re.search(r":(gray|orange|red)\[", view)
    rendered = MarkdownIt("commonmark").render(view)
    assert "<script" not in rendered and "<a " not in rendered
    # without the palette's own marks (an opener, and a ']' that no backslash escapes) it is the text typed
    plain = re.sub(r"(?<!\\)\]", "", re.sub(r":(?:gray|orange|red)\[", "", view))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in MarkdownIt("commonmark").render(plain)
    labels = [m.label for m in page.metric]
    assert labels == ["Your text", "The model's text"]
    assert all(m.value.endswith("bits per character") for m in page.metric)
    assert any("Bits of surprise per token" in c.value for c in page.caption)
    page.toggle(key="w_surprise").set_value(False).run()
    assert page.container(key="w_view").markdown[0].value == draft(page).to_markdown(":violet[*{}*]", screen=True)


def _word_starts(text: str, letters: str) -> list[int]:
    """Where a word starts with one of the letters (any case): the character before is no letter or digit."""
    return [i for i, ch in enumerate(text) if ch.lower() in letters and (i == 0 or not text[i - 1].isalnum())]


def test_banned_words_and_the_penalty_reach_the_model(page):
    type_text(page, "A ")
    page.number_input(key="w_seed").set_value(11).run()
    page.slider(key="w_length").set_value(200).run()
    continue_(page)
    free = draft(page).text[2:]
    assert _word_starts(free, "etao")                                       # without bans they are written
    page.button(key="w_undo").click().run()
    page.text_input(key="w_ban").input("e, t, a, o").run()
    continue_(page)
    banned = draft(page).text[2:]
    assert len(banned) == 200 and _word_starts(banned, "etao") == []
    page.button(key="w_undo").click().run()
    page.slider(key="w_penalty").set_value(1.5).run()
    continue_(page)
    assert page.session_state["write_settings"].repetition_penalty == 1.5
    assert draft(page).text[2:] != banned                                   # the same seed, another text
    page.text_input(key="w_ban").input(",".join(f"w{i}" for i in range(51))).run()
    assert any("At most 50 banned words" in e.value for e in page.error)


def test_a_continue_on_an_unchanged_draft_does_not_read_it_again(page, monkeypatch):
    from textgen.stepper import Stepper

    reads = []
    feed = Stepper.feed

    def counted(self, ids, state):
        if ids.shape[1]:
            reads.append(ids.shape[1])
        return feed(self, ids, state)

    monkeypatch.setattr(Stepper, "feed", counted)
    type_text(page, "The lighthouse keeper ")
    assert reads == [len("The lighthouse keeper ") - 1]                # the odds chart read it, once
    page.slider(key="w_temperature").set_value(1.2).run()
    page.slider(key="w_length").set_value(30).run()
    continue_(page)                                                    # starts from the kept state
    continue_(page)                                                    # starts from the last Continue's end
    page.button(key="w_undo").click().run()                            # a text read a moment ago
    assert not page.exception
    assert len(draft(page).text) == len("The lighthouse keeper ") + 30
    assert reads == [len("The lighthouse keeper ") - 1]                # nothing was read again
    type_text(page, draft(page).text + "And then")                     # an edit: the draft is read anew
    assert reads[1:] == [len(draft(page).text) - 1]

"""What the Write page's controls do to the draft: the editor's and buttons' callbacks, a streamed Continue,
and making alternatives. Layout lives in pages/write.py; the draft's session plumbing in pages/writing.py.
"""
from __future__ import annotations

import dataclasses
import logging

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException  # (a Streamlit internal: recheck on upgrade)

from pages import i18n, writing
from pages.i18n import N_, _
from textgen import Generator, InkwellError
from textgen.drafts import Draft
from textgen.generate import Settings
from textgen.markup import stream_markdown

EDITOR = "write_editor"                                                 # the text box's widget key
ALTS = "write_alternatives"
REGEN = "write_regenerate"          # set by Regenerate's callback; the desk makes them
STREAM_EVERY = 0.04                  # seconds between screen updates while streaming
UNEXPECTED = N_("Something went wrong while the model was writing. Your draft is safe; please try again.")   # shown through _() by writing.show_notes
log = logging.getLogger("inkwell.write")


def on_edit() -> None:
    draft = writing.current_draft()
    try:
        if draft.set_text(st.session_state[EDITOR]):
            writing.save(draft, "editor")
    except InkwellError as e:
        st.session_state["editor_kept"] = True   # do not overwrite what the writer typed
        writing.note("editor", "error", str(e))


def clear(draft: Draft) -> bool:
    draft.clear()
    st.session_state.pop(ALTS, None)
    return True


def undo() -> None:
    """Undo: a branch gives back the exact draft it replaced; otherwise the Draft's own undo."""
    draft, branched = writing.current_draft(), st.session_state.get(writing.BRANCHED) or []
    if branched and branched[-1][0] == draft.to_json():
        _after, before, latest = branched.pop()
        st.session_state[writing.LATEST] = latest
        return writing.save(Draft.from_json(before))
    writing.change(Draft.undo, _("Nothing to undo: the draft no longer ends with the model's last piece."))


def use(i: int) -> None:
    # The alternatives stay: they are shown again whenever the draft is back at the text they continue.
    alts = st.session_state.get(ALTS)
    if alts and alts["base"] == writing.current_draft().text:
        writing.change(lambda draft: draft.append_model(alts["texts"][i]), where="alternatives")
        if alts.get("conts"):
            st.session_state[writing.LATEST] = {"base": alts["base"], "cont": alts["conts"][i]}


def continue_one(gen: Generator, draft: Draft, s: Settings, seed: int, where) -> None:
    kept: list[str] = []
    record: list = []
    base, prompt = draft.text, draft.text[-writing.PROMPT_CHARS:]
    try:
        gen.check_settings(dataclasses.replace(s, n=1))
        primed = writing.primed(gen, prompt)
        pieces = writing.stream(gen, prompt, primed, record, s.kwargs(seed))
        try:
            with where:
                st.write_stream(stream_markdown(pieces, kept, STREAM_EVERY))
        finally:
            pieces.close()   # a click mid-stream frees this writer's row in the shared batch at once
    except InkwellError as e:
        return writing.note("actions", "error", str(e))
    except Exception:   # a bug must not cost the writer the page: the draft is untouched, the log has it
        log.exception("continuing the draft failed")
        return writing.note("actions", "error", UNEXPECTED)
    except ScriptControlException:
        # The writer clicked something while the text streamed in: Streamlit stops this run to start
        # the next. Keep what was already written, then let it go on.
        text = "".join(kept)
        if text:
            keep(draft, text, _("Seed {seed}: stopped after {n:,} characters, when you clicked; what was written "
                                "is kept.").format(seed=seed, n=len(text)))
        raise
    text = "".join(kept)
    if not text:
        return writing.note("actions", "info",
                            _("The model stopped at once and wrote nothing; try another seed or setting."))
    if record and record[0].text == text:
        st.session_state[writing.LATEST] = {"base": base, "cont": record[0]}
    keep(draft, text, i18n.sentences(_("Seed {seed}: the same seed, draft and settings write this again.").format(
        seed=seed), i18n.error_text(gen.originality_note(text))))


def keep(draft: Draft, text: str, said: str) -> None:
    """The model's text joins the draft and is saved; `said` is the line shown under the buttons."""
    try:
        draft.append_model(text)
    except InkwellError as e:
        return writing.note("actions", "error", str(e))
    writing.save(draft)
    st.session_state["write_last"] = said


def make_alternatives(gen: Generator, draft: Draft, s: Settings, seed: int) -> None:
    try:
        with st.spinner(_('Writing {n} alternatives...').format(n=s.n)):
            prompt, record = draft.text[-writing.PROMPT_CHARS:], []
            made = gen.alternatives(prompt, s.n, primed=writing.primed(gen, prompt), record=record, **s.kwargs(seed))
    except InkwellError as e:
        return writing.note("actions", "error", str(e))
    except Exception:
        log.exception("making alternatives failed")
        return writing.note("actions", "error", UNEXPECTED)
    st.session_state[ALTS] = {"texts": [g.text for g in made], "base": draft.text, "seed": seed,
                              "originality": [gen.originality_note(g.text) for g in made],
                              "conts": [c if c.text == g.text else None for c, g in zip(record, made)]}

"""Write: co-write with the active model. The draft is the writer's and survives reloads and page switches.

The canonical draft is `st.session_state["draft"]` (a textgen.drafts.Draft, never a widget key, kept by
DraftSlot) and a JSON file in the workspace named by a random token in the URL (`?d=...`); the text box
is a view of it. This file lays the page out; what its controls do is pages/write_actions.py's.
"""
from __future__ import annotations

import dataclasses
import secrets
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # `streamlit run pages/write.py` puts only pages/ on the path
    sys.path.insert(0, str(ROOT))

from pages import i18n, ui  # noqa: E402
from pages.i18n import N_, _  # noqa: E402
from pages import expects, run_labels, writing  # noqa: E402
from pages.write_actions import ALTS, EDITOR, REGEN, clear, continue_one, make_alternatives, on_edit, undo, use  # noqa: E402
from textgen import Generator, InkwellError, insight, scripts  # noqa: E402
from textgen.artifacts import DEMO_ID  # noqa: E402
from textgen.config import LEVEL_UNITS  # noqa: E402
from textgen.drafts import MAX_CHARS, Draft  # noqa: E402
from textgen.generate import STOPS, Settings, unknown_note  # noqa: E402
from textgen.sampling import MAX_PENALTY, parse_bans  # noqa: E402
from textgen.markup import escape_markdown  # noqa: E402

VIEW_FORMAT = ":violet[*{}*]"        # the model's text in the read-only view; {} is already escaped
STOP_NAMES = {"length": N_("Length"), "sentence": N_("Sentence"), "line": N_("Line")}
DEMO_NAME = N_("the demo model")   # Generator.name() for the shipped demo


def _settings(gen: Generator | None) -> Settings:
    unit = LEVEL_UNITS[gen.vocab.level if gen is not None else "char"]
    with st.expander(_("Settings"), expanded=False):
        a, b, c = st.columns(3)
        temperature = a.slider(_("Temperature"), 0.0, 2.0, 0.8, 0.05, key="w_temperature", persist_state="session",
                               help=_("Lower is safer and more repetitive; 0 always takes the likeliest next token."))
        top_k = b.number_input(_("Top-k"), 0, 100_000, 0, 1, key="w_top_k", persist_state="session",
                               help=_("Sample only from the k likeliest tokens; 0 turns it off."))
        top_p = c.slider(_("Top-p"), 0.05, 1.0, 1.0, 0.05, key="w_top_p", persist_state="session",
                         help=_("Sample from the fewest likeliest tokens that reach this probability; 1 turns it off."))
        a, b = st.columns([1, 1])
        length = a.slider(_('Length ({unit})').format(unit=_(unit)), 10, 2000, 200, 10, key="w_length", persist_state="session")
        stop = b.segmented_control(_("Stop at"), STOPS, format_func={k: _(STOP_NAMES.get(k, k)) for k in STOPS}.get, default="length", required=True,
                                   key="w_stop", persist_state="session", help=_("Stop at the length, or earlier "
                                   "at the end of a sentence or a line."))
        a, b, c = st.columns(3)
        n = a.number_input(_("Alternatives"), 1, 5, 1, 1, key="w_n", persist_state="session",
                           help=_("1 streams one continuation; 2 to 5 show choices to pick from."))
        seed = b.number_input(_("Seed"), 0, 2**31 - 1, None, 1, key="w_seed", persist_state="session",
                              placeholder=_("random"), help=_("The same seed, draft and settings give the same text."))
        penalty = c.slider(_("Repetition penalty"), 1.0, MAX_PENALTY, 1.0, 0.05, key="w_penalty",
                           persist_state="session", help=_("Above 1, what the model wrote recently becomes less "
                           "likely; 1 turns it off."))
        ban = st.text_input(_("Banned words"), key="w_ban", persist_state="session", placeholder=_("sea, night"),
                            help=_("Words the model may not write, separated by commas (any case, and longer "
                                 "forms: 'sea' also bans 'seas')."))
        try:
            banned = parse_bans(ban or "")
        except InkwellError as e:
            banned = ()
            st.error(escape_markdown(i18n.error_text(e)))
        s = Settings(int(length), float(temperature), int(top_k), float(top_p), stop or "length", int(n),
                     None if seed is None else int(seed), float(penalty), banned)
        if gen is not None:
            try:
                gen.check_settings(s)
            except InkwellError as e:
                st.error(escape_markdown(i18n.error_text(e)))
            knows = {"word": _("This model knows {n:,} different words and signs."),
                     "subword": _("This model knows {n:,} different word pieces.")}
            st.caption(knows.get(gen.vocab.level, _("This model knows {n:,} different characters.")).format(
                n=len(gen.vocab)))
    st.session_state[writing.SETTINGS] = s   # the branch buttons' callback writes with these
    return s


# -- the page ----------------------------------------------------------------------------------------
def _model(active: str) -> Generator | None:
    """The active run's Generator (the demo's if it cannot be used), with a line saying which it is."""
    gen, problem = writing.load(active)
    if gen is None and active != DEMO_ID:
        st.warning(escape_markdown(_('The model {active} cannot be used ({problem}). Writing with the demo model instead.').format(active=active, problem=i18n.error_text(problem))))
        gen, problem = writing.load(DEMO_ID)
    if gen is None:
        st.error(escape_markdown(_('No model is ready ({problem}). Train one on the Train page; you can keep writing meanwhile.').format(problem=i18n.error_text(problem))))
        return None
    name, size = gen.name()
    name = _(name) if name == DEMO_NAME else run_labels.label(name)
    # Suggested labels already end with the size; the run id is under the sidebar's picker.
    st.caption(_('Model: **{name}**').format(name=escape_markdown(name)) + ("" if name.endswith(size) else f" · {size}"))
    return gen


def main() -> None:
    st.title(_("Write"))
    st.caption(_("Write with the model: it proposes, you keep, edit or undo. Your draft is saved as you go."))
    writing.current_draft()
    writing.show_notes("top")
    gen = _model(st.session_state.get(ui.ACTIVE_RUN) or DEMO_ID)
    _desk(gen, _settings(gen))


@st.fragment
def _desk(gen: Generator | None, s: Settings) -> None:
    """The draft, its buttons and views. A Continue reruns only this part and needs no rerun after it:
    a rerun would drop the stream's messages still queued. So the places are laid out first, the
    Continue streams into the view, and everything that shows the draft is drawn after it."""
    draft = writing.current_draft()
    top = st.container()
    row = st.container(horizontal=True, key="w_actions")
    go = row.button(_("Continue"), type="primary", disabled=gen is None, key="w_continue",
                    help=_("Ask the model to continue the draft from where it ends."))
    said, toggle = st.container(), st.container()
    with st.container(border=True, key="w_view"):
        shown, streaming = st.empty(), st.empty()   # the draft; below it, the text as it streams in
    below = st.container()
    seed = s.seed if s.seed is not None else secrets.randbits(31)
    if go and gen is not None:
        if s.n == 1:
            st.session_state.pop(ALTS, None)
            _draft_view(shown, draft, None)
            continue_one(gen, draft, s, seed, streaming)
            streaming.empty()   # the piece is in the draft now, drawn there below
        else:
            make_alternatives(gen, draft, s, seed)
    if st.session_state.pop(REGEN, False) and gen is not None and (alts := st.session_state.get(ALTS)):
        make_alternatives(gen, draft, dataclasses.replace(s, n=len(alts["texts"])), secrets.randbits(31))
    with top:
        _editor(gen, draft)
    with row:
        _actions(draft)
    with said:
        writing.show_notes("actions")
        if st.session_state.get("write_last"):
            st.caption(st.session_state.pop("write_last"))
    # The read-only view: the writer's text plain, the model's in violet italics, all escaped; or, with
    # Surprise on, every token shaded by the model's surprise (escaped text in Streamlit's palette).
    with toggle:
        shaded = gen is not None and bool(draft.text) and st.toggle(
            _("Surprise"), key="w_surprise", help=_("Shade each token by how surprised the model was to read it."))
    surprise = writing.kept(writing.SURPRISE, writing.model_key(gen, draft.text),
                            lambda: insight.surprise(gen, draft.segments)) if shaded else None
    _draft_view(shown, draft, surprise)
    with below:
        if surprise is not None:
            expects.surprise_key(surprise)
        else:
            st.caption(_("Your words are in plain type; the model's are in :violet[*violet italics*]."))
    alts = st.session_state.get(ALTS)
    if alts and alts["base"] == draft.text:     # only while the draft is the text they continue
        _alternatives(gen, alts)
    if gen is not None:
        expects.panel(gen, draft, s)


def _draft_view(slot, draft: Draft, surprise) -> None:
    if surprise is not None:
        slot.markdown(insight.shaded_markdown(surprise))
    elif draft.text:
        slot.markdown(draft.to_markdown(VIEW_FORMAT, screen=True))
    else:
        slot.caption(_("The draft is empty."))


def _editor(gen: Generator | None, draft: Draft) -> None:
    # The text box shows the canonical draft, unless an edit was refused (then the writer's text stays).
    if not st.session_state.pop("editor_kept", False) and st.session_state.get(EDITOR) != draft.text:
        st.session_state[EDITOR] = draft.text
    st.text_area(_("Your draft"), key=EDITOR, height=240, max_chars=MAX_CHARS, on_change=on_edit,
                 placeholder=_("Start writing, or press Continue and let the model begin."))
    writing.show_notes("editor")
    unknown = gen.unknown(draft.text[-writing.PROMPT_CHARS:]) if gen is not None else ()
    if gen is not None and (odd := scripts.mismatch(draft.text, gen.vocab)):
        st.caption(escape_markdown(i18n.error_text(odd)))    # a Chinese draft on an English model, said plainly
    elif unknown:
        st.caption(escape_markdown(i18n.error_text(unknown_note(unknown))))


def _actions(draft: Draft) -> None:
    """The row after Continue, left to right in the order a writer uses them."""
    branched = st.session_state.get(writing.BRANCHED) or []
    st.button(_("Undo"), key="w_undo", on_click=undo, help=_("Remove the model's last piece, or take back a branch."),
              disabled=not (draft.can_undo or (branched and branched[-1][0] == draft.to_json())))
    st.button(_("Redo"), key="w_redo", on_click=writing.change, args=(Draft.redo, "Nothing to redo."),
              disabled=not draft.can_redo)
    with st.popover(_("Clear draft"), disabled=not draft.text):
        st.write(_("This deletes the whole draft. Download it first if you want to keep it."))
        st.button(_("Yes, clear it"), key="w_clear", type="primary", on_click=writing.change, args=(clear,))
    st.download_button(_("Download .txt"), draft.to_text(), file_name="draft.txt", mime="text/plain",
                       on_click="ignore", key="w_txt", disabled=not draft.text, icon=":material/download:")
    st.download_button(_("Download .md"), draft.to_markdown(), file_name="draft.md", mime="text/markdown",
                       on_click="ignore", key="w_md", disabled=not draft.text, icon=":material/download:")


def _alternatives(gen: Generator | None, alts: dict) -> None:
    st.subheader(_("Alternatives"))
    st.caption(_('Seed {seed}. Pick one to add it to the draft.').format(seed=alts['seed']))
    for i, text in enumerate(alts["texts"]):
        with st.container(border=True, key=f"w_alt_{i}"):
            if text:
                st.markdown(Draft.from_text(text, "model").to_markdown(VIEW_FORMAT, screen=True))
                if alts["originality"][i]:
                    st.caption(i18n.error_text(alts["originality"][i]))
            else:
                st.caption(_("(the model stopped at once here)"))
            st.button(_("Use this"), key=f"w_use_{i}", on_click=use, args=(i,), disabled=not text)
    row = st.container(horizontal=True, key="w_alt_actions")
    # The desk makes the new ones before it draws them, so no rerun is needed to show them.
    row.button(_("Regenerate"), key="w_regen", disabled=gen is None, help=_("New alternatives with a new seed."),
               on_click=st.session_state.__setitem__, args=(REGEN, True))
    row.button(_("Dismiss"), key="w_dismiss", on_click=st.session_state.pop, args=(ALTS, None))
    writing.show_notes("alternatives")


main()

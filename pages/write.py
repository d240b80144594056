"""Write: co-write with the active model. The draft is the writer's and survives reloads and page switches.

The canonical draft is `st.session_state["draft"]` (a textgen.drafts.Draft, never a widget key) and a
JSON file in the workspace named by a random token in the URL (`?d=...`); the text box is a view of it.
"""
from __future__ import annotations

import logging
import secrets
import sys
import time
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # `streamlit run pages/write.py` puts only pages/ on the path
    sys.path.insert(0, str(ROOT))

from pages import ui  # noqa: E402,F401  (importing it routes a deep link through app.py)
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException  # noqa: E402  (a Streamlit internal, like PagesManager in ui.py: recheck on upgrade)
from textgen import Generator, InkwellError  # noqa: E402
from textgen.artifacts import DEMO_DIR  # noqa: E402
from textgen.config import CELL_NAMES  # noqa: E402
from textgen.drafts import KEY_RE, MAX_CHARS, Draft  # noqa: E402
from textgen.markup import StreamEscaper, escape_markdown  # noqa: E402
from textgen.runs import check_run_id, clean_label, home  # noqa: E402

DEMO = "demo"
DRAFT, DRAFT_KEY, DRAFT_STAMP = "draft", "draft_key", "draft_stamp"   # canonical state (not widgets)
EDITOR = "write_editor"                                                 # the text box's widget key
ALTS, NOTES = "write_alternatives", "write_notes"
VIEW_FORMAT = ":violet[*{}*]"        # the model's text in the read-only view; {} is already escaped
PROMPT_CHARS = 20_000                # the generator keeps its own tail of tokens; this bounds the encode
STREAM_EVERY = 0.04                  # seconds between screen updates while streaming
STOPS = {"Length": "length", "Sentence": "sentence", "Line": "line"}
UNEXPECTED = "Something went wrong while the model was writing. Your draft is safe; please try again."
log = logging.getLogger("inkwell.write")


# -- loading ----------------------------------------------------------------------------------------
@st.cache_resource(max_entries=16, show_spinner=False)
def _generator(run_id: str, workspace: str, stamp: int) -> Generator:
    """One Generator per (run, weights file version), shared by every session: NumPy arrays only."""
    return Generator(run_id, workspace)


def _load(run_id: str) -> tuple[Generator | None, str | None]:
    """The cached Generator for a run, or why there is none. A stat per rerun, not a config read."""
    try:
        run_dir = DEMO_DIR if run_id == DEMO else home() / "runs" / check_run_id(run_id)
        weights = run_dir / "weights.npz"
        if not weights.exists():
            return None, f"{run_id} cannot be found or has no trained weights yet"
        return _generator(run_id, str(home()), weights.stat().st_mtime_ns), None
    except (InkwellError, OSError, ValueError) as e:
        return None, str(e)


def _draft_key() -> str:
    """The draft's name: `d` in the URL, so a reload finds the same draft; made on the first visit."""
    given = st.query_params.get("d")
    if given and KEY_RE.fullmatch(given):
        key = given
    else:
        if given:
            _note("top", "warning", "The draft link in the address bar was not valid, so a new draft was started.")
        # A page switch can drop the query string: the session remembers the key and puts it back.
        key = st.session_state.get(DRAFT_KEY) or secrets.token_urlsafe(16)
        st.query_params["d"] = key
    st.session_state[DRAFT_KEY] = key
    return key


def _stamp(key: str) -> int | None:
    try:
        return Draft.path(key).stat().st_mtime_ns
    except OSError:
        return None


def _current_draft(key: str) -> Draft:
    """The session's draft, reloaded when the file changed underneath (the same link open in another tab)."""
    draft = st.session_state.get(DRAFT)
    if isinstance(draft, Draft) and st.session_state.get("draft_for") == key \
            and st.session_state.get(DRAFT_STAMP) == _stamp(key):
        return draft
    try:
        draft = Draft.load(key)
    except InkwellError as e:
        # Never write over a file we could not read: the session moves to a new key, the old file stays.
        _note("top", "error", f"{e} A new draft was started under a new link; the old file was left as it is.")
        key = secrets.token_urlsafe(16)
        st.query_params["d"] = key
        st.session_state[DRAFT_KEY] = key
        draft = Draft()
    st.session_state[DRAFT] = draft
    st.session_state["draft_for"] = key
    st.session_state[DRAFT_STAMP] = _stamp(key)
    return draft


def _save(draft: Draft, where: str = "actions") -> None:
    st.session_state[DRAFT] = draft
    key = st.session_state[DRAFT_KEY]
    try:
        draft.save(key)
    except (InkwellError, OSError) as e:
        _note(where, "error", f"The draft could not be saved to disk ({e}); it is still here in this tab.")
    st.session_state[DRAFT_STAMP] = _stamp(key)


# -- messages: callbacks run before the page, so they leave notes that render beside their control --
def _note(where: str, kind: str, text: str) -> None:
    st.session_state.setdefault(NOTES, []).append((where, kind, text))


def _show_notes(where: str) -> None:
    notes = st.session_state.get(NOTES, [])
    for w, kind, text in [n for n in notes if n[0] == where]:
        # Messages can quote user text (a label, a key): escaped, they render as plain text.
        {"error": st.error, "warning": st.warning, "info": st.info}[kind](escape_markdown(text))
    st.session_state[NOTES] = [n for n in notes if n[0] != where]


# -- callbacks ----------------------------------------------------------------------------------------
def _draft() -> Draft:
    """For callbacks: they can run before the page in a fresh session (say, after a server restart)."""
    return _current_draft(_draft_key())


def _on_edit() -> None:
    draft = _draft()
    try:
        if draft.set_text(st.session_state[EDITOR]):
            _save(draft, "editor")
    except InkwellError as e:
        st.session_state["editor_kept"] = True   # do not overwrite what the writer typed
        _note("editor", "error", str(e))


def _undo() -> None:
    draft = _draft()
    if draft.undo() is None:
        _note("actions", "info", "Nothing to undo: the draft no longer ends with the model's last piece.")
    _save(draft)


def _redo() -> None:
    draft = _draft()
    try:
        if draft.redo() is None:
            _note("actions", "info", "Nothing to redo.")
    except InkwellError as e:
        _note("actions", "error", str(e))
    _save(draft)


def _clear() -> None:
    draft = _draft()
    draft.clear()
    st.session_state.pop(ALTS, None)
    _save(draft)


def _use(i: int) -> None:
    alts = st.session_state.pop(ALTS, None)
    if not alts:
        return
    draft = _draft()
    try:
        draft.append_model(alts["texts"][i])
    except InkwellError as e:
        st.session_state[ALTS] = alts
        _note("alternatives", "error", str(e))
        return
    _save(draft)


# -- generation ------------------------------------------------------------------------------------
def _escaped_stream(pieces, kept: list[str]):
    """Model text for st.write_stream: escaped, so it is shown as text, and in batches, not per character."""
    escape, buf, last = StreamEscaper(), [], time.monotonic()
    for piece in pieces:
        kept.append(piece)
        buf.append(escape(piece))
        if time.monotonic() - last >= STREAM_EVERY:
            yield "".join(buf)
            buf, last = [], time.monotonic()
    if buf:
        yield "".join(buf)


def _settings(gen: Generator | None) -> dict:
    level = gen.vocab.level if gen is not None else "char"
    unit = {"word": "words", "subword": "word pieces"}.get(level, "characters")
    with st.expander("Settings", expanded=False):
        a, b, c = st.columns(3)
        temperature = a.slider("Temperature", 0.0, 2.0, 0.8, 0.05, key="w_temperature", persist_state="session",
                               help="Lower is safer and more repetitive; 0 always takes the likeliest next token.")
        top_k = b.number_input("Top-k", 0, 100_000, 0, 1, key="w_top_k", persist_state="session",
                               help="Sample only from the k likeliest tokens; 0 turns it off.")
        top_p = c.slider("Top-p", 0.05, 1.0, 1.0, 0.05, key="w_top_p", persist_state="session",
                         help="Sample from the fewest likeliest tokens that reach this probability; 1 turns it off.")
        a, b = st.columns([1, 1])
        length = a.slider(f"Length ({unit})", 10, 2000, 200, 10, key="w_length", persist_state="session")
        stop = b.segmented_control("Stop at", list(STOPS), default="Length", required=True, key="w_stop",
                                   persist_state="session", help="Stop at the length, or earlier at the end "
                                   "of a sentence or a line.")
        a, b, _ = st.columns(3)
        n = a.number_input("Alternatives", 1, 5, 1, 1, key="w_n", persist_state="session",
                           help="1 streams one continuation; 2 to 5 show choices to pick from.")
        seed = b.number_input("Seed", 0, 2**31 - 1, None, 1, key="w_seed", persist_state="session",
                              placeholder="random", help="The same seed, draft and settings give the same text.")
        settings = dict(temperature=float(temperature), top_k=int(top_k), top_p=float(top_p), length=int(length),
                        stop=STOPS.get(stop or "Length", "length"), n=int(n),
                        seed=None if seed is None else int(seed))
        if gen is not None:
            try:
                gen.check(settings["length"], settings["temperature"], settings["top_k"], settings["top_p"],
                          settings["n"])
            except InkwellError as e:
                st.error(escape_markdown(str(e)))
            kind = {"word": "words and signs", "subword": "word pieces"}.get(level, "characters")
            st.caption(f"This model knows {len(gen.vocab):,} different {kind}.")
    return settings


def _kwargs(s: dict, seed: int) -> dict:
    return dict(length=s["length"], temperature=s["temperature"], top_k=s["top_k"], top_p=s["top_p"],
                seed=seed, stop=s["stop"])


def _continue_one(gen: Generator, draft: Draft, s: dict, seed: int, where) -> None:
    kept: list[str] = []
    try:
        gen.check(s["length"], s["temperature"], s["top_k"], s["top_p"], 1)
        with where:
            st.write_stream(_escaped_stream(gen.stream(draft.text[-PROMPT_CHARS:], **_kwargs(s, seed)), kept))
    except InkwellError as e:
        _note("actions", "error", str(e))
        return
    except Exception:   # a bug must not cost the writer the page: the draft is untouched, the log has it
        log.exception("continuing the draft failed")
        _note("actions", "error", UNEXPECTED)
        return
    except ScriptControlException:
        # The writer clicked something while the text streamed in: Streamlit stops this run to start
        # the next. Keep what was already written, then let it go on.
        if kept:
            try:
                draft.append_model("".join(kept))
                _save(draft)
                st.session_state["write_last"] = (f"Seed {seed}: stopped after {len(''.join(kept)):,} characters, "
                                                  "when you clicked; what was written is kept.")
            except InkwellError:
                pass
        raise
    text = "".join(kept)
    if not text:
        _note("actions", "info", "The model stopped at once and wrote nothing; try another seed or setting.")
        return
    try:
        draft.append_model(text)
    except InkwellError as e:
        _note("actions", "error", str(e))
        return
    _save(draft)
    st.session_state["write_last"] = (f"Seed {seed}: the same seed, draft and settings write this again. "
                                      + _originality(gen, text))


def _originality(gen: Generator, text: str) -> str:
    """One sentence on how much of text the model copied from its training text ('' if unknown)."""
    try:
        result = gen.originality(text)
    except Exception:   # a nicety: never let it cost the writer a continuation
        log.exception("originality failed")
        return ""
    return result.describe() if result else ""


def _make_alternatives(gen: Generator, draft: Draft, s: dict, seed: int) -> None:
    try:
        with st.spinner(f"Writing {s['n']} alternatives..."):
            made = gen.alternatives(draft.text[-PROMPT_CHARS:], s["n"], **_kwargs(s, seed))
    except InkwellError as e:
        _note("actions", "error", str(e))
        return
    except Exception:
        log.exception("making alternatives failed")
        _note("actions", "error", UNEXPECTED)
        return
    st.session_state[ALTS] = {"texts": [g.text for g in made], "base": draft.text, "seed": seed,
                              "originality": [_originality(gen, g.text) for g in made]}


# -- the page ----------------------------------------------------------------------------------------
def main() -> None:
    st.title("Write")
    st.caption("Write with the model: it proposes, you keep, edit or undo. Your draft is saved as you go.")

    key = _draft_key()
    draft = _current_draft(key)
    _show_notes("top")

    active = st.session_state.get("active_run") or DEMO
    gen, problem = _load(active)
    if gen is None and active != DEMO:
        st.warning(escape_markdown(f"The model {active} cannot be used ({problem}). Writing with the demo "
                                   "model instead."))
        gen, problem = _load(DEMO)
    if gen is None:
        st.error(escape_markdown(f"No model is ready ({problem}). Train one on the Train page; you can "
                                 "keep writing meanwhile."))
    else:
        cfg = gen.run.model
        name = "the demo model" if gen.run.id == DEMO else clean_label(gen.run.label)
        size = f"{CELL_NAMES.get(cfg.cell, cfg.cell)} {cfg.layers}×{cfg.units}"
        # Suggested labels already end with the size; the run id is under the sidebar's picker.
        st.caption(f"Model: **{escape_markdown(name)}**" + ("" if name.endswith(size) else f" · {size}"))

    s = _settings(gen)

    # The text box shows the canonical draft, unless an edit was refused (then the writer's text stays).
    if not st.session_state.pop("editor_kept", False) and st.session_state.get(EDITOR) != draft.text:
        st.session_state[EDITOR] = draft.text
    st.text_area("Your draft", key=EDITOR, height=240, max_chars=MAX_CHARS, on_change=_on_edit,
                 placeholder="Start writing, or press Continue and let the model begin.")
    _show_notes("editor")
    if gen is not None and draft.text:
        unknown = gen.unknown(draft.text[-PROMPT_CHARS:])
        if unknown:
            shown = ", ".join(repr(t) for t in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
            st.caption(escape_markdown(f"The model has never seen {shown}; it reads them as unknown."))

    # One row, left to right, in the order a writer uses them (columns spread them over the whole width).
    row = st.container(horizontal=True, key="w_actions")
    go = row.button("Continue", type="primary", disabled=gen is None, key="w_continue",
                    help="Ask the model to continue the draft from where it ends.")
    row.button("Undo", key="w_undo", on_click=_undo, disabled=not draft.can_undo,
               help="Remove the model's last piece.")
    row.button("Redo", key="w_redo", on_click=_redo, disabled=not draft.can_redo)
    with row.popover("Clear draft", disabled=not draft.text):
        st.write("This deletes the whole draft. Download it first if you want to keep it.")
        st.button("Yes, clear it", key="w_clear", type="primary", on_click=_clear)
    row.download_button("Download .txt", draft.to_text(), file_name="draft.txt", mime="text/plain",
                        on_click="ignore", key="w_txt", disabled=not draft.text, icon=":material/download:")
    row.download_button("Download .md", draft.to_markdown(), file_name="draft.md", mime="text/markdown",
                        on_click="ignore", key="w_md", disabled=not draft.text, icon=":material/download:")
    _show_notes("actions")
    if st.session_state.get("write_last"):
        st.caption(st.session_state.pop("write_last"))

    # The read-only view: the writer's text plain, the model's in violet italics, all escaped.
    view = st.container(border=True, key="w_view")
    with view:
        if draft.text:
            st.markdown(draft.to_markdown(VIEW_FORMAT, screen=True))
        else:
            st.caption("The draft is empty.")
    st.caption("Your words are in plain type; the model's are in :violet[*violet italics*].")

    seed = s["seed"] if s["seed"] is not None else secrets.randbits(31)
    alts = st.session_state.get(ALTS)
    if alts and alts["base"] != draft.text:     # the draft moved on: these no longer continue it
        st.session_state.pop(ALTS, None)
        alts = None
    if go and gen is not None:
        if s["n"] == 1:
            st.session_state.pop(ALTS, None)
            _continue_one(gen, draft, s, seed, view)
            st.rerun()      # so the text box, the view and undo show the new piece
        _make_alternatives(gen, draft, s, seed)
        st.rerun()
    _alternatives(gen, s, alts)


def _alternatives(gen: Generator | None, s: dict, alts: dict | None) -> None:
    if not alts:
        return
    st.subheader("Alternatives")
    st.caption(f"Seed {alts['seed']}. Pick one to add it to the draft.")
    for i, text in enumerate(alts["texts"]):
        with st.container(border=True, key=f"w_alt_{i}"):
            if text:
                card = Draft([{"author": "model", "text": text}])
                st.markdown(card.to_markdown(VIEW_FORMAT, screen=True))
                if alts.get("originality", [""] * (i + 1))[i]:
                    st.caption(alts["originality"][i])
            else:
                st.caption("(the model stopped at once here)")
            st.button("Use this", key=f"w_use_{i}", on_click=_use, args=(i,), disabled=not text)
    row = st.container(horizontal=True, key="w_alt_actions")
    regen = row.button("Regenerate", key="w_regen", disabled=gen is None, help="New alternatives with a new seed.")
    if row.button("Dismiss", key="w_dismiss"):
        st.session_state.pop(ALTS, None)
        st.rerun()
    _show_notes("alternatives")
    if regen and gen is not None:
        draft = _draft()
        _make_alternatives(gen, draft, dict(s, n=len(alts["texts"])), secrets.randbits(31))
        st.rerun()


main()

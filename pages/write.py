"""Write: co-write with the active model. The draft is the writer's and survives reloads and page switches.

The canonical draft is `st.session_state["draft"]` (a textgen.drafts.Draft, never a widget key, kept by
DraftSlot) and a JSON file in the workspace named by a random token in the URL (`?d=...`); the text box
is a view of it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # `streamlit run pages/write.py` puts only pages/ on the path
    sys.path.insert(0, str(ROOT))

from pages import ui  # noqa: E402
from pages import charts  # noqa: E402
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException  # noqa: E402  (a Streamlit internal: recheck on upgrade)
from textgen import Generator, InkwellError, insight, scripts  # noqa: E402
from textgen.artifacts import DEMO_ID  # noqa: E402
from textgen.config import LEVEL_UNITS  # noqa: E402
from textgen.drafts import MAX_CHARS, Draft, DraftSlot  # noqa: E402
from textgen.generate import STOPS, Settings, unknown_note, weights_version  # noqa: E402
from textgen.sampling import MAX_PENALTY, parse_bans  # noqa: E402
from textgen.markup import escape_markdown, stream_markdown  # noqa: E402
from textgen.runs import home  # noqa: E402

EDITOR = "write_editor"                                                 # the text box's widget key
ALTS, NOTES = "write_alternatives", "write_notes"
PRIMED, SURPRISE = "write_primed", "write_surprise"    # per-session caches: {(model, weights, text hash): value}
LATEST = "write_latest"      # the model's latest piece: {"base": draft text before it, "cont": Continuation}
SETTINGS = "write_settings"  # the settings of the page's last run
BRANCHED = "write_branched"  # per branch, (draft after it, draft before it, piece before it) for Undo
VIEW_FORMAT = ":violet[*{}*]"        # the model's text in the read-only view; {} is already escaped
PROMPT_CHARS = 20_000                # the generator keeps its own tail of tokens; this bounds the encode
STREAM_EVERY = 0.04                  # seconds between screen updates while streaming
UNEXPECTED = "Something went wrong while the model was writing. Your draft is safe; please try again."
log = logging.getLogger("inkwell.write")


# -- loading ----------------------------------------------------------------------------------------
@st.cache_resource(max_entries=16, show_spinner=False)
def _generator(run_id: str, workspace: str, stamp: int) -> Generator:
    """One Generator per (run, weights file version), shared by every session: NumPy arrays only."""
    return Generator(run_id, workspace)


def _load(run_id: str) -> tuple[Generator | None, str | None]:
    """The cached Generator for a run, or why there is none."""
    try:
        if run_id != DEMO_ID:   # the engine refuses another writer's run (one shared with the room may be used)
            ui.registry().require_run(run_id, ui.identity(), use=True)
        return _generator(run_id, str(home()), weights_version(run_id)), None
    except (InkwellError, OSError, ValueError) as e:
        return None, str(e)


def _draft() -> Draft:
    """The tab's draft. Callbacks call it too: they can run before the page (say, after a server restart)."""
    draft, key, notes = DraftSlot(st.session_state, owner=ui.identity()).open(st.query_params.get("d"))
    for kind, text in notes:
        _note("top", kind, text)
    if st.query_params.get("d") != key:
        st.query_params["d"] = key
    return draft


def _save(draft: Draft, where: str = "actions") -> None:
    problem = DraftSlot(st.session_state, owner=ui.identity()).save(draft)
    if problem:
        _note(where, "error", problem)


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
def _on_edit() -> None:
    draft = _draft()
    try:
        if draft.set_text(st.session_state[EDITOR]):
            _save(draft, "editor")
    except InkwellError as e:
        st.session_state["editor_kept"] = True   # do not overwrite what the writer typed
        _note("editor", "error", str(e))


def _change(change, nothing: str = "", where: str = "actions") -> None:
    """A button's change to the draft, then saved; `nothing`: what to say when it changed nothing."""
    draft = _draft()
    try:
        if change(draft) is None and nothing:
            _note(where, "info", nothing)
    except InkwellError as e:
        _note(where, "error", str(e))
    _save(draft, where)


def _clear(draft: Draft) -> bool:
    draft.clear()
    st.session_state.pop(ALTS, None)
    return True


def _undo() -> None:
    """Undo: a branch gives back the exact draft it replaced; otherwise the Draft's own undo."""
    draft, branched = _draft(), st.session_state.get(BRANCHED) or []
    if branched and branched[-1][0] == draft.to_json():
        _, before, latest = branched.pop()
        st.session_state[LATEST] = latest
        return _save(Draft.from_json(before))
    _change(Draft.undo, "Nothing to undo: the draft no longer ends with the model's last piece.")


def _branch(at: int, token: int) -> None:
    """Rewrite the model's latest piece from its token `at` on, starting with `token`."""
    draft, latest = _draft(), st.session_state.get(LATEST)
    gen, _ = _load(st.session_state.get(ui.ACTIVE_RUN) or DEMO_ID)
    if latest is None or gen is None:
        return _note("branch", "error", insight.STALE)
    try:
        new_draft, cont = insight.branch(gen, draft, latest["base"], latest["cont"], at, token,
                                         st.session_state.get(SETTINGS) or Settings(), secrets.randbits(31))
    except InkwellError as e:
        return _note("branch", "error", str(e))
    st.session_state.setdefault(BRANCHED, []).append((new_draft.to_json(), draft.to_json(), latest))
    st.session_state[LATEST] = {"base": latest["base"], "cont": cont, "at": at}
    _save(new_draft, "branch")


def _use(i: int) -> None:
    # The alternatives stay: they are shown again whenever the draft is back at the text they continue.
    alts = st.session_state.get(ALTS)
    if alts and alts["base"] == _draft().text:
        _change(lambda draft: draft.append_model(alts["texts"][i]), where="alternatives")
        if alts.get("conts"):
            st.session_state[LATEST] = {"base": alts["base"], "cont": alts["conts"][i]}


# -- what the model read: kept per session, so an unchanged draft is not read again ------------------
def _model_key(gen: Generator, text: str) -> tuple:
    return gen.run.id, weights_version(gen.run.id), hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _kept(name: str, key: tuple, make, keep: int = 1):
    """The session's value for key under name, made when missing; the `keep` latest are kept."""
    cache = st.session_state.setdefault(name, {})
    if key not in cache:
        value = make()
        while len(cache) >= keep:
            cache.pop(next(iter(cache)))
        cache[key] = value
    return cache[key]


def _primed(gen: Generator, prompt: str):
    """The model's state at the end of the prompt, reused from the last Continue's end where it can be."""
    latest = st.session_state.get(LATEST)
    reuse = latest["cont"].ends() if latest else ()
    cache = st.session_state.get(PRIMED, {})
    # A few drafts' states (small arrays): Undo and Redo go back to texts read a moment ago.
    return _kept(PRIMED, _model_key(gen, prompt), lambda: gen.prime(prompt, (*cache.values(), *reuse)), keep=4)


# -- generation ------------------------------------------------------------------------------------
def _settings(gen: Generator | None) -> Settings:
    unit = LEVEL_UNITS[gen.vocab.level if gen is not None else "char"]
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
        stop = b.segmented_control("Stop at", STOPS, format_func=str.capitalize, default="length", required=True,
                                   key="w_stop", persist_state="session", help="Stop at the length, or earlier "
                                   "at the end of a sentence or a line.")
        a, b, c = st.columns(3)
        n = a.number_input("Alternatives", 1, 5, 1, 1, key="w_n", persist_state="session",
                           help="1 streams one continuation; 2 to 5 show choices to pick from.")
        seed = b.number_input("Seed", 0, 2**31 - 1, None, 1, key="w_seed", persist_state="session",
                              placeholder="random", help="The same seed, draft and settings give the same text.")
        penalty = c.slider("Repetition penalty", 1.0, MAX_PENALTY, 1.0, 0.05, key="w_penalty",
                           persist_state="session", help="Above 1, what the model wrote recently becomes less "
                           "likely; 1 turns it off.")
        ban = st.text_input("Banned words", key="w_ban", persist_state="session", placeholder="sea, night",
                            help="Words the model may not write, separated by commas (any case, and longer "
                                 "forms: 'sea' also bans 'seas').")
        try:
            banned = parse_bans(ban or "")
        except InkwellError as e:
            banned = ()
            st.error(escape_markdown(str(e)))
        s = Settings(int(length), float(temperature), int(top_k), float(top_p), stop or "length", int(n),
                     None if seed is None else int(seed), float(penalty), banned)
        if gen is not None:
            try:
                gen.check_settings(s)
            except InkwellError as e:
                st.error(escape_markdown(str(e)))
            kind = {"word": "words and signs", "subword": "word pieces"}.get(gen.vocab.level, "characters")
            st.caption(f"This model knows {len(gen.vocab):,} different {kind}.")
    st.session_state[SETTINGS] = s   # the branch buttons' callback writes with these
    return s


def _continue_one(gen: Generator, draft: Draft, s: Settings, seed: int, where) -> None:
    kept: list[str] = []
    record: list = []
    base, prompt = draft.text, draft.text[-PROMPT_CHARS:]
    try:
        gen.check_settings(dataclasses.replace(s, n=1))
        primed = _primed(gen, prompt)
        with where:
            st.write_stream(stream_markdown(gen.stream(prompt, primed=primed, record=record, **s.kwargs(seed)),
                                            kept, STREAM_EVERY))
    except InkwellError as e:
        return _note("actions", "error", str(e))
    except Exception:   # a bug must not cost the writer the page: the draft is untouched, the log has it
        log.exception("continuing the draft failed")
        return _note("actions", "error", UNEXPECTED)
    except ScriptControlException:
        # The writer clicked something while the text streamed in: Streamlit stops this run to start
        # the next. Keep what was already written, then let it go on.
        text = "".join(kept)
        if text:
            _keep(draft, text, f"Seed {seed}: stopped after {len(text):,} characters, when you clicked; what was "
                               "written is kept.")
        raise
    text = "".join(kept)
    if not text:
        return _note("actions", "info", "The model stopped at once and wrote nothing; try another seed or setting.")
    if record and record[0].text == text:
        st.session_state[LATEST] = {"base": base, "cont": record[0]}
    _keep(draft, text, f"Seed {seed}: the same seed, draft and settings write this again. " + gen.originality_note(text))


def _keep(draft: Draft, text: str, said: str) -> None:
    """The model's text joins the draft and is saved; `said` is the line shown under the buttons."""
    try:
        draft.append_model(text)
    except InkwellError as e:
        return _note("actions", "error", str(e))
    _save(draft)
    st.session_state["write_last"] = said


def _make_alternatives(gen: Generator, draft: Draft, s: Settings, seed: int) -> None:
    try:
        with st.spinner(f"Writing {s.n} alternatives..."):
            prompt, record = draft.text[-PROMPT_CHARS:], []
            made = gen.alternatives(prompt, s.n, primed=_primed(gen, prompt), record=record, **s.kwargs(seed))
    except InkwellError as e:
        return _note("actions", "error", str(e))
    except Exception:
        log.exception("making alternatives failed")
        return _note("actions", "error", UNEXPECTED)
    st.session_state[ALTS] = {"texts": [g.text for g in made], "base": draft.text, "seed": seed,
                              "originality": [gen.originality_note(g.text) for g in made],
                              "conts": [c if c.text == g.text else None for c, g in zip(record, made)]}


# -- the page ----------------------------------------------------------------------------------------
def _model(active: str) -> Generator | None:
    """The active run's Generator (the demo's if it cannot be used), with a line saying which it is."""
    gen, problem = _load(active)
    if gen is None and active != DEMO_ID:
        st.warning(escape_markdown(f"The model {active} cannot be used ({problem}). Writing with the demo "
                                   "model instead."))
        gen, problem = _load(DEMO_ID)
    if gen is None:
        st.error(escape_markdown(f"No model is ready ({problem}). Train one on the Train page; you can "
                                 "keep writing meanwhile."))
        return None
    name, size = gen.name()
    # Suggested labels already end with the size; the run id is under the sidebar's picker.
    st.caption(f"Model: **{escape_markdown(name)}**" + ("" if name.endswith(size) else f" · {size}"))
    return gen


def main() -> None:
    st.title("Write")
    st.caption("Write with the model: it proposes, you keep, edit or undo. Your draft is saved as you go.")
    draft = _draft()
    _show_notes("top")
    gen = _model(st.session_state.get(ui.ACTIVE_RUN) or DEMO_ID)
    s = _settings(gen)

    # The text box shows the canonical draft, unless an edit was refused (then the writer's text stays).
    if not st.session_state.pop("editor_kept", False) and st.session_state.get(EDITOR) != draft.text:
        st.session_state[EDITOR] = draft.text
    st.text_area("Your draft", key=EDITOR, height=240, max_chars=MAX_CHARS, on_change=_on_edit,
                 placeholder="Start writing, or press Continue and let the model begin.")
    _show_notes("editor")
    unknown = gen.unknown(draft.text[-PROMPT_CHARS:]) if gen is not None else ()
    if gen is not None and (odd := scripts.mismatch(draft.text, gen.vocab)):
        st.caption(escape_markdown(odd))    # a Chinese draft on an English model, said plainly
    elif unknown:
        st.caption(escape_markdown(unknown_note(unknown)))

    # One row, left to right, in the order a writer uses them (columns spread them over the whole width).
    row = st.container(horizontal=True, key="w_actions")
    go = row.button("Continue", type="primary", disabled=gen is None, key="w_continue",
                    help="Ask the model to continue the draft from where it ends.")
    branched = st.session_state.get(BRANCHED) or []
    row.button("Undo", key="w_undo", on_click=_undo, help="Remove the model's last piece, or take back a branch.",
               disabled=not (draft.can_undo or (branched and branched[-1][0] == draft.to_json())))
    row.button("Redo", key="w_redo", on_click=_change, args=(Draft.redo, "Nothing to redo."), disabled=not draft.can_redo)
    with row.popover("Clear draft", disabled=not draft.text):
        st.write("This deletes the whole draft. Download it first if you want to keep it.")
        st.button("Yes, clear it", key="w_clear", type="primary", on_click=_change, args=(_clear,))
    row.download_button("Download .txt", draft.to_text(), file_name="draft.txt", mime="text/plain",
                        on_click="ignore", key="w_txt", disabled=not draft.text, icon=":material/download:")
    row.download_button("Download .md", draft.to_markdown(), file_name="draft.md", mime="text/markdown",
                        on_click="ignore", key="w_md", disabled=not draft.text, icon=":material/download:")
    _show_notes("actions")
    if st.session_state.get("write_last"):
        st.caption(st.session_state.pop("write_last"))

    # The read-only view: the writer's text plain, the model's in violet italics, all escaped; or, with
    # Surprise on, every token shaded by the model's surprise (escaped text in Streamlit's palette).
    shaded = gen is not None and bool(draft.text) and st.toggle(
        "Surprise", key="w_surprise", help="Shade each token by how surprised the model was to read it.")
    surprise = _kept(SURPRISE, _model_key(gen, draft.text), lambda: insight.surprise(gen, draft.segments)) \
        if shaded else None
    with (view := st.container(border=True, key="w_view")):
        if surprise is not None:
            st.markdown(insight.shaded_markdown(surprise))
        elif draft.text:
            st.markdown(draft.to_markdown(VIEW_FORMAT, screen=True))
        else:
            st.caption("The draft is empty.")
    if surprise is not None:
        _surprise_key(surprise)
    else:
        st.caption("Your words are in plain type; the model's are in :violet[*violet italics*].")

    seed = s.seed if s.seed is not None else secrets.randbits(31)
    if go and gen is not None:
        if s.n == 1:
            st.session_state.pop(ALTS, None)
            _continue_one(gen, draft, s, seed, view)
            st.rerun()      # so the text box, the view and undo show the new piece
        _make_alternatives(gen, draft, s, seed)
        st.rerun()
    alts = st.session_state.get(ALTS)
    if alts and alts["base"] == draft.text:     # only while the draft is the text they continue
        _alternatives(gen, s, alts)
    if gen is not None:
        _insight(gen, draft, s)


def _alternatives(gen: Generator | None, s: Settings, alts: dict) -> None:
    st.subheader("Alternatives")
    st.caption(f"Seed {alts['seed']}. Pick one to add it to the draft.")
    for i, text in enumerate(alts["texts"]):
        with st.container(border=True, key=f"w_alt_{i}"):
            if text:
                st.markdown(Draft.from_text(text, "model").to_markdown(VIEW_FORMAT, screen=True))
                if alts["originality"][i]:
                    st.caption(alts["originality"][i])
            else:
                st.caption("(the model stopped at once here)")
            st.button("Use this", key=f"w_use_{i}", on_click=_use, args=(i,), disabled=not text)
    row = st.container(horizontal=True, key="w_alt_actions")
    regen = row.button("Regenerate", key="w_regen", disabled=gen is None, help="New alternatives with a new seed.")
    row.button("Dismiss", key="w_dismiss", on_click=st.session_state.pop, args=(ALTS, None))
    _show_notes("alternatives")
    if regen and gen is not None:
        _make_alternatives(gen, _draft(), dataclasses.replace(s, n=len(alts["texts"])), secrets.randbits(31))
        st.rerun()


# -- what the model expects ---------------------------------------------------------------------------
def _surprise_key(surprise) -> None:
    st.caption(insight.legend(surprise.level))
    a, b = st.columns(2)
    for col, who, label in ((a, "writer", "Your text"), (b, "model", "The model's text")):
        bpc = surprise.bits_per_char[who]
        col.metric(label, "—" if bpc is None else f"{bpc:.2f} bits per character",
                   help="How surprised the model was, on average, per character: lower is more expected.")


def _insight(gen: Generator, draft: Draft, s: Settings) -> None:
    try:
        gen.check_settings(s)
        odds = insight.next_odds(gen, _primed(gen, draft.text[-PROMPT_CHARS:]), s)
    except InkwellError:
        return   # the settings' own error is shown beside them
    st.subheader("What the model expects next")
    st.altair_chart(charts.odds_chart(odds), key="w_odds")
    latest = st.session_state.get(LATEST)
    cont = latest["cont"] if latest else None
    # Only while the draft still ends with the piece as written (a click racing an edit is refused).
    if cont is None or not gen.owns(cont.primed) or draft.text != latest["base"] + cont.text \
            or not (spots := insight.choices(cont)):
        return _show_notes("branch")
    starts = cont.starts()
    st.subheader("Branch the model's last piece")

    def label(i: int) -> str:
        before = (latest["base"][-16:] + cont.text[:starts[i]])[-16:]
        return f"…{insight.visible(before)}  ⟨{insight.visible(cont.pieces[i])}⟩"

    # One picker per piece: a browser showed the old piece's label under a reused key after a branch.
    at = st.selectbox("At", spots, format_func=label, key=f"w_branch_at_{hash(cont.tokens) & 0xFFFFFF:x}",
                      index=spots.index(latest["at"]) if latest.get("at") in spots else 0,
                      help="Pick a token of the model's last piece to see what else it weighed there.")
    try:
        alternatives = [o for o in insight.odds_at(gen, cont, at, s) if o.kept or o.token == cont.tokens[at]]
    except InkwellError as e:   # say, banned words that leave nothing at that point
        alternatives = []
        st.caption(escape_markdown(str(e)))
    row = st.container(horizontal=True, key="w_branch_row")
    for k, o in enumerate(alternatives[:6]):
        row.button(f"{escape_markdown(o.shown)} · {o.before:.0%}", key=f"w_branch_{k}", on_click=_branch, args=(at, o.token),
                   disabled=o.token == cont.tokens[at], help="Write on from here with this token instead.")
    st.caption("The chances are those the model weighed at that point, before top-k and top-p; choosing one "
               "rewrites the piece from there, and Undo brings it back.")
    _show_notes("branch")


main()

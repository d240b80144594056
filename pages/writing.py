"""The Write page's session plumbing: its cached Generator, the tab's draft, notes left by callbacks, and
what the model has read (kept per session, so an unchanged draft is not read again).

Streamlit helpers for pages/write.py and pages/expects.py only; layout lives in those pages.
"""
from __future__ import annotations

import hashlib

import streamlit as st

from pages import i18n, ui
from textgen import Generator, InkwellError, demos
from textgen.batcher import Batcher
from textgen.drafts import Draft, DraftSlot
from textgen.generate import weights_version
from textgen.markup import escape_markdown
from textgen.runs import home

NOTES = "write_notes"        # (where, kind, text) left by callbacks, shown beside their control
PRIMED, SURPRISE = "write_primed", "write_surprise"    # per-session caches: {(model, weights, text hash): value}
LATEST = "write_latest"      # the model's latest piece: {"base": draft text before it, "cont": Continuation}
SETTINGS = "write_settings"  # the settings of the page's last run
BRANCHED = "write_branched"  # per branch, (draft after it, draft before it, piece before it) for Undo
PROMPT_CHARS = 20_000        # the generator keeps its own tail of tokens; this bounds the encode


@st.cache_resource(max_entries=16, show_spinner=False)
def generator(run_id: str, workspace: str, stamp: int) -> Generator:
    """One Generator per (run, weights file version), shared by every session: NumPy arrays only."""
    return Generator(run_id, workspace)


def load(run_id: str) -> tuple[Generator | None, str | None]:
    """The cached Generator for a run, or why there is none."""
    try:
        if demos.by_id(run_id) is None:   # a shipped demo is everyone's; the engine refuses another writer's run
            # (one shared with the room may be used)
            ui.registry().require_run(run_id, ui.identity(), use=True)
        return generator(run_id, str(home()), weights_version(run_id)), None
    except (InkwellError, OSError, ValueError) as e:
        return None, str(e)


def current_draft() -> Draft:
    """The tab's draft. Callbacks call it too: they can run before the page (say, after a server restart)."""
    draft, key, notes = DraftSlot(st.session_state, owner=ui.identity()).open(st.query_params.get("d"))
    for kind, text in notes:
        note("top", kind, text)
    if st.query_params.get("d") != key:
        st.query_params["d"] = key
    return draft


def save(draft: Draft, where: str = "actions") -> None:
    problem = DraftSlot(st.session_state, owner=ui.identity()).save(draft)
    if problem:
        note(where, "error", problem)


# -- messages: callbacks run before the page, so they leave notes that render beside their control --
def note(where: str, kind: str, text: str) -> None:
    st.session_state.setdefault(NOTES, []).append((where, kind, text))


def show_notes(where: str) -> None:
    notes = st.session_state.get(NOTES, [])
    for w, kind, text in [n for n in notes if n[0] == where]:
        # Messages can quote user text (a label, a key): escaped, they render as plain text. Engine sentences
        # and the page's own marked ones show in the reader's language.
        {"error": st.error, "warning": st.warning, "info": st.info}[kind](escape_markdown(i18n.error_text(text)))
    st.session_state[NOTES] = [n for n in notes if n[0] != where]


# -- callbacks ----------------------------------------------------------------------------------------
def change(change, nothing: str = "", where: str = "actions") -> None:
    """A button's change to the draft, then saved; `nothing`: what to say when it changed nothing."""
    draft = current_draft()
    try:
        if change(draft) is None and nothing:
            note(where, "info", nothing)
    except InkwellError as e:
        note(where, "error", str(e))
    save(draft, where)


def model_key(gen: Generator, text: str) -> tuple:
    return gen.run.id, weights_version(gen.run.id), hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def kept(name: str, key: tuple, make, keep: int = 1):
    """The session's value for key under name, made when missing; the `keep` latest are kept."""
    cache = st.session_state.setdefault(name, {})
    if key not in cache:
        value = make()
        while len(cache) >= keep:
            cache.pop(next(iter(cache)))
        cache[key] = value
    return cache[key]


def primed(gen: Generator, prompt: str):
    """The model's state at the end of the prompt, reused from the last Continue's end where it can be."""
    latest = st.session_state.get(LATEST)
    reuse = latest["cont"].ends() if latest else ()
    cache = st.session_state.get(PRIMED, {})
    # A few drafts' states (small arrays): Undo and Redo go back to texts read a moment ago.
    return kept(PRIMED, model_key(gen, prompt), lambda: gen.prime(prompt, (*cache.values(), *reuse)), keep=4)


# -- generation ------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def batcher() -> Batcher:
    """The process's generation service: every session's Continue on a model shares its steps."""
    return Batcher()


def stream(gen: Generator, prompt: str, primed, record: list, kwargs: dict):
    """One Continue's pieces as they are made, in the shared batch (same text as gen.stream, same seed)."""
    return batcher().stream(gen, prompt, primed=primed, record=record, **kwargs)

"""What the model expects: next-token odds, surprise per token, and branching inside a continuation.

NumPy only, over the stepper's per-step values (Stepper.trace, Stepper.top_logits) and the states a
Continuation keeps. No Streamlit: the Write page draws what these return.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from . import sampling, scoring
from .drafts import Draft
from .errors import GenerationError
from .generate import PROMPT_TAIL, Continuation, Generator, Primed, Settings
from .markup import NBSP, escape_markdown, join_lines, split_lines

WINDOW_STEP = 256   # tokens: how far the scored window's start moves at a time (see window_start)
SHOWN = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}
STALE = ("The draft has changed since the model wrote that piece, so it cannot be branched; "
         "press Continue for a new one.")
# Shades of surprise in bits per token, per vocabulary level (a word carries more bits than a letter):
# below the first, expected (grey); then plain; then surprising (orange); then very (red). Text colours of
# Streamlit's own palette, never HTML; backgrounds would pad every token and space the letters apart.
LEVELS = {"char": (1.0, 4.0, 7.0), "subword": (2.0, 8.0, 12.0), "word": (3.0, 10.0, 14.0)}
SHADES = ("gray", None, "orange", "red")


def visible(text: str) -> str:
    """A token as a label: a space as ␣, a line break as ⏎, other invisible characters by code point."""
    out = "".join(SHOWN.get(ch, ch if ch.isprintable() else f"U+{ord(ch):04X}") for ch in text)
    return out or "∅"


# -- next-token odds ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Odds:
    token: int
    text: str          # the token's own text
    shown: str         # the text made visible (visible())
    prob: float        # the chance of being drawn under the settings (0 when cut away)
    before: float      # after temperature, before top-k and top-p cut (a cut token's greyed bar)
    kept: bool         # left in by top-k and top-p


def distribution(logits: np.ndarray, temperature: float, top_k: int, top_p: float):
    """For one row of logits (vocab,): (probabilities after temperature, kept by top-k/top-p, final
    probabilities), as sampling.sample draws; temperature 0 keeps only the likeliest token."""
    x = logits.astype(np.float64)[None, :]
    if temperature == 0:
        before = sampling.softmax(x)[0]
        kept = np.zeros(len(before), bool)
        kept[int(np.argmax(x))] = True
        return before, kept, kept.astype(np.float64)
    x = sampling.apply_temperature(x, temperature)
    before = sampling.softmax(x)[0]
    cut = sampling.top_p_filter(sampling.top_k_filter(x, top_k), top_p)
    kept = np.isfinite(cut[0])
    return before, kept, sampling.softmax(cut)[0]


def top_odds(logits: np.ndarray, texts: list[str], s: Settings, n: int = 10) -> list[Odds]:
    """The n likeliest tokens of one row of logits under the settings, likeliest first."""
    before, kept, final = distribution(logits, s.temperature, s.top_k, s.top_p)
    order = np.argsort(-before, kind="stable")[:n]
    return [Odds(int(i), texts[i], visible(texts[i]), float(final[i]), float(before[i]), bool(kept[i]))
            for i in order if before[i] > 0]


def next_odds(gen: Generator, primed: Primed, s: Settings, n: int = 10) -> list[Odds]:
    """What the model would write next at the end of the primed prompt (one step, nothing re-read)."""
    logits, _ = gen.stepper.step(primed.ids[-1:], primed.state)
    logits = gen.constrain(logits, primed.healed, [[]], [primed.tail], s.repetition_penalty, gen.bans(s.ban))
    return top_odds(logits[0], gen._texts, s, n)


def odds_at(gen: Generator, cont: Continuation, at: int, s: Settings, n: int = 10) -> list[Odds]:
    """The alternatives the model weighed at token `at` of a continuation, from the state kept there."""
    if not 0 <= at < len(cont.tokens):
        raise GenerationError("There is no such token in the model's last piece.")
    logits = gen.stepper.top_logits(cont.states[at + 1])
    done = "".join(cont.pieces[:at])
    logits = gen.constrain(logits, cont.primed.healed if at == 0 else b"", [list(cont.tokens[:at])],
                           [cont.primed.tail + done], s.repetition_penalty, gen.bans(s.ban))
    return top_odds(logits[0], gen._texts, s, n)


# -- branching ---------------------------------------------------------------------------------------
def choices(cont: Continuation) -> list[int]:
    """The tokens of a continuation one can branch at: the first of each run that adds text (a character
    split over word pieces is branched at its first piece)."""
    out, pending = [], None
    for i, piece in enumerate(cont.pieces):
        pending = i if pending is None else pending
        if piece:
            out.append(pending)
            pending = None
    return out


def branch(gen: Generator, draft: Draft, base: str, cont: Continuation, at: int, token: int, s: Settings,
           seed: int | None = None) -> tuple[Draft, Continuation]:
    """(a new draft whose model piece is replaced from token `at` on by `token` and what follows it, the
    new continuation). `base`: the draft's text before the piece. The draft passed in is never changed;
    one that no longer ends with the piece as written is refused with STALE."""
    if draft.text != base + cont.text or draft.last_piece != cont.text:
        raise GenerationError(STALE)
    new = gen.resume(cont, at, token, s.length, seed, temperature=s.temperature, top_k=s.top_k, top_p=s.top_p,
                     stop=s.stop, repetition_penalty=s.repetition_penalty, ban=s.ban)
    out = Draft.from_json(draft.to_json())
    out.replace_model(cont.text, new.text)     # Undo, also after a reload, gives back the draft passed in
    return out, new


# -- surprise ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Surprise:
    pieces: tuple[tuple[str, float | None, str], ...]   # (text, bits or None when unscored, author)
    bits_per_char: dict                                  # author -> average bits per character, or None
    level: str                                           # the vocabulary's level (which shades apply)


def surprise(gen: Generator, segments: list[dict], reuse: bool = True) -> Surprise:
    """How surprised the model is by each token of a draft: -log2 p(token | everything before it),
    for its last PROMPT_TAIL tokens or up to WINDOW_STEP fewer (the first read after a line break, as
    generation starts); earlier text and tokens it never saw are left unscored.

    With `reuse`, a draft that begins with tokens scored before (the same draft after a Continue) takes
    their bits and state from scoring.KEPT and reads only the rest; the result is the same either way."""
    text = "".join(seg["text"] for seg in segments)
    ids, _ = gen.vocab.encode(text)
    texts = _pieces(gen, text, ids)
    head = window_start(len(ids))
    ids, texts = ids[head:], texts[head:]
    bits = np.full(len(ids), np.nan)
    if len(ids):
        newline = gen.vocab.encode("\n")[0]
        after_newline = len(newline) == 1 and newline[0] != 0
        start = newline[:1] if after_newline else ids[:1]
        bits = scoring.token_bits(gen.stepper, np.asarray(start, np.int64), np.asarray(ids, np.int64), reuse)
        if not after_newline:
            bits[0] = np.nan                                                      # nothing to read it after
        bits[ids == 0] = np.nan                                                   # unknown: not the model's guess
    authors = _authors(segments)
    offset = len(text) - sum(map(len, texts))
    pieces = [(text[:offset], None, authors(0))] if offset else []
    # A character split over word pieces is scored as a whole: its first pieces' bits go to the last.
    carry = 0.0
    for piece, b in zip(texts, bits.tolist()):
        if not piece:
            carry += 0.0 if math.isnan(b) else b
            continue
        pieces.append((piece, None if math.isnan(b) else b + carry, authors(offset)))
        offset, carry = offset + len(piece), 0.0
    return Surprise(tuple(pieces), _averages(pieces), gen.vocab.level)


def window_start(tokens: int) -> int:
    """The first token scored: the window's start moves in steps of WINDOW_STEP tokens, so a draft that
    grows past PROMPT_TAIL still begins with the tokens scored before and is scored incrementally."""
    if tokens <= PROMPT_TAIL:
        return 0
    return -(-(tokens - PROMPT_TAIL) // WINDOW_STEP) * WINDOW_STEP


def _pieces(gen: Generator, text: str, ids: np.ndarray) -> list[str]:
    """Each token's text in the draft as written (an unknown token keeps its original characters)."""
    if gen.vocab.level == "subword":
        decoder = gen.vocab.decoder()
        return [decoder.decode(int(i)) for i in ids]
    return gen.vocab.tokenize(text)


def _authors(segments: list[dict]):
    ends, who, at = [], [], 0
    for seg in segments:
        at += len(seg["text"])
        ends.append(at)
        who.append(seg["author"])
    last = who[-1] if who else "writer"
    # A draft gains a segment per Continue: a binary search keeps a long one's shading linear.
    return lambda pos: who[i] if (i := bisect.bisect_right(ends, pos)) < len(who) else last


def _averages(pieces) -> dict:
    out = {}
    for author in ("writer", "model"):
        scored = [(len(t), b) for t, b, a in pieces if a == author and b is not None]
        chars = sum(n for n, _ in scored)
        out[author] = sum(b for _, b in scored) / chars if chars else None
    return out


def shade(bits: float | None, level: str) -> str | None:
    """The palette colour for a token's bits (None: plain, as are unscored tokens)."""
    if bits is None:
        return None
    return SHADES[sum(bits >= step for step in LEVELS.get(level, LEVELS["char"]))]


def legend(level: str) -> str:
    """The shades' meaning as Streamlit Markdown (fixed text of ours)."""
    lo, mid, hi = LEVELS.get(level, LEVELS["char"])
    return (f"Bits of surprise per token: :gray[under {lo:g}, expected] · {lo:g} to {mid:g} plain · "
            f":orange[{mid:g} to {hi:g}, surprising] · :red[{hi:g} or more, very surprising]")


def shaded_markdown(s: Surprise) -> str:
    """The draft as Streamlit Markdown, each token shaded by its bits. Every character of the text is
    escaped; the only markup is the palette's :colour[...] around escaped text."""
    lines = split_lines((shade(bits, s.level), text) for text, bits, _ in s.pieces)   # per line: (colour, text)
    return join_lines(_shaded_line([(text, colour) for colour, text in line]) for line in lines)


def _shaded_line(parts: list[tuple[str, str | None]]) -> str:
    runs: list[list] = []
    for text, colour in parts:              # neighbours of one shade become one run
        if runs and runs[-1][1] == colour:
            runs[-1][0] += text
        else:
            runs.append([text, colour])
    line = "".join(t for t, _ in runs)
    if not line.strip():
        return ""
    indent = len(line) - len(line.lstrip(" \t"))
    out, pos = [NBSP * indent], 0
    for text, colour in runs:
        lo = max(0, indent - pos)            # the indent is written once, as no-break spaces
        pos += len(text)
        text = text[lo:]
        body = text.strip()
        if not body:
            out.append(escape_markdown(text, break_links=True))
            continue
        if colour is None:
            out.append(escape_markdown(text, break_links=True))
            continue
        left = text[:len(text) - len(text.lstrip())]
        right = text[len(left) + len(body):]
        out.append(f"{left}:{colour}[{escape_markdown(body, break_links=True)}]{right}")
    return "".join(out).rstrip()

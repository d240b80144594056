"""The neuron explorer (after Karpathy, Johnson and Fei-Fei, 2015): which hidden units track something nameable.

Each character of a passage gets simple features (inside quotes or brackets, just after a newline, inside a
word, position in the line); each unit's activation after reading that character is correlated with them, so
a teacher can find the "quote neuron" by its rank. NumPy only, from the stepper's per-step states.
"""
from __future__ import annotations

import numpy as np

from .stepper import Stepper

FEATURES = ("inside quotes", "inside brackets", "just after a newline", "inside a word", "position in the line")
OPENS, CLOSES = "([{", ")]}"
LINE = 80.0                      # characters at which "position in the line" reaches 1


def text_features(text: str) -> dict[str, np.ndarray]:
    """Each feature as a float array over the characters (1.0 where it holds; position runs 0..1)."""
    n = len(text)
    out = {name: np.zeros(n) for name in FEATURES}
    quoted, depth, col = False, 0, 0
    for i, ch in enumerate(text):
        was = quoted
        if ch in '"“”':              # a straight quote toggles; curly ones open and close
            quoted = (not quoted) if ch == '"' else ch == "“"
        elif ch in OPENS:
            depth += 1
        elif ch in CLOSES:
            depth = max(0, depth - 1)
        out["inside quotes"][i] = quoted or was             # both marks belong to the quote
        out["inside brackets"][i] = depth > 0 or ch in CLOSES
        out["just after a newline"][i] = i > 0 and text[i - 1] == "\n"
        out["inside a word"][i] = ch.isalpha() and i > 0 and text[i - 1].isalpha()
        out["position in the line"][i] = min(1.0, col / LINE)
        col = 0 if ch == "\n" else col + 1
    return out


def activations(st: Stepper, ids: np.ndarray) -> list[np.ndarray]:
    """Per layer, (time, units): each unit's h after each token of ids (1-D), from a zero state."""
    tr = st.trace(np.asarray(ids)[None, :])
    return [h[0] for h in tr.hidden]


# The gate whose openness says how much of the old memory a step keeps: a GRU's update gate z (h = z*h_prev +
# (1-z)*candidate) and an LSTM's forget gate f (c = f*c_prev + i*g). Near 1 the unit holds on; near 0 it rewrites.
KEEP_GATE = {"gru": "update gate", "lstm": "forget gate"}


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def keep_gates(st: Stepper, ids: np.ndarray) -> list[np.ndarray]:
    """Per layer, (time, units): each unit's keep gate (KEEP_GATE) at each token of ids (1-D), from a zero state;
    [] for a SimpleRNN, which has no gate. Recomputed from the trace's states, the same products the stepper does."""
    cell, u = st.cfg.cell, st.cfg.units
    if cell not in KEEP_GATE:
        return []
    ids = np.asarray(ids)
    tr = st.trace(ids[None, :])
    out, below = [], None
    for i, (k, r, b, b_rec) in enumerate(st.layers):
        xin = st.input_table[ids] if i == 0 else below @ k + b                  # (time, gates*units)
        h = tr.hidden[i][0]                                                      # (time, units)
        h_prev = np.vstack([np.zeros((1, u), h.dtype), h[:-1]])                 # the state each step starts from
        if cell == "gru":
            out.append(_sigmoid(xin[:, :u] + h_prev @ r[:, :u] + b_rec[:u]))
        else:
            out.append(_sigmoid(xin[:, u:2 * u] + h_prev @ r[:, u:2 * u]))
        below = h
    return out


def rank_units(acts: np.ndarray, features: dict[str, np.ndarray], top: int = 5) -> dict[str, list[tuple[int, float]]]:
    """For each feature, the `top` units whose activation correlates most with it: [(unit, correlation)]."""
    a = acts - acts.mean(axis=0)
    a_norm = np.sqrt((a * a).sum(axis=0))                           # (units,)
    out = {}
    for name, f in features.items():
        f = f - f.mean()
        denom = a_norm * np.sqrt((f * f).sum())
        if not np.any(denom > 0):
            out[name] = []                                           # the passage never shows the feature
            continue
        corr = np.where(denom > 0, (a * f[:, None]).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0)
        order = np.argsort(-np.abs(corr))[:top]
        out[name] = [(int(u), float(corr[u])) for u in order]
    return out


def passage(run, length: int = 1500) -> str:
    """The start of the run's validation text (what it never trained on; data.split's cut), `length` characters."""
    text = run.corpus_path.read_text("utf-8") if run.corpus_path is not None else ""
    n_val = int(round(len(text) * run.train.val_fraction))
    return text[len(text) - n_val:][:length]

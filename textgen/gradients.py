"""How far back a trained model's gradient reaches: the vanishing curve, in NumPy from the stepper's weights.

For a window of tokens, the loss at its last step is backpropagated through the top recurrent layer one step
at a time (vector-Jacobian products of Keras' cells, written out by hand), giving |dL_T / dh_{T-k}| for
k = 0..K. Only the top layer's own recurrence carries h_{T-k} forward (lower layers never read it), so the
numbers are exact for stacked models too. Averaged over validation windows, a plain RNN's curve falls
geometrically with k; the gated cells' falls much slower. The worker measures it once training ends and
keeps it in the run directory (CURVE_FILE); the web process only reads that file.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .stepper import Stepper


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


@dataclass(frozen=True)
class Curve:
    norms: np.ndarray            # (K+1,): mean |dL_T / dh_{T-k}| over the windows, k = 0..K
    windows: int                 # how many windows the mean is over

    def ratio_per_step(self) -> float:
        """The geometric mean of |g_{k+1}| / |g_k|: below 1 the gradient vanishes, above 1 it grows."""
        n = self.norms[np.isfinite(self.norms) & (self.norms > 0)]
        if len(n) < 2:
            return float("nan")
        return float(np.exp((np.log(n[-1]) - np.log(n[0])) / (len(n) - 1)))


def _top_inputs(st: Stepper, ids: np.ndarray):
    """The top layer's input products (batch, time, gates*units) and its states h (and an LSTM's c)."""
    tr = st.trace(ids)
    top = len(st.layers) - 1
    k, _, b, _ = st.layers[top]
    xin = st.input_table[ids] if top == 0 else tr.hidden[top - 1] @ k + b
    cells = tr.cells[top] if tr.cells is not None else None
    return tr, xin.astype(np.float64), tr.hidden[top].astype(np.float64), cells


def _back_step(cell: str, u: int, r: np.ndarray, b_rec, xin_t, h_prev, c_prev, gh, gc):
    """One step back through the cell: upstream gradients on (h_t, c_t) -> those on (h_{t-1}, c_{t-1})."""
    if cell == "rnn":
        h = np.tanh(xin_t + h_prev @ r)
        return ((gh * (1.0 - h * h)) @ r.T), None
    if cell == "lstm":
        z = xin_t + h_prev @ r
        i, f, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), _sigmoid(z[:, 3 * u:])
        g = np.tanh(z[:, 2 * u:3 * u])
        tc = np.tanh(f * c_prev + i * g)
        gct = gc + gh * o * (1.0 - tc * tc)                                  # all the gradient reaching c_t
        dz = np.concatenate([gct * g * i * (1 - i), gct * c_prev * f * (1 - f), gct * i * (1 - g * g),
                             gh * tc * o * (1 - o)], axis=1)                  # (batch, 4*units)
        return dz @ r.T, gct * f
    rec = h_prev @ r + b_rec                                                  # gru, reset_after=True
    zr = _sigmoid(xin_t[:, :2 * u] + rec[:, :2 * u])
    z, rg = zr[:, :u], zr[:, u:]
    hh = np.tanh(xin_t[:, 2 * u:] + rg * rec[:, 2 * u:])
    da_h = gh * (1.0 - z) * (1.0 - hh * hh)
    drec = np.concatenate([gh * (h_prev - hh) * z * (1 - z), da_h * rec[:, 2 * u:] * rg * (1 - rg), da_h * rg],
                          axis=1)                                             # (batch, 3*units)
    return gh * z + drec @ r.T, None


def loss_gradients(st: Stepper, ids: np.ndarray, targets: np.ndarray, max_k: int) -> np.ndarray:
    """(batch, K+1, units): dL_T / dh_{T-k} for each window, L_T the cross-entropy of targets at the last step.
    ids (batch, T+1) with T >= max_k; the states start from zero before the first token."""
    batch, steps = ids.shape
    max_k = min(max_k, steps - 1)
    cell, u = st.cfg.cell, st.cfg.units
    tr, xin, hs, cs = _top_inputs(st, ids)
    _, r, _, b_rec = st.layers[-1]
    r = r.astype(np.float64)
    b_rec = None if b_rec is None else b_rec.astype(np.float64)
    p = tr.probs[:, -1]                                                       # (batch, vocab)
    p[np.arange(batch), targets] -= 1.0                                       # dL/dlogits of the cross-entropy
    gh = p @ st.out_w.astype(np.float64).T                                    # (batch, units): dL/dh_T
    gc = np.zeros_like(gh) if cell == "lstm" else None
    out = np.empty((batch, max_k + 1, u))
    out[:, 0] = gh
    zeros = np.zeros((batch, u))
    for k in range(1, max_k + 1):
        t = steps - k                                                         # the step whose update is undone
        h_prev = hs[:, t - 1] if t >= 1 else zeros
        c_prev = (cs[:, t - 1].astype(np.float64) if t >= 1 else zeros) if cell == "lstm" else None
        gh, gc = _back_step(cell, u, r, b_rec, xin[:, t], h_prev, c_prev, gh, gc)
        out[:, k] = gh
    return out


def vanishing_curve(st: Stepper, ids: np.ndarray, max_k: int = 100, windows: int = 64, seed: int = 0) -> Curve:
    """The mean |dL_T / dh_{T-k}| over `windows` windows of max_k + 2 tokens drawn from ids (a 1-D token array)."""
    ids = np.asarray(ids)
    length = max_k + 2                                                         # T + 1 inputs and the target
    if len(ids) < length + 1:
        raise ValueError(f"The text is too short for a curve over {max_k} steps ({len(ids)} tokens).")
    starts = np.random.default_rng(seed).integers(0, len(ids) - length, windows)
    block = np.stack([ids[s:s + length] for s in starts])                     # (windows, T + 2)
    g = loss_gradients(st, block[:, :-1], block[:, -1], max_k)
    return Curve(np.linalg.norm(g, axis=2).mean(axis=0), windows)


def run_curve(run, max_k: int = 100, windows: int = 32) -> Curve:
    """A trained run's vanishing curve over windows of its validation text (shorter k where the text is short)."""
    from .data import split_encoded

    if run.corpus_path is None:
        raise ValueError("This run keeps no copy of its text to measure on.")
    _, val = split_encoded(run.vocab, run.corpus_path.read_text("utf-8"), run.train.val_fraction)
    max_k = min(max_k, len(val) - 3)
    if max_k < 2:
        raise ValueError("This run's held-out text is too short to measure a curve on.")
    return vanishing_curve(Stepper(run.model, run.weights), val, max_k, windows)


CURVE_FILE = "vanishing.json"   # in the run directory: {"norms": [...], "windows": n}, null where not finite
CURVE_STEPS, CURVE_WINDOWS = 100, 32
RISE = 3.0   # a peak over this many times the early norm is a blow-up worth naming, even if it fell back


def measure_and_save(run_dir: Path, st: Stepper, val_ids: np.ndarray, seed: int = 0) -> Curve | None:
    """The worker's end of training: the curve over validation windows, written atomically to CURVE_FILE.
    None (and no file) when the validation text is too short to measure."""
    from . import atomic

    max_k = min(CURVE_STEPS, len(val_ids) - 3)
    if max_k < 2:
        return None
    curve = vanishing_curve(st, np.asarray(val_ids), max_k, CURVE_WINDOWS, seed)
    norms = [float(v) if math.isfinite(v) else None for v in curve.norms]
    atomic.write_json(Path(run_dir) / CURVE_FILE, {"norms": norms, "windows": curve.windows})
    return curve


def read_curve(run_dir: Path) -> Curve | None:
    """The curve the worker stored for this run, or None (trained before Inkwell measured it, or too short)."""
    path = Path(run_dir) / CURVE_FILE
    try:
        saved = json.loads(path.read_text("utf-8"))
        return Curve(np.array([np.nan if v is None else v for v in saved["norms"]], float), int(saved["windows"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def describe_norms(steps: list[int], norms: list[float | None], clipped: list[int], clipnorm: float,
                   diverged: bool = False) -> str:
    """Two sentences on a run's recorded gradient norms: how many batches were clipped, then whether the norm
    exploded (rose tenfold, or became NaN), rose (peaked over RISE x its start), or collapsed (fell tenfold) from
    the first fifth of training to the last. steps: each row's global step; norms: the row's mean norm; clipped:
    its clipped batches; diverged: the run was stopped as diverged."""
    if not steps:
        return ""
    total, n_clipped = int(max(steps)), int(sum(c or 0 for c in clipped))
    # The clipping sentence first: the reading ends in a number, which the Chinese catalogue's template
    # matching would otherwise stretch over the sentence after it.
    said = (f"{n_clipped:,} of {total:,} batches were clipped (threshold {clipnorm:g})." if clipnorm
            else "Clipping is off for this run.")

    def _reading(steps: list[int], values: np.ndarray, diverged: bool) -> str:   # nested: the catalogue reads it
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            return f"The gradient norm blew up to infinity or NaN at step {steps[bad[0]]:,}: the loss went with it."
        if len(values) == 1:   # too few to speak of a trend
            norm, step = float(values[0]), steps[0]
            return f"One gradient norm was recorded: {norm:.3g} at step {step:,}."
        fifth = max(1, len(values) // 5)
        early, late = float(np.median(values[:fifth])), float(np.median(values[-fifth:]))
        if len(values) >= 5 and late > 10 * early:
            return f"The gradient norm explodes: it grew from about {early:.3g} to {late:.3g}."
        if len(values) >= 5 and late < early / 10:
            return (f"The gradient norm collapses: it fell from about {early:.3g} to {late:.3g}, so learning all "
                    "but stops.")
        top = int(np.argmax(values))
        peak, at = float(values[top]), steps[top]
        if peak > RISE * early:
            return (f"The gradient norm rose from about {early:.3g} to a peak of {peak:.3g} at step {at:,}, and "
                    "the run diverged." if diverged else
                    f"The gradient norm rises from about {early:.3g} to a peak of {peak:.3g} at step {at:,}.")
        lo, hi = np.percentile(values, [5, 95])
        if diverged:
            return f"The run diverged while its gradient norm stayed between about {lo:.3g} and {hi:.3g}."
        return f"The gradient norm stays between about {lo:.3g} and {hi:.3g}."

    values = np.array([np.nan if v is None else v for v in norms], dtype=float)
    return said + " " + _reading(steps, values, diverged)


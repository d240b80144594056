"""The NumPy forward pass of Inkwell's models, one token at a time with carried state.

Mirrors Keras 3's cells exactly (gate order, GRU reset_after=True, sigmoid/tanh), so its
logits match the Keras model's; tests/test_stepper.py proves it for every cell.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from .config import ModelConfig


BLOCK = 64   # rows per matrix product over a block of steps (see blocked_product)
# Below this size no operation in the GRU block's loop but a gate's exp can overflow float32 (3.4e38); the
# margin covers BLAS's summation order and rounding in h many times over (see Stepper._gru_block).
REACH_LIMIT = 1e30
_quiet_exp = np.errstate(over="ignore")(np.exp)   # exp with only its overflow silent, for one call


def blocked_product(x: np.ndarray, w: np.ndarray, b: np.ndarray, offset: int = 0) -> np.ndarray:
    """x (..., time, in) @ w + b, as products of exactly BLOCK rows placed where the rows sit in their
    text (the first row at `offset`). BLAS rounds a row by where it falls in a product, so this way a
    token's values are the same bit for bit whichever stretch of the text it is computed with."""
    if x.ndim > 2:
        return np.stack([blocked_product(row, w, b, offset) for row in x])
    time = x.shape[0]
    out = np.empty((time, w.shape[1]), np.result_type(x, w))
    pad = None
    for lo in range(-(offset % BLOCK), time, BLOCK):
        a, z = max(lo, 0), min(lo + BLOCK, time)
        if a - lo == 0 and z - lo == BLOCK:
            np.matmul(x[a:z], w, out=out[a:z])
        else:                                  # a partial block: zero rows around it keep its shape
            pad = np.empty((BLOCK, x.shape[1]), x.dtype) if pad is None else pad
            pad[:] = 0
            pad[a - lo:z - lo] = x[a:z]
            out[a:z] = (pad @ w)[a - lo:z - lo]
        out[a:z] += b                          # while the block is still in the cache
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Written via tanh: one transcendental, no overflow warnings for large |x|.
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


@dataclass(frozen=True)
class Trace:
    """What a block of tokens did to the network, step by step (see Stepper.trace)."""
    logits: np.ndarray | None       # (batch, time, vocab): the logits after each token (None from `walk`)
    hidden: list[np.ndarray]        # per layer (batch, time, units): h after each token
    cells: list[np.ndarray] | None  # per layer (batch, time, units): an LSTM's c after each token; None otherwise
    state: list                     # the state after the last token, as `step` returns it

    @property
    def probs(self) -> np.ndarray:
        """softmax of the logits, in float64: (batch, time, vocab)."""
        z = self.logits.astype(np.float64)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)


class Stepper:
    """Holds weights; `step` advances a batch of sequences by one token."""

    def __init__(self, cfg: ModelConfig, weights: dict):
        self.cfg = cfg
        self.embedding = np.ascontiguousarray(weights["embedding"], dtype=np.float32)  # (vocab, emb)
        self.layers = []
        for i in range(cfg.layers):
            k = np.ascontiguousarray(weights[f"rnn_{i}/kernel"], dtype=np.float32)     # (in, gates*units)
            r = np.ascontiguousarray(weights[f"rnn_{i}/recurrent"], dtype=np.float32)  # (units, gates*units)
            b = np.asarray(weights[f"rnn_{i}/bias"], dtype=np.float32)
            if cfg.cell == "gru":
                b_in, b_rec = b[0], b[1]                                               # (3*units,) each
                self.layers.append((k, r, b_in, b_rec))
            else:
                self.layers.append((k, r, b, None))
        # The first layer's input is an embedding row: pre-multiply the table by the kernel once,
        # so feeding a token costs a row lookup instead of a matrix product.
        k0, _, b0, _ = self.layers[0]
        self.input_table = self.embedding @ k0 + b0                                   # (vocab, gates*units)
        self.out_w = np.ascontiguousarray(weights["logits/kernel"], dtype=np.float32)  # (units, vocab)
        self.out_b = np.asarray(weights["logits/bias"], dtype=np.float32)               # (vocab,)
        self._gru_cache: dict[int, tuple] = {}                                           # layer -> _gru_prepared

    def initial_state(self, batch: int) -> list:
        u = self.cfg.units
        if self.cfg.cell == "lstm":
            return [(np.zeros((batch, u), np.float32), np.zeros((batch, u), np.float32)) for _ in self.layers]
        return [np.zeros((batch, u), np.float32) for _ in self.layers]

    def step(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        """ids (batch,) int -> logits (batch, vocab) and the new state."""
        x, new_state = self._advance(ids, state)
        return x @ self.out_w + self.out_b, new_state

    def _advance(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        """One token through the recurrent layers: (the top layer's h, the new state); no logits."""
        cell, u = self.cfg.cell, self.cfg.units
        new_state = []
        x = None
        for i, (k, r, b, b_rec) in enumerate(self.layers):
            xin = self.input_table[ids] if i == 0 else x @ k + b                       # (batch, gates*units)
            s = state[i]
            if cell == "rnn":
                h = np.tanh(xin + s @ r)
                new_state.append(h)
            elif cell == "lstm":
                h_prev, c_prev = s
                z = xin + h_prev @ r                                                    # (batch, 4*units)
                i_g = _sigmoid(z[:, :u])
                f_g = _sigmoid(z[:, u:2 * u])
                g = np.tanh(z[:, 2 * u:3 * u])
                o_g = _sigmoid(z[:, 3 * u:])
                c = f_g * c_prev + i_g * g
                h = o_g * np.tanh(c)
                new_state.append((h, c))
            else:  # gru, reset_after=True: the reset gate scales the recurrent product, bias included
                h_prev = s
                rec = h_prev @ r + b_rec                                                # (batch, 3*units)
                zr = _sigmoid(xin[:, :2 * u] + rec[:, :2 * u])
                z_g, r_g = zr[:, :u], zr[:, u:]
                hh = np.tanh(xin[:, 2 * u:] + r_g * rec[:, 2 * u:])
                h = z_g * h_prev + (1.0 - z_g) * hh
                new_state.append(h)
            x = h
        return x, new_state

    def feed(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        """Feed a (batch, time) block; returns the logits after the last token (None for an empty block).

        Only the last token's logits are computed: with word pieces the output product is nearly half
        of a step. The states are those `step` gives, bit for bit."""
        x = None
        for t in range(ids.shape[1]):
            x, state = self._advance(ids[:, t], state)
        return (None if x is None else x @ self.out_w + self.out_b), state

    def sequence_logits(self, ids: np.ndarray) -> np.ndarray:
        """All logits for a (batch, time) block from a zero state: (batch, time, vocab)."""
        state = self.initial_state(ids.shape[0])
        out = []
        for t in range(ids.shape[1]):
            logits, state = self.step(ids[:, t], state)
            out.append(logits)
        return np.stack(out, axis=1)

    def trace(self, ids: np.ndarray, state: list | None = None) -> Trace:
        """Feed a (batch, time) block, keeping every step's logits and states (one layer at a time).

        Each layer's input products for the whole block are one matrix product and the output layer's
        another: only the recurrent product stays per step, so scoring a long text is fast.
        """
        walked = self.walk(ids, state)
        return Trace(self.logits_of(walked.hidden[-1]), walked.hidden, walked.cells, walked.state)

    def walk(self, ids: np.ndarray, state: list | None = None, offset: int = 0) -> Trace:
        """What `trace` gives without the logits (Trace.logits is None): for a caller that reduces them in
        pieces with `logits_of`, since a block's logits with word pieces are larger than the cache.

        offset: where the block's first token sits in its text (see blocked_product); walking a text in
        two parts, the second with offset = the first part's length, gives the whole walk's values exactly."""
        batch, time = ids.shape
        state = self.initial_state(batch) if state is None else state
        cell, u = self.cfg.cell, self.cfg.units
        hidden, cells, final = [], [], []
        x = None
        for i, (k, r, b, b_rec) in enumerate(self.layers):
            xin = self.input_table[ids] if i == 0 else blocked_product(x, k, b, offset)  # (batch, time, gates*units)
            s = state[i]
            if cell == "gru":
                hs, s = self._gru_block(i, xin, s)
                hidden.append(hs)
                final.append(s)
                x = hs
                continue
            hs = np.empty((batch, time, u), np.float32)
            cs = np.empty((batch, time, u), np.float32) if cell == "lstm" else None
            for t in range(time):
                s = self._cell(xin[:, t], s, r, b_rec)
                if cell == "lstm":
                    hs[:, t], cs[:, t] = s
                else:
                    hs[:, t] = s
            hidden.append(hs)
            if cs is not None:
                cells.append(cs)
            final.append(s)
            x = hs
        return Trace(None, hidden, cells if cell == "lstm" else None, final)

    def logits_of(self, h: np.ndarray, offset: int = 0) -> np.ndarray:
        """The output layer over top-layer states h (..., time, units) from `walk`: (..., time, vocab); offset as
        walk's."""
        return blocked_product(h, self.out_w, self.out_b, offset)

    def _gru_block(self, i: int, xin: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Layer i of a GRU over a whole block: (h after each token (batch, time, units), the last h).

        Per step: one product and nine array operations into buffers made once. A gate is 1 / (1 + exp(-x)):
        the product gives -x (its kernel columns negated) and dividing by 1 + exp(-x) applies the gate, so no
        sigmoid is formed. Each h carries a constant 1, so the product adds the recurrent biases."""
        u = self.cfg.units
        _, r, _, b_rec = self.layers[i]
        rec_w, w_top = self._gru_prepared(i, r, b_rec)                              # (units + 1, 3*units), max |w|
        batch, time = xin.shape[:2]
        # Batch 1 (scoring a draft) steps on vectors: an array operation on fewer dimensions costs less.
        x = xin[0] if batch == 1 else xin.transpose(1, 0, 2)                         # (time, [batch,] 3*units)
        row = (u + 1,) if batch == 1 else (batch, u + 1)
        hs = np.ones((time + 1, *row), np.float32)                                    # row 0: the state fed in
        hs[0, ..., :u] = h[0] if batch == 1 else h
        rec = np.empty((*row[:-1], 3 * u), np.float32)
        den = np.empty((*row[:-1], 2 * u), np.float32)                                # 1 + exp(-x): 1 / the gates
        hh = np.empty((*row[:-1], u), np.float32)
        one = np.ones_like(den)
        neg_x, rec_h, z_den, r_den = rec[..., :2 * u], rec[..., 2 * u:], den[..., :u], den[..., u:]
        dot, add, sub, div, tanh = np.dot, np.add, np.subtract, np.divide, np.tanh
        # A gate far below zero overflows exp to inf, which gives the gate's limit 0 exactly: that overflow
        # alone is silent. |h| never exceeds max(1, |h fed in|) (a blend of it and tanh), so every other value
        # in the loop is at most h_top * (units + 1) * w_top + x_top: below REACH_LIMIT nothing else can
        # overflow and one errstate spans the loop; otherwise each step silences its exp alone (~1 us a step).
        h_top = float(np.abs(h).max(initial=1.0))                                   # Python floats: the bound
        x_top = float(np.maximum(xin.max(initial=0.0), -xin.min(initial=0.0)))       # itself never warns
        fast = h_top * (u + 1) * w_top + x_top < REACH_LIMIT                          # False for NaN too
        exp, quiet = (np.exp, np.errstate(over="ignore")) if fast else (_quiet_exp, contextlib.nullcontext())
        with quiet:
            for prev, g, c, p, n in zip(hs[:-1], x[..., :2 * u], x[..., 2 * u:], hs[:-1, ..., :u], hs[1:, ..., :u]):
                dot(prev, rec_w, rec)
                sub(neg_x, g, den)
                exp(den, den)
                add(den, one, den)
                div(rec_h, r_den, hh)                                                # r * (the recurrent term)
                add(hh, c, hh)
                tanh(hh, hh)
                sub(p, hh, n)
                div(n, z_den, n)                                                     # h = hh + z * (h_prev - hh)
                add(n, hh, n)
        new = hs[1:, ..., :u]
        out = np.ascontiguousarray(new)[None] if batch == 1 else np.ascontiguousarray(new.transpose(1, 0, 2))
        return out, (out[:, -1].copy() if time else np.array(h, np.float32))

    def _gru_weights(self, i: int, r: np.ndarray, b_rec: np.ndarray) -> np.ndarray:
        """The recurrent kernel for _gru_block, made on first use: the gate columns negated, and a last row
        holding the recurrent biases (the gates' negated too)."""
        return self._gru_prepared(i, r, b_rec)[0]

    def _gru_prepared(self, i: int, r: np.ndarray, b_rec: np.ndarray) -> tuple[np.ndarray, float]:
        """_gru_weights' kernel and its largest |value| (for _gru_block's overflow bound), made once."""
        made = self._gru_cache.get(i)
        if made is None:
            u = self.cfg.units
            w = np.empty((u + 1, 3 * u), np.float32)
            w[:u, :2 * u] = -r[:, :2 * u]
            w[:u, 2 * u:] = r[:, 2 * u:]
            w[u, :2 * u] = -b_rec[:2 * u]
            w[u, 2 * u:] = b_rec[2 * u:]
            made = self._gru_cache[i] = (w, float(np.abs(w).max(initial=0.0)))
        return made

    def _cell(self, xin: np.ndarray, s, r: np.ndarray, b_rec):
        """One recurrent update from the layer's input product xin (batch, gates*units)."""
        cell, u = self.cfg.cell, self.cfg.units
        if cell == "rnn":
            return np.tanh(xin + s @ r)
        if cell == "lstm":
            h_prev, c_prev = s
            z = xin + h_prev @ r
            c = _sigmoid(z[:, u:2 * u]) * c_prev + _sigmoid(z[:, :u]) * np.tanh(z[:, 2 * u:3 * u])
            return _sigmoid(z[:, 3 * u:]) * np.tanh(c), c
        rec = s @ r + b_rec
        zr = _sigmoid(xin[:, :2 * u] + rec[:, :2 * u])
        hh = np.tanh(xin[:, 2 * u:] + zr[:, u:] * rec[:, 2 * u:])
        return zr[:, :u] * s + (1.0 - zr[:, :u]) * hh

    def top_logits(self, state: list) -> np.ndarray:
        """The logits a state's top layer gives (what `step` returned alongside that state): (batch, vocab)."""
        top = state[-1]
        h = top[0] if isinstance(top, tuple) else top
        return h @ self.out_w + self.out_b

"""The NumPy forward pass of Inkwell's models, one token at a time with carried state.

Mirrors Keras 3's cells exactly (gate order, GRU reset_after=True, sigmoid/tanh), so its
logits match the Keras model's; tests/test_stepper.py proves it for every cell.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ModelConfig


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Written via tanh: one transcendental, no overflow warnings for large |x|.
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


@dataclass(frozen=True)
class Trace:
    """What a block of tokens did to the network, step by step (see Stepper.trace)."""
    logits: np.ndarray              # (batch, time, vocab): the logits after each token
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
        batch, time = ids.shape
        state = self.initial_state(batch) if state is None else state
        cell, u = self.cfg.cell, self.cfg.units
        hidden, cells, final = [], [], []
        x = None
        for i, (k, r, b, b_rec) in enumerate(self.layers):
            xin = self.input_table[ids] if i == 0 else x @ k + b                       # (batch, time, gates*units)
            hs = np.empty((batch, time, u), np.float32)
            cs = np.empty((batch, time, u), np.float32) if cell == "lstm" else None
            s = state[i]
            if cell == "gru":
                s = self._gru_block(xin, s, r, b_rec, hs)
            for t in range(time if cell != "gru" else 0):
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
        logits = x @ self.out_w + self.out_b                                         # (batch, time, vocab)
        return Trace(logits, hidden, cells if cell == "lstm" else None, final)

    def _gru_block(self, xin: np.ndarray, h: np.ndarray, r: np.ndarray, b_rec: np.ndarray, out: np.ndarray):
        """A GRU over a whole block, with the per-step work cut to a few array operations: the gates'
        input terms and biases are added and halved for the whole block at once (sigmoid(x) is
        0.5 * tanh(x / 2) + 0.5), so a step is one product and eight small operations."""
        u = self.cfg.units
        gates = 0.5 * (xin[..., :2 * u] + b_rec[:2 * u])                            # (batch, time, 2*units)
        cand = np.ascontiguousarray(xin[..., 2 * u:])                                # (batch, time, units)
        rec_w = np.concatenate([0.5 * r[:, :2 * u], r[:, 2 * u:]], axis=1)           # (units, 3*units)
        b_h = b_rec[2 * u:]
        for t in range(xin.shape[1]):
            rec = h @ rec_w
            zr = np.tanh(gates[:, t] + rec[:, :2 * u]) * 0.5 + 0.5
            hh = np.tanh(cand[:, t] + zr[:, u:] * (rec[:, 2 * u:] + b_h))
            h = hh + zr[:, :u] * (h - hh)
            out[:, t] = h
        return h

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

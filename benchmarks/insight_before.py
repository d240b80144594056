"""The scoring code paths that textgen.scoring and textgen.stepper replaced, kept so that benchmarks.insight
times them beside the current one in the same run. GRU models only (both benchmarked models are GRUs)."""
from __future__ import annotations

import math

import numpy as np

BLOCK = 64


def bits_9755922(stepper, start, tokens, reuse=True):
    """token_bits as of commit 9755922: the GRU block with fresh temporaries per step, all logits at once, a
    float64 softmax; no reuse."""
    fed = np.concatenate([start, tokens[:-1]])[None, :]
    u, x = stepper.cfg.units, None
    for i, (k, r, b, b_rec) in enumerate(stepper.layers):
        xin = stepper.input_table[fed] if i == 0 else x @ k + b
        gates = 0.5 * (xin[..., :2 * u] + b_rec[:2 * u])
        cand = np.ascontiguousarray(xin[..., 2 * u:])
        rec_w = np.concatenate([0.5 * r[:, :2 * u], r[:, 2 * u:]], axis=1)
        b_h, h = b_rec[2 * u:], np.zeros((1, u), np.float32)
        hs = np.empty((1, fed.shape[1], u), np.float32)
        for t in range(fed.shape[1]):
            rec = h @ rec_w
            zr = np.tanh(gates[:, t] + rec[:, :2 * u]) * 0.5 + 0.5
            hh = np.tanh(cand[:, t] + zr[:, u:] * (rec[:, 2 * u:] + b_h))
            h = hh + zr[:, :u] * (h - hh)
            hs[:, t] = h
        x = hs
    logits = (x @ stepper.out_w + stepper.out_b)[0].astype(np.float64)
    top = logits.max(-1)
    log_z = np.log(np.exp(logits - top[:, None]).sum(-1)) + top
    return (log_z - logits[np.arange(len(tokens)), tokens]) / np.log(2)


def bits_d0033e7(stepper, start, tokens, reuse=True):
    """token_bits with reuse=False as of commit d0033e7: the GRU block in fixed buffers with sigmoid via tanh
    (ten array operations a step, the gate inputs halved for the block at once), logits in blocks of 64."""
    fed = np.concatenate([start, tokens[:-1]])[None, :]
    x = None
    for i, (k, r, b, b_rec) in enumerate(stepper.layers):
        xin = stepper.input_table[fed] if i == 0 else _blocked_product(x, k, b)
        x = _gru_block(stepper.cfg.units, r, b_rec, xin, np.zeros((1, stepper.cfg.units), np.float32))
    top, n = x[0], len(tokens)
    bits = np.empty(n)
    for a in range(0, n, BLOCK):
        z = min(a + BLOCK, n)
        logits = _blocked_product(top[a:z], stepper.out_w, stepper.out_b, a)
        picked = logits[np.arange(z - a), tokens[a:z]].astype(np.float64)
        peak = logits.max(axis=1)
        logits -= peak[:, None]
        np.exp(logits, out=logits)
        log_z = np.log(logits.sum(axis=1, dtype=np.float64)) + peak
        bits[a:z] = (log_z - picked) / math.log(2)
    return bits


def _blocked_product(x, w, b, offset=0):
    if x.ndim > 2:
        return np.stack([_blocked_product(row, w, b, offset) for row in x])
    time = x.shape[0]
    out = np.empty((time, w.shape[1]), np.result_type(x, w))
    lead = offset % BLOCK
    pad = np.zeros((BLOCK, x.shape[1]), x.dtype)
    for lo in range(-lead, time, BLOCK):
        a, z = max(lo, 0), min(lo + BLOCK, time)
        if a - lo == 0 and z - lo == BLOCK:
            out[a:z] = x[a:z] @ w
        else:
            pad[:] = 0
            pad[a - lo:z - lo] = x[a:z]
            out[a:z] = (pad @ w)[a - lo:z - lo]
    out += b
    return out


_WEIGHTS: dict = {}


def _gru_weights(u, r, b_rec):
    """Made once per model, as the stepper then cached them."""
    kept = _WEIGHTS.get(id(r))
    if kept is None or kept[0] is not r:
        rec_w = np.zeros((u + 1, 3 * u), np.float32)
        rec_w[:u, :2 * u] = 0.5 * r[:, :2 * u]
        rec_w[:u, 2 * u:] = r[:, 2 * u:]
        rec_w[u, 2 * u:] = b_rec[2 * u:]
        kept = _WEIGHTS[id(r)] = (r, rec_w)
    return kept[1]


def _gru_block(u, r, b_rec, xin, h):
    rec_w = _gru_weights(u, r, b_rec)
    batch, time = xin.shape[:2]
    gates = np.ascontiguousarray((0.5 * (xin[..., :2 * u] + b_rec[:2 * u])).transpose(1, 0, 2))
    cand = np.ascontiguousarray(xin[..., 2 * u:].transpose(1, 0, 2))
    hs = np.ones((time + 1, batch, u + 1), np.float32)
    hs[0, :, :u] = h
    rec = np.empty((batch, 3 * u), np.float32)
    zr = np.empty((batch, 2 * u), np.float32)
    hh = np.empty((batch, u), np.float32)
    rec_zr, rec_h, z_g, r_g = rec[:, :2 * u], rec[:, 2 * u:], zr[:, :u], zr[:, u:]
    for prev, g, c, p, n in zip(hs[:-1], gates, cand, hs[:-1, :, :u], hs[1:, :, :u]):
        np.matmul(prev, rec_w, out=rec)
        np.add(g, rec_zr, out=zr)
        np.tanh(zr, out=zr)
        zr *= 0.5
        zr += 0.5
        np.multiply(r_g, rec_h, out=hh)
        hh += c
        np.tanh(hh, out=hh)
        np.subtract(p, hh, out=n)
        n *= z_g
        n += hh
    return np.ascontiguousarray(hs[1:, :, :u].transpose(1, 0, 2))

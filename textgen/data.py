"""From token ids to training windows: a contiguous split, seeded per-epoch order, tf.data batches.

The order of windows in epoch e depends only on (seed, e), so a resumed run sees exactly the
batches an uninterrupted one would have seen.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import CorpusError


def split(ids: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous split: validation is the last fraction, so no window straddles both sides."""
    n_val = int(round(len(ids) * val_fraction))
    return ids[: len(ids) - n_val], ids[len(ids) - n_val:]


def split_encoded(vocab, text: str, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation ids of text. Word pieces split the text by characters, then encode each
    side, so validation is exactly the last fraction of the text (and the pieces were learned without it)."""
    if vocab.level == "subword":
        train_text, val_text = split(text, val_fraction)
        return vocab.encode(train_text)[0], vocab.encode(val_text)[0]
    return split(vocab.encode(text)[0], val_fraction)


def min_tokens(seq_len: int, val_fraction: float) -> int:
    """Fewest tokens giving one window on each side of the split."""
    return max(math.ceil((seq_len + 1) / val_fraction), math.ceil((seq_len + 1) / (1 - val_fraction))) + 1


def check_length(n_tokens: int, seq_len: int, val_fraction: float, unit: str = "characters") -> None:
    need = min_tokens(seq_len, val_fraction)
    if n_tokens < need:
        raise CorpusError(
            f"The text is too short for sequence length {seq_len}: it has {n_tokens:,} {unit}, training needs at "
            f"least {need:,} (add about {need - n_tokens:,} more, or choose a shorter sequence length).")


def check_sides(n_train: int, n_val: int, seq_len: int, val_fraction: float, unit: str) -> None:
    """Each side of the split needs one window; word pieces split by characters, so count each side."""
    for side, n in (("training part", n_train), (f"validation part (the last {val_fraction:.0%})", n_val)):
        if n < seq_len + 1:
            raise CorpusError(
                f"The text is too short for sequence length {seq_len}: its {side} makes {n:,} {unit}, and training "
                f"needs at least {seq_len + 1:,} there (add more text, or choose a shorter sequence length).")


def windows(ids: np.ndarray, seq_len: int) -> np.ndarray:
    """Non-overlapping windows of seq_len + 1 ids (stride seq_len, so every id is a target once)."""
    n = (len(ids) - 1) // seq_len
    view = np.lib.stride_tricks.sliding_window_view(ids, seq_len + 1)[::seq_len]  # (n, seq_len + 1)
    return view[:n]


def inputs_targets(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The target of each position is the next id: inputs w[:, :-1], targets w[:, 1:]."""
    return w[:, :-1], w[:, 1:]


def epoch_order(n_windows: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n_windows)


def steps_per_epoch(n_windows: int, batch_size: int) -> int:
    return n_windows // batch_size


def epoch_dataset(w: np.ndarray, batch_size: int, seed: int, epoch: int, skip_batches: int = 0):
    """A tf.data pipeline for one epoch (full batches only: one traced shape), starting after skip_batches."""
    import tensorflow as tf

    n_batches = steps_per_epoch(len(w), batch_size)
    order = epoch_order(len(w), seed, epoch)[skip_batches * batch_size: n_batches * batch_size]
    x, y = inputs_targets(np.ascontiguousarray(w[order], dtype=np.int32))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def stream_steps(n_ids: int, seq_len: int, batch_size: int) -> int:
    """Batches per epoch when the text is read as batch_size contiguous streams (the same every epoch)."""
    return max(0, (n_ids - 1) // batch_size // seq_len)


def stream_batches(ids: np.ndarray, seq_len: int, batch_size: int, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """Carried-state training: row r of batch t+1 continues row r of batch t in the text.

    The text, from a seeded per-epoch offset within the tokens the streams leave over (so the cuts
    move between epochs and no stretch of text is skipped every time), is cut into batch_size
    contiguous streams; returns inputs and targets shaped (steps, batch, seq_len).
    """
    steps = stream_steps(len(ids), seq_len, batch_size)
    length = steps * seq_len                                                       # tokens per stream
    slack = len(ids) - 1 - batch_size * length
    offset = int(np.random.default_rng([seed, epoch, 1]).integers(slack + 1))
    rows = np.stack([ids[offset + r * length: offset + (r + 1) * length + 1] for r in range(batch_size)])
    x = rows[:, :-1].reshape(batch_size, steps, seq_len).transpose(1, 0, 2)
    y = rows[:, 1:].reshape(batch_size, steps, seq_len).transpose(1, 0, 2)
    return np.ascontiguousarray(x, dtype=np.int32), np.ascontiguousarray(y, dtype=np.int32)


def stream_dataset(ids: np.ndarray, seq_len: int, batch_size: int, seed: int, epoch: int, skip_batches: int = 0):
    """A tf.data pipeline of stream_batches, in order, starting after skip_batches."""
    import tensorflow as tf

    x, y = stream_batches(ids, seq_len, batch_size, seed, epoch)
    return tf.data.Dataset.from_tensor_slices((x[skip_batches:], y[skip_batches:])).prefetch(tf.data.AUTOTUNE)


def eval_dataset(w: np.ndarray, batch_size: int):
    import tensorflow as tf

    x, y = inputs_targets(np.ascontiguousarray(w, dtype=np.int32))
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(tf.data.AUTOTUNE)

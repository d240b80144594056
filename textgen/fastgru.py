"""Inkwell's GRU kernel for training: Keras' GRU (reset_after=True) written out step by step, with
its own gradient, so the recurrent products can run in bfloat16 and the recurrent kernel's gradient
is one large product instead of one small one per step. In bfloat16, the layer's input products and
the model's output layer (logits_class) run in bfloat16 too; sums, gates and biases stay float32.

Why: on a 2-core CPU, training a GRU is bound by the recurrent product of every step. Keras' GRU runs
it in float32 inside a while loop; here the time loop is unrolled (training windows have a fixed
length), the products can use the CPU's bfloat16 matrix units (AMX), and the backward pass collects
all steps' recurrent-kernel gradients in one product. `benchmarks/training.py` measures it against
Keras' GRU side by side.

The layer has exactly Keras' GRU weights (kernel, recurrent_kernel, bias of shape (2, 3*units), gates
in the order z, r, h), so weights move between the two with get_weights/set_weights. It is used only
to train; validation, saved models and generation use Keras' GRU and the NumPy stepper.

Which runs use it is decided in kernels.py. TensorFlow is imported inside the functions that need it,
so `import textgen` stays light.
"""
from __future__ import annotations

import functools

# The choice of kernel lives in kernels.py (no TensorFlow); these names stay importable from here.
from .kernels import KERNELS, MAX_UNROLL, cpu_has_bf16_matmul, resolve  # noqa: F401


@functools.lru_cache(maxsize=None)
def _sequence_fn(low: bool):
    """A function (xp, U, b_rec, h0) -> H with its own gradient. xp: (T, B, 3u) time-major input
    products plus input bias; U: (u, 3u); b_rec: (3u,); h0: (B, u). H: (T, B, u), every step's state."""
    import tensorflow as tf

    def mm(a, b, **kw):   # b is already in the product's dtype
        if low:
            return tf.cast(tf.matmul(tf.cast(a, tf.bfloat16), b, **kw), tf.float32)
        return tf.matmul(a, b, **kw)

    @tf.custom_gradient
    def gru_sequence(xp, U, b_rec, h0):
        steps = xp.shape[0]
        if steps is None:
            raise ValueError("Inkwell's GRU kernel needs windows of a fixed length")
        Uc = tf.cast(U, tf.bfloat16) if low else U
        h, saved = h0, []
        for t in range(steps):
            rz, rr, rh = tf.split(mm(h, Uc) + b_rec, 3, axis=-1)
            xz, xr, xh = tf.split(xp[t], 3, axis=-1)
            z = tf.sigmoid(xz + rz)
            r = tf.sigmoid(xr + rr)
            hh = tf.tanh(xh + r * rh)
            h_prev, h = h, z * h + (1.0 - z) * hh
            saved.append((h_prev, z, r, hh, rh))
        H = tf.stack([s[0] for s in saved[1:]] + [h])

        def grad(dH):
            dh = tf.zeros_like(h0)
            d_x, d_rec = [None] * steps, [None] * steps
            for t in reversed(range(steps)):
                h_prev, z, r, hh, rh = saved[t]
                dht = dH[t] + dh
                da_z = dht * (h_prev - hh) * z * (1.0 - z)
                da_h = dht * (1.0 - z) * (1.0 - hh * hh)
                da_r = da_h * rh * r * (1.0 - r)
                d_x[t] = tf.concat([da_z, da_r, da_h], axis=-1)
                d_rec[t] = tf.concat([da_z, da_r, da_h * r], axis=-1)
                dh = dht * z + mm(d_rec[t], Uc, transpose_b=True)
            units = U.shape[0]
            prev = tf.reshape(tf.stack([s[0] for s in saved]), [-1, units])   # (T*B, u)
            drec = tf.reshape(tf.stack(d_rec), [-1, 3 * units])              # (T*B, 3u)
            if low:
                dU = tf.cast(tf.matmul(tf.cast(prev, tf.bfloat16), tf.cast(drec, tf.bfloat16),
                                       transpose_a=True), tf.float32)
            else:
                dU = tf.matmul(prev, drec, transpose_a=True)
            return tf.stack(d_x), dU, tf.reduce_sum(drec, axis=0), dh

        return H, grad

    return gru_sequence


@functools.lru_cache(maxsize=None)
def layer_class():
    """The Keras layer (built on first use, so that importing this module needs no TensorFlow)."""
    import keras
    import tensorflow as tf

    class InkwellGRU(keras.layers.Layer):
        """Keras' GRU(return_sequences=True, reset_after=True) for training, from a zero state.

        weight_drop > 0: at each training step a fresh mask drops that share of the recurrent kernel's
        entries (scaling the rest by 1 / (1 - weight_drop)), the same mask for every window and time step
        of the batch (DropConnect on the hidden-to-hidden weights). Outside training the full kernel is used.
        """

        def __init__(self, units: int, precision: str = "float32", weight_drop: float = 0.0, **kwargs):
            super().__init__(**kwargs)
            if precision not in ("float32", "bfloat16"):
                raise ValueError(f"precision must be float32 or bfloat16, not {precision!r}")
            if not 0.0 <= weight_drop < 1.0:
                raise ValueError(f"weight_drop must be in [0, 1), not {weight_drop!r}")
            self.units, self.precision, self.weight_drop = units, precision, weight_drop
            self.seed_generator = keras.random.SeedGenerator() if weight_drop > 0 else None

        def build(self, input_shape):
            d, u = input_shape[-1], self.units
            self.kernel = self.add_weight(shape=(d, 3 * u), initializer="glorot_uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(u, 3 * u), initializer="orthogonal",
                                                    name="recurrent_kernel")
            self.bias = self.add_weight(shape=(2, 3 * u), initializer="zeros", name="bias")

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.units)

        def call(self, x, training=None):
            xt = tf.transpose(x, [1, 0, 2])                                          # (T, B, d)
            if self.precision == "bfloat16":   # the input products too: a quarter of the layer's time in float32
                xp = tf.cast(tf.einsum("tbd,dk->tbk", tf.cast(xt, tf.bfloat16), tf.cast(self.kernel, tf.bfloat16)),
                             tf.float32) + self.bias[0]                              # (T, B, 3u)
            else:
                xp = tf.einsum("tbd,dk->tbk", xt, self.kernel) + self.bias[0]       # (T, B, 3u)
            h0 = tf.zeros([tf.shape(x)[0], self.units], dtype=xp.dtype)
            U = tf.identity(self.recurrent_kernel)
            if training and self.weight_drop > 0:   # outside the custom gradient: dU is masked by autodiff
                U = keras.random.dropout(U, self.weight_drop, seed=self.seed_generator)
            H = _sequence_fn(self.precision == "bfloat16")(xp, U, self.bias[1], h0)
            return tf.transpose(H, [1, 0, 2])                                        # (B, T, u)

        def get_config(self):
            return {**super().get_config(), "units": self.units, "precision": self.precision,
                    "weight_drop": self.weight_drop}

    return InkwellGRU


@functools.lru_cache(maxsize=None)
def logits_class():
    """The output layer for bfloat16 training: Keras' Dense with its product in bfloat16 and the rest in float32.

    Same weights (float32 kernel and bias) and initialisers as Dense; the product's result is cast back
    to float32 before the bias is added, so the logits' bias and its gradient (a sum over every position
    of the batch) stay float32. Keras' mixed_bfloat16 policy would add the bias in bfloat16: its gradient
    was then 7% off in the kernel's test, against 0.06% here.
    """
    import keras
    import tensorflow as tf

    class BFloat16Dense(keras.layers.Dense):
        def call(self, inputs):
            flat = tf.reshape(tf.cast(inputs, tf.bfloat16), [-1, tf.shape(inputs)[-1]])
            y = tf.cast(tf.matmul(flat, tf.cast(self.kernel, tf.bfloat16)), tf.float32) + self.bias
            return tf.reshape(y, tf.concat([tf.shape(inputs)[:-1], [self.units]], axis=0))

    return BFloat16Dense

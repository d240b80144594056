"""Model construction (Keras, imported lazily) and size figures the app shows before training."""
from __future__ import annotations

from .config import ModelConfig


def param_count(cfg: ModelConfig) -> int:
    """Trainable parameters, computed without building the model (matches Keras' count)."""
    v, e, u = cfg.vocab_size, cfg.embedding, cfg.units
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[cfg.cell]
    total = v * e
    width = e
    for _ in range(cfg.layers):
        # kernel + recurrent kernel + bias; Keras' GRU (reset_after=True) keeps a second bias row
        bias = 2 * gates * u if cfg.cell == "gru" else gates * u
        total += gates * u * (width + u) + bias
        width = u
    return total + width * v + v


def units_for_params(cfg: ModelConfig, cell: str, params: int) -> int:
    """The units that bring cfg (its vocabulary, embedding and layers) as a `cell` model closest to `params`."""
    from dataclasses import replace

    def count(u: int) -> int:
        return param_count(replace(cfg, cell=cell, units=u))

    lo, hi = 1, 4096
    while lo < hi:   # the count grows with the units: the first units whose count reaches params
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if count(mid) < params else (lo, mid)
    return min((max(1, lo - 1), lo), key=lambda u: abs(count(u) - params))


def flops_per_token(cfg: ModelConfig) -> int:
    """Forward FLOPs per token (a multiply-add counts 2); training costs about 3x this."""
    v, e, u = cfg.vocab_size, cfg.embedding, cfg.units
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[cfg.cell]
    total, width = 0, e
    for _ in range(cfg.layers):
        total += 2 * gates * u * (width + u)
        width = u
    return total + 2 * width * v


def build_model(cfg: ModelConfig, seed: int = 0, stateful_batch: int | None = None, gru_kernel: str = "keras"):
    """Embedding -> stacked recurrent layers -> Dense logits. Outputs logits: the loss uses from_logits.

    With stateful_batch the batch size is fixed and each recurrent layer keeps its state from one
    call to the next (carried-state training); the weights are the same either way.
    gru_kernel "float32" or "bfloat16" (a GRU model, for training only) builds the layers from
    fastgru.InkwellGRU, starting from the same weights as Keras' GRU for this seed; with "bfloat16" the
    output layer's products run in bfloat16 too (same weights, logits in float32).
    """
    import keras

    cfg.validate()
    if cfg.vocab_size < 2:
        raise ValueError("vocab_size must be set before building a model")
    keras.utils.set_random_seed(seed)
    if gru_kernel != "keras":
        if gru_kernel not in ("float32", "bfloat16"):
            raise ValueError(f"build_model takes a resolved gru_kernel (keras, float32, bfloat16), not {gru_kernel!r}")
        if cfg.cell != "gru" or stateful_batch is not None:
            raise ValueError("Inkwell's GRU kernel trains stateless GRU models only")
        from .fastgru import layer_class

        reference = build_model(cfg, seed)   # Keras' initial weights for this seed
        keras.utils.set_random_seed(seed)    # ... and the same seeds from here on (dropout), as if built alone
        fast = layer_class()
        layer_cls = lambda units, name, **kw: fast(units, precision=gru_kernel, weight_drop=cfg.weight_drop,  # noqa: E731
                                                   name=name)
    else:
        layer_cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cfg.cell]
    inputs = keras.Input(batch_shape=(stateful_batch, None), dtype="int32", name="ids")  # (batch, time)
    x = keras.layers.Embedding(cfg.vocab_size, cfg.embedding, name="embedding")(inputs)  # (batch, time, emb)
    for i in range(cfg.layers):
        x = layer_cls(cfg.units, return_sequences=True, stateful=stateful_batch is not None,
                      name=f"rnn_{i}")(x)                                                 # (batch, time, units)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout_{i}")(x)
    # With the bfloat16 kernel the output layer's product runs in bfloat16 too (float32 weights, bias
    # and logits): on Long's shapes this layer was 40% of a training step in float32.
    dense = keras.layers.Dense
    if gru_kernel == "bfloat16":
        from .fastgru import logits_class

        dense = logits_class()
    logits = dense(cfg.vocab_size, name="logits")(x)                                  # (batch, time, vocab)
    model = keras.Model(inputs, logits, name=f"inkwell_{cfg.cell}")
    if gru_kernel != "keras":
        model.set_weights(reference.get_weights())
    return model


def record_gradient_norms(model) -> None:
    """Give a model a train_step that also reports each batch's gradient norm (logs "grad_norm", "clipped").

    grad_norm is the global norm of all gradients before clipping, the very number the optimizer's
    global_clipnorm compares with its threshold; clipped is 1.0 when it was over, so the step was scaled down.
    Set on the instance, so the saved model is an ordinary functional one.
    """
    import types

    model.train_step = types.MethodType(_train_step_with_norms, model)


def gradient_norms(grads: list, clipnorm: float | None):
    """(the gradients made dense, their global norm, 1.0 if a global clipnorm scales them else 0.0), as tensors.

    The embedding's gradient comes sparse with a row per id in the batch; Keras' global norm would square those
    rows apart and undercount a repeated id, so the optimizer is handed the dense sum whose norm is the true one.
    """
    import tensorflow as tf
    from keras.src.optimizers.base_optimizer import global_norm   # what global_clipnorm itself measures

    dense = [None if g is None else tf.convert_to_tensor(g) for g in grads]
    norm = global_norm(dense)
    if not clipnorm:
        return dense, norm, tf.constant(0.0)
    return dense, norm, tf.cast(norm > clipnorm, tf.float32)


def _train_step_with_norms(self, data):
    # Keras 3's TensorFlow train_step (trainer.py), with the gradients' norm measured before apply_gradients.
    import keras
    import tensorflow as tf

    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        y_pred = self(x, training=True)
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
        self._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
        loss = self.optimizer.scale_loss(loss)
    weights = self.trainable_weights
    grads, norm, clipped = gradient_norms(tape.gradient(loss, weights), self.optimizer.global_clipnorm)
    self.optimizer.apply_gradients(zip(grads, weights))
    logs = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
    return {**logs, "grad_norm": norm, "clipped": clipped}


def export_weights(model, cfg: ModelConfig) -> dict:
    """The arrays the NumPy stepper reads, named by role so the file is self-describing."""
    out = {"embedding": model.get_layer("embedding").get_weights()[0]}
    for i in range(cfg.layers):
        w = model.get_layer(f"rnn_{i}").get_weights()
        out[f"rnn_{i}/kernel"], out[f"rnn_{i}/recurrent"], out[f"rnn_{i}/bias"] = w
    out["logits/kernel"], out["logits/bias"] = model.get_layer("logits").get_weights()
    return {k: v.astype("float32") for k, v in out.items()}


def import_weights(model, cfg: ModelConfig, weights: dict) -> None:
    """The inverse of export_weights: load role-named arrays into a built model (fine-tuning)."""
    model.get_layer("embedding").set_weights([weights["embedding"]])
    for i in range(cfg.layers):
        model.get_layer(f"rnn_{i}").set_weights(
            [weights[f"rnn_{i}/kernel"], weights[f"rnn_{i}/recurrent"], weights[f"rnn_{i}/bias"]])
    model.get_layer("logits").set_weights([weights["logits/kernel"], weights["logits/bias"]])

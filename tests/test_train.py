"""Training end to end at tiny sizes: resume equals uninterrupted, cancel, divergence, fine-tuning."""
import json

import numpy as np
import pytest

from textgen import atomic
from textgen import fit as fit_mod   # the Keras loop: importing it imports TensorFlow
from textgen.config import ModelConfig, TrainConfig
from textgen.corpus import load_corpus
from textgen.errors import CorpusError
from textgen.evaluate import evaluate
from textgen.runs import Registry
from textgen.train import train

MODEL = ModelConfig(cell="gru", layers=1, units=8, embedding=4)
CFG = TrainConfig(seq_len=12, batch_size=4, epochs=2, lr=1e-2, seed=3, sample_length=20)


@pytest.fixture()
def text(sample_text):
    return sample_text[:3000]


def _weights(run_dir, name="latest.npz"):
    z = atomic.read_npz(run_dir / "checkpoints" / name)
    return [z[k] for k in sorted(z) if k.startswith(("w/", "opt/"))]


@pytest.mark.parametrize("kernel", ["keras", "bfloat16"])
def test_two_epochs_equal_one_then_resume(tmp_path, text, kernel):
    cfg = TrainConfig(**{**CFG.__dict__, "gru_kernel": kernel})
    full = train(load_corpus(text), MODEL, cfg, workspace=tmp_path / "a")
    half = train(load_corpus(text), MODEL, TrainConfig(**{**cfg.__dict__, "epochs": 1}), workspace=tmp_path / "b")
    assert half.status == "done" and half.epochs_done == 1
    resumed = train(resume=half.run_id, config=cfg, workspace=tmp_path / "b")
    assert resumed.status == "done" and resumed.epochs_done == 2
    for a, b in zip(_weights(full.run_dir), _weights(resumed.run_dir), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_carried_state_training_resumes_exactly_at_an_epoch_boundary(tmp_path, text):
    """Each epoch's streams start from a zero state, so stopping between epochs loses nothing; the
    best weights score on validation windows exactly as training reported."""
    cfg = TrainConfig(**{**CFG.__dict__, "carry_state": True})
    full = train(load_corpus(text), MODEL, cfg, workspace=tmp_path / "a")
    assert full.status == "done" and full.epochs_done == 2
    half = train(load_corpus(text), MODEL, TrainConfig(**{**cfg.__dict__, "epochs": 1}), workspace=tmp_path / "b")
    resumed = train(resume=half.run_id, config=cfg, workspace=tmp_path / "b")
    assert resumed.epochs_done == 2
    for a, b in zip(_weights(full.run_dir), _weights(resumed.run_dir), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    windowed = train(load_corpus(text), MODEL, CFG, workspace=tmp_path / "c")
    assert not np.allclose(_weights(windowed.run_dir)[-1], _weights(full.run_dir)[-1])   # a different data order
    val = text[len(text) - int(round(len(text) * cfg.val_fraction)):]
    assert evaluate(full.run_id, val, workspace=tmp_path / "a").bpc == pytest.approx(full.best_val_bpc, rel=1e-4)


def test_fit_on_stream_batches_carries_the_state_from_batch_to_batch():
    """With a stateful net, fit() starts each batch from the state the previous one left: after two
    batches the state is what the NumPy stepper reaches reading each stream's two windows in one go."""
    import keras

    from textgen import data
    from textgen.models import build_model, export_weights
    from textgen.stepper import Stepper

    cfg = ModelConfig(vocab_size=10, cell="gru", layers=2, units=6, embedding=4)
    net = build_model(cfg, seed=1, stateful_batch=3)
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),   # weights stay put: the stepper can replay
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = np.random.default_rng(0).integers(0, 10, 200).astype(np.int32)
    x, _ = data.stream_batches(ids, seq_len=5, batch_size=3, seed=0, epoch=0)
    net.fit(data.stream_dataset(ids, 5, 3, seed=0, epoch=0).take(2), verbose=0, shuffle=False)
    stepper = Stepper(cfg, export_weights(net, cfg))
    _, expected = stepper.feed(np.concatenate([x[0], x[1]], axis=1), stepper.initial_state(3))
    got = [layer.states[0].numpy() for layer in net.layers if getattr(layer, "stateful", False)]
    assert len(got) == 2 and np.abs(got[1]).sum() > 0
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("carry_state,kernel,weight_decay,level",
                         [(False, "keras", 0.0, "char"), (False, "bfloat16", 0.0, "char"), (True, "auto", 0.0, "char"),
                          (False, "auto", 0.2, "char"), (False, "auto", 0.0, "subword")])
def test_cancel_mid_epoch_checkpoints_and_resume_matches(tmp_path, text, monkeypatch, carry_state, kernel, weight_decay,
                                                         level):
    """Stopped after 5 steps and resumed, a run ends with the weights of an uninterrupted one (with
    carried state too: the checkpoint keeps the streams' state; with Inkwell's GRU kernel; with AdamW;
    on word pieces, which the resumed run reads with the pieces the run learned)."""
    monkeypatch.setattr(fit_mod, "FLUSH_EVERY", 0.0)   # check the cancel flag after every batch
    cfg = TrainConfig(**{**CFG.__dict__, "carry_state": carry_state, "gru_kernel": kernel,
                         "weight_decay": weight_decay, "level": level, "subword_vocab": 300})
    full = train(load_corpus(text), MODEL, cfg, workspace=tmp_path / "a")
    reg = Registry(tmp_path / "b")

    def cancel_after_five(ev):
        if ev["type"] == "batch" and ev["global_step"] == 5:
            reg.request_cancel(ev_run["id"])
    ev_run = {}
    stopped = train(load_corpus(text), MODEL, cfg, workspace=tmp_path / "b",
                    on_event=lambda ev: ev_run.setdefault("id", ev.get("run_id")) and cancel_after_five(ev))
    assert stopped.status == "cancelled"
    state = json.loads(str(np.load(stopped.run_dir / "checkpoints" / "latest.npz")["state"]))
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (0, 5, 5)
    assert reg.get_run(stopped.run_id)["status"] == "cancelled"
    carried = [k for k in np.load(stopped.run_dir / "checkpoints" / "latest.npz") if k.startswith("rnn/")]
    assert carried == (["rnn/0000"] if carry_state else [])
    resumed = train(resume=stopped.run_id, workspace=tmp_path / "b")
    assert resumed.status == "done"
    for a, b in zip(_weights(full.run_dir), _weights(resumed.run_dir), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_stop_and_resume_count_epochs_alike_in_the_run_its_curve_and_its_samples(tmp_path, text, monkeypatch):
    """Stopped inside an epoch, a run labels that epoch's validation and samples with its progress (1.25 of 56
    steps x 3 epochs), never as the next whole epoch: the run's count of finished epochs, the curve's whole-epoch
    points and the samples agree after each Stop and Resume, and a resumed epoch replaces its partial rows."""
    monkeypatch.setattr(fit_mod, "FLUSH_EVERY", 0.0)   # check the cancel flag after every batch
    reg = Registry(tmp_path)

    def stop_at(step):
        def on_event(ev):
            if ev["type"] == "batch" and ev["global_step"] == step:
                reg.request_cancel(reg.list_runs()[0]["id"])
        return on_event

    def counts(run_id):
        run = reg.get_run(run_id)
        return (run["status"], run["steps"], run["epoch"], run["step"],
                [m["epoch"] for m in reg.metrics(run_id, "epoch")], sorted({s["epoch"] for s in reg.samples(run_id)}))
    first = train(load_corpus(text), MODEL, TrainConfig(**{**CFG.__dict__, "epochs": 3}), workspace=tmp_path,
                  on_event=stop_at(70))
    assert counts(first.run_id) == ("cancelled", 56, 1, 14, [1, 1.25], [1, 1.25])
    assert first.epochs_done == 1
    again = train(resume=first.run_id, workspace=tmp_path, on_event=stop_at(150))   # 150 = 2 x 56 + 38
    assert counts(first.run_id) == ("cancelled", 56, 2, 38, [1, 2, 2.67], [1, 2, 2.67])
    assert again.epochs_done == 2
    done = train(resume=first.run_id, workspace=tmp_path)
    assert counts(first.run_id) == ("done", 56, 3, 0, [1, 2, 3], [1, 2, 3])
    assert done.epochs_done == 3


def test_weight_decay_shrinks_each_weight_matrix_by_lr_times_decay_and_spares_biases():
    import keras

    kernel, bias = keras.Variable(np.full((3, 2), 2.0, "float32"), name="kernel"), keras.Variable(np.ones(2, "float32"), name="bias")
    zero = [np.zeros((3, 2), "float32"), np.zeros(2, "float32")]
    opt = fit_mod.make_optimizer(TrainConfig(lr=0.01, weight_decay=0.1))
    assert isinstance(opt, keras.optimizers.AdamW)
    opt.apply_gradients(zip(zero, [kernel, bias]))   # a zero gradient moves nothing: only the decay acts
    np.testing.assert_allclose(kernel.numpy(), 2.0 * (1 - 0.01 * 0.1), rtol=1e-7)
    np.testing.assert_array_equal(bias.numpy(), 1.0)
    plain = fit_mod.make_optimizer(TrainConfig(lr=0.01))
    assert type(plain) is keras.optimizers.Adam
    plain.apply_gradients(zip(zero, [kernel, bias]))
    np.testing.assert_allclose(kernel.numpy(), 2.0 * (1 - 0.01 * 0.1), rtol=1e-7)


@pytest.mark.parametrize("cell,kernel", [("gru", "keras"), ("gru", "bfloat16"), ("lstm", "keras")])
def test_weight_decay_spares_exactly_the_models_biases(cell, kernel):
    """In a real model (Keras' layers and Inkwell's GRU layer alike) a zero-gradient AdamW step scales
    every weight but the biases by exactly 1 - lr x decay and leaves each bias as it was."""
    from textgen.models import build_model

    net = build_model(ModelConfig(vocab_size=11, cell=cell, layers=2, units=8, embedding=4), seed=1, gru_kernel=kernel)
    before = {v.path: v.numpy().copy() for v in net.trainable_variables}
    opt = fit_mod.make_optimizer(TrainConfig(lr=0.01, weight_decay=0.1))
    opt.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in net.trainable_variables])
    biases = [p for p in before if p.endswith("bias")]
    assert len(biases) == 3 and len(before) == 9   # two recurrent layers (kernel, recurrent, bias) + embedding + logits
    for v in net.trainable_variables:
        expected = before[v.path] if v.path in biases else before[v.path] * np.float32(1 - 0.01 * 0.1)
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-6, err_msg=v.path)


def test_weight_decay_reaches_training_and_is_saved(tmp_path, text):
    plain = train(load_corpus(text), MODEL, CFG, workspace=tmp_path / "a")
    decayed = train(load_corpus(text), MODEL, TrainConfig(**{**CFG.__dict__, "weight_decay": 0.5}), workspace=tmp_path / "b")
    assert json.loads((decayed.run_dir / "config.json").read_text())["train"]["weight_decay"] == 0.5
    a, b = atomic.read_npz(plain.run_dir / "checkpoints" / "latest.npz"), atomic.read_npz(decayed.run_dir / "checkpoints" / "latest.npz")
    # model weights in order: embedding, GRU kernel, recurrent kernel, GRU bias, logits kernel, logits bias
    for k in ("w/0000", "w/0001", "w/0002", "w/0004"):
        assert np.linalg.norm(b[k]) < 0.9 * np.linalg.norm(a[k]), k


def test_run_directory_contract_and_registry(tmp_path, text):
    events = []
    result = train(load_corpus(text), MODEL, CFG, label="tiny", workspace=tmp_path, on_event=events.append)
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"config.json", "vocab.json", "model.keras", "weights.npz", "checkpoints"} <= names
    assert {p.name for p in (result.run_dir / "checkpoints").iterdir()} == {"latest.npz", "best.npz"}
    assert not list(result.run_dir.rglob("*.pkl")) and not list(result.run_dir.rglob("*.tmp"))
    reg = Registry(tmp_path)
    run = reg.get_run(result.run_id)
    assert (run["status"], run["label"], run["epoch"], run["cell"]) == ("done", "tiny", 2, "gru")
    epochs = reg.metrics(result.run_id, "epoch")
    assert [m["epoch"] for m in epochs] == [1, 2]
    assert run["best_val_bpc"] == pytest.approx(min(m["val_bpc"] for m in epochs))
    for m in epochs:
        assert m["val_bpc"] == pytest.approx(m["val_loss"] / np.log(2))
    batches = reg.metrics(result.run_id, "batch")
    assert batches and all(m["grad_norm"] > 0 and m["clipped"] >= 0 for m in batches)   # from the events
    assert [m["step"] for m in batches] == [e["global_step"] for e in events if e["type"] == "batch"]
    assert {(s["epoch"], s["temperature"]) for s in reg.samples(result.run_id)} == {(1, 0.5), (1, 1.0), (2, 0.5), (2, 1.0)}
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 2


def test_huge_learning_rate_ends_diverged_with_advice(tmp_path, text):
    cfg = TrainConfig(seq_len=12, batch_size=4, epochs=3, lr=1.0, clipnorm=0.0, seed=1, sample_length=0)   # the most allowed
    result = train(load_corpus(text), ModelConfig(cell="rnn", layers=1, units=32, embedding=8), cfg,
                   workspace=tmp_path)
    assert result.status == "diverged"
    assert "lower learning rate" in result.message
    assert Registry(tmp_path).get_run(result.run_id)["status"] == "diverged"


def test_diverged_run_keeps_last_good_checkpoint(tmp_path, text, monkeypatch):
    first = train(load_corpus(text), MODEL, TrainConfig(**{**CFG.__dict__, "epochs": 1}), workspace=tmp_path)
    before = _weights(first.run_dir)

    class Exploding(fit_mod.Tracker):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.explode_at = -1.0   # any loss counts as exploding
    monkeypatch.setattr(fit_mod, "Tracker", Exploding)
    result = train(resume=first.run_id, config=CFG, workspace=tmp_path)
    assert result.status == "diverged"
    for a, b in zip(before, _weights(first.run_dir), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (first.run_dir / "weights.npz").exists()


def test_time_budget_stops_cleanly(tmp_path, text):
    cfg = TrainConfig(seq_len=12, batch_size=4, epochs=1000, time_budget=3, seed=1, sample_length=0)
    result = train(load_corpus(text), MODEL, cfg, workspace=tmp_path)
    assert result.status == "done" and "time budget" in result.message
    assert result.epochs_done < 1000


def test_finetune_refuses_many_unseen_characters_reads_a_few_as_unknown(tmp_path, text):
    base = train(load_corpus(text), MODEL, TrainConfig(**{**CFG.__dict__, "epochs": 1}), workspace=tmp_path)
    many = text + " \u00e9~" * (len(text) // 40)   # about 5% of the new text unseen: refused
    with pytest.raises(CorpusError, match="never saw"):
        train(load_corpus(many), config=CFG, finetune=base.run_id, workspace=tmp_path)
    few = text[::-1] + " \u00e9"   # one unseen character in thousands: read as unknown, as a capped model does
    tuned = train(load_corpus(few), config=TrainConfig(**{**CFG.__dict__, "epochs": 1}),
                  finetune=base.run_id, workspace=tmp_path)
    assert tuned.status == "done"
    assert json.loads((tuned.run_dir / "vocab.json").read_text()) == json.loads((base.run_dir / "vocab.json").read_text())


def test_too_short_text_is_refused_before_training(tmp_path):
    with pytest.raises(CorpusError, match="too short"):
        train(load_corpus("abc def ghi"), MODEL, CFG, workspace=tmp_path)
    assert Registry(tmp_path).list_runs() == []


def test_an_sgd_run_keeps_its_optimizer_and_resumes_exactly(tmp_path, text):
    """SGD's checkpoint holds its own (slot-free) state, and a resumed SGD run is one SGD run, not an Adam one."""
    cfg = TrainConfig(**{**CFG.__dict__, "optimizer": "sgd", "lr": 0.3, "gru_kernel": "keras"})
    full = train(load_corpus(text), MODEL, cfg, workspace=tmp_path / "a")
    half = train(load_corpus(text), MODEL, TrainConfig(**{**cfg.__dict__, "epochs": 1}), workspace=tmp_path / "b")
    resumed = train(resume=half.run_id, config=cfg, workspace=tmp_path / "b")
    assert (full.status, resumed.status, resumed.epochs_done) == ("done", "done", 2)
    assert json.loads((resumed.run_dir / "config.json").read_text())["train"]["optimizer"] == "sgd"
    for a, b in zip(_weights(full.run_dir), _weights(resumed.run_dir), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    adam_cfg = TrainConfig(**{**cfg.__dict__, "optimizer": "adam"})
    adam = train(load_corpus(text), MODEL, adam_cfg, workspace=tmp_path / "c")
    assert len(_weights(adam.run_dir)) > len(_weights(full.run_dir))   # Adam's two slots per weight; SGD has none

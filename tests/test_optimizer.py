"""The optimizer choice: saved with a run, read from old runs as Adam, a command-line flag, and what it builds."""
import json

import numpy as np
import pytest

from textgen.artifacts import read_config, write_config
from textgen.config import ModelConfig, TrainConfig
from textgen.errors import ConfigError


def test_the_optimizer_round_trips_through_a_runs_config(tmp_path):
    write_config(tmp_path, ModelConfig(), TrainConfig(optimizer="sgd", lr=0.5), {})
    assert json.loads((tmp_path / "config.json").read_text())["train"]["optimizer"] == "sgd"
    _, train, _ = read_config(tmp_path)
    assert (train.optimizer, train.lr) == ("sgd", 0.5)


def test_a_config_saved_before_the_choice_loads_as_adam(tmp_path):
    write_config(tmp_path, ModelConfig(), TrainConfig(lr=0.01), {})
    data = json.loads((tmp_path / "config.json").read_text())
    del data["train"]["optimizer"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    _, train, _ = read_config(tmp_path)
    assert (train.optimizer, train.lr) == ("adam", 0.01)


def test_an_unknown_optimizer_is_refused_in_one_sentence():
    with pytest.raises(ConfigError, match=r"^optimizer must be 'adam' or 'sgd', not 'rmsprop'$"):
        TrainConfig(optimizer="rmsprop").validate()


def test_the_flag_is_accepted_and_round_trips_through_the_job_runner():
    from textgen.cli import build_parser, configs
    from textgen.jobs import config_args

    parse = build_parser().parse_args
    _, cfg, given = configs(parse(["train", "x.txt", "--optimizer", "sgd", "--lr", "0.5"]))
    assert (cfg.optimizer, cfg.lr, given["optimizer"]) == ("sgd", 0.5, "sgd")
    assert configs(parse(["train", "x.txt"]))[1].optimizer == "adam"
    again = parse(["train", "x.txt", *config_args(ModelConfig(), TrainConfig(optimizer="sgd"))])
    assert again.optimizer == "sgd"


def test_a_bad_flag_value_is_one_stderr_line_and_a_nonzero_exit(tmp_path):
    from tests.test_cli import ROOT, cli

    r = cli("train", ROOT / "assets" / "sample.txt", "--optimizer", "rmsprop", home=tmp_path, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr
    assert "--optimizer" in lines[0] and "'rmsprop'" in lines[0] and "choose from" in lines[0]


@pytest.mark.parametrize("clip", [0.0, 0.5])
def test_sgd_is_plain_gradient_descent_with_the_global_clip(clip):
    import keras

    from textgen.fit import make_optimizer

    opt = make_optimizer(TrainConfig(optimizer="sgd", lr=0.1, clipnorm=clip))
    assert type(opt) is keras.optimizers.SGD and opt.momentum == 0.0
    assert (opt.global_clipnorm, opt.clipnorm) == (clip or None, None)
    w = keras.Variable(np.zeros(2, "float32"), name="kernel")
    opt.apply_gradients([(np.array([3.0, 4.0], "float32"), w)])   # norm 5: one step of lr x the (clipped) gradient
    scale = min(1.0, clip / 5.0) if clip else 1.0
    np.testing.assert_allclose(w.numpy(), [-0.3 * scale, -0.4 * scale], rtol=1e-6)


def test_sgd_with_weight_decay_spares_the_biases():
    import keras

    from textgen.fit import make_optimizer

    opt = make_optimizer(TrainConfig(optimizer="sgd", lr=0.1, weight_decay=0.5))
    assert type(opt) is keras.optimizers.SGD
    kernel = keras.Variable(np.full(2, 2.0, "float32"), name="kernel")
    bias = keras.Variable(np.ones(2, "float32"), name="bias")
    opt.apply_gradients([(np.zeros(2, "float32"), kernel), (np.zeros(2, "float32"), bias)])
    np.testing.assert_allclose(kernel.numpy(), 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_array_equal(bias.numpy(), 1.0)

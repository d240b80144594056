import pytest

from textgen.config import ModelConfig
from textgen.models import flops_per_token, param_count
from textgen.presets import PRESETS, TRAIN_GFLOPS, chars_per_second, recommend, seconds_per_epoch
from textgen.schedule import learning_rate


def test_presets_are_valid_and_ordered_by_budget():
    assert list(PRESETS) == ["Quick", "Short", "Long"]
    budgets = [p.train.validate().time_budget for p in PRESETS.values()]
    assert budgets == [60, 300, 1200]
    for p in PRESETS.values():
        p.model.validate()
        assert p.train.schedule == "cosine" and p.train.clipnorm > 0


def test_time_estimate_is_flops_over_the_measured_rate():
    m = ModelConfig(vocab_size=80, cell="gru", layers=1, units=256, embedding=64)
    assert chars_per_second(m) == pytest.approx(TRAIN_GFLOPS * 1e9 / (3 * flops_per_token(m)))
    assert seconds_per_epoch(m, 1_000_000) == pytest.approx(1_000_000 / chars_per_second(m))


def test_time_estimate_counts_the_gru_kernel_where_it_will_be_used(monkeypatch):
    from textgen import fastgru
    from textgen.config import TrainConfig
    from textgen.presets import GRU_KERNEL_SPEEDUP

    gru = ModelConfig(vocab_size=80, cell="gru", layers=1, units=256, embedding=64)
    lstm = ModelConfig(vocab_size=80, cell="lstm", layers=1, units=256, embedding=64)
    plain = seconds_per_epoch(gru, 1_000_000)
    monkeypatch.setattr(fastgru, "cpu_has_bf16_matmul", lambda: True)
    assert seconds_per_epoch(gru, 1_000_000, train=TrainConfig()) == pytest.approx(plain / GRU_KERNEL_SPEEDUP)
    assert seconds_per_epoch(gru, 1_000_000, train=TrainConfig(gru_kernel="keras")) == pytest.approx(plain)
    assert seconds_per_epoch(gru, 1_000_000, train=TrainConfig(carry_state=True)) == pytest.approx(plain)
    assert seconds_per_epoch(lstm, 1_000_000, train=TrainConfig()) == pytest.approx(seconds_per_epoch(lstm, 1_000_000))
    monkeypatch.setattr(fastgru, "cpu_has_bf16_matmul", lambda: False)
    assert seconds_per_epoch(gru, 1_000_000, train=TrainConfig()) == pytest.approx(plain)


def test_recommendation_fits_data_and_time_and_says_why():
    model, why = recommend(600_000, 1200)
    assert (model.cell, model.layers, model.units) == ("gru", 1, 512)
    assert param_count(model) <= 2 * 600_000
    assert why.startswith("About 600,000 characters: a 1-layer GRU of 512 units (933,968 parameters)")
    assert why.endswith("in 20 minutes.")
    small, _ = recommend(5_000, 60)
    assert small.units == 64                         # tiny text: the smallest model
    _, why_big = recommend(5_000_000, 60)
    assert "fewer than 5 times" in why_big           # too much text for a minute


def test_cosine_schedule_warms_up_then_decays_to_the_floor_at_the_budget():
    cfg = PRESETS["Quick"].train
    assert learning_rate(cfg, 0, 1000) == pytest.approx(cfg.lr / cfg.warmup_steps)
    assert learning_rate(cfg, cfg.warmup_steps, 1000) == pytest.approx(cfg.lr)
    assert learning_rate(cfg, 500, 10**9, elapsed=cfg.time_budget) == pytest.approx(0.1 * cfg.lr)
    mid = learning_rate(cfg, 500, 10**9, elapsed=cfg.time_budget / 2)
    assert mid == pytest.approx(cfg.lr * (0.1 + 0.9 * 0.5))

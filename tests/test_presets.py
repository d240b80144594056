import pytest

from textgen.presets import CELL_NOTES, DEFAULT, PRESETS
from textgen.schedule import learning_rate


def test_presets_are_valid_and_ordered_by_budget():
    assert list(PRESETS) == ["Quick", "Short", "Long"] and DEFAULT == "Quick"
    budgets = [p.train.validate().time_budget for p in PRESETS.values()]
    assert budgets == [60, 300, 1200]
    for name, p in PRESETS.items():
        p.model.validate()
        assert p.name == name and p.model.cell == "gru"
        assert p.train.schedule == "cosine" and p.train.clipnorm > 0
    assert set(CELL_NOTES) == {"rnn", "lstm", "gru"}


def test_cosine_schedule_warms_up_then_decays_to_the_floor_at_the_budget():
    cfg = PRESETS["Quick"].train
    assert learning_rate(cfg, 0, 1000) == pytest.approx(cfg.lr / cfg.warmup_steps)
    assert learning_rate(cfg, cfg.warmup_steps, 1000) == pytest.approx(cfg.lr)
    assert learning_rate(cfg, 500, 10**9, elapsed=cfg.time_budget) == pytest.approx(0.1 * cfg.lr)
    mid = learning_rate(cfg, 500, 10**9, elapsed=cfg.time_budget / 2)
    assert mid == pytest.approx(cfg.lr * (0.1 + 0.9 * 0.5))

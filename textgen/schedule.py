"""Learning-rate schedules as plain functions of progress, so a resumed run gets the same rates."""
from __future__ import annotations

import math

from .config import TrainConfig

FLOOR = 0.1   # cosine decays to this fraction of the peak rate


def learning_rate(cfg: TrainConfig, step: int, total_steps: int, elapsed: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to FLOOR x peak at the end of the run.

    The end of the run is whichever comes first: the last step of the last epoch, or the time budget.
    """
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
    if cfg.time_budget:
        frac = max(frac, elapsed / cfg.time_budget)
    frac = min(max(frac, 0.0), 1.0)
    return cfg.lr * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * frac)))

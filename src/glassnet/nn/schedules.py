"""Learning-rate schedules: pure functions ``step → lr``, step = optimizer steps taken so far.

The training loop sets ``opt.lr = schedule(step)`` before every ``opt.step()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[int], float]


def constant(lr: float) -> Schedule:
    """lr(step) = lr."""
    return lambda step: lr


def step_decay(lr: float, *, gamma: float, every_steps: int) -> Schedule:
    """lr(step) = lr · gamma^⌊step / every_steps⌋ (PyTorch's StepLR)."""
    if every_steps < 1:
        raise ValueError(f"step_decay: every_steps must be ≥ 1, got {every_steps}")
    return lambda step: lr * gamma ** (step // every_steps)


def cosine(lr: float, *, total_steps: int, warmup_steps: int = 0, min_lr: float = 0.0) -> Schedule:
    """A linear warm-up over ``warmup_steps``, then half a cosine from lr down to ``min_lr``.

    Warm-up: lr(step) = lr · (step + 1) / warmup_steps, so the first step takes
    lr / warmup_steps and step warmup_steps − 1 takes lr. Then
    lr(step) = min_lr + (lr − min_lr) · (1 + cos(π · progress)) / 2, progress ∈ [0, 1].
    """
    if total_steps < 1 or not 0 <= warmup_steps < total_steps:
        raise ValueError(f"cosine: need total_steps ≥ 1 and 0 ≤ warmup_steps < total_steps, "
                         f"got {total_steps} and {warmup_steps}")

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return lr * (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return schedule


def one_cycle(lr: float, *, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4) -> Schedule:
    """Smith's one cycle, as PyTorch's ``OneCycleLR`` computes it (its defaults, the learning rate only):
    half a cosine up from lr / div_factor to the peak ``lr``, reached at step pct_start · total_steps − 1,
    then half a cosine down to lr / (div_factor · final_div_factor) at the last step, total_steps − 1.

    Each half: lr(step) = end + (start − end) · (1 + cos(π · progress)) / 2, progress ∈ [0, 1].
    Steps past the last keep its rate.
    """
    if total_steps < 1 or not 0 < pct_start < 1 or div_factor < 1 or final_div_factor < 1:
        raise ValueError(f"one_cycle: need total_steps ≥ 1, 0 < pct_start < 1 and both div factors ≥ 1, got "
                         f"{total_steps}, {pct_start}, {div_factor} and {final_div_factor}")
    start, end = lr / div_factor, lr / (div_factor * final_div_factor)
    peak, last = pct_start * total_steps - 1, total_steps - 1

    def half_cosine(first: float, second: float, progress: float) -> float:
        return second + (first - second) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def schedule(step: int) -> float:
        if step < peak:
            return half_cosine(start, lr, step / peak)
        return half_cosine(lr, end, (step - peak) / (last - peak))

    return schedule

"""Schedules at their boundary steps."""

import pytest

from glassnet.nn.schedules import constant, cosine, step_decay


def test_constant():
    assert constant(0.01)(0) == constant(0.01)(10**6) == 0.01


@pytest.mark.parametrize("step, expected", [
    (0, 1e-3),
    (9, 1e-3),
    (10, 1e-3 * 0.95),
    (19, 1e-3 * 0.95),
    (20, 1e-3 * 0.95 ** 2),
    (49, 1e-3 * 0.95 ** 4),
])
def test_step_decay_boundaries(step, expected):
    assert step_decay(1e-3, gamma=0.95, every_steps=10)(step) == pytest.approx(expected, rel=1e-12)


def test_cosine_with_warmup():
    lr = cosine(1.0, total_steps=110, warmup_steps=10, min_lr=0.3)
    # the warm-up climbs lr · (step + 1) / warmup_steps: neither from 0 nor from min_lr
    assert [lr(s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr(10) == pytest.approx(1.0)
    assert lr(60) == pytest.approx(0.65)          # half way: the mean of lr and min_lr
    assert lr(110) == pytest.approx(0.3)


@pytest.mark.parametrize("make", [
    lambda: step_decay(1.0, gamma=0.5, every_steps=0),
    lambda: cosine(1.0, total_steps=10, warmup_steps=10),
])
def test_bad_schedule_arguments(make):
    with pytest.raises(ValueError):
        make()

"""Schedules at their boundary steps, and the one cycle's shape."""

import math

import pytest

from glassnet.nn.schedules import constant, cosine, one_cycle, step_decay


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
    lambda: one_cycle(1.0, total_steps=0),
    lambda: one_cycle(1.0, total_steps=10, pct_start=1.0),
    lambda: one_cycle(1.0, total_steps=10, div_factor=0.5),
])
def test_bad_schedule_arguments(make):
    with pytest.raises(ValueError):
        make()


def test_one_cycle_rises_to_the_peak_then_falls_to_its_floor():
    lr = one_cycle(1.0, total_steps=1000)                # PyTorch's OneCycleLR defaults: 0.3, 25, 1e4
    steps = range(1000)
    rates = [lr(s) for s in steps]
    assert lr(0) == pytest.approx(1 / 25)
    assert lr(299) == pytest.approx(1.0) and max(rates) == pytest.approx(1.0)
    assert lr(999) == pytest.approx(1 / 25 / 1e4)
    assert lr(10**6) == pytest.approx(1 / 25 / 1e4)     # past the last step: its rate
    assert all(a < b for a, b in zip(rates[:299], rates[1:300]))       # up, then down, never flat
    assert all(a > b for a, b in zip(rates[299:], rates[300:]))
    # half cosines: half way up and half way down are the means of their ends
    assert lr(149.5) == pytest.approx((1 / 25 + 1.0) / 2, rel=1e-9)
    assert lr(649) == pytest.approx((1.0 + 1 / 25 / 1e4) / 2, rel=1e-9)


def test_a_run_with_the_one_cycle_schedule_follows_it_over_its_epochs():
    from glassnet.config import TrainConfig
    from glassnet.train import make_schedule

    config = TrainConfig(schedule="one_cycle", lr=0.01, epochs=10, one_cycle_pct_start=0.5, one_cycle_div_factor=10,
                         one_cycle_final_div_factor=100)
    lr = make_schedule(config, steps_per_epoch=20)
    assert [lr(0), lr(99), lr(199)] == pytest.approx([1e-3, 1e-2, 1e-5])


@pytest.mark.parametrize("field, value", [("one_cycle_pct_start", 0.0), ("one_cycle_pct_start", 1.0),
                                          ("one_cycle_div_factor", 0.5), ("one_cycle_final_div_factor", math.inf)])
def test_bad_one_cycle_settings_are_refused_by_name(field, value):
    from glassnet.config import TrainConfig
    from glassnet.errors import ConfigError

    with pytest.raises(ConfigError, match=f"config field '{field}' must be"):
        TrainConfig(schedule="one_cycle", **{field: value})

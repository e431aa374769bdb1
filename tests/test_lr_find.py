"""The learning-rate range test: its sweep, its readings, and that it leaves the weights it starts from alone."""

import dataclasses
import re

import numpy as np
import pytest

from glassnet.config import TrainConfig
from glassnet.errors import ConfigError
from glassnet.train import TrainData, initial_model
from glassnet.train.lr_find import range_test
from tests.helpers import all_values
from tests.mnist_fixtures import synthetic_digits

CONFIG = TrainConfig(hidden=(32, 16), batch_size=32)


@pytest.fixture(scope="module")
def data():
    images, labels = synthetic_digits(600, 5)
    x = images.reshape(600, 784)
    return TrainData(x[:500], labels[:500], x[500:], labels[500:])


@pytest.fixture(scope="module")
def adam(data):
    return range_test(CONFIG, data)


def test_the_rate_grows_exponentially_from_start_to_end(adam):
    assert len(adam.lrs) == 100 and adam.stop_reason == "all 100 steps taken"
    assert adam.lrs[0] == pytest.approx(1e-7) and adam.lrs[-1] == pytest.approx(10.0)
    ratios = np.array(adam.lrs[1:]) / np.array(adam.lrs[:-1])
    np.testing.assert_allclose(ratios, (1e8) ** (1 / 99))


def test_the_smoothed_loss_is_the_bias_corrected_moving_average(adam):
    average = 0.0
    for i, loss in enumerate(adam.losses):
        average = 0.98 * average + 0.02 * loss
        assert adam.smoothed[i] == pytest.approx(average / (1 - 0.98 ** (i + 1)))


def test_the_suggestion_for_adam_lies_where_adam_trains(adam):
    # Adam on a small MLP trains at 1e-4 to 1e-1; 1e-7 barely moves it and 10 breaks it
    assert 1e-4 <= adam.suggestion <= 1e-1
    lowest = int(np.argmin(adam.smoothed))
    assert adam.suggestion < adam.lrs[lowest] and adam.min_over_ten == pytest.approx(adam.lrs[lowest] / 10)
    assert adam.smoothed[adam.lrs.index(adam.suggestion)] < adam.smoothed[0]      # on the way down


def test_a_loss_that_blows_up_ends_the_test_early_and_says_so(data):
    found = range_test(dataclasses.replace(CONFIG, optimizer="sgd", batchnorm=False), data, end_lr=1e6)
    assert len(found.lrs) < 100
    assert "times its lowest" in found.stop_reason or "not finite" in found.stop_reason
    assert found.suggestion < 1e6


def test_the_model_it_starts_from_is_only_read(data):
    model = initial_model(CONFIG)
    before = all_values(model).copy()
    range_test(CONFIG, data, init_from=model, steps=20)
    np.testing.assert_array_equal(all_values(model), before)


@pytest.mark.parametrize("arguments, message", [
    ({"start_lr": 1.0, "end_lr": 0.1}, "0 < start lr < end lr"),
    ({"start_lr": 0.0}, "0 < start lr < end lr"),
    ({"end_lr": float("inf")}, "0 < start lr < end lr"),
    ({"steps": 5}, "20 to 100000 steps"),
    ({"beta": 1.0}, "smoothing β in [0, 1)"),
])
def test_bad_arguments_are_refused_before_any_step(data, arguments, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        range_test(CONFIG, data, **arguments)

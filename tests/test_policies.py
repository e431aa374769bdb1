"""fit's policies as callbacks: the hook between backward and update, gradient clipping on both paths, the
end of a run told to every callback (also when it ends with an error)."""

import dataclasses
import math

import numpy as np
import pytest

from glassnet.config import TrainConfig
from glassnet.errors import DivergenceError
from glassnet.train import Callback, TrainData, fit
from tests.helpers import all_values
from tests.mnist_fixtures import synthetic_digits

CONFIG = TrainConfig(hidden=(32, 16), epochs=2, batch_size=32, dtype="float64", lr=1e-2)


@pytest.fixture(scope="module")
def data():
    images, labels = synthetic_digits(200, 4)
    x = images.reshape(200, 784)
    return TrainData(x[:150], labels[:150], x[150:], labels[150:])


class GradientNorms(Callback):
    """The global gradient norm each step sees just before the update, and what the logs said."""

    def __init__(self):
        self.norms, self.logged = [], []

    def on_fit_start(self, model, logs):
        self.model = model

    def on_before_update(self, step, logs):
        self.norms.append(math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in self.model.params())))
        self.logged.append(logs.get("grad_norm"))


@pytest.mark.parametrize("engine", ["fast", "layers"])
def test_clipping_bounds_every_update_on_either_path(data, engine):
    plain, clipped = GradientNorms(), GradientNorms()
    fit(dataclasses.replace(CONFIG, engine=engine), data, callbacks=[plain])
    fit(dataclasses.replace(CONFIG, engine=engine, clip_grad_norm=0.5), data, callbacks=[clipped])
    assert max(plain.norms) > 0.5                                  # else this test could not tell
    assert max(clipped.norms) <= 0.5 * (1 + 1e-12)
    assert all(logged is not None and logged >= norm for logged, norm in zip(clipped.logged, clipped.norms))
    assert plain.logged == [None] * len(plain.logged)


def test_clipping_trains_the_same_model_on_both_paths(data):
    results = [fit(dataclasses.replace(CONFIG, engine=engine, clip_grad_norm=0.5), data).model
               for engine in ("fast", "layers")]
    np.testing.assert_allclose(all_values(results[0]), all_values(results[1]), rtol=1e-10, atol=1e-12)


class Ends(Callback):
    def __init__(self):
        self.ends = []

    def on_fit_end(self, logs):
        self.ends.append(logs)


def test_every_callback_hears_how_the_run_ended(data, tmp_path):
    done = Ends()
    fit(CONFIG, data, callbacks=[done])
    assert done.ends == [{"stop_reason": "completed all epochs", "finished": True}]
    diverged = Ends()
    with pytest.raises(DivergenceError):
        fit(dataclasses.replace(CONFIG, lr=1e30, schedule="constant", dropout=0.0, dtype="float32"), data,
            callbacks=[diverged])
    assert len(diverged.ends) == 1 and not diverged.ends[0]["finished"]
    assert diverged.ends[0]["stop_reason"].startswith("training diverged: non-finite loss at step")


def test_a_negative_or_infinite_clip_is_refused():
    from glassnet.errors import ConfigError

    for value in (-1.0, math.inf):
        with pytest.raises(ConfigError, match="clip_grad_norm"):
            TrainConfig(clip_grad_norm=value)

"""fit: learning, checkpoints every epoch, exact resume, divergence guard."""

import re

import numpy as np
import pytest

from glassnet.checkpoint import load_model, read_checkpoint
from glassnet.config import TrainConfig
from glassnet.data.mnist import load_mnist, to_inputs
from glassnet.errors import CheckpointError, DivergenceError
from glassnet.train import Callback, TrainData, evaluate, fit
from tests.helpers import all_values
from tests.mnist_fixtures import synthetic_digits

SMALL = TrainConfig(hidden=(32, 16), epochs=4, batch_size=32)


@pytest.fixture(scope="module")
def data():
    (train_images, train_labels), (test_images, test_labels) = synthetic_digits(300, 1), synthetic_digits(100, 2)
    return TrainData(to_inputs(train_images), train_labels, to_inputs(test_images), test_labels)


def test_fit_learns_and_records_history(data, tmp_path):
    seen = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(logs["stats"].epoch)

    result = fit(SMALL, data, run_dir=tmp_path, callbacks=[Record()])
    assert seen == [1, 2, 3, 4] and [s.epoch for s in result.history] == [1, 2, 3, 4]
    assert result.history[-1].eval_accuracy > 0.6       # chance is 0.1
    assert result.history[-1].train_loss < result.history[0].train_loss
    meta, _ = read_checkpoint(tmp_path / "model.npz")
    assert meta["epoch"] == 4 and meta["step"] == 4 * 10      # 300 / 32 → 10 batches (last has 12)
    loaded, _ = load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(all_values(loaded), all_values(result.model))


def test_step_schedule_is_applied_per_epoch(data):
    config = TrainConfig(hidden=(8,), epochs=5, batch_size=64, lr=0.01, lr_decay=0.5, lr_decay_every_epochs=2)
    lrs = [s.lr for s in fit(config, data).history]
    assert lrs == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])


class _Interrupt(Callback):
    def __init__(self, after_epoch):
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs):
        if epoch == self.after_epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("config", [
    SMALL,
    TrainConfig(hidden=(16,), epochs=4, batch_size=50, optimizer="sgd", lr=0.05, schedule="cosine",
                warmup_epochs=1),
])
def test_resume_gives_bit_identical_weights(data, tmp_path, config):
    uninterrupted = fit(config, data).model
    interrupted = fit(config, data, run_dir=tmp_path, callbacks=[_Interrupt(2)])
    assert not interrupted.finished and interrupted.stop_reason == "interrupted (Ctrl-C)"
    resumed = fit(config, data, run_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(all_values(resumed.model), all_values(uninterrupted))
    for name, buffer in uninterrupted.buffers().items():
        np.testing.assert_array_equal(resumed.model.buffers()[name], buffer)
    assert [s.epoch for s in resumed.history] == [1, 2, 3, 4]


def test_resume_with_another_config_is_refused(data, tmp_path):
    fit(TrainConfig(hidden=(8,), epochs=1, batch_size=64), data, run_dir=tmp_path)
    with pytest.raises(CheckpointError, match="another config"):
        fit(TrainConfig(hidden=(8,), epochs=1, batch_size=32), data, run_dir=tmp_path, resume=True)


def test_resume_without_checkpoint(data, tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        fit(SMALL, data, run_dir=tmp_path, resume=True)


def test_huge_learning_rate_stops_with_epoch_step_and_lr(data, tmp_path):
    config = TrainConfig(hidden=(16,), epochs=3, batch_size=32, dropout=0.0, lr=1e30, schedule="constant")
    with pytest.raises(DivergenceError) as error:
        fit(config, data, run_dir=tmp_path)
    message = str(error.value)
    assert re.search(r"non-finite loss at step \d+ \(lr 1e\+30\) in epoch 1", message) and "--lr" in message


class _Poison(Callback):
    """At the start of the second epoch, break the weights as a diverging update would."""

    def on_fit_start(self, model, logs):
        self.model = model

    def on_epoch_start(self, epoch, logs):
        if epoch == 2:
            self.model.layers[-1].weight.value[...] = np.inf


def test_divergence_keeps_the_last_good_checkpoint(data, tmp_path):
    config = TrainConfig(hidden=(16,), epochs=3, batch_size=32, dropout=0.0)
    with pytest.raises(DivergenceError, match=r"step 11 .* in epoch 2") as error:
        fit(config, data, run_dir=tmp_path, callbacks=[_Poison()])
    assert f"last good checkpoint is kept in {tmp_path / 'model.npz'}" in str(error.value)
    meta, _ = read_checkpoint(tmp_path / "model.npz")
    assert meta["epoch"] == 1
    model, _ = load_model(tmp_path / "model.npz")
    assert np.isfinite(all_values(model)).all()


def test_evaluate_restores_training_mode(data):
    model = fit(TrainConfig(hidden=(8,), epochs=1, batch_size=64), data).model.train()
    loss, accuracy, predicted = evaluate(model, data.x_eval, data.y_eval)
    assert model.training and predicted.shape == (100,) and 0 <= accuracy <= 1 and loss > 0


def test_seed_fixes_the_run(data):
    config = TrainConfig(hidden=(16,), epochs=2, batch_size=32)
    a, b = fit(config, data).model, fit(config, data).model
    np.testing.assert_array_equal(all_values(a), all_values(b))
    c = fit(TrainConfig(hidden=(16,), epochs=2, batch_size=32, seed=1), data).model
    assert not np.array_equal(all_values(a), all_values(c))


@pytest.mark.slow
def test_reference_model_two_epochs_on_real_mnist(mnist_dir):
    mnist = load_mnist(mnist_dir, download=False)
    data = TrainData(to_inputs(mnist.train_images), mnist.train_labels,
                     to_inputs(mnist.test_images), mnist.test_labels)
    result = fit(TrainConfig(epochs=2), data)
    assert result.history[-1].eval_accuracy >= 0.96


@pytest.mark.parametrize("change, message", [
    ({"x_train": np.zeros((10, 5), np.float32)}, r"y_train must be 10 integer labels"),
    ({"x_eval": np.zeros((4, 783), np.float32)}, r"x_eval must have shape \(N, 784\)"),
    ({"y_train": np.zeros(300, np.float32)}, "integer labels"),
    ({"x_train": np.full((300, 784), np.nan, np.float32)}, "NaN or inf"),
    ({"x_train": np.zeros((300, 784), np.int64)}, "uint8 pixels or floats"),
])
def test_train_data_is_validated(data, change, message):
    import dataclasses

    with pytest.raises(ValueError, match=message):
        dataclasses.replace(data, **change)

"""Steering a run: early stopping with the best weights, callbacks that stop, extending and fine-tuning."""

import dataclasses
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from glassnet.checkpoint import load_model, read_checkpoint
from glassnet.cli import main
from glassnet.config import TrainConfig
from glassnet.errors import CheckpointError, ConfigError
from glassnet.train import Callback, StopTraining, TrainData, fit
from tests.helpers import all_values
from tests.mnist_fixtures import synthetic_digits, write_mnist_folder

EARLY = TrainConfig(hidden=(64,), epochs=40, batch_size=25, dtype="float64", early_stopping_patience=3)


@pytest.fixture(scope="module")
def rising():
    """Learnable training digits, and validation digits whose labels are noise: the validation loss rises."""
    images, labels = synthetic_digits(300, 11)
    x = images.reshape(300, 784)
    noise = np.random.default_rng(0).integers(0, 10, 100)
    return TrainData(x[:200], labels[:200], x[200:], noise, "validation")


class Weights(Callback):
    """Copies of every parameter after each epoch."""

    def __init__(self):
        self.by_epoch = {}

    def on_fit_start(self, model, logs):
        self.model = model

    def on_epoch_end(self, epoch, logs):
        self.by_epoch[epoch] = all_values(self.model)


def test_early_stopping_keeps_the_best_epoch(rising, tmp_path):
    weights = Weights()
    result = fit(EARLY, rising, run_dir=tmp_path, callbacks=[weights])
    losses = [s.eval_loss for s in result.history]
    best_epoch = int(np.argmin(losses)) + 1
    assert result.finished and result.stop_reason.startswith("early stopping")
    assert f"epoch {best_epoch}, the best" in result.stop_reason
    assert len(result.history) == best_epoch + EARLY.early_stopping_patience < EARLY.epochs
    np.testing.assert_array_equal(all_values(result.model), weights.by_epoch[best_epoch])
    saved = read_checkpoint(tmp_path / "model.npz")                     # the model handed back: the best epoch
    assert saved[0]["stopped"] == result.stop_reason and saved[0]["epoch"] == best_epoch
    np.testing.assert_array_equal(saved[1]["param/0.weight"], result.model.layers[0].weight.value)
    state, meta = load_model(tmp_path / "resume.npz")                   # the state: the last epoch's
    assert meta["epoch"] == len(result.history) and not (tmp_path / "best.npz").exists()
    np.testing.assert_array_equal(all_values(state), weights.by_epoch[len(result.history)])
    again = fit(EARLY, rising, run_dir=tmp_path, resume=True)         # a finished run resumes as a no-op
    assert again.stop_reason == result.stop_reason and len(again.history) == len(result.history)


def test_early_stopping_without_a_run_folder_and_on_accuracy(rising):
    config = dataclasses.replace(EARLY, early_stopping_monitor="accuracy", early_stopping_patience=2)
    weights = Weights()
    result = fit(config, rising, callbacks=[weights])
    accuracies = [s.eval_accuracy for s in result.history]
    best = int(np.argmax(accuracies)) + 1
    assert "validation accuracy" in result.stop_reason and len(result.history) == best + 2
    np.testing.assert_array_equal(all_values(result.model), weights.by_epoch[best])


def test_early_stopping_refuses_the_test_set(rising):
    test = dataclasses.replace(rising, eval_name="test")
    with pytest.raises(ConfigError, match="never stops on the test set"):
        fit(EARLY, test)


class StopAt(Callback):
    def __init__(self, epoch, batch=None):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, step, logs):
        if (logs["epoch"], logs["batch"]) == (self.epoch, self.batch):
            raise StopTraining("enough batches")

    def on_epoch_end(self, epoch, logs):
        if self.batch is None and epoch == self.epoch:
            raise StopTraining("enough epochs")


def test_a_callback_stops_after_a_batch_or_an_epoch_and_resume_continues(rising, tmp_path):
    config = dataclasses.replace(EARLY, early_stopping_patience=0, epochs=4)
    whole = fit(config, rising)
    after_epoch = fit(config, rising, run_dir=tmp_path, callbacks=[StopAt(2)])
    assert (after_epoch.stop_reason, after_epoch.finished, len(after_epoch.history)) == ("enough epochs", False, 2)
    after_batch = fit(config, rising, run_dir=tmp_path, resume=True, callbacks=[StopAt(3, batch=2)])
    assert after_batch.stop_reason == "enough batches" and len(after_batch.history) == 2   # epoch 3 unfinished
    resumed = fit(config, rising, run_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(all_values(resumed.model), all_values(whole.model))


def test_interrupted_early_stopping_resumes_to_the_same_stop(rising, tmp_path):
    whole = fit(EARLY, rising, run_dir=tmp_path / "whole")
    stop = len(whole.history)
    fit(EARLY, rising, run_dir=tmp_path / "cut", callbacks=[StopAt(stop - 2)])        # mid-patience
    resumed = fit(EARLY, rising, run_dir=tmp_path / "cut", resume=True)
    assert resumed.stop_reason == whole.stop_reason and len(resumed.history) == stop
    np.testing.assert_array_equal(all_values(resumed.model), all_values(whole.model))


def test_extending_a_finished_run(rising, tmp_path):
    short = dataclasses.replace(EARLY, early_stopping_patience=0, epochs=2)
    fit(short, rising, run_dir=tmp_path)
    extended = fit(dataclasses.replace(short, epochs=4), rising, run_dir=tmp_path, resume=True)
    whole = fit(dataclasses.replace(short, epochs=4), rising)
    # the step schedule depends on the step only: an extended run is the longer run, bit for bit
    np.testing.assert_array_equal(all_values(extended.model), all_values(whole.model))
    assert [s.epoch for s in extended.history] == [1, 2, 3, 4]
    with pytest.raises(CheckpointError, match="can only extend"):
        fit(dataclasses.replace(short, epochs=3), rising, run_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="another config"):
        fit(dataclasses.replace(short, epochs=6, lr=0.1), rising, run_dir=tmp_path, resume=True)


def test_extending_a_cosine_run_recomputes_the_cosine_over_the_new_total(rising, tmp_path):
    from glassnet.train import make_schedule

    short = dataclasses.replace(EARLY, early_stopping_patience=0, epochs=2, schedule="cosine")
    fit(short, rising, run_dir=tmp_path)
    extended = fit(dataclasses.replace(short, epochs=4), rising, run_dir=tmp_path, resume=True)
    longer = make_schedule(dataclasses.replace(short, epochs=4), steps_per_epoch=8)
    assert extended.history[1].lr == pytest.approx(make_schedule(short, 8)(15))      # epoch 2: the 2-epoch cosine
    assert extended.history[2].lr == pytest.approx(longer(23))                        # epoch 3: the 4-epoch one


def test_an_early_stopped_run_cannot_be_extended(rising, tmp_path):
    result = fit(EARLY, rising, run_dir=tmp_path)
    with pytest.raises(CheckpointError, match="stopped early"):
        fit(dataclasses.replace(EARLY, epochs=80), rising, run_dir=tmp_path, resume=True)
    assert result.finished


def test_init_from_starts_from_another_models_weights(rising, tmp_path):
    config = dataclasses.replace(EARLY, early_stopping_patience=0, epochs=1)
    first = fit(config, rising, run_dir=tmp_path / "first")

    class Start(Callback):
        def on_fit_start(self, model, logs):
            self.weights = all_values(model)

    start = Start()
    second = fit(config, rising, run_dir=tmp_path / "second", init_from=tmp_path / "first" / "model.npz",
                 callbacks=[start])
    np.testing.assert_array_equal(start.weights, all_values(first.model))
    assert read_checkpoint(tmp_path / "second" / "model.npz")[0]["init_from"].endswith("model.npz")
    assert not np.array_equal(all_values(second.model), all_values(first.model))
    with pytest.raises(CheckpointError, match=r"784-64-10.*784-32-10.*the same layers"):
        fit(dataclasses.replace(config, hidden=(32,)), rising, init_from=tmp_path / "first" / "model.npz")


def test_the_engine_takes_sizes_from_the_data():
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 5)), rng.integers(0, 3, 60)
    result = fit(TrainConfig(hidden=(8,), epochs=1, batch_size=20), TrainData(x[:40], y[:40], x[40:], y[40:]))
    assert result.model.n_inputs == 5 and result.model.n_classes == 3


SITECUSTOMIZE = '''
import os, signal
_name, _, _n = os.environ.get("GLASSNET_TEST_KILL_AFTER", "").partition(":")
_calls, _replace = [0], os.replace
def replace(src, dst, **kwargs):
    _replace(src, dst, **kwargs)
    if _name and str(dst).endswith(_name):
        _calls[0] += 1
        if _calls[0] == int(_n):
            os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
'''


@pytest.mark.slow
@pytest.mark.parametrize("kill", [
    "resume.npz:last",       # the state of the epoch before the stop written, its model not yet
    "model.npz:last",        # that epoch written whole
    "resume.npz:best",       # the state of the best epoch written, and not yet the model it hands back
])
def test_kill_9_during_early_stopping_resumes_to_the_same_stop_epoch_and_weights(tmp_path, kill):
    data = write_mnist_folder(tmp_path / "data", n_train=600, n_test=100, gz=False)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    flags = ["--data-dir", str(data), "--hidden", "32", "--epochs", "30", "--batch-size", "50", "--validation-size",
             "200", "--early-stopping-patience", "2", "--early-stopping-min-delta", "0.05", "--quiet"]
    assert main(["train", *flags, "--out", str(tmp_path / "whole")]) == 0
    whole, _ = read_checkpoint(tmp_path / "whole" / "resume.npz")
    assert whole["stopped"].startswith("early stopping") and whole["epoch"] < 30
    name, moment = kill.split(":")
    at = whole["epoch"] - 1 if moment == "last" else whole["early_stopping"]["best_epoch"]
    env = os.environ | {"PYTHONPATH": f"{hooks}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                        "GLASSNET_TEST_KILL_AFTER": f"{name}:{at}"}
    killed = subprocess.run([sys.executable, "-m", "glassnet", "train", *flags, "--out", str(tmp_path / "cut")],
                            env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL
    assert main(["train", "--data-dir", str(data), "--resume", str(tmp_path / "cut"), "--quiet"]) == 0
    for file in ("model.npz", "resume.npz"):              # the best epoch's model, and the last epoch's state
        cut, arrays = read_checkpoint(tmp_path / "cut" / file)
        expected_meta, expected = read_checkpoint(tmp_path / "whole" / file)
        assert cut["epoch"] == expected_meta["epoch"] and cut["stopped"] == whole["stopped"]
        assert arrays.keys() == expected.keys()
        for array in expected:
            np.testing.assert_array_equal(arrays[array], expected[array], err_msg=f"{file}: {array}")


def test_cli_extends_and_fine_tunes(tmp_path, capsys):
    data = write_mnist_folder(tmp_path / "data", n_train=300, n_test=100, gz=False)
    base = ["--data-dir", str(data), "--hidden", "16", "--batch-size", "50", "--quiet"]
    assert main(["train", *base, "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    assert main(["train", "--data-dir", str(data), "--resume", str(tmp_path / "run"), "--epochs", "2",
                 "--quiet"]) == 0
    meta, _ = read_checkpoint(tmp_path / "run" / "model.npz")
    assert meta["epoch"] == 2 and meta["config"]["epochs"] == 2 and meta["metrics"]["epochs"] == 2
    assert main(["train", *base, "--epochs", "1", "--init-from", str(tmp_path / "run"), "--out",
                 str(tmp_path / "tuned")]) == 0
    assert read_checkpoint(tmp_path / "tuned" / "model.npz")[0]["init_from"].endswith("model.npz")
    capsys.readouterr()
    assert main(["train", *base, "--hidden", "8", "--init-from", str(tmp_path / "run"), "--out",
                 str(tmp_path / "wrong")]) == 1
    assert "--init-from needs the same layers" in capsys.readouterr().err

"""With early stopping on, the model a run hands back is its best epoch's, however the run ends: in
``model.npz``, in ``fit``'s result and in the estimator; the state to resume from stays apart (``resume.npz``)."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest

from glassnet.checkpoint import load_model, read_checkpoint, save_checkpoint
from glassnet.cli import main
from glassnet.config import TrainConfig
from glassnet.data.idx import write_idx
from glassnet.data.mnist import MNIST_FILES
from glassnet.train import Callback, StopTraining, TrainData, evaluate, fit
from tests.helpers import all_values
from tests.mnist_fixtures import synthetic_digits

# 7 epochs, and patience that outlasts them: the run ends at its last epoch, past its best (the 4th)
BUDGET = TrainConfig(hidden=(64,), epochs=7, batch_size=25, dtype="float64", dropout=0.0, lr=1e-3,
                     early_stopping_patience=100)


def peaked_digits(n_noisy=10):
    """Learnable digits, 200 to train on and 100 to validate on, of which ``n_noisy`` labels are noise: the
    validation loss falls for a few epochs, then rises as the network learns the training set by heart."""
    images, labels = synthetic_digits(300, 11)
    labels = labels.copy()
    labels[200:200 + n_noisy] = np.random.default_rng(0).integers(0, 10, n_noisy)
    return images, labels


@pytest.fixture(scope="module")
def peaked():
    images, labels = peaked_digits()
    x = images.reshape(300, 784)
    return TrainData(x[:200], labels[:200], x[200:], labels[200:], "validation")


class Weights(Callback):
    """Every parameter after each epoch, and the epoch's validation loss."""

    def __init__(self):
        self.by_epoch, self.loss = {}, {}

    def on_fit_start(self, model, logs):
        self.model = model

    def on_epoch_end(self, epoch, logs):
        self.by_epoch[epoch], self.loss[epoch] = all_values(self.model), logs["eval_loss"]


def best_of(weights):
    return min(weights.loss, key=weights.loss.get)


def test_fit_hands_back_the_best_epoch_when_the_epochs_run_out(peaked, tmp_path):
    for folder in (None, tmp_path):
        weights = Weights()
        result = fit(BUDGET, peaked, run_dir=folder, callbacks=[weights])
        best = best_of(weights)
        assert result.finished and result.stop_reason == "completed all epochs" and len(result.history) == 7
        np.testing.assert_array_equal(all_values(result.model), weights.by_epoch[best])
        assert 1 < best < 7 and result.epoch == best
    model, meta = load_model(tmp_path / "model.npz")                    # the file every command is given
    np.testing.assert_array_equal(all_values(model), weights.by_epoch[best])
    assert meta["epoch"] == best and meta["selected"].startswith(f"epoch {best}: its validation loss")
    assert len(meta["history"]) == 7 and meta["stopped"] == ""             # the record of the whole run
    assert evaluate(model, peaked.x_eval, peaked.y_eval)[0] == pytest.approx(min(weights.loss.values()), rel=1e-12)
    state, meta = load_model(tmp_path / "resume.npz")                   # the state: the last epoch's
    np.testing.assert_array_equal(all_values(state), weights.by_epoch[7])
    assert meta["epoch"] == 7 and not (tmp_path / "best.npz").exists()


def test_without_early_stopping_nothing_changes(peaked, tmp_path):
    config = dataclasses.replace(BUDGET, early_stopping_patience=0)
    weights = Weights()
    result = fit(config, peaked, run_dir=tmp_path, callbacks=[weights])
    assert result.epoch == 7 and sorted(p.name for p in tmp_path.glob("*.npz")) == ["model.npz"]
    np.testing.assert_array_equal(all_values(result.model), weights.by_epoch[7])
    assert "optim/t" in read_checkpoint(tmp_path / "model.npz")[1]


class StopAt(Callback):
    """Stops the run after ``epoch`` (``on_epoch_end``), or in it after ``batch``; with ``keep`` (a run folder),
    first copies its ``model.npz`` as it was before this epoch's checkpoint (what a kill between the two writes
    leaves) to ``before.npz`` beside the folder."""

    def __init__(self, epoch, batch=None, keep=None):
        self.epoch, self.batch, self.keep = epoch, batch, keep

    def on_batch_end(self, step, logs):
        if (logs["epoch"], logs["batch"]) == (self.epoch, self.batch):
            raise StopTraining("enough batches")

    def on_epoch_end(self, epoch, logs):
        if self.batch is None and epoch == self.epoch:
            if self.keep is not None:
                if (self.keep / "model.npz").exists():
                    shutil.copyfile(self.keep / "model.npz", self.keep.parent / "before.npz")
            raise StopTraining("enough epochs")


def test_an_interrupted_run_hands_back_its_best_epoch_so_far_and_resumes_to_the_same_run(peaked, tmp_path):
    whole = fit(BUDGET, peaked, run_dir=tmp_path / "whole")
    weights = Weights()
    cut = fit(BUDGET, peaked, run_dir=tmp_path / "cut", callbacks=[weights, StopAt(6, batch=3)])
    best = best_of(weights)                                              # of the 5 epochs that ended
    assert not cut.finished and cut.epoch == best < 5
    np.testing.assert_array_equal(all_values(cut.model), weights.by_epoch[best])
    resumed = fit(BUDGET, peaked, run_dir=tmp_path / "cut", resume=True)
    assert resumed.epoch == whole.epoch and len(resumed.history) == 7
    np.testing.assert_array_equal(all_values(resumed.model), all_values(whole.model))
    for name in ("model.npz", "resume.npz"):
        a, b = read_checkpoint(tmp_path / "cut" / name)[1], read_checkpoint(tmp_path / "whole" / name)[1]
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}")


@pytest.mark.parametrize("epoch", [
    1,        # the first epoch: killed before model.npz existed
    3,        # an epoch that improved on the best: model.npz still holds the previous best
    6,        # an epoch that did not: model.npz holds the best, with the record of one epoch fewer
])
def test_a_run_killed_between_its_state_and_its_model_resumes_to_the_same_run(peaked, tmp_path, epoch):
    whole = fit(BUDGET, peaked, run_dir=tmp_path / "whole")
    run = tmp_path / "cut"
    fit(BUDGET, peaked, run_dir=run, callbacks=[StopAt(epoch, keep=run)])
    if epoch == 1:                                                       # what the kill left
        os.unlink(run / "model.npz")
    else:
        os.replace(tmp_path / "before.npz", run / "model.npz")
    assert read_checkpoint(run / "resume.npz")[0]["epoch"] == epoch
    resumed = fit(BUDGET, peaked, run_dir=run, resume=True)
    np.testing.assert_array_equal(all_values(resumed.model), all_values(whole.model))
    model, meta = load_model(run / "model.npz")
    np.testing.assert_array_equal(all_values(model), all_values(whole.model))
    assert meta["epoch"] == whole.epoch and len(meta["history"]) == 7


def old_layout(folder):
    """Turn a new run folder into what glassnet wrote before resume.npz: the state in model.npz, and the best
    epoch's weights in best.npz with only its epoch beside them."""
    best, meta = load_model(folder / "model.npz")
    save_checkpoint(folder / "best.npz", best, {"epoch": meta["epoch"], "best_epoch": meta["epoch"]})
    os.replace(folder / "resume.npz", folder / "model.npz")


@pytest.mark.parametrize("moment", [
    "old",              # as the earlier glassnet left it
    "state moved",      # killed while bringing it to this layout: resume.npz written, best.npz not yet moved
    "best moved",       # best.npz is model.npz, whose record is not yet written
])
def test_a_run_folder_of_the_earlier_layout_resumes_to_the_same_run(peaked, tmp_path, moment):
    whole = fit(BUDGET, peaked, run_dir=tmp_path / "whole")
    run = tmp_path / "old"
    fit(BUDGET, peaked, run_dir=run, callbacks=[StopAt(5)])
    old_layout(run)
    if moment == "state moved":
        shutil.copyfile(run / "model.npz", run / "resume.npz")
    elif moment == "best moved":
        shutil.copyfile(run / "model.npz", run / "resume.npz")
        os.replace(run / "best.npz", run / "model.npz")
    resumed = fit(BUDGET, peaked, run_dir=run, resume=True)
    assert resumed.epoch == whole.epoch and len(resumed.history) == 7
    np.testing.assert_array_equal(all_values(resumed.model), all_values(whole.model))
    assert sorted(p.name for p in run.glob("*.npz")) == ["model.npz", "resume.npz"]
    model, meta = load_model(run / "model.npz")
    np.testing.assert_array_equal(all_values(model), all_values(whole.model))
    assert meta["epoch"] == whole.epoch and "config" in meta
    state, _ = load_model(run / "resume.npz")
    np.testing.assert_array_equal(all_values(state), all_values(load_model(tmp_path / "whole" / "resume.npz")[0]))


def test_a_finished_run_of_the_earlier_layout_resumes_as_a_no_op_that_hands_back_its_best(peaked, tmp_path):
    whole = fit(BUDGET, peaked, run_dir=tmp_path)
    old_layout(tmp_path)                                 # model.npz: the last epoch, as the earlier glassnet kept it
    again = fit(BUDGET, peaked, run_dir=tmp_path, resume=True)
    assert again.epoch == whole.epoch and len(again.history) == 7
    np.testing.assert_array_equal(all_values(again.model), all_values(whole.model))
    np.testing.assert_array_equal(all_values(load_model(tmp_path / "model.npz")[0]), all_values(whole.model))


def test_a_model_file_that_is_not_the_best_epoch_is_refused_on_resume(peaked, tmp_path):
    from glassnet.errors import CheckpointError

    fit(BUDGET, peaked, run_dir=tmp_path, callbacks=[StopAt(6)])
    fit(dataclasses.replace(BUDGET, early_stopping_patience=0, epochs=1), peaked, run_dir=tmp_path / "other")
    os.replace(tmp_path / "other" / "model.npz", tmp_path / "model.npz")   # epoch 1's, not the best (4)
    with pytest.raises(CheckpointError, match=r"model.npz: holds epoch 1, not the run's best epoch \(4\)"):
        fit(BUDGET, peaked, run_dir=tmp_path, resume=True)


def write_peaked_mnist(folder):
    """An MNIST folder whose last 100 training images (the validation split) have 10 labels of noise."""
    folder.mkdir(parents=True)
    images, labels = peaked_digits()
    test = synthetic_digits(100, 2)
    arrays = {"train_images": images, "train_labels": labels, "test_images": test[0], "test_labels": test[1]}
    for part, (name, _) in MNIST_FILES.items():
        write_idx(folder / name, arrays[part])
    return folder


def test_the_cli_model_is_the_best_epoch_when_the_epochs_run_out(tmp_path, capsys):
    data = write_peaked_mnist(tmp_path / "data")
    run = tmp_path / "run"
    flags = ["--data-dir", str(data), "--hidden", "64", "--batch-size", "25", "--lr", "0.001", "--dropout", "0",
             "--validation-size", "100",
             "--early-stopping-patience", "100", "--quiet"]
    assert main(["train", *flags, "--epochs", "7", "--out", str(run)]) == 0
    history = json.loads((run / "history.json").read_text())
    best = int(np.argmin([h["eval_loss"] for h in history])) + 1
    assert len(history) == 7 and best < 7
    model, meta = load_model(run / "model.npz")
    x, y = synthetic_digits(300, 11)[0].reshape(300, 784)[200:], peaked_digits()[1][200:]
    assert evaluate(model, x, y)[0] == pytest.approx(history[best - 1]["eval_loss"], rel=1e-6)
    assert meta["epoch"] == best and meta["metrics"]["model"]["epoch"] == best
    assert f"the model is epoch {best}: its validation loss" in capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"]["epoch"] == best and metrics["epochs"] == 7
    assert f"The model is epoch {best}: its validation loss" in (run / "report.md").read_text()
    assert main(["info", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epoch"] == best
    # extended by --resume: from the last epoch's state, not from the best epoch's model
    assert main(["train", "--data-dir", str(data), "--resume", str(run), "--epochs", "9", "--quiet"]) == 0
    assert main(["train", *flags, "--epochs", "9", "--out", str(tmp_path / "nine")]) == 0
    for name in ("model.npz", "resume.npz"):
        np.testing.assert_array_equal(all_values(load_model(run / name)[0]),
                                      all_values(load_model(tmp_path / "nine" / name)[0]), err_msg=name)


def test_the_cli_resumes_a_run_folder_of_the_earlier_layout(tmp_path, capsys):
    data = write_peaked_mnist(tmp_path / "data")
    run = tmp_path / "run"
    flags = ["--data-dir", str(data), "--hidden", "32", "--batch-size", "50", "--validation-size", "100",
             "--early-stopping-patience", "100", "--quiet"]
    assert main(["train", *flags, "--epochs", "2", "--out", str(run)]) == 0
    old_layout(run)
    assert main(["train", "--data-dir", str(data), "--resume", str(run), "--epochs", "3"]) == 0
    assert "resume.npz" in capsys.readouterr().out
    assert read_checkpoint(run / "resume.npz")[0]["epoch"] == 3 and not (run / "best.npz").exists()


def test_the_estimator_hands_back_its_best_epoch_when_the_epochs_run_out(monkeypatch):
    digits = estimator_fit(monkeypatch, hidden=(32,), epochs=25, lr=3e-2)
    assert digits["best"] < 25


@pytest.mark.slow
def test_the_estimator_of_the_report_hands_back_its_best_epoch(monkeypatch):
    digits = estimator_fit(monkeypatch, epochs=120, lr=1e-2)        # the report's case: epoch 112, not 120
    assert digits["best"] < 120


def estimator_fit(monkeypatch, **params):
    """MLPClassifier with early stopping whose patience outlasts its epochs, on standardised load_digits;
    its model compared with the best epoch's, which a callback passed to ``fit`` saw."""
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    import glassnet.sklearn

    weights, real_fit = Weights(), glassnet.sklearn.fit
    monkeypatch.setattr(glassnet.sklearn, "fit", lambda config, data, callbacks=(), **kw:
                        real_fit(config, data, callbacks=[*callbacks, weights], **kw))
    x, y = load_digits(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    estimator = glassnet.sklearn.MLPClassifier(early_stopping=True, patience=1000, random_state=0, **params).fit(x, y)
    best = best_of(weights)
    assert estimator.n_iter_ == params["epochs"] == max(weights.by_epoch)
    np.testing.assert_array_equal(all_values(estimator.model_), weights.by_epoch[best])
    assert not np.array_equal(all_values(estimator.model_), weights.by_epoch[params["epochs"]])
    return {"best": best}


@pytest.mark.slow
def test_the_reported_mnist_run_hands_back_its_best_epoch(mnist_dir, tmp_path):
    """The report's case: 7 epochs, patience 10; the validation loss was lowest at epoch 5 (0.0929 vs 0.0961)."""
    from glassnet.data.mnist import load_mnist

    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(mnist_dir), "--hidden", "64", "--dropout", "0", "--lr", "0.005",
                 "--validation-size", "10000", "--early-stopping-patience", "10", "--epochs", "7", "--seed", "3",
                 "--quiet", "--out", str(run)]) == 0
    losses = [h["eval_loss"] for h in json.loads((run / "history.json").read_text())]
    best = int(np.argmin(losses)) + 1
    model, meta = load_model(run / "model.npz")
    assert meta["epoch"] == best and read_checkpoint(run / "resume.npz")[0]["epoch"] == 7
    assert best < 7, "this run's last epoch is its best: the case no longer tests anything"
    data = TrainData.from_mnist(load_mnist(mnist_dir, download=False), 10000)
    assert evaluate(model, data.x_eval, data.y_eval)[0] == pytest.approx(losses[best - 1], rel=1e-6)

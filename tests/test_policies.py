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
    assert done.ends == [{"stop_reason": "completed all epochs", "finished": True, "epoch": CONFIG.epochs}]
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


def test_a_divergence_in_an_epochs_last_update_is_a_divergence_not_a_traceback(data, tmp_path):
    one_batch = dataclasses.replace(CONFIG, batch_size=150, lr=1e30, schedule="constant", dropout=0.0,
                                    dtype="float32", epochs=3)
    with pytest.raises(DivergenceError, match=r"non-finite loss at step \d+ \(lr 1e\+30\) in epoch \d"):
        fit(one_batch, data, run_dir=tmp_path / "run")


class Raises(Callback):
    def __init__(self, error):
        self.error = error

    def on_batch_end(self, step, logs):
        if step == 2:
            raise self.error


@pytest.mark.parametrize("error", [MemoryError(), OSError(), RuntimeError("")], ids=type)
def test_an_error_without_a_message_reaches_the_caller_as_itself(data, error):
    ends = Ends()
    with pytest.raises(type(error)):
        fit(CONFIG, data, callbacks=[Raises(error), ends])
    assert ends.ends == [{"stop_reason": type(error).__name__, "finished": False, "epoch": 0}]


def test_clipping_scales_gradients_too_large_for_float32_squares():
    from glassnet.nn.model import mlp
    from glassnet.train.clipping import GradientClipping

    model = mlp([4, 3, 2], rng=np.random.default_rng(0))
    for p in model.params():
        p.grad[...] = np.float32(1e20)
    clipping = GradientClipping(1.0)
    clipping.on_fit_start(model, {})
    logs = {"lr": 1e-3}
    clipping.on_before_update(1, logs)
    norm = math.sqrt(sum(float(np.sum(np.square(p.grad, dtype=np.float64))) for p in model.params()))
    assert logs["grad_norm"] > 1e20 and norm == pytest.approx(1.0, rel=1e-6)
    for p in model.params():
        p.grad[...] = np.inf
    with pytest.raises(DivergenceError, match="gradients are not finite"):
        clipping.on_before_update(2, logs)


def test_the_callers_callbacks_see_the_epoch_that_ended_before_early_stopping_returns_to_the_best(tmp_path):
    from glassnet.checkpoint import read_checkpoint
    from tests.mnist_fixtures import synthetic_digits as digits

    images, labels = digits(300, 11)
    x = images.reshape(300, 784)
    noise = np.random.default_rng(0).integers(0, 10, 100)
    rising = TrainData(x[:200], labels[:200], x[200:], noise, "validation")
    config = TrainConfig(hidden=(64,), epochs=40, batch_size=32, dropout=0.0, lr=5e-3, early_stopping_patience=3)

    class Seen(Callback):
        def __init__(self):
            self.seen = {}

        def on_fit_start(self, model, logs):
            self.model = model

        def on_epoch_end(self, epoch, logs):
            self.seen[epoch] = all_values(self.model)

    seen = Seen()
    result = fit(config, rising, run_dir=tmp_path, callbacks=[seen])
    best = int(np.argmin([s.eval_loss for s in result.history])) + 1
    last = result.history[-1].epoch
    assert last == best + 3 and not np.array_equal(seen.seen[last], seen.seen[best])    # the last epoch as it was
    np.testing.assert_array_equal(all_values(result.model), seen.seen[best])            # the run hands back the best
    saved = read_checkpoint(tmp_path / "model.npz")[1]
    np.testing.assert_array_equal(saved["param/0.weight"], result.model.layers[0].weight.value)


def test_weights_that_are_not_finite_never_replace_the_last_good_checkpoint(data, tmp_path):
    from glassnet.checkpoint import load_model

    class Breaks(Callback):
        def on_fit_start(self, model, logs):
            self.model = model

        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                self.model.layers[0].weight.value[0, 0] = np.nan

    with pytest.raises(DivergenceError, match=r"0.weight not finite after epoch 2; the last good checkpoint"):
        fit(dataclasses.replace(CONFIG, epochs=3), data, run_dir=tmp_path, callbacks=[Breaks()])
    _, meta = load_model(tmp_path / "model.npz")
    assert meta["epoch"] == 1


def _plateau_run():
    """A run whose validation loss stalls several times, before and after epoch 6 (lr 0.2, patience 1)."""
    images, labels = synthetic_digits(200, 4)
    x = images.reshape(200, 784)
    held_out = TrainData(x[:150], labels[:150], x[150:], labels[150:], "validation")
    config = dataclasses.replace(CONFIG, epochs=8, lr=0.2, schedule="constant", plateau_patience=1)
    return config, held_out


def test_plateau_halves_the_rate_after_each_stall_of_patience_epochs():
    config, held_out = _plateau_run()
    history = fit(config, held_out).history
    losses = [s.eval_loss for s in history]
    stalls = [e for e in range(1, 8) if losses[e] >= min(losses[:e])]      # epochs (1-based: e + 1) not improving
    assert stalls                                                          # else this test could not tell
    expected, reductions = [], 0
    for epoch in range(8):
        expected.append(0.2 * 0.5 ** reductions)
        reductions += epoch in stalls
    assert [s.lr for s in history] == expected


def test_plateau_waits_patience_epochs_and_counts_from_the_last_reduction():
    from glassnet.train import TrainingState
    from glassnet.train.plateau import ReduceLROnPlateau

    config, held_out = _plateau_run()
    run = TrainingState(dataclasses.replace(config, plateau_patience=2, plateau_factor=0.1), held_out)
    plateau = ReduceLROnPlateau(run)
    reductions = []
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.91, 0.92, 0.8, 0.85, 0.9], start=1):
        plateau.on_epoch_end(epoch, {"eval_loss": loss})
        reductions.append(run.policies["plateau"]["reductions"])
    assert reductions == [0, 0, 0, 1, 1, 1, 1, 2]
    run.optimizer.lr, logs = 0.2, {"lr": 0.2}
    plateau.on_before_update(1, logs)
    assert run.optimizer.lr == logs["lr"] == pytest.approx(0.2 * 0.1 ** 2)


def test_plateau_resumes_bit_identically_after_a_kill(tmp_path):
    config, held_out = _plateau_run()
    whole = fit(config, held_out)

    class Kill(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 6:
                raise KeyboardInterrupt

    assert not fit(config, held_out, run_dir=tmp_path, callbacks=[Kill()]).finished
    resumed = fit(config, held_out, run_dir=tmp_path, resume=True)
    assert len({s.lr for s in whole.history}) > 2                          # it reduced, and after the kill too
    assert [s.lr for s in resumed.history] == [s.lr for s in whole.history]
    np.testing.assert_array_equal(all_values(resumed.model), all_values(whole.model))


def test_plateau_never_watches_the_test_set(data):
    from glassnet.errors import ConfigError

    with pytest.raises(ConfigError, match="reduce-on-plateau watches a validation split and never the test set"):
        fit(dataclasses.replace(CONFIG, plateau_patience=2), data)


@pytest.mark.parametrize("field, value", [("plateau_patience", -1), ("plateau_factor", 0.0),
                                          ("plateau_factor", 1.0)])
def test_bad_plateau_settings_are_refused_by_name(field, value):
    from glassnet.errors import ConfigError

    with pytest.raises(ConfigError, match=f"config field '{field}' must be"):
        TrainConfig(**{field: value})

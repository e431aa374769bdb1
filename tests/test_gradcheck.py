"""Every derivative against centred finite differences, in float64, with random upstream gradients."""

import numpy as np
import pytest

from glassnet.nn.gradcheck import check_layer, check_loss, check_model, relative_error
from glassnet.nn.layers import BatchNorm, Dropout, Linear, ReLU
from glassnet.nn.model import mlp

TOL = 1e-6


@pytest.mark.parametrize("batch", [2, 3, 64])
def test_linear(rng, batch):
    layer = Linear(7, 5, rng=rng, dtype=np.float64)
    layer.bias.value[:] = rng.standard_normal(5)
    report = check_layer(layer, rng.standard_normal((batch, 7)), rng=rng)
    assert report.passed(TOL), report.format()


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("batch", [2, 3, 64])
def test_batchnorm_training(seed, batch):
    rng = np.random.default_rng(seed)
    layer = BatchNorm(6, dtype=np.float64)
    layer.gamma.value[:] = rng.uniform(0.5, 2.0, 6)
    layer.beta.value[:] = rng.standard_normal(6)
    x = rng.standard_normal((batch, 6)) * 3.0 + 1.0
    report = check_layer(layer, x, rng=rng)
    assert report.passed(TOL), report.format()
    if batch > 2:      # at batch 2 both samples normalize to ±1 and the true dx is ~0 (gradcheck's atol case)
        layer.forward(x)
        assert np.abs(layer.backward(rng.standard_normal((batch, 6)))).max() > 1e-3


def test_batchnorm_eval(rng):
    layer = BatchNorm(6, dtype=np.float64)
    layer.running_mean[:] = rng.standard_normal(6)
    layer.running_var[:] = rng.uniform(0.5, 2.0, 6)
    layer.gamma.value[:] = rng.uniform(0.5, 2.0, 6)
    layer.training = False
    report = check_layer(layer, rng.standard_normal((4, 6)), rng=rng)
    assert report.passed(TOL), report.format()


def test_relu(rng):
    x = rng.standard_normal((8, 9))
    x[np.abs(x) < 1e-3] = 0.5                     # keep away from the kink, where no derivative exists
    report = check_layer(ReLU(), x, rng=rng)
    assert report.passed(TOL), report.format()


def test_dropout_with_the_same_mask_on_every_forward(rng):
    layer = Dropout(0.3, rng=rng)                 # check_layer rewinds the layer's generator before each forward
    report = check_layer(layer, rng.standard_normal((5, 4)), rng=rng)
    assert report.passed(TOL), report.format()


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_softmax_cross_entropy(rng, label_smoothing):
    logits = rng.standard_normal((16, 10)) * 4.0
    labels = rng.integers(0, 10, 16)
    report = check_loss(logits, labels, label_smoothing=label_smoothing)
    assert report.passed(TOL), report.format()


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_weighted_softmax_cross_entropy(rng, label_smoothing):
    logits = rng.standard_normal((16, 10)) * 4.0
    labels = rng.integers(0, 10, 16)
    weights = rng.uniform(0.0, 3.0, 16)
    weights[3] = 0.0                                   # a sample that does not count
    report = check_loss(logits, labels, label_smoothing=label_smoothing, weights=weights)
    assert report.passed(TOL), report.format()


@pytest.mark.parametrize("seed, batch", [(0, 2), (1, 2), (2, 2), (0, 3), (1, 3), (0, 64)])
def test_reference_model_in_training_mode(seed, batch):
    """784-256-128-10 with BatchNorm (batch statistics) and Dropout 0.2 (mask held fixed)."""
    rng = np.random.default_rng(seed)
    model = mlp([784, 256, 128, 10], rng=rng, dropout=0.2, dtype=np.float64)
    x = rng.random((batch, 784))
    labels = rng.integers(0, 10, batch)
    report = check_model(model, x, labels, rng=rng, n_samples=40)
    assert {row.name for row in report.rows} >= {"0.weight", "1.gamma", "1.beta", "8.weight", "8.bias", "input"}
    assert report.passed(TOL), report.format()


def test_small_model_every_coordinate(rng):
    model = mlp([6, 5, 4, 3], rng=rng, dropout=0.25, dtype=np.float64)
    report = check_model(model, rng.standard_normal((5, 6)), rng.integers(0, 3, 5), rng=rng)
    assert all(row.n_checked == int(np.prod(row.shape)) for row in report.rows)
    assert report.passed(TOL), report.format()


def test_tiny_true_gradients_pass_by_absolute_error():
    from glassnet.nn.gradcheck import GradCheckReport, GradCheckRow

    noise = GradCheckReport([GradCheckRow("input", (2, 6), 12, 2e-9, 1e-4)])       # rounding vs rounding
    assert noise.passed() and not noise.passed(atol=1e-9)
    assert not GradCheckReport([GradCheckRow("w", (3,), 3, 1e-3, 1e-4)]).passed()


def test_gradcheck_catches_a_wrong_gradient(rng):
    """The checker itself must fail on a broken backward, or it proves nothing."""
    layer = Linear(4, 3, rng=rng, dtype=np.float64)
    original = layer.backward_params

    def broken(grad_out):
        original(grad_out)
        layer.weight.grad *= 1.01

    layer.backward_params = broken
    assert not check_layer(layer, rng.standard_normal((5, 4)), rng=rng).passed(1e-4)


def test_gradcheck_refuses_float32(rng):
    with pytest.raises(TypeError, match="float64"):
        check_layer(Linear(3, 2, rng=rng), rng.standard_normal((2, 3)).astype(np.float32), rng=rng)


def test_relative_error_of_equal_and_zero():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), np.ones(3)) == 0.0
    assert relative_error(np.ones(3), -np.ones(3)) == 1.0

"""Sequential and mlp: structure, modes, parameters, prediction, reproducibility, overfitting."""

import numpy as np
import pytest

from glassnet.nn.layers import BatchNorm, Dropout, Linear, ReLU
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import Adam
from tests.helpers import all_values


def test_reference_architecture(rng):
    model = mlp([784, 256, 128, 10], rng=rng, dropout=0.2)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [Linear, BatchNorm, ReLU, Dropout, Linear, BatchNorm, ReLU, Dropout, Linear]
    # a Linear feeding BatchNorm has no bias: BatchNorm's beta plays that role
    assert model.layers[0].bias is None and model.layers[8].bias is not None
    assert model.n_params == 784 * 256 + 2 * 256 + 256 * 128 + 2 * 128 + 128 * 10 + 10
    assert set(model.buffers()) == {"1.running_mean", "1.running_var", "5.running_mean", "5.running_var"}


def test_params_are_the_layers_own_tensors(rng):
    model = mlp([5, 4, 3], rng=rng)
    assert model.params()[0] is model.layers[0].weight
    model.forward(rng.random((4, 5)))
    model.backward(rng.standard_normal((4, 3)).astype(np.float32))
    assert model.layers[0].weight.grad.any()
    # a second Sequential over the same layers shares the parameters: nothing is copied or orphaned
    again = Sequential(model.layers)
    assert [id(p) for p in again.params()] == [id(p) for p in model.params()]


def test_train_and_eval_flip_every_layer(rng):
    model = mlp([5, 4, 3], rng=rng, dropout=0.5)
    assert model.eval() is model and not any(layer.training for layer in model.layers)
    model.train()
    assert all(layer.training for layer in model.layers)


def test_predict_uses_eval_mode_and_restores_the_mode(rng):
    model = mlp([5, 8, 3], rng=rng, dropout=0.5).train()
    x = rng.random((4, 5))
    p1, p2 = model.predict_proba(x), model.predict_proba(x)
    np.testing.assert_array_equal(p1, p2)                    # no dropout noise
    np.testing.assert_allclose(p1.sum(axis=1), 1.0, rtol=1e-6)
    assert model.training
    assert model.predict(x[0]).shape == (1,)
    assert model.predict(x).dtype.kind == "i"


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 4)), r"predict expects \(N, 5\)"),
    (np.zeros((2, 5, 1)), r"predict expects \(N, 5\)"),
    (np.array([[np.nan] * 5]), "NaN or inf"),
])
def test_predict_rejects_bad_input(rng, x, message):
    with pytest.raises(ValueError, match=message):
        mlp([5, 4, 3], rng=rng).predict_proba(x)


def test_float64_model_on_request(rng):
    model = mlp([5, 4, 3], rng=rng, dtype=np.float64)
    assert all(p.value.dtype == np.float64 for p in model.params())
    assert model.forward(np.ones((2, 5), np.float32)).dtype == np.float64


def test_first_layer_can_skip_its_input_gradient(rng):
    model = mlp([5, 4, 3], rng=rng, dtype=np.float64)
    model.forward(rng.random((4, 5)))
    grad = rng.standard_normal((4, 3))
    assert model.backward(grad, input_grad=False) is None
    weight_grad = model.layers[0].weight.grad.copy()
    assert model.backward(grad).shape == (4, 5)
    np.testing.assert_array_equal(model.layers[0].weight.grad, weight_grad)


def _train(seed: int, steps: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    model = mlp([20, 16, 8, 3], rng=rng, dropout=0.2)
    opt = Adam(model.params())
    data = np.random.default_rng(123)
    x, labels = data.random((64, 20), np.float32), data.integers(0, 3, 64)
    for step in range(steps):
        batch = slice(16 * (step % 4), 16 * (step % 4 + 1))
        _, grad = softmax_cross_entropy(model.forward(x[batch]), labels[batch])
        model.backward(grad, input_grad=False)
        opt.step()
    return all_values(model)


def test_same_seed_same_parameters_bit_for_bit():
    np.testing.assert_array_equal(_train(7), _train(7))
    assert not np.array_equal(_train(7), _train(8))


def test_reference_model_overfits_256_digits():
    """A learning smoke test: the full reference model memorizes 256 synthetic 'digits'."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 26)[:256]
    prototypes = rng.random((10, 784), np.float32)
    x = np.clip(prototypes[labels] + 0.5 * rng.standard_normal((256, 784)).astype(np.float32), 0, 1)
    model = mlp([784, 256, 128, 10], rng=rng, dropout=0.2)
    opt = Adam(model.params(), lr=1e-3)
    for _ in range(300):
        batch = rng.permutation(256)[:64]
        _, grad = softmax_cross_entropy(model.forward(x[batch]), labels[batch])
        model.backward(grad, input_grad=False)
        opt.step()
    assert (model.predict(x) == labels).mean() == 1.0

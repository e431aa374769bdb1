"""Behaviour of each layer: shapes, modes, statistics, dtype and errors."""

import numpy as np
import pytest

from glassnet.nn.layers import BatchNorm, Dropout, Linear, ReLU


def test_linear_computes_affine_map(rng):
    layer = Linear(3, 2, rng=rng, dtype=np.float64)
    layer.bias.value[:] = [1.0, -1.0]
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(layer.forward(x), x @ layer.weight.value + [1.0, -1.0])


def test_linear_he_init_variance():
    layer = Linear(1000, 500, rng=np.random.default_rng(1), dtype=np.float64)
    assert layer.weight.value.std() == pytest.approx(np.sqrt(2 / 1000), rel=0.01)
    assert not layer.bias.value.any()


def test_linear_rejects_wrong_width(rng):
    with pytest.raises(ValueError, match=r"Linear expects \(N, 3\) input, got \(4, 5\)"):
        Linear(3, 2, rng=rng).forward(np.zeros((4, 5), np.float32))


def test_linear_float32_stays_float32(rng):
    layer = Linear(3, 2, rng=rng)
    y = layer.forward(np.ones((2, 3), np.float64))
    assert y.dtype == np.float32
    assert layer.backward(np.ones((2, 2), np.float32)).dtype == np.float32
    assert layer.weight.grad.dtype == np.float32


@pytest.mark.parametrize("layer_factory", [
    lambda rng: Linear(3, 2, rng=rng),
    lambda rng: BatchNorm(3),
    lambda rng: ReLU(),
    lambda rng: Dropout(0.5, rng=rng),
])
def test_backward_before_forward_is_a_clear_error(rng, layer_factory):
    with pytest.raises(RuntimeError, match="before forward"):
        layer_factory(rng).backward(np.ones((2, 3), np.float32))


def test_backward_rejects_wrong_grad_shape(rng):
    layer = Linear(3, 2, rng=rng)
    layer.forward(np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"grad_out of shape \(4, 2\)"):
        layer.backward(np.ones((4, 3), np.float32))


def test_backward_does_not_mutate_its_argument(rng):
    for layer in (Linear(3, 3, rng=rng, dtype=np.float64), BatchNorm(3, dtype=np.float64), ReLU(),
                  Dropout(0.5, rng=rng)):
        layer.forward(rng.standard_normal((4, 3)))
        grad = rng.standard_normal((4, 3))
        before = grad.copy()
        layer.backward(grad)
        np.testing.assert_array_equal(grad, before)


def test_batchnorm_normalizes_in_training(rng):
    layer = BatchNorm(4, dtype=np.float64)
    y = layer.forward(rng.standard_normal((256, 4)) * 5 + 3)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=0), 1, rtol=1e-3)


def test_batchnorm_running_statistics(rng):
    layer = BatchNorm(2, dtype=np.float64)
    batches = [rng.standard_normal((8, 2)) * 2 + 1 for _ in range(3)]
    mean, var = np.zeros(2), np.ones(2)
    for x in batches:
        layer.forward(x)
        mean = 0.9 * mean + 0.1 * x.mean(axis=0)
        var = 0.9 * var + 0.1 * x.var(axis=0, ddof=1)       # unbiased, as PyTorch
    np.testing.assert_allclose(layer.running_mean, mean)
    np.testing.assert_allclose(layer.running_var, var)
    layer.training = False
    x = rng.standard_normal((3, 2))
    np.testing.assert_allclose(layer.forward(x), (x - mean) / np.sqrt(var + 1e-5))
    assert set(layer.buffers()) == {"running_mean", "running_var"}
    assert all(p.name in ("gamma", "beta") for p in layer.params())


def test_batchnorm_constant_batch_is_finite():
    layer = BatchNorm(3)
    y = layer.forward(np.full((16, 3), 7.0, np.float32))
    dx = layer.backward(np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32))
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    assert np.isfinite(layer.gamma.grad).all()


def test_batchnorm_refuses_single_sample_in_training():
    with pytest.raises(ValueError, match="at least 2 samples"):
        BatchNorm(3).forward(np.ones((1, 3), np.float32))


def test_relu():
    layer = ReLU()
    x = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(layer.forward(x), [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(layer.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 0.0, 5.0]])


def test_dropout_keeps_the_mean_and_is_identity_in_eval(rng):
    layer = Dropout(0.2, rng=rng)
    x = np.ones((1000, 100), np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert y.mean() == pytest.approx(1.0, abs=0.01)
    # 16-bit draws keep a unit when u ≥ round(0.2 · 2¹⁶) = 13107: probability 52429 / 65536, scale its inverse
    assert layer.keep_probability == 52429 / 65536
    assert set(np.unique(y)) == {0.0, np.float32(65536 / 52429)}
    assert (y == 0).mean() == pytest.approx(0.2, abs=0.01)
    np.testing.assert_array_equal(layer.backward(x), y)     # dx = G · mask
    layer.training = False
    assert layer.forward(x) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_probability(rng, p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(p, rng=rng)

"""Each derivation's final formula in docs/derivations/, computed the long way and compared with the code."""

import numpy as np
import pytest

from glassnet.nn.layers import BatchNorm, Dropout, Linear
from glassnet.nn.losses import log_softmax, softmax, softmax_cross_entropy
from glassnet.nn.optim import Adam
from glassnet.nn.params import Param
from glassnet.nn.schedules import step_decay


def test_softmax_cross_entropy_gradient_formula(rng):
    """dL/dZ = (Ŷ − Y)/m, from the softmax Jacobian times dℓ/dp (softmax-cross-entropy.md)."""
    m, n_classes = 6, 5
    logits, labels = rng.standard_normal((m, n_classes)) * 2, rng.integers(0, n_classes, m)
    _, grad = softmax_cross_entropy(logits, labels)
    for n in range(m):
        p = softmax(logits[n:n + 1])[0]
        jacobian = np.diag(p) - np.outer(p, p)              # ∂pᵢ/∂z_c = pᵢ([i = c] − p_c)
        dloss_dp = np.zeros(n_classes)
        dloss_dp[labels[n]] = -1.0 / p[labels[n]]            # ℓ = −log p_y
        np.testing.assert_allclose(m * grad[n], jacobian.T @ dloss_dp, atol=1e-12)
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-15)     # rows sum to zero
    assert np.abs(grad).max() <= 1 / m


@pytest.mark.parametrize("shift", [0.0, 50.0, -700.0])
def test_log_sum_exp_identity(shift):
    z = np.array([[1.0, 2.0, 3.0]]) + shift
    expected = np.array([[1.0, 2.0, 3.0]]) - np.log(np.exp([1.0, 2.0, 3.0]).sum())
    np.testing.assert_allclose(log_softmax(z), expected, rtol=1e-12)   # shifting the logits changes nothing


def test_linear_gradient_formulas(rng):
    """dW = XᵀG, db = Σₙ G, dX = GWᵀ, against the element-wise sums (linear.md)."""
    layer = Linear(4, 3, rng=rng, dtype=np.float64)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer.forward(x)
    dx = layer.backward(g)
    w = layer.weight.value
    for i in range(4):
        for k in range(3):
            assert layer.weight.grad[i, k] == pytest.approx(sum(g[n, k] * x[n, i] for n in range(5)))
    np.testing.assert_allclose(layer.bias.grad, [sum(g[n, k] for n in range(5)) for k in range(3)])
    for n in range(5):
        for i in range(4):
            assert dx[n, i] == pytest.approx(sum(g[n, k] * w[i, k] for k in range(3)))


def test_inverted_dropout_keeps_the_expectation():
    """E[x ⊙ M] = x with M = Bernoulli(1 − p)/(1 − p); identity at inference (relu-dropout.md)."""
    layer = Dropout(0.3, rng=np.random.default_rng(0))
    x = np.full((20000, 8), 2.0)
    np.testing.assert_allclose(layer.forward(x).mean(axis=0), 2.0, rtol=0.02)
    layer.training = False
    assert layer.forward(x) is x


def _batchnorm_backward_by_the_graph(x, gamma, g, eps=1e-5):
    """The three paths of batchnorm.md: through x̂ directly, through σ², through μ."""
    n = len(x)
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    s = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * s
    d = gamma * g                                                        # ∂L/∂x̂
    dvar = (d * (x - mu)).sum(axis=0) * -0.5 * (var + eps) ** -1.5      # ∂L/∂σ²
    dmu = (d * -s).sum(axis=0) + dvar * (-2 / n) * (x - mu).sum(axis=0)  # ∂L/∂μ (second term is 0)
    return d * s + dvar * 2 * (x - mu) / n + dmu / n, x_hat


def test_batchnorm_compact_form_equals_the_graph(rng):
    layer = BatchNorm(4, dtype=np.float64)
    layer.gamma.value[:] = rng.uniform(0.5, 2, 4)
    x, g = rng.standard_normal((7, 4)) * 3 + 1, rng.standard_normal((7, 4))
    layer.forward(x)
    compact = layer.backward(g)
    by_graph, x_hat = _batchnorm_backward_by_the_graph(x, layer.gamma.value, g)
    np.testing.assert_allclose(compact, by_graph, rtol=1e-10, atol=1e-12)
    s = 1 / np.sqrt(x.var(axis=0) + 1e-5)
    boxed = layer.gamma.value * s / 7 * (7 * g - g.sum(axis=0) - x_hat * (g * x_hat).sum(axis=0))
    np.testing.assert_allclose(compact, boxed, rtol=1e-10, atol=1e-12)


def test_batchnorm_upstream_ones_give_zero_input_gradient(rng):
    layer = BatchNorm(4, dtype=np.float64)
    layer.forward(rng.standard_normal((9, 4)))
    np.testing.assert_allclose(layer.backward(np.ones((9, 4))), 0, atol=1e-12)


def test_a_bias_before_batchnorm_has_zero_gradient(rng):
    linear = Linear(5, 4, rng=rng, dtype=np.float64)
    linear.bias.value[:] = rng.standard_normal(4)
    norm = BatchNorm(4, dtype=np.float64)
    norm.forward(linear.forward(rng.standard_normal((8, 5))))
    linear.backward(norm.backward(rng.standard_normal((8, 4))))
    np.testing.assert_allclose(linear.bias.grad, 0, atol=1e-12)
    assert np.abs(linear.weight.grad).max() > 1e-3


@pytest.mark.parametrize("variance, expected_ratio", [(2.0, 1.0), (1.0, 2.0 ** -4)])
def test_he_initialization_keeps_the_variance(variance, expected_ratio):
    """Var(w) = 2/fan_in keeps E[z²] through ReLU layers; 1/fan_in halves it at each (initialization.md)."""
    rng = np.random.default_rng(0)
    fan_in = 500
    z = rng.standard_normal((2000, fan_in)) @ (rng.standard_normal((fan_in, fan_in)) * np.sqrt(variance / fan_in))
    first = (z ** 2).mean()
    for _ in range(4):
        z = np.maximum(z, 0) @ (rng.standard_normal((fan_in, fan_in)) * np.sqrt(variance / fan_in))
    assert (z ** 2).mean() / first == pytest.approx(expected_ratio, rel=0.1)


def test_adam_bias_correction_is_unbiased():
    """E[m̂_t] = E[g] from the first step; without the correction m_1 = (1 − β₁) g (adam.md)."""
    rng = np.random.default_rng(0)
    trials, mean = 20000, 0.3
    p = Param(np.zeros(trials), np.zeros(trials))
    opt = Adam([p], lr=0.0)
    for t in range(1, 4):
        p.grad[:] = mean + rng.standard_normal(trials)
        opt.step()
        m_hat = opt.m[0] / (1 - 0.9 ** t)
        assert m_hat.mean() == pytest.approx(mean, abs=0.03)
        assert opt.m[0].mean() == pytest.approx(mean * (1 - 0.9 ** t), abs=0.03)


def test_first_adam_step_is_lr_times_sign():
    p = Param(np.zeros(4), np.array([3.0, -0.001, 1e-3, -50.0]))
    Adam([p], lr=0.01).step()
    np.testing.assert_allclose(p.value, -0.01 * np.sign(p.grad), rtol=1e-4)


def test_step_schedule_formula():
    lr = step_decay(1e-3, gamma=0.95, every_steps=10)
    assert [lr(e) for e in (0, 9, 10, 39, 40, 49)] == pytest.approx(
        [1e-3 * 0.95 ** (e // 10) for e in (0, 9, 10, 39, 40, 49)], rel=1e-15)

"""Each derivation's final formula in docs/derivations/, computed the long way and compared with the code."""

import numpy as np
import pytest

from glassnet.nn.init import he_normal
from glassnet.nn.layers import BatchNorm, Dropout, Linear, ReLU
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


def _scaled_normal(variance):
    """An initializer W ~ N(0, variance / fan_in), glassnet's Initializer signature."""
    return lambda rng, fan_in, fan_out, dtype: (rng.standard_normal((fan_in, fan_out))
                                                * np.sqrt(variance / fan_in)).astype(dtype)


@pytest.mark.parametrize("init, expected_ratio", [
    (he_normal, 1.0),                  # glassnet's He initializer: Var(w) = 2 / fan_in
    (_scaled_normal(1.0), 2.0 ** -4),  # Var(w) = 1 / fan_in: halves E[z²] at each of 4 ReLU layers
])
def test_he_initialization_keeps_the_variance(init, expected_ratio):
    """Var(w) = 2/fan_in keeps E[z²] through ReLU layers; 1/fan_in halves it at each (initialization.md)."""
    rng = np.random.default_rng(0)
    fan_in = 500
    layers = [Linear(fan_in, fan_in, rng=rng, bias=False, dtype=np.float64, init=init) for _ in range(5)]
    assert layers[0].weight.value.var() == pytest.approx(
        2.0 / fan_in if init is he_normal else 1.0 / fan_in, rel=0.02)
    z = layers[0].forward(rng.standard_normal((2000, fan_in)))
    first = (z ** 2).mean()
    for layer in layers[1:]:
        z = layer.forward(ReLU().forward(z))
    assert (z ** 2).mean() / first == pytest.approx(expected_ratio, rel=0.1)


@pytest.mark.parametrize("gradient", [3.0, -0.02, 1e-3])
def test_adam_bias_correction_makes_every_early_step_lr(gradient):
    """With a constant gradient g, m̂ₜ = g and v̂ₜ = g² exactly, so every step moves θ by
    lr · g / (|g| + eps) ≈ lr · sign(g) (adam.md). Without the correction of m (but with that of v)
    the first step would be 10× smaller; without either, √1000/10 ≈ 3.2× larger."""
    lr, eps = 0.01, 1e-8
    p = Param(np.zeros((1, 1)))
    opt = Adam([p], lr=lr, eps=eps)
    for t in range(1, 4):
        before = p.value.copy()
        p.grad = np.full((1, 1), gradient)
        opt.step()
        np.testing.assert_allclose(before - p.value, lr * gradient / (abs(gradient) + eps), rtol=1e-12,
                                   err_msg=f"step {t}")


def test_step_schedule_formula():
    """lr · γ^⌊step / every⌋, with γ = 0.95 every 10 steps: values worked out by hand."""
    lr = step_decay(1e-3, gamma=0.95, every_steps=10)
    assert [lr(e) for e in (0, 9, 10, 39, 40, 49)] == pytest.approx(
        [1e-3, 1e-3, 9.5e-4, 8.57375e-4, 8.1450625e-4, 8.1450625e-4], rel=1e-12)

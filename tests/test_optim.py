"""Optimizers against numbers computed by hand from the paper's equations."""

import numpy as np
import pytest

from glassnet.nn.fused import FusedAdam
from glassnet.nn.optim import SGD, Adam
from glassnet.nn.params import Param


def _param(values, grads):
    return Param(np.array(values, np.float64), np.array(grads, np.float64))


def test_adam_two_steps_by_hand():
    p = _param([1.0, -2.0], [0.5, -1.0])
    opt = Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    opt.step()
    # step 1: m̂ = g, v̂ = g², so θ moves by lr · g / (|g| + eps) = lr · sign(g)
    np.testing.assert_allclose(p.value, [1.0 - 0.1, -2.0 + 0.1], rtol=1e-7)
    p.grad[:] = [0.1, 0.2]
    opt.step()
    m = 0.9 * (0.1 * np.array([0.5, -1.0])) + 0.1 * np.array([0.1, 0.2])
    v = 0.999 * (0.001 * np.array([0.25, 1.0])) + 0.001 * np.array([0.01, 0.04])
    m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.999 ** 2)
    np.testing.assert_allclose(p.value, np.array([0.9, -1.9]) - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8))


def test_adamw_decays_outside_the_adaptive_step_and_only_weight_matrices():
    matrix, vector = _param([[2.0]], [[0.0]]), _param([2.0], [0.0])
    Adam([matrix, vector], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(matrix.value, [[2.0 * (1 - 0.1 * 0.5)]])
    np.testing.assert_array_equal(vector.value, [2.0])        # biases, gamma and beta are not decayed


def test_sgd_momentum_by_hand():
    p = _param([1.0], [1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()
    np.testing.assert_allclose(p.value, [1.0 - 0.1 * 1.0 - 0.1 * 1.9])


def test_state_round_trip():
    p = _param([1.0, 2.0], [0.3, -0.3])
    opt = Adam([p])
    opt.step()
    other = Adam([_param([1.0, 2.0], [0.3, -0.3])])
    other.load_state({k: v.copy() for k, v in opt.state().items()})
    assert other.t == 1
    np.testing.assert_array_equal(other.m[0], opt.m[0])


def test_float32_parameters_stay_float32():
    p = Param(np.ones(3, np.float32), np.full(3, 0.5, np.float32))
    opt = Adam([p])
    opt.step()
    assert p.value.dtype == np.float32 and opt.m[0].dtype == np.float32


@pytest.mark.parametrize("kwargs", [
    {"lr": -1.0},
    {"betas": (1.0, 0.999)},
    {"eps": 0.0},
    {"weight_decay": -0.1},
])
def test_adam_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match="Adam needs"):
        Adam([_param([1.0], [1.0])], **kwargs)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_fused_adam_equals_the_textbook_adam_step_by_step(weight_decay):
    """The fast path's optimizer against the definition: 100 steps, float64, to 1e-10."""
    rng = np.random.default_rng(0)
    shapes = [(30, 20), (20,), (20, 5), (5,)]
    textbook = [Param(rng.standard_normal(shape)) for shape in shapes]
    fused = [Param(p.value.copy()) for p in textbook]
    opts = [Adam(textbook, lr=1e-2, weight_decay=weight_decay), FusedAdam(fused, lr=1e-2, weight_decay=weight_decay)]
    for step in range(100):
        for a, b in zip(textbook, fused):
            a.grad = rng.standard_normal(a.value.shape) * 10.0 ** rng.integers(-6, 2)
            b.grad = a.grad.copy()
        for opt in opts:
            opt.step()
        for a, b in zip(textbook, fused):
            np.testing.assert_allclose(b.value, a.value, rtol=1e-10, atol=1e-12, err_msg=f"step {step + 1}")
    for name, value in opts[0].state().items():
        np.testing.assert_allclose(opts[1].state()[name], value, rtol=1e-12, err_msg=name)


def test_fused_adam_float32_stays_within_float32_rounding_of_the_textbook():
    rng = np.random.default_rng(1)
    textbook = [Param(rng.standard_normal((50, 40)).astype(np.float32))]
    fused = [Param(textbook[0].value.copy())]
    opts = [Adam(textbook), FusedAdam(fused)]
    for _ in range(100):
        grad = rng.standard_normal((50, 40)).astype(np.float32)
        textbook[0].grad, fused[0].grad = grad, grad.copy()
        for opt in opts:
            opt.step()
    assert fused[0].value.dtype == np.float32
    # 100 steps of lr 1e-3: each rounding is ~1e-7 relative to a step; the paths agree to ~1e-7 absolute
    np.testing.assert_allclose(fused[0].value, textbook[0].value, rtol=0, atol=1e-6)

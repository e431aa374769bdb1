"""Optimizers against numbers computed by hand from the paper's equations."""

import numpy as np
import pytest

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


def test_adamw_decays_outside_the_adaptive_step():
    p = _param([2.0], [0.0])
    Adam([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(p.value, [2.0 * (1 - 0.1 * 0.5)])


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

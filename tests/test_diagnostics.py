"""Training-health statistics: correct on cases worked by hand, and read-only."""

import numpy as np
import pytest

from glassnet import diagnostics
from glassnet.nn.layers import Linear, ReLU
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp


def test_activation_stats_are_read_only_and_count_dead_relus(rng):
    model = Sequential([Linear(3, 4, rng=rng, dtype=np.float64), ReLU()])
    model.layers[0].weight.value[...] = [[1, -1, 0, 2], [1, -1, 0, 2], [1, -1, 0, 2]]
    x = rng.random((5, 3))                               # positive: units 1 and 2 never fire
    _, grad = softmax_cross_entropy(model.forward(x), np.zeros(5, np.intp))
    stats = diagnostics.activation_stats(model, rng.random((8, 3)), bins=4)
    assert [s.layer for s in stats] == ["0 Linear", "1 ReLU"]
    assert stats[1].dead_fraction == 0.5 and stats[0].dead_fraction is None
    assert stats[0].counts.sum() == 8 * 4 and len(stats[0].edges) == 5
    model.backward(grad)                                 # the training step in progress was not disturbed


def test_update_ratios_and_gradient_norms(rng):
    model = mlp([4, 3, 2], rng=rng, dtype=np.float64)
    before = diagnostics.snapshot(model)
    weight = model.layers[0].weight
    weight.value[...] *= 1.01
    ratios = diagnostics.update_ratios(before, model)
    assert ratios["0.weight"] == pytest.approx(0.01) and ratios["1.gamma"] == 0.0
    weight.grad[...] = 0.0
    weight.grad[0, 0] = -3.0
    weight.grad[1, 1] = 4.0
    assert diagnostics.gradient_norms(model)["0.weight"] == pytest.approx(5.0)


def test_batchnorm_ranges_and_first_layer_change(rng):
    model = mlp([4, 3, 2], rng=rng, dtype=np.float64)
    initial = model.layers[0].weight.value.copy()
    model.layers[1].gamma.value[...] = [0.5, 1.0, 2.0]
    assert diagnostics.batchnorm_ranges(model) == {"1": (0.5, 2.0, 0.0, 0.0)}
    model.layers[0].weight.value[0, 0] += 1.0
    change = diagnostics.first_layer_change(model, initial)
    assert change[0, 0] == pytest.approx(1.0) and np.count_nonzero(change) == 1


def test_saliency_is_the_gradient_of_the_predicted_probability_and_reads_only(rng):
    model = mlp([6, 5, 3], rng=rng, dropout=0.3, dtype=np.float64)
    model.forward(rng.random((8, 6)))                     # running statistics away from their start
    model.train()
    x = rng.random(6)
    before = [p.value.copy() for p in model.params()] + [b.copy() for b in model.buffers().values()]
    gradient, predicted = diagnostics.saliency(model, x)
    assert predicted == int(model.predict(x)[0])
    h = 1e-6
    numerical = [(model.predict_proba(x + h * e)[0, predicted] - model.predict_proba(x - h * e)[0, predicted]) / (2 * h)
                 for e in np.eye(6)]
    np.testing.assert_allclose(gradient, numerical, rtol=1e-6, atol=1e-10)
    after = [p.value for p in model.params()] + list(model.buffers().values())
    assert all(np.array_equal(a, b) for a, b in zip(before, after)) and model.training


def test_the_update_ratio_of_a_tensor_whose_norm_was_zero_is_nan_unmoved_and_inf_moved(rng):
    model = mlp([4, 3, 2], rng=rng, dtype=np.float64)
    model.layers[0].weight.value[...] = 0.0
    before = diagnostics.snapshot(model)                  # the layer's weight and batch norm's β are all 0
    model.layers[0].weight.value[0, 0] = 1e-3
    ratios = diagnostics.update_ratios(before, model)
    assert ratios["0.weight"] == np.inf and np.isnan(ratios["1.beta"])


def test_activation_stats_of_a_diverged_layer_leave_its_non_finite_values_out_of_the_histogram(rng):
    model = Sequential([Linear(3, 4, rng=rng, dtype=np.float64), ReLU()])
    model.layers[0].weight.value[0, 0] = np.inf
    model.layers[0].weight.value[1, 1] = np.nan
    stats = diagnostics.activation_stats(model, rng.random((8, 3)), bins=4)
    assert stats[0].not_finite == 16 and stats[0].counts.sum() == 8 * 4 - 16
    assert np.isnan(stats[0].mean) and np.isfinite(stats[0].edges).all()

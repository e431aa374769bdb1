"""Softmax and cross-entropy: values, stability and validation."""

import numpy as np
import pytest

from glassnet.nn.losses import log_softmax, softmax, softmax_cross_entropy


def test_softmax_rows_sum_to_one(rng):
    p = softmax(rng.standard_normal((5, 10)))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_cross_entropy_value_and_gradient_by_hand():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    labels = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss, grad = softmax_cross_entropy(logits, labels)
    assert loss == pytest.approx(-(np.log(p[0, 0]) + np.log(p[1, 2])) / 2)
    expected = p.copy()
    expected[[0, 1], labels] -= 1.0
    np.testing.assert_allclose(grad, expected / 2)              # (Ŷ − Y) / m


def test_label_smoothing_by_hand():
    logits = np.array([[1.0, 0.0, -1.0, 0.5]])
    log_p = log_softmax(logits)
    q = np.full(4, 0.1 / 4)
    q[2] += 0.9
    loss, grad = softmax_cross_entropy(logits, np.array([2]), label_smoothing=0.1)
    assert loss == pytest.approx(-(q * log_p[0]).sum())
    np.testing.assert_allclose(grad[0], np.exp(log_p[0]) - q)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_huge_logits_stay_finite(scale):
    logits = np.array([[scale, 0.0, -scale], [0.0, scale, 1.0]], np.float32)
    loss, grad = softmax_cross_entropy(logits, np.array([2, 0]))
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert np.isfinite(log_softmax(logits)).all() and np.isfinite(softmax(logits)).all()


def test_float32_stays_float32():
    _, grad = softmax_cross_entropy(np.zeros((2, 3), np.float32), np.array([0, 1]))
    assert grad.dtype == np.float32


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 10]), r"labels must lie in \[0, 10\)"),
    (np.array([0, -1]), r"labels must lie in \[0, 10\)"),
    (np.array([0, 1, 2]), r"labels must have shape \(2,\)"),
    (np.array([[0], [1]]), r"labels must have shape \(2,\)"),
    (np.array([0.0, 1.0]), "labels must be integers"),
])
def test_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        softmax_cross_entropy(np.zeros((2, 10)), labels)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_logits(bad):
    logits = np.zeros((2, 3))
    logits[1, 1] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        softmax_cross_entropy(logits, np.array([0, 1]))


def test_weighted_cross_entropy_by_hand():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [0.0, 0.2, 1.0]])
    labels, weights = np.array([0, 2, 1]), np.array([3.0, 1.0, 0.0])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss, grad = softmax_cross_entropy(logits, labels, weights=weights)
    assert loss == pytest.approx(-(3.0 * np.log(p[0, 0]) + np.log(p[1, 2])) / 4.0)   # Σ w ℓ / Σ w
    expected = p.copy()
    expected[[0, 1, 2], labels] -= 1.0
    np.testing.assert_allclose(grad, expected * weights[:, None] / 4.0)                # w (P − Y) / Σ w
    assert not grad[2].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_weights_of_one_give_the_unweighted_loss_bit_for_bit(rng, dtype, label_smoothing):
    logits, labels = (rng.standard_normal((37, 10)) * 3).astype(dtype), rng.integers(0, 10, 37)
    loss, grad = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing)
    loss_w, grad_w = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing, weights=np.ones(37))
    assert loss_w == loss and grad_w.dtype == grad.dtype
    np.testing.assert_array_equal(grad_w, grad)


def test_a_batch_of_weight_zero_has_loss_and_gradient_zero(rng):
    loss, grad = softmax_cross_entropy(rng.standard_normal((4, 3)), np.array([0, 1, 2, 0]), weights=np.zeros(4))
    assert loss == 0.0 and not grad.any()


@pytest.mark.parametrize("weights, message", [
    (np.array([1.0, -1.0]), "finite and ≥ 0"),
    (np.array([1.0, np.nan]), "finite and ≥ 0"),
    (np.array([1.0, 1.0, 1.0]), "2 floats, one per sample"),
    (np.array([1, 1]), "2 floats, one per sample"),
])
def test_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), weights=weights)

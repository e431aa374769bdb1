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

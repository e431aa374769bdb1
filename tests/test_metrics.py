"""Metrics against values computed by hand."""

import numpy as np
import pytest

from glassnet.metrics import ClassificationReport, confusion_matrix


def test_confusion_matrix_by_hand():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(confusion_matrix(labels, predicted, 3),
                                  [[1, 1, 0], [0, 2, 1], [0, 0, 1]])


def test_report_by_hand():
    report = ClassificationReport.from_predictions(np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 2, 2]), 3)
    # class 0: TP 1, FP 0, FN 1; class 1: TP 2, FP 1, FN 1; class 2: TP 1, FP 1, FN 0
    np.testing.assert_allclose(report.precision, [1.0, 2 / 3, 0.5])
    np.testing.assert_allclose(report.recall, [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(report.f1, [2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_array_equal(report.support, [2, 3, 1])
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.macro("precision") == pytest.approx((1 + 2 / 3 + 0.5) / 3)
    assert report.weighted("recall") == pytest.approx((2 * 0.5 + 3 * 2 / 3 + 1 * 1.0) / 6)
    d = report.to_dict()
    assert d["per_class"]["1"]["support"] == 3 and d["confusion_matrix"][1] == [0, 2, 1]
    text = report.format()
    assert "macro avg" in text and "weighted avg" in text and "0.6667" in text


def test_class_never_predicted_has_zero_precision_not_nan():
    report = ClassificationReport.from_predictions(np.array([0, 1]), np.array([0, 0]), 3)
    assert report.precision[1] == 0.0 and report.f1[2] == 0.0
    assert np.isfinite(report.precision).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="two"):
        confusion_matrix(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match=r"predictions must lie in \[0, 3\)"):
        confusion_matrix(np.array([0]), np.array([3]), 3)

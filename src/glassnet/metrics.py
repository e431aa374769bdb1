"""Classification metrics: confusion matrix, accuracy, per-class and averaged precision/recall/F1.

For class c with true positives TP, false positives FP and false negatives FN:
precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2PR / (P + R);
a ratio with a zero denominator is reported as 0 (as scikit-learn does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


def confusion_matrix(labels: NDArray[np.integer], predictions: NDArray[np.integer],
                     n_classes: int = 10) -> NDArray[np.int64]:
    """counts[true, predicted], shape (C, C)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(f"labels and predictions must be two (N,) arrays, got {labels.shape} and {predictions.shape}")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if len(values) and (values.min() < 0 or values.max() >= n_classes):
            raise ValueError(f"{name} must lie in [0, {n_classes}), got {values.min()} to {values.max()}")
    counts = np.bincount(labels.astype(np.int64) * n_classes + predictions, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def _ratio(numerator: NDArray[np.floating], denominator: NDArray[np.floating]) -> NDArray[np.floating]:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64),
                     where=denominator > 0)


@dataclass(frozen=True)
class ClassificationReport:
    """Per-class precision, recall, F1 and support, from a confusion matrix."""

    confusion: NDArray[np.int64]

    @classmethod
    def from_predictions(cls, labels: NDArray[np.integer], predictions: NDArray[np.integer],
                         n_classes: int = 10) -> ClassificationReport:
        return cls(confusion_matrix(labels, predictions, n_classes))

    @property
    def support(self) -> NDArray[np.int64]:
        return self.confusion.sum(axis=1)

    @property
    def precision(self) -> NDArray[np.floating]:
        return _ratio(np.diag(self.confusion).astype(np.float64), self.confusion.sum(axis=0).astype(np.float64))

    @property
    def recall(self) -> NDArray[np.floating]:
        return _ratio(np.diag(self.confusion).astype(np.float64), self.support.astype(np.float64))

    @property
    def f1(self) -> NDArray[np.floating]:
        p, r = self.precision, self.recall
        return _ratio(2 * p * r, p + r)

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0

    def macro(self, metric: str) -> float:
        """Unweighted mean over classes of ``precision``, ``recall`` or ``f1``."""
        return float(np.mean(getattr(self, metric)))

    def weighted(self, metric: str) -> float:
        """Support-weighted mean over classes."""
        total = self.support.sum()
        return float(np.sum(getattr(self, metric) * self.support) / total) if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        metrics = ("precision", "recall", "f1")
        return {
            "accuracy": self.accuracy,
            "macro": {m: self.macro(m) for m in metrics},
            "weighted": {m: self.weighted(m) for m in metrics},
            "per_class": {str(c): {"precision": float(self.precision[c]), "recall": float(self.recall[c]),
                                   "f1": float(self.f1[c]), "support": int(self.support[c])}
                          for c in range(len(self.confusion))},
            "confusion_matrix": self.confusion.tolist(),
        }

    def format(self, digits: int = 4) -> str:
        """The familiar classification-report table."""
        width = digits + 5
        def row(name: object, p: float, r: float, f: float, support: int) -> str:
            return (f"{name!s:>12}{p:>{width + 2}.{digits}f}{r:>{width}.{digits}f}{f:>{width}.{digits}f}"
                    f"{support:>{width}}")

        total = int(self.support.sum())
        lines = [f"{'':>12}{'precision':>{width + 2}}{'recall':>{width}}{'f1-score':>{width}}{'support':>{width}}", ""]
        lines += [row(c, self.precision[c], self.recall[c], self.f1[c], int(self.support[c]))
                  for c in range(len(self.confusion))]
        accuracy = f"{'accuracy':>12}{'':>{width * 2 + 2}}{self.accuracy:>{width}.{digits}f}{total:>{width}}"
        lines += ["", accuracy]
        lines += [row(name, average("precision"), average("recall"), average("f1"), total)
                  for name, average in (("macro avg", self.macro), ("weighted avg", self.weighted))]
        return "\n".join(lines)

    def format_confusion(self) -> str:
        """The confusion matrix as text: rows are true classes, columns predictions."""
        n = len(self.confusion)
        lines = ["true\\pred" + "".join(f"{c:>6}" for c in range(n))]
        lines += [f"{c:>9}" + "".join(f"{v:>6}" for v in row) for c, row in enumerate(self.confusion)]
        return "\n".join(lines)

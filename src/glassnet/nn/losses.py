"""Softmax and cross-entropy, made stable by the log-sum-exp trick.

logits (N, C), labels (N,) integers in [0, C). Losses are batch means.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from glassnet.nn.params import Array


def log_softmax(logits: Array) -> Array:
    """log pᵢ = zᵢ − max z − log Σⱼ exp(zⱼ − max z); shifting by max z keeps exp ≤ 1."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: Array) -> Array:
    """pᵢ = exp(zᵢ − max z) / Σⱼ exp(zⱼ − max z), row-wise."""
    exps = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)


class NonFiniteLogitsError(ValueError):
    """The logits hold NaN or inf: the model diverged or its input was not finite."""


def check_labels(labels: NDArray[np.integer], n_samples: int, n_classes: int) -> None:
    """Raise ``ValueError`` unless labels are (n_samples,) integers in [0, n_classes)."""
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},) to match the logits, got {labels.shape}")
    if n_samples and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got values from "
                         f"{labels.min()} to {labels.max()}")


def softmax_cross_entropy(logits: Array, labels: NDArray[np.integer], *,
                          label_smoothing: float = 0.0) -> tuple[float, Array]:
    """Mean cross-entropy L = −(1/N) Σₙ Σᵢ qₙᵢ log pₙᵢ and dL/dlogits = (P − Q) / N.

    Q is one-hot (Y) when ``label_smoothing`` ε is 0, else (1 − ε) Y + ε / C.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {logits.shape}")
    n, n_classes = logits.shape
    check_labels(labels, n, n_classes)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if not np.isfinite(logits).all():
        raise NonFiniteLogitsError("logits contain NaN or inf; the model diverged or its input is not finite")
    log_p = log_softmax(logits)
    rows = np.arange(n)
    grad = np.exp(log_p)                                   # P
    if label_smoothing:
        uniform = label_smoothing / n_classes
        loss = -((1.0 - label_smoothing) * log_p[rows, labels].sum() + uniform * log_p.sum()) / n
        grad -= log_p.dtype.type(uniform)
        grad[rows, labels] -= 1.0 - label_smoothing
    else:
        loss = -log_p[rows, labels].sum() / n
        grad[rows, labels] -= 1.0                          # P − Y
    grad /= n
    return float(loss), grad

"""Softmax and cross-entropy, made stable by the log-sum-exp trick.

logits (N, C), labels (N,) integers in [0, C), optional weights (N,) ≥ 0. Losses are batch means,
weighted means when weights are given.
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


def check_weights(weights: NDArray[np.floating], n_samples: int, name: str = "weights") -> None:
    """Raise ``ValueError`` unless weights are (n_samples,) finite floats ≥ 0; ``name`` is theirs in the message."""
    if not np.issubdtype(weights.dtype, np.floating) or weights.shape != (n_samples,):
        raise ValueError(f"{name} must be {n_samples} floats, one per sample, got {weights.dtype} of shape "
                         f"{weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"{name} must be finite and ≥ 0, got values from {weights.min()} to {weights.max()}")


def softmax_cross_entropy(logits: Array, labels: NDArray[np.integer], *, label_smoothing: float = 0.0,
                          weights: NDArray[np.floating] | None = None) -> tuple[float, Array]:
    """Weighted mean cross-entropy L = −(1/W) Σₙ wₙ Σᵢ qₙᵢ log pₙᵢ, W = Σₙ wₙ, and dL/dlogits = w (P − Q) / W.

    Without ``weights`` every wₙ is 1 and W = N: the batch mean. A batch of total weight 0 has loss 0
    and gradient 0. Q is one-hot (Y) when ``label_smoothing`` ε is 0, else (1 − ε) Y + ε / C.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {logits.shape}")
    n, n_classes = logits.shape
    check_labels(labels, n, n_classes)
    if weights is not None:
        check_weights(weights, n)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if not np.isfinite(logits).all():
        raise NonFiniteLogitsError("logits contain NaN or inf; the model diverged or its input is not finite")
    log_p = log_softmax(logits)
    rows = np.arange(n)
    grad = np.exp(log_p)                                   # P
    # (N, 1) weights in the logits' dtype: weights of 1 leave every product, and so every sum, as it was
    w = None if weights is None else weights.astype(log_p.dtype, copy=False)[:, None]
    weighted = log_p if w is None else log_p * w          # wₙ log pₙᵢ
    total = n if w is None else float(w.sum()) or 1.0     # W; a weightless batch divides 0 by 1
    if label_smoothing:
        uniform = label_smoothing / n_classes
        loss = -((1.0 - label_smoothing) * weighted[rows, labels].sum() + uniform * weighted.sum()) / total
        grad -= log_p.dtype.type(uniform)
        grad[rows, labels] -= 1.0 - label_smoothing
    else:
        loss = -weighted[rows, labels].sum() / total
        grad[rows, labels] -= 1.0                          # P − Y
    if w is None:
        grad /= n
    else:
        grad *= w                                          # wₙ (Pₙ − Qₙ)
        grad /= total
    return float(loss), grad

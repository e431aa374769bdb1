"""Training-health statistics of a model: what each layer's activations, gradients and updates look like.

Every function only reads the model (activations come from the pure inference path, ``trace``), so
they can be called between any two training steps without changing what training computes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from glassnet.nn.layers import Activation, BatchNorm, Linear
from glassnet.nn.losses import softmax
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array

RULE_OF_THUMB = 1e-3     # a healthy update moves a weight matrix by about a thousandth of its size per step


@dataclass(frozen=True)
class ActivationStats:
    """One layer's output on a batch: its summary, a histogram of its finite values, and (after ReLU) the dead units."""

    layer: str
    mean: float                          # NaN or ±inf when some outputs are
    std: float
    counts: NDArray[np.intp]
    edges: NDArray[np.float64]
    dead_fraction: float | None          # ReLU outputs only (Activation.can_die): units 0 for every sample of the batch
    not_finite: int = 0                  # outputs that are NaN or ±inf (a diverging run), left out of the histogram


def activation_stats(model: Sequential, x: Array, bins: int = 30) -> list[ActivationStats]:
    """Statistics of every layer's output for inputs x (N, D), in inference mode."""
    stats = []
    for i, (layer, out) in enumerate(zip(model.layers, model.trace(x))):
        finite = np.isfinite(out)
        counts, edges = np.histogram(out[finite], bins=bins)      # a histogram's range must be finite
        dead = float(np.mean(~np.any(out > 0, axis=0))) if isinstance(layer, Activation) and layer.can_die else None
        with np.errstate(invalid="ignore", over="ignore"):         # inf − inf in the mean of a diverged layer
            mean, std = float(out.mean()), float(out.std())
        stats.append(ActivationStats(f"{i} {type(layer).__name__}", mean, std, counts, edges.astype(np.float64),
                                     dead, int(out.size - np.count_nonzero(finite))))
    return stats


def gradient_norms(model: Sequential) -> dict[str, float]:
    """‖∂L/∂θ‖ of every parameter tensor, from the gradients of the last backward pass."""
    return {name: float(np.linalg.norm(p.grad)) for name, p in model.named_params().items()}


def snapshot(model: Sequential) -> dict[str, Array]:
    """Copies of every parameter tensor, to measure an update against later."""
    return {name: p.value.copy() for name, p in model.named_params().items()}


def update_ratios(before: dict[str, Array], model: Sequential) -> dict[str, float]:
    """‖θ_now − θ_before‖ / ‖θ_before‖ per tensor: how much one update (or several) moved it, relatively.

    A tensor whose norm was 0 (batch norm's β before its first update) has no such ratio: NaN when it
    did not move either (0/0), +inf when it did.
    """
    ratios = {}
    for name, p in model.named_params().items():
        size = float(np.linalg.norm(before[name]))
        moved = float(np.linalg.norm(p.value - before[name]))
        ratios[name] = moved / size if size else float("inf") if moved else float("nan")
    return ratios


def batchnorm_ranges(model: Sequential) -> dict[str, tuple[float, float, float, float]]:
    """(min γ, max γ, min β, max β) of every batch-norm layer, by layer index."""
    return {f"{i}": (float(layer.gamma.value.min()), float(layer.gamma.value.max()),
                     float(layer.beta.value.min()), float(layer.beta.value.max()))
            for i, layer in enumerate(model.layers) if isinstance(layer, BatchNorm)}


def first_layer_change(model: Sequential, initial: Array) -> Array:
    """W − W₀ of the first Linear (784, D): what training added to the random start."""
    first = next(layer for layer in model.layers if isinstance(layer, Linear))
    return first.weight.value - initial


def saliency(model: Sequential, x: Array) -> tuple[Array, int]:
    """∂p(predicted)/∂x for one input x (D,): where a small change of ink would most change the answer.

    One inference-mode forward and backward through the layers' own ``backward``, on a private
    copy of the model, so the model itself is only read. Returns the gradient (D,) and the class.
    """
    copy_ = copy.deepcopy(model).eval()
    logits = copy_.forward(np.asarray(x, model.dtype).reshape(1, -1))
    p = softmax(logits.astype(np.float64))[0]
    c = int(p.argmax())
    grad = -p[c] * p                                   # ∂p_c/∂z_j = p_c ([j = c] − p_j)
    grad[c] += p[c]
    dx = copy_.backward(grad[None, :].astype(model.dtype))
    return np.asarray(dx)[0], c

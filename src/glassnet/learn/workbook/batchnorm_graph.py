"""Exercise 5: batch normalization's backward pass, step by step along its computational graph.

Forward (training), per feature over the batch of N rows:
    μ = (1/N) Σₙ xₙ      σ² = (1/N) Σₙ (xₙ − μ)²  (biased)      x̂ = (x − μ) / √(σ² + eps)      y = γ x̂ + β

Backward, one node at a time, with G = ∂L/∂y:
    ∂L/∂β = Σₙ G        ∂L/∂γ = Σₙ G x̂        ∂L/∂x̂ = γ G
    ∂L/∂σ² = Σₙ ∂L/∂x̂ₙ · (xₙ − μ) · (−½)(σ² + eps)^(−3/2)
    ∂L/∂μ  = −Σₙ ∂L/∂x̂ₙ / √(σ² + eps)          (the path through σ² contributes Σₙ(xₙ − μ) = 0)
    ∂L/∂xₙ = ∂L/∂x̂ₙ / √(σ² + eps) + ∂L/∂σ² · 2(xₙ − μ)/N + ∂L/∂μ / N

Write it as these steps; the next exercise folds them into one formula.
Read first: docs page "Batch normalization".   Check with:  glassnet learn check . batchnorm_graph
"""

import numpy as np


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      eps: float = 1e-5) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """y (N, D) and a cache dict holding what backward needs (x, μ, σ², x̂, γ, eps …)."""
    raise NotImplementedError("μ, σ² (biased), x̂, y = γ x̂ + β; return y and a cache")


def batchnorm_backward(grad_out: np.ndarray, cache: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray,
                                                                                     np.ndarray]:
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β), node by node as in the docstring above."""
    raise NotImplementedError("∂L/∂β, ∂L/∂γ, ∂L/∂x̂, ∂L/∂σ², ∂L/∂μ, then ∂L/∂x")

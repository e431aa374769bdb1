"""Exercise 1: the linear layer.

    Z = X W + b          X (N, D_in), W (D_in, D_out), b (D_out,), Z (N, D_out)

Backward, with G = ∂L/∂Z of shape (N, D_out):

    ∂L/∂W = Xᵀ G  (D_in, D_out)      ∂L/∂b = Σₙ G  (D_out,)      ∂L/∂X = G Wᵀ  (N, D_in)

Rules of every layer: forward caches what backward needs; backward *assigns*
each parameter's gradient (self.weight.grad = ...), returns ∂L/∂X, and never
changes its argument.
Read first: docs page "The linear layer".   Check with:  glassnet learn check . linear
"""

import numpy as np

from glassnet.nn.init import he_normal
from glassnet.nn.params import Param


class Linear:
    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator,
                 bias: bool = True, dtype: type = np.float32) -> None:
        self.in_features, self.out_features = in_features, out_features
        self.weight = Param(he_normal(rng, in_features, out_features, dtype), name="weight")
        self.bias = Param(np.zeros(out_features, dtype), name="bias") if bias else None
        self.training = True
        self.x = None                                   # the cache: set it in forward

    def params(self) -> list[Param]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def buffers(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Z = X W + b (no bias term when self.bias is None). Cache X for backward."""
        raise NotImplementedError("compute Z = X W (+ b) and keep X in self.x")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Assign self.weight.grad (and self.bias.grad); return ∂L/∂X."""
        raise NotImplementedError("dW = Xᵀ G, db = Σₙ G, return G Wᵀ")

"""Exercise 1: the linear layer.

    Z = X W + b          X (N, D_in), W (D_in, D_out), b (D_out,), Z (N, D_out)

backward receives G = ∂L/∂Z, of shape (N, D_out). It must
    assign self.weight.grad     ∂L/∂W, of shape (D_in, D_out)
    assign self.bias.grad       ∂L/∂b, of shape (D_out,)          (when the layer has a bias)
    return                      ∂L/∂X, of shape (N, D_in)
Derive them: write one entry of Z as a sum, and find every entry of Z a weight, a bias or an
input touches.

A Param (self.weight, self.bias) holds two arrays of one shape: .value, the numbers the layer computes
with, and .grad, the gradient backward assigns.
Rules of every layer: forward never changes its input, and caches what backward needs; backward
*assigns* each parameter's gradient (self.weight.grad = ...), returns ∂L/∂X, and never changes its
argument or a parameter's value.
Stuck? glassnet learn hint linear  (one step at a time)
Worked derivation, to compare once yours passes: docs page "The linear layer".
Check with:  glassnet learn check . linear
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
        """Z = X W + b (no bias term when self.bias is None); keep what backward will need."""
        raise NotImplementedError("compute Z = X W (+ b), and cache what backward needs")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Assign self.weight.grad (and self.bias.grad); return ∂L/∂X."""
        raise NotImplementedError("derive ∂L/∂W, ∂L/∂b and ∂L/∂X first (glassnet learn hint linear)")

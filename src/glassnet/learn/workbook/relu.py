"""Exercise 2: ReLU.

    y = max(x, 0)         element-wise, any shape

backward receives G = ∂L/∂y (the shape of y) and returns ∂L/∂x (the shape of x). Derive the
derivative of max(x, 0) on each side of 0; at exactly 0 it has none: take 0 there, as every
framework does.

Rules of every layer: forward never changes its input, and caches what backward needs; backward
returns a new array and never changes its argument.
Stuck? glassnet learn hint relu  (one step at a time)
Worked derivation, to compare once yours passes: docs page "ReLU and dropout", its section "ReLU" (the next
section is exercise 4's answer).
Check with:  glassnet learn check . relu
"""

import numpy as np

from glassnet.nn.params import Param


class ReLU:
    def __init__(self) -> None:
        self.training = True
        self.active = None                              # the cache: set it in forward

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError("return max(x, 0), a new array, and cache what backward needs")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("derive ∂L/∂x first (glassnet learn hint relu)")

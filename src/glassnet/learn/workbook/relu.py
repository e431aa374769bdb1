"""Exercise 2: ReLU.

    y = max(x, 0)         ∂L/∂x = G where x > 0, else 0        (any shape)

Read first: docs page "ReLU and dropout".   Check with:  glassnet learn check . relu
"""

import numpy as np

from glassnet.nn.params import Param


class ReLU:
    def __init__(self) -> None:
        self.training = True
        self.active = None                              # the cache: where x > 0

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError("remember where x > 0, return max(x, 0)")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("let G through where x was > 0, zero elsewhere (a new array)")

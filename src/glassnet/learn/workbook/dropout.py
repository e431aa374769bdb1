"""Exercise 4: inverted dropout.

    training:  y = x · mask,   mask = keep / (1 − p),   keep ~ Bernoulli(1 − p) drawn from self.rng
    inference: y = x           (E[y] = x in training, so nothing needs rescaling at test time)
    backward:  ∂L/∂x = G · mask      (the mask of the forward pass)

Read first: docs page "ReLU and dropout".   Check with:  glassnet learn check . dropout
"""

import numpy as np

from glassnet.nn.params import Param


class Dropout:
    def __init__(self, p: float, *, rng: np.random.Generator) -> None:
        self.p = p
        self.rng = rng
        self.training = True
        self.mask = None                                # the cache: the mask of the last forward

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """In training, draw keep = self.rng.random(x.shape) >= p and scale kept units; identity otherwise."""
        raise NotImplementedError("training: mask = keep / (1 − p), return x · mask; eval: return x")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("G · mask in training; G itself when forward was the identity")

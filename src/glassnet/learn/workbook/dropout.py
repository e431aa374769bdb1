"""Exercise 4: inverted dropout.

    training:  y = x · mask,   mask = keep / (1 − p),   keep ~ Bernoulli(1 − p), one draw per entry,
               drawn from self.rng (so that one seed fixes the run)
    inference: y = x           (E[y] = x in training, so nothing needs rescaling at test time)

p is the probability of *dropping* a unit. backward receives G = ∂L/∂y and returns ∂L/∂x; derive
it for the forward pass that ran last (training or inference).

Rules of every layer: forward never changes its input, and caches what backward needs; backward
draws nothing, returns a new array and never changes its argument.
Stuck? glassnet learn hint dropout  (one step at a time)
Worked derivation, to compare once yours passes: docs page "ReLU and dropout", its section "Inverted dropout".
Check with:  glassnet learn check . dropout
"""

import numpy as np

from glassnet.nn.params import Param


class Dropout:
    def __init__(self, p: float, *, rng: np.random.Generator) -> None:
        self.p = p
        self.rng = rng
        self.training = True
        self.mask = None                                # the cache: set it in forward

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """In training, keep = self.rng.random(x.shape) >= p and scale the kept units; the identity otherwise."""
        raise NotImplementedError("training: y = x · mask; inference: y = x")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("derive ∂L/∂x first (glassnet learn hint dropout)")

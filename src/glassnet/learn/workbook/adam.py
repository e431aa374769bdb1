"""Exercise 7: Adam (Kingma & Ba, 2014), with bias correction.

For each parameter θ with gradient g, at step t = 1, 2, …:
    m ← β₁ m + (1 − β₁) g             v ← β₂ v + (1 − β₂) g²
    m̂ = m / (1 − β₁ᵗ)                 v̂ = v / (1 − β₂ᵗ)
    θ ← θ − lr · m̂ / (√v̂ + eps)

Update each p.value in place (p.value -= ...), so that the layers see the change.
Read first: docs page "Adam and the schedule".   Check with:  glassnet learn check . adam
"""

import numpy as np

from glassnet.nn.params import Param


class Adam:
    def __init__(self, params: list[Param], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        self.m = [np.zeros_like(p.value) for p in self.params]
        self.v = [np.zeros_like(p.value) for p in self.params]

    def step(self) -> None:
        """One update of every parameter from its p.grad."""
        raise NotImplementedError("t += 1; update m and v; correct both; move each p.value")

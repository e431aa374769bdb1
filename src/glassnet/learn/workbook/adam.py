"""Exercise 7: Adam (Kingma & Ba, 2014), with bias correction.

For each parameter θ with gradient g, at step t = 1, 2, …, two moving averages start at 0:
    m ← β₁ m + (1 − β₁) g             v ← β₂ v + (1 − β₂) g²
and the step is
    θ ← θ − lr · m̂ / (√v̂ + eps)
where m̂ and v̂ are m and v corrected for having started at 0: unbiased estimates of E[g] and
E[g²] at step t. Derive the correction: what is E[m] after t steps, if every g has mean E[g]?

Keep t, and one m and one v per parameter, in the attributes below; update each p.value in place
(p.value -= ...), so that whoever holds the array sees the step (only checkpoint loading rebinds it).
Stuck? glassnet learn hint adam  (one step at a time)
Worked derivation, to compare once yours passes: docs page "Adam and the schedule".
Check with:  glassnet learn check . adam
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
        raise NotImplementedError("count the step, update m and v, correct them, move each p.value")

"""The fast path: the same optimizer as ``nn/optim.py``, rearranged to make no temporary arrays.

``Adam.step`` in ``optim.py`` is the textbook update, one formula per line;
each line allocates its result, and over a model's 235,530 parameters those
allocations and extra passes cost about five times the update itself.
``FusedAdam`` computes the same update in place, in the ordering Kingma & Ba
give in Section 2 of the paper: the two bias corrections become one scalar
step size, α_t = α · √(1 − β₂ᵗ) / (1 − β₁ᵗ), and ε becomes ε̂ = ε · √(1 − β₂ᵗ):

    θ ← θ − α_t · m / (√v + ε̂)   =   θ − α · m̂ / (√v̂ + ε)   (exactly, in real arithmetic).

Its state (``m``, ``v``, ``t``) is the textbook optimizer's, so checkpoints of
either resume with the other; tests prove the two equal step by step.
"""

from __future__ import annotations

import math

import numpy as np

from glassnet.nn.optim import Adam
from glassnet.nn.params import Param


class FusedAdam(Adam):
    """``Adam`` (and AdamW) with the update computed in place, over preallocated scratch arrays."""

    def __init__(self, params: list[Param], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
        self._scratch = [np.empty_like(p.value) for p in self.params]   # one work array per parameter

    def step(self) -> None:
        """One update of every parameter from its current ``grad``, in place, allocating nothing."""
        beta1, beta2 = self.betas
        self.t += 1
        correction1, correction2 = 1.0 - beta1**self.t, 1.0 - beta2**self.t
        step_size = self.lr * math.sqrt(correction2) / correction1          # α_t
        eps_hat = self.eps * math.sqrt(correction2)                          # ε̂
        for p, m, v, work in zip(self.params, self.m, self.v, self._scratch):
            g = p.grad
            if self.weight_decay and p.decay:
                p.value *= 1.0 - self.lr * self.weight_decay
            m *= beta1
            m += np.multiply(g, 1.0 - beta1, out=work)                       # m ← β₁m + (1−β₁)g
            v *= beta2
            np.square(g, out=work)
            work *= 1.0 - beta2
            v += work                                                        # v ← β₂v + (1−β₂)g²
            np.sqrt(v, out=work)
            work += eps_hat                                                  # work = √v + ε̂
            np.divide(m, work, out=work)                                     # work = m / (√v + ε̂)
            work *= step_size
            p.value -= work                                                  # θ ← θ − α_t m / (√v + ε̂)

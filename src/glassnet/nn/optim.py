"""Optimizers over a flat list of ``Param``s: ``Adam`` (optionally AdamW) and ``SGD``.

The optimizer receives its parameters once; its state arrays run parallel to
that list. ``lr`` is a public attribute that the training loop sets from a
schedule before each ``step()``. Give it ``model.params()``.
"""

from __future__ import annotations

import numpy as np

from glassnet.nn.params import Array, Param


class Adam:
    """Adam (Kingma & Ba, 2014) with bias correction; AdamW when ``weight_decay`` > 0.

    With g = dL/dθ at step t = 1, 2, …:
        m ← β₁ m + (1 − β₁) g            v ← β₂ v + (1 − β₂) g²
        m̂ = m / (1 − β₁ᵗ)               v̂ = v / (1 − β₂ᵗ)
        θ ← θ − lr · m̂ / (√v̂ + eps)
    Decoupled weight decay (Loshchilov & Hutter, 2019) first shrinks
    θ ← θ · (1 − lr · weight_decay), outside the adaptive scaling, for the
    weight matrices only (``Param.decay``): biases, gamma and beta are not decayed.
    """

    def __init__(self, params: list[Param], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        if lr < 0 or eps <= 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam needs lr ≥ 0, 0 ≤ betas < 1, eps > 0, weight_decay ≥ 0; got lr={lr}, "
                             f"betas={betas}, eps={eps}, weight_decay={weight_decay}")
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = 0
        self.m = [np.zeros_like(p.value) for p in self.params]      # first moments, one per parameter
        self.v = [np.zeros_like(p.value) for p in self.params]      # second moments

    def step(self) -> None:
        """One update of every parameter from its current ``grad``, in place."""
        beta1, beta2 = self.betas
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            if self.weight_decay and p.decay:
                p.value *= 1.0 - self.lr * self.weight_decay
            m[...] = beta1 * m + (1.0 - beta1) * g                   # m ← β₁m + (1−β₁)g
            v[...] = beta2 * v + (1.0 - beta2) * g**2                # v ← β₂v + (1−β₂)g²
            m_hat = m / (1.0 - beta1**self.t)                        # m̂ = m / (1 − β₁ᵗ)
            v_hat = v / (1.0 - beta2**self.t)                        # v̂ = v / (1 − β₂ᵗ)
            p.value -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)  # θ ← θ − lr · m̂ / (√v̂ + eps)

    def state(self) -> dict[str, Array]:
        """Moments and step count as arrays, for checkpoints."""
        arrays = {f"m.{i}": m for i, m in enumerate(self.m)} | {f"v.{i}": v for i, v in enumerate(self.v)}
        return arrays | {"t": np.array(self.t)}

    def load_state(self, state: dict[str, Array]) -> None:
        """Restore what ``state()`` returned; shapes must match the parameters."""
        for i, p in enumerate(self.params):
            for name, target in (("m", self.m[i]), ("v", self.v[i])):
                saved = state[f"{name}.{i}"]
                if saved.shape != p.value.shape:
                    raise ValueError(f"optimizer state {name}.{i} has shape {saved.shape}, "
                                     f"parameter has {p.value.shape}")
                if not np.isfinite(saved).all():
                    raise ValueError(f"optimizer state {name}.{i} contains NaN or inf")
                target[...] = saved
        self.t = int(state["t"])


class SGD:
    """Stochastic gradient descent with (PyTorch-style) momentum μ.

    b ← μ b + g,  θ ← θ − lr · b   (plain SGD when μ = 0).
    """

    def __init__(self, params: list[Param], lr: float = 0.1, momentum: float = 0.0) -> None:
        if lr < 0 or not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD needs lr ≥ 0 and 0 ≤ momentum < 1, got lr={lr}, momentum={momentum}")
        self.params = list(params)
        self.lr, self.momentum = lr, momentum
        self.t = 0
        self.velocity = [np.zeros_like(p.value) for p in self.params]

    def step(self) -> None:
        self.t += 1
        for p, b in zip(self.params, self.velocity):
            b *= self.momentum
            b += p.grad
            p.value -= self.lr * b

    def state(self) -> dict[str, Array]:
        return {f"velocity.{i}": b for i, b in enumerate(self.velocity)} | {"t": np.array(self.t)}

    def load_state(self, state: dict[str, Array]) -> None:
        for i, b in enumerate(self.velocity):
            if state[f"velocity.{i}"].shape != b.shape:
                raise ValueError(f"optimizer state velocity.{i} has shape {state[f'velocity.{i}'].shape}, "
                                 f"parameter has {b.shape}")
            b[...] = state[f"velocity.{i}"]
        self.t = int(state["t"])

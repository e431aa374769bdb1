"""Gradient clipping by global norm: when ‖g‖ = √(Σ over every parameter of Σ g²) exceeds ``max_norm``,
every gradient is scaled by max_norm / ‖g‖, so the step keeps its direction and loses its size. Gradients
that are not finite cannot be scaled: the run stops as diverged."""

from __future__ import annotations

import math

import numpy as np

from glassnet.errors import DivergenceError
from glassnet.nn.model import Sequential
from glassnet.train.callbacks import Callback, Logs


class GradientClipping(Callback):
    """Clips between backward and update, on either path; records ``grad_norm`` (before clipping)."""

    def __init__(self, max_norm: float) -> None:
        if not max_norm > 0:
            raise ValueError(f"max_norm must be > 0, got {max_norm}")
        self.max_norm = max_norm
        self.model: Sequential | None = None

    def on_fit_start(self, model: Sequential, logs: Logs) -> None:
        self.model = model

    def on_before_update(self, step: int, logs: Logs) -> None:
        assert self.model is not None, "on_fit_start comes first"
        grads = [p.grad for p in self.model.params()]
        norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))   # float32 squares overflow
        logs["grad_norm"] = norm
        if not math.isfinite(norm):
            raise DivergenceError(f"training diverged: the gradients are not finite at step {step} (lr "
                                  f"{logs['lr']:g}); clipping cannot scale them.\nhelp: start a new run with a lower "
                                  "learning rate (--lr)")
        if norm > self.max_norm:
            scale = self.max_norm / norm
            for g in grads:
                g *= g.dtype.type(scale)

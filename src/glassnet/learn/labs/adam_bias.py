"""Lab: Adam without bias correction — the first steps of each variant, in units of the learning rate."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.learn.labs.data import LabData, train
from glassnet.learn.labs.lab import Lab, Number, Result
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import Adam
from glassnet.nn.params import Param

VARIANTS = {"both corrected (Adam)": (True, True), "m only": (True, False), "v only": (False, True),
            "neither": (False, False)}


class AdamVariant(Adam):
    """Adam with either bias correction switched off (for this lab only)."""

    def __init__(self, params: list[Param], correct_m: bool, correct_v: bool, lr: float = 1e-3) -> None:
        super().__init__(params, lr=lr)
        self.correct_m, self.correct_v = correct_m, correct_v

    def step(self) -> None:
        beta1, beta2 = self.betas
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v):
            m[...] = beta1 * m + (1 - beta1) * p.grad
            v[...] = beta2 * v + (1 - beta2) * p.grad ** 2
            m_hat = m / (1 - beta1 ** self.t) if self.correct_m else m
            v_hat = v / (1 - beta2 ** self.t) if self.correct_v else v
            p.value -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class StepSizes:
    """Records mean |Δθ| / lr over all parameters after each step."""

    def __init__(self, model: Sequential) -> None:
        self.sizes: list[float] = []
        self._before = np.concatenate([p.value.ravel() for p in model.params()])

    def record(self, model: Sequential, optimizer: Any) -> None:
        now = np.concatenate([p.value.ravel() for p in model.params()])
        self.sizes.append(float(np.abs(now - self._before).mean() / optimizer.lr))
        self._before = now


def run(data: LabData) -> Result:
    """One epoch of the reference network with each variant; mean |Δθ| / lr of every step, and the final loss."""
    figures: dict[str, Any] = {}
    lines = []
    for name, (correct_m, correct_v) in VARIANTS.items():
        model = mlp([784, 256, 128, 10], rng=np.random.default_rng(0), dropout=0.2)
        steps = StepSizes(model)
        losses = train(model, data, epochs=1, optimizer=AdamVariant(model.params(), correct_m, correct_v),
                       on_step=steps.record)
        sizes = steps.sizes
        final = float(np.mean(losses[-20:]))
        figures[name] = {"step_sizes": sizes, "final_loss": final}
        tenth = f"{sizes[9]:5.2f}·lr" if len(sizes) >= 10 else "  (fewer than 10 steps)"
        lines.append(f"{name:<22} step 1: {sizes[0]:6.2f}·lr   step 10: {tenth}   loss after one epoch {final:.4f}")
    factor = figures["m only"]["step_sizes"][0] / figures["both corrected (Adam)"]["step_sizes"][0]
    lines.append(f"first step with m only corrected: {factor:.1f} times Adam's")
    return Result(factor, tuple(lines), figures)


def draw(result: Result, axes: Any) -> None:
    for name in VARIANTS:
        sizes = result.figures[name]["step_sizes"][:40]
        axes.semilogy(range(1, len(sizes) + 1), sizes, label=name)
    axes.set(xlabel="step", ylabel="mean |Δθ| / lr")
    axes.legend(fontsize=8)


LAB = Lab(
    name="adam-bias",
    title="Adam without bias correction",
    question="Adam's moments m and v start at zero, and Adam divides them by 1−β₁ᵗ and 1−β₂ᵗ (β₁ = 0.9, "
             "β₂ = 0.999) to undo that. Correct only m and not v: how many times larger than Adam's is the very first "
             "step (the mean |Δθ| over all parameters)?",
    predict=Number("a factor: how many times Adam's first step", "times", "3"),
    run=run,
    explanation="At step 1, m = (1−β₁)g and v = (1−β₂)g². Adam divides both back, so its step is about "
                "lr · g/|g| = lr per parameter. Correcting only m leaves v too small by 1−β₂ = 0.001, and the "
                "step grows by 1/√0.001 ≈ 32; correcting neither gives (1−β₁)/√(1−β₂) ≈ 3; correcting only v "
                "gives 1−β₁ = 0.1. The factors fade as t grows, for v only after hundreds of steps "
                "(1−0.999ᵗ reaches 0.5 at t ≈ 693), so for a whole epoch the uncorrected variants behave like "
                "Adam with a different learning rate (compare the losses above).",
    look_for="first steps much larger (or smaller) than the steps that follow, and a run whose early behaviour "
             "changes when only the number of steps already taken changes.",
    code=(AdamVariant, StepSizes, run),
    draw=draw,
)

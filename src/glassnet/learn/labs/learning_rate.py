"""Lab: a learning rate too high — one epoch of Adam at four rates."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.learn.labs.data import LabData, train
from glassnet.learn.labs.lab import Choice, Lab, Result
from glassnet.nn.losses import NonFiniteLogitsError
from glassnet.nn.model import mlp

RATES = (1e-3, 1e-2, 1e-1, 1.0)


def run(data: LabData) -> Result:
    """One epoch of the reference network with Adam at each rate: the loss per step and the test accuracy."""
    figures: dict[str, Any] = {}
    lines = []
    for lr in RATES:
        model = mlp([784, 256, 128, 10], rng=np.random.default_rng(0), dropout=0.2)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                losses = train(model, data, epochs=1, lr=lr)
        except NonFiniteLogitsError:
            figures[f"{lr:g}"] = {"losses": [], "accuracy": 0.0, "diverged": True}
            lines.append(f"lr {lr:<6g} diverged: the logits became NaN or inf")
            continue
        accuracy = float((model.predict(data.x_test) == data.y_test).mean())
        figures[f"{lr:g}"] = {"losses": losses, "accuracy": accuracy, "diverged": False}
        lines.append(f"lr {lr:<6g} final loss {np.mean(losses[-10:]):.3f}   test accuracy {accuracy:.2%}")
    best = max(RATES, key=lambda lr: figures[f"{lr:g}"]["accuracy"])
    return Result(f"{best:g}", tuple(lines), figures)


def draw(result: Result, axes: Any) -> None:
    for rate, figures in result.figures.items():
        if figures["losses"]:
            window = min(10, len(figures["losses"]))
            axes.semilogy(np.convolve(figures["losses"], np.ones(window) / window, mode="valid"), label=f"lr {rate}")
    axes.set(xlabel="step", ylabel="training loss (10-step mean)")
    axes.legend(fontsize=8)


LAB = Lab(
    name="learning-rate",
    title="A learning rate too high",
    question="The reference recipe trains for 50 epochs with Adam at lr = 10⁻³. Train the reference network for "
             "one epoch only, at lr 10⁻³, 10⁻², 10⁻¹ and 1: which rate ends that epoch with the best test accuracy?",
    predict=Choice(tuple(f"{lr:g}" for lr in RATES)),
    run=run,
    explanation="A rate is chosen for a length of training: 10⁻³ suits 50 epochs, where a larger rate would "
                "keep the weights bouncing late in training. Over a single epoch a larger step gets further "
                "before that matters, until the steps overshoot so much that the loss stalls high or the logits "
                "overflow.",
    look_for="a loss that falls fast and then stalls high or wanders up, a noisy plateau far above the loss of "
             "a smaller rate, and in the worst case NaN (glassnet's `fit` then stops with a `DivergenceError` that "
             "names the step and the learning rate).",
    code=(run,),
    draw=draw,
)

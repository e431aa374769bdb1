"""Lab: no batch norm at all — the reference network with and without it, epoch by epoch."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.learn.labs.data import LabData, train
from glassnet.learn.labs.lab import Lab, Number, Result
from glassnet.nn.model import mlp

EPOCHS = 4


def run(data: LabData) -> Result:
    """The reference network with and without batch norm (same Adam, rate, data): test accuracy after each epoch."""
    curves: dict[str, list[float]] = {}
    lines = []
    for batchnorm in (True, False):
        model = mlp([784, 256, 128, 10], rng=np.random.default_rng(0), dropout=0.2, batchnorm=batchnorm)
        curve = []
        for epoch in range(EPOCHS):
            train(model, data, epochs=1, seed=epoch)
            curve.append(float((model.predict(data.x_test) == data.y_test).mean()))
        name = "on" if batchnorm else "off"
        curves[name] = curve
        lines.append(f"batch norm {name:<3}: " + "  ".join(f"{a:.2%}" for a in curve))
    lead = [100 * (on - off) for on, off in zip(curves["on"], curves["off"])]
    lines.append("lead of batch norm, in points: " + "  ".join(f"{d:+.2f}" for d in lead))
    return Result(lead[0], tuple(lines), {"accuracy": curves, "lead_points": lead})


def draw(result: Result, axes: Any) -> None:
    for name, curve in result.figures["accuracy"].items():
        axes.plot(range(1, len(curve) + 1), [100 * a for a in curve], marker="o", label=f"batch norm {name}")
    axes.set(xlabel="epoch", ylabel="test accuracy (%)")
    axes.legend()


LAB = Lab(
    name="batchnorm",
    title="No batch norm at all",
    question="The reference network trained with and without batch norm (same Adam, same learning rate, same "
             "data). After the first epoch, how many points of test accuracy is the network with batch norm "
             "ahead (negative if behind)?",
    predict=Number("points of test accuracy (negative if behind)", "points", "2"),
    run=run,
    explanation="Batch norm keeps every layer's input at zero mean and unit variance whatever the weights do, so "
                "a step on one layer does not shift the ground under the next; the network can take larger "
                "effective steps early. The lead is largest while the weights move most, in the first epochs, "
                "and narrows as both networks converge.",
    look_for="how quickly the test accuracy rises in the first epochs, and how the network copes when the "
             "learning rate is raised (the learning-rate lab).",
    code=(run,),
    draw=draw,
)

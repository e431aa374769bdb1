"""Lab: a backward bug that still trains — and the gradient check that catches it at once.

Two bugs that crash nothing: a ReLU whose backward inverts its mask, and a dropout layer whose backward
draws a fresh mask instead of the forward's. The same small network trains with the correct layers and
with each bug; then ``check_model`` compares each backward with finite differences on a tiny network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from glassnet.learn.labs.data import LabData, train
from glassnet.learn.labs.lab import Choice, Lab, Result
from glassnet.nn.gradcheck import GradCheckReport, check_model
from glassnet.nn.layers import Dropout, Linear, ReLU
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array

OPTIONS = ("it crashes", "the loss becomes NaN", "it trains, to a worse model", "it trains as well as the correct one")
EPOCHS = 3


class InvertedReLU(ReLU):
    """ReLU with the bug: backward lets the gradient through where the unit was off, and stops it where it was on."""

    def derivative(self, x: Array, y: Array) -> NDArray[Any]:
        return x <= 0                                          # the correct mask is x > 0


class RedrawnDropout(Dropout):
    """Dropout with the bug: backward multiplies by a fresh mask instead of the one its forward used."""

    def backward(self, grad_out: Array) -> Array:
        return grad_out * self.draw_mask(grad_out.shape, grad_out.dtype)   # the correct mask is self.mask


VARIANTS = {"correct backward": (ReLU, Dropout), "ReLU mask inverted": (InvertedReLU, Dropout),
            "dropout mask redrawn": (ReLU, RedrawnDropout)}


def network(relu: type[ReLU], dropout: type[Dropout], sizes: tuple[int, int, int] = (784, 256, 10), *,
            dtype: Any = np.float32) -> Sequential:
    """Linear → ReLU → Dropout(0.2) → Linear, from seed 0, built with the given ReLU and Dropout."""
    rng = np.random.default_rng(0)
    d_in, hidden, d_out = sizes
    return Sequential([Linear(d_in, hidden, rng=rng, dtype=dtype), relu(), dropout(0.2, rng=rng),
                       Linear(hidden, d_out, rng=rng, dtype=dtype)])


def checked(model: Sequential) -> GradCheckReport:
    """``check_model`` on 8 random inputs of a tiny network (float64, training mode: dropout on)."""
    rng = np.random.default_rng(1)
    x, labels = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    return check_model(model, x, labels, rng=rng)


def suspects(model: Sequential, failing: list[str]) -> str:
    """The layers between the highest layer whose gradient fails and the lowest above it whose gradient passes:
    the gradient is right above the bug and wrong from it down. ``failing`` holds names like "0.weight"."""
    layers = {int(name.split(".")[0]) for name in model.named_params()}
    below = max((int(name.split(".")[0]) for name in failing if name != "input"), default=-1)
    above = min((i for i in layers if i > below), default=len(model.layers))
    return " or ".join(f"layer {i} ({type(model.layers[i]).__name__})" for i in range(below + 1, above))


def run(data: LabData) -> Result:
    """Train the network with each variant for 3 epochs (Adam, lr 1e-3), then gradient-check each on a tiny one."""
    figures: dict[str, Any] = {}
    lines = ["training loss: the mean of the first 20 steps → of the last 20 (every run starts from the same "
             "weights; the bugs act from the first step)"]
    for name, (relu, dropout) in VARIANTS.items():
        model = network(relu, dropout)
        losses = train(model, data, epochs=EPOCHS)
        accuracy = float((model.predict(data.x_test) == data.y_test).mean())
        report = checked(network(relu, dropout, (6, 5, 3), dtype=np.float64))
        failing = [row.name for row in report.rows if not GradCheckReport([row]).passed()]
        figures[name] = {"accuracy": accuracy, "losses": losses, "finite": bool(np.isfinite(losses).all()),
                         "check_passed": report.passed(), "check_failing": failing,
                         "max_rel_error": report.max_rel_error}
        lines.append(f"{name:<21} training loss {np.mean(losses[:20]):.3f} → {np.mean(losses[-20:]):.3f}   "
                     f"test accuracy {accuracy:.2%}")
    lines.append("")
    lines.append("check_model on a tiny network (6-5-3, float64), each backward against finite differences:")
    for name, (relu, dropout) in VARIANTS.items():
        found = figures[name]
        verdict = "PASS" if found["check_passed"] else f"FAIL in {', '.join(found['check_failing'])}"
        lines.append(f"{name:<21} largest relative error {found['max_rel_error']:.1e}   {verdict}")
        if not found["check_passed"]:
            where = suspects(network(relu, dropout, (6, 5, 3)), found["check_failing"])
            lines.append(f"{'':<21} so the bug lies in {where}")
    correct, inverted = figures["correct backward"], figures["ReLU mask inverted"]
    answer = (OPTIONS[1] if not inverted["finite"] else
              OPTIONS[2] if correct["accuracy"] - inverted["accuracy"] > 0.01 else OPTIONS[3])
    return Result(answer, tuple(lines), figures)


def draw(result: Result, axes: Any) -> None:
    for name, figures in result.figures.items():
        window = min(20, len(figures["losses"]))
        smooth = np.convolve(figures["losses"], np.ones(window) / window, mode="valid")
        axes.plot(smooth, label=f"{name}: {figures['accuracy']:.1%} on test")
    axes.set(xlabel="step", ylabel="training loss (20-step mean)", yscale="log")
    axes.legend(fontsize=8)


LAB = Lab(
    name="backward-bug",
    title="A backward bug that still trains",
    question="A ReLU whose backward inverts its mask: the gradient flows through the units that were off and "
             "stops at the units that were on. The forward pass is untouched. Train a Linear-ReLU-Dropout-Linear "
             "network with it for 3 epochs: what happens? (The lab also trains the same network with a second bug, "
             "a dropout whose backward draws a fresh mask instead of the one its forward used.)",
    predict=Choice(OPTIONS),
    run=run,
    explanation="A wrong gradient is not a crash; it is a worse model, sometimes only slightly. The last layer's "
                "gradient does not pass through the bug, so it still fits the logits to whatever features the first "
                "layer offers, and the loss falls in every run: without the correct run beside it, nothing says that "
                "a run is broken. The redrawn dropout mask is subtler still: on average it is the right mask, so its "
                "gradient is right in expectation and only noisier. `check_model` says it at once, and it names the "
                "tensors whose gradient is wrong: the last layer passes and everything below the bug fails, so the "
                "bug lies between the last passing layer and the first failing one. Run a gradient check whenever "
                "you write or change a backward (`glassnet gradcheck`, or `check_model` in code).",
    look_for="a model that trains but ends a few points short of what the same recipe reached before a change "
             "to the code; a gradient check that fails on the tensors below one layer.",
    code=(InvertedReLU, RedrawnDropout, network, checked, suspects, run),
    draw=draw,
)

"""Lab: initialization without batch norm — the scale of the signal through eight layers at step 0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from glassnet.learn.labs.data import LabData
from glassnet.learn.labs.lab import Lab, Number, Result
from glassnet.nn.layers import Linear, ReLU
from glassnet.nn.model import Sequential

INITS: dict[str, Callable[[int], float]] = {
    "zeros": lambda fan_in: 0.0,
    "N(0, 1)": lambda fan_in: 1.0,
    "N(0, 0.01²)": lambda fan_in: 0.01,
    "He: N(0, 2/fan_in)": lambda fan_in: float(np.sqrt(2 / fan_in)),
}


def deep(init_std: Callable[[int], float]) -> Sequential:
    """8 Linear layers (784 → 256 ×7 → 10) with ReLU between, weights N(0, init_std(fan_in)²), biases 0."""
    rng, layers, sizes = np.random.default_rng(0), [], [784] + [256] * 7 + [10]
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = Linear(d_in, d_out, rng=rng, dtype=np.float64)
        linear.weight.value[...] = rng.standard_normal((d_in, d_out)) * init_std(d_in)
        layers += [linear] + ([ReLU()] if i < len(sizes) - 2 else [])
    return Sequential(layers)


def run(data: LabData) -> Result:
    """The standard deviation of each linear layer's output at initialization, one batch of 256 digits."""
    figures, lines = {}, []
    for name, init_std in INITS.items():
        net = deep(init_std)
        outputs = [out for layer, out in zip(net.layers, net.trace(data.x_train[:256])) if isinstance(layer, Linear)]
        stds = [float(out.std()) for out in outputs]
        figures[name] = stds
        lines.append(f"{name:<20}" + " ".join(f"{s:9.2e}" for s in stds))
    return Result(float(np.log10(figures["N(0, 1)"][-1])), tuple(lines), figures)


def draw(result: Result, axes: Any) -> None:
    for name, stds in result.figures.items():
        axes.semilogy(range(1, 9), np.maximum(stds, 1e-30), marker="o", label=name)
    axes.set(xlabel="linear layer", ylabel="std of its output")
    axes.legend(fontsize=8)


LAB = Lab(
    name="init",
    title="Initialization without batch norm",
    question="Eight linear layers of 256 units with ReLU between them and no batch norm, weights drawn from "
             "N(0, 1), biases 0, one batch of digits at initialization. The standard deviation of the last "
             "layer's output is about 10 to the power k: what is k?",
    predict=Number("the power of ten k", "", "2"),
    run=run,
    explanation="Without batch norm nothing rescales the activations. A ReLU layer with weights of standard "
                "deviation σ multiplies the scale by about σ√(fan_in/2): N(0, 1) by √(256/2) ≈ 11 per layer, "
                "until the logits are astronomically large; N(0, 0.01²) by about 0.11, until the signal vanishes; "
                "He's σ² = 2/fan_in keeps it level. Zeros give every unit the same output and the same gradient: "
                "the units stay identical forever (and here the output is exactly 0).",
    look_for="activation statistics per layer at step 0 (the training-health page shows how): a standard deviation "
             "that grows or shrinks geometrically with depth.",
    code=(deep, run),
    draw=draw,
)

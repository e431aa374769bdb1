"""Lab: a bias just before batch norm — its gradient, how far it wanders, and what it changes."""

from __future__ import annotations

import numpy as np

from glassnet.learn.labs.data import LabData, train
from glassnet.learn.labs.lab import Choice, Lab, Result
from glassnet.nn.layers import BatchNorm, Linear, ReLU
from glassnet.nn.model import Sequential

OPTIONS = ("exactly zero", "tiny: rounding noise, a million times smaller than its neighbours'",
           "about as large as its neighbours'")


def run(data: LabData) -> Result:
    """One epoch of Linear(bias) → BatchNorm → ReLU → Linear; the bias's gradient beside β's, then the bias reset."""
    rng = np.random.default_rng(0)
    first, batchnorm = Linear(784, 256, rng=rng, bias=True), BatchNorm(256)
    with_bias = Sequential([first, batchnorm, ReLU(), Linear(256, 10, rng=rng)])
    _, bias = first.params()                                   # [weight, bias]
    largest = {"bias": 0.0, "beta": 0.0}

    def record(model: Sequential, optimizer: object) -> None:
        largest["bias"] = max(largest["bias"], float(np.abs(bias.grad).max()))
        largest["beta"] = max(largest["beta"], float(np.abs(batchnorm.beta.grad).max()))

    train(with_bias, data, epochs=1, on_step=record)
    wandered = float(np.abs(bias.value).max())
    batch = data.x_test[:256]
    outputs = with_bias.forward(batch)
    learned = bias.value.copy()
    bias.value[...] = 0.0
    change = float(np.abs(with_bias.forward(batch) - outputs).max())
    bias.value[...] = learned
    ratio = largest["bias"] / largest["beta"]
    answer = OPTIONS[0] if largest["bias"] == 0 else OPTIONS[1] if ratio < 1e-3 else OPTIONS[2]
    lines = (f"largest |∂L/∂bias| over the epoch: {largest['bias']:.1e}; largest |∂L/∂β| of the batch norm after it: "
             f"{largest['beta']:.1e} (ratio {ratio:.0e})",
             f"how far the bias wandered in one epoch (max |b|): {wandered:.4f}",
             f"largest change of any logit when the bias is reset to 0 (training mode, one batch): {change:.1e}")
    return Result(answer, lines, {"bias_grad": largest["bias"], "beta_grad": largest["beta"], "ratio": ratio,
                                  "bias_max": wandered, "logit_change": change})


LAB = Lab(
    name="bias-before-batchnorm",
    title="A bias before batch norm",
    question="A linear layer with a bias feeds batch norm; the network trains for one epoch with Adam. How large "
             "is that bias's gradient, compared with the gradient of batch norm's own shift β just after it?",
    predict=Choice(OPTIONS),
    run=run,
    explanation="Batch norm subtracts the batch mean, so a bias added just before it cancels: its true gradient "
                "is exactly zero. In floating point it is rounding noise, and Adam, which divides by √v̂, turns "
                "noise into steps of about the learning rate: the bias wanders, yet resetting it changes the "
                "logits only at float32's rounding level. It costs memory and optimizer work; glassnet's `mlp` "
                "leaves the bias out of a linear layer that feeds batch norm.",
    look_for="parameters whose gradient is about a millionth of their neighbours' and that do not affect the "
             "output.",
    code=(run,),
)

"""Lab: forgetting ``eval()`` — predicting with the training path, whose answers depend on the batch."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.learn.labs.data import LabData, reference_network
from glassnet.learn.labs.lab import Lab, Number, Result

BATCH_SIZES = (2, 4, 16, 64, 256, 2000)


def run(data: LabData) -> Result:
    """The trained reference network asked in training mode (batch norm on batch statistics, dropout on),
    test digits in batches of each size, against the inference path."""
    network = reference_network(data)
    right = float((network.predict(data.x_test) == data.y_test).mean())    # first: training mode moves the
    forgot = []                                                           # running statistics of batch norm
    for size in BATCH_SIZES:
        network.train()                              # the forgotten eval(): forward takes the training path
        logits = np.concatenate([network.forward(data.x_test[i:i + size]) for i in range(0, len(data.x_test), size)])
        forgot.append(float((logits.argmax(axis=1) == data.y_test).mean()))
    lines = [f"training mode, test batches of {size:>4}: accuracy {acc:.2%}" for size, acc in zip(BATCH_SIZES, forgot)]
    lines.append(f"inference mode (any batch size):     accuracy {right:.2%}")
    return Result(100 * forgot[0], tuple(lines),
                  {"batch_sizes": list(BATCH_SIZES), "training_mode_accuracy": forgot, "inference_accuracy": right})


def draw(result: Result, axes: Any) -> None:
    figures = result.figures
    axes.semilogx(figures["batch_sizes"], [100 * a for a in figures["training_mode_accuracy"]], marker="o",
                  label="training mode (eval() forgotten)")
    axes.axhline(100 * figures["inference_accuracy"], color="tab:green", label="inference mode")
    axes.set(xlabel="test batch size", ylabel="test accuracy (%)")
    axes.legend()


LAB = Lab(
    name="eval-mode",
    title="Forgetting eval()",
    question="The reference network, trained for 2 epochs, is asked about the test digits in training mode "
             "(`model.eval()` forgotten), two digits per batch. In inference mode it gets most of them right. "
             "What test accuracy does it reach in training mode, at test batch 2?",
    predict=Number("a test accuracy in %", "%", "85"),
    run=run,
    explanation="In training mode batch norm normalizes each unit with the mean and variance of the batch it "
                "is given. With two digits in a batch every unit becomes about ±1 whatever the digits, so the "
                "answer depends on which other digit shares the batch, and dropout adds chance on top. As the "
                "batch grows its statistics approach the running averages and the accuracy recovers. glassnet's "
                "`predict` and `evaluate` take the inference path, which cannot make this mistake.",
    look_for="test accuracy that changes with the evaluation batch size, or predictions that change when the "
             "same digit is sent twice, or with other digits beside it.",
    code=(run,),
    draw=draw,
)

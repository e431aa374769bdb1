"""Lab: the wrong dropout scale at test time — activations 1/(1−p) times larger than in training."""

from __future__ import annotations

from glassnet.learn.labs.data import LabData, figures_on_test, reference_network
from glassnet.learn.labs.lab import Choice, Lab, Result
from glassnet.nn.layers import Dropout
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array, Param

OPTIONS = ("the accuracy collapses (more than 5 points lost)",
           "the accuracy stays within 5 points, but the test loss moves",
           "nothing measurable changes")


class Scale:
    """Multiplies by a constant: dropout's test-time factor, forgotten (a layer with no parameters)."""

    training = False

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, Array]:
        return {}

    def forward(self, x: Array) -> Array:
        return x * self.factor

    def backward(self, grad_out: Array) -> Array:
        return grad_out * self.factor

    def infer(self, x: Array) -> Array:
        return x * self.factor


def run(data: LabData) -> Result:
    """The trained reference network at inference, as trained and with each dropout layer replaced by 1/(1−p)."""
    network = reference_network(data)
    wrong = Sequential([Scale(1 / (1 - layer.p)) if isinstance(layer, Dropout) else layer for layer in network.layers])
    figures, lines = {}, []
    for name, model in (("as trained", network), ("test-time scale wrong", wrong)):
        accuracy, loss, confidence = figures_on_test(model.infer(data.x_test), data.y_test)
        figures[name] = {"accuracy": accuracy, "loss": loss, "confidence": confidence}
        lines.append(f"{name:<22} accuracy {accuracy:.2%}   loss {loss:.4f}   mean confidence {confidence:.3f}")
    before, after = figures["as trained"], figures["test-time scale wrong"]
    if before["accuracy"] - after["accuracy"] > 0.05:
        answer = OPTIONS[0]
    elif abs(after["loss"] - before["loss"]) > 0.01 * before["loss"]:
        answer = OPTIONS[1]
    else:
        answer = OPTIONS[2]
    return Result(answer, tuple(lines), figures)


LAB = Lab(
    name="dropout-scale",
    title="The wrong dropout scale at test time",
    question="Inverted dropout scales the kept units by 1/(1−p) in training, so inference is the identity. The "
             "classic bug of the non-inverted form forgets its test-time factor: for a network trained with "
             "dropout 0.2, test activations 1.25 times larger than in training after each dropout layer. "
             "What happens to the trained reference network's test accuracy and loss?",
    predict=Choice(OPTIONS),
    run=run,
    explanation="The accuracy barely moves because scaling a layer's activations hardly changes which logit "
                "is largest; but batch norm after the next linear layer normalizes with running statistics "
                "gathered at the training scale, so the larger activations pass through as larger logits: the "
                "network grows more confident, and its loss tells what its accuracy hides.",
    look_for="a test loss that is worse than the accuracy suggests, and probabilities pushed towards 0 and 1.",
    code=(Scale, run),
)

"""What ``fit`` trains on, and ``evaluate``: a model's loss, accuracy and predictions on labelled inputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from glassnet.data.batches import as_inputs
from glassnet.errors import ConfigError
from glassnet.nn.losses import check_weights, softmax_cross_entropy
from glassnet.nn.model import Sequential


@dataclass(frozen=True)
class TrainData:
    """Inputs (N, 784) and integer labels; ``eval_name`` is "test" or "validation".

    ``w_train`` weighs the training samples in the loss (``softmax_cross_entropy``'s weights),
    ``w_eval`` the evaluation samples in the evaluation's loss and accuracy (``evaluate``'s weights).

    Inputs are floats in [0, 1] or uint8 pixels, divided by 255 batch by
    batch (a quarter of the memory, and faster to gather)."""

    x_train: NDArray[np.floating]
    y_train: NDArray[np.integer]
    x_eval: NDArray[np.floating]
    y_eval: NDArray[np.integer]
    eval_name: str = "test"             # "validation" when x_eval is held out from training data
    description: dict[str, Any] = dataclasses.field(default_factory=dict)
    n_classes: int = 0                  # classes of the output layer; 0: the largest label + 1
    w_train: NDArray[np.floating] | None = None     # a weight ≥ 0 per training sample; None: all weigh the same
    w_eval: NDArray[np.floating] | None = None      # likewise per evaluation sample

    def __post_init__(self) -> None:
        for split, x, y in (("train", self.x_train, self.y_train), ("eval", self.x_eval, self.y_eval)):
            if x.ndim != 2 or x.shape[1] != self.x_train.shape[1]:
                raise ValueError(f"x_{split} must have shape (N, {self.x_train.shape[1]}), got {x.shape}")
            if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
                raise ValueError(f"x_{split} must hold uint8 pixels or floats in [0, 1], got dtype {x.dtype}")
            if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
                raise ValueError(f"x_{split} contains NaN or inf")
            if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"y_{split} must be {len(x)} integer labels to match x_{split}, "
                                 f"got {y.dtype} of shape {y.shape}")
        if len(self.x_train) < 2:
            raise ValueError(f"training needs at least 2 samples, got {len(self.x_train)}")
        for name, w, x in (("w_train", self.w_train, self.x_train), ("w_eval", self.w_eval, self.x_eval)):
            if w is not None:
                check_weights(w, len(x), name)
                if not w.sum() > 0:
                    raise ValueError(f"{name} gives every sample a weight of zero; give some sample a positive "
                                     "weight")
        labels = [y for y in (self.y_train, self.y_eval) if len(y)]
        if min(int(y.min()) for y in labels) < 0:
            raise ValueError("labels must be class indices ≥ 0")
        largest = max(int(y.max()) for y in labels)
        if self.n_classes == 0:
            object.__setattr__(self, "n_classes", largest + 1)
        elif largest >= self.n_classes:
            raise ValueError(f"n_classes is {self.n_classes} but a label is {largest}")

    @classmethod
    def from_mnist(cls, mnist: Any, validation_size: int, train_subset: int = 0) -> TrainData:
        """MNIST's uint8 pixels (divided by 255 batch by batch, a quarter of the memory of float32 inputs):
        the first ``train_subset`` training images (0: all), of which the last ``validation_size`` are held
        out for evaluation; with none held out, the evaluation set is the test set."""
        x_train, y_train = mnist.train_images.reshape(len(mnist.train_images), -1), mnist.train_labels
        if train_subset > len(x_train):
            raise ConfigError(f"train_subset {train_subset} asks for more training images than the data has "
                              f"({len(x_train)})")
        if train_subset:
            x_train, y_train = x_train[:train_subset], y_train[:train_subset]
        if validation_size > len(x_train) - 2:
            raise ConfigError(f"validation_size {validation_size} leaves fewer than 2 training images "
                              f"(of {len(x_train)}); hold out fewer")
        description = {"name": mnist.name, "official": mnist.official, "folder": str(mnist.folder),
                       "n_train": len(x_train) - validation_size, "n_test": len(mnist.test_labels)}
        if validation_size:
            cut = len(x_train) - validation_size
            return cls(x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:], "validation", description)
        x_test = mnist.test_images.reshape(len(mnist.test_images), -1)
        return cls(x_train, y_train, x_test, mnist.test_labels, "test", description)

    @property
    def sizes(self) -> list[int]:
        """The MLP's outer sizes for this data: inputs and classes."""
        return [int(self.x_train.shape[1]), self.n_classes]


def evaluate(model: Sequential, x: NDArray[np.floating], labels: NDArray[np.integer], *,
             weights: NDArray[np.floating] | None = None,
             batch_size: int = 2048) -> tuple[float, float, NDArray[np.intp]]:
    """Mean cross-entropy, accuracy and predictions of ``model`` in inference mode (it writes no state);
    with ``weights`` (N,), the loss and the accuracy are means weighted by them."""
    loss_sum, predictions = 0.0, []
    for start in range(0, len(x), batch_size):
        batch = slice(start, start + batch_size)
        logits = model.infer(as_inputs(x[batch], model.dtype))
        w = None if weights is None else weights[batch]
        loss, _ = softmax_cross_entropy(logits, labels[batch], weights=w)
        loss_sum += loss * (len(logits) if w is None else float(w.sum()))
        predictions.append(logits.argmax(axis=1))
    predicted = np.concatenate(predictions) if predictions else np.empty(0, np.intp)
    if weights is not None:
        total = float(weights.sum()) or 1.0
        return loss_sum / total, float(weights @ (predicted == labels)) / total, predicted
    n = max(len(x), 1)
    return loss_sum / n, float(np.mean(predicted == labels)) if len(x) else 0.0, predicted

"""The digits every lab runs on (a subset of MNIST, loaded once), the training loop they share, and the
reference network trained once for the labs that break it at test time."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from glassnet.data.mnist import Mnist, load_mnist, to_inputs
from glassnet.nn.losses import log_softmax, softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import Adam
from glassnet.nn.params import Array

N_TRAIN, N_TEST = 10_000, 2_000      # small enough that each lab runs in seconds
BATCH_SIZE = 128


@dataclass
class LabData:
    """Training and test inputs (N, 784) in [0, 1] with their labels (N,)."""

    x_train: Array
    y_train: NDArray[np.intp]
    x_test: Array
    y_test: NDArray[np.intp]
    _reference: Sequential | None = field(default=None, repr=False)    # trained on first use

    @classmethod
    def empty(cls) -> LabData:
        """No digits: for the labs that do not read them."""
        return cls(np.zeros((0, 784), np.float32), np.zeros(0, np.intp), np.zeros((0, 784), np.float32),
                   np.zeros(0, np.intp))

    def describe(self) -> str:
        return f"{len(self.x_train):,} training and {len(self.x_test):,} test digits"


def subset(mnist: Mnist, n_train: int = N_TRAIN, n_test: int = N_TEST) -> LabData:
    """The first ``n_train`` training and ``n_test`` test digits of ``mnist`` (all of them if fewer)."""
    return LabData(to_inputs(mnist.train_images[:n_train]), mnist.train_labels[:n_train].astype(np.intp),
                   to_inputs(mnist.test_images[:n_test]), mnist.test_labels[:n_test].astype(np.intp))


def load_data(data_dir: str | os.PathLike[str] | None = None) -> LabData:
    """The labs' subset of MNIST, from ``data_dir`` (default: $GLASSNET_DATA, then the user cache)."""
    return subset(load_mnist(data_dir))


def train(model: Sequential, data: LabData, *, epochs: int = 2, lr: float = 1e-3, optimizer: Any = None,
          seed: int = 0, on_step: Callable[[Sequential, Any], None] | None = None) -> list[float]:
    """The training loop written out: shuffled batches of 128, forward, loss, backward, one optimizer step.

    Returns the loss of every step. ``optimizer`` defaults to Adam at ``lr``; ``on_step(model, optimizer)``
    runs after each step.
    """
    optimizer = optimizer or Adam(model.params(), lr=lr)
    shuffle, losses = np.random.default_rng(seed), []
    for _ in range(epochs):
        model.train()
        order = shuffle.permutation(len(data.x_train))
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            loss, grad = softmax_cross_entropy(model.forward(data.x_train[batch]), data.y_train[batch])
            model.backward(grad, input_grad=False)
            optimizer.step()
            losses.append(loss)
            if on_step is not None:
                on_step(model, optimizer)
    return losses


def figures_on_test(logits: Array, labels: NDArray[np.intp]) -> tuple[float, float, float]:
    """Accuracy, mean cross-entropy and mean probability of the predicted class."""
    log_p = log_softmax(logits.astype(np.float64))
    return (float((logits.argmax(axis=1) == labels).mean()), float(-log_p[np.arange(len(labels)), labels].mean()),
            float(np.exp(log_p).max(axis=1).mean()))


def reference_network(data: LabData) -> Sequential:
    """A copy of the reference network (784-256-128-10, batch norm, dropout 0.2) after 2 epochs of Adam on
    ``data``; trained once per ``data``, so a lab may change its copy freely."""
    if data._reference is None:
        data._reference = mlp([784, 256, 128, 10], rng=np.random.default_rng(0), dropout=0.2)
        train(data._reference, data, epochs=2)
    return copy.deepcopy(data._reference)

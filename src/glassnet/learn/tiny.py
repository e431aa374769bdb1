"""The on-ramp's tiny network: three inputs, four hidden units, two classes, a batch of three, in float64.

Linear (no bias) → BatchNorm → ReLU → Linear, under softmax cross-entropy: small enough to print every value
and every gradient, and it holds every kind of node of the reference network but dropout. The on-ramp
(docs/onramp.ipynb) computes it, and the backward-stepping page (docs/backprop-stepper.md) draws it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from glassnet.nn.layers import BatchNorm, Linear, ReLU
from glassnet.nn.model import Sequential


def tiny_network() -> tuple[Sequential, NDArray[np.float64], NDArray[np.intp]]:
    """A fresh tiny network (its weights drawn from seed 0), its batch x (3, 3) and the batch's labels (3,)."""
    rng = np.random.default_rng(0)
    model = Sequential([Linear(3, 4, rng=rng, bias=False, dtype=np.float64), BatchNorm(4, dtype=np.float64), ReLU(),
                        Linear(4, 2, rng=rng, dtype=np.float64)])
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [-1.0, 1.0, 1.0]])
    labels = np.array([0, 1, 1])
    return model, x, labels

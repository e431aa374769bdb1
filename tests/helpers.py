"""Small helpers shared by tests."""

import numpy as np


def all_values(model) -> np.ndarray:
    """Every parameter of a model, concatenated into one new vector (for bit-for-bit comparisons)."""
    return np.concatenate([p.value.ravel() for p in model.params()])

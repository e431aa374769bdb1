"""Exercise 8: He initialization (He et al., 2015).

    W ~ N(0, 2 / fan_in), shape (fan_in, fan_out)

The factor 2 makes up for ReLU zeroing half of its inputs, so that E[z²] stays the same from layer to
layer. Draw only from the generator you are given: one seed must fix the whole run.
Read first: docs page "He initialization".   Check with:  glassnet learn check . init
"""

import numpy as np


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int, dtype: type = np.float32) -> np.ndarray:
    raise NotImplementedError("standard normal draws from rng, times √(2 / fan_in), in the given dtype")

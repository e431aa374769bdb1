"""Exercise 8: He initialization (He et al., 2015).

    W ~ N(0, σ²), independent entries, shape (fan_in, fan_out)

Choose σ² so that the variance of z = x W stays the same from layer to layer when each layer's
input x comes out of a ReLU: derive it from Var(z) in terms of Var(w) and E[x²]. Draw only from
the generator you are given (rng.standard_normal): one seed must fix the whole run.
Stuck? glassnet learn hint init  (one step at a time)
Worked derivation, to compare once yours passes: docs page "He initialization".
Check with:  glassnet learn check . init
"""

import numpy as np


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int, dtype: type = np.float32) -> np.ndarray:
    raise NotImplementedError("standard normal draws from rng, times the σ you derived, in the given dtype")

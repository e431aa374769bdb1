"""Weight initializers. Each takes an explicit ``np.random.Generator``.

Shapes follow ``Linear``: ``(fan_in, fan_out)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike, NDArray

#: (rng, fan_in, fan_out, dtype) → weights (fan_in, fan_out)
Initializer = Callable[[np.random.Generator, int, int, DTypeLike], NDArray[np.floating]]


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int,
              dtype: DTypeLike = np.float32) -> NDArray[np.floating]:
    """He et al. (2015): W ~ N(0, 2 / fan_in), keeping ReLU activations' variance constant."""
    std = np.sqrt(2.0 / fan_in)
    return (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int,
                   dtype: DTypeLike = np.float32) -> NDArray[np.floating]:
    """Glorot & Bengio (2010): W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype)


INITIALIZERS: dict[str, Initializer] = {"he_normal": he_normal, "glorot_uniform": glorot_uniform}

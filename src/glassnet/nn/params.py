"""``Param``: the contract between layers and optimizers.

A layer owns its ``Param``s and assigns ``grad`` in ``backward``; only an
optimizer (or checkpoint loading) writes ``value``. ``pack`` moves many
parameters into two flat buffers, so that an optimizer step over a whole model
is a handful of vector operations instead of one small loop per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]


@dataclass(eq=False)
class Param:
    """A trainable tensor and the gradient of the loss with respect to it.

    ``value`` and ``grad`` always have the same shape and dtype.
    """

    value: Array
    grad: Array
    name: str = ""

    @classmethod
    def zeros_like_grad(cls, value: Array, name: str = "") -> Param:
        """A parameter holding ``value`` with a zero gradient of the same shape."""
        return cls(value, np.zeros_like(value), name)

    @property
    def size(self) -> int:
        return int(self.value.size)


def pack(params: list[Param]) -> Param:
    """Move ``params`` into one flat value buffer and one flat grad buffer.

    Each ``Param``'s ``value`` and ``grad`` become reshaped views into the
    flat buffers (values are copied in; gradients start at zero). Returns the
    flat parameter, whose ``value``/``grad`` alias all of them at once.
    """
    if not params:
        raise ValueError("pack() needs at least one Param, got an empty list")
    dtype = params[0].value.dtype
    if any(p.value.dtype != dtype for p in params):
        raise TypeError(f"pack() needs one dtype, got {sorted({str(p.value.dtype) for p in params})}")
    total = sum(p.size for p in params)
    flat_value = np.empty(total, dtype=dtype)
    flat_grad = np.zeros(total, dtype=dtype)
    start = 0
    for p in params:
        stop = start + p.size
        flat_value[start:stop] = p.value.ravel()
        p.value = flat_value[start:stop].reshape(p.value.shape)
        p.grad = flat_grad[start:stop].reshape(p.value.shape)
        start = stop
    return Param(flat_value, flat_grad, "flat")

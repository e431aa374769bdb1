"""``Param``: the contract between layers and optimizers.

A layer owns its ``Param``s and assigns ``grad`` in ``backward``; only an
optimizer (or checkpoint loading) writes ``value``. Each ``Param`` is its own
array: there is no shared flat buffer that a rebinding could silently leave
behind, so ``p.value = new_array`` and ``p.grad = new_array`` are both safe
(they are checked for shape and dtype, and every optimizer reads ``p.value``
and ``p.grad`` afresh at each step).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.floating]


class Param:
    """A trainable tensor and the gradient of the loss with respect to it.

    ``value`` and ``grad`` always have the same shape and dtype; assigning an
    array of another shape or dtype raises ``ValueError``. ``decay`` says
    whether weight decay applies: weight matrices (``ndim ≥ 2``) only, the
    usual convention, never biases or BatchNorm's gamma and beta.
    """

    __slots__ = ("_grad", "_value", "name")

    def __init__(self, value: ArrayLike, grad: ArrayLike | None = None, name: str = "") -> None:
        array = np.asarray(value)
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"Param {name!r}: value must be a floating-point array, got dtype {array.dtype}")
        self.name = name
        self._value = array
        self._grad = np.zeros_like(array)
        if grad is not None:
            self.grad = np.asarray(grad)

    def _checked(self, array: Array, what: str) -> Array:
        if not isinstance(array, np.ndarray) or array.shape != self._value.shape or array.dtype != self._value.dtype:
            got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
            if isinstance(array, np.ndarray) and array.ndim == 2 and array.shape == self._value.shape[::-1]:
                got += " (transposed: is a matrix product in the wrong order?)"
            raise ValueError(f"Param {self.name!r}: {what} must be a {self._value.dtype} array of shape "
                             f"{self._value.shape}, got {got}; to change values in place write "
                             f"p.{what}[...] = new_values")
        return array

    @property
    def value(self) -> Array:
        return self._value

    @value.setter
    def value(self, array: Array) -> None:
        self._value = self._checked(array, "value")

    @property
    def grad(self) -> Array:
        return self._grad

    @grad.setter
    def grad(self, array: Array) -> None:
        self._grad = self._checked(array, "grad")

    @property
    def size(self) -> int:
        return int(self._value.size)

    @property
    def decay(self) -> bool:
        """Whether weight decay applies: to weight matrices, not to biases, gamma or beta."""
        return self._value.ndim >= 2

    def __repr__(self) -> str:
        return f"Param({self.name!r}, shape={self._value.shape}, dtype={self._value.dtype})"

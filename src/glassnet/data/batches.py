"""Seeded mini-batch iteration."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray


def batch_indices(n_samples: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[NDArray[np.intp]]:
    """Index arrays of one epoch: a fresh permutation from ``rng`` (None: in order), cut into batches.

    A final batch of a single sample is dropped: BatchNorm needs two samples
    to estimate a variance. Every other sample is seen once per epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    for start in range(0, n_samples, batch_size):
        batch = order[start:start + batch_size]
        if len(batch) == 1 and n_samples > 1:
            return
        yield batch


def n_batches(n_samples: int, batch_size: int) -> int:
    """How many batches ``batch_indices`` yields per epoch."""
    full, rest = divmod(n_samples, batch_size)
    return full + (1 if rest > 1 or (rest == 1 and n_samples == 1) else 0)


def as_inputs(x: NDArray, dtype: np.dtype,  # type: ignore[type-arg]
              out: NDArray[np.floating] | None = None) -> NDArray[np.floating]:
    """Network inputs from rows of ``x``: uint8 pixels divided by 255 (the one place that scaling lives).

    Floats pass through unchanged (cast to ``dtype``); ``out``, if given, receives the result.
    """
    if x.dtype == np.uint8:
        return np.divide(x, dtype.type(255.0), dtype=dtype, out=out)
    if out is None:
        return x.astype(dtype, copy=False)
    np.copyto(out, x)
    return out


def gather(x: NDArray, indices: NDArray[np.intp], out: NDArray[np.floating]) -> NDArray[np.floating]:  # type: ignore[type-arg]
    """Rows ``indices`` of ``x`` as inputs, written into the preallocated ``out[:len(indices)]``.

    Gathering uint8 pixels and converting the batch moves a quarter of the
    bytes that gathering float32 rows would.
    """
    out = out[:len(indices)]
    if x.dtype == np.uint8:
        return as_inputs(np.take(x, indices, axis=0), out.dtype, out=out)
    if x.dtype == out.dtype:
        return np.take(x, indices, axis=0, out=out)
    out[...] = x[indices]                                  # floats of another precision: converted
    return out

"""Comparing a learner's array with the right one, and naming the likely mistake when they differ."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

RTOL = 1e-6          # float64 throughout: a right formula agrees to ~1e-12, a wrong one by far more than this


def close(got: Any, want: np.ndarray, rtol: float = RTOL) -> bool:
    """Same shape and every entry within rtol of the largest |want| (an absolute scale: entries may be 0)."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if got.shape != np.shape(want) or not np.isfinite(got).all():
        return False
    scale = float(np.max(np.abs(want), initial=0.0)) or 1.0
    return bool(np.all(np.abs(got - want) <= rtol * scale))


def compare(got: Any, want: np.ndarray, what: str, *, n: int | None = None,
            mistakes: Sequence[tuple[str, np.ndarray]] = ()) -> str | None:
    """None when ``got`` equals ``want``; otherwise what is wrong, as precisely as it can be named.

    ``mistakes`` are (explanation, what that mistake would compute) pairs, tried in order;
    ``n`` is the batch size, so that a missing or extra factor of N can be named.
    """
    if got is None:
        return f"{what}: got None; return (or assign) the array"
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{what}: got {type(got).__name__}, expected an array of shape {np.shape(want)}"
    want = np.asarray(want, dtype=np.float64)
    if array.shape != want.shape:
        if array.shape == want.T.shape and close(array, want.T):
            return f"{what} is transposed: it must have shape {want.shape}, got {array.shape}"
        return f"{what} has shape {array.shape}, expected {want.shape}"
    if not np.isfinite(array).all():
        return f"{what} contains NaN or inf (for finite inputs)"
    if close(array, want):
        return None
    for explanation, wrong in mistakes:
        if np.shape(wrong) == want.shape and close(array, wrong):
            return f"{what}: {explanation}"
    denominator = float(np.sum(want * want))
    if denominator > 0:
        factor = float(np.sum(array * want)) / denominator
        if close(array, factor * want, rtol=1e-4):
            return f"{what}: {_factor(factor, n)}"
    difference = np.abs(array - want)
    index = np.unravel_index(int(np.argmax(difference)), want.shape)
    scale = float(np.max(np.abs(want), initial=0.0)) or 1.0
    return (f"{what} is wrong: largest difference {difference[index]:.3g} at index {tuple(map(int, index))} "
            f"(got {array[index]:.6g}, expected {want[index]:.6g}; {difference[index] / scale:.1e} of its scale)")


def _factor(factor: float, n: int | None) -> str:
    if n is not None and abs(factor - n) < 1e-3 * n:
        return f"too large by a factor of N = {n} (the batch size): is it summed where a mean is meant?"
    if n is not None and abs(factor * n - 1) < 1e-3:
        return (f"too small by a factor of N = {n} (the batch size): divided by N once too often? "
                "The loss gradient already carries the 1/N of the mean")
    if abs(factor + 1) < 1e-3:
        return "has the wrong sign"
    return f"off by a constant factor of {factor:.4g}"

"""Comparing a learner's array with the right one: the mistake named with its evidence, or plainly not.

``compare`` tries, in order: the exercise's known mistakes (each recomputed: the learner's array must
equal what that mistake computes, to float64 rounding, NaN for NaN, and the mistake must differ from
the right answer on these inputs, so that it can only fire on itself), then the shape (transposed,
summed over the wrong axis or over every axis), then an exact constant factor (N, 1/N, −1, or any
other, printed with the digits that show it). Anything else says that it cannot tell, and shows
where the arrays differ most.

A factor equal to the batch size is evidence of N only if another batch size shows it too (a
constant 2 is N at batch 2): such a problem carries ``alone``, what it says without that reading, and
the checks that run several batch sizes (``over_batches``) name it only once a second one agrees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet.learn.causes import CAUSES
from glassnet.learn.show import differing, factor, where_differs

RTOL = 1e-6          # float64 throughout: a right formula agrees to ~1e-12, a wrong one by far more than this
EXACT = 1e-9         # a mistake or a factor is named only when it reproduces the learner's array this closely


@dataclass(frozen=True)
class Mistake:
    """A known mistake: its cause (a key of ``CAUSES``), what it means, and what it computes on these inputs."""

    cause: str
    explanation: str
    value: Any

    def __post_init__(self) -> None:
        if self.cause not in CAUSES:
            raise KeyError(f"unknown cause {self.cause!r}; add it to glassnet.learn.causes.CAUSES")


@dataclass(frozen=True)
class Problem:
    """What is wrong with a tensor, and the cause named (None: the checker cannot tell which mistake it is)."""

    message: str
    cause: str | None
    alone: str | None = None     # a factor that equals N: the message without the reading "N" (one batch size)


def as_array(value: Any) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def close(got: Any, want: Any, rtol: float = RTOL) -> bool:
    """Same shape and every entry within rtol of the largest |want| (an absolute scale: entries may be 0)."""
    a, b = as_array(got), as_array(want)
    if a is None or b is None or a.shape != b.shape or not np.isfinite(a).all() or not np.isfinite(b).all():
        return False
    scale = float(np.max(np.abs(b), initial=0.0)) or 1.0
    return bool(np.all(np.abs(a - b) <= rtol * scale))


def matches(got: Any, wrong: Any, rtol: float = EXACT) -> bool:
    """``got`` is what a mistake computes: NaN or inf in the same entries, and the same values elsewhere."""
    a, b = as_array(got), as_array(wrong)
    if a is None or b is None or a.shape != b.shape or not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return False
    finite = np.isfinite(b)
    if not finite.any():                # NaN or inf everywhere: many mistakes give that, so it names none
        return False
    return close(a[finite], b[finite], rtol)


Mistakes = Sequence[Mistake] | Callable[[], Sequence[Mistake]]


def compare(got: Any, want: Any, what: str, *, n: int | None = None, mistakes: Mistakes = ()) -> Problem | None:
    """None when ``got`` equals ``want``; otherwise what is wrong, as precisely as it can be named.

    ``n`` is the batch size, so that a factor of N and a sum over the wrong axis can be named; ``mistakes``
    may be a function that computes them, called only when ``got`` is wrong.
    """
    if got is None:
        return Problem(f"{what}: got None; return (or assign) the array", "returned-none")
    if isinstance(got, (tuple, list)) and len(got) > 1:
        return Problem(f"{what}: got a {type(got).__name__} of {len(got)} items; return the array alone (a layer's "
                       "backward returns ∂L/∂x and assigns its parameters' gradients)", "returned-tuple")
    array = as_array(got)
    want = np.asarray(want, dtype=np.float64)
    if array is None:
        return Problem(f"{what}: got {type(got).__name__}, expected an array of shape {want.shape}", None)
    if close(array, want):
        return None
    for mistake in mistakes() if callable(mistakes) else mistakes:
        if matches(array, mistake.value) and not close(want, mistake.value, RTOL):
            return Problem(f"{what}: {mistake.explanation}", mistake.cause)
    if array.shape != want.shape:
        return _shape(array, want, what, n)
    if not np.isfinite(array).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        return Problem(f"{what} holds NaN or inf (at {list(bad)}, for finite inputs); cannot tell which step made "
                       f"it: print the intermediate values", None)
    return _factor(array, want, what, n) or Problem(
        f"{what} is wrong, and the checker cannot tell which mistake this is. {where_differs(array, want)}", None)


def _shape(array: np.ndarray, want: np.ndarray, what: str, n: int | None) -> Problem:
    if array.shape == want.T.shape and want.ndim == 2 and close(array, want.T):
        return Problem(f"{what} is transposed: expected shape {want.shape}, got {array.shape}; swap the "
                       "factors of the product, or transpose them", "transposed")
    if array.ndim == 0 and want.ndim >= 1 and np.isclose(float(array), float(want.sum()), rtol=EXACT):
        return Problem(f"{what} is one number, the sum over every axis; expected shape {want.shape}: sum over "
                       "the batch only (axis=0)", "summed-every-axis")
    if n is not None and array.shape == (n,) and want.ndim == 1 and want.shape != (n,):
        return Problem(f"{what} has shape {array.shape}, one entry per row of the batch; expected {want.shape}, one "
                       "per feature: it is summed over axis 1 (the features), and a sum over the batch is axis=0",
                       "wrong-axis")
    return Problem(f"{what} has shape {array.shape}, expected {want.shape}", "shape")


def _factor(array: np.ndarray, want: np.ndarray, what: str, n: int | None) -> Problem | None:
    """The learner's array as an exact constant multiple of the right one, named when the factor means something."""
    denominator = float(np.sum(want * want))
    if denominator == 0:
        return None
    k = float(np.sum(array * want)) / denominator
    if not close(array, k * want, EXACT):
        return None
    if n is not None and abs(k - n) <= 1e-9 * n:
        return Problem(f"{what} is too large by a factor of {batch_size(n)}: is it summed where a mean is "
                       "meant?", "factor-n", f"{what} is exactly {n} times the right value ({n} is N here)")
    if n is not None and abs(k * n - 1) <= 1e-9:
        return Problem(f"{what} is too small by a factor of {batch_size(n)}: divided by N once too often? "
                       "A sum over the batch is not a mean", "factor-1/n",
                       f"{what} is exactly 1/{n} times the right value ({n} is N here)")
    if abs(k + 1) <= 1e-9:
        return Problem(f"{what} has the wrong sign: it is exactly −1 times the right value", "sign")
    return Problem(f"{what} is exactly {factor(k)} times the right value, in every entry: the formula's shape is "
                   "right and a constant factor in it is wrong or missing", "constant-factor")


def batch_size(n: int, also: int | None = None) -> str:
    """'N = 2 (the batch size)', or with a second batch size that showed the same factor, '… ; 3 at batch 3)'."""
    return f"N = {n} (the batch size{f'; {also} at batch {also} too' if also is not None else ''})"


def describe_number(got: float, want: float) -> str:
    """'got 6.390091, expected 6.390094': two numbers that differ, printed so that they read differently."""
    a, b = differing(got, want)
    return f"got {a}, expected {b}"

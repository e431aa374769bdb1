"""Numbers and tensors in a checker's message, printed with the precision that shows their difference.

Two numbers that differ never read alike (``6.39009`` and ``6.39009``): ``differing`` prints them with
as many significant digits as it takes, from six up to the seventeen that identify a float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SHOWN_ENTRIES = 24          # a tensor with at most this many entries is shown whole; a larger one, its worst row


def differing(got: float, want: float, digits: int = 6) -> tuple[str, str]:
    """``got`` and ``want`` with the fewest significant digits (at least ``digits``) at which they read differently."""
    for precision in range(digits, 18):
        a, b = f"{got:.{precision}g}", f"{want:.{precision}g}"
        if a != b:
            return a, b
    return repr(float(got)), repr(float(want))


def factor(value: float) -> str:
    """A factor with the digits that show how far it is from 1 (``0.999995``, never ``1``)."""
    distance = abs(value - 1.0)
    digits = 4 if distance == 0 or distance >= 1e-3 else min(17, 3 + math.ceil(-math.log10(distance)))
    return f"{value:.{digits}g}"


def tensor(array: Any, indent: int = 0) -> str:
    """A small array on a few lines, six significant digits an entry; lines after the first indented by ``indent``."""
    text = np.array2string(np.asarray(array, dtype=np.float64), precision=6, max_line_width=100,
                           threshold=SHOWN_ENTRIES, edgeitems=3, floatmode="maxprec")
    return text.replace("\n", "\n" + " " * indent)


def index(position: tuple[int, ...]) -> str:
    return f"[{', '.join(map(str, position))}]"


def where_differs(got: np.ndarray, want: np.ndarray) -> str:
    """Where two arrays of one shape differ: how many entries, the worst one, and the arrays (or the worst row)."""
    difference = np.abs(got - want)
    scale = float(np.max(np.abs(want), initial=0.0)) or 1.0
    wrong = difference > 1e-6 * scale
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(difference)), want.shape)) if want.size else ()
    a, b = differing(float(got[worst]), float(want[worst]))
    lines = [f"{int(wrong.sum())} of {want.size} entries differ; the most at {index(worst)}: got {a}, expected {b} "
             f"({float(difference[worst]) / scale:.1e} of the largest expected entry)"]
    if want.size <= SHOWN_ENTRIES or want.ndim < 2:
        lines += [f"got      {tensor(got, 15)}", f"expected {tensor(want, 15)}"]
    else:
        row, width = worst[0], len(f"row {worst[0]} expected ") + 6
        lines += [f"row {row} got      {tensor(got[row], width)}", f"row {row} expected {tensor(want[row], width)}"]
    return "\n      ".join(lines)

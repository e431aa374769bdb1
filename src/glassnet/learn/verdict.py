"""Noise or a real gap: the learner's network and glassnet's, compared digit by digit on the test set.

The two networks start from the same weights and see the same batches; only their dropout masks
differ. If the learner's code computes what glassnet's does, the two are draws of one procedure, so
on each test digit that exactly one of them gets right, either is as likely to be the one (a sign
test, as McNemar's). A gap is real when the digits won by one side are too many for that coin to give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

REAL = 1e-3           # below this chance, a gap is real
NOISE = 0.05          # above it, the gap is what chance gives; between the two, more digits or epochs are needed


@dataclass(frozen=True)
class Verdict:
    """How the two networks' test predictions differ, and how likely chance alone makes them differ this much."""

    yours_only: int                 # test digits only the learner's network gets right
    glassnet_only: int              # test digits only glassnet's gets right
    n_test: int
    p_value: float                  # two-sided sign test on the digits they disagree on

    @property
    def gap_points(self) -> float:
        """glassnet's accuracy minus the learner's, in percentage points."""
        return 100 * (self.glassnet_only - self.yours_only) / self.n_test

    @property
    def kind(self) -> str:
        """'real', 'noise' or 'unclear'."""
        return "real" if self.p_value < REAL else "noise" if self.p_value >= NOISE else "unclear"

    def format(self) -> str:
        if self.yours_only + self.glassnet_only == 0:
            return "within the noise: the two networks get the very same test digits right"
        split = (f"of the {self.yours_only + self.glassnet_only} test digits only one network gets right, glassnet's "
                 f"has {self.glassnet_only} and yours {self.yours_only}")
        if self.kind == "real":
            better = "glassnet's" if self.gap_points > 0 else "yours"
            return (f"a real gap of {abs(self.gap_points):.1f} points ({better} ahead): {split}, a split that chance "
                    f"alone gives with probability {self.p_value:.1g}. Something in your code differs from "
                    "glassnet's: see the checks above")
        if self.kind == "noise":
            return (f"within the noise: {split}, a split that chance alone gives with probability "
                    f"{self.p_value:.2f} (the dropout masks differ, nothing else)")
        return (f"unclear: {split}; chance alone gives such a split with probability {self.p_value:.3f}, too rare "
                "to call noise, too common to call a gap. Train longer or on more digits to tell")


def compare_predictions(yours_right: np.ndarray, glassnet_right: np.ndarray) -> Verdict:
    """The verdict from two boolean vectors: which test digits each network classifies right."""
    yours_only = int(np.count_nonzero(yours_right & ~glassnet_right))
    glassnet_only = int(np.count_nonzero(glassnet_right & ~yours_right))
    return Verdict(yours_only, glassnet_only, len(yours_right), sign_test(yours_only, glassnet_only))


def sign_test(a: int, b: int) -> float:
    """Two-sided P(a split at least this uneven) when each of a + b disagreements goes either way with chance ½."""
    n, k = a + b, min(a, b)
    if n == 0:
        return 1.0
    tail = sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2))
               for i in range(k + 1))
    return min(1.0, 2 * tail)

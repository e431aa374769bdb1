"""Lab: softmax in float16 without the max shift — where e^z overflows."""

from __future__ import annotations

import numpy as np

from glassnet.learn.labs.data import LabData
from glassnet.learn.labs.lab import Choice, Lab, Result
from glassnet.nn.losses import softmax
from glassnet.nn.params import Array

OPTIONS = ("the right probabilities", "NaN", "inf", "all zeros")
TOPS = (5.0, 10.0, 12.0, 20.0, 100.0)


def naive_softmax(z: Array) -> Array:
    """e^z / Σ e^z, without subtracting the largest logit first."""
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def run(data: LabData) -> Result:
    """The logits (top, top − 1, 0) in float16, through the naive softmax and through glassnet's shifted one."""
    figures, lines = {}, []
    for top in TOPS:
        z = np.array([[top, top - 1.0, 0.0]], dtype=np.float16)
        with np.errstate(over="ignore", invalid="ignore"):
            naive = naive_softmax(z)[0]
        shifted = softmax(z)[0]
        figures[f"{top:g}"] = {"naive": naive.astype(float).tolist(), "shifted": shifted.astype(float).tolist()}
        lines.append(f"largest logit {top:>4g}: naive {np.array2string(naive, precision=4)}   "
                     f"shifted {np.array2string(shifted, precision=4)}")
    at_12 = np.array(figures["12"]["naive"])
    answer = (OPTIONS[1] if np.isnan(at_12).any() else OPTIONS[2] if np.isinf(at_12).any()
              else OPTIONS[3] if not at_12.any() else OPTIONS[0])
    return Result(answer, tuple(lines), figures)


LAB = Lab(
    name="softmax-float16",
    title="Softmax in float16, without the max shift",
    question="Float16's largest number is 65,504. Softmax computed naively, e^z / Σ e^z, in float16, for the "
             "logits (12, 11, 0): what comes out?",
    predict=Choice(OPTIONS),
    run=run,
    explanation="e^z overflows float16 once z > 11.1, so e^12 becomes inf, the sum is inf and inf / inf is NaN; "
                "e^11 / inf is 0. Shifting by the largest logit first gives the same probabilities in exact "
                "arithmetic and keeps every exponent ≤ 0, so nothing can overflow.",
    look_for="NaN losses that appear only in reduced precision, or only for confident predictions; any code that "
             "exponentiates logits without subtracting their maximum (or writes `log(p + eps)`).",
    code=(naive_softmax, run),
    needs_data=False,
)

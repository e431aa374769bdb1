"""Exercise 8: He initialization: its spread, its distribution, its shape, and its draws from the given generator."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from glassnet.learn.checks import Checks, Failed, expect, require
from glassnet.learn.diagnose import Mistake
from glassnet.nn.init import he_normal

FAN_IN, FAN_OUT = 500, 200             # 100,000 draws: a standard deviation to within 0.3%, its shape (see normal)


def check_init(module: ModuleType, checks: Checks) -> None:
    def spread() -> None:
        w = np.asarray(module.he_normal(np.random.default_rng(0), FAN_IN, FAN_OUT, np.float64))
        if w.shape == (FAN_OUT, FAN_IN):
            raise Failed(f"the weights have shape {w.shape} = (fan_out, fan_in); Linear computes X W, so W is "
                         f"(fan_in, fan_out) = {(FAN_IN, FAN_OUT)}", "init.shape-transposed")
        require(w.shape == (FAN_IN, FAN_OUT), f"the weights have shape {w.shape}, expected (fan_in, fan_out) = "
                                              f"{(FAN_IN, FAN_OUT)}", "shape")
        std, right = float(w.std()), math.sqrt(2 / FAN_IN)
        normal(w, right)
        for wrong, cause, hint in (
                (math.sqrt(1 / FAN_IN), "init.lecun", "variance 1/fan_in (LeCun's); He's is 2/fan_in, for ReLU"),
                (math.sqrt(2 / FAN_OUT), "init.fan-out", "it uses fan_out; He's variance is 2/fan_in"),
                (2 / FAN_IN, "init.variance-as-std", "it multiplies by 2/fan_in, the variance; multiply by its "
                                                     "square root, the standard deviation"),
                (math.sqrt(2 / (FAN_IN + FAN_OUT)), "init.glorot", "variance 2/(fan_in + fan_out) (Glorot's, for "
                                                                   "tanh); He's is 2/fan_in"),
                (math.sqrt(2) / FAN_IN, "init.sqrt-of-2-only", "it divides by fan_in outside the square root: "
                                                               "√(2/fan_in), not √2/fan_in")):
            if abs(std / wrong - 1) < 0.02:
                raise Failed(f"standard deviation {std:.4f}: {hint}", cause)
        require(abs(std / right - 1) < 0.02, f"standard deviation {std:.4f}, {std / right:.3g} times √(2/fan_in) = "
                                             f"{right:.4f}: a factor of the scale is wrong", "constant-factor")
        require(abs(float(w.mean())) < 0.002, f"the mean is {float(w.mean()):.4f}, expected 0")

    def seeded() -> None:
        draws = [np.asarray(module.he_normal(np.random.default_rng(s), 30, 20, np.float64)) for s in (1, 1, 2)]
        require(np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2]),
                "draw only from the generator you are given (rng): the same seed must give the same weights",
                "init.global-rng")
        w32 = np.asarray(module.he_normal(np.random.default_rng(1), 30, 20, np.float32))
        require(w32.dtype == np.float32, f"dtype float32 was asked for, got {w32.dtype}", "init.dtype")
        transposed = np.random.default_rng(1).standard_normal((20, 30)).T * math.sqrt(2 / 30)
        expect(draws[0], he_normal(np.random.default_rng(1), 30, 20, np.float64),
               "the weights for seed 1 (rng.standard_normal((fan_in, fan_out)) · √(2/fan_in), as glassnet draws them)",
               mistakes=[Mistake("init.drawn-transposed", "it draws (fan_out, fan_in) and transposes: the right "
                                 "shape, but other weights than glassnet's for the same seed; draw (fan_in, fan_out)",
                                 transposed)])

    checks.run_in_order(("the spread and distribution of the weights", spread), ("seeded, shaped and typed", seeded))


def normal(w: np.ndarray, right: float) -> None:
    """Fail unless the weights look like draws of a normal distribution, naming a clipped or a uniform one.

    With n draws of a normal, the sample skewness is 0 ± √(6/n), the excess kurtosis 0 ± √(24/n), and the count
    beyond 3 standard deviations 0.27% of n ± √(0.0027 n): the tolerances are six of those deviations, so that a
    right initialization fails about once in 10⁸ seeds, and a clipped or uniform one (tens of deviations off) passes
    never. A continuous draw repeats no value: many weights equal to the largest |w| are clipped there.
    """
    size = w.size
    if not w.std():                                         # every weight equal: a scale of 0, said by its factor
        return
    flat = np.abs(w.ravel())
    top = float(flat.max(initial=0.0))
    at_top = int(np.count_nonzero(flat == top))
    if at_top > 1e-3 * size and len(np.unique(flat)) > 0.9 * size:
        raise Failed(f"{at_top} of the {size} weights are ±{top:.4g} exactly, {top / right:.3g} × √(2/fan_in): the "
                     "draws are clipped there (as np.clip does), which also shrinks their spread; He initialization "
                     "keeps the whole normal", "init.clipped")
    z = (w - w.mean()) / w.std()
    skewness, kurtosis = float(np.mean(z**3)), float(np.mean(z**4)) - 3
    tail, expected = int(np.count_nonzero(np.abs(z) > 3)), 0.0027 * size
    if abs(kurtosis + 1.2) < 0.05 and tail == 0:
        raise Failed(f"not a normal distribution but a uniform one (excess kurtosis {kurtosis:.3f}: a uniform's is "
                     f"−1.2, a normal's 0; no weight beyond 3 standard deviations, where a normal puts 0.27%): draw "
                     "with rng.standard_normal", "init.uniform")
    deviations = (math.sqrt(6 / size), math.sqrt(24 / size), math.sqrt(expected))
    if max(abs(skewness) / deviations[0], abs(kurtosis) / deviations[1], abs(tail - expected) / deviations[2]) > 6:
        raise Failed(f"the weights are not normally distributed: skewness {skewness:.3f}, excess kurtosis "
                     f"{kurtosis:.3f} and {tail} beyond 3 standard deviations, where {size} draws of a normal give "
                     f"0 ± {deviations[0]:.3f}, 0 ± {deviations[1]:.3f} and {expected:.0f} ± {deviations[2]:.0f}; the "
                     "checker cannot tell which distribution this is. He initialization draws "
                     "rng.standard_normal((fan_in, fan_out)) · √(2/fan_in)")

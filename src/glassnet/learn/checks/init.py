"""Exercise 8: He initialization: its spread, its distribution, its shape, and its draws from the given generator."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from glassnet.learn.checks import Checks, Failed, expect, require
from glassnet.learn.diagnose import Mistake
from glassnet.nn.init import he_normal

FAN_IN, FAN_OUT = 500, 200             # 100,000 draws: a standard deviation to within 0.3%


def check_init(module: ModuleType, checks: Checks) -> None:
    def spread() -> None:
        w = np.asarray(module.he_normal(np.random.default_rng(0), FAN_IN, FAN_OUT, np.float64))
        if w.shape == (FAN_OUT, FAN_IN):
            raise Failed(f"the weights have shape {w.shape} = (fan_out, fan_in); Linear computes X W, so W is "
                         f"(fan_in, fan_out) = {(FAN_IN, FAN_OUT)}", "init.shape-transposed")
        require(w.shape == (FAN_IN, FAN_OUT), f"the weights have shape {w.shape}, expected (fan_in, fan_out) = "
                                              f"{(FAN_IN, FAN_OUT)}", "shape")
        std, right = float(w.std()), math.sqrt(2 / FAN_IN)
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
        kurtosis = float(np.mean((w - w.mean()) ** 4) / w.var() ** 2) - 3
        require(kurtosis > -0.6, f"the right spread, but not a normal distribution (excess kurtosis {kurtosis:.2f}: "
                                 "a normal's is 0, a uniform's −1.2): draw with rng.standard_normal", "init.uniform")

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

"""Exercises 1, 2 and 4: the linear layer, ReLU and inverted dropout, against glassnet's own layers."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from glassnet.learn.checks import (
    AFTER_TWO,
    BATCHES,
    DTYPES,
    SECOND_FORWARD,
    Checks,
    Failed,
    after_two_forwards,
    assigned,
    backward,
    expect,
    expect_grad,
    forward,
    gradcheck,
    keeps_dtype,
    loosen,
    over_batches,
    precise,
    require,
)
from glassnet.learn.diagnose import Mistake, as_array
from glassnet.nn import layers as reference


def check_linear(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)

    def pair(bias: bool, dtype: type = np.float64) -> tuple[Any, reference.Linear]:
        mine = module.Linear(5, 4, rng=np.random.default_rng(1), bias=bias, dtype=dtype)
        theirs = reference.Linear(5, 4, rng=np.random.default_rng(1), bias=bias, dtype=dtype)
        theirs.weight.value[...] = rng.standard_normal((5, 4))
        mine.weight.value[...] = theirs.weight.value
        if bias:
            theirs.params()[1].value[...] = rng.standard_normal(4)
            mine.bias.value[...] = theirs.params()[1].value
        return loosen(mine, "weight", "bias"), theirs

    def forward_pass() -> None:
        for bias in (True, False):
            mine, theirs = pair(bias)
            x = rng.standard_normal((3, 5))
            expect(forward(mine.forward, x), theirs.forward(x), f"Z = X W{' + b' if bias else ''}",
                   mistakes=[Mistake("linear.bias-missing", "the bias is missing", x @ theirs.weight.value),
                             Mistake("linear.bias-sign", "the bias is subtracted: Z = X W + b",
                                     x @ theirs.weight.value - theirs.params()[1].value)] if bias else [])

    def backward_at(case: tuple[int, bool]) -> None:
        n, bias = case
        mine, theirs = pair(bias)
        x, g = rng.standard_normal((n, 5)), rng.standard_normal((n, 4))
        z = theirs.forward(x)
        mine.forward(x)
        dx = backward(mine.backward, g, mine)
        want_dx = theirs.backward(g)
        cached_output = Mistake("linear.cached-output", "it is computed from the layer's output Z; ∂L/∂W needs "
                                "its input X, which forward must keep", z.T @ g)
        expect_grad(mine.weight, theirs.weight.grad, f"∂L/∂W at batch {n}", n=n, mistakes=[cached_output])
        if bias:
            expect_grad(mine.bias, theirs.params()[1].grad, f"∂L/∂b at batch {n}", n=n)
        expect(dx, want_dx, f"∂L/∂X at batch {n}{'' if bias else ' (no bias)'}", n=n, mistakes=[
            Mistake("linear.grad-for-weight", "it multiplies G by W's gradient; ∂z/∂x is W itself",
                    g @ theirs.weight.grad.T)])
        assigned(mine.backward, g, mine.params())

    def backward_pass() -> None:
        over_batches(((2, True), (3, True), (7, True), (3, False)), backward_at, batch=lambda case: case[0])

    def second_forward() -> None:
        mine, theirs = pair(True)
        x1, x2, g = rng.standard_normal((7, 5)), rng.standard_normal((3, 5)), rng.standard_normal((3, 4))
        for x in (x1, x2):
            mine.forward(x)
            theirs.forward(x)
        with after_two_forwards(mine, 7, 3):
            dx = backward(mine.backward, g, mine)
            want_dx = theirs.backward(g)
            expect(mine.weight.grad, theirs.weight.grad, f"∂L/∂W {AFTER_TWO}")
            expect(mine.bias.grad, theirs.params()[1].grad, f"∂L/∂b {AFTER_TWO}")
            expect(dx, want_dx, f"∂L/∂X {AFTER_TWO}")

    def dtypes() -> None:
        for dtype in (np.float64, np.float32):
            mine, theirs = pair(True, dtype)
            x, g = rng.standard_normal((3, 5)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
            y, dx = keeps_dtype(mine, x, g)
            if dtype is np.float64:
                precise(y, theirs.forward(x.astype(np.float64)), "Z")
                precise(dx, theirs.backward(g.astype(np.float64)), "∂L/∂X")
                precise(mine.weight.grad, theirs.weight.grad, "∂L/∂W")
                precise(mine.bias.grad, theirs.params()[1].grad, "∂L/∂b")

    def finite_differences() -> None:
        for n in BATCHES:
            gradcheck(pair(True)[0], rng.standard_normal((n, 5)), rng)

    checks.run_in_order(("forward", forward_pass), ("backward against glassnet", backward_pass),
                        (SECOND_FORWARD, second_forward), (DTYPES, dtypes),
                        ("backward against finite differences", finite_differences))


_INVERTED = "the mask is inverted: it lets G through where x ≤ 0; G must pass where x > 0 and stop elsewhere"


def check_relu(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0], [1.0, -1.0, 2.0, 0.0, -3.0]])

    def forward_pass() -> None:
        expect(forward(module.ReLU().forward, x), np.maximum(x, 0), "max(x, 0)",
               mistakes=[Mistake("relu.keeps-negatives", "negative inputs must become 0, not stay", x),
                         Mistake("relu.abs", "it is |x|: negative inputs become 0, not positive", np.abs(x)),
                         Mistake("relu.min", "it keeps the negative inputs and zeroes the positive ones: "
                                             "max(x, 0), not min(x, 0)", np.minimum(x, 0))])

    def backward_pass() -> None:
        layer = module.ReLU()
        layer.forward(x.copy())
        g = rng.standard_normal(x.shape)
        expect(backward(layer.backward, g), np.where(x > 0, g, 0.0), "∂L/∂x", mistakes=[
            Mistake("relu.at-zero", "at x = 0 the gradient is 0 (the convention: x > 0, not x ≥ 0)",
                    np.where(x >= 0, g, 0.0)),
            Mistake("relu.mask-of-g", "it applies ReLU to G (G where G > 0); the mask comes from the forward's x: "
                                      "G where x > 0", np.maximum(g, 0.0)),
            Mistake("relu.inverted-mask", _INVERTED, np.where(x < 0, g, 0.0)),
            Mistake("relu.inverted-mask", _INVERTED, np.where(x <= 0, g, 0.0)),
            Mistake("relu.mask-only", "it is the mask [x > 0] alone: the chain rule multiplies it by G",
                    (x > 0).astype(np.float64)),
            Mistake("relu.times-output", "it is G times the output max(x, 0); the local derivative is the mask "
                                         "[x > 0] (1 or 0), not the output", g * np.maximum(x, 0)),
            Mistake("relu.no-mask", "it lets G through everywhere: stop it where x ≤ 0", g)])

    def second_forward() -> None:
        layer = module.ReLU()
        x1, x2, g = rng.standard_normal((7, 5)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
        layer.forward(x1)
        layer.forward(x2)
        with after_two_forwards(layer, 7, 3):
            expect(backward(layer.backward, g), np.where(x2 > 0, g, 0.0), f"∂L/∂x {AFTER_TWO}")

    def dtypes() -> None:
        for dtype in (np.float64, np.float32):
            keeps_dtype(module.ReLU(), rng.standard_normal((3, 5)).astype(dtype), rng.standard_normal((3, 5)))

    def finite_differences() -> None:
        values = rng.standard_normal((7, 6))
        values[np.abs(values) < 1e-3] = 0.5                  # away from the kink
        gradcheck(module.ReLU(), values, rng)

    checks.run_in_order(("forward", forward_pass), ("backward", backward_pass), (SECOND_FORWARD, second_forward),
                        (DTYPES, dtypes), ("backward against finite differences", finite_differences))


P = 0.3


def _dropped(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (y == 0) & (x != 0)


def check_dropout(module: ModuleType, checks: Checks) -> None:
    def scaling() -> None:
        layer = module.Dropout(P, rng=np.random.default_rng(0))
        x = np.random.default_rng(1).uniform(1.0, 2.0, (2000, 50))
        y = as_array(forward(layer.forward, x))
        require(y is not None and y.shape == x.shape, f"the output must be an array of shape {x.shape}", "shape")
        assert y is not None
        kept = ~_dropped(y, x)
        ratio = y[kept] / x[kept]
        for scale, cause, words in ((1.0, "dropout.not-rescaled", "kept units are not rescaled: inverted dropout "
                                     "multiplies them by 1/(1 − p), so that E[y] = x and inference needs no scaling"),
                                    (1 - P, "dropout.times-keep", "kept units are multiplied by (1 − p); inverted "
                                     "dropout divides them by (1 − p)"),
                                    (1 / P, "dropout.divides-by-p", "kept units are divided by p; inverted dropout "
                                     "divides them by (1 − p), the probability of keeping a unit")):
            if ratio.size and np.allclose(ratio, scale):
                raise Failed(words, cause)
        if ratio.size and np.allclose(ratio, ratio[0]) and not np.allclose(ratio, 1 / (1 - P)):
            raise Failed(f"kept units are multiplied by {ratio[0]:.6g}; inverted dropout multiplies them by "
                         f"1/(1 − p) = {1 / (1 - P):.6g}", "constant-factor")
        require(np.allclose(ratio, 1 / (1 - P)), "kept units must be x / (1 − p), dropped ones 0; "
                                                  f"got ratios y/x from {ratio.min():.6g} to {ratio.max():.6g}")
        scale, rounded = 1 / (1 - P), float(np.float32(1 / (1 - P)))
        if np.allclose(ratio, rounded, rtol=1e-13, atol=0) and not np.allclose(ratio, scale, rtol=1e-13, atol=0):
            raise Failed(f"in a float64 run, kept units are multiplied by {rounded!r}: 1/(1 − p) = {scale!r} rounded "
                         "to float32, so the mask went through float32 on its way; make it in x's dtype",
                         "downcasts")
        require(np.allclose(ratio, scale, rtol=1e-13, atol=0), f"kept units are multiplied by factors from "
                f"{ratio.min()!r} to {ratio.max()!r}: close to 1/(1 − p) = {scale!r}, but not to float64's "
                "precision; the checker cannot tell why")
        if all(np.array_equal(kept[0], row) for row in kept[1:]):
            raise Failed("every row drops the same units: draw one keep decision per entry, "
                         "shape x.shape, not one per feature", "dropout.one-mask-per-column")
        dropped = 1.0 - kept.mean()
        spread = 4 * math.sqrt(P * (1 - P) / kept.size)
        if abs(dropped - (1 - P)) < spread:
            raise Failed(f"it drops a fraction {dropped:.4f} = 1 − p: p is the probability of *dropping* a unit; "
                         "keep = rng.random(shape) >= p", "dropout.p-is-keep")
        require(abs(dropped - P) < spread, f"it drops a fraction {dropped:.4f} of the units, expected p = {P}")

    def backward_pass() -> None:
        layer = module.Dropout(P, rng=np.random.default_rng(2))
        x = np.random.default_rng(3).uniform(1.0, 2.0, (7, 20))
        y = np.asarray(layer.forward(x), dtype=np.float64)
        g = np.random.default_rng(4).standard_normal(x.shape)
        generator = getattr(layer, "rng", None)
        states = (_state(generator), _global_state())
        dx = backward(layer.backward, g)
        if _state(generator) != states[0] or _global_state() != states[1]:
            raise Failed("backward drew random numbers: it must reuse the mask its forward drew (keep it in the "
                         "cache), never draw a new one", "dropout.new-mask")
        mask = y / x
        expect(dx, g * mask, "∂L/∂x: G times the mask of the forward pass", mistakes=[
            Mistake("dropout.backward-no-mask", "it lets G through everywhere: multiply it by the forward's mask", g),
            Mistake("dropout.backward-unscaled", "it multiplies G by keep (0 or 1); ∂y/∂x is the whole mask, "
                                                 "keep / (1 − p)", g * (mask != 0)),
            Mistake("dropout.backward-divides", "it divides G by the mask (so by 0 where a unit was dropped); "
                                                "∂y/∂x is the mask itself: multiply by it", _divided(g, mask))])

    def inference() -> None:
        layer = module.Dropout(P, rng=np.random.default_rng(5))
        x = np.random.default_rng(6).uniform(1.0, 2.0, (4, 5))
        mask = np.asarray(layer.forward(x), dtype=np.float64) / x          # a training forward first
        layer.training = False
        y = as_array(layer.forward(x))
        if y is not None and y.shape == x.shape and _dropped(y, x).any():
            raise Failed("it drops units in inference (training = False): then forward is the identity",
                         "dropout.inference-drops")
        expect(y, x, "the output in inference (training = False): the identity", mistakes=[
            Mistake("dropout.inference-scaled", "it multiplies by (1 − p) at inference: inverted dropout needs no "
                                                "scaling then", x * (1 - P))])
        g = np.random.default_rng(7).standard_normal((4, 5))
        expect(backward(layer.backward, g), g, "∂L/∂x after an inference forward", mistakes=[
            Mistake("dropout.stale-mask", "it used the mask of the training forward before; an inference forward "
                                          "is the identity, and so is its backward", g * mask)])

    def seeded() -> None:
        x = np.ones((50, 40))
        masks = [np.asarray(module.Dropout(P, rng=np.random.default_rng(s)).forward(x)) for s in (8, 8, 9)]
        require(np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[0], masks[2]),
                "the mask must come from the layer's generator (self.rng): the same seed must give the same "
                "mask, another seed another one", "dropout.global-rng")
        layer = module.Dropout(P, rng=np.random.default_rng(8))
        first = np.array(layer.forward(x), dtype=np.float64)
        require(not np.array_equal(first, np.asarray(layer.forward(x), dtype=np.float64)),
                "two training forwards of one layer, on the same input, dropped the same units: draw a new mask at "
                "every training forward (each forward's mask is for its own backward)", "dropout.same-mask")

    def second_forward() -> None:
        layer = module.Dropout(P, rng=np.random.default_rng(15))
        x1, x2 = (np.random.default_rng(seed).uniform(1.0, 2.0, (rows, 5)) for seed, rows in ((16, 7), (17, 3)))
        g = np.random.default_rng(18).standard_normal((3, 5))
        layer.forward(x1)
        mask = np.asarray(layer.forward(x2), dtype=np.float64) / x2
        with after_two_forwards(layer, 7, 3):
            expect(backward(layer.backward, g), g * mask, f"∂L/∂x {AFTER_TWO}")

    def dtypes() -> None:
        for dtype in (np.float64, np.float32):
            layer = module.Dropout(P, rng=np.random.default_rng(13))
            x = np.random.default_rng(19).uniform(1.0, 2.0, (6, 5)).astype(dtype)
            try:
                keeps_dtype(layer, x, np.ones_like(x))
            except Failed as e:
                if e.cause == "upcasts" and getattr(getattr(layer, "mask", None), "dtype", None) == np.float64:
                    seen = str(e).split(": ", 1)[0]                 # "in a float32 run (…), the output is float64"
                    raise Failed(f"{seen}, and so is the mask the layer keeps: a mask made as keep / (1 − p) is "
                                 "float64; make it in x's dtype (.astype(x.dtype)), so that a float32 network stays "
                                 "float32", "dropout.upcasts") from None
                raise

    def finite_differences() -> None:
        gradcheck(module.Dropout(0.5, rng=np.random.default_rng(10)),
                  np.random.default_rng(11).standard_normal((7, 6)), np.random.default_rng(12))

    checks.run_in_order(("training: drop with probability p, scale by 1/(1 − p)", scaling),
                        ("masks come from the layer's generator, a new one each forward", seeded),
                        ("backward with the forward's mask", backward_pass), ("inference is the identity", inference),
                        (SECOND_FORWARD, second_forward), (DTYPES, dtypes),
                        ("backward against finite differences", finite_differences))


def _divided(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return g / mask


def _state(generator: Any) -> Any:
    return generator.bit_generator.state if isinstance(generator, np.random.Generator) else None


def _global_state() -> tuple[bytes, int]:
    """NumPy's global generator (np.random.random and kin), as something ``==`` compares."""
    _, key, position, *_ = np.random.get_state(legacy=True)
    return bytes(np.asarray(key).tobytes()), int(position)

"""The checks of each exercise: against glassnet's own implementation, finite differences and the rules.

Every check runs in float64, with random upstream gradients, several batch sizes (2 and odd ones
among them), and the modes and edge cases that matter. Each returns ``Result``s; a failing one says
which tensor is wrong and, where the pattern is recognisable, which mistake made it so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from glassnet.learn.diagnose import close, compare
from glassnet.learn.learner_code import describe, text
from glassnet.nn import layers as reference
from glassnet.nn.gradcheck import check_layer
from glassnet.nn.init import he_normal
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.optim import Adam

BATCHES = (2, 3, 7)


@dataclass(frozen=True)
class Result:
    """One check of one exercise: passed or not, and what to do about it."""

    exercise: str
    check: str
    passed: bool
    message: str = ""


class _Failed(Exception):
    """A check failed; the message says why."""


class Checks:
    """Runs the checks of one exercise and reports each: ``started(name)`` before it, ``report(result)`` after.

    A check is a function that raises ``_Failed``; whatever else it raises, the learner's code raised.
    """

    def __init__(self, exercise: str, path: Path, *, started: Callable[[str], None],
                 report: Callable[[Result], None]) -> None:
        self.exercise, self.path = exercise, path            # path: absolute, as the learner's code carries it
        self.started, self.report = started, report

    def run(self, name: str, check: Callable[[], None]) -> bool:
        self.started(name)
        try:
            check()
        except _Failed as e:
            message = str(e)
        except NotImplementedError as e:
            message = f"not implemented yet: {text(e)}"
        except BaseException as e:                  # the learner's code raised, or called sys.exit: say where
            message = describe(e, [self.path])
        else:
            self.report(Result(self.exercise, name, True))
            return True
        self.report(Result(self.exercise, name, False, message))
        return False

    def run_in_order(self, *steps: tuple[str, Callable[[], None]]) -> None:
        """Run the checks in turn, up to the first that fails: the later ones build on it."""
        for name, check in steps:
            if not self.run(name, check):
                return


def expect(got: Any, want: Any, what: str, **options: Any) -> None:
    problem = compare(got, want, what, **options)
    if problem is not None:
        raise _Failed(problem)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise _Failed(message)


def _gradcheck(layer: Any, x: np.ndarray, rng: np.random.Generator) -> None:
    report = check_layer(layer, x, rng=rng)
    worst = max(report.rows, key=lambda row: row.rel_error)
    require(report.passed(1e-6), f"finite differences disagree with backward for {worst.name} "
                                 f"(relative error {worst.rel_error:.1e}; a right backward gives ~1e-9)")


def _untouched(backward: Callable[[np.ndarray], Any], grad_out: np.ndarray) -> Any:
    """Call backward and fail if it changed its argument."""
    before = grad_out.copy()
    result = backward(grad_out)
    require(np.array_equal(grad_out, before), "backward changed its argument grad_out in place; "
                                              "compute a new array instead (G is the caller's)")
    return result


def _assigned(backward: Callable[[np.ndarray], Any], grad_out: np.ndarray, params: list[Any]) -> None:
    """A second backward with the same G must give the same parameter gradients (assigned, not accumulated)."""
    first = [np.array(p.grad, dtype=np.float64) for p in params]
    backward(grad_out)
    for p, g in zip(params, first):
        if close(p.grad, 2 * g) and np.any(g):
            raise _Failed(f"{p.name}.grad doubled on a second backward: gradients are accumulated (+=); "
                          f"assign them ({p.name}.grad = ...)")
        expect(p.grad, g, f"{p.name}.grad after a second identical backward")


# ---------------------------------------------------------------------------------------------- exercises


def check_scalar_graph(module: ModuleType, checks: Checks) -> None:
    cases = [(2.0, -3.0, 1.5), (0.5, 4.0, -2.0), (-1.25, 0.75, 3.0)]

    def forward() -> None:
        for a, b, c in cases:
            got = module.forward(a, b, c)
            u, v = a * b, a * b + c
            for node, want in (("u", u), ("v", v), ("f", v * v)):
                require(isinstance(got, dict) and node in got, f"forward must return a dict with key {node!r}")
                require(math.isclose(got[node], want, rel_tol=1e-12), f"{node} for a, b, c = {a}, {b}, {c}: "
                                                                      f"got {got[node]}, expected {want}")

    def backward() -> None:
        for a, b, c in cases:
            got = module.backward(a, b, c)
            v = a * b + c
            want = {"v": 2 * v, "u": 2 * v, "c": 2 * v, "a": 2 * v * b, "b": 2 * v * a}
            mistakes = {"a": (2 * v * a, "∂u/∂a is b, the other factor of the product, not a"),
                        "b": (2 * v * b, "∂u/∂b is a, the other factor of the product, not b"),
                        "v": (v, "∂(v²)/∂v is 2v: the factor 2 is missing")}
            for node, value in want.items():
                require(isinstance(got, dict) and node in got, f"backward must return a dict with key {node!r}")
                if not math.isclose(got[node], value, rel_tol=1e-9):
                    wrong, hint = mistakes.get(node, (None, ""))
                    if wrong is not None and math.isclose(got[node], wrong, rel_tol=1e-9):
                        raise _Failed(f"∂f/∂{node}: {hint}")
                    numerical = f" (a finite difference of your forward gives {_central(module, a, b, c, node):.6g})" \
                        if node in "abc" else ""
                    raise _Failed(f"∂f/∂{node} for a, b, c = {a}, {b}, {c}: got {got[node]:.6g}, expected "
                                  f"{value:.6g}{numerical}")

    checks.run_in_order(("forward: u, v, f", forward), ("backward: the chain rule, node by node", backward))


def _central(module: ModuleType, a: float, b: float, c: float, name: str, h: float = 1e-6) -> float:
    """∂f/∂name by a centred difference of the learner's own forward."""
    def f(shift: float) -> float:
        inputs = {"a": a, "b": b, "c": c}
        inputs[name] += shift
        return float(module.forward(inputs["a"], inputs["b"], inputs["c"])["f"])

    return (f(h) - f(-h)) / (2 * h)


def check_linear(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)

    def pair(bias: bool) -> tuple[Any, reference.Linear]:
        mine = module.Linear(5, 4, rng=np.random.default_rng(1), bias=bias, dtype=np.float64)
        theirs = reference.Linear(5, 4, rng=np.random.default_rng(1), bias=bias, dtype=np.float64)
        theirs.weight.value[...] = rng.standard_normal((5, 4))
        mine.weight.value[...] = theirs.weight.value
        if bias:
            theirs.params()[1].value[...] = rng.standard_normal(4)
            mine.bias.value[...] = theirs.params()[1].value
        return mine, theirs

    def forward() -> None:
        for bias in (True, False):
            mine, theirs = pair(bias)
            x = rng.standard_normal((3, 5))
            expect(mine.forward(x), theirs.forward(x), f"Z = X W{' + b' if bias else ''}",
                   mistakes=[("the bias is missing", x @ theirs.weight.value)] if bias else [])

    def backward() -> None:
        for n in BATCHES:
            mine, theirs = pair(True)
            x, g = rng.standard_normal((n, 5)), rng.standard_normal((n, 4))
            mine.forward(x)
            theirs.forward(x)
            dx = _untouched(mine.backward, g)
            want_dx = theirs.backward(g)
            expect(mine.weight.grad, theirs.weight.grad, f"∂L/∂W at batch {n}", n=n)
            expect(mine.bias.grad, theirs.params()[1].grad, f"∂L/∂b at batch {n}", n=n)
            expect(dx, want_dx, f"∂L/∂X at batch {n}", n=n)
            _assigned(mine.backward, g, mine.params())

    def finite_differences() -> None:
        for n in BATCHES:
            _gradcheck(pair(True)[0], rng.standard_normal((n, 5)), rng)

    checks.run_in_order(("forward", forward), ("backward against glassnet", backward),
                        ("backward against finite differences", finite_differences))


def check_relu(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0], [1.0, -1.0, 2.0, 0.0, -3.0]])

    def forward() -> None:
        expect(module.ReLU().forward(x), np.maximum(x, 0), "max(x, 0)",
               mistakes=[("negative inputs must become 0, not stay", x)])

    def backward() -> None:
        layer = module.ReLU()
        layer.forward(x)
        g = rng.standard_normal(x.shape)
        expect(_untouched(layer.backward, g), np.where(x > 0, g, 0.0), "∂L/∂x",
               mistakes=[("at x = 0 the gradient is 0 (the convention: x > 0, not x ≥ 0)", np.where(x >= 0, g, 0.0)),
                         ("it applies ReLU to G (max(G, 0)); the mask comes from the forward's x: G where x > 0",
                          np.maximum(g, 0.0))])

    def finite_differences() -> None:
        values = rng.standard_normal((7, 6))
        values[np.abs(values) < 1e-3] = 0.5                  # away from the kink
        _gradcheck(module.ReLU(), values, rng)

    checks.run_in_order(("forward", forward), ("backward", backward),
                        ("backward against finite differences", finite_differences))


def check_softmax_cross_entropy(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)

    def values() -> None:
        for n in BATCHES:
            logits, labels = rng.standard_normal((n, 10)) * 3, rng.integers(0, 10, n)
            loss, grad = module.softmax_cross_entropy(logits.copy(), labels)
            want_loss, want_grad = softmax_cross_entropy(logits, labels)
            require(np.ndim(loss) == 0, f"the loss must be one number (the batch mean), got shape {np.shape(loss)}")
            if not math.isclose(float(loss), want_loss, rel_tol=1e-9):
                hint = (" : it is the sum over the batch; the loss is the mean"
                        if math.isclose(float(loss), n * want_loss, rel_tol=1e-9) else "")
                raise _Failed(f"loss at batch {n}: got {float(loss):.6g}, expected {want_loss:.6g}{hint}")
            probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            expect(grad, want_grad, f"∂L/∂logits at batch {n}", n=n,
                   mistakes=[("the sign is flipped: (P − Y)/N, not (Y − P)/N", -want_grad),
                             ("it is P / N: subtract the one-hot labels Y", probabilities / n)])

    def stable() -> None:
        logits = np.array([[1e4, 0.0, -1e4], [-1e4, 5e3, 1e4]])
        labels = np.array([1, 2])
        with np.errstate(all="ignore"):
            loss, grad = module.softmax_cross_entropy(logits.copy(), labels)
        require(math.isfinite(float(loss)) and np.isfinite(grad).all(),
                "logits of ±10⁴ give NaN or inf: exp overflows. Subtract each row's max before exp "
                "(log-sum-exp); never use log(p + eps)")
        expect(grad, softmax_cross_entropy(logits, labels)[1], "∂L/∂logits for logits of ±10⁴", n=2)

    def untouched() -> None:
        logits, labels = rng.standard_normal((4, 10)), rng.integers(0, 10, 4)
        before = logits.copy()
        module.softmax_cross_entropy(logits, labels)
        require(np.array_equal(logits, before), "the function changed its argument logits in place")

    checks.run_in_order(("loss and gradient", values), ("stable for large logits", stable),
                        ("leaves its arguments unchanged", untouched))


def check_dropout(module: ModuleType, checks: Checks) -> None:
    p = 0.3

    def scaling() -> None:
        layer = module.Dropout(p, rng=np.random.default_rng(0))
        x = np.random.default_rng(1).uniform(1.0, 2.0, (2000, 50))
        y = np.asarray(layer.forward(x), dtype=np.float64)
        kept = y != 0
        require(y.shape == x.shape, f"the output has shape {y.shape}, expected {x.shape}")
        if np.allclose(y[kept], x[kept]):
            raise _Failed("kept units are not rescaled: inverted dropout multiplies them by 1/(1 − p), so that "
                          "E[y] = x and inference needs no scaling")
        if np.allclose(y[kept], x[kept] * (1 - p)):
            raise _Failed("kept units are multiplied by (1 − p); inverted dropout divides them by (1 − p)")
        require(np.allclose(y[kept], x[kept] / (1 - p)), "kept units must be x / (1 − p), dropped ones 0")
        dropped = 1.0 - kept.mean()
        spread = 4 * math.sqrt(p * (1 - p) / kept.size)
        if abs(dropped - (1 - p)) < spread:
            raise _Failed(f"it drops a fraction {dropped:.3f} = 1 − p: p is the probability of *dropping* a unit; "
                          "keep = rng.random(shape) >= p")
        require(abs(dropped - p) < spread, f"it drops a fraction {dropped:.3f} of the units, expected p = {p}")
        require(abs(float(y.mean() / x.mean()) - 1) < 0.01, "the mean of y must equal the mean of x (E[y] = x)")

    def backward() -> None:
        layer = module.Dropout(p, rng=np.random.default_rng(2))
        x = np.random.default_rng(3).uniform(1.0, 2.0, (7, 20))
        y = np.asarray(layer.forward(x), dtype=np.float64)
        g = np.random.default_rng(4).standard_normal(x.shape)
        expect(_untouched(layer.backward, g), g * (y / x), "∂L/∂x: G times the mask of the forward pass",
               mistakes=[("it uses a new mask: backward must reuse the mask of the forward pass",
                          g * (np.asarray(module.Dropout(p, rng=np.random.default_rng(2)).forward(x)) / x))])

    def inference() -> None:
        layer = module.Dropout(p, rng=np.random.default_rng(5))
        layer.training = False
        x = np.random.default_rng(6).standard_normal((4, 5))
        expect(layer.forward(x), x, "the output in inference (training = False): the identity",
               mistakes=[("it multiplies by (1 − p) at inference: inverted dropout needs no scaling then",
                          x * (1 - p))])
        g = np.random.default_rng(7).standard_normal((4, 5))
        expect(layer.backward(g), g, "∂L/∂x after an inference forward")

    def seeded() -> None:
        x = np.ones((50, 40))
        masks = [np.asarray(module.Dropout(p, rng=np.random.default_rng(s)).forward(x)) for s in (8, 8, 9)]
        require(np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[0], masks[2]),
                "the mask must come from the layer's generator (self.rng): the same seed must give the same "
                "mask, another seed another one")

    def finite_differences() -> None:
        _gradcheck(module.Dropout(0.5, rng=np.random.default_rng(10)),
                   np.random.default_rng(11).standard_normal((7, 6)), np.random.default_rng(12))

    checks.run_in_order(("training: drop with probability p, scale by 1/(1 − p)", scaling),
                        ("backward with the forward's mask", backward), ("inference is the identity", inference),
                        ("masks come from the layer's generator", seeded),
                        ("backward against finite differences", finite_differences))


def _batchnorm_case(n: int, rng: np.random.Generator, constant_column: bool = False) -> tuple[np.ndarray, ...]:
    x = rng.standard_normal((n, 6)) * 3 + 1
    if constant_column:
        x[:, 2] = 4.0                                                  # one feature: one repeated value
    return x, rng.uniform(0.5, 2.0, 6), rng.standard_normal(6), rng.standard_normal((n, 6))


def _batchnorm_mistakes(x: np.ndarray, gamma: np.ndarray, g: np.ndarray, eps: float = 1e-5) -> list[tuple[str, Any]]:
    n = len(x)
    s = 1 / np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - x.mean(axis=0)) * s
    dbeta, dgamma = g.sum(axis=0), (g * x_hat).sum(axis=0)
    return [
        ("the x̂ · Σ(G x̂) term is missing (the path through σ²)", gamma * s / n * (n * g - dbeta)),
        ("the Σ G term is missing (the path through μ)", gamma * s / n * (n * g - x_hat * dgamma)),
        ("γ is missing: ∂L/∂x̂ = γ G", s / n * (n * g - dbeta - x_hat * dgamma)),
        ("it treats μ and σ² as constants (the inference formula) on a training forward", gamma * s * g),
    ]


def _with(backward: Callable[..., Any], cache: Any) -> Callable[[np.ndarray], Any]:
    """backward(G, cache) as a function of G alone."""
    return lambda grad: backward(grad, cache)


def check_batchnorm_graph(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)

    def forward() -> None:
        for n in BATCHES:
            x, gamma, beta, _ = _batchnorm_case(n, rng)
            y, _ = module.batchnorm_forward(x, gamma, beta)
            unbiased = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5) * gamma + beta
            expect(y, (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5) * gamma + beta, f"y at batch {n}",
                   mistakes=[("normalized with the unbiased variance (÷ (N − 1)); training uses the biased one (÷ N)",
                              unbiased)])

    def backward() -> None:
        for n in (*BATCHES, 64):
            x, gamma, beta, g = _batchnorm_case(n, rng, constant_column=n == 7)
            layer = reference.BatchNorm(6, dtype=np.float64)
            layer.gamma.value[...], layer.beta.value[...] = gamma, beta
            layer.forward(x)
            want_dx = layer.backward(g)
            _, cache = module.batchnorm_forward(x, gamma, beta)
            dx, dgamma, dbeta = _untouched(_with(module.batchnorm_backward, cache), g)
            expect(dbeta, layer.beta.grad, f"∂L/∂β at batch {n}", n=n)
            expect(dgamma, layer.gamma.grad, f"∂L/∂γ at batch {n}", n=n)
            expect(dx, want_dx, f"∂L/∂x at batch {n}", n=n, mistakes=_batchnorm_mistakes(x, gamma, g))

    checks.run_in_order(("forward", forward), ("backward, node by node, against glassnet", backward))


def check_batchnorm(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)

    def pair(gamma: np.ndarray, beta: np.ndarray) -> tuple[Any, reference.BatchNorm]:
        mine, theirs = module.BatchNorm(6, dtype=np.float64), reference.BatchNorm(6, dtype=np.float64)
        for layer in (mine, theirs):
            layer.gamma.value[...], layer.beta.value[...] = gamma, beta
        return mine, theirs

    def training() -> None:
        for n in BATCHES:
            x, gamma, beta, g = _batchnorm_case(n, rng, constant_column=n == 3)
            mine, theirs = pair(gamma, beta)
            unbiased = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5) * gamma + beta
            expect(mine.forward(x), theirs.forward(x), f"y in training at batch {n}",
                   mistakes=[("normalized with the unbiased variance (÷ (N − 1)); training uses the biased one (÷ N)",
                              unbiased), ("it uses the running averages in training: use the batch's μ and σ²",
                                          theirs.infer(x))])
            dx = _untouched(mine.backward, g)
            want_dx = theirs.backward(g)
            expect(mine.beta.grad, theirs.beta.grad, f"∂L/∂β at batch {n}", n=n)
            expect(mine.gamma.grad, theirs.gamma.grad, f"∂L/∂γ at batch {n}", n=n)
            expect(dx, want_dx, f"∂L/∂x at batch {n}", n=n, mistakes=_batchnorm_mistakes(x, gamma, g))
            _assigned(mine.backward, g, mine.params())

    def running() -> None:
        x0, gamma, beta, _ = _batchnorm_case(8, rng)
        mine, theirs = pair(gamma, beta)
        biased_var, momentum_swapped = np.ones(6), np.ones(6)
        for k in range(3):
            x = x0 * (k + 1) + k
            mine.forward(x)
            theirs.forward(x)
            biased_var = 0.9 * biased_var + 0.1 * x.var(axis=0)
            momentum_swapped = 0.1 * momentum_swapped + 0.9 * x.var(axis=0, ddof=1)
        expect(mine.running_mean, theirs.running_mean, "running_mean after three training batches")
        expect(mine.running_var, theirs.running_var, "running_var after three training batches",
               mistakes=[("it averages the biased variance; the running variance uses the unbiased σ² · N/(N − 1)",
                          biased_var),
                         ("momentum is the weight of the *new* batch: running = (1 − m) · running + m · batch",
                          momentum_swapped)])

    def inference() -> None:
        x, gamma, beta, g = _batchnorm_case(5, rng)
        mine, theirs = pair(gamma, beta)
        for layer in (mine, theirs):
            layer.running_mean[...] = np.linspace(-1, 1, 6)
            layer.running_var[...] = np.linspace(0.5, 2, 6)
            layer.training = False
        expect(mine.forward(x), theirs.forward(x), "y in inference (training = False): the running averages",
               mistakes=[("it uses the batch's statistics in inference; use running_mean and running_var",
                          (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5) * gamma + beta)])
        require(np.array_equal(mine.running_mean, np.linspace(-1, 1, 6)),
                "an inference forward changed running_mean: only training batches update it")
        expect(mine.backward(g), theirs.backward(g), "∂L/∂x after an inference forward: γ / √(σ²_run + eps) · G")

    def follows_forward() -> None:
        x, gamma, beta, g = _batchnorm_case(6, rng)
        mine, theirs = pair(gamma, beta)
        mine.forward(x)
        theirs.forward(x)
        mine.training = theirs.training = False             # switched after the forward
        expect(mine.backward(g), theirs.backward(g), "∂L/∂x of a training forward, with eval() called after it",
               mistakes=[("backward used the mode the layer is in now, not the mode of its forward pass: "
                          "record the mode in the cache", _batchnorm_mistakes(x, gamma, g)[3][1])])

    def finite_differences() -> None:
        for n in (3, 7):
            x, gamma, beta, _ = _batchnorm_case(n, rng)
            _gradcheck(pair(gamma, beta)[0], x, rng)

    checks.run_in_order(("training: forward and backward against glassnet", training),
                        ("running averages", running), ("inference mode", inference),
                        ("backward follows the mode of its forward", follows_forward),
                        ("backward against finite differences", finite_differences))


def check_adam(module: ModuleType, checks: Checks) -> None:
    from glassnet.nn.params import Param

    def trajectories(steps: int = 5) -> Iterator[tuple[int, list[Any], list[Param]]]:
        rng = np.random.default_rng(0)
        shapes = [(4, 3), (3,)]
        values = [rng.standard_normal(shape) for shape in shapes]
        mine, theirs = [Param(v.copy(), name=f"p{i}") for i, v in enumerate(values)], [Param(v.copy()) for v in values]
        opt_mine, opt_theirs = module.Adam(mine, lr=0.01), Adam(theirs, lr=0.01)
        for step in range(1, steps + 1):
            for a, b in zip(mine, theirs):
                a.grad = rng.standard_normal(a.value.shape) * 0.1
                b.grad = a.grad.copy()
            opt_mine.step()
            opt_theirs.step()
            yield step, mine, theirs

    def steps() -> None:
        for step, mine, theirs in trajectories():
            for a, b in zip(mine, theirs):
                require(np.isfinite(a.value).all(), f"{a.name} is not finite after step {step}: is t still 0 in "
                                                    "the corrections? Increment t first (t = 1 on the first step)")
                expect(a.value, b.value, f"{a.name} after step {step}", mistakes=_adam_mistakes(step))

    checks.run("five steps against glassnet's Adam", steps)


def _adam_mistakes(step: int) -> list[tuple[str, np.ndarray]]:
    """What each classic mistake gives after ``step`` steps of the trajectory above (recomputed)."""
    variants = {"bias correction is missing (m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ))": (False, False),
                "the bias correction of v is missing (v̂ = v / (1 − β₂ᵗ))": (True, False),
                "the bias correction of m is missing (m̂ = m / (1 − β₁ᵗ))": (False, True)}
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(shape) for shape in [(4, 3), (3,)]]
    grads = [[rng.standard_normal(v.shape) * 0.1 for v in values] for _ in range(step)]
    mistakes = []
    for explanation, (correct_m, correct_v) in variants.items():
        thetas = [v.copy() for v in values]
        m = [np.zeros_like(v) for v in values]
        s = [np.zeros_like(v) for v in values]
        for t in range(1, step + 1):
            for i, g in enumerate(grads[t - 1]):
                m[i] = 0.9 * m[i] + 0.1 * g
                s[i] = 0.999 * s[i] + 0.001 * g**2
                m_hat = m[i] / (1 - 0.9**t) if correct_m else m[i]
                v_hat = s[i] / (1 - 0.999**t) if correct_v else s[i]
                thetas[i] = thetas[i] - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
        mistakes.append((explanation, thetas[0]))
    return mistakes


def check_init(module: ModuleType, checks: Checks) -> None:
    def variance() -> None:
        w = np.asarray(module.he_normal(np.random.default_rng(0), 1000, 400, np.float64))
        require(w.shape == (1000, 400), f"the weights have shape {w.shape}, expected (fan_in, fan_out) = (1000, 400)")
        std = float(w.std())
        for wrong, hint in ((math.sqrt(1 / 1000), "variance 1/fan_in (LeCun); He's is 2/fan_in, for ReLU"),
                            (math.sqrt(2 / 400), "it uses fan_out; He's variance is 2/fan_in"),
                            (2 / 1000, "it multiplies by 2/fan_in, the variance; multiply by its square root")):
            if abs(std / wrong - 1) < 0.02 and abs(std / math.sqrt(2 / 1000) - 1) > 0.02:
                raise _Failed(f"standard deviation {std:.4f}: {hint}")
        require(abs(std / math.sqrt(2 / 1000) - 1) < 0.02, f"standard deviation {std:.4f}, expected √(2/fan_in) = "
                                                            f"{math.sqrt(2 / 1000):.4f}")
        require(abs(float(w.mean())) < 0.002, f"the mean is {float(w.mean()):.4f}, expected 0")

    def seeded() -> None:
        draws = [np.asarray(module.he_normal(np.random.default_rng(s), 30, 20, np.float64)) for s in (1, 1, 2)]
        require(np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2]),
                "draw only from the generator you are given (rng): the same seed must give the same weights")
        w32 = np.asarray(module.he_normal(np.random.default_rng(1), 30, 20, np.float32))
        require(w32.dtype == np.float32, f"dtype float32 was asked for, got {w32.dtype}")
        expect(draws[0], he_normal(np.random.default_rng(1), 30, 20, np.float64),
               "the weights for seed 1 (rng.standard_normal((fan_in, fan_out)) · √(2/fan_in), as glassnet draws them)")

    checks.run_in_order(("variance 2/fan_in", variance), ("seeded, shaped and typed", seeded))

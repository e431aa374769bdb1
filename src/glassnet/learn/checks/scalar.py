"""Exercise 0: backpropagation on three scalar nodes, u = a·b, v = u + c, f = v²."""

from __future__ import annotations

import math
from types import ModuleType

from glassnet.learn.checks import Checks, Failed, require
from glassnet.learn.checks.graph import own_step
from glassnet.learn.diagnose import describe_number

CASES = [(2.0, -3.0, 1.5), (0.5, 4.0, -2.0), (-1.25, 0.75, 3.0)]
FROM = {"v": (), "u": ("v",), "c": ("v",), "a": ("u",), "b": ("u",)}     # each gradient, from the ones it needs


def _same(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def _number(got: object, what: str) -> float:
    try:
        return float(got)                                   # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Failed(f"{what}: got {type(got).__name__}, expected a number") from None


def _wanted(a: float, b: float, c: float) -> dict[str, tuple[float, list[tuple[float, str, str]]]]:
    """∂f/∂node for every node, with what each classic mistake gives there: (value, cause, explanation)."""
    v = a * b + c
    upstream = 2 * v                                        # ∂f/∂v, which every other node's gradient carries
    no_upstream = ("scalar.local-only", "that is the local derivative alone: the chain rule multiplies it by "
                                        "the gradient arriving from above (∂f/∂v = 2v, then ∂f/∂u)")
    return {
        "v": (upstream, [(v, "scalar.missing-2", "∂(v²)/∂v is 2v: the factor 2 is missing"),
                         (v * v, "scalar.value-not-derivative", "that is f = v², the value, not its derivative")]),
        "u": (upstream, [(1.0, *no_upstream)]),
        "c": (upstream, [(1.0, *no_upstream)]),
        "a": (upstream * b, [(b, *no_upstream),
                             (upstream * a, "scalar.other-factor", "∂(a·b)/∂a is b, the other factor, not a"),
                             (upstream, "scalar.local-missing", "that is ∂f/∂u alone: times ∂u/∂a = b")]),
        "b": (upstream * a, [(a, *no_upstream),
                             (upstream * b, "scalar.other-factor", "∂(a·b)/∂b is a, the other factor, not b"),
                             (upstream, "scalar.local-missing", "that is ∂f/∂u alone: times ∂u/∂b = a")]),
    }


def check_scalar_graph(module: ModuleType, checks: Checks) -> None:
    def forward() -> None:
        for a, b, c in CASES:
            got = module.forward(a, b, c)
            u, v = a * b, a * b + c
            for node, formula, want in (("u", "a · b", u), ("v", "u + c", v), ("f", "v²", v * v)):
                require(isinstance(got, dict) and node in got, f"forward must return a dict with key {node!r}",
                        "returned-none")
                value = _number(got[node], f"{node} for a, b, c = {a}, {b}, {c}")
                if not _same(value, want):
                    hint = " (v², v times itself, not 2v)" if node == "f" and _same(value, 2 * v) else ""
                    raise Failed(f"{node} for a, b, c = {a}, {b}, {c}: {describe_number(value, want)}; the nodes "
                                 f"before it are right, so {node} = {formula} is computed wrong{hint}",
                                 "scalar.forward")

    def backward() -> None:
        for a, b, c in CASES:
            got = module.backward(a, b, c)
            for node, (want, mistakes) in _wanted(a, b, c).items():
                require(isinstance(got, dict) and node in got, f"backward must return a dict with key {node!r}",
                        "returned-none")
                value = _number(got[node], f"∂f/∂{node}")
                if _same(value, want):
                    continue
                where = f"∂f/∂{node} for a, b, c = {a}, {b}, {c}: {describe_number(value, want)}"
                for wrong, cause, explanation in mistakes:
                    if _same(value, wrong):
                        raise Failed(f"{where}; {explanation}", cause)
                if _same(value, -want):
                    raise Failed(f"{where}: the sign is wrong", "sign")
                numerical = f" (a finite difference of your forward gives {_central(module, a, b, c, node):.6g})" \
                    if node in "abc" else ""
                raise Failed(f"{where}{numerical}; {own_step('f', node, FROM[node])}", "local-derivative")

    checks.run_in_order(("forward: u, v, f", forward), ("backward: the chain rule, node by node", backward))


def _central(module: ModuleType, a: float, b: float, c: float, name: str, h: float = 1e-6) -> float:
    """∂f/∂name by a centred difference of the learner's own forward."""
    def f(shift: float) -> float:
        inputs = {"a": a, "b": b, "c": c}
        inputs[name] += shift
        return float(module.forward(inputs["a"], inputs["b"], inputs["c"])["f"])

    return (f(h) - f(-h)) / (2 * h)

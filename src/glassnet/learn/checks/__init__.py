"""What the checks of every exercise share: running them in turn, failing with a named cause, the layer rules.

Every check runs in float64, with random upstream gradients, several batch sizes (2 and odd ones
among them), and the modes and edge cases that matter. A check is a function that raises ``Failed``;
whatever else it raises, the learner's code raised. Each exercise's checks live in a module beside
this one; ``glassnet.learn.exercises`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.learn.diagnose import Mistakes, as_array, close, compare
from glassnet.learn.learner_code import describe, text
from glassnet.learn.result import Result
from glassnet.learn.shapes import explain_broadcast, explain_matmul
from glassnet.nn.gradcheck import check_layer

BATCHES = (2, 3, 7)


class Failed(Exception):
    """A check failed; the message says why, the cause names the mistake (None when it cannot tell)."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class Checks:
    """Runs the checks of one exercise and reports each: ``started(name)`` before it, ``report(result)`` after."""

    def __init__(self, exercise: str, path: Path, *, started: Callable[[str], None],
                 report: Callable[[Result], None]) -> None:
        self.exercise, self.path = exercise, path            # path: absolute, as the learner's code carries it
        self.started, self.report = started, report

    def run(self, name: str, check: Callable[[], None]) -> bool:
        self.started(name)
        cause: str | None
        try:
            check()
        except Failed as e:
            message, cause = str(e), e.cause
        except NotImplementedError as e:
            message, cause = f"not implemented yet: {text(e)}", "not-implemented"
        except BaseException as e:                  # the learner's code raised, or called sys.exit: say where
            message, cause = _raised(e, self.path)
        else:
            self.report(Result(self.exercise, name, True))
            return True
        self.report(Result(self.exercise, name, False, message, cause))
        return False

    def run_in_order(self, *steps: tuple[str, Callable[[], None]]) -> None:
        """Run the checks in turn, up to the first that fails: the later ones build on it."""
        for name, check in steps:
            if not self.run(name, check):
                return


def _raised(error: BaseException, path: Path) -> tuple[str, str]:
    """What the learner's code raised, with the cause where the error shows it: a Param used as an array, a None
    where an array belongs, a matrix product or a broadcast whose shapes do not fit (named with their shapes)."""
    message = describe(error, [path]).replace("LooseParam", "Param")
    if isinstance(error, (TypeError, AttributeError)) and re.search(r"'(Loose)?Param'", str(error)):
        return (f"{message}. A Param is not an array: its numbers are p.value (and its gradient p.grad)",
                "param-not-array")
    if isinstance(error, (TypeError, AttributeError)) and "'NoneType'" in str(error):
        return (f"{message}. Something there is None where an array belongs: a cache that forward did not set (in "
                "this mode: after an inference forward too), or a bias of a layer built with bias=False",
                "none-value")
    product = explain_matmul(error, path) if isinstance(error, ValueError) else None
    if product is not None:
        return f"{message}. There, {product}", "matmul-shapes"
    shapes = _BROADCAST.search(str(error)) if isinstance(error, ValueError) else None
    if shapes and shapes["rows"] == shapes["kept"]:
        return (f"{message}. A reduction over axis 1 has shape (N,), and combining it with an (N, D) array pairs "
                "it with the columns: keep the axis (keepdims=True gives shape (N, 1))", "keepdims")
    arrays = explain_broadcast(error, path) if isinstance(error, ValueError) else None
    if arrays is not None:
        return (f"{message}. The arrays on that line: {arrays}; write down the shape each must have (a reduction "
                "over the wrong axis gives one entry per row where one per feature belongs)", "broadcast-shapes")
    return message, "error"


_BROADCAST = re.compile(r"could not be broadcast together with shapes \((?P<rows>\d+),\d+\) \((?P<kept>\d+),\)")


def expect(got: Any, want: Any, what: str, *, n: int | None = None, mistakes: Mistakes = ()) -> None:
    """Fail, naming the mistake when it can, unless ``got`` equals ``want`` (``mistakes``: see ``compare``)."""
    problem = compare(got, want, what, n=n, mistakes=mistakes)
    if problem is not None:
        raise Failed(problem.message, problem.cause)


def expect_grad(param: Any, want: Any, what: str, *, n: int, mistakes: Mistakes = ()) -> None:
    """``expect`` for a parameter's gradient, first failing if backward never assigned it."""
    if isinstance(param, LooseParam) and param.grad is param.unset and not np.any(param.grad) and np.any(want):
        raise Failed(f"{what}: {param.name}.grad was never assigned (it is still the zeros it started as); backward "
                     f"must set it: {param.name}.grad = ...", "grad-not-assigned")
    expect(param.grad, want, what, n=n, mistakes=mistakes)


def require(condition: bool, message: str, cause: str | None = None) -> None:
    if not condition:
        raise Failed(message, cause)


def gradcheck(layer: Any, x: np.ndarray, rng: np.random.Generator) -> None:
    report = check_layer(layer, x, rng=rng)
    worst = max(report.rows, key=lambda row: row.rel_error)
    require(report.passed(1e-6), f"finite differences disagree with backward for {worst.name} (relative error "
                                 f"{worst.rel_error:.1e}; a right backward gives ~1e-9), and the checks against "
                                 "glassnet passed: does backward depend on something forward did not cache?")


def forward(function: Callable[..., Any], *inputs: np.ndarray, what: str = "forward") -> Any:
    """``function(*inputs)``, failing if it changed any of its inputs (its caller's arrays)."""
    before = [np.array(x, copy=True) for x in inputs]
    result = function(*inputs)
    for i, (x, saved) in enumerate(zip(inputs, before)):
        if not np.array_equal(x, saved, equal_nan=True):
            name = "its input x" if len(inputs) == 1 else f"its argument {i + 1}"
            raise Failed(f"{what} changed {name} in place (as x[...] = …, x *= … or x -= … do); compute a new "
                         "array: the input belongs to the layer before", "changed-input")
    return result


def backward(function: Callable[[np.ndarray], Any], grad_out: np.ndarray, layer: Any = None) -> Any:
    """``function(grad_out)``, failing if it changed grad_out, or a parameter's value, in place."""
    before = grad_out.copy()
    params = layer.params() if layer is not None else []
    values = [(p, np.array(p.value, copy=True)) for p in params]
    try:
        result = function(grad_out)
    except Exception:
        _grad_shapes(params, len(grad_out), "; then backward raised an error, most likely because of it")
        raise
    require(np.array_equal(grad_out, before), "backward changed its argument grad_out in place; compute a new "
                                              "array instead (G is the caller's)", "changed-grad-out")
    for p, value in values:
        require(np.array_equal(p.value, value), f"backward changed {p.name}.value: it must assign {p.name}.grad "
                                                "and leave the value alone (only the optimizer writes it)",
                "wrote-value")
    return result


def _grad_shapes(params: list[Any], n: int, after: str = "") -> None:
    """Fail, naming the axis, if backward assigned a gradient of another shape than its parameter's and then raised."""
    for p in params:
        shape, want = np.shape(p.grad), p.value.shape
        if shape == want:
            continue
        if shape == (n,) and len(want) == 1 and want != (n,):
            raise Failed(f"{p.name}.grad has shape {shape}, one entry per row of the batch; it must have {p.name}'s "
                         f"shape {want}: it is summed over axis 1 (the features), and a sum over the batch is "
                         f"axis=0{after}", "wrong-axis")
        raise Failed(f"{p.name}.grad has shape {shape}; it must have {p.name}'s shape {want}{after}", "shape")


def assigned(backward: Callable[[np.ndarray], Any], grad_out: np.ndarray, params: list[Any]) -> None:
    """A second backward with the same G must give the same parameter gradients (assigned, not accumulated)."""
    first = [np.array(p.grad, dtype=np.float64) if as_array(p.grad) is not None else None for p in params]
    backward(grad_out)
    for p, g in zip(params, first):
        if g is not None and np.any(g) and close(p.grad, 2 * g):
            raise Failed(f"{p.name}.grad doubled on a second backward: gradients are accumulated (+=); assign them "
                         f"({p.name}.grad = ...)", "accumulated")
        expect(p.grad, g, f"{p.name}.grad after a second identical backward")


class LooseParam:
    """A parameter whose ``grad`` takes any value, so that a wrong shape is diagnosed rather than refused.

    glassnet's ``Param`` refuses a gradient of the wrong shape with advice meant for other code; the
    checks give the learner's layer these instead, and name the mistake from what it assigned.
    """

    def __init__(self, value: np.ndarray, name: str) -> None:
        self.value, self.name = value, name
        self.unset = np.zeros_like(value)               # the gradient until backward assigns one
        self.grad: Any = self.unset

    def __repr__(self) -> str:
        return f"Param({self.name!r}, shape={self.value.shape})"


def loosen(layer: Any, *names: str) -> Any:
    """The layer with its parameters ``names`` (attributes holding a Param, or None) made ``LooseParam``."""
    for name in names:
        param = getattr(layer, name, None)
        if param is not None and isinstance(getattr(param, "value", None), np.ndarray):
            setattr(layer, name, LooseParam(param.value, getattr(param, "name", "") or name))
    return layer

"""What the checks of every exercise share: running them in turn, failing with a named cause, the layer rules.

Every check runs in float64, with random upstream gradients, several batch sizes (2 and odd ones
among them), and the modes and edge cases that matter. A check is a function that raises ``Failed``;
whatever else it raises, the learner's code raised. Each exercise's checks live in a module beside
this one; ``glassnet.learn.exercises`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from glassnet.learn.diagnose import Mistakes, as_array, batch_size, close, compare
from glassnet.learn.learner_code import describe, text
from glassnet.learn.result import Result
from glassnet.learn.shapes import Refused, explain_broadcast, explain_matmul, refused_broadcast
from glassnet.learn.show import where_differs
from glassnet.nn.gradcheck import check_layer

BATCHES = (2, 3, 7)
SECOND_FORWARD = "backward after two forwards: the last one's"       # the names of checks several layers run
DTYPES = "float64 stays float64, float32 stays float32"
AFTER_TWO = "after forwards on batches of 7, then 3"
T = TypeVar("T")


class Failed(Exception):
    """A check failed; the message says why, the cause names the mistake (None when it cannot tell).

    ``alone`` and ``batch``: the cause rests on a factor equal to the batch size ``batch``, which one batch
    size cannot tell from a constant; ``alone`` says what was seen without naming N (see ``over_batches``).
    """

    def __init__(self, message: str, cause: str | None = None, *, alone: str | None = None,
                 batch: int | None = None) -> None:
        super().__init__(message)
        self.cause, self.alone, self.batch = cause, alone, batch

    def confirmed(self, other: int) -> Failed:
        """This failure, its factor N seen at batch ``other`` too."""
        assert self.batch is not None
        message = str(self).replace(batch_size(self.batch), batch_size(self.batch, other), 1)
        return Failed(message, self.cause)


def _itself(item: Any) -> int:
    return int(item)


def over_batches(batches: Iterable[T], check_at: Callable[[T], None], batch: Callable[[T], int] = _itself) -> None:
    """``check_at`` each of ``batches`` in turn, failing at the first that fails, except that a factor equal to N
    is named only when a second batch size fails with the same cause: a constant 2 equals N at batch 2.

    A held factor whose other batch sizes pass, or fail otherwise, is not put down to N: the later failure is
    raised (it names its own evidence), or, when every other batch size passes, the factor alone, unnamed.
    """
    held: Failed | None = None
    for item in batches:
        try:
            check_at(item)
        except Failed as e:
            if held is None and e.alone is not None:
                held = e
                continue
            if held is not None and e.cause == held.cause:
                raise held.confirmed(batch(item)) from None
            raise
    if held is not None:
        raise Failed(f"{held.alone}, and it is right at the other batch sizes: the checker cannot tell which "
                     "mistake this is")


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
    if isinstance(error, (TypeError, AttributeError)) and re.search(r"\bNoneType\b", str(error)):
        return (f"{message}. Something there is None where an array belongs: a cache that forward did not set (in "
                "this mode: after an inference forward too), or a bias of a layer built with bias=False",
                "none-value")
    if not isinstance(error, ValueError):
        return message, "error"
    product = explain_matmul(error, path)
    if product is not None:
        return f"{message}. There, {product}", "matmul-shapes"
    refused = refused_broadcast(error, path)
    if refused is not None:
        return broadcast_message(message, refused)
    arrays = explain_broadcast(error, path)
    if arrays is not None:
        return (f"{message}. The arrays named on that line: {arrays}; write down the shape each must have",
                "broadcast-shapes")
    return message, "error"


def broadcast_message(message: str, refused: Refused) -> tuple[str, str]:
    """What NumPy refused, with its operands' shapes, and keepdims named only when an operand is, on that very
    line, a reduction over axis 1 without it."""
    left, right = refused.left, refused.right
    for row, other in ((left, right), (right, left)):
        if row.row_reduction is not None and len(other.shape) == 2 and row.shape == other.shape[:1]:
            return (f"{message}. There, {refused}: {row.row_reduction} has shape {row.shape}, one value per row, "
                    f"and NumPy lines it up with the last axis of {other.text}, its columns: keep the axis "
                    f"(keepdims=True gives shape ({row.shape[0]}, 1))", "keepdims")
    said = f"{message}. There, {refused}: NumPy lines shapes up from the last axis, and these do not fit"
    if len(left.shape) == len(right.shape) == 2 and left.shape == right.shape[::-1]:
        said += "; each shape is the other reversed: one of the two is transposed"
    for row, other in ((left, right), (right, left)):
        if len(row.shape) == 1 and len(other.shape) == 2 and row.shape[0] == other.shape[0] != other.shape[1]:
            said += (f"; {row.text} has one entry per row of {other.text}, which NumPy pairs with its columns: if it "
                     f"is one value per row, it needs shape ({row.shape[0]}, 1) (keepdims=True where it is reduced)")
    return f"{said}. Write down the shape each must have", "broadcast-shapes"


def expect(got: Any, want: Any, what: str, *, n: int | None = None, mistakes: Mistakes = ()) -> None:
    """Fail, naming the mistake when it can, unless ``got`` equals ``want`` (``mistakes``: see ``compare``)."""
    problem = compare(got, want, what, n=n, mistakes=mistakes)
    if problem is not None:
        raise Failed(problem.message, problem.cause, alone=problem.alone, batch=n)


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


def arrays_held(layer: Any) -> list[tuple[str, np.ndarray]]:
    """The arrays in a layer's own fields, and one level into a tuple, list or dict there: ("self.x", x), …"""
    found = []
    fields = getattr(layer, "__dict__", None)
    for name, value in (fields.items() if isinstance(fields, dict) else ()):
        if isinstance(value, np.ndarray):
            found.append((f"self.{name}", value))
        elif isinstance(value, (tuple, list)):
            found += [(f"self.{name}[{i}]", item) for i, item in enumerate(value) if isinstance(item, np.ndarray)]
        elif type(value) is dict:
            found += [(f"self.{name}[{key!r}]", item) for key, item in value.items() if isinstance(item, np.ndarray)]
    return found


@contextmanager
def after_two_forwards(layer: Any, first: int, second: int) -> Iterator[None]:
    """Around a backward that follows training forwards on a batch of ``first`` rows, then one of ``second``: if it
    fails (or raises) while the layer still holds an array of ``first`` rows, forward kept the first cache."""
    try:
        yield
    except Exception:
        kept = next((name for name, array in arrays_held(layer) if array.ndim and len(array) == first), None)
        if kept is None:
            raise
        raise Failed(f"forward on a batch of {first} rows, then on one of {second}: {kept} still has the first "
                     f"batch's {first} rows, so backward used the first forward's cache. Set the cache on every "
                     "forward: backward differentiates the last one (and learn train's last batch is smaller)",
                     "stale-cache") from None


def keeps_dtype(layer: Any, x: np.ndarray, grad_out: np.ndarray) -> tuple[Any, Any]:
    """forward(x), then backward(G), failing unless the output, ∂L/∂x and each parameter's gradient have x's dtype
    (its parameters have it too), and no array the layer keeps has less precision. Returns (output, ∂L/∂x).

    A cache kept in more precision than the run's costs memory, not digits; one kept in less rounds them away."""
    y = forward(layer.forward, x)
    same_dtype(y, x.dtype, "the output")
    for name, array in arrays_held(layer):
        if array.dtype.kind == "f" and array.dtype.itemsize < x.dtype.itemsize:
            same_dtype(array, x.dtype, f"{name}, which forward keeps,")
    dx = backward(layer.backward, grad_out.astype(x.dtype), layer)
    same_dtype(dx, x.dtype, "∂L/∂x")
    for p in layer.params():
        same_dtype(p.grad, x.dtype, f"{p.name}.grad")
    return y, dx


def same_dtype(array: Any, dtype: np.dtype[Any], what: str) -> None:
    """Fail, naming the direction, if ``array`` is a floating-point array of another dtype than ``dtype``."""
    got = getattr(array, "dtype", None)
    if not isinstance(got, np.dtype) or got.kind != "f" or got == dtype:
        return
    run = f"in a {dtype} run (its floating-point inputs {dtype}), {what} is {got}"
    if got.itemsize < dtype.itemsize:
        raise Failed(f"{run}: something makes it {got} (an .astype(np.{got}), dtype=np.{got}, or a {got} array it is "
                     f"combined with), and rounds away {dtype}'s digits; compute in the input's dtype", "downcasts")
    made = ": np.zeros, np.ones and np.eye make float64 unless given a dtype" if got == np.float64 else ""
    raise Failed(f"{run}: something computes it in {got} (an .astype(np.{got}), dtype=np.{got}, or a {got} array it is "
                 f"combined with{made}); compute in the input's dtype, so that a {dtype} network stays {dtype} "
                 f"(glassnet's Param refuses a {got} gradient for a {dtype} value)", "upcasts")


def precise(got: Any, want: np.ndarray, what: str, rtol: float = 1e-10) -> None:
    """Fail, without naming a cause, unless ``got`` equals ``want`` to float64's precision (not merely float32's)."""
    array = as_array(got)
    if array is None or array.shape != want.shape or close(array, want, rtol):
        return
    scale = float(np.max(np.abs(want), initial=0.0)) or 1.0
    off = float(np.max(np.abs(array - want))) / scale
    raise Failed(f"{what}, in float64, agrees with glassnet's only to {off:.1e} of its largest entry, where a right "
                 f"layer agrees to about 1e-15: some step loses precision, and the checker cannot tell which. "
                 f"{where_differs(array, want)}")


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

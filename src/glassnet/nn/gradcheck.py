"""Gradient checking: backpropagation compared with centred finite differences.

For a scalar loss L(θ), each checked coordinate gets
    ∂L/∂θᵢ ≈ (L(θ + h eᵢ) − L(θ − h eᵢ)) / (2h),
whose error is O(h²) plus rounding of order eps_machine · |L| / h. The
comparison per tensor is the norm-wise relative error
    ‖analytic − numerical‖ / (‖analytic‖ + ‖numerical‖),
which stays meaningful when single entries are near zero (dead ReLUs).
In float64 with h = 1e-6, a correct gradient gives about 1e-8 or less;
1e-4 or more means a bug. Layers and models must be float64.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from glassnet.nn.layers import Layer
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array


@dataclass(frozen=True)
class GradCheckRow:
    """The comparison for one tensor (a parameter or the input)."""

    name: str
    shape: tuple[int, ...]
    n_checked: int
    max_abs_error: float
    rel_error: float


@dataclass
class GradCheckReport:
    """One row per checked tensor; ``max_rel_error`` is the worst of them."""

    rows: list[GradCheckRow] = field(default_factory=list)

    @property
    def max_rel_error(self) -> float:
        return max((row.rel_error for row in self.rows), default=0.0)

    def passed(self, tol: float = 1e-6, atol: float = 1e-8) -> bool:
        """Every tensor within ``tol`` relative error, or within ``atol`` absolutely.

        The absolute escape is for gradients whose true value is tiny. The finite difference has
        an absolute error of its own (rounding, about eps_machine · |L| / h), and against a tiny
        true value that error makes the relative error large although both agree to ~1e-10.
        BatchNorm's input gradient at batch size 2 is one such case: two samples normalize to
        ±1 whatever their values, so the output barely depends on the input.
        """
        return all(row.rel_error < tol or row.max_abs_error < atol for row in self.rows)

    def format(self) -> str:
        """A text table for people."""
        header = f"{'tensor':<16}{'shape':<14}{'checked':>9}{'max |abs err|':>16}{'rel error':>12}"
        return "\n".join([header] + [f"{r.name:<16}{r.shape!s:<14}{r.n_checked:>9}{r.max_abs_error:>16.2e}"
                                      f"{r.rel_error:>12.2e}" for r in self.rows])


def relative_error(analytic: Array, numerical: Array) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖), and 0 when both are exactly zero."""
    denom = float(np.linalg.norm(analytic) + np.linalg.norm(numerical))
    return float(np.linalg.norm(analytic - numerical)) / denom if denom > 0 else 0.0


def numerical_gradient(loss: Callable[[], float], x: Array, indices: NDArray[np.intp], *,
                       h: float = 1e-6) -> Array:
    """Centred differences of ``loss()`` w.r.t. the flat ``indices`` of ``x`` (perturbed in place, restored)."""
    flat = x.reshape(-1)                       # a view: perturbing it perturbs x
    grads = np.empty(len(indices), dtype=np.float64)
    for k, i in enumerate(indices):
        original = flat[i]
        flat[i] = original + h
        loss_plus = loss()
        flat[i] = original - h
        loss_minus = loss()
        flat[i] = original
        grads[k] = (loss_plus - loss_minus) / (2.0 * h)
    return grads


def _pick(size: int, n_samples: int | None, rng: np.random.Generator) -> NDArray[np.intp]:
    if n_samples is None or n_samples >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, n_samples, replace=False))


def _compare(name: str, x: Array, analytic: Array, loss: Callable[[], float], h: float,
             n_samples: int | None, rng: np.random.Generator) -> GradCheckRow:
    indices = _pick(x.size, n_samples, rng)
    numerical = numerical_gradient(loss, x, indices, h=h)
    chosen = analytic.reshape(-1)[indices]
    return GradCheckRow(name, tuple(x.shape), len(indices),
                        float(np.max(np.abs(chosen - numerical), initial=0.0)),
                        relative_error(chosen, numerical))


def _require_float64(x: Array, what: str) -> None:
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 ({what} is {x.dtype}); "
                        "build the model or layer with dtype=np.float64")


@contextlib.contextmanager
def _untouched(layers: list[Layer]) -> Iterator[Callable[[], None]]:
    """Inside: a function that rewinds every random generator of ``layers`` to its state at entry.

    On exit every parameter value and gradient, buffer, cache and generator
    state of ``layers`` is restored, so a check leaves them bit-identical.
    """
    attributes = [dict(vars(layer)) for layer in layers]            # caches and other bindings
    params = [(p, p.value.copy(), p.grad) for layer in layers for p in layer.params()]
    buffers = [(b, b.copy()) for layer in layers for b in layer.buffers().values()]
    generators = [g for attrs in attributes for g in attrs.values() if isinstance(g, np.random.Generator)]
    states = [g.bit_generator.state for g in generators]

    def rewind() -> None:                 # the same random draws (dropout masks) on every forward
        for generator, state in zip(generators, states):
            generator.bit_generator.state = state

    try:
        yield rewind
    finally:
        for layer, attrs in zip(layers, attributes):
            vars(layer).clear()
            vars(layer).update(attrs)
        for p, value, grad in params:
            p.value[...] = value
            p.grad = grad
        for buffer, saved in buffers:
            buffer[...] = saved
        rewind()


def check_layer(layer: Layer, x: Array, *, rng: np.random.Generator, h: float = 1e-6,
                n_samples: int | None = None) -> GradCheckReport:
    """Check dL/dx and every dL/dparam of one layer, with L = Σ forward(x) · G for a random G.

    A random upstream gradient G matters: with G = ones, BatchNorm's true dx is
    zero and a broken backward could pass unnoticed. The layer runs in its
    current mode; its random draws (a dropout mask) are the same on every
    forward, and it is left exactly as it was found.
    """
    _require_float64(x, "the input")
    x = x.copy()
    with _untouched([layer]) as rewind:

        def loss() -> float:
            rewind()
            return float(np.sum(layer.forward(x) * upstream))

        upstream = rng.standard_normal(np.shape(layer.forward(x)))
        loss()
        dx = layer.backward(upstream)
        report = GradCheckReport()
        for p in layer.params():
            _require_float64(p.value, p.name)
            report.rows.append(_compare(p.name, p.value, p.grad.copy(), loss, h, n_samples, rng))
        report.rows.append(_compare("input", x, dx, loss, h, n_samples, rng))
    return report


def check_loss(logits: Array, labels: NDArray[np.integer], *, h: float = 1e-6,
               label_smoothing: float = 0.0, weights: NDArray[np.floating] | None = None) -> GradCheckReport:
    """Check the softmax cross-entropy gradient w.r.t. the logits (weighted by ``weights`` when given)."""
    _require_float64(logits, "logits")
    logits = logits.copy()
    _, grad = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing, weights=weights)
    row = _compare("logits", logits, grad,
                   lambda: softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing, weights=weights)[0],
                   h, None, np.random.default_rng(0))
    return GradCheckReport([row])


def check_model(model: Sequential, x: Array, labels: NDArray[np.integer], *,
                rng: np.random.Generator, h: float = 1e-6,
                n_samples: int | None = None) -> GradCheckReport:
    """Check every parameter (and the input) of a model under softmax cross-entropy.

    The model runs in its current mode; in training mode every forward draws
    the same dropout masks. ``n_samples`` checks that many random coordinates
    per tensor (None: all of them). The model is left exactly as it was found:
    parameters, gradients, BatchNorm statistics, caches and generator states.
    """
    for p in model.params():
        _require_float64(p.value, "the model")
    x = np.array(x, dtype=np.float64)
    with _untouched(model.layers) as rewind:

        def loss() -> float:
            rewind()
            return softmax_cross_entropy(model.forward(x), labels)[0]

        rewind()
        _, grad = softmax_cross_entropy(model.forward(x), labels)
        dx = model.backward(grad)
        if dx is None:
            raise RuntimeError("check_model: the model returned no input gradient")
        report = GradCheckReport()
        for name, p in model.named_params().items():
            report.rows.append(_compare(name, p.value, p.grad.copy(), loss, h, n_samples, rng))
        report.rows.append(_compare("input", x, dx, loss, h, n_samples, rng))
    return report

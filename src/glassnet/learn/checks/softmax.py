"""Exercise 3: stable softmax cross-entropy and its gradient, against glassnet's ``softmax_cross_entropy``."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from glassnet.learn.checks import (
    BATCHES,
    DTYPES,
    Checks,
    Failed,
    expect,
    forward,
    over_batches,
    precise,
    require,
    same_dtype,
)
from glassnet.learn.diagnose import Mistake, as_array, batch_size, close, describe_number, matches
from glassnet.learn.learner_code import describe
from glassnet.learn.shapes import refused_broadcast, source_line
from glassnet.learn.show import factor
from glassnet.nn.losses import softmax_cross_entropy

_WRONG_AXIS = "the softmax is normalized over the batch (axis 0); each row's probabilities must sum to 1 (axis 1)"
EPSILONS = (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15)       # the eps people put into log(p + eps)


def _softmax(z: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _loss_mistakes(logits: np.ndarray, labels: np.ndarray) -> list[tuple[float, str, str]]:
    """What each classic mistake makes of the loss: (value, cause, what it is); the first two are factors of N."""
    n, n_classes = logits.shape
    rows = np.arange(n)
    p = _softmax(logits)
    want = -np.log(p[rows, labels]).mean()
    shifted = logits - logits.max(axis=1, keepdims=True)
    by_column = logits - logits.max(axis=0, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    mistakes = [(n * want, "softmax.loss-sum", f"it is the sum over the batch, {batch_size(n)} times the mean; "
                 "the loss is the mean"),
                (want / n, "factor-1/n", f"it is too small by a factor of {batch_size(n)}: the mean divided by N "
                 "again"),
                (-log_p[:, labels].mean(), "softmax.column-index", "log_p[:, labels] is an N × N block (every row, "
                 "at every label's column), and its mean is not the loss; take one entry per row: "
                 "log_p[np.arange(N), labels]"),
                (want / n_classes, "softmax.loss-mean-over-classes", f"it is the mean over all N·C entries (divided "
                 f"by C = {n_classes} too); average over the N samples only"),
                (-shifted[rows, labels].mean(), "softmax.no-log-sum-exp", "the log-sum-exp term is missing: "
                 "log p = z − max z − log Σ exp(z − max z)"),
                (-np.log(_softmax(logits, axis=0)[rows, labels]).mean(), "softmax.wrong-axis", _WRONG_AXIS),
                (-(shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True)))[rows, labels].mean(),
                 "softmax.wrong-axis", _WRONG_AXIS),
                (-(by_column - np.log(np.exp(by_column).sum(axis=1, keepdims=True)))[rows, labels].mean(),
                 "softmax.column-max", "it subtracts each column's max (axis=0); each row needs its own max (axis=1, "
                 "keepdims=True): only a constant per row leaves the softmax unchanged")]
    mistakes.append(((-(shifted - np.log(np.exp(shifted).sum())))[rows, labels].mean(), "softmax.sum-over-everything",
                     "the log-sum-exp sums over the whole batch (no axis); each row needs its own sum (axis=1, "
                     "keepdims=True)"))
    mistakes += [(-np.log(p[rows, labels] + eps).mean(), "softmax.log-p-eps",
                  f"it is −mean log(p + {eps:g}): never add eps inside the log; log-sum-exp gives log p exactly")
                 for eps in EPSILONS]
    return mistakes


def _grad_mistakes(logits: np.ndarray, labels: np.ndarray) -> list[Mistake]:
    n = len(labels)
    rows = np.arange(n)
    p = _softmax(logits)
    one_hot = np.zeros_like(p)
    one_hot[rows, labels] = 1.0
    columns = p.copy()
    columns[:, labels] -= 1.0                              # the same fancy indexing the mistake uses
    by_column = logits - logits.max(axis=0, keepdims=True)
    shifted = logits - logits.max(axis=1, keepdims=True)
    predicted = np.zeros_like(p)
    predicted[rows, logits.argmax(axis=1)] = 1.0
    return [Mistake("softmax.no-one-hot", "it is P / N: subtract the one-hot labels Y", p / n),
            Mistake("softmax.subtract-after-divide", "it is P/N − Y: the 1/N divides P − Y, the one-hot part too",
                    p / n - one_hot),
            Mistake("softmax.column-index", "grad[:, labels] subtracts 1 in every row, at every label's column; "
                    "index one entry per row: grad[np.arange(N), labels]", columns / n),
            Mistake("softmax.wrong-axis", _WRONG_AXIS, (_softmax(logits, axis=0) - one_hot) / n),
            Mistake("softmax.wrong-axis", _WRONG_AXIS, (np.exp(shifted) / np.exp(shifted).sum(axis=0, keepdims=True)
                                                        - one_hot) / n),
            Mistake("softmax.column-max", "it subtracts each column's max (axis=0); each row needs its own max "
                    "(axis=1, keepdims=True)", (np.exp(by_column) / np.exp(by_column).sum(axis=1, keepdims=True)
                                                - one_hot) / n),
            Mistake("softmax.unnormalized", "it uses exp(z − max z) without dividing by its row's sum: P = "
                    "exp(z − max z) / Σ exp(z − max z), or exp(log P)", (np.exp(shifted) - one_hot) / n),
            Mistake("softmax.log-p-for-p", "it uses log P where P belongs: ∂L/∂z = (P − Y)/N, with P = exp(log P)",
                    (np.log(p) - one_hot) / n),
            Mistake("softmax.argmax-for-label", "it subtracts 1 at each row's largest logit (argmax); Y is 1 at "
                    "each row's label: grad[np.arange(N), labels] -= 1", (p - predicted) / n)]


def _loss(value: Any, n: int, grad: Any = None) -> float:
    require(not (np.ndim(value) == 2 and np.ndim(grad) == 0), "the loss has the logits' shape and the gradient is one "
            "number: the two are swapped; return (loss, grad)", "softmax.swapped")
    require(np.ndim(value) != 1 or np.shape(value) != (n,), f"the loss has shape ({n},), one number per sample; "
            "it must be one number, their mean", "softmax.per-sample-loss")
    require(np.ndim(value) == 0, f"the loss must be one number (the batch mean), got shape {np.shape(value)}",
            "shape")
    return float(value)


def check_softmax_cross_entropy(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)

    def values_at(n: int) -> None:
        logits, labels = rng.standard_normal((n, 10)) * 3, rng.integers(0, 10, n)
        loss, grad = _call(module, logits, labels)
        want_loss, want_grad = softmax_cross_entropy(logits, labels)
        got = _loss(loss, n, grad)
        if math.isnan(got) and close(grad, want_grad):
            raise Failed(f"the loss at batch {n} is NaN while the gradient is right: the log of a number < 0, "
                         "as P − 1 is. Most often grad = P shares P's memory, so grad[rows, labels] -= 1 changes "
                         "P before the loss reads it: take grad = P.copy(), or compute the loss first",
                         "softmax.aliased")
        if not math.isclose(got, want_loss, rel_tol=1e-9):
            where = f"the loss at batch {n}: {describe_number(got, want_loss)}"
            for i, (wrong, cause, words) in enumerate(_loss_mistakes(logits, labels)):
                if math.isclose(got, wrong, rel_tol=1e-9):
                    ratio = f"{where}: it is exactly {factor(got / want_loss)} times the right value ({n} is N here)"
                    raise Failed(f"{where}: {words}", cause, alone=ratio if i < 2 else None, batch=n)
            raise Failed(f"{where}; the checker cannot tell which mistake this is")
        expect(grad, want_grad, f"∂L/∂logits at batch {n}", n=n, mistakes=_grad_mistakes(logits, labels))

    def values() -> None:
        over_batches(BATCHES, values_at)

    def stable() -> None:
        logits = np.array([[1e4, 0.0, -1e4], [-1e4, 5e3, 1e4], [-3e4, -2e4, -2.5e4]])  # row maxima far apart
        labels = np.array([1, 2, 0])
        with np.errstate(all="ignore"):
            loss, grad = module.softmax_cross_entropy(logits.copy(), labels)
            variants = [(shift, form(logits - offset, labels)) for shift, offset in (
                ("none", 0.0), ("batch", logits.max()), ("min", logits.min(axis=1, keepdims=True)))
                for form in (_ratio, _log_form)]
        got = as_array(grad)
        want = softmax_cross_entropy(logits, labels)[1]
        with np.errstate(all="ignore"):
            underflowed = -np.log(_softmax(logits)[np.arange(3), labels]).mean()        # +inf: a p is 0
        if matches(got, want) and float(np.sum(loss)) == underflowed:
            raise Failed("for logits of ±10⁴ the gradient is right but the loss is +inf: it takes the log of "
                         "a probability that underflowed to 0. Compute log p directly: z − max z − log Σ "
                         "exp(z − max z)",
                         "softmax.log-of-softmax")
        if got is not None and not (np.isfinite(got).all() and math.isfinite(float(np.sum(loss)))):
            if any(shift == "batch" and matches(got, wrong) for shift, wrong in variants):
                raise Failed("for logits whose rows have far-apart maxima the last row gives NaN or inf: it "
                             "subtracts the whole batch's max (logits.max()); each row needs its own "
                             "(logits.max(axis=1, keepdims=True)), or a row far below the others underflows",
                             "softmax.batch-max")
            if any(shift == "none" and matches(got, wrong) for shift, wrong in variants):
                raise Failed("logits of ±10⁴ give NaN or inf: exp overflows (or underflows to log 0). Subtract each "
                             "row's max before exp (log-sum-exp); never use log(p + eps)", "softmax.no-shift")
            if any(shift == "min" and matches(got, wrong) for shift, wrong in variants):
                raise Failed("logits of ±10⁴ give NaN or inf: it subtracts each row's min (logits.min(axis=1)), so "
                             "exp overflows; subtract each row's max: every exponent is then ≤ 0",
                             "softmax.min-shift")
            rows = sorted({int(r) for r in np.argwhere(~np.isfinite(got))[:, 0]})
            where = f"rows {rows} of ∂L/∂logits" if rows else "the loss; ∂L/∂logits is finite"
            raise Failed(f"logits of ±10⁴ give NaN or inf ({where}): exp overflows or underflows somewhere; the "
                         "checker cannot tell where. Subtract each row's max before exp")
        expect(grad, want, "∂L/∂logits for logits of ±10⁴")

    def dtypes() -> None:
        logits, labels = rng.standard_normal((4, 10)) * 3, rng.integers(0, 10, 4)
        for dtype in (np.float64, np.float32):
            _, grad = module.softmax_cross_entropy(logits.astype(dtype), labels)
            same_dtype(grad, np.dtype(dtype), "∂L/∂logits")
            if dtype is np.float64:
                precise(grad, softmax_cross_entropy(logits, labels)[1], "∂L/∂logits")

    def untouched() -> None:
        logits, labels = rng.standard_normal((4, 10)), rng.integers(0, 10, 4)
        forward(module.softmax_cross_entropy, logits, labels, what="softmax_cross_entropy")

    checks.run_in_order(("loss and gradient", values), ("stable for large logits", stable),
                        ("leaves its arguments unchanged", untouched), (DTYPES, dtypes))


def _call(module: ModuleType, logits: np.ndarray, labels: np.ndarray) -> tuple[Any, Any]:
    """The learner's function on a copy of the logits; labels used as row indices are named as such."""
    path = Path(module.__file__ or "")
    try:
        return module.softmax_cross_entropy(logits.copy(), labels)
    except IndexError as e:
        line = source_line(e, path)
        if line is not None and re.search(r"\[\s*labels\s*\]", line):
            raise Failed(f"{describe(e, [path])}: [labels] picks rows by their labels; "
                         "index one entry per row, grad[np.arange(N), labels]", "softmax.row-index") from None
        raise
    except ValueError as e:
        refused = refused_broadcast(e, path)
        if refused is not None and any(side.value is labels and len(other.shape) == 2 for side, other in
                                       ((refused.left, refused.right), (refused.right, refused.left))):
            raise Failed(f"{describe(e, [path])}. There, {refused}: labels holds one class index per row, shape "
                         f"{labels.shape}, not one-hot rows; pick each row's entry at its label: "
                         "log_p[np.arange(N), labels]", "softmax.labels-as-one-hot") from None
        raise


def _ratio(shifted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(P − Y)/N with P = exp(shifted) / Σ exp(shifted), computed as a mistake would, without each row's max."""
    e = np.exp(shifted)
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1.0
    return p / len(labels)


def _log_form(shifted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The same through log P = shifted − log Σ exp(shifted), as the log-sum-exp code is written."""
    p = np.exp(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
    p[np.arange(len(labels)), labels] -= 1.0
    return p / len(labels)

"""The inference program: what a trained model computes, as a short list of operations.

In inference mode every layer is one of four things. A linear layer is an affine map, batch norm
is a per-feature scale and shift, dropout is nothing, and an activation is an element-wise
function. ``fold`` (in ``nn/kinds.py``, where each kind says how it folds) writes a model as that
list, merging each scale and shift into the affine map before it:

    γ (x W + b − μ) / √(σ² + eps) + β = x W' + b',  W' = W · s column by column,
    b' = (b − μ) s + β,  s = γ / √(σ² + eps).

The list is the one description of inference that every runtime reads: ``Program.infer`` here in
NumPy, the web export's JavaScript and the ONNX builder. Each interprets the operations it knows and
refuses, before it writes anything, a program holding one it does not know.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet.nn.inference import in_blocks
from glassnet.nn.layers import ACTIVATIONS
from glassnet.nn.losses import softmax
from glassnet.nn.params import Array


@dataclass(frozen=True)
class Affine:
    """y = x W + b; W (D_in, D_out), b (D_out,)."""

    weight: Array
    bias: Array


@dataclass(frozen=True)
class Scale:
    """y = (x − c) · s + t, feature by feature; c, s, t (D,): batch norm at inference (c = μ, t = β)."""

    center: Array
    scale: Array
    shift: Array


@dataclass(frozen=True)
class Elementwise:
    """y = f(x) for the activation named ``activation`` (``nn.layers.ACTIVATIONS``), with its options."""

    activation: str
    options: dict[str, float]


Op = Affine | Scale | Elementwise


def op_name(op: Op) -> str:
    """The name an interpreter knows an operation by: "affine", "scale", or the activation's name."""
    return op.activation if isinstance(op, Elementwise) else type(op).__name__.lower()


@dataclass(frozen=True)
class Program:
    """A model's inference map as operations applied in order; a snapshot (fold again after training)."""

    ops: tuple[Op, ...]

    def infer(self, x: Array) -> Array:
        """Logits (N, C) for inputs x (N, D), in the weights' dtype. Nothing is kept between calls,
        so threads may share a ``Program``."""
        h = np.asarray(x).astype(self.dtype, copy=False)
        for op in self.ops:
            if isinstance(op, Affine):
                h = h @ op.weight
                h += op.bias
            elif isinstance(op, Scale):
                h = (h - op.center) * op.scale
                h += op.shift
            elif isinstance(op, Elementwise) and op.activation in ACTIVATIONS:
                h = ACTIVATIONS[op.activation](**op.options).function(h)
            else:
                raise TypeError(f"the NumPy runtime does not know the operation {op_name(op)!r}")
        return h

    def predict_proba(self, x: Array, *, workers: int | None = None) -> Array:
        """Class probabilities (N, C); many rows in blocks over ``workers`` threads, with the same result bit
        for bit however many (``nn/inference.py``)."""
        return in_blocks(lambda rows: softmax(self.infer(rows)), np.asarray(x), workers=workers)

    @property
    def dtype(self) -> np.dtype[Any]:
        return next(op.weight.dtype for op in self.ops if isinstance(op, Affine))

    @property
    def affine(self) -> list[Affine]:
        return [op for op in self.ops if isinstance(op, Affine)]


def merged(ops: Sequence[Op]) -> tuple[Op, ...]:
    """The operations with each scale-and-shift that follows an affine map folded into it."""
    out: list[Op] = []
    for op in ops:
        if isinstance(op, Scale) and out and isinstance(out[-1], Affine):
            before = out.pop()
            assert isinstance(before, Affine)
            out.append(Affine(before.weight * op.scale, (before.bias - op.center) * op.scale + op.shift))
        else:
            out.append(op)
    return tuple(out)


def unknown_ops(program: Program, known: Sequence[str]) -> list[str]:
    """The operations of ``program`` an interpreter that knows ``known`` cannot run, in order, once each."""
    return list(dict.fromkeys(name for name in map(op_name, program.ops) if name not in known))


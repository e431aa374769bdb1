"""The layer kinds: one entry per layer class, saying what a model file records of it and what it
computes at inference. Checkpoints, ``fold``, the config and every face that describes a network
ask this table what a layer is (a face that reads a Linear's weights still finds the Linear by its
class), so that a kind cannot be half added: a layer that is not here cannot be saved, folded or
exported, and says so.

Each entry, beside the class (whose forward and backward are in ``layers.py``) and its ``role``
("linear", "normalization", "activation" or "dropout": what a face that describes a network asks, e.g.
the draw page's hidden layers are the outputs of the activations):

- ``record``: the layer's sizes and options as JSON (its ``"type"`` is the class name);
- ``shapes``: the shapes of the parameters and buffers such a record implies, by name
  (``param/weight``, ``buffer/running_mean``), known before anything is allocated (a model file is
  checked against them first);
- ``build``: a fresh layer from a record;
- ``fold``: its inference, as operations of the inference program (``nn/program.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet.nn.layers import ACTIVATIONS, Activation, BatchNorm, Dropout, Layer, Linear
from glassnet.nn.model import Sequential
from glassnet.nn.program import Affine, Elementwise, Op, Program, Scale, merged

Record = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    layer: type
    role: str
    record: Callable[[Any], Record]
    shapes: Callable[[Record], dict[str, tuple[int, ...]]]
    build: Callable[[Record, np.random.Generator, np.dtype[Any]], Layer]
    fold: Callable[[Any], list[Op]]


def _linear_fold(layer: Linear) -> list[Op]:
    weight = layer.weight.value
    bias = layer.bias.value if layer.bias is not None else np.zeros(layer.out_features, weight.dtype)
    return [Affine(weight.copy(), bias.copy())]


def _batchnorm_fold(layer: BatchNorm) -> list[Op]:
    scale = layer.gamma.value / np.sqrt(layer.running_var + layer.eps)          # s = γ / √(σ² + eps)
    return [Scale(layer.running_mean.copy(), scale, layer.beta.value.copy())]


LINEAR = Kind(
    Linear, "linear",
    record=lambda layer: {"in_features": layer.in_features, "out_features": layer.out_features,
                          "bias": layer.bias is not None},
    shapes=lambda r: {"param/weight": (r["in_features"], r["out_features"])}
    | ({"param/bias": (r["out_features"],)} if r["bias"] else {}),
    build=lambda r, rng, dtype: Linear(r["in_features"], r["out_features"], rng=rng, bias=r["bias"], dtype=dtype),
    fold=_linear_fold)

BATCHNORM = Kind(
    BatchNorm, "normalization",
    record=lambda layer: {"n_features": layer.n_features, "momentum": layer.momentum, "eps": layer.eps},
    shapes=lambda r: {name: (r["n_features"],) for name in ("param/gamma", "param/beta", "buffer/running_mean",
                                                            "buffer/running_var")},
    build=lambda r, rng, dtype: BatchNorm(r["n_features"], momentum=r["momentum"], eps=r["eps"], dtype=dtype),
    fold=_batchnorm_fold)

DROPOUT = Kind(
    Dropout, "dropout",
    record=lambda layer: {"p": layer.p},
    shapes=lambda r: {},
    build=lambda r, rng, dtype: Dropout(r["p"], rng=rng),
    fold=lambda layer: [])                                  # the identity at inference


def _activation(cls: type[Activation]) -> Kind:
    return Kind(cls, "activation", record=lambda layer: layer.options(), shapes=lambda r: {},
                build=lambda r, rng, dtype: cls(**{k: v for k, v in r.items() if k != "type"}),
                fold=lambda layer: [Elementwise(layer.name, layer.options())])


#: Every layer kind, by the name its records carry (the class name).
KINDS: dict[str, Kind] = {kind.layer.__name__: kind for kind in
                          (LINEAR, BATCHNORM, DROPOUT, *map(_activation, ACTIVATIONS.values()))}


def kind_of(layer: Layer) -> Kind:
    """The entry of ``layer``'s class; ``TypeError`` for anything else (a subclass may compute otherwise)."""
    kind = KINDS.get(type(layer).__name__)
    if kind is None or kind.layer is not type(layer):
        raise TypeError(f"{type(layer).__name__} is not one of glassnet's layer kinds ({', '.join(KINDS)})")
    return kind


def role_of(layer: Layer) -> str | None:
    """The role of ``layer``'s kind ("linear", "normalization", "activation", "dropout"); None for a layer
    that is not one of glassnet's kinds."""
    kind = KINDS.get(type(layer).__name__)
    return kind.role if kind is not None and kind.layer is type(layer) else None


def record(layer: Layer) -> Record:
    """The JSON record of a layer: its kind and its sizes and options."""
    return {"type": type(layer).__name__} | kind_of(layer).record(layer)


def kind_of_record(spec: Any) -> Kind:
    """The entry a layer record names; ``ValueError`` for an unknown or missing ``type``."""
    name = spec.get("type") if isinstance(spec, dict) else None
    if not isinstance(name, str) or name not in KINDS:
        raise ValueError(f"unknown layer type {name!r}; glassnet's layers are {', '.join(KINDS)}")
    return KINDS[name]


def fold(model: Sequential) -> Program:
    """The model's inference map as a program (``nn/program.py``): each layer's kind folds it, and each
    scale and shift merges into the affine map before it. ``TypeError`` if a layer is not one of the kinds."""
    ops = [op for layer in model.layers for op in kind_of(layer).fold(layer)]
    if not any(isinstance(op, Affine) for op in ops):
        raise TypeError("a model without a linear layer has nothing to fold")
    return Program(merged(ops))

"""``Sequential``: a stack of layers, and ``mlp``, the builder of glassnet's networks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from glassnet.nn.inference import BLOCK, in_blocks
from glassnet.nn.init import INITIALIZERS
from glassnet.nn.layers import ACTIVATIONS, BatchNorm, Dropout, Layer, Linear
from glassnet.nn.losses import softmax
from glassnet.nn.params import Array, Param


class Sequential:
    """Layers applied in order: forward left to right, backward right to left.

    ``Sequential`` keeps the layers it is given and copies nothing: their
    ``Param``s stay where they are, so an optimizer built on ``params()`` and
    the layers themselves see the same tensors. Two ``Sequential``s over the
    same layers share those parameters. ``architecture`` is the recipe ``mlp``
    was called with (empty for a hand-built stack).

    Two paths: ``forward``/``backward`` for training (layers cache, in the
    mode each is in), and ``infer`` for everything that only reads the model
    (``predict_proba``, ``predict``, ``trace``), which writes no state at all.
    """

    def __init__(self, layers: Sequence[Layer], architecture: dict[str, Any] | None = None) -> None:
        self.layers = list(layers)
        missing = [f"{i} ({type(layer).__name__}): {name}" for i, layer in enumerate(self.layers)
                   for name in ("params", "buffers", "forward", "backward", "infer")
                   if not callable(getattr(layer, name, None))]
        if missing:
            raise TypeError(f"Sequential needs layers with params, buffers, forward, backward and infer; "
                            f"missing: {'; '.join(missing)}")
        self.architecture = architecture or {}
        dtypes = {p.value.dtype for p in self.params()}
        if len(dtypes) > 1:
            raise TypeError(f"all parameters of a model need one dtype, got {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop() if dtypes else np.dtype(np.float32)

    def __call__(self, x: Array) -> Array:
        return self.forward(x)

    def _as_input(self, x: Array) -> Array:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise TypeError(f"model input must be real numbers, got dtype {x.dtype}")
        return x.astype(self.dtype, copy=False)

    def forward(self, x: Array) -> Array:
        """Logits (N, C) for inputs x (N, D), in each layer's current mode, caching for ``backward``."""
        x = self._as_input(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out: Array, *, input_grad: bool = True) -> Array | None:
        """Assign every parameter's grad from dL/dlogits; return dL/dx.

        With ``input_grad=False`` (training on data, which needs no gradient)
        the first Linear skips dx = G Wᵀ, half of its backward matrix work, and None is returned.
        """
        first, *rest = self.layers
        for layer in reversed(rest):
            grad_out = layer.backward(grad_out)
        if not input_grad and isinstance(first, Linear):
            first.backward_params(grad_out)
            return None
        return first.backward(grad_out)

    def infer(self, x: Array) -> Array:
        """Logits (N, C) in inference mode, whatever mode the layers are in; writes no state."""
        x = self._as_input(x)
        for layer in self.layers:
            x = layer.infer(x)
        return x

    def train(self) -> Sequential:
        """Training mode: batch statistics in BatchNorm, random masks in Dropout."""
        for layer in self.layers:
            layer.training = True
        return self

    def eval(self) -> Sequential:
        """Inference mode for ``forward``: running statistics in BatchNorm, Dropout is the identity."""
        for layer in self.layers:
            layer.training = False
        return self

    @property
    def training(self) -> bool:
        return all(layer.training for layer in self.layers)

    def params(self) -> list[Param]:
        return [p for layer in self.layers for p in layer.params()]

    def named_params(self) -> dict[str, Param]:
        """Parameters by name, ``"<layer index>.<name>"``, e.g. ``"0.weight"``."""
        return {f"{i}.{p.name}": p for i, layer in enumerate(self.layers) for p in layer.params()}

    def buffers(self) -> dict[str, Array]:
        """Non-trainable state by name, e.g. ``"1.running_mean"``; never seen by optimizers."""
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers)
                for name, value in layer.buffers().items()}

    @property
    def n_params(self) -> int:
        """The number of trainable numbers."""
        return sum(p.size for p in self.params())

    @property
    def n_inputs(self) -> int:
        return next(layer.in_features for layer in self.layers if isinstance(layer, Linear))

    @property
    def n_classes(self) -> int:
        return next(layer.out_features for layer in reversed(self.layers) if isinstance(layer, Linear))

    def predict_proba(self, x: Array, *, batch_size: int = BLOCK, workers: int | None = None) -> Array:
        """Class probabilities (N, C) in inference mode; x is (N, D) or one sample (D,).

        More than ``batch_size`` rows are computed in blocks of that many, spread over ``workers`` threads
        (default: the cores; 1: none), with the same result bit for bit however many (``nn/inference.py``)."""
        x = np.asarray(x)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"predict expects (N, {self.n_inputs}) inputs or one ({self.n_inputs},) "
                             f"sample, got shape {np.shape(x)}")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise ValueError("predict: input contains NaN or inf")
        if len(x) == 0:
            return np.empty((0, self.n_classes), self.dtype)
        return in_blocks(lambda rows: softmax(self.infer(rows)), x, workers=workers, block=batch_size)

    def predict(self, x: Array, *, batch_size: int = BLOCK, workers: int | None = None) -> NDArray[np.intp]:
        """Most probable class per sample (N,)."""
        return self.predict_proba(x, batch_size=batch_size, workers=workers).argmax(axis=1)

    def trace(self, x: Array) -> list[Array]:
        """Every layer's output for inputs x (N, D), in inference mode: what the network 'sees'."""
        x = self._as_input(x)
        outputs = []
        for layer in self.layers:
            x = layer.infer(x)
            outputs.append(x)
        return outputs


def mlp(sizes: Sequence[int], *, rng: np.random.Generator, dropout: float = 0.0,
        batchnorm: bool = True, dtype: DTypeLike = np.float32, init: str = "he_normal",
        activation: str = "relu") -> Sequential:
    """A multilayer perceptron: each hidden block is Linear → [BatchNorm] → activation → [Dropout].

    ``sizes`` = (inputs, hidden..., classes), e.g. (784, 256, 128, 10). The last
    Linear gives logits. ``activation`` names one of ``nn.layers.ACTIVATIONS``. ``rng``
    draws the initial weights and, afterwards, the dropout masks.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"mlp needs at least (inputs, classes), all positive, got {sizes}")
    if init not in INITIALIZERS:
        raise ValueError(f"unknown init {init!r}; choose one of {sorted(INITIALIZERS)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    layers: list[Layer] = []
    for d_in, d_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(Linear(d_in, d_out, rng=rng, bias=not batchnorm, dtype=dtype, init=INITIALIZERS[init]))
        if batchnorm:
            layers.append(BatchNorm(d_out, dtype=dtype))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0.0:
            layers.append(Dropout(dropout, rng=rng))
    layers.append(Linear(sizes[-2], sizes[-1], rng=rng, dtype=dtype, init=INITIALIZERS[init]))
    architecture = {"sizes": sizes, "dropout": dropout, "batchnorm": batchnorm,
                    "dtype": np.dtype(dtype).name, "init": init, "activation": activation}
    return Sequential(layers, architecture)

"""Layers, each with its forward pass and its chain rule side by side.

Shapes: ``N`` batch, ``D`` features. Every layer follows one protocol:

- ``params()`` and ``buffers()``: its trainable tensors and its other state;
- ``forward(x)``: the path that training differentiates. It computes in the
  layer's current mode (``training``) and caches what ``backward`` needs,
  together with that mode;
- ``backward(grad_out)``: assigns each ``p.grad`` and returns dL/dx, following
  the mode its forward ran in (never the mode the layer is in now). It never
  mutates its argument or its cache. Gradients are *assigned*, not
  accumulated: a ``Sequential`` has no fan-out, so there is no ``zero_grad``;
- ``infer(x)``: inference, whatever the mode, writing nothing at all (no
  cache, no running statistics, no random draws). Anything that only reads a
  model (predict, evaluate, the web server) goes through it, so it can never
  disturb a training step in progress, and many threads may call it at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import DTypeLike, NDArray

from glassnet.nn.init import Initializer, he_normal
from glassnet.nn.params import Array, Param


class Layer(Protocol):
    """What ``Sequential`` needs from a layer."""

    training: bool

    def params(self) -> list[Param]: ...
    def buffers(self) -> dict[str, Array]: ...
    def forward(self, x: Array) -> Array: ...
    def backward(self, grad_out: Array) -> Array: ...
    def infer(self, x: Array) -> Array: ...


def _no_cache(layer: str) -> RuntimeError:
    return RuntimeError(f"{layer}.backward() called before forward(); run forward on a batch first")


def _check_grad_shape(layer: str, grad_out: Array, expected: tuple[int, ...]) -> None:
    if grad_out.shape != expected:
        raise ValueError(f"{layer}.backward() expects grad_out of shape {expected} "
                         f"(the shape forward returned), got {grad_out.shape}")


def _check_input(layer: str, x: Array, width: int) -> None:
    if x.ndim != 2 or x.shape[1] != width:
        raise ValueError(f"{layer} expects (N, {width}) input, got {x.shape}")


class Linear:
    """Affine map y = x @ weight + bias.

    x (N, D_in), weight (D_in, D_out), bias (D_out,), y (N, D_out).
    Backward: dweight = xᵀ G, dbias = Σₙ G, dx = G weightᵀ.
    ``bias=False`` when a BatchNorm follows: BatchNorm subtracts the batch
    mean, so a bias before it has a true gradient of exactly zero and its beta
    already plays the role of a bias.
    """

    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator,
                 bias: bool = True, dtype: DTypeLike = np.float32, init: Initializer = he_normal) -> None:
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got ({in_features}, {out_features})")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Param(init(rng, in_features, out_features, dtype), name="weight")
        self.bias = Param(np.zeros(out_features, dtype), name="bias") if bias else None
        self.training = True
        self._x: Array | None = None                         # cache: the input of the last forward

    def params(self) -> list[Param]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def buffers(self) -> dict[str, Array]:
        return {}

    def infer(self, x: Array) -> Array:
        _check_input("Linear", x, self.in_features)
        # computed in the layer's dtype: a float64 input to a float32 layer is rounded to float32
        y = x.astype(self.weight.value.dtype, copy=False) @ self.weight.value      # (N, D_out)
        return y if self.bias is None else y + self.bias.value

    def forward(self, x: Array) -> Array:
        y = self.infer(x)                                    # the same map in both modes
        self._x = x.astype(self.weight.value.dtype, copy=False)
        return y

    def backward(self, grad_out: Array) -> Array:
        self.backward_params(grad_out)
        return grad_out @ self.weight.value.T               # dx = G Wᵀ   (N, D_in)

    def backward_params(self, grad_out: Array) -> None:
        """Assign dweight and dbias only: for the first layer, whose input is data and needs no dx."""
        if self._x is None:
            raise _no_cache("Linear")
        _check_grad_shape("Linear", grad_out, (self._x.shape[0], self.out_features))
        self.weight.grad = self._x.T @ grad_out             # dW = xᵀ G   (D_in, D_out)
        if self.bias is not None:
            self.bias.grad = grad_out.sum(axis=0)           # db = Σₙ G   (D_out,)


@dataclass(frozen=True)
class _BatchNormCache:
    training: bool          # the mode of the forward that wrote this cache
    x_hat: Array            # (N, D) normalized input
    inv_std: Array          # (D,) 1 / √(σ² + eps), of the batch (training) or the running variance (eval)


class BatchNorm:
    """Batch normalization (Ioffe & Szegedy, 2015) over the feature axis.

    Training: μ, σ² are the batch mean and biased variance per feature,
    x̂ = (x − μ) / √(σ² + eps), y = gamma · x̂ + beta. Running averages follow
    PyTorch: running = (1 − m) · running + m · batch, with m = ``momentum``
    (0.1) and the unbiased variance σ² · N / (N − 1). Inference uses the
    running averages instead of batch statistics.

    Backward (training), with G = dL/dy:
    dbeta = Σₙ G, dgamma = Σₙ G · x̂, dx = gamma / (N √(σ² + eps)) · (N G − dbeta − x̂ · dgamma).
    Backward (inference): μ and σ² are constants, so dx = gamma / √(σ²_running + eps) · G.
    """

    def __init__(self, n_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 dtype: DTypeLike = np.float32) -> None:
        if not 0.0 <= momentum <= 1.0 or not eps > 0.0:
            raise ValueError(f"BatchNorm needs momentum in [0, 1] and eps > 0, got {momentum} and {eps}")
        self.n_features, self.momentum, self.eps = n_features, momentum, eps
        self.gamma = Param(np.ones(n_features, dtype), name="gamma")
        self.beta = Param(np.zeros(n_features, dtype), name="beta")
        self.running_mean = np.zeros(n_features, dtype)
        self.running_var = np.ones(n_features, dtype)
        self.training = True
        self._cache: _BatchNormCache | None = None

    def params(self) -> list[Param]:
        return [self.gamma, self.beta]

    def buffers(self) -> dict[str, Array]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def infer(self, x: Array) -> Array:
        _check_input("BatchNorm", x, self.n_features)
        x_hat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return self.gamma.value * x_hat + self.beta.value

    def forward(self, x: Array) -> Array:
        _check_input("BatchNorm", x, self.n_features)
        if not self.training:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)                # (D,)
            x_hat = (x - self.running_mean) * inv_std                             # (N, D)
            self._cache = _BatchNormCache(False, x_hat, inv_std)
            return self.gamma.value * x_hat + self.beta.value
        n = x.shape[0]
        if n < 2:
            raise ValueError("BatchNorm in training mode needs a batch of at least 2 samples, "
                             f"got {n}; use a larger batch or call model.eval()")
        mean = x.mean(axis=0)                                # μ = (1/N) Σₙ xₙ            (D,)
        centred = x - mean                                   # xₙ − μ                     (N, D)
        var = (centred * centred).mean(axis=0)               # σ² = (1/N) Σₙ (xₙ − μ)²   biased, (D,)
        inv_std = 1.0 / np.sqrt(var + self.eps)              # 1 / √(σ² + eps)            (D,)
        x_hat = centred * inv_std                            # x̂ = (x − μ) / √(σ² + eps)  (N, D)
        self.update_running(mean, var, n)
        self._cache = _BatchNormCache(True, x_hat, inv_std)
        return self.gamma.value * x_hat + self.beta.value    # y = γ x̂ + β

    def update_running(self, mean: Array, var: Array, n: int) -> None:
        """Fold one training batch's statistics (biased var of n samples) into the running averages."""
        m = self.momentum
        self.running_mean[...] = (1 - m) * self.running_mean + m * mean
        self.running_var[...] = (1 - m) * self.running_var + m * var * n / (n - 1)   # unbiased

    def backward(self, grad_out: Array) -> Array:
        if self._cache is None:
            raise _no_cache("BatchNorm")
        x_hat, inv_std = self._cache.x_hat, self._cache.inv_std
        _check_grad_shape("BatchNorm", grad_out, x_hat.shape)
        self.beta.grad = grad_out.sum(axis=0)                          # dbeta = Σₙ G
        self.gamma.grad = (grad_out * x_hat).sum(axis=0)               # dgamma = Σₙ G x̂
        if not self._cache.training:                                   # μ, σ² were constants
            return self.gamma.value * inv_std * grad_out
        n = grad_out.shape[0]
        return (self.gamma.value * inv_std / n) * (n * grad_out - self.beta.grad - x_hat * self.gamma.grad)


class Activation:
    """An element-wise nonlinearity: y = f(x); backward dx = G · f′(x). Any shape.

    Each kind below writes its f (``function``) and f′ (``derivative``) side by side (and the options
    it takes, if any): forward, backward and inference are the three methods here, the fused training step
    (``nn/fused.py``) calls the same two, and a folded model names the kind (``nn/program.py``).
    ``derivative`` is given both x and y = f(x): some derivatives are cheapest from the output
    (tanh′ = 1 − y², σ′ = y (1 − y)).
    """

    name: ClassVar[str]                  # the config's name for it: "relu", "gelu", …
    homogeneous: ClassVar[bool] = False  # f(x) = x · f′(x) (ReLU, leaky ReLU): the fused step applies f′ as a gate
    can_die: ClassVar[bool] = False      # a unit can stop learning for good: f′ = 0 wherever it is 0 (ReLU)

    def __init__(self) -> None:
        self.training = True
        self._cache: tuple[Array, Array] | None = None          # cache: (x, y) of the last forward

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, Array]:
        return {}

    def options(self) -> dict[str, float]:
        """What the kind takes beyond its name (leaky ReLU's slope), as its constructor's keywords."""
        return {}

    def function(self, x: Array) -> Array:
        raise NotImplementedError

    def derivative(self, x: Array, y: Array) -> NDArray[Any]:
        """f′(x): numbers, or a boolean mask where f′ is 0 or 1 (ReLU)."""
        raise NotImplementedError

    def infer(self, x: Array) -> Array:
        return self.function(x)

    def forward(self, x: Array) -> Array:
        y = self.function(x)
        self._cache = (x, y)
        return y

    def backward(self, grad_out: Array) -> Array:
        if self._cache is None:
            raise _no_cache(type(self).__name__)
        x, y = self._cache
        _check_grad_shape(type(self).__name__, grad_out, x.shape)
        return grad_out * self.derivative(x, y)               # a new array; grad_out untouched


class ReLU(Activation):
    """y = max(x, 0); f′(x) = 1 where x > 0, else 0 (a mask)."""

    name = "relu"
    homogeneous = True
    can_die = True

    def function(self, x: Array) -> Array:
        return np.maximum(x, 0)

    def derivative(self, x: Array, y: Array) -> NDArray[Any]:
        return x > 0


class LeakyReLU(Activation):
    """y = x where x > 0, else slope · x; f′(x) = 1 where x > 0, else slope. Units never go silent."""

    name = "leaky_relu"
    homogeneous = True

    def __init__(self, slope: float = 0.01) -> None:
        if isinstance(slope, bool) or not isinstance(slope, int | float | np.floating) or not 0.0 <= slope < 1.0:
            raise ValueError(f"LeakyReLU's slope must be a number in [0, 1), got {slope!r}")
        super().__init__()
        self.slope = float(slope)

    def options(self) -> dict[str, float]:
        return {"slope": self.slope}

    def function(self, x: Array) -> Array:
        return np.where(x > 0, x, x * x.dtype.type(self.slope))

    def derivative(self, x: Array, y: Array) -> Array:
        return np.where(x > 0, x.dtype.type(1), x.dtype.type(self.slope))


_GELU_K = math.sqrt(2.0 / math.pi)       # GELU's tanh form: u = √(2/π) (x + 0.044715 x³)
_GELU_C = 0.044715


class GELU(Activation):
    """The Gaussian error linear unit in its tanh form (Hendrycks & Gimpel; GPT-2, BERT):
    y = ½ x (1 + tanh u), u = √(2/π) (x + 0.044715 x³);
    f′(x) = ½ (1 + tanh u) + ½ x (1 − tanh² u) · √(2/π) (1 + 3 · 0.044715 x²)."""

    name = "gelu"

    def function(self, x: Array) -> Array:
        t = np.tanh(x.dtype.type(_GELU_K) * (x + x.dtype.type(_GELU_C) * x**3))
        return x.dtype.type(0.5) * x * (1 + t)

    def derivative(self, x: Array, y: Array) -> Array:
        k, c, half = x.dtype.type(_GELU_K), x.dtype.type(_GELU_C), x.dtype.type(0.5)
        t = np.tanh(k * (x + c * x**3))
        return half * (1 + t) + half * x * (1 - t * t) * k * (1 + 3 * c * x * x)


class Tanh(Activation):
    """y = tanh x; f′(x) = 1 − y²."""

    name = "tanh"

    def function(self, x: Array) -> Array:
        return np.tanh(x)

    def derivative(self, x: Array, y: Array) -> Array:
        return 1 - y * y


class Sigmoid(Activation):
    """y = σ(x) = 1 / (1 + e⁻ˣ); f′(x) = y (1 − y). Computed from e^(−|x|), which never overflows."""

    name = "sigmoid"

    def function(self, x: Array) -> Array:
        e = np.exp(-np.abs(x))                               # in (0, 1]
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def derivative(self, x: Array, y: Array) -> Array:
        return y * (1 - y)


#: Every activation, by the name a config gives it.
ACTIVATIONS: dict[str, type[Activation]] = {kind.name: kind for kind in (ReLU, LeakyReLU, GELU, Tanh, Sigmoid)}


# Dropout draws 16-bit integers u, uniform on {0, …, 2¹⁶ − 1}, and keeps a unit when u ≥ threshold:
# half the random bits of a float draw, so twice as fast. The keep probability is then exactly
# (2¹⁶ − threshold) / 2¹⁶, within 2⁻¹⁷ of 1 − p, and the scale is its exact inverse so that E[y] = x.
_LEVELS = 2**16


class Dropout:
    """Inverted dropout: y = x · mask, mask = keep / q, keep ~ Bernoulli(q), q = 1 − p.

    Units are kept with probability q and scaled by 1 / q in training, so
    E[y] = x exactly and inference is the identity. dx = G · mask.
    The random draws come only from ``rng``.
    """

    def __init__(self, p: float, *, rng: np.random.Generator) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = p
        self._threshold = min(round(p * _LEVELS), _LEVELS - 1)
        self.keep_probability = (_LEVELS - self._threshold) / _LEVELS     # q, exactly
        self.training = True
        self._rng = rng
        self._cache: tuple[Array | None] | None = None       # (mask,); mask None: forward was the identity

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, Array]:
        return {}

    @property
    def mask(self) -> Array | None:
        """The mask of the last forward (None when that forward was the identity, or before any)."""
        return None if self._cache is None else self._cache[0]

    def infer(self, x: Array) -> Array:
        return x

    def forward(self, x: Array) -> Array:
        if not self.training or self.p == 0.0:
            self._cache = (None,)
            return x
        mask = self.draw_mask(x.shape, x.dtype)
        self._cache = (mask,)
        return x * mask

    def draw_mask(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
        """A new mask keep / q from the layer's generator: 1 / q where a unit is kept, 0 where dropped."""
        keep = self._rng.integers(0, _LEVELS, shape, dtype=np.uint16) >= self._threshold   # (N, D)
        return keep * dtype.type(1.0 / self.keep_probability)                             # in the given dtype

    def backward(self, grad_out: Array) -> Array:
        if self._cache is None:
            raise _no_cache("Dropout")
        mask = self._cache[0]
        if mask is None:
            return grad_out.copy()                           # a new array, as every backward returns
        _check_grad_shape("Dropout", grad_out, mask.shape)
        return grad_out * mask

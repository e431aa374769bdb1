"""Layers, each with its forward pass and its chain rule side by side.

Shapes: ``N`` batch, ``D`` features. Every layer follows one protocol:
``params()``, ``buffers()``, ``training``, ``forward(x)`` (caches what
backward needs) and ``backward(grad_out)`` (assigns each ``p.grad``, returns
dL/dx, never mutates its argument or its cache). Gradients are *assigned*,
not accumulated: a ``Sequential`` has no fan-out, so there is no ``zero_grad``.
"""

from __future__ import annotations

from typing import Any, Protocol

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


def _cached(value: NDArray[Any] | None, layer: str) -> NDArray[Any]:
    if value is None:
        raise RuntimeError(f"{layer}.backward() called before forward(); run forward on a batch first")
    return value


def _check_grad_shape(layer: str, grad_out: Array, expected: tuple[int, ...]) -> None:
    if grad_out.shape != expected:
        raise ValueError(f"{layer}.backward() expects grad_out of shape {expected} "
                         f"(the shape forward returned), got {grad_out.shape}")


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
        self.weight = Param.zeros_like_grad(init(rng, in_features, out_features, dtype), "weight")
        self.bias = Param.zeros_like_grad(np.zeros(out_features, dtype), "bias") if bias else None
        self.training = True
        self._x: Array | None = None

    def params(self) -> list[Param]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def buffers(self) -> dict[str, Array]:
        return {}

    def forward(self, x: Array) -> Array:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Linear expects (N, {self.in_features}) input, got {x.shape}")
        x = x.astype(self.weight.value.dtype, copy=False)   # the model's dtype, never an upcast
        self._x = x
        y = x @ self.weight.value                           # (N, D_out)
        if self.bias is not None:
            y += self.bias.value
        return y

    def backward(self, grad_out: Array) -> Array:
        self.backward_params(grad_out)
        return grad_out @ self.weight.value.T               # dx = G Wᵀ   (N, D_in)

    def backward_params(self, grad_out: Array) -> None:
        """Assign dweight and dbias only: for the first layer, whose input is data."""
        x = _cached(self._x, "Linear")
        _check_grad_shape("Linear", grad_out, (x.shape[0], self.out_features))
        np.matmul(x.T, grad_out, out=self.weight.grad)      # dW = xᵀ G   (D_in, D_out)
        if self.bias is not None:
            np.sum(grad_out, axis=0, out=self.bias.grad)    # db = Σₙ G   (D_out,)


class BatchNorm:
    """Batch normalization (Ioffe & Szegedy, 2015) over the feature axis.

    Training: μ, σ² are the batch mean and biased variance per feature,
    x̂ = (x − μ) / √(σ² + eps), y = gamma · x̂ + beta. Running averages follow
    PyTorch: running = (1 − m) · running + m · batch, with m = ``momentum``
    (0.1) and the unbiased variance σ² · N / (N − 1). Evaluation uses the
    running averages instead of batch statistics.

    Backward (training), with G = dL/dy:
    dbeta = Σₙ G, dgamma = Σₙ G · x̂, dx = gamma / (N √(σ² + eps)) · (N G − dbeta − x̂ · dgamma).
    """

    def __init__(self, n_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 dtype: DTypeLike = np.float32) -> None:
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm momentum must be in [0, 1], got {momentum}")
        self.n_features, self.momentum, self.eps = n_features, momentum, eps
        self.gamma = Param.zeros_like_grad(np.ones(n_features, dtype), "gamma")
        self.beta = Param.zeros_like_grad(np.zeros(n_features, dtype), "beta")
        self.running_mean = np.zeros(n_features, dtype)
        self.running_var = np.ones(n_features, dtype)
        self.training = True
        self._x_hat: Array | None = None
        self._inv_std: Array | None = None

    def params(self) -> list[Param]:
        return [self.gamma, self.beta]

    def buffers(self) -> dict[str, Array]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def forward(self, x: Array) -> Array:
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"BatchNorm expects (N, {self.n_features}) input, got {x.shape}")
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError("BatchNorm in training mode needs a batch of at least 2 samples, "
                                 f"got {n}; use a larger batch or call model.eval()")
            mean = x.sum(axis=0) / n                         # (D,)
            centred = x - mean                               # (N, D)
            var = np.einsum("nd,nd->d", centred, centred) / n   # biased, (D,)
            m = self.momentum
            self.running_mean *= 1.0 - m
            self.running_mean += m * mean
            self.running_var *= 1.0 - m
            self.running_var += (m * n / (n - 1)) * var      # unbiased running variance
        else:
            centred = x - self.running_mean
            var = self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)              # (D,)
        x_hat = centred
        x_hat *= inv_std                                     # (N, D); reuses the centred buffer
        self._x_hat, self._inv_std = x_hat, inv_std
        return x_hat * self.gamma.value + self.beta.value

    def backward(self, grad_out: Array) -> Array:
        x_hat = _cached(self._x_hat, "BatchNorm")
        inv_std = _cached(self._inv_std, "BatchNorm")
        _check_grad_shape("BatchNorm", grad_out, x_hat.shape)
        np.sum(grad_out, axis=0, out=self.beta.grad)                  # dbeta = Σₙ G
        np.einsum("nd,nd->d", grad_out, x_hat, out=self.gamma.grad)   # dgamma = Σₙ G x̂
        if not self.training:                                          # μ, σ² are constants
            return grad_out * (self.gamma.value * inv_std)
        n = grad_out.shape[0]
        dx = x_hat * self.gamma.grad                                   # x̂ · dgamma
        dx += self.beta.grad                                           # + dbeta
        np.subtract(n * grad_out, dx, out=dx)                          # N G − dbeta − x̂ · dgamma
        dx *= self.gamma.value * inv_std / n                           # · gamma / (N √(σ² + eps))
        return dx


class ReLU:
    """y = max(x, 0); dx = G where x > 0, else 0. Any shape."""

    def __init__(self) -> None:
        self.training = True
        self._active: NDArray[np.bool_] | None = None

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, Array]:
        return {}

    def forward(self, x: Array) -> Array:
        self._active = x > 0
        return x * self._active                            # faster than np.maximum, same values

    def backward(self, grad_out: Array) -> Array:
        active = _cached(self._active, "ReLU")
        _check_grad_shape("ReLU", grad_out, active.shape)
        return grad_out * active                           # new array; input untouched


class Dropout:
    """Inverted dropout: y = x · mask, mask = keep / (1 − p), keep ~ Bernoulli(1 − p).

    Units are kept with probability 1 − p and scaled by 1 / (1 − p) in
    training, so E[y] = x and inference is the identity. dx = G · mask.
    ``fixed_mask``, when set, replaces the random draw (gradient checks and
    parity tests need the same mask on every forward).
    """

    def __init__(self, p: float, *, rng: np.random.Generator) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = p
        # keep ⇔ u ≥ round(p · 2¹⁶) for u uniform on {0, …, 2¹⁶ − 1}: 16-bit draws are twice as
        # fast as float draws, and the drop probability is p to within 2⁻¹⁷
        self._threshold = np.uint16(min(round(p * 2**16), 2**16 - 1))
        self.training = True
        self.fixed_mask: Array | None = None
        self._rng = rng
        self._mask: Array | None = None
        self._forward_called = False

    def params(self) -> list[Param]:
        return []

    def buffers(self) -> dict[str, Array]:
        return {}

    @property
    def mask(self) -> Array | None:
        """The mask of the last training forward (None in eval mode or with p = 0)."""
        return self._mask

    def forward(self, x: Array) -> Array:
        self._forward_called = True
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        if self.fixed_mask is not None:
            self._mask = self.fixed_mask
        else:
            keep = self._rng.integers(0, 2**16, x.shape, dtype=np.uint16) >= self._threshold
            self._mask = keep * x.dtype.type(1.0 / (1.0 - self.p))   # (N, D) in x's dtype
        return x * self._mask

    def backward(self, grad_out: Array) -> Array:
        if not self._forward_called:
            raise RuntimeError("Dropout.backward() called before forward(); run forward on a batch first")
        if self._mask is None:
            return grad_out
        _check_grad_shape("Dropout", grad_out, self._mask.shape)
        return grad_out * self._mask

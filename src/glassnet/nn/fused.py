"""The fast path: the training step of ``nn/``, fused, and its optimizer computed in place.

The layers in ``layers.py`` and the optimizer in ``optim.py`` are the
definition, written as the derivations read. This module computes the same
numbers faster and is proven equal to them by tests (``tests/test_fused.py``).

``FusedMLP`` computes the forward pass, the loss and the backward pass of an ``mlp`` network over
arrays allocated once per batch size: batch norm normalizes in place, the activation's derivative
and dropout's mask become one gate, and every gradient is written into its ``Param``'s existing
``grad`` array. The activation itself is the layer's own ``function`` and ``derivative``: fusion
is a way of running the definitions in ``layers.py``, not a second copy of them. It refuses a
network it would not compute exactly as the layers do (``FusedMLP.refusal`` says why); the caller
then trains layer by layer. The optimizer step is the caller's, so that a hook between backward
and update (gradient clipping, statistics) sees the same gradients on both paths.

``Adam.step`` in ``optim.py`` is the textbook update, one formula per line;
each line allocates its result and makes its own passes over the parameters
(docs/speed.md times it against ``FusedAdam``).
``FusedAdam`` computes the same update in place, in the ordering Kingma & Ba
give in Section 2 of the paper: the two bias corrections become one scalar
step size, α_t = α · √(1 − β₂ᵗ) / (1 − β₁ᵗ), and ε becomes ε̂ = ε · √(1 − β₂ᵗ):

    θ ← θ − α_t · m / (√v + ε̂)   =   θ − α · m̂ / (√v̂ + ε)   (exactly, in real arithmetic).

Its state (``m``, ``v``, ``t``) is the textbook optimizer's, so checkpoints of
either resume with the other; tests prove the two equal step by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from glassnet.nn.layers import ACTIVATIONS, Activation, BatchNorm, Dropout, Layer, Linear
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential
from glassnet.nn.optim import Adam
from glassnet.nn.params import Array, Param


class FusedAdam(Adam):
    """``Adam`` (and AdamW) with the update computed in place, over preallocated scratch arrays."""

    def __init__(self, params: list[Param], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
        self._scratch = [np.empty_like(p.value) for p in self.params]   # one work array per parameter

    def step(self) -> None:
        """One update of every parameter from its current ``grad``, in place, allocating nothing."""
        self.t += 1
        step_size, eps_hat = self.step_scalars()
        for p, m, v, work in zip(self.params, self.m, self.v, self._scratch):
            if self.weight_decay and p.decay:
                p.value *= 1.0 - self.lr * self.weight_decay
            self.update(p.value, p.grad, m, v, work, step_size, eps_hat)

    def step_scalars(self) -> tuple[float, float]:
        """α_t and ε̂ of the current step t: the two bias corrections, folded into scalars."""
        beta1, beta2 = self.betas
        correction1, correction2 = 1.0 - beta1**self.t, 1.0 - beta2**self.t
        return self.lr * math.sqrt(correction2) / correction1, self.eps * math.sqrt(correction2)

    def update(self, value: Array, g: Array, m: Array, v: Array, work: Array,
               step_size: float, eps_hat: float) -> None:
        """One parameter's update in place (or any part of it: views of the same elements of each array)."""
        beta1, beta2 = self.betas
        m *= beta1
        m += np.multiply(g, 1.0 - beta1, out=work)                           # m ← β₁m + (1−β₁)g
        v *= beta2
        np.square(g, out=work)
        work *= 1.0 - beta2
        v += work                                                            # v ← β₂v + (1−β₂)g²
        np.sqrt(v, out=work)
        work += eps_hat                                                      # work = √v + ε̂
        np.divide(m, work, out=work)                                         # work = m / (√v + ε̂)
        work *= step_size
        value -= work                                                        # θ ← θ − α_t m / (√v + ε̂)


@dataclass
class _Block:
    """One hidden block, Linear → [BatchNorm] → activation → [Dropout], and the arrays of its last forward."""

    linear: Linear
    batchnorm: BatchNorm | None
    activation: Activation
    dropout: Dropout | None
    arrays: dict[int, dict[str, Array]] = field(default_factory=dict)   # by batch size
    inv_std: Array = field(default_factory=lambda: np.empty(0))          # 1 / √(σ² + eps) of the last batch

    def buffers(self, n: int, dtype: np.dtype[np.floating]) -> dict[str, Array]:
        if n not in self.arrays:
            shape = (n, self.linear.out_features)
            self.arrays[n] = {name: np.empty(shape, dtype) for name in ("z", "h", "gate", "grad", "work")}
        return self.arrays[n]


_SHAPE = "(Linear [BatchNorm] activation [Dropout])* Linear, as mlp builds it"


def _take(layers: list[Layer], *kinds: type) -> Any:
    """The first of ``layers``, removed, if it is exactly one of ``kinds`` (not a subclass, which may differ)."""
    return layers.pop(0) if layers and type(layers[0]) in kinds else None


def _split(model: Sequential) -> tuple[list[_Block], Linear]:
    """The model's hidden blocks and its last Linear; ``TypeError`` saying why the fused step would not
    compute this model exactly as its layers do."""
    layers, blocks = list(model.layers), []
    while len(layers) > 1:
        linear, batchnorm = _take(layers, Linear), _take(layers, BatchNorm)
        activation, dropout = _take(layers, *ACTIVATIONS.values()), _take(layers, Dropout)
        if linear is None or activation is None:
            raise TypeError(f"its layers are not {_SHAPE}")
        if batchnorm is not None and linear.bias is not None:
            raise TypeError(f"layer {model.layers.index(linear)} is a Linear with a bias before BatchNorm; the fused "
                            "step leaves such a bias out (batch norm cancels it), the layers do not")
        blocks.append(_Block(linear, batchnorm, activation, dropout))
    head = _take(layers, Linear)
    if head is None or layers:
        raise TypeError(f"its layers are not {_SHAPE}")
    return blocks, head


class FusedMLP:
    """The forward pass, loss and backward pass of an ``mlp`` network, fused; equal to ``model.forward``,
    the loss and ``model.backward``, or refused at construction (``TypeError``).

    It reads and writes the model's own parameters and BatchNorm buffers and
    draws the same dropout masks from the same generators, in the same order.
    It writes none of the layers' caches: after a fused step, run
    ``model.forward`` before any ``model.backward``.
    """

    def __init__(self, model: Sequential) -> None:
        self.model = model
        self.blocks, self.head = _split(model)
        self._logits: dict[int, Array] = {}

    @staticmethod
    def refusal(model: Sequential) -> str | None:
        """Why the fused step would not compute ``model`` exactly as its layers do; None when it would."""
        try:
            _split(model)
        except TypeError as e:
            return str(e)
        return None

    def forward_backward(self, x: Array, labels: NDArray[np.integer], *, label_smoothing: float = 0.0,
                         weights: NDArray[np.floating] | None = None) -> tuple[float, Array]:
        """Forward and backward on a batch x (N, D), in training mode: every parameter's ``grad`` assigned.
        The loss is ``softmax_cross_entropy``'s, weighted by ``weights`` (N,) when given.
        Returns the loss, and the logits (N, C) until the next call."""
        if not self.model.training:
            raise RuntimeError("FusedMLP trains in training mode only (batch statistics, dropout); "
                               "call model.train() first")
        n, dtype = len(x), self.model.dtype
        if n < 2 and any(block.batchnorm is not None for block in self.blocks):
            raise ValueError("BatchNorm in training mode needs a batch of at least 2 samples, got 1; use a larger "
                             "batch")
        inputs = [x.astype(dtype, copy=False)]
        for block in self.blocks:
            inputs.append(_forward(block, inputs[-1], block.buffers(n, dtype)))
        logits = self._logits.setdefault(n, np.empty((n, self.head.out_features), dtype))
        np.matmul(inputs[-1], self.head.weight.value, out=logits)
        if self.head.bias is not None:
            logits += self.head.bias.value
        loss, grad = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing, weights=weights)
        weight = self.head.weight
        np.matmul(inputs[-1].T, grad, out=weight.grad)                      # dW = hᵀ G
        if self.head.bias is not None:
            np.sum(grad, axis=0, out=self.head.bias.grad)                   # db = Σₙ G
        for i in reversed(range(len(self.blocks))):
            block = self.blocks[i]
            arrays = block.buffers(n, dtype)
            np.matmul(grad, weight.value.T, out=arrays["grad"])             # dL/dh = G Wᵀ of the layer above
            grad = _backward(block, inputs[i], arrays)
            weight = block.linear.weight
        return loss, logits


def _forward(block: _Block, x: Array, a: dict[str, Array]) -> Array:
    """h = dropout(f(batchnorm(x W))); keeps x̂ in a["z"] and the gate f′ · dropout's mask in a["gate"]."""
    z, h, gate = a["z"], a["h"], a["gate"]
    np.matmul(x, block.linear.weight.value, out=z)
    bn = block.batchnorm
    if bn is None:
        if block.linear.bias is not None:
            z += block.linear.bias.value
        np.copyto(h, z)
    else:
        n = len(z)
        mean = z.mean(axis=0)
        z -= mean                                                 # x − μ, in place
        var = np.einsum("nd,nd->d", z, z) / n                     # biased σ²
        block.inv_std = 1.0 / np.sqrt(var + bn.eps)
        z *= block.inv_std                                        # x̂, in place
        bn.update_running(mean, var, n)
        np.multiply(z, bn.gamma.value, out=h)
        h += bn.beta.value                                        # γ x̂ + β
    f = block.activation
    y = h if f.homogeneous else f.function(h)
    np.copyto(gate, f.derivative(h, y))                           # f′, as the backward multiplies by it
    mask = block.dropout.draw_mask(h.shape, h.dtype) if block.dropout is not None and block.dropout.p > 0.0 \
        else None
    if mask is not None:
        gate *= mask                                              # and dropout's mask, in one gate
    if f.homogeneous:
        h *= gate                                                 # f(x) = x · f′(x): the gate applies both
    else:
        np.copyto(h, y)
        if mask is not None:
            h *= mask
    return h


def _backward(block: _Block, x: Array, a: dict[str, Array]) -> Array:
    """From a["grad"] = dL/dh: assign the block's parameter gradients; return dL/dz (in a["grad"])."""
    grad, x_hat, work = a["grad"], a["z"], a["work"]
    grad *= a["gate"]                                             # through dropout and the activation
    bn = block.batchnorm
    if bn is not None:
        n = len(grad)
        np.sum(grad, axis=0, out=bn.beta.grad)                    # dβ = Σₙ G
        np.einsum("nd,nd->d", grad, x_hat, out=bn.gamma.grad)     # dγ = Σₙ G x̂
        np.multiply(x_hat, bn.gamma.grad, out=work)
        work += bn.beta.grad
        grad *= n
        grad -= work                                              # N G − dβ − x̂ dγ
        grad *= bn.gamma.value * block.inv_std / n                # · γ / (N √(σ² + eps))
    elif block.linear.bias is not None:
        np.sum(grad, axis=0, out=block.linear.bias.grad)          # db = Σₙ G
    np.matmul(x.T, grad, out=block.linear.weight.grad)            # dW = xᵀ G
    return grad

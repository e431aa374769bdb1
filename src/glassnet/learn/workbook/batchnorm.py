"""Exercise 6: the batch normalization layer, with a compact backward pass.

Training: μ, σ² (biased) of the batch, per feature; x̂ = (x − μ)/√(σ² + eps), y = γ x̂ + β; and the
running averages  running = (1 − momentum) · running + momentum · batch  (with the *unbiased*
variance σ² · N/(N − 1) for running_var), updated in place. Inference (self.training is False):
the running averages take the place of μ and σ², and nothing is updated.

backward receives G = ∂L/∂y (N, D). It assigns self.gamma.grad and self.beta.grad, both (D,), and
returns ∂L/∂x (N, D). After a training forward, fold the node-by-node steps of exercise 5 into one
expression for ∂L/∂x; after an inference forward μ and σ² are constants. backward follows the
mode of the forward pass it differentiates, not the mode the layer is in now.

Rules of every layer: forward never changes its input, and caches what backward needs; backward
assigns each parameter's gradient, returns a new array and never changes its argument.
Stuck? glassnet learn hint batchnorm  (one step at a time)
Worked derivation, to compare once yours passes: docs page "Batch normalization", sections
"The compact form" and "Running statistics and inference".
Check with:  glassnet learn check . batchnorm
"""

import numpy as np

from glassnet.nn.params import Param


class BatchNorm:
    def __init__(self, n_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 dtype: type = np.float32) -> None:
        self.n_features, self.momentum, self.eps = n_features, momentum, eps
        self.gamma = Param(np.ones(n_features, dtype), name="gamma")
        self.beta = Param(np.zeros(n_features, dtype), name="beta")
        self.running_mean = np.zeros(n_features, dtype)
        self.running_var = np.ones(n_features, dtype)
        self.training = True
        self.cache = None                               # set it in forward, with the mode it ran in

    def params(self) -> list[Param]:
        return [self.gamma, self.beta]

    def buffers(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError("training: batch statistics and running averages (in place: "
                                  "self.running_mean[...] = ...); inference: the running averages")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("assign gamma.grad and beta.grad, return ∂L/∂x (glassnet learn hint batchnorm)")

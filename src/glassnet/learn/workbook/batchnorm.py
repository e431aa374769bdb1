"""Exercise 6: the batch normalization layer, with the compact backward formula.

Training: μ, σ² (biased) of the batch, x̂ = (x − μ)/√(σ² + eps), y = γ x̂ + β, and the running
averages  running = (1 − momentum) · running + momentum · batch  (with the *unbiased* variance
σ² · N/(N − 1) for running_var). Inference (self.training is False): the running averages replace μ, σ².

Backward (training), with G = ∂L/∂y and s = 1/√(σ² + eps):
    ∂L/∂β = Σₙ G      ∂L/∂γ = Σₙ G x̂      ∂L/∂x = γ s / N · (N G − ∂L/∂β − x̂ · ∂L/∂γ)
Backward (inference): μ, σ² are constants, so ∂L/∂x = γ s_running · G.
Backward follows the mode of the forward pass it differentiates.
Read first: docs page "Batch normalization".   Check with:  glassnet learn check . batchnorm
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
        self.cache = None                               # set it in forward: x̂, s, and the mode

    def params(self) -> list[Param]:
        return [self.gamma, self.beta]

    def buffers(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError("training: batch statistics and running averages (in place: "
                                  "self.running_mean[...] = ...); inference: the running averages")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("assign gamma.grad and beta.grad; return ∂L/∂x by the compact formula")

"""Exercise 5: batch normalization's backward pass, node by node along its computational graph.

The forward pass below is given, one node a line, per feature over the batch of N rows:

    mu = (1/N) Σₙ xₙ      centred = x − mu      var = (1/N) Σₙ centredₙ²  (biased)
    inv_std = 1/√(var + eps)      x_hat = centred · inv_std      y = γ x_hat + β

Write batchnorm_backward: given G = ∂L/∂y (N, D), return the gradient of the loss with respect to
every node, in a dict with the node's name as key and the node's shape:
    beta, gamma, inv_std, var, mu: (D,)          x_hat, centred, x: (N, D)
Go from y back to x, one node at a time, as in exercise 0: each node's gradient is made of the
gradients of the nodes it feeds. Derive each local derivative on paper first; the next exercise
folds these steps into one formula.

Stuck? glassnet learn hint batchnorm_graph  (one step at a time)
Worked derivation, to compare once yours passes: docs page "Batch normalization", up to the
end of "Backward, from the computational graph" (the next section is exercise 6's answer).
Check with:  glassnet learn check . batchnorm_graph
"""

import numpy as np


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      eps: float = 1e-5) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """y (N, D) and a cache holding every node. Given: read it, and leave it as it is."""
    mu = x.mean(axis=0)                              # (D,)
    centred = x - mu                                 # (N, D)
    var = (centred**2).mean(axis=0)                  # (D,)   biased: divided by N
    inv_std = 1.0 / np.sqrt(var + eps)               # (D,)
    x_hat = centred * inv_std                        # (N, D)
    y = gamma * x_hat + beta                         # (N, D)
    cache = {"x": x, "gamma": gamma, "mu": mu, "centred": centred, "var": var, "inv_std": inv_std,
             "x_hat": x_hat, "eps": eps}
    return y, cache


def batchnorm_backward(grad_out: np.ndarray, cache: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∂L/∂node for every node: {"beta": …, "gamma": …, "x_hat": …, "inv_std": …, "var": …, "centred": …,
    "mu": …, "x": …}, node by node from y back to x."""
    raise NotImplementedError("one node at a time, from y back to x (glassnet learn hint batchnorm_graph)")

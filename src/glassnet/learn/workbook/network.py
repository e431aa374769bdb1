"""Exercise 9: the whole network, node by node.

glassnet's reference network, 784-256-128-10: two blocks of Linear (no bias, since batch norm
follows) → BatchNorm → ReLU → Dropout, then a Linear that gives the logits, then softmax and
cross-entropy. forward below runs it on a batch with every intermediate named, batch norm node by
node as in exercise 5. It is given: read it, and leave it as it is.

Write backward: the gradient of the loss with respect to every name in GRADIENTS, in a dict with
the name as key and the shape of values[name] (or params[name]). Go in GRADIENTS' order, from the
loss back; each gradient is made of the ones before it. Every piece is one you met in exercises 1
to 6, but ∂L/∂probs. The check gives backward glassnet's own values, compares each gradient with
glassnet's own backward, and names the first wrong one and the ones computed from it.
Stuck? glassnet learn hint network  (one step at a time)
Worked derivations, to compare once yours passes: docs page "Batch normalization", the page "Softmax and
cross-entropy", and the on-ramp's tiny network.
Check with:  glassnet learn check . network
"""

import numpy as np

GRADIENTS = ["probs", "logits", "W3", "b3", "drop2",
             "relu2", "bn2", "beta2", "gamma2", "x_hat2", "inv_std2", "var2", "centred2", "mu2", "h2", "W2", "drop1",
             "relu1", "bn1", "beta1", "gamma1", "x_hat1", "inv_std1", "var1", "centred1", "mu1", "h1", "W1"]


def forward(x: np.ndarray, labels: np.ndarray, params: dict[str, np.ndarray], masks: dict[str, np.ndarray],
            eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Every value of the network for inputs x (N, 784). Given: read it, and leave it as it is.

    params: W1 (784, 256), gamma1, beta1 (256,), W2 (256, 128), gamma2, beta2 (128,), W3 (128, 10), b3 (10,).
    masks: mask1 (N, 256) and mask2 (N, 128), each keep / (1 − p), drawn by the training forward.
    """
    v = {"x": x}
    out = x
    for k in (1, 2):                                                 # the two hidden blocks
        v[f"h{k}"] = out @ params[f"W{k}"]                           # (N, D)   linear, no bias
        v[f"mu{k}"] = v[f"h{k}"].mean(axis=0)                        # (D,)     batch norm, node by node
        v[f"centred{k}"] = v[f"h{k}"] - v[f"mu{k}"]                  # (N, D)
        v[f"var{k}"] = (v[f"centred{k}"] ** 2).mean(axis=0)          # (D,)
        v[f"inv_std{k}"] = 1.0 / np.sqrt(v[f"var{k}"] + eps)         # (D,)
        v[f"x_hat{k}"] = v[f"centred{k}"] * v[f"inv_std{k}"]         # (N, D)
        v[f"bn{k}"] = params[f"gamma{k}"] * v[f"x_hat{k}"] + params[f"beta{k}"]     # (N, D)
        v[f"relu{k}"] = np.maximum(v[f"bn{k}"], 0)                   # (N, D)
        out = v[f"drop{k}"] = v[f"relu{k}"] * masks[f"mask{k}"]      # (N, D)   dropout, training
    v["logits"] = out @ params["W3"] + params["b3"]                  # (N, 10)
    shifted = v["logits"] - v["logits"].max(axis=1, keepdims=True)
    v["probs"] = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)       # (N, 10)  softmax
    v["loss"] = -np.log(v["probs"][np.arange(len(x)), labels]).mean()                # one number
    return v


def backward(values: dict[str, np.ndarray], labels: np.ndarray, params: dict[str, np.ndarray],
             masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∂L/∂name for every name in GRADIENTS, from the values forward computed with these labels, params and masks."""
    raise NotImplementedError("from the loss back, one name of GRADIENTS at a time (glassnet learn hint network)")

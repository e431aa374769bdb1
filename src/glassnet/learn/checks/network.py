"""Exercise 9: the reference network node by node, every gradient compared with glassnet's own backward.

glassnet's reference network (784-256-128-10; Linear → BatchNorm → ReLU → Dropout twice, then Linear)
runs a training forward on a small batch, its γ, β and last bias drawn at random (with γ = 1 and
β = 0 some mistakes would not show). Its layers' outputs and dropout masks, with batch norm's inner
nodes, are the values the learner's ``backward`` receives; glassnet's ``backward``, layer by layer,
gives the gradients at the layers' boundaries and parameters, and ``batchnorm_nodes`` the ones inside
batch norm.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from glassnet.learn.checks import Checks, Failed, forward, over_batches
from glassnet.learn.checks.batchnorm import batchnorm_nodes
from glassnet.learn.checks.graph import Node, compare_nodes
from glassnet.learn.diagnose import Mistake, close
from glassnet.nn.layers import BatchNorm, Dropout, Linear
from glassnet.nn.losses import softmax, softmax_cross_entropy
from glassnet.nn.model import mlp

SIZES = (784, 256, 128, 10)
DROPOUT = 0.2


def run_reference(n: int, seed: int) -> tuple[dict[str, Any], dict[str, Any], list[Node]]:
    """The inputs of ``forward`` (x, labels, params, masks), the value of every node, and the nodes to compare."""
    rng = np.random.default_rng(seed)
    model = mlp(SIZES, rng=np.random.default_rng(seed + 1), dropout=DROPOUT, dtype=np.float64)
    first, second, last = (layer for layer in model.layers if isinstance(layer, Linear))
    norms = [layer for layer in model.layers if isinstance(layer, BatchNorm)]
    drops = [layer for layer in model.layers if isinstance(layer, Dropout)]
    for bn in norms:
        bn.gamma.value[...] = rng.uniform(0.5, 2.0, bn.n_features)
        bn.beta.value[...] = rng.standard_normal(bn.n_features)
    last.params()[1].value[...] = rng.standard_normal(SIZES[-1]) * 0.1
    x, labels = rng.random((n, SIZES[0])), rng.integers(0, SIZES[-1], n)

    values: dict[str, Any] = {"x": x}
    out: Any = x
    for name, layer in zip(("h1", "bn1", "relu1", "drop1", "h2", "bn2", "relu2", "drop2", "logits"), model.layers):
        out = values[name] = layer.forward(out)
    for k in (1, 2):                                              # batch norm's inner nodes, as the stub names them
        h = values[f"h{k}"]
        mu = values[f"mu{k}"] = h.mean(axis=0)
        centred = values[f"centred{k}"] = h - mu
        var = values[f"var{k}"] = (centred**2).mean(axis=0)
        inv_std = values[f"inv_std{k}"] = 1 / np.sqrt(var + norms[k - 1].eps)
        values[f"x_hat{k}"] = centred * inv_std
    loss, dlogits = softmax_cross_entropy(values["logits"], labels)
    values.update(probs=softmax(values["logits"]), loss=np.float64(loss))
    params = {"W1": first.weight.value, "gamma1": norms[0].gamma.value, "beta1": norms[0].beta.value,
              "W2": second.weight.value, "gamma2": norms[1].gamma.value, "beta2": norms[1].beta.value,
              "W3": last.weight.value, "b3": last.params()[1].value}
    masks = {"mask1": drops[0].mask, "mask2": drops[1].mask}

    one_hot = np.zeros_like(dlogits)
    one_hot[np.arange(n), labels] = 1.0
    grads: dict[str, Any] = {"probs": -one_hot / (n * values["probs"]), "logits": dlogits}
    grad = dlogits
    for name, layer in zip(("drop2", "relu2", "bn2", "h2", "drop1", "relu1", "bn1", "h1", "x"),
                          reversed(model.layers)):
        grad = grads[name] = layer.backward(grad)                 # ∂L/∂(the layer's input)
    grads.update(W1=first.weight.grad, W2=second.weight.grad, W3=last.weight.grad, b3=last.params()[1].grad,
                 gamma1=norms[0].gamma.grad, beta1=norms[0].beta.grad,
                 gamma2=norms[1].gamma.grad, beta2=norms[1].beta.grad)
    inputs = {"x": x, "labels": labels, "params": params, "masks": masks}
    return inputs, values, _nodes(values, params, masks, grads, labels)


def _nodes(values: dict[str, Any], params: dict[str, Any], masks: dict[str, Any], grads: dict[str, Any],
           labels: np.ndarray) -> list[Node]:
    """Every gradient in backward order: glassnet's at the layers, ``batchnorm_nodes``' inside batch norm."""
    n = len(labels)
    probs, dprobs, rows = values["probs"], grads["probs"], np.arange(n)
    columns = np.zeros_like(probs)
    columns[:, labels] = -1.0 / (n * probs[rows, labels])          # the same fancy indexing the mistake uses
    nodes = [Node("probs", dprobs, (), [
                 Mistake("net.dprobs-every-entry", "only the label's probability enters the loss: ∂L/∂P is "
                         "−1/(N p) at the label's entry, 0 elsewhere", -1 / (n * probs)),
                 Mistake("softmax.column-index", "[:, labels] writes every row at every label's column; write one "
                         "entry per row: d[np.arange(N), labels]", columns)]),
             Node("logits", grads["logits"], ("probs",), [
                 Mistake("net.softmax-diagonal", "it keeps only the diagonal of softmax's Jacobian, P · ∂L/∂P; each "
                         "probability depends on every logit of its row: P · (∂L/∂P − Σ_c ∂L/∂P_c P_c)",
                         probs * dprobs),
                 Mistake("net.softmax-sum-axis", "the sum Σ_c ∂L/∂P_c P_c runs over the batch (axis=0); it runs over "
                         "each row's classes (axis=1, keepdims=True)",
                         probs * (dprobs - (dprobs * probs).sum(axis=0, keepdims=True)))]),
             Node("W3", grads["W3"], ("logits",), [_before_dropout(values, grads, 2, "logits", "W3")]),
             Node("b3", grads["b3"], ("logits",)),
             Node("drop2", grads["drop2"], ("logits",))]
    for k in (2, 1):
        upstream, relu_grad = grads[f"drop{k}"], grads[f"relu{k}"]
        nodes += [Node(f"relu{k}", relu_grad, (f"drop{k}",), [
                      Mistake("dropout.backward-no-mask", "it lets the gradient through everywhere: multiply it by "
                              f"the forward's mask{k}", upstream),
                      Mistake("dropout.backward-unscaled", f"it multiplies by keep (0 or 1); ∂drop/∂relu is the whole "
                              f"mask{k}, keep / (1 − p)", upstream * (masks[f"mask{k}"] != 0))]),
                  Node(f"bn{k}", grads[f"bn{k}"], (f"relu{k}",), [
                      Mistake("relu.inverted-mask", f"the mask is inverted: it lets the gradient through where "
                              f"bn{k} ≤ 0; it must pass where bn{k} > 0 and stop elsewhere",
                              np.where(values[f"bn{k}"] <= 0, relu_grad, 0.0)),
                      Mistake("relu.times-output", f"it is multiplied by the output relu{k}; the local derivative is "
                              f"the mask [bn{k} > 0]", relu_grad * values[f"relu{k}"]),
                      Mistake("relu.no-mask", f"it lets the gradient through everywhere: stop it where bn{k} ≤ 0",
                              relu_grad),
                      Mistake("net.relu-mask-x-hat", f"its mask comes from x_hat{k}; the ReLU's input is bn{k} = "
                              f"γ x̂ + β: the mask is [bn{k} > 0]", np.where(values[f"x_hat{k}"] > 0, relu_grad, 0.0))])]
        inner = batchnorm_nodes(values[f"h{k}"], params[f"gamma{k}"], grads[f"bn{k}"], suffix=str(k),
                                output=f"bn{k}", source=f"h{k}")
        nodes += [Node(node.name, grads.get(node.name, node.want), node.inputs, node.mistakes) for node in inner]
        if k == 2:
            nodes += [Node("W2", grads["W2"], ("h2",), [_before_dropout(values, grads, 1, "h2", "W2")]),
                      Node("drop1", grads["drop1"], ("h2",))]
        else:
            nodes.append(Node("W1", grads["W1"], ("h1",)))
    return nodes


def _before_dropout(values: dict[str, Any], grads: dict[str, Any], k: int, upstream: str, weight: str) -> Mistake:
    return Mistake("net.input-before-dropout", f"it multiplies by relu{k}; the input of {weight}'s layer is "
                   f"drop{k}, the dropout's output", values[f"relu{k}"].T @ grads[upstream])


def check_network(module: ModuleType, checks: Checks) -> None:
    def forward_pass() -> None:
        inputs, values, _ = run_reference(5, 0)
        got = forward(lambda x: module.forward(x, inputs["labels"], inputs["params"], inputs["masks"]), inputs["x"])
        if not isinstance(got, dict):
            raise Failed(f"forward must return a dict of every value; got {type(got).__name__}", "returned-none")
        for name, want in values.items():
            if not close(got.get(name), want):
                raise Failed(f"the given forward was changed: {name} differs from glassnet's. Leave forward as it "
                             "came (the checks pass glassnet's own values to backward)", "net.forward-changed")

    def backward_at(case: tuple[int, int]) -> None:
        n, seed = case
        inputs, values, nodes = run_reference(n, seed)
        given = {name: np.array(value, copy=True) for name, value in values.items()}
        got = module.backward(given, inputs["labels"].copy(), {k: v.copy() for k, v in inputs["params"].items()},
                              {k: v.copy() for k, v in inputs["masks"].items()})
        changed = [name for name in values if not np.array_equal(given[name], values[name])]
        if changed:
            raise Failed(f"backward changed values[{changed[0]!r}] in place; compute new arrays (the values are "
                         "the forward's)", "changed-input")
        compare_nodes(got, nodes, f"at batch {n}", n)

    def backward_pass() -> None:
        over_batches(((5, 1), (8, 2)), backward_at, batch=lambda case: case[0])

    checks.run_in_order(("the given forward, unchanged", forward_pass),
                        ("backward, node by node, against glassnet", backward_pass))

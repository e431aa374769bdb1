"""Where a training step's time goes, on both paths: the matrix products, each element-wise stage, the
loss, the optimizer, the batch gather, and the Python around them.

    python benchmarks/profile_step.py [--data-dir DIR] [--batch 128] [--json docs/figures/step-breakdown.json]

The reference model (784-256-128-10, float32) at one batch size. Each part is timed on its own,
on the arrays of a real step (median of --repeats calls, the parts taken in turn over --rounds
rounds so that the machine's drift hits all of them); "Python and the rest" is the whole step's
median minus the sum of its parts. "layers" is the layer-by-layer path with the textbook Adam
(``--engine layers``), "fused" is ``FusedMLP.forward_backward`` then ``FusedAdam.step`` (what ``fit`` runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from glassnet.data.batches import gather
from glassnet.data.mnist import load_mnist
from glassnet.nn.fused import FusedAdam, FusedMLP, _backward, _forward
from glassnet.nn.layers import BatchNorm, Dropout, Linear, ReLU
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import mlp
from glassnet.nn.optim import Adam

SIZES = [784, 256, 128, 10]


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def fused_parts(x_train: np.ndarray, y_train: np.ndarray, batch: int) -> dict[str, Callable[[], object]]:
    model = mlp(SIZES, rng=np.random.default_rng(0), dropout=0.2)
    fused, optimizer = FusedMLP(model), FusedAdam(model.params())
    indices = np.arange(batch)
    x_batch = np.empty((batch, 784), np.float32)
    x, labels = gather(x_train, indices, x_batch), y_train[indices]
    fused.forward_backward(x, labels)                      # every buffer allocated, every array filled
    optimizer.step()
    blocks, head = fused.blocks, fused.head
    arrays = [block.buffers(batch, np.dtype(np.float32)) for block in blocks]
    inputs = [x, arrays[0]["h"], arrays[1]["h"]]
    logits = np.empty((batch, 10), np.float32)
    _, grad_logits = softmax_cross_entropy(head_forward(inputs[2], head, logits), labels)
    saved_grads = [a["grad"].copy() for a in arrays]
    weights = [block.linear.weight for block in blocks] + [head.weight]
    float_draws = np.random.default_rng(0)                 # for the masks the fused step does not draw

    def backward_elementwise(i: int) -> Callable[[], object]:
        def run() -> object:
            np.copyto(arrays[i]["grad"], saved_grads[i])   # its input, which _backward overwrites (counted with it)
            return _backward(blocks[i], inputs[i], arrays[i])
        return run

    parts: dict[str, Callable[[], object]] = {
        "gather": lambda: gather(x_train, indices, x_batch),
        "products": lambda: (
            [np.matmul(inputs[i], w.value, out=a["z"]) for i, (w, a) in enumerate(zip(weights[:2], arrays))],
            np.matmul(inputs[2], head.weight.value, out=logits),
            [np.matmul(inputs[i].T, arrays[i]["grad"], out=w.grad) for i, w in enumerate(weights[:2])],
            np.matmul(inputs[2].T, grad_logits, out=head.weight.grad),
            np.matmul(grad_logits, head.weight.value.T, out=arrays[1]["grad"]),
            np.matmul(arrays[1]["grad"], weights[1].value.T, out=arrays[0]["grad"])),
        "products in the blocks' forward": lambda: [
            np.matmul(inputs[i], w.value, out=a["z"]) for i, (w, a) in enumerate(zip(weights[:2], arrays))],
        "products in the blocks' backward": lambda: [
            np.matmul(inputs[i].T, arrays[i]["grad"], out=w.grad) for i, w in enumerate(weights[:2])],
        "blocks' forward": lambda: [
            _forward(block, inputs[i], arrays[i]) for i, block in enumerate(blocks)],
        "dropout masks": lambda: [block.dropout.draw_mask((batch, block.linear.out_features), np.dtype(np.float32))
                                        for block in blocks if block.dropout is not None],
        "dropout masks from float64 draws": lambda: [
            (float_draws.random((batch, block.linear.out_features)) >= block.dropout.p)
            * np.float32(1 / block.dropout.keep_probability) for block in blocks if block.dropout is not None],
        "loss": lambda: softmax_cross_entropy(logits, labels),
        "blocks' backward": lambda: [
            backward_elementwise(i)() for i in reversed(range(len(blocks)))],
        "optimizer": optimizer.step,
        "whole step": lambda: (fused.forward_backward(gather(x_train, indices, x_batch), labels), optimizer.step()),
    }
    return parts


def head_forward(h: np.ndarray, head: Linear, out: np.ndarray) -> np.ndarray:
    np.matmul(h, head.weight.value, out=out)
    if head.bias is not None:
        out += head.bias.value
    return out


def layer_parts(x_train: np.ndarray, y_train: np.ndarray, batch: int) -> dict[str, Callable[[], object]]:
    model = mlp(SIZES, rng=np.random.default_rng(0), dropout=0.2)
    optimizer = Adam(model.params())
    indices = np.arange(batch)
    x_batch = np.empty((batch, 784), np.float32)
    x, labels = gather(x_train, indices, x_batch), y_train[indices]
    outputs = [x]
    for layer in model.layers:
        outputs.append(layer.forward(outputs[-1]))
    _, grad = softmax_cross_entropy(outputs[-1], labels)
    grads = [grad]
    for layer in reversed(model.layers):
        grads.append(layer.backward(grads[-1]))
    grads = grads[::-1]                                        # grads[i + 1] is dL/d(output of layer i)
    by_kind: dict[str, list[int]] = {}
    for i, layer in enumerate(model.layers):
        by_kind.setdefault(type(layer).__name__, []).append(i)

    def forward_of(kind: type) -> Callable[[], object]:
        picked = [i for i, layer in enumerate(model.layers) if type(layer) is kind]
        return lambda: [model.layers[i].forward(outputs[i]) for i in picked]

    def backward_of(kind: type) -> Callable[[], object]:
        picked = [i for i, layer in enumerate(model.layers) if type(layer) is kind]

        def run() -> object:
            for i in picked:                                   # each layer's cache from its own forward
                model.layers[i].forward(outputs[i])
            # as model.backward(input_grad=False): the first layer, on data, computes no input gradient
            for i in picked:
                layer = model.layers[i]
                if i == 0 and isinstance(layer, Linear):
                    layer.backward_params(grads[1])
                else:
                    layer.backward(grads[i + 1])
            return None
        return run

    def whole_step() -> object:
        logits = model.forward(gather(x_train, indices, x_batch))
        _, g = softmax_cross_entropy(logits, labels)
        model.backward(g, input_grad=False)
        optimizer.step()
        return logits

    parts: dict[str, Callable[[], object]] = {
        "gather": lambda: gather(x_train, indices, x_batch),
        "loss": lambda: softmax_cross_entropy(outputs[-1], labels),
        "optimizer": optimizer.step,
        "whole step": whole_step,
    }
    for kind in (Linear, BatchNorm, ReLU, Dropout):
        parts[f"{kind.__name__} forward"] = forward_of(kind)
        parts[f"{kind.__name__} forward and backward"] = backward_of(kind)
    return parts


def measure(parts: dict[str, Callable[[], object]], repeats: int, rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(rounds):
        for name, fn in parts.items():
            samples[name].append(median_ms(fn, repeats))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    mnist = load_mnist(args.data_dir, download=False)
    x_train, y_train = mnist.train_images.reshape(-1, 784), mnist.train_labels
    paths = {"fused": fused_parts(x_train, y_train, args.batch), "layers": layer_parts(x_train, y_train, args.batch)}
    times = measure({f"{path}/{name}": fn for path, parts in paths.items() for name, fn in parts.items()},
                    args.repeats, args.rounds)                  # both paths in every round
    fused, layers = ({name.split("/", 1)[1]: ms for name, ms in times.items() if name.startswith(f"{path}/")}
                     for path in ("fused", "layers"))
    result = {"batch": args.batch, "layers": summarize_layers(layers),
              "fused": summarize_fused(fused)}
    for path, table in result.items():
        if isinstance(table, dict):
            print(f"\n{path} (ms per step, batch {args.batch})")
            for name, ms in table.items():
                print(f"  {name:<24}{ms:8.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


def summarize_fused(t: dict[str, float]) -> dict[str, float]:
    rows = {
        "products": t["products"],
        "forward_elementwise": t["blocks' forward"] - t["products in the blocks' forward"],
        "loss": t["loss"],
        "backward_elementwise": t["blocks' backward"] - t["products in the blocks' backward"],
        "optimizer": t["optimizer"],
        "gather": t["gather"],
    }
    return _with_rest(rows, t["whole step"]) | {"dropout_masks": t["dropout masks"],              # part of forward
                                                "dropout_masks_from_float64": t["dropout masks from float64 draws"]}


def summarize_layers(t: dict[str, float]) -> dict[str, float]:
    """The layer path's parts; its Linear layers do the same matrix products as the fused step (and add biases)."""
    rows = {"linear": t["Linear forward and backward"]}
    for kind in ("BatchNorm", "ReLU", "Dropout"):
        rows[f"{kind.lower()}_forward"] = t[f"{kind} forward"]
        rows[f"{kind.lower()}_backward"] = t[f"{kind} forward and backward"] - t[f"{kind} forward"]
    rows |= {"loss": t["loss"], "optimizer": t["optimizer"], "gather": t["gather"]}
    return _with_rest(rows, t["whole step"])


def _with_rest(rows: dict[str, float], whole: float) -> dict[str, float]:
    """The parts, the rest of the step (Python, and what the parts timed alone do not show) and the whole."""
    return rows | {"rest": whole - sum(rows.values()), "step": whole}


if __name__ == "__main__":
    main()

"""The reference run's figures that the docs quote, computed from run folders, written as JSON.

    for s in 0 1 2; do glassnet train --seed $s --out runs/seed$s; done
    python docs/figures/make_figures.py runs/seed0 runs/seed1 runs/seed2 --data-dir ../shared/data/mnist

writes docs/figures/reference-run.json and, from the first run, the plots of docs/assets/. Pages
quote the JSON as ``{fig:reference-run/KEY:FORMAT}``, which docs/hooks.py fills in at build time,
so no figure about the model's behaviour is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.checkpoint import load_model, read_checkpoint
from glassnet.config import TrainConfig
from glassnet.data.mnist import load_mnist, to_inputs
from glassnet.nn.layers import Dropout, Linear
from glassnet.nn.losses import log_softmax
from glassnet.nn.model import Sequential
from glassnet.train import initial_model

HERE = Path(__file__).parent
PLOTS = ("learning_curves", "confusion_matrix", "per_class_f1", "misclassified", "first_layer_weights")


def _run_figures(run: Path) -> dict[str, Any]:
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    test = metrics["test"]
    f1 = {label: row["f1"] for label, row in test["per_class"].items()}
    losses = [epoch["eval_loss"] for epoch in history]
    return {"accuracy": test["accuracy"], "precision": test["macro"]["precision"], "recall": test["macro"]["recall"],
            "f1": test["macro"]["f1"], "seconds": metrics["wall_seconds"],
            "best_class": max(f1, key=f1.__getitem__), "best_f1": max(f1.values()),
            "hardest_class": min(f1, key=f1.__getitem__), "hardest_f1": min(f1.values()),
            "per_class_f1": f1, "lowest_test_loss_epoch": int(np.argmin(losses)) + 1,
            "final_train_loss": history[-1]["train_loss"], "final_test_loss": losses[-1],
            "confusion": test["confusion_matrix"]}


def _loss_and_accuracy(model: Sequential, x: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    logits = model.infer(x)
    return float(-log_softmax(logits.astype(np.float64))[np.arange(len(labels)), labels].mean()), \
        float((logits.argmax(axis=1) == labels).mean())


def _dropout_scale(model: Sequential, x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Test figures as trained (inverted dropout: identity at inference) and with the test-time scale wrong
    by 1/(1 − p): what a network trained with dropout sees when the scaling is forgotten once."""
    loss, accuracy = _loss_and_accuracy(model, x, labels)
    scaled = Sequential([_Scale(1.0 / (1.0 - layer.p)) if isinstance(layer, Dropout) else layer
                         for layer in model.layers])
    wrong_loss, wrong_accuracy = _loss_and_accuracy(scaled, x, labels)
    probabilities = np.exp(log_softmax(scaled.infer(x).astype(np.float64))).max(axis=1)
    right = np.exp(log_softmax(model.infer(x).astype(np.float64))).max(axis=1)
    return {"accuracy": accuracy, "loss": loss, "wrong_accuracy": wrong_accuracy, "wrong_loss": wrong_loss,
            "loss_increase": wrong_loss / loss - 1, "confidence": float(right.mean()),
            "wrong_confidence": float(probabilities.mean())}


class _Scale:
    """Multiplies by a constant: the forgotten test-time scaling of dropout."""

    def __init__(self, factor: float) -> None:
        self.factor, self.training = factor, False

    def params(self) -> list[Any]:
        return []

    def buffers(self) -> dict[str, Any]:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * self.factor

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.factor

    def infer(self, x: np.ndarray) -> np.ndarray:
        return x * self.factor


def _first_layer_change(model: Sequential, config: TrainConfig) -> tuple[np.ndarray, dict[str, float]]:
    """W − W₀ of the first layer (W₀ rebuilt from the run's seed) and how far W still resembles W₀."""
    w0 = next(layer for layer in initial_model(config).layers if isinstance(layer, Linear)).weight.value
    w = next(layer for layer in model.layers if isinstance(layer, Linear)).weight.value
    correlation = [float(np.corrcoef(w[:, u], w0[:, u])[0, 1]) for u in range(w.shape[1])]
    unchanged = np.all(w == w0, axis=1)                 # pixels whose weights never moved
    return w - w0, {"median_correlation_with_initial": float(np.median(correlation)),
                    "pixels_never_updated": int(unchanged.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="run folders of glassnet train --seed 0, 1, 2, …")
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    args = parser.parse_args()
    runs = {f"seed{read_checkpoint(run / 'model.npz')[0]['config']['seed']}": _run_figures(run) for run in args.runs}
    first = args.runs[0]
    model, meta = load_model(first / "model.npz")
    config = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
    mnist = load_mnist(args.data_dir, download=False)
    x, labels = to_inputs(mnist.test_images), mnist.test_labels.astype(np.intp)
    change, resemblance = _first_layer_change(model, config)
    accuracies = [run["accuracy"] for run in runs.values()]
    confusion = np.array(runs[next(iter(runs))]["confusion"])
    off = [(int(confusion[t, p]), t, p) for t in range(10) for p in range(10) if t != p]
    figures = {"runs": runs, "mean_accuracy": statistics.mean(accuracies),
               "sd_accuracy": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
               "top_confusions": [{"true": t, "predicted": p, "count": c} for c, t, p in sorted(off, reverse=True)[:6]],
               "dropout_scale": _dropout_scale(model, x, labels), "first_layer": resemblance,
               "command": "glassnet train --seed S --out runs/seedS, then python docs/figures/make_figures.py "
                          + " ".join(f"runs/{run.name}" for run in args.runs)}
    (HERE / "reference-run.json").write_text(json.dumps(figures, indent=1) + "\n")
    assets = HERE.parent / "assets"
    for name in PLOTS:
        shutil.copyfile(first / f"{name}.png", assets / f"{name}.png")
    from glassnet.report.plots import first_layer_weights

    first_layer_weights(change, assets / "first_layer_change.png",
                        title="What training changed in the first layer: W − W₀ of {n} units")
    print(f"wrote {HERE / 'reference-run.json'} and {len(PLOTS) + 1} plots in {assets}")


if __name__ == "__main__":
    main()

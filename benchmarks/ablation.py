"""Ablation for the ``best`` preset: each ingredient added in turn, scored on the validation split.

    python benchmarks/ablation.py [--epochs 15] [--seed 0] [--json benchmarks/results/ablation.json]

Every row trains on the first 50,000 training images and reports accuracy on
the last 10,000 (the validation split); the test set is never looked at.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from glassnet.config import TrainConfig
from glassnet.data.mnist import load_mnist
from glassnet.train import TrainData, fit

STEPS: list[tuple[str, dict[str, object]]] = [
    ("reference recipe (784-256-128-10)", {}),
    ("+ wider: 784-1024-1024-10", {"hidden": (1024, 1024)}),
    ("+ affine augmentation (±10°, ±10%, ±2 px)", {"augment_rotation": 10.0, "augment_scale": 0.1,
                                                  "augment_shift": 2.0}),
    ("+ elastic distortion (α 20, σ 4)", {"elastic_alpha": 20.0}),
    ("+ cosine schedule, 1 warm-up epoch", {"schedule": "cosine", "warmup_epochs": 1}),
    ("+ label smoothing 0.1", {"label_smoothing": 0.1}),
    ("+ decoupled weight decay 0.01 (AdamW)", {"weight_decay": 0.01}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    mnist = load_mnist(args.data_dir, download=False)
    pixels = mnist.train_images.reshape(60000, 784)
    data = TrainData(pixels[:50000], mnist.train_labels[:50000], pixels[50000:], mnist.train_labels[50000:],
                     "validation")
    config = TrainConfig(epochs=args.epochs, seed=args.seed, validation_size=10000)
    rows = []
    print(f"{'ingredient':<46}{'val acc':>9}{'best epoch acc':>16}{'s/epoch':>9}", flush=True)
    for name, change in STEPS:
        config = dataclasses.replace(config, **change)
        started = time.perf_counter()
        history = fit(config, data).history
        seconds = (time.perf_counter() - started) / len(history)
        final, best = history[-1].eval_accuracy, max(s.eval_accuracy for s in history)
        rows.append({"ingredient": name, "final_val_accuracy": final, "best_val_accuracy": best,
                     "seconds_per_epoch": seconds, "config": config.to_dict()})
        print(f"{name:<46}{final:>9.2%}{best:>16.2%}{seconds:>9.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Does ``glassnet predict`` read MNIST's own test digits as well as the model does? Preprocessing
meant for photos and drawings must leave a digit already in MNIST form (nearly) alone.

    python benchmarks/bench_preprocess.py --data-dir ../shared/data/mnist [--model demo] \\
        [--json docs/figures/preprocess.json]

Saves the 10,000 test digits with ``np.save`` (uint8, (10000, 28, 28)), runs
``glassnet predict MODEL digits.npy --json`` and ``glassnet evaluate MODEL --json`` as commands, and
compares their accuracies, and predict's answers with the model's own on the unprocessed digits.
Then, digit by digit, the mean absolute pixel change (pixels in [0, 1]) between each test digit and
what the preprocessing makes of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.checkpoint import load_model
from glassnet.cli.common import model_path
from glassnet.data.mnist import load_mnist, to_inputs
from glassnet.data.preprocess import preprocess_digit


def glassnet(*args: str) -> list[Any]:
    """The JSON lines that ``glassnet ARGS`` prints."""
    done = subprocess.run([sys.executable, "-m", "glassnet", *args], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="MNIST folder")
    parser.add_argument("--model", type=Path, default=Path("demo"), help="a model file, run folder or 'demo'")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    mnist = load_mnist(args.data_dir, download=False)
    digits, labels = mnist.test_images, mnist.test_labels
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digits.npy"
        np.save(path, digits)
        answers = np.array([row["prediction"] for row in glassnet("predict", str(args.model), str(path), "--json")])
    [evaluated] = glassnet("evaluate", str(args.model), "--data-dir", args.data_dir, "--no-download", "--json")
    model, _ = load_model(model_path(args.model))
    changed = int((answers != model.predict(to_inputs(digits.reshape(len(digits), 784)))).sum())
    change = np.array([np.abs(preprocess_digit(d) - d / np.float32(255)).mean() for d in digits])
    predict_accuracy = float((answers == labels).mean())
    result = {
        "model": str(args.model), "digits": len(digits),
        "evaluate_accuracy": evaluated["accuracy"], "predict_accuracy": predict_accuracy,
        "difference_points": 100 * (predict_accuracy - evaluated["accuracy"]), "answers_changed": changed,
        "pixel_change": {"mean": float(change.mean()), "median": float(np.median(change)),
                         "p99": float(np.percentile(change, 99)), "max": float(change.max()),
                         "share_under_0_01": float((change < 0.01).mean())},
        "command": "python benchmarks/bench_preprocess.py --data-dir DIR --json docs/figures/preprocess.json",
    }
    print(f"{len(digits):,} test digits, model {args.model}: evaluate {evaluated['accuracy']:.2%}, "
          f"predict on the saved array {predict_accuracy:.2%} ({result['difference_points']:+.2f} points; "
          f"{changed} answers differ from the model's own)")
    print("mean absolute pixel change per digit: "
          + ", ".join(f"{k} {v:.5f}" for k, v in result["pixel_change"].items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""glassnet's MLPClassifier against scikit-learn's, side by side in one process: accuracy and fit time.

    python benchmarks/bench_sklearn.py [--repeats 3] [--epochs 50] [--json docs/figures/sklearn.json]

The same network on both sides: one hidden layer of 100 ReLU units, no batch norm, no dropout,
Adam (lr 1e-3), batches of 200, EPOCHS epochs exactly (scikit-learn: max_iter=EPOCHS, alpha=0,
tol=0 and n_iter_no_change=EPOCHS, so that neither stops early). Datasets: scikit-learn's
``load_digits`` (1,797 8×8 digits) and a synthetic ``make_classification`` (20,000 samples, 100
features, 5 classes), standardized, 75/25 train/test. The two libraries alternate, seed by seed
(random_state 0, 1, 2, …); the table gives medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler

from glassnet.sklearn import MLPClassifier as GlassnetMLP


def datasets():
    digits = load_digits(return_X_y=True)
    synthetic = make_classification(n_samples=20000, n_features=100, n_informative=30, n_classes=5,
                                    random_state=0)
    for name, (x, y) in (("load_digits", digits), ("make_classification 20000×100", synthetic)):
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
        scaler = StandardScaler().fit(x_train)
        yield name, scaler.transform(x_train), scaler.transform(x_test), y_train, y_test


def models(epochs: int, seed: int):
    yield "glassnet", GlassnetMLP(hidden=(100,), batchnorm=False, epochs=epochs, batch_size=200, lr=1e-3,
                                  random_state=seed)
    yield "scikit-learn", SklearnMLP(hidden_layer_sizes=(100,), solver="adam", batch_size=200,
                                     learning_rate_init=1e-3, max_iter=epochs, alpha=0.0, tol=0.0,
                                     n_iter_no_change=epochs, random_state=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    for name, x_train, x_test, y_train, y_test in datasets():
        runs: dict[str, dict[str, list[float]]] = {}
        for seed in range(args.repeats):
            for library, model in models(args.epochs, seed):
                started = time.perf_counter()
                model.fit(x_train, y_train)
                seconds = time.perf_counter() - started
                run = runs.setdefault(library, {"seconds": [], "accuracy": []})
                run["seconds"].append(seconds)
                run["accuracy"].append(float(model.score(x_test, y_test)))
        for library, run in runs.items():
            rows.append({"dataset": name, "library": library, "n_train": len(x_train), "epochs": args.epochs,
                         "fit_seconds": statistics.median(run["seconds"]),
                         "test_accuracy": statistics.median(run["accuracy"]), "all": run})
    print(f"{'dataset':<32}{'library':<14}{'test accuracy':>14}{'fit time':>10}")
    for row in rows:
        print(f"{row['dataset']:<32}{row['library']:<14}{row['test_accuracy']:>14.2%}{row['fit_seconds']:>9.2f}s")
    if args.json:
        args.json.write_text(json.dumps({"repeats": args.repeats, "epochs": args.epochs, "rows": rows}, indent=1)
                             + "\n")


if __name__ == "__main__":
    main()

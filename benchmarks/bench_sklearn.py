"""glassnet's MLPClassifier beside scikit-learn's and a logistic regression: 5-fold accuracy on small tabular data.

    python benchmarks/bench_sklearn.py [--seeds 3] [--epochs 200] [--json docs/figures/sklearn.json]

Data: scikit-learn's ``load_digits``, ``load_breast_cancer``, ``load_wine``, ``load_iris`` and
``make_moons`` (500 samples, noise 0.3). Every model is ``Pipeline(StandardScaler(), model)``, scored
on the same five folds (``StratifiedKFold(5, shuffle=True, random_state=0)``), in one process, one
model after another on each fold. The networks, seeds 0, 1, … (``--seeds`` of them):

- glassnet: one hidden layer of 100 ReLU units, as scikit-learn's network: Glorot-uniform initial
  weights, no batch norm, Adam at a constant 10⁻³, batches of 200, EPOCHS epochs exactly;
- glassnet's defaults: the same with He-normal weights and batch norm (``MLPClassifier(hidden=(100,))``);
- scikit-learn: ``MLPClassifier(hidden_layer_sizes=(100,))`` with ``max_iter=EPOCHS``, ``alpha=0``,
  ``tol=0`` and ``n_iter_no_change=EPOCHS``, so that it runs EPOCHS epochs exactly too.

``LogisticRegression(max_iter=1000)`` is deterministic and runs once per fold. Accuracy: the mean
over seeds of the mean over folds; fit time: the median over every fit of one model on one data set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from glassnet.sklearn import MLPClassifier as GlassnetMLP

FOLDS = 5


def datasets() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    for load in (load_digits, load_breast_cancer, load_wine, load_iris):
        x, y = load(return_X_y=True)
        yield load.__name__, x, y
    yield "make_moons", *make_moons(n_samples=500, noise=0.3, random_state=0)


def models(epochs: int) -> dict[str, tuple[Callable[[int], ClassifierMixin], bool]]:
    """Each model by name: how to build it for a seed, and whether it depends on the seed."""
    return {
        "glassnet": (lambda seed: GlassnetMLP(hidden=(100,), init="glorot_uniform", batchnorm=False, epochs=epochs,
                                              batch_size=200, lr=1e-3, schedule="constant", random_state=seed), True),
        "glassnet_defaults": (lambda seed: GlassnetMLP(hidden=(100,), epochs=epochs, random_state=seed), True),
        "scikit_learn": (lambda seed: SklearnMLP(hidden_layer_sizes=(100,), batch_size=200, learning_rate_init=1e-3,
                                                 max_iter=epochs, alpha=0.0, tol=0.0, n_iter_no_change=epochs,
                                                 random_state=seed), True),
        "logistic_regression": (lambda seed: LogisticRegression(max_iter=1000), False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    results: dict[str, dict[str, Any]] = {}
    for name, x, y in datasets():
        runs: dict[str, dict[str, list[float]]] = {}
        for train, test in folds.split(x, y):
            for library, (build, seeded) in models(args.epochs).items():
                for seed in range(args.seeds if seeded else 1):
                    model = make_pipeline(StandardScaler(), build(seed))
                    started = time.perf_counter()
                    model.fit(x[train], y[train])
                    seconds = time.perf_counter() - started
                    run = runs.setdefault(library, {"seconds": [], "accuracy": []})
                    run["seconds"].append(seconds)
                    run["accuracy"].append(float(model.score(x[test], y[test])))
        results[name] = {"n_samples": len(y), "n_features": x.shape[1], "n_classes": len(np.unique(y))}
        for library, run in runs.items():
            results[name][library] = {"accuracy": statistics.fmean(run["accuracy"]),
                                      "fit_seconds": statistics.median(run["seconds"]), "all": run}
    libraries = list(models(args.epochs))
    print(f"{'data':<20}" + "".join(f"{library:>22}" for library in libraries))
    for name, row in results.items():
        print(f"{name:<20}" + "".join(f"{row[library]['accuracy']:>14.2%} {row[library]['fit_seconds']:>6.2f}s"
                                      for library in libraries))
    if args.json:
        args.json.write_text(json.dumps({"seeds": args.seeds, "folds": FOLDS, "epochs": args.epochs,
                                         "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()

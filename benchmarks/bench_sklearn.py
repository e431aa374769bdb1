"""glassnet's MLPClassifier beside scikit-learn's and a logistic regression: 5-fold accuracy on small tabular data.

    python benchmarks/bench_sklearn.py [--seeds 3] [--epochs 200] [--json docs/figures/sklearn.json]

Data: scikit-learn's ``load_digits``, ``load_breast_cancer``, ``load_wine``, ``load_iris`` and
``make_moons`` (500 samples, noise 0.3). Every model is ``Pipeline(StandardScaler(), model)``, scored
on the same five folds (``StratifiedKFold(5, shuffle=True, random_state=0)``), in one process, one
model after another. The networks, seeds 0, 1, … (``--seeds`` of them) on each fold:

- glassnet: one hidden layer of 100 ReLU units, as scikit-learn's network: Glorot-uniform initial
  weights, no batch norm, Adam at a constant 10⁻³, batches of 200, EPOCHS epochs exactly;
- glassnet's defaults: the same with He-normal weights and batch norm (``MLPClassifier(hidden=(100,))``);
- scikit-learn: ``MLPClassifier(hidden_layer_sizes=(100,))`` (Adam at 10⁻³, batches of 200 or all the
  data when fewer) with ``max_iter=EPOCHS``, ``alpha=0``, ``tol=0`` and ``n_iter_no_change=EPOCHS``, so
  that it runs EPOCHS epochs exactly too.

``LogisticRegression(max_iter=1000)`` is deterministic and runs once per fold. Accuracy: the mean
over seeds of the mean over folds; fit time: the median over every fit of one model on one data set.
On ``load_iris`` alone, glassnet also runs each combination of initial weights (He normal, Glorot
uniform), batch norm (on, off) and schedule (constant, and ``glassnet train``'s step decay), on the same
folds and seeds: what separates glassnet's defaults from scikit-learn's network there.
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
        "scikit_learn": (lambda seed: SklearnMLP(hidden_layer_sizes=(100,), learning_rate_init=1e-3,
                                                 max_iter=epochs, alpha=0.0, tol=0.0, n_iter_no_change=epochs,
                                                 random_state=seed), True),
        "logistic_regression": (lambda seed: LogisticRegression(max_iter=1000), False),
    }


def iris_variants(epochs: int) -> dict[str, tuple[Callable[[int], ClassifierMixin], bool]]:
    """glassnet on load_iris with each initialization, with and without batch norm, under each schedule."""
    return {f"{init}_{'batchnorm' if batchnorm else 'no_batchnorm'}_{schedule}":
            (lambda seed, init=init, batchnorm=batchnorm, schedule=schedule:
             GlassnetMLP(hidden=(100,), init=init, batchnorm=batchnorm, schedule=schedule, epochs=epochs,
                         random_state=seed), True)
            for init in ("he_normal", "glorot_uniform") for batchnorm in (True, False)
            for schedule in ("constant", "step")}


def score(build: Callable[[int], ClassifierMixin], seeded: bool, seeds: int, x: np.ndarray, y: np.ndarray,
          splits: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The model's test accuracy and fit time on every fold, for every seed."""
    run: dict[str, list[float]] = {"seconds": [], "accuracy": []}
    for train, test in splits:
        for seed in range(seeds if seeded else 1):
            model = make_pipeline(StandardScaler(), build(seed))
            started = time.perf_counter()
            model.fit(x[train], y[train])
            run["seconds"].append(time.perf_counter() - started)
            run["accuracy"].append(float(model.score(x[test], y[test])))
    return {"accuracy": statistics.fmean(run["accuracy"]), "fit_seconds": statistics.median(run["seconds"]),
            "all": run}


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
        splits = list(folds.split(x, y))
        results[name] = {"n_samples": len(y), "n_features": x.shape[1], "n_classes": len(np.unique(y))}
        for library, (build, seeded) in models(args.epochs).items():
            results[name][library] = score(build, seeded, args.seeds, x, y, splits)
        if name == "load_iris":
            results[name]["glassnet_variants"] = {variant: score(build, seeded, args.seeds, x, y, splits)
                                                  for variant, (build, seeded) in iris_variants(args.epochs).items()}
    libraries = list(models(args.epochs))
    print(f"{'data':<20}" + "".join(f"{library:>22}" for library in libraries))
    for name, row in results.items():
        print(f"{name:<20}" + "".join(f"{row[library]['accuracy']:>14.2%} {row[library]['fit_seconds']:>6.2f}s"
                                      for library in libraries))
    for variant, row in results["load_iris"]["glassnet_variants"].items():
        print(f"load_iris, glassnet {variant:<38}{row['accuracy']:>8.2%}")
    if args.json:
        args.json.write_text(json.dumps({"seeds": args.seeds, "folds": FOLDS, "epochs": args.epochs,
                                         "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()

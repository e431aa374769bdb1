"""What each activation does to the reference recipe: full runs over three seeds, for docs/derivations/activations.md.

    python benchmarks/activations.py --data-dir ../shared/data/mnist --out runs/activations \\
        --json docs/figures/activations.json [--seeds 0 1 2]

For every activation in ``nn.layers.ACTIVATIONS`` and every seed, ``glassnet train --activation A
--seed S`` runs the reference recipe (50 epochs; He initialization, batch norm and dropout as for
ReLU) into OUT/A-seedS (``reference_runs``: finished runs are read, not trained again). Only the
activation changes, so the table shows what it alone costs or buys on this recipe; the results
record which BLAS kernels ran.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_train import blas_info
from reference_runs import finished_run, summary

from glassnet.nn.layers import ACTIVATIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--out", type=Path, default=Path("runs/activations"), help="where the run folders go")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    runs = {name: {f"seed{seed}": finished_run(args.out / f"{name}-seed{seed}",
                                               ["--activation", name, "--seed", str(seed)], args.data_dir)
                   for seed in args.seeds} for name in ACTIVATIONS}
    accuracy = {name: summary([r["accuracy"] for r in runs[name].values()]) for name in ACTIVATIONS}
    f1 = {name: summary([r["f1"] for r in runs[name].values()]) for name in ACTIVATIONS}
    result = {"seeds": args.seeds, **blas_info(), "runs": runs, "accuracy": accuracy, "f1": f1,
              "command": "python benchmarks/activations.py --data-dir DIR --out runs/activations --json FILE"}
    print(f"{'activation':<12}" + "".join(f"{seed:>10}" for seed in runs["relu"]) + f"{'mean':>10}{'sd':>8}")
    for name in ACTIVATIONS:
        print(f"{name:<12}" + "".join(f"{r['accuracy']:>10.2%}" for r in runs[name].values())
              + f"{accuracy[name]['mean']:>10.2%}{accuracy[name]['sd']:>8.2%}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

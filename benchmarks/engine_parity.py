"""Do the two training paths reach the same accuracy? Full reference runs with each, seed by seed.

    python benchmarks/engine_parity.py --data-dir ../shared/data/mnist --out runs/parity \\
        --json docs/figures/engine-parity.json [--seeds 0 1 2 3 4]

For every seed, ``glassnet train --seed S --engine E`` runs the reference recipe (50 epochs) once
with the fused step (``fast``, what ``fit`` runs) and once layer by layer (``layers``, the path the
derivations teach), each into OUT/E-seedS (``reference_runs``: finished runs are read, not trained
again). The two paths compute the
same numbers in a different order, so in float32 they round differently and their runs drift apart
over 23,450 steps: what must agree is the accuracy, within the spread that the seed alone causes.
For the same reason a run depends on the BLAS kernels that compute its matrix products; the results
record which ones ran (``blas``, and the OPENBLAS_* settings that choose them).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from bench_train import blas_info
from reference_runs import finished_run, summary

ENGINES = ("fast", "layers")


def run(engine: str, seed: int, out: Path, data_dir: str | None) -> dict[str, Any]:
    return finished_run(out / f"{engine}-seed{seed}", ["--seed", str(seed), "--engine", engine], data_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--out", type=Path, default=Path("runs/parity"), help="where the run folders go")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    runs = {engine: {f"seed{seed}": run(engine, seed, args.out, args.data_dir) for seed in args.seeds}
            for engine in ENGINES}
    accuracy = {engine: summary([r["accuracy"] for r in runs[engine].values()]) for engine in ENGINES}
    differences = [runs["fast"][s]["accuracy"] - runs["layers"][s]["accuracy"] for s in runs["fast"]]
    result = {"seeds": args.seeds, **blas_info(), "runs": runs, "accuracy": accuracy,
              "difference": {"mean": statistics.mean(differences), "largest": max(differences, key=abs)},
              "command": "python benchmarks/engine_parity.py --data-dir DIR --out runs/parity --json FILE"}
    print(f"{'seed':<8}" + "".join(f"{engine:>10}" for engine in ENGINES))
    for seed in runs["fast"]:
        print(f"{seed:<8}" + "".join(f"{runs[engine][seed]['accuracy']:>10.2%}" for engine in ENGINES))
    print(f"{'mean':<8}" + "".join(f"{accuracy[engine]['mean']:>10.2%}" for engine in ENGINES))
    print(f"{'sd':<8}" + "".join(f"{accuracy[engine]['sd']:>10.2%}" for engine in ENGINES))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Stabilisers and schedules on the reference recipe, for docs/practice.md: full runs, and the range test.

    python benchmarks/stabilisers.py --data-dir ../shared/data/mnist --out runs/stabilisers \\
        --json docs/figures/stabilisers.json [--seeds 0] [--epochs 50]

Each run is ``glassnet train`` with one change to the reference recipe (``--epochs`` E of it, 50 by default),
into OUT/NAME-eE-seedS (``reference_runs``: finished runs are read, not trained again, stopped ones resumed):

- reference: the recipe itself; clip: ``--clip-grad-norm 1``; one_cycle: ``--schedule one_cycle`` (peak
  lr = the recipe's 1e-3, fastai's default), and one_cycle_found: peaking at the range test's suggestion;
- holdout: ``--validation-size 10000``, the recipe trained on 50,000 images with 10,000 held out, and
  plateau: the same with ``--plateau-patience 2`` (reduce-on-plateau watches a validation split, so it is
  compared with this run, not with the reference).

Every run is tested on the 10,000 test images. First ``glassnet lr-find`` (its defaults: 100 steps from
1e-7 to 10) runs on the reference network into OUT/lr-find-seedS.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench_train import blas_info
from reference_runs import finished_run, summary

from glassnet.checkpoint import CHECKPOINT_NAME, read_checkpoint

RUNS = {
    "reference": [],
    "clip": ["--clip-grad-norm", "1"],
    "one_cycle": ["--schedule", "one_cycle"],
    "holdout": ["--validation-size", "10000"],
    "plateau": ["--validation-size", "10000", "--plateau-patience", "2"],
}


def run_figures(folder: Path, flags: list[str], data_dir: str | None) -> dict[str, Any]:
    """The test figures of a finished run; from its history the lowest evaluation loss, its epoch and the last
    epoch's rate; from its checkpoint the reductions reduce-on-plateau made (0 when it was off)."""
    figures = finished_run(folder, flags, data_dir)
    history = json.loads((folder / "history.json").read_text())
    losses = [epoch["eval_loss"] for epoch in history]
    plateau = read_checkpoint(folder / CHECKPOINT_NAME)[0].get("plateau") or {"reductions": 0}
    return figures | {"lowest_eval_loss": min(losses), "lowest_eval_loss_epoch": losses.index(min(losses)) + 1,
                      "final_eval_loss": losses[-1], "final_lr": history[-1]["lr"],
                      "plateau_reductions": plateau["reductions"]}


def range_test(folder: Path, seed: int, data_dir: str | None) -> dict[str, Any]:
    """``glassnet lr-find`` on the reference network (its readings), run unless ``folder`` holds them."""
    if not (folder / "lr_find.json").exists():
        data = ["--data-dir", data_dir] if data_dir else []
        subprocess.run([sys.executable, "-m", "glassnet", "lr-find", "--seed", str(seed), "--quiet",
                        "--out", str(folder), *data], check=True, stdout=subprocess.DEVNULL)
    found = json.loads((folder / "lr_find.json").read_text())
    with open(folder / "lr_find.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    raw_lowest = min(rows, key=lambda row: float(row["loss"]))
    smoothed_lowest = min(rows, key=lambda row: float(row["smoothed_loss"]))
    return {key: found[key] for key in ("suggestion", "rule", "min_over_ten", "steps", "stop_reason")} | {
        "raw_lowest_lr": float(raw_lowest["lr"]), "smoothed_lowest_lr": float(smoothed_lowest["lr"]),
        "suggestion_over_reference_lr": found["suggestion"] / found["config"]["lr"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--out", type=Path, default=Path("runs/stabilisers"), help="where the run folders go")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=50, help="epochs of every run (the recipe's: 50)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    found = {f"seed{seed}": range_test(args.out / f"lr-find-seed{seed}", seed, args.data_dir) for seed in args.seeds}
    flags = {name: {seed: [*change, "--epochs", str(args.epochs), "--seed", str(seed)] for seed in args.seeds}
             for name, change in RUNS.items()}
    flags["one_cycle_found"] = {seed: ["--schedule", "one_cycle", "--lr", f"{found[f'seed{seed}']['suggestion']:.2g}",
                                       "--epochs", str(args.epochs), "--seed", str(seed)] for seed in args.seeds}
    runs = {name: {f"seed{seed}": run_figures(args.out / f"{name.replace('_', '-')}-e{args.epochs}-seed{seed}",
                                              flags[name][seed], args.data_dir)
                   for seed in args.seeds} for name in flags}
    accuracy = {name: summary([r["accuracy"] for r in runs[name].values()]) for name in runs}
    gain = {name: accuracy[name]["mean"] - accuracy["holdout" if name == "plateau" else "reference"]["mean"]
            for name in runs if name not in ("reference", "holdout")}
    result = {"epochs": args.epochs, "seeds": args.seeds, **blas_info(), "runs": runs, "accuracy": accuracy,
              "gain": gain, "lr_find": found,
              "one_cycle_found_lr": {f"seed{seed}": float(flags["one_cycle_found"][seed][3]) for seed in args.seeds},
              "command": f"python benchmarks/stabilisers.py --data-dir DIR --out runs/stabilisers --epochs "
                         f"{args.epochs} --seeds {' '.join(map(str, args.seeds))} --json FILE"}
    print(f"{'run':<16}" + "".join(f"{seed:>10}" for seed in runs["reference"]) + f"{'mean':>10}{'sd':>8}")
    for name in runs:
        print(f"{name:<16}" + "".join(f"{r['accuracy']:>10.2%}" for r in runs[name].values())
              + f"{accuracy[name]['mean']:>10.2%}{accuracy[name]['sd']:>8.2%}")
    for seed, reading in found.items():
        print(f"lr-find {seed}: suggested {reading['suggestion']:.2e} ({reading['rule']}); minimum over ten "
              f"{reading['min_over_ten']:.2e}; lowest raw loss at {reading['raw_lowest_lr']:.2e}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""The sweep of docs/sweeps.md, run twice on this machine: one worker with all cores, then N workers sharing
them. Writes the figures the page quotes (docs/figures/sweep.json) and copies the report's plots of the
first run to docs/assets/sweep/.

    python benchmarks/bench_sweep.py --data-dir ../shared/data/mnist

Each run is a fresh ``glassnet sweep`` in its own process and folder (under --work, default a
temporary folder), timed from start to exit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from glassnet.sweep.local import available_cores
from glassnet.sweep.report import best_trial, table_text, trial_rows
from glassnet.sweep.spec import load_spec
from glassnet.sweep.storage import local_url
from glassnet.sweep.study import load_study

ROOT = Path(__file__).parents[1]
SPEC = ROOT / "examples" / "sweeps" / "lr-dropout-width.toml"


def run(spec: Path, folder: Path, workers: int, data_dir: str | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "glassnet", "sweep", str(spec), "--out", str(folder), "--workers", str(workers)]
    command += ["--data-dir", data_dir] if data_dir else []
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    study, loaded = load_study(local_url(folder), load_spec(spec).name)
    trials = study.get_trials()
    best = best_trial(study)
    assert best is not None
    states = [t.state.name.lower() for t in trials]
    epochs = sum(t.user_attrs.get("epochs", 0) for t in trials)
    return {"workers": workers, "wall_seconds": seconds, "trials": len(trials),
            "complete": states.count("complete"), "pruned": states.count("pruned"), "failed": states.count("fail"),
            "epochs_trained": epochs, "epochs_per_minute": 60 * epochs / seconds,
            "epochs_budget": len(trials) * loaded.base.epochs,
            "best": {"number": best.number, "value": best.value,
                     "params": {k: json.loads(v) if isinstance(v, str) else v for k, v in best.params.items()}},
            "table": table_text(trial_rows(study, loaded), [d.field for d in loaded.space])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--workers", type=int, default=2, help="workers of the second run (default 2)")
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--work", type=Path, help="where the two sweep folders go (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "figures" / "sweep.json")
    parser.add_argument("--plots", type=Path, default=ROOT / "docs" / "assets" / "sweep")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="glassnet-sweep-"))
    results = {"spec": str(args.spec.relative_to(ROOT)) if args.spec.is_relative_to(ROOT) else str(args.spec),
               "cores": available_cores()}
    for workers in (1, args.workers):
        folder = work / f"workers-{workers}"
        results[f"workers_{workers}"] = run(args.spec, folder, workers, args.data_dir)
        print(json.dumps({k: v for k, v in results[f"workers_{workers}"].items() if k != "table"}), flush=True)
    one, many = results["workers_1"], results[f"workers_{args.workers}"]
    results["speedup"] = one["wall_seconds"] / many["wall_seconds"]
    results["throughput_ratio"] = many["epochs_per_minute"] / one["epochs_per_minute"]
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    args.plots.mkdir(parents=True, exist_ok=True)
    for png in (work / "workers-1" / "plots").glob("*.png"):
        shutil.copy(png, args.plots / png.name)
    print(f"wrote {args.json} and {args.plots}/; the sweep folders are in {work}")


if __name__ == "__main__":
    main()

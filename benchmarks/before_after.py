"""bench_train.py of an earlier commit and of this tree, in turn, on the same machine: is anything slower?

    python benchmarks/before_after.py --ref 20c8a99 [--data-dir DIR] [--rounds 2] [--json FILE]

Extracts the commit ``--ref`` (``git archive``) into a temporary folder and runs its
``benchmarks/bench_train.py`` and this tree's, alternately (before, after, before, after, …), each in
its own process at batch 128 with 3 timed epochs; prints the medians over the rounds side by side,
with the ratio after / before (below 1: faster now).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {  # key: (label, where in bench_train's JSON)
    "train_glassnet_s": ("training epoch, glassnet (s)", ("training", 0, "glassnet_s")),
    "train_layers_s": ("training epoch, layer by layer (s)", ("training", 0, "layers_s")),
    "train_torch_s": ("training epoch, PyTorch (s)", ("training", 0, "torch_s")),
    "one_image_layers_us": ("one image, layers (µs)", ("inference", None, "glassnet_one_image_us")),
    "one_image_folded_us": ("one image, folded (µs)", ("inference", None, "folded_one_image_us")),
    "batch128_layers_s_per_million": ("batch 128, layers (s per 1M images)",
                                      ("inference", None, "glassnet_batch128_per_s")),
    "batch128_folded_s_per_million": ("batch 128, folded (s per 1M images)",
                                      ("inference", None, "folded_batch128_per_s")),
    "test_set_layers_s": ("10,000 test images, layers (s)", ("inference", None, "glassnet_test_set_s")),
    "test_set_folded_s": ("10,000 test images, folded (s)", ("inference", None, "folded_test_set_s"))}


def figure(result: dict, where: tuple) -> float:  # type: ignore[type-arg]
    section, index, key = where
    value = result[section][index][key] if index is not None else result[section][key]
    return 1e6 / value if key.endswith("per_s") else value      # throughput as time, so that lower is better


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, help="the earlier commit")
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        before = Path(temporary) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        runs: dict[str, list[dict]] = {"before": [], "after": []}  # type: ignore[type-arg]
        for round_ in range(args.rounds):
            for side, root in (("before", before), ("after", ROOT)):
                out = Path(temporary) / f"{side}-{round_}.json"
                command = [sys.executable, str(root / "benchmarks" / "bench_train.py"), "--batch-sizes", "128",
                           "--epochs", "3", "--json", str(out)]
                command += ["--data-dir", args.data_dir] if args.data_dir else []
                subprocess.run(command, check=True, env=os.environ | {"PYTHONPATH": str(root / "src")},
                               stdout=subprocess.DEVNULL)
                runs[side].append(json.loads(out.read_text()))
                print(f"round {round_ + 1}: {side} done", flush=True)
    table = {}
    print(f"\n{'':<40}{'before':>12}{'after':>12}{'after/before':>14}")
    for key, (label, where) in FIGURES.items():
        old = statistics.median(figure(r, where) for r in runs["before"])
        new = statistics.median(figure(r, where) for r in runs["after"])
        table[key] = {"label": label, "before": old, "after": new, "ratio": new / old}
        print(f"{label:<40}{old:>12.4g}{new:>12.4g}{new / old:>14.2f}")
    # PyTorch's code is the same on both sides, so its epoch measures the machine's drift between runs: glassnet's
    # epoch over PyTorch's in the same run is the figure that drift does not move
    yardstick = {side: statistics.median(r["training"][0]["glassnet_s"] / r["training"][0]["torch_s"]
                                         for r in runs[side]) for side in runs}
    table["train_glassnet_over_torch"] = {"label": "training epoch, glassnet / PyTorch in the same run",
                                          "before": yardstick["before"], "after": yardstick["after"],
                                          "ratio": yardstick["after"] / yardstick["before"]}
    print(f"{table['train_glassnet_over_torch']['label']:<40}{yardstick['before']:>12.4g}{yardstick['after']:>12.4g}"
          f"{yardstick['after'] / yardstick['before']:>14.2f}")
    if args.json:
        args.json.write_text(json.dumps({"ref": args.ref, "rounds": args.rounds, "figures": table,
                                         "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()

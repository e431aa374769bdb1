"""Does the folded network predict what the layers predict? On the 10,000 MNIST test images, for each model
file named: how many predictions differ, the largest difference of a probability, and the time of each
path over the whole set (medians of alternating rounds).

    python benchmarks/fold_agreement.py demo=demo reference=runs/reference [--data-dir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from glassnet.checkpoint import load_model
from glassnet.cli.common import model_path
from glassnet.data.mnist import load_mnist, to_inputs
from glassnet.nn.kinds import fold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="NAME=MODEL", help="a name for the figures, and the model")
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    x = to_inputs(load_mnist(args.data_dir, download=False).test_images)
    result = {}
    for pair in args.models:
        name, _, path = pair.partition("=")
        model, _ = load_model(model_path(Path(path)))
        program = fold(model)
        layers, folded = model.predict_proba(x), program.predict_proba(x)
        times: dict[str, list[float]] = {"layers_s": [], "folded_s": []}
        for _ in range(args.rounds):
            for key, predict in (("layers_s", model.predict_proba), ("folded_s", program.predict_proba)):
                started = time.perf_counter()
                predict(x)
                times[key].append(time.perf_counter() - started)
        record = {"images": len(x), "predictions_differ": int(np.count_nonzero(layers.argmax(1) != folded.argmax(1))),
                  "max_probability_difference": float(np.abs(layers - folded).max())}
        result[name] = record | {k: statistics.median(v) for k, v in times.items()}
        print(name, result[name])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

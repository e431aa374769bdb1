"""The cost of --watch: the reference recipe trained with and without the diagnostics recorder, side by side.

    python benchmarks/bench_watch.py [--data-dir DIR] [--repeats 5] [--epochs 2] [--json FILE]

Each repeat trains a fresh reference model for EPOCHS epochs (batch 128, the fast engine, evaluation
after each epoch, no checkpoints), once plainly and once with the recorder that ``glassnet train
--watch`` attaches, alternating, so that the drift of a shared machine hits both. Reports the
medians and their ratio. No server runs: the recorder's own cost is what is measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

from glassnet.config import TrainConfig
from glassnet.data.batches import as_inputs, n_batches
from glassnet.data.mnist import load_mnist
from glassnet.diagnostics.record import RECORD_NAME, DiagnosticsRecorder
from glassnet.nn.layers import Linear
from glassnet.train import TrainData, fit, initial_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    mnist = load_mnist(args.data_dir, download=False)
    data = TrainData(mnist.train_images.reshape(-1, 784), mnist.train_labels, mnist.test_images.reshape(-1, 784),
                     mnist.test_labels)
    config = dataclasses.replace(TrainConfig(), epochs=args.epochs)
    first = next(layer for layer in initial_model(config).layers if isinstance(layer, Linear))
    times: dict[str, list[float]] = {"plain": [], "watch": []}
    lines = []
    for _ in range(args.repeats):
        for mode in times:
            with tempfile.TemporaryDirectory() as folder:
                callbacks = [] if mode == "plain" else [DiagnosticsRecorder(
                    Path(folder) / RECORD_NAME, as_inputs(data.x_eval, first.weight.value.dtype), data.y_eval,
                    steps_per_epoch=n_batches(len(data.x_train), config.batch_size), epochs=config.epochs,
                    initial_first_layer=first.weight.value)]
                started = time.perf_counter()
                fit(config, data, callbacks=callbacks)
                times[mode].append(time.perf_counter() - started)
                if callbacks:
                    lines.append(sum(1 for _ in open(Path(folder) / RECORD_NAME)))
    plain, watch = statistics.median(times["plain"]), statistics.median(times["watch"])
    result = {"epochs": args.epochs, "repeats": args.repeats, "plain_s": plain, "watch_s": watch,
              "overhead": watch / plain - 1, "plain_all_s": times["plain"], "watch_all_s": times["watch"],
              "record_lines": lines}
    print(f"{args.epochs} epochs of the reference recipe, median of {args.repeats} alternating repeats:\n"
          f"without the recorder {plain:.2f} s, with it {watch:.2f} s: {100 * (watch / plain - 1):+.1f}% "
          f"({statistics.median(lines):.0f} record lines per run)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

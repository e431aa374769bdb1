"""Does splitting element-wise work over two threads pay? NumPy releases the GIL inside its loops, so
two threads can each take half of an array; this measures whether that is faster here.

    python benchmarks/bench_threads.py [--data-dir DIR] [--rounds 9] [--json docs/figures/threads.json]

Alone, over float32 arrays of the reference model's 235,530 parameters, each case runs on one
thread and split in two halves (the calling thread takes one, a waiting worker thread the other):
one pass of the update's square root (its slowest), one multiplication (a cheap pass), and the
whole Adam update as ``FusedAdam`` computes it (twelve passes), and the same update right after
a first-layer matrix product (128×784 by 784×256, on both cores in OpenBLAS). Then in place: training epochs at
batch 128 with ``FusedAdam`` and with the same update split in two halves per parameter, where the
matrix products of the step run just before it. Both forms alternate in every round; the figures
are medians (microseconds alone, seconds per epoch in place).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from bench_train import GlassnetTrainer
from profile_step import median_ms

from glassnet.data.mnist import load_mnist, to_inputs
from glassnet.nn.fused import FusedAdam
from glassnet.nn.params import Array, Param

N_PARAMS = 235_530


class Arrays:
    """The arrays of one Adam update: parameters, gradient, both moments and a work array."""

    def __init__(self, value: Array, grad: Array, m: Array, v: Array, work: Array) -> None:
        self.value, self.grad, self.m, self.v, self.work = value, grad, m, v, work

    @classmethod
    def random(cls, n: int) -> Arrays:
        rng = np.random.default_rng(0)
        value, grad, m = (rng.standard_normal(n, dtype=np.float32) for _ in range(3))
        return cls(value, grad, m, np.abs(rng.standard_normal(n, dtype=np.float32)), np.empty(n, np.float32))

    def halves(self) -> tuple[Arrays, Arrays]:
        """Two views, of the first and the second half of every array (flattened)."""
        flat = [a.reshape(-1) for a in (self.value, self.grad, self.m, self.v, self.work)]
        half = len(flat[0]) // 2
        return Arrays(*(a[:half] for a in flat)), Arrays(*(a[half:] for a in flat))


def square_root(a: Arrays) -> None:
    np.sqrt(a.v, out=a.work)


def multiply(a: Arrays) -> None:
    np.multiply(a.grad, 0.1, out=a.work)


_UPDATER = FusedAdam([])                                   # its betas; the update it makes is FusedAdam.update


def adam_update(a: Arrays) -> None:
    """The passes of ``FusedAdam.step`` for one parameter (the product's own code), at α_t = 1e-3, ε̂ = 1e-8."""
    _UPDATER.update(a.value, a.grad, a.m, a.v, a.work, 1e-3, 1e-8)


class SplitAdam(FusedAdam):
    """``FusedAdam``'s update (bit for bit) with each parameter's elements in two halves, one per thread.
    The halves are views made once: valid while the fused step writes values and gradients in place."""

    def __init__(self, params: list[Param], worker: ThreadPoolExecutor) -> None:
        super().__init__(params)
        self.worker = worker
        halves = [Arrays(p.value, p.grad, m, v, work).halves()
                  for p, m, v, work in zip(params, self.m, self.v, self._scratch)]
        self.mine, self.theirs = [h[0] for h in halves], [h[1] for h in halves]

    def step(self) -> None:
        self.t += 1
        scalars = self.step_scalars()

        def update(arrays: list[Arrays]) -> None:
            for a in arrays:
                self.update(a.value, a.grad, a.m, a.v, a.work, *scalars)

        pending = self.worker.submit(update, self.theirs)
        update(self.mine)
        pending.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=5, help="alternating training epochs of each form")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    worker = ThreadPoolExecutor(max_workers=1)
    arrays = Arrays.random(N_PARAMS)
    first, second = arrays.halves()

    def split(kernel: Callable[[Arrays], None]) -> Callable[[], None]:
        def run() -> None:
            pending = worker.submit(kernel, second)
            kernel(first)
            pending.result()
        return run

    rng = np.random.default_rng(1)
    inputs, weights = rng.random((128, 784), np.float32), rng.random((784, 256), np.float32)
    product = np.empty((128, 256), np.float32)

    def after_product(update: Callable[[], None]) -> Callable[[], None]:
        """A first-layer matrix product, then the update, as in a training step (both timed)."""
        def run() -> None:
            np.matmul(inputs, weights, out=product)
            update()
        return run

    forms: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        name: (lambda k=kernel: k(arrays), split(kernel))
        for name, kernel in (("square_root", square_root), ("multiply", multiply), ("adam_update", adam_update))}
    forms["matrix_product_then_adam_update"] = (after_product(lambda: adam_update(arrays)),
                                                after_product(split(adam_update)))
    samples: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, (one, two) in forms.items():
            samples.setdefault(f"{name}.one_thread_us", []).append(1e3 * median_ms(one, args.repeats))
            samples.setdefault(f"{name}.two_threads_us", []).append(1e3 * median_ms(two, args.repeats))
    result: dict[str, object] = {"cpus": os.cpu_count(), "elements": N_PARAMS}
    for name in forms:
        one = statistics.median(samples[f"{name}.one_thread_us"])
        two = statistics.median(samples[f"{name}.two_threads_us"])
        result[name] = {"one_thread_us": one, "two_threads_us": two, "speedup": one / two}
        print(f"{name:<32} one thread {one:8.1f} µs   two threads {two:8.1f} µs   speed-up {one / two:.2f}×")

    mnist = load_mnist(args.data_dir, download=False)
    x, y = to_inputs(mnist.train_images), mnist.train_labels
    trainers = {"one_thread_s": GlassnetTrainer(128, x, y), "two_threads_s": GlassnetTrainer(128, x, y)}
    trainers["two_threads_s"].optimizer = SplitAdam(trainers["two_threads_s"].model.params(), worker)
    epochs: dict[str, list[float]] = {name: [] for name in trainers}
    for trainer in trainers.values():
        trainer.epoch()                                    # warm-up
    for _ in range(args.epochs):
        for name, trainer in trainers.items():
            epochs[name].append(trainer.epoch())
    worker.shutdown()
    in_place = {name: statistics.median(times) for name, times in epochs.items()}
    result["training_epoch"] = in_place | {"speedup": in_place["one_thread_s"] / in_place["two_threads_s"]}
    print(f"{'training epoch':<32} one thread {in_place['one_thread_s']:8.3f} s    two threads "
          f"{in_place['two_threads_s']:8.3f} s    speed-up {in_place['one_thread_s'] / in_place['two_threads_s']:.2f}×")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

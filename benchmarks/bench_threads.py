"""Does splitting element-wise work over two threads pay? NumPy releases the GIL inside its loops, so
two threads can each take half of an array; this measures whether that is faster here.

    python benchmarks/bench_threads.py [--rounds 9] [--json docs/figures/threads.json]

Over float32 arrays of the reference model's 235,530 parameters, each case runs on one thread and
split in two halves (the calling thread takes one, a waiting worker thread the other): one pass of
the update's square root (its slowest), one multiplication (a cheap pass), and the whole Adam update
as ``FusedAdam`` computes it (twelve passes). Both forms alternate in every round; the figures
are medians, in microseconds.
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
from profile_step import median_ms

N_PARAMS = 235_530


class Arrays:
    """The arrays of one Adam update: parameters, gradient, both moments and a work array."""

    def __init__(self, n: int) -> None:
        rng = np.random.default_rng(0)
        self.value, self.grad = (rng.standard_normal(n, dtype=np.float32) for _ in range(2))
        self.m = rng.standard_normal(n, dtype=np.float32)
        self.v = np.abs(rng.standard_normal(n, dtype=np.float32))
        self.work = np.empty(n, np.float32)

    def halves(self) -> tuple[Arrays, Arrays]:
        first, second = Arrays.__new__(Arrays), Arrays.__new__(Arrays)
        half = len(self.value) // 2
        for name in ("value", "grad", "m", "v", "work"):
            array = getattr(self, name)
            setattr(first, name, array[:half])
            setattr(second, name, array[half:])
        return first, second


def square_root(a: Arrays) -> None:
    np.sqrt(a.v, out=a.work)


def multiply(a: Arrays) -> None:
    np.multiply(a.grad, 0.1, out=a.work)


def adam_update(a: Arrays, beta1: float = 0.9, beta2: float = 0.999, step_size: float = 1e-3,
                eps_hat: float = 1e-8) -> None:
    """The passes of ``FusedAdam.step`` for one parameter, in its order."""
    a.m *= beta1
    a.m += np.multiply(a.grad, 1.0 - beta1, out=a.work)
    a.v *= beta2
    np.square(a.grad, out=a.work)
    a.work *= 1.0 - beta2
    a.v += a.work
    np.sqrt(a.v, out=a.work)
    a.work += eps_hat
    np.divide(a.m, a.work, out=a.work)
    a.work *= step_size
    a.value -= a.work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    arrays = Arrays(N_PARAMS)
    first, second = arrays.halves()
    worker = ThreadPoolExecutor(max_workers=1)

    def split(kernel: Callable[[Arrays], None]) -> Callable[[], None]:
        def run() -> None:
            pending = worker.submit(kernel, second)
            kernel(first)
            pending.result()
        return run

    kernels = {"square_root": square_root, "multiply": multiply, "adam_update": adam_update}
    samples: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, kernel in kernels.items():
            one = median_ms(lambda k=kernel: k(arrays), args.repeats)
            samples.setdefault(f"{name}.one_thread_us", []).append(1e3 * one)
            samples.setdefault(f"{name}.two_threads_us", []).append(1e3 * median_ms(split(kernel), args.repeats))
    worker.shutdown()
    result: dict[str, object] = {"cpus": os.cpu_count(), "elements": N_PARAMS}
    for name in kernels:
        one = statistics.median(samples[f"{name}.one_thread_us"])
        two = statistics.median(samples[f"{name}.two_threads_us"])
        result[name] = {"one_thread_us": one, "two_threads_us": two, "speedup": one / two}
        print(f"{name:<12} one thread {one:8.1f} µs   two threads {two:8.1f} µs   speed-up {one / two:.2f}×")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

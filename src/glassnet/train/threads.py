"""How many BLAS threads a training run computes on: a rule of the machine (the default), a measurement at
the run's start, or a count asked for.

At a small batch the matrix products are too small to keep many threads busy, and the element-wise
work (one thread in NumPy) is most of a step, so all the cores is not always the fastest count. The
count also changes a float32 run's bits (``nn/blas.py``), so the default must not depend on how busy
the machine is: ``automatic`` derives it from the machine alone, with no timing, so the same seed and
config on the same machine give the same count and the same run, bit for bit.

``automatic``'s rule, ``rule``: the threads the BLAS started with (the cores, or ``OPENBLAS_NUM_THREADS``,
as a sweep's worker is given its share), at most ``MOST`` (8). It rests on the reference network at
batch 128 on two machines (``docs/speed.md``): on this project's 2-core machine (AMD EPYC, OpenBLAS
0.3.31 Haswell kernels) 2 threads beat 1 (epochs of 1.09 s against 1.33 s,
``docs/figures/thread-curve.json``); on issue 30's quiet 16-core machine (Intel Xeon, OpenBLAS 0.3.34
SkylakeX kernels) the issue's epochs on 1, 2, 4, 8 and 16 threads were 1.21, 1.22, 1.26, 1.18 and
1.41 s, the three matrix products alone 0.51, 0.35, 0.35, 0.23 and 0.21 s. There the products get
faster up to 8 threads and the epoch is fastest on 8; 16 gains 0.02 s in the products and loses
0.23 s in the epoch. So every core up to 8, and 8 beyond: the fastest count on both machines. A
machine between them (4 cores, say) gets all its cores by the same rule, not by a measurement of its
own. Both machines measured one network at one batch size, so the rule has no term in the model or
the batch: those figures cannot justify one.

``measure`` (``--threads measure``) times a few training steps of the run's own model at its own
batch size on 1, 2, 4, … threads up to the BLAS's starting count, in interleaved rounds, at a
learning rate of 0 (the same work, on weights that cannot diverge). It takes the fastest median where
that beats the BLAS's own count by more than ``MARGIN``, else keeps the BLAS's own. The steps run on a
copy of the model and its optimizer, so the run itself is untouched. It may choose another count when
the machine's load differs, and with it other bits: it trades the reproducibility of a seed's run
for speed on an unknown machine.

Whichever way it was chosen, the run records the count, and a resumed run computes on it: a resume is
bit-exact, and ``--threads N`` repeats a measured run's count.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any

import numpy as np

from glassnet.data.batches import as_inputs
from glassnet.errors import ConfigError
from glassnet.nn import blas
from glassnet.nn.fused import FusedMLP
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential
from glassnet.train.data import TrainData

ROUNDS, STEPS = 3, 4            # interleaved rounds of timed steps per candidate, after one warm-up step
MARGIN = 0.10                   # how much faster than the BLAS's own count another must be to be chosen
MOST = 8                        # the most threads the rule gives (the module says why)


def rule(starting: int) -> int:
    """The default count for a BLAS that started with ``starting`` threads: all of them, at most ``MOST``
    (derived, with the figures, in the module's docstring)."""
    return max(1, min(starting, MOST))


def automatic() -> dict[str, Any]:
    """The default count, by ``rule``, with no timing, as recorded in the run: {"count", "source"}."""
    if blas.blas() is None:
        return {"count": blas.threads(), "source": "the BLAS's own (it cannot be set here)"}
    starting = min(blas.starting_threads(), blas.available_cores())
    return {"count": rule(starting), "source": f"auto: the BLAS's {starting} starting thread(s), at most {MOST}"}


def candidates(most: int) -> list[int]:
    """1, 2, 4, … below ``most``, and ``most``."""
    counts = [1]
    while counts[-1] * 2 < most:
        counts.append(counts[-1] * 2)
    return counts + ([most] if most > 1 else [])


def check(threads: int) -> None:
    """``ConfigError`` for a count above the cores this process may use (a new run's; a resumed run keeps the
    count it recorded, wherever it resumes)."""
    cores = blas.available_cores()
    if threads > cores:
        raise ConfigError(f"threads {threads} asks for more BLAS threads than the {cores} core(s) this process may "
                          f"use; ask for at most {cores}, or auto")


def measure(model: Sequential, optimizer: Any, data: TrainData, batch_size: int, *, fused: bool) -> dict[str, Any]:
    """The thread count for steps of ``model`` (with ``optimizer``; the fused step where ``fused``) at
    ``batch_size``, measured as the module says, as recorded in the run:
    {"count", "source": "measured", "seconds_per_step": {count: median seconds}}; with one core or no
    settable BLAS, {"count", "source"} saying why nothing was measured."""
    if blas.blas() is None:
        return {"count": blas.threads(), "source": "the BLAS's own (it cannot be set here)"}
    counts = candidates(min(blas.starting_threads(), blas.available_cores()))
    if len(counts) == 1:
        return {"count": 1, "source": "one thread to give (one core, or a sweep worker's share)"}
    trial = copy.deepcopy((model, optimizer))                      # shares nothing with the run
    trial[1].lr = 0.0
    step = FusedMLP(trial[0]) if fused else None
    rows = min(batch_size, len(data.x_train))
    x = as_inputs(data.x_train[:rows], model.dtype)
    labels = data.y_train[:rows]
    samples: dict[int, list[float]] = {n: [] for n in counts}
    trial[0].train()
    for round_ in range(ROUNDS + 1):
        for n in counts:
            with blas.pinned(n):
                started = time.perf_counter()
                for _ in range(STEPS if round_ else 1):
                    _step(trial[0], trial[1], step, x, labels)
                if round_:
                    samples[n].append((time.perf_counter() - started) / STEPS)
    medians = {n: statistics.median(times) for n, times in samples.items()}
    fastest, own = min(medians, key=medians.__getitem__), counts[-1]
    return {"count": fastest if medians[fastest] < (1 - MARGIN) * medians[own] else own, "source": "measured",
            "seconds_per_step": {str(n): seconds for n, seconds in medians.items()}}


def _step(model: Sequential, optimizer: Any, fused: FusedMLP | None, x: np.ndarray, labels: np.ndarray) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        if fused is not None:
            fused.forward_backward(x, labels)
        else:
            _, grad = softmax_cross_entropy(model.forward(x), labels)
            model.backward(grad, input_grad=False)
        optimizer.step()


def describe(record: dict[str, Any]) -> str:
    """One line: the count and how it was chosen."""
    if record.get("source") == "measured":
        figures = ", ".join(f"{n}: {1e3 * s:.2f}" for n, s in record["seconds_per_step"].items())
        return f"{record['count']} BLAS thread(s), measured (ms per step: {figures})"
    return f"{record['count']} BLAS thread(s), {record.get('source', 'recorded')}"

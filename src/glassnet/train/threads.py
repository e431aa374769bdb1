"""How many BLAS threads a training run computes on: measured at its start, or asked for.

At a small batch the matrix products are too small to keep many threads busy, and the element-wise
work (one thread in NumPy) is most of a step, so the fastest count depends on the model, the batch
and the machine. ``choose`` times a few training steps of the run's own model at its own batch size
on 1, 2, 4, … threads up to the cores the BLAS started with (the cores, or a sweep worker's share),
in interleaved rounds, at a learning rate of 0 (the same work, on weights that cannot diverge). It
takes the fastest median where that beats the BLAS's own count (all of them) by more than
``MARGIN``, else keeps the BLAS's own: a difference within the noise of a busy machine does not
change a run's bits. The steps run on a copy of the model and its optimizer, with their own
generator, so the run itself is untouched.

The count changes the bits of the result (``nn/blas.py``), so the run records it, with the figures
measured, and a resumed run computes on the recorded count: a seed's run is reproducible on the same
BLAS and count, and a resume is bit-exact.
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
                          f"use; ask for at most {cores}, or 0 (auto: measured at the start)")


def choose(model: Sequential, optimizer: Any, data: TrainData, batch_size: int, *, fused: bool) -> dict[str, Any]:
    """The thread count for steps of ``model`` (with ``optimizer``; the fused step where ``fused``) at
    ``batch_size``, chosen as the module says, as recorded in the run:
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

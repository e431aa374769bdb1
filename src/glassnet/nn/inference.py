"""Inference over many rows: in blocks of ``BLOCK`` rows, on a pool of threads where there are cores to spare.

Rows are independent, but their bits are not independent of how they are computed: the BLAS computes
a product's rows differently with another number of rows or of threads (float32 products round
differently; measured in ``docs/speed.md``). So an input of more than ``BLOCK`` rows is computed in
blocks of ``BLOCK`` rows (the last shorter), each block on one BLAS thread, and the blocks run one
after another or spread over a pool of threads: the same calls with the same shapes either way, so
the pooled result equals the sequential one bit for bit, on any number of cores. An input of at most
``BLOCK`` rows (one image, a server request) is one call on the BLAS's own threads, with no pool to
pay for (on one thread it was slower, for 1 to 256 rows on 2 cores). While a pooled call in another
thread of the process holds the BLAS at one thread, such a call computes on one thread too, which
can change the last bits of its float32 probabilities.

Where the BLAS's thread count cannot be set (``nn/blas.py``), or a training run in this process holds
it (the live view of ``train --watch``), the blocks run one after another on the BLAS's own threads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from glassnet.nn import blas
from glassnet.nn.params import Array

#: Rows per block. On 2 cores, blocks of 128 to 2048 rows could not be told apart in time; smaller blocks spread
#: better over many cores, which is not measured yet (docs/speed.md).
BLOCK = 256


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glassnet-inference")


def default_workers() -> int:
    """The pool's size when none is asked for: the cores this process may use."""
    return blas.available_cores()


def in_blocks(compute: Callable[[Array], Array], x: Array, *, workers: int | None = None,
              block: int = BLOCK) -> Array:
    """``compute`` (rows in, rows out) applied to x, block by block as the module says; ``workers`` threads
    (default: the cores), 1 for none. The result does not depend on ``workers``."""
    if len(x) <= block:
        return compute(x)
    starts = range(0, len(x), block)
    workers = min(default_workers() if workers is None else workers, len(starts))
    with blas.one_thread() as alone:
        if alone and workers > 1:
            parts = list(_pool(workers).map(lambda start: compute(x[start:start + block]), starts))
        else:
            parts = [compute(x[start:start + block]) for start in starts]
    return np.concatenate(parts)

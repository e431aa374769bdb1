"""Every bound on a number a sweep spec holds, and why: in one place, listed in docs/sweeps.md.

``RANGES`` are the spec's own integer keys, checked by ``check_ranges`` when a spec is read; the
``MAX_`` constants bound its [space] (``space`` checks them). A spec within them starts no worker
that its numbers could crash: no seed its samplers refuse, no sleep too long to take, no grid too
large to list, no network too large to keep.
"""

from __future__ import annotations

from typing import NamedTuple

from glassnet.errors import ConfigError


class Range(NamedTuple):
    """The integers a spec key may hold, and why."""

    low: int
    high: int
    why: str


RANGES = {
    "trials": Range(1, 10_000, "every worker reads all of a study's trials when it joins, 5 s for 10,000 here"),
    "seed": Range(0, 2**63 - 1, "any integer TOML can write that is not negative"),
    "heartbeat_seconds": Range(1, 3_600, "a dead worker's trial is retried after three silent heartbeats: at "
                                         "most three hours"),
    "max_retries": Range(0, 100, "a trial whose worker dies a hundred times will not stop doing so"),
    "[pruning] startup_trials": Range(0, 10_000, "no more than the trials a study may ask for"),
    "[pruning] warmup_epochs": Range(1, 10_000, "epoch 1 is the first a pruner can judge; 10,000 epochs are more "
                                                "than a sweep's trial trains"),
    "[data] train_subset": Range(0, 10_000_000, "0 means all; an IDX file within glassnet's 1 GiB bound holds at "
                                                "most 1.4 million 28×28 images"),
}
MAX_CHOICES = 1_000           # each choice is checked as a config when the spec is read
MAX_GRID_POINTS = 10_000      # a grid visits each point once, so no more points than a study may have trials
MAX_INT = 2**53               # the study stores every drawn value as a float64, exact for integers up to this


def check_ranges(numbers: dict[str, int], source: str) -> None:
    """Refuse any of ``numbers`` (by RANGES key) outside its range, saying the range and why."""
    for key, value in numbers.items():
        bound = RANGES[key]
        if not bound.low <= value <= bound.high:
            raise ConfigError(f"{source}: {key} must be in [{bound.low:,}, {bound.high:,}] ({bound.why}), "
                              f"got {value:,}")

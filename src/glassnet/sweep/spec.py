"""The sweep spec: what a study searches, read from TOML and checked before any trial runs.

A spec file::

    name = "lr-dropout"            # the study's name (default: the file's stem)
    trials = 20                    # finished trials (complete or pruned) the study asks for
    objective = "accuracy"         # or "loss": the validation figure of the model a trial keeps
    sampler = "tpe"                # "tpe", "random" or "grid"
    seed = 0                       # fixes the sampler's draws (with one worker, the whole sequence)
    heartbeat_seconds = 10         # a worker silent for three heartbeats is taken for dead
    max_retries = 2                # how often a dead worker's trial is queued to run again

    [pruning]                      # the median rule on each epoch's validation figure
    enabled = true
    startup_trials = 5             # trials that always run to the end, to learn what a median is
    warmup_epochs = 1              # epochs every trial trains before it may be pruned (≥ 1)

    [data]
    train_subset = 0               # use only the first N MNIST training images (0: all 60,000)

    [base]                         # the config every trial starts from: a preset, then fields
    preset = "seed"
    epochs = 10

    [space]                        # config fields and where each is drawn from
    lr = { type = "log_uniform", low = 1e-4, high = 1e-2 }
    dropout = { type = "uniform", low = 0.0, high = 0.5 }
    batch_size = { type = "int", low = 64, high = 256, step = 64 }
    hidden = { type = "categorical", choices = [[256, 128], [512, 256]] }

The objective is measured on a validation split held out of the training images, never on the
test set: ``validation_size`` defaults to a sixth of the training images used (10,000 of MNIST's
60,000), and 0 is refused.

Every number a spec holds has a range, checked when the spec is read; ``bounds`` states them all,
each with its reason, and docs/sweeps.md lists them: a spec that passes starts no worker it would
crash. The name becomes a folder's name, so it is 1 to 100 letters, digits, '.',
'_' or '-', not starting with '.' or '-'. A study stops by itself once ten trials in a row have
failed (``failures.MAX_FAILURES_IN_A_ROW``, where the reason is given).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from glassnet.config import PRESETS, TrainConfig, read_toml, with_overrides
from glassnet.errors import ConfigError
from glassnet.sweep.bounds import check_ranges
from glassnet.sweep.space import Dimension, decode, dimension, dimension_table, grid_size, no_unknown, shown

OBJECTIVES: dict[str, Literal["maximize", "minimize"]] = {"accuracy": "maximize", "loss": "minimize"}
SAMPLERS = ("tpe", "random", "grid")
_TOP = {"name", "trials", "objective", "sampler", "seed", "heartbeat_seconds", "max_retries",
        "pruning", "data", "base", "space"}


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")


def check_name(name: str, source: str) -> str:
    """``name`` if it can name a study and its folder; else a ``ConfigError`` saying what a name may hold."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{source}: a study's name becomes a folder's name, so it is 1 to 100 letters, digits, "
                          f"'.', '_' or '-', not starting with '.' or '-'; got {name!r} (set name = \"...\" in "
                          "the spec)")
    return name


@dataclass(frozen=True)
class SweepSpec:
    name: str
    trials: int
    objective: str
    sampler: str
    seed: int
    base: TrainConfig
    space: tuple[Dimension, ...]
    train_subset: int = 0
    pruning: bool = True
    pruning_startup_trials: int = 5
    pruning_warmup_epochs: int = 1
    heartbeat_seconds: int = 10          # a worker silent for 3 × this is taken for dead; its trial is retried
    max_retries: int = 2

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        return OBJECTIVES[self.objective]

    def config_for(self, params: dict[str, Any]) -> TrainConfig:
        """The training config of a trial whose drawn values are ``params`` (as the study stores them)."""
        return with_overrides(self.base, {name: decode(value) for name, value in params.items()}, "sweep trial")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, stored with the study so that workers elsewhere need only its name."""
        return {"name": self.name, "trials": self.trials, "objective": self.objective, "sampler": self.sampler,
                "seed": self.seed, "heartbeat_seconds": self.heartbeat_seconds, "max_retries": self.max_retries,
                "pruning": {"enabled": self.pruning, "startup_trials": self.pruning_startup_trials,
                            "warmup_epochs": self.pruning_warmup_epochs},
                "data": {"train_subset": self.train_subset},
                "base": {k: v for k, v in self.base.to_dict().items() if k != "run_dir"},
                "space": {d.field: dimension_table(d) for d in self.space}}


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a spec file; every mistake is a ``ConfigError`` naming the key and what to write."""
    path = Path(path)
    table = read_toml(path, "sweep spec")
    table.setdefault("name", path.stem)
    return spec_from_dict(table, str(path))


def spec_from_dict(table: dict[str, Any], source: str = "sweep spec") -> SweepSpec:
    unknown = sorted(set(table) - _TOP)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; a spec has {', '.join(sorted(_TOP))}")
    pruning, data, base_table, space_table = (_table(table, k, source) for k in ("pruning", "data", "base", "space"))
    no_unknown(pruning, {"enabled", "startup_trials", "warmup_epochs"}, f"{source} [pruning]")
    no_unknown(data, {"train_subset"}, f"{source} [data]")
    name = check_name(_get(table, "name", str, "sweep", source), source)
    objective = _get(table, "objective", str, "accuracy", source)
    if objective not in OBJECTIVES:
        raise ConfigError(f"{source}: objective must be one of {', '.join(OBJECTIVES)} (a validation figure), "
                          f"got {objective!r}")
    sampler = _get(table, "sampler", str, "tpe", source)
    if sampler not in SAMPLERS:
        raise ConfigError(f"{source}: sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    numbers = {"seed": _get(table, "seed", int, 0, source),
               "heartbeat_seconds": _get(table, "heartbeat_seconds", int, 10, source),
               "max_retries": _get(table, "max_retries", int, 2, source),
               "[pruning] startup_trials": _get(pruning, "startup_trials", int, 5, f"{source} [pruning]"),
               "[pruning] warmup_epochs": _get(pruning, "warmup_epochs", int, 1, f"{source} [pruning]"),
               "[data] train_subset": _get(data, "train_subset", int, 0, f"{source} [data]")}
    check_ranges(numbers, source)
    if numbers["[data] train_subset"] == 1:
        raise ConfigError(f"{source} [data]: train_subset must be 0 (all) or ≥ 2 images, got 1")
    base = _base_config(base_table, numbers["[data] train_subset"], source)
    space = tuple(dimension(field, entry, base, f"{source} [space]") for field, entry in space_table.items())
    if not space:
        raise ConfigError(f"{source}: [space] is empty; name at least one config field to search, "
                          'e.g. lr = { type = "log_uniform", low = 1e-4, high = 1e-2 }')
    points = grid_size(space, source) if sampler == "grid" else 0
    trials = _get(table, "trials", int, points or 20, source)
    check_ranges({"trials": trials}, source)
    if points and trials > points:
        raise ConfigError(f"{source}: the grid has {points} points, so trials = {trials} would repeat some; "
                          f"set trials ≤ {points} (or leave it out)")
    return SweepSpec(
        name=name, trials=trials, objective=objective, sampler=sampler, seed=numbers["seed"], base=base,
        space=space, train_subset=numbers["[data] train_subset"], pruning=_get(pruning, "enabled", bool, True,
                                                                                 f"{source} [pruning]"),
        pruning_startup_trials=numbers["[pruning] startup_trials"],
        pruning_warmup_epochs=numbers["[pruning] warmup_epochs"],
        heartbeat_seconds=numbers["heartbeat_seconds"], max_retries=numbers["max_retries"])


def _base_config(table: dict[str, Any], train_subset: int, source: str) -> TrainConfig:
    fields = dict(table)
    preset = fields.pop("preset", "seed")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError(f"{source} [base]: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if "run_dir" in fields:
        raise ConfigError(f"{source} [base]: run_dir is not set in a sweep; every trial gets its own folder")
    for field, value in fields.items():
        _check_finite(value, f"{source} [base] {field}")
    config = with_overrides(PRESETS[preset], fields, f"{source} [base]")
    if "validation_size" not in fields and config.validation_size == 0:
        config = dataclasses.replace(config, validation_size=(train_subset or 60_000) // 6)
    if config.validation_size == 0:
        raise ConfigError(f"{source} [base]: a sweep chooses on a validation split, never on the test set; "
                          "validation_size must be > 0 (leave it out for a sixth of the training images)")
    return config


def _check_finite(value: Any, source: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: numbers in a spec must be finite, got {value}")


def _table(table: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {key} must be a table ([{key}]), got {shown(value)}")
    return value


def _get(table: dict[str, Any], key: str, kind: type, default: Any, source: str) -> Any:
    value = table.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key} must be of type {kind.__name__}, got {shown(value)}")
    return value

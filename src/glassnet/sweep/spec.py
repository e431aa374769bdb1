"""The sweep spec: what a study searches, read from TOML and checked before any trial runs.

A spec file::

    name = "lr-dropout"            # the study's name (default: the file's stem)
    trials = 20                    # finished trials (complete or pruned) the study asks for
    objective = "accuracy"         # or "loss": the validation figure of the model a trial keeps
    sampler = "tpe"                # "tpe", "random" or "grid"
    seed = 0                       # fixes the sampler's draws (with one worker, the whole sequence)

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
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from glassnet.config import PRESETS, TrainConfig, read_toml, with_overrides
from glassnet.errors import ConfigError

OBJECTIVES: dict[str, Literal["maximize", "minimize"]] = {"accuracy": "maximize", "loss": "minimize"}
SAMPLERS = ("tpe", "random", "grid")
KINDS = ("log_uniform", "uniform", "int", "categorical")
_TOP = {"name", "trials", "objective", "sampler", "seed", "heartbeat_seconds", "max_retries",
        "pruning", "data", "base", "space"}


@dataclass(frozen=True)
class Dimension:
    """One searched config field: ``kind`` is one of KINDS; ranges use low/high (and step), categories choices."""

    field: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def grid(self) -> list[Any]:
        """The values a grid search visits."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.step is None:
            raise ConfigError(f"[space] {self.field}: a grid needs a step (or choices) for every field; "
                              f"{self.kind} from {self.low} to {self.high} has none")
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        values = [self.low + i * self.step for i in range(count)]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]


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
                "space": {d.field: _dimension_table(d) for d in self.space}}


def encode(value: Any) -> Any:
    """A categorical choice as the study stores it: lists (hidden widths) as JSON text, the rest as is."""
    return json.dumps(value) if isinstance(value, list | tuple) else value


def decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value.startswith("[") else value


def _dimension_table(d: Dimension) -> dict[str, Any]:
    if d.kind == "categorical":
        return {"type": d.kind, "choices": [decode(c) for c in d.choices]}
    number = int if d.kind == "int" else float
    table: dict[str, Any] = {"type": d.kind, "low": number(d.low), "high": number(d.high)}
    return table | ({"step": number(d.step)} if d.step is not None else {})


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
    _no_unknown(pruning, {"enabled", "startup_trials", "warmup_epochs"}, f"{source} [pruning]")
    _no_unknown(data, {"train_subset"}, f"{source} [data]")
    name = _get(table, "name", str, "sweep", source)
    if not name.strip() or len(name) > 200:
        raise ConfigError(f"{source}: name must be 1 to 200 characters, got {name!r}")
    objective = _get(table, "objective", str, "accuracy", source)
    if objective not in OBJECTIVES:
        raise ConfigError(f"{source}: objective must be one of {', '.join(OBJECTIVES)} (a validation figure), "
                          f"got {objective!r}")
    sampler = _get(table, "sampler", str, "tpe", source)
    if sampler not in SAMPLERS:
        raise ConfigError(f"{source}: sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    train_subset = _get(data, "train_subset", int, 0, f"{source} [data]")
    if train_subset < 0 or train_subset == 1:
        raise ConfigError(f"{source} [data]: train_subset must be 0 (all) or ≥ 2 images, got {train_subset}")
    base = _base_config(base_table, train_subset, source)
    space = tuple(_dimension(field, entry, base, f"{source} [space]") for field, entry in space_table.items())
    if not space:
        raise ConfigError(f"{source}: [space] is empty; name at least one config field to search, "
                          'e.g. lr = { type = "log_uniform", low = 1e-4, high = 1e-2 }')
    grid_size = math.prod(len(d.grid()) for d in space) if sampler == "grid" else 0
    trials = _get(table, "trials", int, grid_size or 20, source)
    if trials < 1:
        raise ConfigError(f"{source}: trials must be ≥ 1, got {trials}")
    if grid_size and trials > grid_size:
        raise ConfigError(f"{source}: the grid has {grid_size} points, so trials = {trials} would repeat some; "
                          f"set trials ≤ {grid_size} (or leave it out)")
    spec = SweepSpec(
        name=name, trials=trials, objective=objective, sampler=sampler,
        seed=_get(table, "seed", int, 0, source), base=base, space=space, train_subset=train_subset,
        pruning=_get(pruning, "enabled", bool, True, f"{source} [pruning]"),
        pruning_startup_trials=_get(pruning, "startup_trials", int, 5, f"{source} [pruning]"),
        pruning_warmup_epochs=_get(pruning, "warmup_epochs", int, 1, f"{source} [pruning]"),
        heartbeat_seconds=_get(table, "heartbeat_seconds", int, 10, source),
        max_retries=_get(table, "max_retries", int, 2, source))
    for key, value, least in (("seed", spec.seed, 0), ("[pruning] startup_trials", spec.pruning_startup_trials, 0),
                              ("[pruning] warmup_epochs", spec.pruning_warmup_epochs, 1),
                              ("heartbeat_seconds", spec.heartbeat_seconds, 1), ("max_retries", spec.max_retries, 0)):
        if value < least:
            raise ConfigError(f"{source}: {key} must be ≥ {least}, got {value}")
    return spec


def _base_config(table: dict[str, Any], train_subset: int, source: str) -> TrainConfig:
    fields = dict(table)
    preset = fields.pop("preset", "seed")
    if preset not in PRESETS:
        raise ConfigError(f"{source} [base]: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if "run_dir" in fields:
        raise ConfigError(f"{source} [base]: run_dir is not set in a sweep; every trial gets its own folder")
    config = with_overrides(PRESETS[preset], fields, f"{source} [base]")
    if "validation_size" not in fields and config.validation_size == 0:
        config = dataclasses.replace(config, validation_size=(train_subset or 60_000) // 6)
    if config.validation_size == 0:
        raise ConfigError(f"{source} [base]: a sweep chooses on a validation split, never on the test set; "
                          "validation_size must be > 0 (leave it out for a sixth of the training images)")
    return config


def _dimension(field: str, entry: Any, base: TrainConfig, source: str) -> Dimension:
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {"run_dir"}
    if field not in known:
        raise ConfigError(f"{source}: {field!r} is not a config field; searchable: {', '.join(sorted(known))}")
    if field == "validation_size":
        raise ConfigError(f"{source}: validation_size cannot be searched: trials must be judged on the same "
                          "validation images; set it in [base]")
    if not isinstance(entry, dict):
        raise ConfigError(f'{source}: {field} must be a table such as {{ type = "uniform", low = 0, high = 1 }}, '
                          f"got {entry!r}")
    kind = entry.get("type")
    if kind not in KINDS:
        raise ConfigError(f"{source}: {field}.type must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "categorical":
        _no_unknown(entry, {"type", "choices"}, f"{source} {field}")
        choices = entry.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{source}: {field}.choices must be a non-empty list, got {choices!r}")
        if len({encode(c) for c in choices}) != len(choices):
            raise ConfigError(f"{source}: {field}.choices lists a value twice: {choices!r}")
        for choice in choices:
            _try(base, field, choice, source)
        return Dimension(field, kind, choices=tuple(encode(c) for c in choices))
    _no_unknown(entry, {"type", "low", "high", "step"}, f"{source} {field}")
    number = int if kind == "int" else (int, float)
    values: dict[str, Any] = {key: entry.get(key) for key in ("low", "high", "step")}
    for key in ("low", "high"):
        if not isinstance(values[key], number) or isinstance(values[key], bool):
            raise ConfigError(f"{source}: {field}.{key} must be {'an integer' if kind == 'int' else 'a number'}, "
                              f"got {values[key]!r}")
    low, high, step = values["low"], values["high"], values["step"]
    kind_of_field = type(getattr(base, field))
    if kind_of_field not in (int, float):
        raise ConfigError(f"{source}: {field} is not a number; search it with type = \"categorical\"")
    if kind_of_field is int and kind != "int":
        raise ConfigError(f"{source}: {field} is an integer field; use type = \"int\"")
    if not low < high:
        raise ConfigError(f"{source}: {field} needs low < high, got low = {low}, high = {high}")
    if kind == "log_uniform" and low <= 0:
        raise ConfigError(f"{source}: {field} is log-uniform, so low must be > 0, got {low}")
    if step is not None and (not isinstance(step, number) or isinstance(step, bool) or step <= 0
                             or kind == "log_uniform"):
        raise ConfigError(f"{source}: {field}.step must be a positive {'integer' if kind == 'int' else 'number'} "
                          f"(and log_uniform takes none), got {step!r}")
    for value in (low, high):
        _try(base, field, int(value) if kind_of_field is int else float(value), source)
    return Dimension(field, kind, float(low), float(high), None if step is None else float(step))


def _try(base: TrainConfig, field: str, value: Any, source: str) -> None:
    try:
        with_overrides(base, {field: value}, source)
    except ConfigError as e:
        raise ConfigError(f"{source}: the value {value!r} of {field} is not a valid config: {e}") from None


def _table(table: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {key} must be a table ([{key}]), got {value!r}")
    return value


def _no_unknown(table: dict[str, Any], known: set[str], source: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def _get(table: dict[str, Any], key: str, kind: type, default: Any, source: str) -> Any:
    value = table.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key} must be of type {kind.__name__}, got {value!r}")
    return value

"""The searched fields of a sweep spec ([space]): how each is drawn, checked when the spec is read.

A field is drawn log-uniformly, uniformly (with a ``step``, on a grid of values), as an integer, or
from a list of ``choices``, within the bounds of ``bounds``; every value a space can draw at its ends,
and every choice, is checked as a training config, so a space that passes draws no value that a
worker would trip on (a combination of fields may still be invalid: that trial fails, alone).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from glassnet.config import TrainConfig, with_overrides
from glassnet.errors import ConfigError
from glassnet.sweep.bounds import MAX_CHOICES, MAX_GRID_POINTS, MAX_INT

KINDS = ("log_uniform", "uniform", "int", "categorical")
@dataclass(frozen=True)
class Dimension:
    """One searched config field: ``kind`` is one of KINDS; ranges use low/high (and step), categories choices."""

    field: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def grid_size(self) -> int:
        """How many values a grid search visits, counted without listing them (at most MAX_GRID_POINTS + 1)."""
        if self.kind == "categorical":
            return len(self.choices)
        if self.step is None:
            raise ConfigError(f"[space] {self.field}: a grid needs a step (or choices) for every field; "
                              f"{self.kind} from {self.low} to {self.high} has none")
        if self.kind == "int":                 # in integers: exact up to MAX_INT
            return min((int(self.high) - int(self.low)) // int(self.step), MAX_GRID_POINTS) + 1
        steps = (self.high - self.low) / self.step
        return MAX_GRID_POINTS + 1 if not steps < MAX_GRID_POINTS else math.floor(steps + 1e-9) + 1

    def grid(self) -> list[Any]:
        """The values a grid search visits (call ``grid_size`` first: this lists them)."""
        if self.kind == "categorical":
            return list(self.choices)
        assert self.step is not None, "grid_size() refuses a dimension without a step"
        if self.kind == "int":
            return [int(self.low) + i * int(self.step) for i in range(self.grid_size())]
        # 12 significant digits: 0.30000000000000004 is 0.3, and 1e-15 stays 1e-15
        return [float(f"{min(self.low + i * self.step, self.high):.12g}") for i in range(self.grid_size())]


def encode(value: Any) -> Any:
    """A categorical choice as the study stores it: lists (hidden widths) as JSON text, the rest as is."""
    return json.dumps(value) if isinstance(value, list | tuple) else value


def decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value.startswith("[") else value


def dimension_table(d: Dimension) -> dict[str, Any]:
    if d.kind == "categorical":
        return {"type": d.kind, "choices": [decode(c) for c in d.choices]}
    number = int if d.kind == "int" else float
    table: dict[str, Any] = {"type": d.kind, "low": number(d.low), "high": number(d.high)}
    return table | ({"step": number(d.step)} if d.step is not None else {})


def grid_size(space: tuple[Dimension, ...], source: str) -> int:
    """The number of grid points, multiplied out one field at a time and refused past MAX_GRID_POINTS."""
    size = 1
    for d in space:
        size *= d.grid_size()
        if size > MAX_GRID_POINTS:
            raise ConfigError(f"{source}: the grid has more than {MAX_GRID_POINTS:,} points (a grid visits each "
                              "once, and a study has at most that many trials); use larger steps or fewer choices")
    for d in space:
        values = d.grid()
        if len(set(values)) != len(values):
            raise ConfigError(f"{source}: [space] {d.field}: the step {d.step} is too small to tell the grid's "
                              "values apart; use a larger step")
    return size


def dimension(field: str, entry: Any, base: TrainConfig, source: str) -> Dimension:
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
        return _categorical(field, entry, base, source)
    no_unknown(entry, {"type", "low", "high", "step"}, f"{source} {field}")
    kind_of_field = type(getattr(base, field))
    if kind_of_field not in (int, float):
        raise ConfigError(f"{source}: {field} is not a number; search it with type = \"categorical\"")
    if kind_of_field is int and kind != "int":
        raise ConfigError(f"{source}: {field} is an integer field; use type = \"int\"")
    low, high, step = (_number(entry.get(key), kind, f"{source} {field}.{key}", key == "step")
                       for key in ("low", "high", "step"))
    if not low < high:
        raise ConfigError(f"{source}: {field} needs low < high, got low = {low}, high = {high}")
    if kind == "log_uniform" and low <= 0:
        raise ConfigError(f"{source}: {field} is log-uniform, so low must be > 0, got {low}")
    if step is not None and (step <= 0 or kind == "log_uniform"):
        raise ConfigError(f"{source}: {field}.step must be a positive {'integer' if kind == 'int' else 'number'} "
                          f"(and log_uniform takes none), got {step!r}")
    for value in (low, high):
        _try(base, field, int(value) if kind_of_field is int else float(value), source)
    return Dimension(field, kind, float(low), float(high), None if step is None else float(step))


def _number(value: Any, kind: str, source: str, optional: bool) -> Any:
    """A range's low, high or step: an integer within ±MAX_INT for type "int", else a finite number."""
    if value is None and optional:
        return None
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool) or not -MAX_INT <= value <= MAX_INT:
            raise ConfigError(f"{source} must be an integer in [-2**53, 2**53] (the study stores drawn values as "
                              f"floats, exact up to there), got {value!r}")
        return value
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"{source} must be a finite number, got {value!r}")
    return value


def _categorical(field: str, entry: dict[str, Any], base: TrainConfig, source: str) -> Dimension:
    no_unknown(entry, {"type", "choices"}, f"{source} {field}")
    choices = entry.get("choices")
    if not isinstance(choices, list) or not 1 <= len(choices) <= MAX_CHOICES:
        raise ConfigError(f"{source}: {field}.choices must be a list of 1 to {MAX_CHOICES:,} values, got "
                          f"{shown(choices)}")
    for choice in choices:
        if not _plain(choice):
            raise ConfigError(f"{source}: {field}.choices holds {shown(choice)}; a choice is a string, a boolean, "
                              "a finite number or a list of integers (hidden widths)")
    encoded = [encode(c) for c in choices]
    if len(set(encoded)) != len(choices):
        raise ConfigError(f"{source}: {field}.choices lists a value twice: {shown(choices)}")
    for choice in choices:
        _try(base, field, choice, source)
    return Dimension(field, "categorical", choices=tuple(encoded))


def _plain(choice: Any) -> bool:
    """Whether a categorical choice is of a kind the study can store: str, bool, finite number, list of ints."""
    if isinstance(choice, list):
        return all(isinstance(v, int) and not isinstance(v, bool) for v in choice)
    if isinstance(choice, float):
        return math.isfinite(choice)
    return isinstance(choice, str | bool | int)


def shown(value: Any, limit: int = 80) -> str:
    """A value for a message, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _try(base: TrainConfig, field: str, value: Any, source: str) -> TrainConfig:
    try:
        return with_overrides(base, {field: value}, source)
    except ConfigError as e:
        raise ConfigError(f"{source}: the value {shown(value)} of {field} is not a valid config: {e}") from None


def no_unknown(table: dict[str, Any], known: set[str], source: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")

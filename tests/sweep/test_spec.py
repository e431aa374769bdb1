"""The sweep spec: a good one reads back whole; every mistake is refused with a message naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from glassnet.config import PRESETS
from glassnet.errors import ConfigError
from glassnet.sweep.spec import load_spec, spec_from_dict

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "sweeps").glob("*.toml"))

GOOD = {
    "name": "s", "trials": 5, "objective": "loss", "sampler": "random", "seed": 3,
    "pruning": {"enabled": False, "startup_trials": 1, "warmup_epochs": 2},
    "data": {"train_subset": 6000},
    "base": {"preset": "seed", "epochs": 4},
    "space": {"lr": {"type": "log_uniform", "low": 1e-4, "high": 1e-2},
              "dropout": {"type": "uniform", "low": 0.0, "high": 0.5, "step": 0.1},
              "batch_size": {"type": "int", "low": 32, "high": 256, "step": 32},
              "hidden": {"type": "categorical", "choices": [[64, 32], [128]]}},
}


def test_a_good_spec_reads_whole_and_round_trips() -> None:
    spec = spec_from_dict(GOOD)
    assert (spec.trials, spec.objective, spec.direction, spec.sampler, spec.seed) == (5, "loss", "minimize",
                                                                                       "random", 3)
    assert spec.base.epochs == 4 and spec.base.lr == PRESETS["seed"].lr
    assert spec.base.validation_size == 1000, "a sixth of the 6,000 training images used"
    assert [d.field for d in spec.space] == ["lr", "dropout", "batch_size", "hidden"]
    assert spec_from_dict(spec.to_dict()) == spec
    config = spec.config_for({"lr": 3e-3, "hidden": "[128]", "batch_size": 64})
    assert (config.lr, config.hidden, config.batch_size, config.epochs) == (3e-3, (128,), 64, 4)


def test_the_file_name_names_the_study(tmp_path: Path) -> None:
    path = tmp_path / "widths.toml"
    path.write_text('[space]\ndropout = { type = "uniform", low = 0.1, high = 0.3 }\n')
    spec = load_spec(path)
    assert (spec.name, spec.trials, spec.sampler, spec.objective) == ("widths", 20, "tpe", "accuracy")
    assert spec.base.validation_size == 10_000


def test_grid_visits_every_point_once() -> None:
    table = {"sampler": "grid", "space": {"dropout": {"type": "uniform", "low": 0.0, "high": 0.2, "step": 0.1},
                                          "hidden": {"type": "categorical", "choices": [[8], [16]]}}}
    spec = spec_from_dict(table)
    assert spec.trials == 6
    assert spec.space[0].grid() == [0.0, 0.1, 0.2]
    with pytest.raises(ConfigError, match="the grid has 6 points"):
        spec_from_dict(table | {"trials": 7})


def _with(path: str, value: object) -> dict:
    table = {k: (dict(v) if isinstance(v, dict) else v) for k, v in GOOD.items()}
    *outer, last = path.split(".")
    target = table
    for key in outer:
        target = target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return table


@pytest.mark.parametrize(("path", "value", "message"), [
    ("colour", "blue", "unknown key"),
    ("trials", 0, "trials must be ≥ 1"),
    ("trials", "many", "trials must be of type int"),
    ("objective", "test_accuracy", "objective must be one of accuracy, loss"),
    ("sampler", "cma", "sampler must be one of"),
    ("seed", -1, "seed must be ≥ 0"),
    ("pruning.warmup_epochs", 0, "warmup_epochs must be ≥ 1"),
    ("pruning.patience", 3, "unknown key"),
    ("data.train_subset", 1, "train_subset must be 0"),
    ("base.preset", "fastest", "unknown preset"),
    ("base.lr", -1.0, "config field 'lr' must be"),
    ("base.run_dir", "x", "every trial gets its own folder"),
    ("base.validation_size", 0, "never on the test set"),
    ("space", {}, "[space] is empty"),
    ("space.width", {"type": "int", "low": 1, "high": 4}, "'width' is not a config field"),
    ("space.validation_size", {"type": "int", "low": 1, "high": 4}, "cannot be searched"),
    ("space.lr", 0.01, "must be a table"),
    ("space.lr", {"type": "loguniform", "low": 1e-4, "high": 1e-2}, "lr.type must be one of"),
    ("space.lr", {"type": "log_uniform", "low": 0.0, "high": 1e-2}, "low must be > 0"),
    ("space.lr", {"type": "log_uniform", "low": 1e-2, "high": 1e-4}, "low < high"),
    ("space.lr", {"type": "uniform", "low": 1e-4, "high": 2.0, "stp": 1}, "unknown key"),
    ("space.dropout", {"type": "uniform", "low": 0.0, "high": 1.0}, "value 1.0 of dropout is not a valid config"),
    ("space.batch_size", {"type": "uniform", "low": 32, "high": 64}, "integer field"),
    ("space.batch_size", {"type": "int", "low": 32.5, "high": 64}, "low must be an integer"),
    ("space.hidden", {"type": "categorical", "choices": []}, "non-empty list"),
    ("space.hidden", {"type": "categorical", "choices": [[8], [8]]}, "lists a value twice"),
    ("space.hidden", {"type": "categorical", "choices": [[8], [0]]}, "value [0] of hidden is not a valid config"),
    ("space.hidden", {"type": "int", "low": 1, "high": 3}, "not a number"),
])
def test_mistakes_are_named(path: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        spec_from_dict(_with(path, value))


def test_a_grid_needs_steps() -> None:
    with pytest.raises(ConfigError, match="a grid needs a step"):
        spec_from_dict(_with("sampler", "grid"))


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the sweep spec"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("trials = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_spec(bad)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_specs_are_good(path: Path) -> None:
    assert load_spec(path).space

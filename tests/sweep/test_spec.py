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
    ("trials", 0, "trials must be in [1, 10,000]"),
    ("trials", "many", "trials must be of type int"),
    ("objective", "test_accuracy", "objective must be one of accuracy, loss"),
    ("sampler", "cma", "sampler must be one of"),
    ("seed", -1, "seed must be in [0, 9,223,372,036,854,775,807]"),
    ("pruning.warmup_epochs", 0, "warmup_epochs must be in [1, 10,000]"),
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
    ("space.hidden", {"type": "categorical", "choices": []}, "must be a list of 1 to 1,000 values"),
    ("space.hidden", {"type": "categorical", "choices": [[8], [8]]}, "lists a value twice"),
    ("space.hidden", {"type": "categorical", "choices": [[8], [0]]}, "value [0] of hidden is not a valid config"),
    ("space.hidden", {"type": "int", "low": 1, "high": 3}, "not a number"),
    # every number has a range, checked when the spec is read, not when a worker trips on it
    ("trials", 10**9, "trials must be in [1, 10,000]"),
    ("seed", 2**64, "seed must be in [0, 9,223,372,036,854,775,807]"),
    ("heartbeat_seconds", 0, "heartbeat_seconds must be in [1, 3,600]"),
    ("heartbeat_seconds", 10**18, "heartbeat_seconds must be in [1, 3,600]"),
    ("max_retries", -1, "max_retries must be in [0, 100]"),
    ("max_retries", 10**9, "max_retries must be in [0, 100]"),
    ("pruning.startup_trials", 10**12, "startup_trials must be in [0, 10,000]"),
    ("pruning.warmup_epochs", 10**12, "warmup_epochs must be in [1, 10,000]"),
    ("data.train_subset", 10**12, "train_subset must be in [0, 10,000,000]"),
    ("base.lr", float("nan"), "numbers in a spec must be finite"),
    ("base.eps", float("inf"), "numbers in a spec must be finite"),
    ("base.preset", ["seed"], "unknown preset"),
    ("base.hidden", [10**9], "of a network of at most 80,000,000 parameters"),
    ("space.lr", {"type": "uniform", "low": 1e-4, "high": float("inf")}, "lr.high must be a finite number"),
    ("space.lr", {"type": "uniform", "low": float("nan"), "high": 1.0}, "lr.low must be a finite number"),
    ("space.eps", {"type": "uniform", "low": -1.7e308, "high": 1.7e308}, "value -1.7e+308 of eps is not a valid"),
    ("space.epochs", {"type": "int", "low": 1, "high": 2**62}, "epochs.high must be an integer in [-2**53, 2**53]"),
    ("space.dropout", {"type": "uniform", "low": 0.0, "high": 0.5, "step": float("nan")}, "step must be a finite"),
    ("space.batch_size", {"type": "int", "low": 32, "high": 64, "step": 0}, "step must be a positive integer"),
    ("space.hidden", {"type": "categorical", "choices": [[8], {"width": 8}]}, "a choice is a string, a boolean"),
    ("space.hidden", {"type": "categorical", "choices": [[8], [[8]]]}, "a choice is a string, a boolean"),
    ("space.hidden", {"type": "categorical", "choices": [[8], [10**9]]}, "at most 80,000,000 parameters"),
    ("space.hidden", {"type": "categorical", "choices": [[w] for w in range(1, 1002)]}, "list of 1 to 1,000 values"),
    ("space.lr", {"type": "categorical", "choices": [1e-3, float("inf")]}, "a choice is a string, a boolean"),
    ("space.optimizer", {"type": "categorical", "choices": ["adam", "[1]"]}, "value '[1]' of optimizer"),
])
def test_mistakes_are_named(path: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        spec_from_dict(_with(path, value))


def test_a_grid_needs_steps() -> None:
    with pytest.raises(ConfigError, match="a grid needs a step"):
        spec_from_dict(_with("sampler", "grid"))


@pytest.mark.parametrize(("space", "message"), [
    ({"dropout": {"type": "uniform", "low": 0.0, "high": 0.5, "step": 1e-300}}, "more than 10,000 points"),
    ({"dropout": {"type": "uniform", "low": 0.0, "high": 0.5, "step": 5e-324}}, "more than 10,000 points"),
    ({"seed": {"type": "int", "low": 0, "high": 2**53, "step": 1}}, "more than 10,000 points"),
    ({"seed": {"type": "int", "low": 0, "high": 99, "step": 1},
      "batch_size": {"type": "int", "low": 2, "high": 201, "step": 1}}, "more than 10,000 points"),
    ({"lr": {"type": "uniform", "low": 0.1, "high": 0.1 + 1e-13, "step": 1e-15}}, "too small to tell"),
])
def test_a_grid_is_counted_before_it_is_listed(space: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        spec_from_dict({"sampler": "grid", "space": space})


def test_grid_values_keep_their_significant_digits() -> None:
    spec = spec_from_dict({"sampler": "grid", "space": {"eps": {"type": "uniform", "low": 1e-15, "high": 3e-15,
                                                                "step": 1e-15}}})
    assert spec.space[0].grid() == [1e-15, 2e-15, 3e-15]


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", ".hidden", "-rf", "", "a b", "x" * 101, "é", "a\nb",
                                  "..", "a\\b"])
def test_a_study_name_that_is_not_a_plain_folder_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=re.escape("letters, digits, '.', '_' or '-', not starting with '.' or '-'")):
        spec_from_dict(_with("name", name))


@pytest.mark.parametrize("name", ["lr-dropout-width", "seeds", "v1.2_final", "0", "x" * 100])
def test_plain_names_are_taken(name: str) -> None:
    assert spec_from_dict(_with("name", name)).name == name


def test_a_file_whose_stem_cannot_name_a_study_says_to_set_a_name(tmp_path: Path) -> None:
    path = tmp_path / "my sweep.toml"
    path.write_text('[space]\ndropout = { type = "uniform", low = 0.1, high = 0.3 }\n')
    with pytest.raises(ConfigError, match=r"'my sweep'.*set name = "):
        load_spec(path)


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid"])
@pytest.mark.parametrize("seed", [0, 2**32, 2**63 - 1])
def test_every_accepted_spec_builds_its_sampler_and_draws(sampler: str, seed: int) -> None:
    optuna = pytest.importorskip("optuna")
    from glassnet.sweep.study import pruner
    from glassnet.sweep.study import sampler as sampler_of
    from glassnet.sweep.worker import suggest

    space = {"lr": {"type": "log_uniform", "low": 1e-300, "high": 1e300},
             "eps": {"type": "uniform", "low": 5e-324, "high": 1.7e308},
             "dropout": {"type": "uniform", "low": 0.0, "high": 0.5, "step": 0.1},
             "epochs": {"type": "int", "low": 1, "high": 1 + 2**52, "step": 2**50},
             "hidden": {"type": "categorical", "choices": [[1], [8, 8]]},
             "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]}}
    if sampler == "grid":
        del space["lr"], space["eps"]
    spec = spec_from_dict({"sampler": sampler, "seed": seed, "space": space,
                           "pruning": {"startup_trials": 10_000, "warmup_epochs": 10_000}})
    study = optuna.create_study(sampler=sampler_of(spec, 3, 10**6), pruner=pruner(spec))
    for _ in range(12):                       # past TPE's random start-up draws
        trial = study.ask()
        spec.config_for({d.field: suggest(trial, d) for d in spec.space})
        trial.report(0.5, 1)
        assert not trial.should_prune()
        study.tell(trial, 0.5)


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

"""TrainConfig: defaults are the reference recipe, precedence, validation, TOML."""

import pytest

from glassnet.config import PRESETS, TrainConfig, load_toml, resolve
from glassnet.errors import ConfigError


def test_seed_preset_is_the_reference_recipe():
    config = PRESETS["seed"]
    assert config.sizes == [784, 256, 128, 10]
    assert (config.dropout, config.batchnorm, config.init) == (0.2, True, "he_normal")
    assert (config.optimizer, config.lr, config.beta1, config.beta2, config.eps) == ("adam", 1e-3, 0.9, 0.999, 1e-8)
    assert (config.schedule, config.lr_decay, config.lr_decay_every_epochs) == ("step", 0.95, 10)
    assert (config.epochs, config.batch_size, config.seed, config.dtype) == (50, 128, 0, "float32")


def test_precedence_preset_then_file_then_flags(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("epochs = 7\nlr = 0.01\nhidden = [64, 32]\n")
    config = resolve("seed", path, {"lr": 0.5})
    assert (config.epochs, config.lr, config.hidden) == (7, 0.5, (64, 32))


def test_toml_round_trip(tmp_path):
    config = TrainConfig(hidden=(100,), dropout=0.0, batchnorm=False, seed=5, run_dir="x")
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    assert load_toml(path) == config


@pytest.mark.parametrize("field, value", [
    ("dropout", 1.0),
    ("epochs", 0),
    ("batch_size", 1),
    ("lr", -0.1),
    ("lr", float("nan")),
    ("optimizer", "rmsprop"),
    ("schedule", "linear"),
    ("hidden", (0,)),
    ("dtype", "float16"),
    ("seed", -1),
])
def test_out_of_range_values_name_the_field(field, value):
    with pytest.raises(ConfigError, match=f"config field '{field}' must be"):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("text, message", [
    ("epochs = 'ten'\n", "'epochs' must be of type int"),
    ("epochs = 2.5\n", "'epochs' must be of type int"),
    ("batchnorm = 1\n", "'batchnorm' must be of type bool"),
    ("learning_rate = 0.1\n", "unknown config field"),
    ("epochs = \n", "not valid TOML"),
    ("[model]\nhidden = [3]\n", "top level"),
])
def test_bad_toml_files(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_toml(path)


def test_missing_file_and_unknown_preset(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_toml(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve("fastest")

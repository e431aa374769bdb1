"""``TrainConfig``: every knob of a training run, validated in one place, with presets.

Precedence, lowest first: a preset (``seed``, the reference recipe, by
default), a TOML file, then command-line flags. The resolved config is saved
with every run and checkpoint.
"""

import dataclasses
import json
import math
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glassnet.data.augment import Augment
from glassnet.errors import ConfigError
from glassnet.files import TOML, read_text
from glassnet.nn.init import INITIALIZERS
from glassnet.nn.layers import ACTIVATIONS

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "step", "cosine", "one_cycle")
DTYPES = ("float32", "float64")
ENGINES = ("fast", "layers")
AUTO, MEASURE = 0, -1                       # the config's 'threads' other than a count (train/threads.py)
MONITORS = ("loss", "accuracy")
INITS = tuple(INITIALIZERS)
# a run's checkpoint (weights and Adam's two moments, 24 bytes a parameter in float64) stays within the 2 GiB
# glassnet reads from a model file (glassnet.files.MODEL)
MAX_PARAMETERS = 80_000_000


@dataclass(frozen=True)
class TrainConfig:
    """The reference recipe by default: 784-256-128-10, BatchNorm, Dropout 0.2, Adam, ×0.95 every 10 epochs."""

    hidden: tuple[int, ...] = (256, 128)    # hidden layer widths; inputs 784 and 10 classes are implied
    dropout: float = 0.2                    # probability of dropping a hidden unit in training
    batchnorm: bool = True
    activation: str = "relu"                # the hidden layers' nonlinearity: one of nn.layers.ACTIVATIONS
    init: str = "he_normal"
    epochs: int = 50
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    beta1: float = 0.9                      # Adam's first-moment decay
    beta2: float = 0.999                    # Adam's second-moment decay
    eps: float = 1e-8                       # Adam's denominator guard
    momentum: float = 0.9                   # SGD only
    weight_decay: float = 0.0               # decoupled (AdamW); 0 is plain Adam
    schedule: str = "step"
    lr_decay: float = 0.95                  # step schedule: lr × lr_decay every lr_decay_every_epochs
    lr_decay_every_epochs: int = 10
    warmup_epochs: int = 0                  # cosine schedule: linear warm-up length
    one_cycle_pct_start: float = 0.3        # one-cycle schedule: the fraction of the steps that rises to lr, the peak
    one_cycle_div_factor: float = 25.0      # one-cycle schedule: it starts at lr / this
    one_cycle_final_div_factor: float = 1e4  # one-cycle schedule: it ends at lr / (div_factor · this)
    plateau_patience: int = 0               # epochs without a lower validation loss before lr × plateau_factor; 0: off
    plateau_factor: float = 0.5             # the lr's factor at each plateau
    label_smoothing: float = 0.0
    clip_grad_norm: float = 0.0             # clip the gradients' global norm to this before each update; 0: off
    augment_rotation: float = 0.0           # random rotation of training images, ± degrees
    augment_scale: float = 0.0              # random scaling by 1 ± this
    augment_shift: float = 0.0              # random translation, ± pixels
    elastic_alpha: float = 0.0              # elastic distortion strength in pixels (Simard et al.: 34); 0: off
    elastic_sigma: float = 4.0              # smoothness of the elastic field, pixels
    validation_size: int = 0                # last N training images held out for evaluation; 0: use the test set
    seed: int = 0                           # fixes initial weights, dropout masks and shuffling
    dtype: str = "float32"
    engine: str = "fast"                    # "fast": the fused step (nn/fused.py); "layers": layers and Adam as derived
    threads: int = AUTO                     # BLAS threads for training; 0: auto (a rule of the machine), -1: measure
    early_stopping_patience: int = 0        # stop after this many epochs without improvement on validation; 0: off
    early_stopping_monitor: str = "loss"    # the validation figure watched: "loss" (lower is better) or "accuracy"
    early_stopping_min_delta: float = 0.0   # the least change that counts as an improvement
    run_dir: str = ""                       # output folder; empty: runs/<time stamp>

    def __post_init__(self) -> None:
        _check_types(self)
        checks = [
            ("hidden", all(w >= 1 for w in self.hidden) and self.n_parameters <= MAX_PARAMETERS,
             f"positive widths, e.g. [256, 128], of a network of at most {MAX_PARAMETERS:,} parameters (its "
             "checkpoint, with Adam's moments in float64, within the 2 GiB glassnet reads)"),
            ("dropout", 0.0 <= self.dropout < 1.0, "in [0, 1)"),
            ("activation", self.activation in ACTIVATIONS, f"one of {tuple(ACTIVATIONS)}"),
            ("init", self.init in INITS, f"one of {INITS}"),
            ("epochs", self.epochs >= 1, "≥ 1"),
            ("batch_size", self.batch_size >= 2, "≥ 2 (BatchNorm needs two samples)"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}"),
            ("lr", self.lr > 0 and math.isfinite(self.lr), "a finite number > 0"),
            ("beta1", 0.0 <= self.beta1 < 1.0, "in [0, 1)"),
            ("beta2", 0.0 <= self.beta2 < 1.0, "in [0, 1)"),
            ("eps", 0 < self.eps < math.inf, "a finite number > 0"),
            ("momentum", 0.0 <= self.momentum < 1.0, "in [0, 1)"),
            ("weight_decay", 0.0 <= self.weight_decay < 1.0, "in [0, 1)"),
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("lr_decay", 0.0 < self.lr_decay <= 1.0, "in (0, 1]"),
            ("lr_decay_every_epochs", self.lr_decay_every_epochs >= 1, "≥ 1"),
            ("warmup_epochs", 0 <= self.warmup_epochs < self.epochs, "in [0, epochs)"),
            ("one_cycle_pct_start", 0.0 < self.one_cycle_pct_start < 1.0, "in (0, 1)"),
            ("one_cycle_div_factor", 1.0 <= self.one_cycle_div_factor < math.inf, "a finite number ≥ 1"),
            ("one_cycle_final_div_factor", 1.0 <= self.one_cycle_final_div_factor < math.inf, "a finite number ≥ 1"),
            ("plateau_patience", self.plateau_patience >= 0, "≥ 0 (0: the lr is never reduced on a plateau)"),
            ("plateau_factor", 0.0 < self.plateau_factor < 1.0, "in (0, 1)"),
            ("label_smoothing", 0.0 <= self.label_smoothing < 1.0, "in [0, 1)"),
            ("clip_grad_norm", 0.0 <= self.clip_grad_norm < math.inf, "a finite number ≥ 0 (0: no clipping)"),
            ("augment_rotation", 0.0 <= self.augment_rotation <= 180.0, "in [0, 180] degrees"),
            ("augment_scale", 0.0 <= self.augment_scale < 1.0, "in [0, 1)"),
            ("augment_shift", 0.0 <= self.augment_shift <= 14.0, "in [0, 14] pixels"),
            ("elastic_alpha", 0.0 <= self.elastic_alpha <= 100.0, "in [0, 100] pixels"),
            ("elastic_sigma", 0.5 <= self.elastic_sigma <= 20.0, "in [0.5, 20] pixels"),
            ("validation_size", self.validation_size >= 0, "≥ 0"),
            ("seed", 0 <= self.seed < 2**63, "in [0, 2**63)"),
            ("dtype", self.dtype in DTYPES, f"one of {DTYPES}"),
            ("engine", self.engine in ENGINES, f"one of {ENGINES}"),
            ("threads", self.threads >= MEASURE, "a count ≥ 1, 0 (auto: a rule of the machine) or -1 (measure: the "
                                                 "fastest of a short measurement at the start)"),
            ("early_stopping_patience", self.early_stopping_patience >= 0, "≥ 0 (0: no early stopping)"),
            ("early_stopping_monitor", self.early_stopping_monitor in MONITORS, f"one of {MONITORS}"),
            ("early_stopping_min_delta", 0.0 <= self.early_stopping_min_delta < math.inf, "a finite number ≥ 0"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"config field {name!r} must be {expected}, got {getattr(self, name)!r}")

    @property
    def n_parameters(self) -> int:
        """The trainable numbers of the MLP on MNIST (biases and batch norm's γ and β counted as biases)."""
        return sum((n_in + 1) * n_out for n_in, n_out in zip(self.sizes, self.sizes[1:]))

    @property
    def sizes(self) -> list[int]:
        """Layer sizes of the MLP: 784, hidden..., 10."""
        return [784, *self.hidden, 10]

    @property
    def augment(self) -> Augment:
        """The training-image distortions this config asks for (identity when all are 0)."""
        return Augment(self.augment_rotation, self.augment_scale, self.augment_shift,
                       self.elastic_alpha, self.elastic_sigma)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}

    def to_toml(self) -> str:
        """The config as a TOML document that ``load_toml`` reads back."""
        return "".join(f"{name} = {json.dumps(value)}\n" for name, value in self.to_dict().items())


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _check_types(config: TrainConfig) -> None:
    for name, kind in _field_types().items():
        value = getattr(config, name)
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == tuple[int, ...]:
            ok = isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise ConfigError(f"config field {name!r} must be of type {getattr(kind, '__name__', kind)}, "
                              f"got {value!r}")


PRESETS: dict[str, TrainConfig] = {
    "seed": TrainConfig(),
    # Chosen on the validation split (benchmarks/ablation.py, docs/beyond.md): width, affine and elastic
    # distortions and a cosine schedule each gained; label smoothing and weight decay did not.
    "best": TrainConfig(hidden=(1024, 1024), epochs=80, schedule="cosine", warmup_epochs=1,
                        augment_rotation=10.0, augment_scale=0.1, augment_shift=2.0,
                        elastic_alpha=20.0, elastic_sigma=4.0, validation_size=10000),
}


def with_overrides(base: TrainConfig, overrides: dict[str, Any], source: str = "overrides") -> TrainConfig:
    """``base`` with fields replaced; unknown names and bad values raise ``ConfigError``."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown config field(s) {', '.join(unknown)}; "
                          f"known fields: {', '.join(sorted(known))}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return dataclasses.replace(base, **values)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The table of a TOML file; ``ConfigError`` naming ``what`` the file is if it cannot be read or parsed."""
    try:
        return tomllib.loads(read_text(path, what, TOML, ConfigError))
    except ConfigError:
        raise
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the {what} ({e.strerror or e})") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from e
    except ValueError as e:                          # an integer of more digits than Python converts
        raise ConfigError(f"{path}: not a {what} glassnet can read ({str(e).split(':')[0]})") from e
    except RecursionError:
        raise ConfigError(f"{path}: arrays or tables nested too deeply for a {what}") from None


def load_toml(path: str | Path, base: TrainConfig | None = None) -> TrainConfig:
    """Read a TOML file of config fields on top of ``base`` (default: the ``seed`` preset)."""
    path = Path(path)
    table = read_toml(path, "config file")
    nested = [k for k, v in table.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"{path}: config fields go at the top level, found table(s) {', '.join(nested)}")
    return with_overrides(base or PRESETS["seed"], table, str(path))


def resolve(preset: str = "seed", toml_path: str | Path | None = None,
            flags: dict[str, Any] | None = None) -> TrainConfig:
    """preset < TOML file < flags."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    config = PRESETS[preset]
    if toml_path is not None:
        config = load_toml(toml_path, config)
    return with_overrides(config, flags or {}, "command line")

"""glassnet: a neural network written from scratch in NumPy, built to be seen through.

The public API is loaded lazily: ``import glassnet`` imports nothing but this
file, and ``glassnet.fit`` loads the training stack the first time it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from glassnet.version import __version__

# public name → the module that defines it
_EXPORTS = {
    "load_model": "glassnet.checkpoint", "save_checkpoint": "glassnet.checkpoint",
    "PRESETS": "glassnet.config", "TrainConfig": "glassnet.config",
    "load_mnist": "glassnet.data.mnist", "to_inputs": "glassnet.data.mnist",
    "CheckpointError": "glassnet.errors", "ConfigError": "glassnet.errors", "DatasetError": "glassnet.errors",
    "DivergenceError": "glassnet.errors", "GlassnetError": "glassnet.errors", "IdxFormatError": "glassnet.errors",
    "BatchNorm": "glassnet.nn.layers", "Dropout": "glassnet.nn.layers", "Linear": "glassnet.nn.layers",
    "ACTIVATIONS": "glassnet.nn.layers", "Activation": "glassnet.nn.layers", "ReLU": "glassnet.nn.layers",
    "LeakyReLU": "glassnet.nn.layers", "GELU": "glassnet.nn.layers", "Tanh": "glassnet.nn.layers",
    "Sigmoid": "glassnet.nn.layers",
    "log_softmax": "glassnet.nn.losses", "softmax": "glassnet.nn.losses",
    "softmax_cross_entropy": "glassnet.nn.losses",
    "Sequential": "glassnet.nn.model", "mlp": "glassnet.nn.model",
    "SGD": "glassnet.nn.optim", "Adam": "glassnet.nn.optim",
    "Param": "glassnet.nn.params",
    "TrainData": "glassnet.train", "evaluate": "glassnet.train", "fit": "glassnet.train",
}

__all__ = [
    "ACTIVATIONS",
    "GELU",
    "PRESETS",
    "SGD",
    "Activation",
    "Adam",
    "BatchNorm",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "DivergenceError",
    "Dropout",
    "GlassnetError",
    "IdxFormatError",
    "LeakyReLU",
    "Linear",
    "Param",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "TrainConfig",
    "TrainData",
    "__version__",
    "evaluate",
    "fit",
    "load_mnist",
    "load_model",
    "log_softmax",
    "mlp",
    "save_checkpoint",
    "softmax",
    "softmax_cross_entropy",
    "to_inputs",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'glassnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value                     # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from glassnet.checkpoint import load_model, save_checkpoint
    from glassnet.config import PRESETS, TrainConfig
    from glassnet.data.mnist import load_mnist, to_inputs
    from glassnet.errors import (
        CheckpointError,
        ConfigError,
        DatasetError,
        DivergenceError,
        GlassnetError,
        IdxFormatError,
    )
    from glassnet.nn.layers import (
        ACTIVATIONS,
        GELU,
        Activation,
        BatchNorm,
        Dropout,
        LeakyReLU,
        Linear,
        ReLU,
        Sigmoid,
        Tanh,
    )
    from glassnet.nn.losses import log_softmax, softmax, softmax_cross_entropy
    from glassnet.nn.model import Sequential, mlp
    from glassnet.nn.optim import SGD, Adam
    from glassnet.nn.params import Param
    from glassnet.train import TrainData, evaluate, fit

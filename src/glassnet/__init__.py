"""glassnet: a neural network written from scratch in NumPy, built to be seen through."""

__version__ = "0.1.0"

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
from glassnet.nn.layers import BatchNorm, Dropout, Linear, ReLU
from glassnet.nn.losses import log_softmax, softmax, softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import SGD, Adam
from glassnet.nn.params import Param
from glassnet.train import TrainData, evaluate, fit

__all__ = [
    "PRESETS",
    "SGD",
    "Adam",
    "BatchNorm",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "DivergenceError",
    "Dropout",
    "GlassnetError",
    "IdxFormatError",
    "Linear",
    "Param",
    "ReLU",
    "Sequential",
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

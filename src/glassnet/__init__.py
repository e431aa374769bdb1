"""glassnet: a neural network written from scratch in NumPy, built to be seen through."""

from glassnet.errors import CheckpointError, ConfigError, DatasetError, DivergenceError, GlassnetError, IdxFormatError
from glassnet.nn.layers import BatchNorm, Dropout, Linear, ReLU
from glassnet.nn.losses import log_softmax, softmax, softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import SGD, Adam
from glassnet.nn.params import Param

__version__ = "0.1.0"

__all__ = [
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
                             "__version__",
                             "log_softmax",
                             "mlp",
                             "softmax",
                             "softmax_cross_entropy",
]

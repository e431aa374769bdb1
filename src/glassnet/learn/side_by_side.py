"""``glassnet learn train``: the reference network built from the learner's layers, trained beside glassnet's.

Both networks start from the same weights (the learner's drawn by the learner's ``he_normal``, from
the generator glassnet's weights come from, so they are equal when it is right) and see the same
batches in the same order; each uses its own layers, loss and Adam (the learner's from the workbook,
glassnet's from ``nn/``). Only the dropout masks differ (each layer draws its own), so the two agree
to within the noise, and ``verdict.compare_predictions`` tells that noise from a real gap.

The learner's code runs in this process (training is long, and a Ctrl-C stops it): whatever it raises
or does, even sys.exit, becomes one ``LearnerCodeError`` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from glassnet.errors import GlassnetError
from glassnet.learn.learner_code import describe, import_failure, load
from glassnet.learn.verdict import Verdict, compare_predictions
from glassnet.nn.kinds import record
from glassnet.nn.layers import Linear
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import mlp
from glassnet.nn.optim import Adam

SIZES = (784, 256, 128, 10)
NEEDED = ("linear", "batchnorm", "relu", "dropout", "softmax_cross_entropy", "adam", "init")


@dataclass(frozen=True)
class EpochRow:
    """One epoch of both networks: mean training loss and test accuracy."""

    epoch: int
    yours_loss: float
    yours_accuracy: float
    glassnet_loss: float
    glassnet_accuracy: float


class _Network:
    """Layers, a loss function and an optimizer: one training step and inference-mode prediction."""

    def __init__(self, layers: list[Any], loss: Callable[..., tuple[float, Any]], optimizer: Any) -> None:
        self.layers, self.loss, self.optimizer = layers, loss, optimizer

    def step(self, x: NDArray[np.floating], labels: NDArray[np.intp]) -> float:
        for layer in self.layers:
            layer.training = True
        for layer in self.layers:
            x = layer.forward(x)
        loss, grad = self.loss(x, labels)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        self.optimizer.step()
        return float(loss)

    def right(self, x: NDArray[np.floating], labels: NDArray[np.intp], batch_size: int = 1000) -> NDArray[np.bool_]:
        """Which rows of x the network classifies right, in inference mode."""
        for layer in self.layers:
            layer.training = False
        right = []
        for start in range(0, len(x), batch_size):
            out = x[start:start + batch_size]
            for layer in self.layers:
                out = layer.forward(out)
            right.append(np.asarray(out).argmax(axis=1) == labels[start:start + batch_size])
        return np.concatenate(right) if right else np.zeros(0, bool)


@dataclass(frozen=True)
class SideBySide:
    """Every epoch of both networks, and the verdict on their final test predictions."""

    rows: list[EpochRow]
    verdict: Verdict


class LearnerCodeError(GlassnetError):
    """The learner's code raised (or exited) while the network built from it was trained."""


def _files(folder: Path) -> list[Path]:
    return [(folder / f"{name}.py").absolute() for name in NEEDED]


@contextmanager
def _learners_code(folder: Path) -> Iterator[None]:
    """Whatever the learner's layers raise or do, even sys.exit, said in one line that names their file and line."""
    try:
        yield
    except NotImplementedError as e:
        raise GlassnetError(f"a layer of the workbook is not written yet ({e}); "
                            f"'glassnet learn check {folder}' shows which") from None
    except (KeyboardInterrupt, GlassnetError):            # a Ctrl-C, or glassnet's own word on a file
        raise
    except BaseException as e:
        raise LearnerCodeError(f"your network {describe(e, _files(folder))}; 'glassnet learn check {folder}' "
                               "checks each layer") from None


def _modules(folder: Path) -> dict[str, ModuleType]:
    """The workbook's files that the network needs, imported."""
    missing = [name for name in NEEDED if not (folder / f"{name}.py").exists()]
    if missing:
        raise GlassnetError(f"{folder} lacks {', '.join(f'{m}.py' for m in missing)}; "
                            f"write a workbook with 'glassnet learn start {folder}'")
    modules = {}
    for name, path in zip(NEEDED, _files(folder)):
        try:
            modules[name] = load(path)
        except (KeyboardInterrupt, GlassnetError):
            raise
        except BaseException as e:                         # whatever the file's code raises or does, even sys.exit
            raise LearnerCodeError(f"{import_failure(path, e)}; fix it, then check it with "
                                   f"'glassnet learn check {folder} {name}'") from None
    return modules


def _yours(modules: dict[str, ModuleType], reference: list[Any], seed: int) -> _Network:
    """The learner's network: their layers, their initial weights drawn as glassnet's are, their loss and Adam."""
    init = np.random.default_rng(seed)                  # the generator mlp(..., rng=default_rng(seed)) draws from
    rng = np.random.default_rng(seed + 1)

    def linear(layer: Linear) -> Any:
        mine = modules["linear"].Linear(layer.in_features, layer.out_features, rng=rng,
                                        bias=layer.bias is not None, dtype=np.float64)
        weights = np.asarray(modules["init"].he_normal(init, layer.in_features, layer.out_features, np.float64))
        if weights.shape != layer.weight.value.shape:
            raise GlassnetError(f"your he_normal returned shape {weights.shape} for fan_in {layer.in_features} "
                                f"and fan_out {layer.out_features}; expected {layer.weight.value.shape}")
        mine.weight.value[...] = weights
        return mine

    # the learner's version of each layer kind of the reference network, by the kind's name (nn.kinds)
    yours: dict[str, Callable[[Any], Any]] = {
        "Linear": linear,
        "BatchNorm": lambda layer: modules["batchnorm"].BatchNorm(layer.n_features, dtype=np.float64),
        "ReLU": lambda layer: modules["relu"].ReLU(),
        "Dropout": lambda layer: modules["dropout"].Dropout(layer.p, rng=rng),
    }
    layers = []
    for layer in reference:
        kind = record(layer)["type"]
        if kind not in yours:
            raise GlassnetError(f"the workbook has no exercise for the layer kind {kind}; the network it trains "
                                f"is built of {', '.join(yours)}")
        layers.append(yours[kind](layer))
    params = [p for layer in layers for p in layer.params()]
    return _Network(layers, modules["softmax_cross_entropy"].softmax_cross_entropy, modules["adam"].Adam(params))


def train_side_by_side(folder: str | Path, x_train: NDArray[np.floating], y_train: NDArray[np.integer],
                       x_test: NDArray[np.floating], y_test: NDArray[np.integer], *, epochs: int = 3,
                       batch_size: int = 128, seed: int = 0,
                       on_epoch: Callable[[EpochRow], None] | None = None) -> SideBySide:
    """Train the learner's network and glassnet's on the same data, epoch by epoch; inputs in [0, 1].

    Raises ``LearnerCodeError`` when the learner's code raises, naming their file and line.
    """
    if epochs < 1 or batch_size < 2 or len(x_train) < 2 or len(x_test) < 1:
        raise ValueError(f"expected epochs >= 1, batch_size >= 2 (batch norm), at least 2 training rows and 1 test "
                         f"row; got epochs={epochs}, batch_size={batch_size}, {len(x_train)} and {len(x_test)} rows")
    model = mlp(SIZES, rng=np.random.default_rng(seed), dropout=0.2, dtype=np.float64)
    theirs = _Network(model.layers, softmax_cross_entropy, Adam(model.params()))
    folder = Path(folder)
    modules = _modules(folder)
    with _learners_code(folder):
        yours = _yours(modules, model.layers, seed)
    x_train, x_test = np.asarray(x_train, np.float64), np.asarray(x_test, np.float64)
    labels_train, labels_test = np.asarray(y_train, np.intp), np.asarray(y_test, np.intp)
    shuffle = np.random.default_rng(seed + 2)
    rows = []
    for epoch in range(1, epochs + 1):
        order = shuffle.permutation(len(x_train))
        losses: dict[str, list[float]] = {"yours": [], "glassnet": []}
        for start in range(0, len(order) - 1, batch_size):          # a last batch of one cannot be normalized
            batch = order[start:start + batch_size]
            with _learners_code(folder):
                losses["yours"].append(yours.step(x_train[batch], labels_train[batch]))
            losses["glassnet"].append(theirs.step(x_train[batch], labels_train[batch]))
        with _learners_code(folder):
            yours_right = yours.right(x_test, labels_test)
        theirs_right = theirs.right(x_test, labels_test)
        row = EpochRow(epoch, float(np.mean(losses["yours"])), float(yours_right.mean()),
                       float(np.mean(losses["glassnet"])), float(theirs_right.mean()))
        rows.append(row)
        if on_epoch is not None:
            on_epoch(row)
    return SideBySide(rows, compare_predictions(yours_right, theirs_right))

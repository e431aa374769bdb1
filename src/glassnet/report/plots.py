"""PNG plots of a run, with matplotlib (optional extra ``plot``), imported lazily."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from glassnet.atomic import atomic_write_bytes
from glassnet.metrics import ClassificationReport
from glassnet.train import EpochStats

if TYPE_CHECKING:
    from glassnet.report.compare import RunSummary
    from glassnet.train.lr_find import RangeTest


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path.name


def learning_curves(history: Sequence[EpochStats], path: Path, eval_name: str = "test") -> str:
    plt = _pyplot()
    epochs = [s.epoch for s in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(epochs, [s.train_loss for s in history], label="train")
    ax_loss.plot(epochs, [s.eval_loss for s in history], label=eval_name)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax_acc.plot(epochs, [100 * s.train_accuracy for s in history], label="train")
    ax_acc.plot(epochs, [100 * s.eval_accuracy for s in history], label=eval_name)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def confusion(report: ClassificationReport, path: Path) -> str:
    plt = _pyplot()
    counts = report.confusion
    fig, ax = plt.subplots(figsize=(6, 5.2))
    shown = np.log1p(counts)                               # log scale, or the diagonal hides every error
    image = ax.imshow(shown, cmap="Blues")
    for (i, j), value in np.ndenumerate(counts):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test)", xticks=range(10), yticks=range(10))
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    return _save(fig, path)


def per_class_f1(report: ClassificationReport, path: Path) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(range(10), 100 * report.f1, color="tab:blue")
    low = max(0.0, 100 * float(report.f1.min()) - 2)
    ax.set(xlabel="digit", ylabel="F1 (%)", title="F1 per class (test)", xticks=range(10), ylim=(low, 100))
    for c, value in enumerate(report.f1):
        ax.text(c, 100 * value, f"{100 * value:.1f}", ha="center", va="bottom", fontsize=7)
    return _save(fig, path)


def misclassified(images: NDArray[np.uint8], labels: NDArray[np.integer], predicted: NDArray[np.integer],
                  path: Path, limit: int = 40) -> str:
    plt = _pyplot()
    wrong = np.flatnonzero(predicted != labels)[:limit]
    columns = 10
    rows = max(1, -(-len(wrong) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(f"{labels[i]}→{predicted[i]}", fontsize=8, color="tab:red")
    fig.suptitle("Misclassified test digits (true→predicted)")
    return _save(fig, path)


def first_layer_weights(weight: NDArray[np.floating], path: Path, limit: int = 64,
                        title: str = "First-layer weights of {n} units (red: positive, blue: negative)") -> str:
    """Columns of the first Linear's weight (784, D) as 28×28 tiles: what each unit looks for.

    Each tile is scaled by its own largest |weight| to [−1, 1]; tiles form one mosaic image.
    """
    plt = _pyplot()
    n = min(limit, weight.shape[1])
    columns = 8
    rows = -(-n // columns)
    mosaic = np.full((rows * 29 + 1, columns * 29 + 1), np.nan)
    for unit in range(n):
        tile = weight[:, unit].reshape(28, 28)
        r, c = divmod(unit, columns)
        mosaic[1 + 29 * r:29 * (r + 1), 1 + 29 * c:29 * (c + 1)] = tile / (np.abs(tile).max() or 1.0)
    fig, ax = plt.subplots(figsize=(columns * 0.9, rows * 0.9 + 0.4))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.axis("off")
    ax.set_title(title.format(n=n), fontsize=9)
    return _save(fig, path)


def compared_runs(runs: Sequence[RunSummary], path: Path) -> str:
    """Evaluation loss and accuracy per epoch, one line per run, into the PNG ``path``."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        epochs = [s.epoch for s in r.history]
        label = f"{r.name} ({r.eval_name})"
        ax_loss.plot(epochs, [s.eval_loss for s in r.history], marker=".", label=label)
        ax_acc.plot(epochs, [100 * s.eval_accuracy for s in r.history], marker=".", label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Evaluation loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Evaluation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=7)
    return _save(fig, path)


def lr_range_test(found: RangeTest, path: Path) -> str:
    """The range test's loss against the learning rate (log axis), raw and smoothed, with the suggestion marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(found.lrs, found.losses, alpha=0.3, label="loss")
    ax.plot(found.lrs, found.smoothed, label="smoothed loss")
    ax.axvline(found.suggestion, color="C3", linestyle="--", label=f"suggested lr {found.suggestion:.2e}")
    ax.set(xscale="log", xlabel="learning rate", ylabel="cross-entropy", title="Learning-rate range test",
           ylim=(0, 1.2 * max(found.smoothed[0], min(found.smoothed) * 4)))
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)

"""Synthetic MNIST-format folders for tests (no network, no real data)."""

import gzip
from pathlib import Path

import numpy as np

from glassnet.data.idx import encode_idx, write_idx
from glassnet.data.mnist import MNIST_FILES


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: each class is a bright bar at its own place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 3 + 2 * int(label)
        images[i, row:row + 3, 4:24] = 255
    return images, labels


def write_mnist_folder(folder: Path, n_train: int = 200, n_test: int = 100, *, gz: bool = True) -> Path:
    """Write the four MNIST files of a synthetic set into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = synthetic_digits(n_train, 1), synthetic_digits(n_test, 2)
    arrays = {"train_images": train[0], "train_labels": train[1], "test_images": test[0], "test_labels": test[1]}
    for part, (name, _) in MNIST_FILES.items():
        write_idx(folder / (name + (".gz" if gz else "")), arrays[part])
    return folder


def synthetic_gz_files(n_train: int = 50, n_test: int = 20) -> dict[str, bytes]:
    """Gzip bytes of each synthetic file, by canonical name, for a download server."""
    train, test = synthetic_digits(n_train, 1), synthetic_digits(n_test, 2)
    arrays = {"train_images": train[0], "train_labels": train[1], "test_images": test[0], "test_labels": test[1]}
    return {name: gzip.compress(encode_idx(arrays[part])) for part, (name, _) in MNIST_FILES.items()}

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


def mnist_style_digits() -> np.ndarray:
    """(3, 28, 28) uint8 digits made by MNIST's own recipe, independently of glassnet's preprocessing: a
    "0", a "7" and a slanted "1" drawn as thick strokes at 4× resolution, area-averaged into a box 20
    pixels on its longer side (anti-aliased rims), and pasted in 28×28 by a whole-pixel shift that puts
    their centre of mass within half a pixel of (14, 14), as in MNIST."""
    rows, cols = np.mgrid[0:80, 0:80] + 0.5                       # pixel centres at 4× resolution
    ellipse = ((rows - 40) / 40) ** 2 + ((cols - 28) / 28) ** 2
    zero = (ellipse <= 1) & (((rows - 43) / 30) ** 2 + ((cols - 30) / 17) ** 2 > 1)    # thicker top left
    seven = (rows < 12) & (cols < 64) | (np.abs(cols - (64 - 0.55 * rows)) < 7) & (cols < 64)
    one = (np.abs(cols - (28 - 0.2 * rows)) < 6) | (rows < 10) & (cols > 12) & (cols < 28)   # with a flag
    digits = []          # none symmetric: a centre of mass at a half pixel could go either way
    for shape in (zero, seven, one):
        shape = shape[:, shape.any(axis=0)].astype(np.float64)    # crop the columns to the ink
        shape = shape[:, :shape.shape[1] // 4 * 4]
        patch = shape.reshape(20, 4, -1, 4).mean(axis=(1, 3))     # area averaging: 80 → 20
        patch = np.round(patch * 255) / 255
        centre = [(np.arange(n) * patch.sum(axis=1 - axis)).sum() / patch.sum() for axis, n in enumerate(patch.shape)]
        top, left = (int(np.ceil(13.5 - c)) for c in centre)      # the centre of mass lands in [13.5, 14.5)
        digit = np.zeros((28, 28))
        digit[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
        digits.append(np.round(digit * 255).astype(np.uint8))
    return np.array(digits)

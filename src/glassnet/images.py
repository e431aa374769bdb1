"""Reading a person's digits from files: PNG/JPEG (Pillow, optional extra ``image``) or ``.npy`` arrays.

``load_digits`` returns them preprocessed (``data.preprocess``), ready for the network.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from tokenize import TokenError

import numpy as np
from numpy.typing import NDArray

from glassnet.data.preprocess import preprocess_digit
from glassnet.errors import GlassnetError

MAX_PIXELS = 50_000_000           # a phone photo is ~12 MP; refuse decompression bombs well before memory runs out


class ImageInputError(GlassnetError):
    """An input file cannot be read as a digit image."""


def load_digits(path: Path) -> list[tuple[str, NDArray[np.float32]]]:
    """(name, MNIST-like 28×28 image) pairs from one file; ``ImageInputError`` for anything unusable."""
    digits = []
    for name, image in read_digits(path):
        try:
            digits.append((name, preprocess_digit(image)))
        except ValueError as e:
            raise ImageInputError(f"{name}: {e}") from None
    return digits


def read_digits(path: Path) -> list[tuple[str, NDArray]]:  # type: ignore[type-arg]
    """(name, image) pairs from one file: one for an image, one per row of an array batch."""
    if not path.is_file():
        raise ImageInputError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        return _read_npy(path)
    return [(str(path), read_image(path))]


def _read_npy(path: Path) -> list[tuple[str, NDArray]]:  # type: ignore[type-arg]
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, SyntaxError, TokenError, MemoryError) as e:   # header: ast.literal_eval
        raise ImageInputError(f"{path}: not a readable .npy array ({e})") from e
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise ImageInputError(f"{path}: expected uint8 pixels or floats in [0, 1], got dtype {array.dtype}")
    if array.shape == (784,):
        array = array.reshape(28, 28)
    elif array.ndim == 2 and array.shape[1] == 784:
        array = array.reshape(-1, 28, 28)
    if array.ndim == 2:
        return [(str(path), array)]
    if array.ndim == 3 and array.shape[2] in (3, 4) and min(array.shape[:2]) > 4:
        return [(str(path), array)]                      # one color image (H, W, RGB or RGBA)
    if array.ndim == 3 and array.shape[0] > 0 and min(array.shape[1:]) > 4:
        return [(f"{path}[{i}]", image) for i, image in enumerate(array)]
    raise ImageInputError(f"{path}: expected an image (H, W) or (H, W, 3|4), a batch (N, H, W), (784,) or "
                          f"(N, 784), with sides of at least 5 pixels; got shape {array.shape}")


def read_image(path: Path) -> NDArray[np.uint8]:
    """Pixels of a PNG/JPEG/… file as uint8 (H, W) or (H, W, 4), upright per its EXIF orientation."""
    try:
        from PIL import Image, ImageOps
    except ImportError as e:
        raise ImageInputError(f"{path}: reading images needs Pillow; pip install 'glassnet[image]' "
                              "(or pass a .npy array)") from e
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageInputError(f"{path}: {image.width}×{image.height} pixels is too large "
                                          f"(limit {MAX_PIXELS:,}); crop or shrink the photo")
                upright = ImageOps.exif_transpose(image)
                has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
                return np.asarray(upright.convert("RGBA" if has_alpha else "L"), dtype=np.uint8)
    except ImageInputError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageInputError(f"{path}: not a readable image ({e})") from e

"""Reading a person's digits from files: PNG/JPEG (Pillow, optional extra ``image``) or ``.npy`` arrays.

``load_digits`` returns them preprocessed (``data.preprocess``), ready for the network.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from tokenize import TokenError
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from glassnet.data.preprocess import preprocess_digit
from glassnet.errors import GlassnetError
from glassnet.files import IMAGE, open_regular

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
    try:
        with open_regular(path, "image file", IMAGE, ImageInputError) as f:
            if path.suffix.lower() == ".npy":
                return _read_npy(path)                   # memory-mapped by name: now known to be a regular file
            return [(str(path), read_image(path, f))]
    except FileNotFoundError:
        raise ImageInputError(f"{path}: no such file") from None
    except OSError as e:
        raise ImageInputError(f"{path}: cannot read the file ({e.strerror or e})") from e


def _read_npy(path: Path) -> list[tuple[str, NDArray]]:  # type: ignore[type-arg]
    try:
        # memory-mapped, so an array's size is checked before its pixels are read
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError, SyntaxError, TokenError, MemoryError) as e:   # header: ast.literal_eval
        raise ImageInputError(f"{path}: not a readable .npy array ({e})") from e
    if not isinstance(array, np.ndarray):                # np.load opens an .npz archive whatever its name
        array.close()
        raise ImageInputError(f"{path}: this is an .npz archive, not a .npy array; save one array with "
                              "np.save(path, images)")
    if array.size > MAX_PIXELS:
        raise ImageInputError(f"{path}: {array.size:,} values is too large (limit {MAX_PIXELS:,}); "
                              "crop or shrink the images")
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise ImageInputError(f"{path}: expected uint8 pixels or floats in [0, 1], got dtype {array.dtype}")
    array = np.array(array)                              # read the pixels, releasing the file
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


def read_image(path: Path, file: BinaryIO) -> NDArray:  # type: ignore[type-arg]
    """Pixels of a PNG/JPEG/TIFF/… image read from ``file`` (named ``path``), upright per its EXIF orientation:
    uint8 (H, W) or (H, W, 4), or, for 16-bit, 32-bit and float images, float32 (H, W) in [0, 1] with their
    full precision."""
    try:
        from PIL import Image, ImageOps
    except ImportError as e:
        raise ImageInputError(f"{path}: reading images needs Pillow; pip install 'glassnet[image]' "
                              "(or pass a .npy array)") from e
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageInputError(f"{path}: {image.width}×{image.height} pixels is too large "
                                          f"(limit {MAX_PIXELS:,}); crop or shrink the photo")
                return _pixels(ImageOps.exif_transpose(image))
    except ImageInputError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageInputError(f"{path}: not a readable image ({e})") from e


def _pixels(image: Any) -> NDArray:  # type: ignore[type-arg]
    """Every Pillow mode, read faithfully: deep grayscale is scaled, not clipped to 8 bits."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("the image holds NaN or infinite values")
        low, high = float(values.min()), float(values.max())
        if mode == "F" and low >= 0.0 and high <= 1.0:
            scaled = values                                        # already in [0, 1]
        elif low >= 0.0 and high <= 255.0 and mode == "I":
            scaled = values / 255.0                                # 8-bit values in a 32-bit image
        elif low >= 0.0 and high <= 65535.0 and mode != "F":
            scaled = values / 65535.0                              # 16-bit grayscale
        else:
            scaled = (values - low) / ((high - low) or 1.0)        # any other range: its own
        return scaled.astype(np.float32)
    if mode == "1":
        return np.asarray(image, dtype=np.uint8) * np.uint8(255)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    target = "RGBA" if has_alpha else "L"
    return np.asarray(image if mode == target else image.convert(target), dtype=np.uint8)

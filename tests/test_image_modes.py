"""Every image mode Pillow opens is read faithfully, with dark ink on light paper and light on dark."""

import numpy as np
import pytest

from glassnet.checkpoint import load_model
from glassnet.demo import demo_model_path
from glassnet.images import load_digits
from tests.mnist_fixtures import synthetic_digits

Image = pytest.importorskip("PIL.Image")


def _digit(dark_ink: bool) -> np.ndarray:
    images, _ = synthetic_digits(1, 7)
    big = np.kron(images[0], np.ones((4, 4), np.uint8))                   # 112×112, light ink on black
    return 255 - big if dark_ink else big


def _save(pixels: np.ndarray, mode: str, path):
    """The same picture in ``mode``; deep modes hold the values at their own scale."""
    if mode in ("I;16", "I;16B"):
        wide = pixels.astype(np.uint16) * 257                              # 8 → 16 bits
        image = Image.frombytes(mode, pixels.shape[::-1], wide.astype(">u2" if mode.endswith("B") else "<u2")
                                .tobytes())
        path = path.with_suffix(".tif" if mode.endswith("B") else ".png")
    elif mode == "I":
        image, path = Image.fromarray(pixels.astype(np.int32) * 257), path.with_suffix(".tif")
    elif mode == "F":
        image, path = Image.fromarray(pixels.astype(np.float32) / 255), path.with_suffix(".tif")
    elif mode == "1":                                                      # thresholded, not dithered
        image, path = Image.fromarray(pixels).convert("1", dither=Image.Dither.NONE), path.with_suffix(".png")
    elif mode == "CMYK":
        image, path = Image.fromarray(pixels).convert("CMYK"), path.with_suffix(".jpg")
    else:
        image, path = Image.fromarray(pixels).convert(mode), path.with_suffix(".png")
    image.save(path)
    return path


MODES = ["L", "1", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I;16B", "I", "F"]


@pytest.mark.parametrize("dark_ink", [True, False], ids=["dark ink", "light ink"])
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_reads_like_the_8_bit_grayscale(tmp_path, mode, dark_ink):
    pixels = _digit(dark_ink)
    [(_, expected)] = load_digits(_save(pixels, "L", tmp_path / "reference"))
    [(_, got)] = load_digits(_save(pixels, mode, tmp_path / "image"))
    assert got.any(), f"{mode} read as blank"
    model, _ = load_model(demo_model_path())
    assert model.predict(got.reshape(1, 784))[0] == model.predict(expected.reshape(1, 784))[0]
    if mode not in ("1", "CMYK", "P"):                                    # lossless and not thresholded
        np.testing.assert_allclose(got, expected, atol=0.02)

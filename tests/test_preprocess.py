"""MNIST-style preprocessing of a person's digit."""

import numpy as np
import pytest

from glassnet.data.preprocess import preprocess_digit, resize, to_unit_gray


def _blob(height=200, width=150, top=20, left=90, ink_h=60, ink_w=30):
    """Dark ink (a filled rectangle with a tail) on light paper, far from the centre."""
    image = np.full((height, width), 230, np.uint8)
    image[top:top + ink_h, left:left + ink_w] = 20
    return image


def _center_of_mass(image):
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


def test_off_centre_digit_is_centred_and_scaled_into_20x20():
    out = preprocess_digit(_blob())
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() == pytest.approx(1.0)
    rows, cols = np.nonzero(out > 0.05)
    assert rows.max() - rows.min() + 1 == 20                    # the longer side fills the 20-pixel box
    assert 9 <= cols.max() - cols.min() + 1 <= 11                # aspect ratio 2:1 kept
    com_r, com_c = _center_of_mass(out)
    assert abs(com_r - 13.5) <= 0.6 and abs(com_c - 13.5) <= 0.6


def test_light_on_dark_is_not_inverted():
    dark = 255 - _blob()
    np.testing.assert_allclose(preprocess_digit(dark), preprocess_digit(_blob()), atol=0.02)


def test_uneven_lighting_is_removed():
    clean = _blob(400, 400, 100, 150, 200, 60).astype(np.float32) / 255
    light = np.linspace(0.45, 1.0, 400)[None, :] * np.linspace(0.8, 1.0, 400)[:, None]
    photo = clean * light + np.random.default_rng(0).normal(0, 0.02, clean.shape)
    a, b = preprocess_digit(clean), preprocess_digit(np.clip(photo, 0, 1))
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


def test_blank_image_stays_blank():
    assert not preprocess_digit(np.full((50, 50), 255, np.uint8)).any()
    assert not preprocess_digit(np.zeros((28, 28), np.float32)).any()


def test_an_mnist_style_digit_is_nearly_unchanged():
    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 12:16] = 1.0                                      # a "1", 20 tall, centred
    out = preprocess_digit(digit)
    assert np.abs(out - digit).mean() < 0.05


def test_rgba_with_transparent_background():
    rgba = np.zeros((100, 100, 4), np.uint8)                      # transparent everywhere
    rgba[20:80, 45:55] = [0, 0, 0, 255]                           # opaque black stroke
    out = preprocess_digit(rgba)
    assert out.max() == pytest.approx(1.0) and out[:, :5].max() == 0


@pytest.mark.parametrize("image, message", [
    (np.zeros((3, 4, 2)), "grayscale"),
    (np.zeros((0, 5)), "grayscale"),
    (np.full((5, 5), np.nan), "NaN"),
    (np.full((5, 5), 2.0), r"\[0, 1\]"),
    (np.full((5, 5), "a"), "numeric"),
])
def test_bad_images(image, message):
    with pytest.raises(ValueError, match=message):
        preprocess_digit(image)


def test_resize_preserves_mean_intensity(rng):
    image = rng.random((37, 53)).astype(np.float32)
    assert resize(image, 20, 11).mean() == pytest.approx(image.mean(), rel=1e-4)
    assert to_unit_gray(np.array([[0, 255]], np.uint8)).tolist() == [[0.0, 1.0]]


def test_area_resampling_by_cumulative_sums_is_the_overlap_matrix():
    from glassnet.data.preprocess import resize, resize_matrix

    rng = np.random.default_rng(0)
    for h, w, height, width in [(50, 40, 20, 17), (7, 300, 3, 256), (3, 9, 7, 2), (5, 5, 5, 5)]:
        image = rng.random((h, w)).astype(np.float32)
        expected = resize_matrix(h, height).astype(np.float64) @ image @ resize_matrix(w, width).T.astype(np.float64)
        np.testing.assert_allclose(resize(image, height, width), expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(2_000_000, 1), (1, 2_000_000), (3, 1_500_000)])
def test_memory_is_bounded_by_the_output_not_the_aspect_ratio(shape):
    import tracemalloc

    image = np.zeros(shape, np.float32)
    image.reshape(-1)[len(image.reshape(-1)) // 2:][:1000] = 1.0           # a short stroke of ink
    tracemalloc.start()
    preprocess_digit(image)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * image.size + 50_000_000, f"{peak / 1e6:.0f} MB for {shape}"  # copies, not n_in × n_out

"""MNIST-style preprocessing of a person's digit."""

import json

import numpy as np
import pytest

from glassnet.checkpoint import load_model
from glassnet.cli import main
from glassnet.data.mnist import load_mnist, to_inputs
from glassnet.data.preprocess import preprocess_digit, resize, to_unit_gray
from glassnet.demo import demo_model_path
from tests.mnist_fixtures import mnist_style_digits


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
    com_r, com_c = _center_of_mass(out)                          # MNIST's centre: pixel (14, 14)
    assert abs(com_r - 14) <= 0.5 + 1e-6 and abs(com_c - 14) <= 0.5 + 1e-6


def test_light_on_dark_is_not_inverted():
    dark = 255 - _blob()
    np.testing.assert_allclose(preprocess_digit(dark), preprocess_digit(_blob()), atol=0.02)


def test_uneven_lighting_is_removed():
    clean = _blob(400, 400, 100, 150, 200, 60).astype(np.float32) / 255
    clean[260:300, 150:260] = 20 / 255        # a foot, so that the centre of mass is not at a half pixel
    light = np.linspace(0.45, 1.0, 400)[None, :] * np.linspace(0.8, 1.0, 400)[:, None]
    photo = clean * light + np.random.default_rng(0).normal(0, 0.02, clean.shape)
    a, b = preprocess_digit(clean), preprocess_digit(np.clip(photo, 0, 1))
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


def test_blank_image_stays_blank():
    assert not preprocess_digit(np.full((50, 50), 255, np.uint8)).any()
    assert not preprocess_digit(np.zeros((28, 28), np.float32)).any()


@pytest.mark.parametrize("index", range(3))
def test_a_digit_already_in_mnist_form_is_left_alone(index):
    """Anti-aliased, 20 pixels tall, centred by mass at (14, 14): every step of the recipe has nothing to do."""
    digit = mnist_style_digits()[index]
    np.testing.assert_allclose(preprocess_digit(digit), digit / 255, rtol=0, atol=1e-3)


def test_the_faint_rim_joined_to_the_strokes_stays_and_a_faint_speck_apart_goes():
    digit = mnist_style_digits()[2] / np.float32(255)                # the "1", 7 pixels wide
    speckled = digit.copy()
    speckled[14, 3] = 0.2                                             # faint, and touching nothing
    np.testing.assert_allclose(preprocess_digit(speckled), digit, rtol=0, atol=1e-3)


def test_grow_keeps_exactly_what_is_connected_to_the_seed(rng):
    from glassnet.data.preprocess import grow

    for _ in range(20):
        shape = tuple(rng.integers(1, 30, 2))
        allowed = rng.random(shape) < 0.5
        seed = allowed & (rng.random(shape) < 0.1)
        expected = seed.copy()                                        # dilate by 3×3 within allowed until stable
        while True:
            padded = np.pad(expected, 1)
            dilated = np.zeros_like(expected)
            for dr in range(3):
                for dc in range(3):
                    dilated |= padded[dr:dr + shape[0], dc:dc + shape[1]]
            if ((dilated & allowed) == expected).all():
                break
            expected = dilated & allowed
        np.testing.assert_array_equal(grow(seed, allowed), expected)


@pytest.mark.slow
def test_real_mnist_test_digits_are_left_nearly_alone(mnist_dir):
    digits = load_mnist(mnist_dir, download=False).test_images[:1000]
    change = np.array([np.abs(preprocess_digit(d) - d / 255).mean() for d in digits])   # per image
    assert change.mean() < 0.002 and (change < 0.01).mean() >= 0.99, (change.mean(), (change < 0.01).mean())


@pytest.mark.slow
def test_predict_on_real_test_digits_answers_as_the_model_does(mnist_dir, tmp_path, capsys):
    digits = load_mnist(mnist_dir, download=False).test_images[:1000]
    np.save(tmp_path / "digits.npy", digits)
    assert main(["predict", "demo", str(tmp_path / "digits.npy"), "--json"]) == 0
    answers = np.array([json.loads(line)["prediction"] for line in capsys.readouterr().out.splitlines()])
    model, _ = load_model(demo_model_path())
    differ = int((answers != model.predict(to_inputs(digits.reshape(-1, 784)))).sum())
    assert differ <= 2, f"{differ} of 1,000 answers differ from the model's own"


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

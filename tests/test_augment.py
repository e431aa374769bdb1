"""Augmentation: labels untouched, shapes, dtype, range, seeding, identity, and the geometry itself."""

import numpy as np
import pytest

from glassnet.data.augment import Augment, bilinear_sample, blur, gaussian_matrix
from tests.helpers import all_values

FULL = Augment(rotation_degrees=12, scale=0.1, shift_pixels=2.5, elastic_alpha=34, elastic_sigma=4)


@pytest.fixture
def batch(rng):
    images = np.zeros((16, 28, 28), np.float32)
    images[:, 6:22, 12:16] = rng.random((16, 16, 4), dtype=np.float32)
    return images.reshape(16, 784)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_and_range(batch, rng, dtype):
    out = FULL(batch.astype(dtype), rng)
    assert out.shape == (16, 784) and out.dtype == dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, batch)


def test_reproducible_by_seed(batch):
    a = FULL(batch, np.random.default_rng(5))
    np.testing.assert_array_equal(a, FULL(batch, np.random.default_rng(5)))
    assert not np.array_equal(a, FULL(batch, np.random.default_rng(6)))


def test_identity_returns_the_input(batch, rng):
    assert Augment().is_identity
    out = Augment()(batch, rng)
    np.testing.assert_array_equal(out, batch)
    assert out is not batch


def test_zero_ranges_through_the_sampler_are_exact(batch):
    rows, cols = np.indices((28, 28)).astype(np.float32)
    images = batch.reshape(16, 28, 28)
    out = bilinear_sample(images, np.broadcast_to(rows, images.shape), np.broadcast_to(cols, images.shape))
    np.testing.assert_array_equal(out, images)


def test_pure_shift_moves_pixels(rng):
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 10, 10] = 1.0
    rows, cols = np.indices((28, 28)).astype(np.float32)
    out = bilinear_sample(image, rows[None] - 2, cols[None] + 3)     # output(r, c) = input(r − 2, c + 3)
    assert out[0, 12, 7] == 1.0 and out.sum() == 1.0


def test_bilinear_halfway_and_outside():
    image = np.array([[[0.0, 1.0], [1.0, 0.0]]], np.float32)
    assert bilinear_sample(image, np.array([[[0.5]]]), np.array([[[0.5]]]))[0, 0, 0] == pytest.approx(0.5)
    assert bilinear_sample(image, np.array([[[-3.0]]]), np.array([[[9.0]]]))[0, 0, 0] == 0.0


def test_tiny_rotation_is_nearly_identity(rng):
    image = np.zeros((1, 784), np.float32)
    image.reshape(28, 28)[5, 13:15] = 1.0                          # a short bar above the centre
    out = Augment(rotation_degrees=1e-9)(image, rng)               # tiny: nearly identity
    np.testing.assert_allclose(out, image, atol=1e-6)


def test_gaussian_blur_matrix():
    kernel = gaussian_matrix(28, 4.0)
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0)
    constant = np.full((3, 28, 28), 0.7)
    np.testing.assert_allclose(blur(constant, kernel), constant)   # blurring keeps a constant field
    field = np.random.default_rng(0).uniform(-1, 1, (2, 28, 28))
    np.testing.assert_allclose(blur(field, kernel), kernel @ field @ kernel.T, atol=1e-12)
    assert blur(field, kernel).std() < field.std() / 4


def test_augmentation_inside_fit_keeps_labels_and_resumes_exactly(tmp_path):
    from glassnet.config import TrainConfig
    from glassnet.train import Callback, TrainData, fit
    from tests.mnist_fixtures import synthetic_digits

    images, labels = synthetic_digits(120, 3)
    images_before, labels_before = images.copy(), labels.copy()
    data = TrainData(images.reshape(120, 784), labels, images.reshape(120, 784)[:40], labels[:40])
    config = TrainConfig(hidden=(16,), epochs=3, batch_size=32, augment_rotation=10, augment_shift=2,
                         elastic_alpha=10)
    whole = fit(config, data).model

    class Stop(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                raise KeyboardInterrupt

    interrupted = fit(config, data, run_dir=tmp_path, callbacks=[Stop()])
    assert not interrupted.finished and interrupted.stop_reason == "interrupted (Ctrl-C)"
    resumed = fit(config, data, run_dir=tmp_path, resume=True).model
    np.testing.assert_array_equal(all_values(resumed), all_values(whole))
    np.testing.assert_array_equal(labels, labels_before)        # augmentation moved pixels, never labels
    np.testing.assert_array_equal(images, images_before)        # and distorted copies, never the data

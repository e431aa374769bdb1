"""People photograph digits written on paper: real MNIST digits turned into synthetic phone photos
(dark ink on light paper, large, off-centre, uneven light, noise, blur, JPEG) must still be read right."""

import io

import numpy as np
import pytest

from glassnet.config import TrainConfig
from glassnet.data.mnist import load_mnist, to_inputs
from glassnet.images import load_digits
from glassnet.train import TrainData, fit


def phone_photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A 28×28 MNIST digit as a 480×400 JPEG "photo" of ink on paper."""
    from PIL import Image, ImageFilter

    scale = int(rng.integers(8, 13))
    ink = np.kron(digit / 255.0, np.ones((scale, scale)))                 # the digit, large
    height, width = 480, 400
    top = int(rng.integers(10, height - ink.shape[0] - 10))
    left = int(rng.integers(10, width - ink.shape[1] - 10))
    page = np.zeros((height, width))
    page[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    rows, cols = np.mgrid[0:height, 0:width]
    light = 0.55 + 0.45 * np.clip(0.6 * cols / width + 0.4 * rows / height + rng.uniform(-0.2, 0.2), 0, 1)
    paper, pen = rng.uniform(0.8, 0.95), rng.uniform(0.05, 0.25)
    photo = (paper - (paper - pen) * page) * light + rng.normal(0, 0.02, page.shape)
    image = Image.fromarray((np.clip(photo, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


@pytest.mark.slow
def test_photographed_digits_are_read_like_the_originals(mnist_dir, tmp_path):
    pytest.importorskip("PIL")
    mnist = load_mnist(mnist_dir, download=False)
    data = TrainData(mnist.train_images.reshape(60000, 784), mnist.train_labels,
                     mnist.test_images.reshape(10000, 784)[:1000], mnist.test_labels[:1000])
    model = fit(TrainConfig(epochs=3), data).model
    rng = np.random.default_rng(0)
    picks = rng.choice(10000, 200, replace=False)
    originals = model.predict(to_inputs(mnist.test_images[picks]))
    photos = []
    for i in picks:
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(phone_photo(mnist.test_images[i], rng))
        photos.append(load_digits(path)[0][1].reshape(784))
    from_photos = model.predict(np.array(photos))
    labels = mnist.test_labels[picks]
    accuracy_originals, accuracy_photos = (originals == labels).mean(), (from_photos == labels).mean()
    print(f"\naccuracy on 200 test digits: {accuracy_originals:.1%} as given, {accuracy_photos:.1%} from photos")
    assert accuracy_photos >= 0.95 and accuracy_photos >= accuracy_originals - 0.03

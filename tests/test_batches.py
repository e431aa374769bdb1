"""Mini-batch iteration and gathering."""

import numpy as np
import pytest

from glassnet.data.batches import as_inputs, batch_indices, gather, n_batches
from glassnet.data.mnist import to_inputs


@pytest.mark.parametrize("n, batch_size, sizes", [
    (10, 4, [4, 4, 2]),
    (9, 4, [4, 4]),            # a last batch of one sample is dropped (BatchNorm needs two)
    (8, 4, [4, 4]),
    (3, 8, [3]),
])
def test_batch_sizes(n, batch_size, sizes):
    batches = list(batch_indices(n, batch_size, np.random.default_rng(0)))
    assert [len(b) for b in batches] == sizes == [len(b) for b in batch_indices(n, batch_size, None)]
    assert n_batches(n, batch_size) == len(sizes)
    seen = np.concatenate(batches)
    assert len(set(seen.tolist())) == len(seen)


def test_shuffle_is_seeded():
    a = np.concatenate(list(batch_indices(100, 7, np.random.default_rng(3))))
    b = np.concatenate(list(batch_indices(100, 7, np.random.default_rng(3))))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.arange(100))


def test_gather_uint8_equals_to_inputs_bit_for_bit(rng):
    images = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    indices = rng.permutation(50)[:16]
    out = np.empty((20, 784), np.float32)
    batch = gather(images.reshape(50, 784), indices, out)
    assert batch.shape == (16, 784) and np.shares_memory(batch, out)
    np.testing.assert_array_equal(batch, to_inputs(images)[indices])
    np.testing.assert_array_equal(gather(to_inputs(images), indices, out), to_inputs(images)[indices])
    np.testing.assert_array_equal(as_inputs(images.reshape(50, 784), np.dtype(np.float32)), to_inputs(images))


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        next(batch_indices(10, 0, None))


def test_as_inputs_into_a_given_array(rng):
    pixels = rng.integers(0, 256, (3, 4), dtype=np.uint8)
    for x in (pixels, pixels / np.float32(255.0)):
        out = np.empty((3, 4), np.float32)
        assert as_inputs(x, np.dtype(np.float32), out=out) is out
        np.testing.assert_array_equal(out, pixels / np.float32(255.0))

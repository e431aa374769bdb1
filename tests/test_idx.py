"""IDX files: round trips for every type and rank, and every corruption named clearly."""

import gzip
import struct

import numpy as np
import pytest

from glassnet.data.idx import IDX_TYPES, encode_idx, read_idx, write_idx
from glassnet.errors import IdxFormatError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0,), (5,), (3, 4), (2, 3, 4), (2, 1, 3, 2)])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path, rng, dtype, shape, compress):
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=compress)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_gzip_detected_from_bytes_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "plain.gz").write_bytes(encode_idx(array))
    (tmp_path / "compressed").write_bytes(gzip.compress(encode_idx(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed"), array)


def test_header_is_big_endian(tmp_path):
    data = encode_idx(np.array([[1, 2]], dtype=np.int16))
    assert data == struct.pack(">HBBII", 0, 0x0B, 2, 1, 2) + b"\x00\x01\x00\x02"
    assert set(IDX_TYPES) == {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E}


GOOD = encode_idx(np.zeros((2, 3), np.uint8))


@pytest.mark.parametrize("data, message", [
    (b"\x00\x00", "only 2 bytes"),
    (b"\x12\x34\x08\x01" + GOOD[4:], "not an IDX file"),
    (b"\x00\x00\x07\x02" + GOOD[4:], "unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x05" + GOOD[4:12], "header declares rank 5"),
    (b"\x00\x00\x08\x01" + GOOD[4:], "trailing bytes"),        # rank says 1, so the 2nd dim is data
    (GOOD[:-1], "truncated"),
    (GOOD + b"\x00", "trailing bytes"),
    (gzip.compress(GOOD)[:-8], "broken gzip stream"),
    (b"\x1f\x8b" + b"garbage" * 10, "broken gzip stream"),
])
def test_corruption_is_reported_with_the_file_name(tmp_path, data, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(IdxFormatError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(IdxFormatError, match="cannot read"):
        read_idx(tmp_path / "nope")


def test_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="no element type for int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))

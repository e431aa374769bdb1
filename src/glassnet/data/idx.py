"""The IDX file format (LeCun's MNIST format), plain or gzip-compressed.

Layout, big-endian: two zero bytes, a type code, the rank R, R dimension
sizes as uint32, then the elements in C order. Gzip is detected from the
bytes (1f 8b), never from the file name.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from glassnet.atomic import atomic_write_bytes
from glassnet.errors import IdxFormatError
from glassnet.files import IDX, read_bytes

#: IDX type code → big-endian NumPy dtype.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's IDX bytes, decompressed when the file is gzip; at most ``files.IDX`` bytes either way."""
    path = Path(path)
    try:
        raw = read_bytes(path, "IDX file", IDX, IdxFormatError)
    except OSError as e:
        raise IdxFormatError(f"{path}: cannot read the file ({e.strerror or e})") from e
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return _gunzip(raw, IDX.bytes)
    except (OSError, EOFError, zlib.error) as e:
        raise IdxFormatError(f"{path}: broken gzip stream ({e}); the file is truncated or corrupt, "
                             "delete it and download it again") from e
    except _TooLarge:
        raise IdxFormatError(f"{path}: unpacks to more than {IDX.bytes:,} bytes, more than an IDX file glassnet "
                             f"reads ({IDX.why}); it is not a data set glassnet can train on") from None


class _TooLarge(Exception):
    pass


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip ``data`` (any number of members, as ``gzip.decompress`` does), refusing to make more
    than ``limit`` bytes: a small file can unpack to gigabytes."""
    parts, size = [], 0
    while data:
        stream = zlib.decompressobj(wbits=31)       # 31: a gzip header and trailer around a deflate stream
        while not stream.eof:
            part = stream.decompress(data, limit + 1 - size)
            data = stream.unconsumed_tail
            size += len(part)
            parts.append(part)
            if size > limit:
                raise _TooLarge
            if not (part or data or stream.eof):
                raise EOFError("the gzip stream ends before its last block")
        data = stream.unused_data.lstrip(b"\0")     # gzip allows zero padding between members
    return b"".join(parts)


def parse_idx(data: bytes, source: str = "<bytes>") -> NDArray:  # type: ignore[type-arg]
    """Decode IDX bytes into a native-endian array, validating header and size."""
    if len(data) < 4:
        raise IdxFormatError(f"{source}: not an IDX file (only {len(data)} bytes, a header needs at least 4)")
    zero, type_code, rank = struct.unpack(">HBB", data[:4])
    if zero != 0:
        magic = int.from_bytes(data[:4], "big")
        raise IdxFormatError(f"{source}: not an IDX file (magic {magic:#010x} should start with two zero bytes)")
    if type_code not in IDX_TYPES:
        raise IdxFormatError(f"{source}: unknown IDX type code {type_code:#04x}; "
                             f"expected one of {', '.join(f'{c:#04x}' for c in IDX_TYPES)}")
    header_size = 4 + 4 * rank
    if len(data) < header_size:
        raise IdxFormatError(f"{source}: header declares rank {rank} but the file ends after {len(data)} bytes")
    shape = struct.unpack(f">{rank}I", data[4:header_size])
    dtype = IDX_TYPES[type_code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise IdxFormatError(f"{source}: {problem}: shape {shape} of {dtype.name} needs {expected} bytes, "
                             f"the file has {len(data)}")
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))        # native byte order, a writable copy


def read_idx(path: str | os.PathLike[str]) -> NDArray:  # type: ignore[type-arg]
    """Read an IDX file (plain or gzip) into an array."""
    return parse_idx(read_idx_bytes(path), str(path))


def encode_idx(array: NDArray) -> bytes:  # type: ignore[type-arg]
    """IDX bytes for ``array`` (its dtype must be one of the IDX element types)."""
    array = np.asarray(array)
    matches = [code for code, dtype in IDX_TYPES.items() if dtype.newbyteorder("=") == array.dtype.newbyteorder("=")]
    if not matches:
        raise TypeError(f"IDX has no element type for {array.dtype}; use uint8, int8, int16, int32, "
                        "float32 or float64")
    if array.ndim > 255:
        raise ValueError(f"IDX stores at most rank 255, got rank {array.ndim}")
    header = struct.pack(f">HBB{array.ndim}I", 0, matches[0], array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_TYPES[matches[0]]).tobytes()


def write_idx(path: str | os.PathLike[str], array: NDArray, *, compress: bool | None = None) -> None:  # type: ignore[type-arg]
    """Write ``array`` as IDX, atomically; gzip when ``compress`` (default: the name ends in .gz)."""
    path = Path(path)
    data = encode_idx(array)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    atomic_write_bytes(path, data)

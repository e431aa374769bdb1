"""Fuzzing every parser of outside bytes with Hypothesis: only glassnet's own, clear errors may come out.

Targets: the IDX reader, the checkpoint loader, the TOML config loader, the
image/array loader of `glassnet predict`, and the serve API's request parser.
Derandomized, so CI is repeatable; run with --hypothesis-seed=random to explore.
"""

import functools
import gzip
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassnet.checkpoint import load_model, save_checkpoint
from glassnet.config import load_toml
from glassnet.data.idx import encode_idx, parse_idx, read_idx
from glassnet.errors import CheckpointError, ConfigError, IdxFormatError
from glassnet.images import ImageInputError, load_digits
from glassnet.nn.model import mlp
from glassnet.web.api import BadRequest, describe, parse_digit

pytestmark = pytest.mark.slow
FUZZ = settings(max_examples=2000, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def mutate(data: bytes, edits) -> bytes:
    """Apply (position, new byte) edits, then maybe truncate or extend."""
    buffer = bytearray(data)
    for position, value in edits["flips"]:
        if buffer:
            buffer[position % len(buffer)] = value
    if edits["cut"] is not None and buffer:
        del buffer[edits["cut"] % len(buffer):]
    return bytes(buffer) + edits["tail"]


EDITS = st.fixed_dictionaries({
    "flips": st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), max_size=6),
    "cut": st.one_of(st.none(), st.integers(0, 2**31)),
    "tail": st.binary(max_size=16),
})
VALID_IDX = [encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)), encode_idx(np.arange(5, dtype=np.float32)),
             encode_idx(np.zeros((3, 2), np.int16))]


@FUZZ
@given(data=st.binary(max_size=200))
def test_idx_random_bytes(data):
    try:
        parse_idx(data, "fuzz")
    except IdxFormatError as e:
        assert "fuzz" in str(e)


@FUZZ
@given(base=st.sampled_from(VALID_IDX), edits=EDITS, compress=st.booleans())
def test_idx_mutated_files(tmp_path, base, edits, compress):
    data = mutate(base, edits)
    path = tmp_path / "f"
    path.write_bytes(gzip.compress(data) if compress else data)
    try:
        read_idx(path)
    except IdxFormatError as e:
        assert str(path) in str(e)


@functools.cache
def checkpoint_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.npz"
        save_checkpoint(path, mlp([784, 8, 10], rng=np.random.default_rng(0), dropout=0.1), {"epoch": 1})
        return path.read_bytes()


@FUZZ
@given(edits=EDITS)
def test_checkpoint_mutated(tmp_path, edits):
    path = tmp_path / "model.npz"
    path.write_bytes(mutate(checkpoint_bytes(), edits))
    try:
        model, _ = load_model(path)
    except CheckpointError as e:
        assert str(path) in str(e)
    else:
        assert np.isfinite(model.predict_proba(np.zeros((1, 784)))).all()


@FUZZ
@given(data=st.binary(max_size=300))
def test_checkpoint_random_bytes(tmp_path, data):
    path = tmp_path / "model.npz"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_model(path)


TOML_VALUES = st.recursive(
    st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.booleans(), st.text(max_size=8)),
    lambda children: st.lists(children, max_size=3), max_leaves=5)
FIELDS = st.sampled_from(["hidden", "dropout", "epochs", "batch_size", "lr", "optimizer", "schedule", "seed",
                          "dtype", "batchnorm", "label_smoothing", "elastic_alpha", "run_dir", "unknown"])


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


@FUZZ
@given(table=st.dictionaries(FIELDS, TOML_VALUES, max_size=5))
def test_toml_config_values(tmp_path, table):
    path = tmp_path / "run.toml"
    path.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in table.items()))
    try:
        load_toml(path)
    except ConfigError as e:
        assert str(e)


@FUZZ
@given(text=st.text(max_size=200))
def test_toml_config_random_text(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_toml(path)
    except ConfigError:
        pass


def _png(array):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def valid_images() -> dict[str, bytes]:
    digit = np.zeros((40, 30), np.uint8)
    digit[5:35, 12:18] = 255
    npy = io.BytesIO()
    np.save(npy, digit)
    return {".png": _png(255 - digit), ".npy": npy.getvalue()}


@FUZZ
@given(suffix=st.sampled_from([".png", ".npy"]), edits=EDITS)
def test_predict_loader_mutated(tmp_path, suffix, edits):
    pytest.importorskip("PIL")
    path = tmp_path / f"digit{suffix}"
    path.write_bytes(mutate(valid_images()[suffix], edits))
    try:
        digits = load_digits(path)
    except ImageInputError as e:
        assert str(path) in str(e)
    else:
        assert all(d.shape == (28, 28) and np.isfinite(d).all() for _, d in digits)


ARRAYS = st.sampled_from([np.uint8, np.float32, np.float64, np.int64, np.bool_, np.complex64]).flatmap(
    lambda dtype: st.tuples(st.just(dtype), st.lists(st.integers(0, 40), min_size=0, max_size=4)))


@FUZZ
@given(spec=ARRAYS, fill=st.floats(allow_nan=True, allow_infinity=True, width=32))
def test_predict_loader_odd_arrays(tmp_path, spec, fill):
    dtype, shape = spec
    if int(np.prod(shape)) > 20000:
        shape = shape[:2]
    array = np.full(shape, fill if np.issubdtype(dtype, np.inexact) else 1, dtype=dtype)
    path = tmp_path / "a.npy"
    np.save(path, array)
    try:
        digits = load_digits(path)
    except ImageInputError as e:
        assert str(path) in str(e)
    else:
        assert all(d.shape == (28, 28) for _, d in digits)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**20), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=5)),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=40)
KEYS = st.sampled_from(["image", "pixels", "other"])


@pytest.fixture(scope="module")
def tiny_model():
    return mlp([784, 8, 10], rng=np.random.default_rng(0), dropout=0.2).eval()


@FUZZ
@given(body=st.one_of(st.binary(max_size=120),
                      st.dictionaries(KEYS, JSON_VALUES, max_size=2).map(lambda d: json.dumps(d).encode()),
                      st.lists(st.lists(st.floats(-0.5, 1.5), min_size=1, max_size=9), min_size=1, max_size=9)
                      .map(lambda rows: json.dumps({"image": rows}).encode())))
def test_serve_request_parser(tiny_model, body):
    try:
        image = parse_digit(body)
    except BadRequest as e:
        assert str(e)
    else:
        result = describe(tiny_model, image)
        assert len(result["probabilities"]) == 10
        json.dumps(result, allow_nan=False)


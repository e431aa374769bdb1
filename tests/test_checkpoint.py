"""Model files: round trip, no pickle, and every kind of damage refused with CheckpointError."""

import json
import zipfile

import numpy as np
import pytest

from glassnet.checkpoint import load_model, read_checkpoint, save_checkpoint
from glassnet.errors import CheckpointError
from glassnet.nn.model import mlp
from tests.helpers import all_values


@pytest.fixture
def saved(tmp_path, rng):
    model = mlp([784, 16, 10], rng=rng, dropout=0.1)
    model.forward(rng.random((8, 784)))            # move the BatchNorm running statistics
    path = tmp_path / "model.npz"
    save_checkpoint(path, model, {"epoch": 3})
    return path, model


def test_round_trip(saved, rng):
    path, model = saved
    loaded, meta = load_model(path)
    assert meta["epoch"] == 3 and meta["architecture"]["sizes"] == [784, 16, 10]
    np.testing.assert_array_equal(all_values(loaded), all_values(model))
    for name, buffer in model.buffers().items():
        np.testing.assert_array_equal(loaded.buffers()[name], buffer)
    x = rng.random((4, 784))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert not loaded.training


def test_truncated_file(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_model(path)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04garbage"])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such model file"):
        load_model(tmp_path / "model.npz")


def _rewrite(path, change):
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    change(arrays)
    np.savez(path, **arrays)


def test_pickled_arrays_are_refused(saved):
    path, _ = saved
    _rewrite(path, lambda a: a.update({"param/0.weight": np.array([object()], dtype=object)}))
    with pytest.raises(CheckpointError):
        load_model(path)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.bool_, np.complex128, "U3"])
def test_weights_that_are_not_floating_point_are_refused_by_name(saved, dtype):
    path, _ = saved
    _rewrite(path, lambda a: a.update({"param/0.weight": a["param/0.weight"].astype(dtype)}))
    with pytest.raises(CheckpointError, match=r"param/0.weight has shape \(784, \d+\) and dtype .*floating"):
        load_model(path)


def test_wrong_shape(saved):
    path, _ = saved
    _rewrite(path, lambda a: a.update({"param/0.weight": np.zeros((784, 15), np.float32)}))
    with pytest.raises(CheckpointError, match=r"do not match the recorded layers.*param/0.weight.*\(784, 15\)"):
        load_model(path)


def test_nan_weights(saved):
    path, _ = saved
    _rewrite(path, lambda a: a["param/0.weight"].__setitem__((0, 0), np.nan))
    with pytest.raises(CheckpointError, match="NaN or inf"):
        load_model(path)


def test_missing_array(saved):
    path, _ = saved
    _rewrite(path, lambda a: a.pop("buffer/1.running_var"))
    with pytest.raises(CheckpointError, match="do not match the recorded layers"):
        load_model(path)


@pytest.mark.parametrize("meta, message", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"format_version": 99}).encode(), "format version 99"),
    (json.dumps({"format_version": 1, "architecture": {"sizes": "x"}}).encode(), "invalid layer record"),
    (json.dumps([1, 2]).encode(), "format version None"),
])
def test_bad_metadata(saved, meta, message):
    path, _ = saved
    _rewrite(path, lambda a: a.update({"meta": np.frombuffer(meta, np.uint8)}))
    with pytest.raises(CheckpointError, match=message):
        load_model(path)


def test_npz_without_metadata(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not written by glassnet"):
        read_checkpoint(path)


def test_save_into_missing_folder_is_a_clear_error(tmp_path, rng):
    with pytest.raises(CheckpointError, match="cannot write"):
        save_checkpoint(tmp_path / "no" / "such" / "model.npz", mlp([4, 3], rng=rng), {})


def test_is_a_plain_zip_of_npy_files(saved):
    path, _ = saved
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())


def test_a_compressed_member_that_would_inflate_enormously_is_refused_before_inflating(saved, tmp_path):
    import tracemalloc
    import zipfile

    path, _ = saved
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        with dst.open("param/9.weight.npy", "w", force_zip64=True) as member:   # 400 MB of zeros, ~0.4 MB stored
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False,
                                                          "shape": (100_000_000,)})
            for _ in range(100):
                member.write(bytes(4_000_000))
    tracemalloc.start()
    with pytest.raises(CheckpointError, match=r"param/9.weight.npy would expand from [\d,]+ to 400,000,\d+ bytes"):
        load_model(bomb)
    assert tracemalloc.get_traced_memory()[1] < 50_000_000
    tracemalloc.stop()


def test_a_legitimately_compressed_model_still_loads(saved, tmp_path):
    path, model = saved
    with np.load(path) as archive:
        np.savez_compressed(tmp_path / "small.npz", **{name: archive[name] for name in archive.files})
    loaded, _ = load_model(tmp_path / "small.npz")
    x = np.random.default_rng(0).random((4, 784))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.eval().predict_proba(x))

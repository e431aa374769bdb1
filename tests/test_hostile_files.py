"""Files that are not what they claim: endless streams, FIFOs, folders, bombs and hostile metadata.

Every command that reads a file refuses what is not a regular file in one line, reads each kind
of file within its stated bound (glassnet.files), and shows of a model's metadata only what it
verified. The endless cases run as separate processes under a memory limit, so that a regression
fails the test instead of taking the machine's memory.
"""

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from glassnet.checkpoint import save_checkpoint
from glassnet.cli import main
from glassnet.data.idx import read_idx_bytes
from glassnet.errors import IdxFormatError
from glassnet.files import Bound
from glassnet.nn.model import mlp
from tests.mnist_fixtures import synthetic_digits, write_mnist_folder

MEMORY_LIMIT = 1 << 30          # a command that reads a stream whole fails this, not the machine
HANG = 600                      # seconds: only a command that waits forever reaches this


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("data") / "mnist", n_train=200, n_test=50, gz=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    save_checkpoint(path, mlp([784, 16, 10], rng=np.random.default_rng(0)), {})
    return path


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def glassnet(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_DATA"} | {"XDG_CACHE_HOME": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "glassnet", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=HANG, preexec_fn=_limit_memory, stdin=subprocess.DEVNULL)


def _not_a_file(tmp_path: Path, kind: str) -> Path:
    """A path of the given kind: what a careless or hostile user could name as a file."""
    path = tmp_path / f"thing-{kind}"
    if kind == "dev-zero":
        return Path("/dev/zero")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link-to-fifo":
        os.mkfifo(tmp_path / "fifo")
        path.symlink_to(tmp_path / "fifo")
    elif kind == "link-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":                                 # where a model is asked for: a run folder
        path.mkdir()
        os.mkfifo(path / "model.npz")                     # whose model is a FIFO
    return path


KINDS = ["dev-zero", "fifo", "link-to-fifo", "link-to-dev-zero", "folder"]
COMMANDS = {   # the file under test is X; M is a good model, D the data folder
    "info": ["info", "X"],
    "info --json": ["info", "X", "--json"],
    "evaluate": ["evaluate", "X", "--data-dir", "D"],
    "predict model": ["predict", "X", "D/t10k-images-idx3-ubyte"],
    "predict image": ["predict", "M", "X"],
    "predict npy": ["predict", "M", "X.npy"],
    "export": ["export", "X", "--format", "web", "page"],
    "serve": ["serve", "X", "--port", "0"],
    "train --init-from": ["train", "--init-from", "X", "--hidden", "16", "--epochs", "1", "--data-dir", "D"],
    "train --config": ["train", "--config", "X", "--data-dir", "D"],
    "sweep": ["sweep", "X", "--data-dir", "D"],
    "compare": ["compare", "X"],
}


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_what_is_not_a_regular_file_is_refused_in_one_line(tmp_path, data, model, kind, command):
    if command == "sweep":
        pytest.importorskip("optuna")
    path = _not_a_file(tmp_path, kind)
    if command == "predict npy" and kind != "dev-zero":
        path = path.rename(path.with_suffix(".npy"))
    words = {"X": str(path), "X.npy": str(path), "M": str(model), "D": str(data)}
    args = [words.get(a, a.replace("D/", f"{data}/")) for a in COMMANDS[command]]
    done = glassnet(*args, cwd=tmp_path)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2, done.stderr
    assert "not a regular file" in done.stderr, done.stderr


def test_a_gzip_bomb_is_refused_before_it_unpacks_past_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr("glassnet.data.idx.IDX", Bound(10 << 20, "a small bound for the test"))
    packer = zlib.compressobj(wbits=31)
    zeros = bytes(1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(40)) + packer.flush()      # 40 MiB in 40 kB
    (tmp_path / "bomb.gz").write_bytes(bomb)
    with pytest.raises(IdxFormatError, match="unpacks to more than 10,485,760 bytes"):
        read_idx_bytes(tmp_path / "bomb.gz")
    (tmp_path / "fine.gz").write_bytes(gzip.compress(bytes(5 << 20)) + gzip.compress(b"second member"))
    assert read_idx_bytes(tmp_path / "fine.gz") == bytes(5 << 20) + b"second member"


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
def test_an_mnist_file_that_is_a_fifo_is_refused_not_downloaded_over(tmp_path):
    folder = write_mnist_folder(tmp_path / "mnist", n_train=100, n_test=20, gz=False)
    (folder / "train-labels-idx1-ubyte").unlink()
    os.mkfifo(folder / "train-labels-idx1-ubyte")
    done = glassnet("train", "--data-dir", folder, "--epochs", "1", cwd=tmp_path)
    assert done.returncode == 1 and "FIFO" in done.stderr and "not a regular file" in done.stderr, done.stderr
    assert (folder / "train-labels-idx1-ubyte").is_fifo()


def test_a_zip_directory_of_a_million_entries_is_refused_before_it_is_read(tmp_path, capsys):
    import zipfile

    with zipfile.ZipFile(tmp_path / "many.npz", "w") as archive:
        for i in range(20_000):
            archive.writestr(f"param/{i}.npy", b"")
    assert main(["info", str(tmp_path / "many.npz")]) == 1
    assert "zip directory takes" in capsys.readouterr().err


def _with_meta(model: Path, path: Path, changes: dict) -> Path:
    """A copy of ``model`` whose metadata has ``changes`` merged in (as a hostile file would have them)."""
    with np.load(model) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["meta"].tobytes()) | changes
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    return path


HOSTILE = {
    "architecture without a field": {"architecture": {"sizes": [784, 16, 10], "dropout": 0.0}},
    "architecture of other sizes": {"architecture": {"sizes": [784, 100000, 10], "dropout": 0.0,
                                                     "batchnorm": True, "dtype": "float32"}},
    "architecture that is a list": {"architecture": [784, 16, 10]},
    "sizes that are text": {"architecture": {"sizes": "784-16-10", "dropout": 0.0, "batchnorm": True,
                                             "dtype": "float32"}},
    "test accuracy that is text": {"metrics": {"test": {"accuracy": "high", "macro": {"f1": 0.9}}}},
    "macro that is text": {"metrics": {"test": {"accuracy": 0.9, "macro": "x"}}},
    "a huge integer accuracy": {"metrics": {"test": {"accuracy": 10**400}}},
    "demo that is not a table": {"demo": [1, 2, 3]},
    "demo accuracy that is text": {"demo": {"test_accuracy": "best", "seed": "zero"}},
    "config that is a list": {"config": [1, 2]},
    "terminal codes in the config": {"config": {"x": "\x1b[2J\x1b]0;owned\x07"}, "glassnet_version": "\x1b[31m"},
    "epoch that is text": {"epoch": "many"},
    "demo record of hostile text": {"demo": {"command": "\x1b[2J\ud800" + "x" * 100_000, "recipe": ["a"],
                                             "dataset": 7, "seed": -1, "test_accuracy": 1.5}, "epoch": 2**70},
}


@pytest.mark.parametrize("changes", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("command", ["info", "info --json", "export web", "export onnx"])
def test_hostile_metadata_never_gives_a_traceback_and_info_shows_the_verified_layers(tmp_path, model, changes,
                                                                                    command, capsys):
    path = _with_meta(model, tmp_path / "model.npz", changes)
    if command == "export onnx":
        pytest.importorskip("onnx")
    args = {"info": ["info", str(path)], "info --json": ["info", str(path), "--json"],
            "export web": ["export", str(path), "--format", "web", str(tmp_path / "page")],
            "export onnx": ["export", str(path), "--format", "onnx", str(tmp_path / "model.onnx")]}[command]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    if command == "info":
        assert out.startswith("MLP 784-16-10") or out.startswith("Sequential of 4 layers, 784-16-10"), out
        assert "100000" not in out
    if command == "export onnx":                             # the file's text goes in as bounded, printable text
        import onnx

        props = {p.key: p.value for p in onnx.load(tmp_path / "model.onnx").metadata_props}
        assert all(v.isprintable() and len(v) < 1000 for v in props.values()), props
        if changes is HOSTILE["demo record of hostile text"]:
            assert props["command"].startswith("?[2J?x") and not {"test_accuracy", "seed", "epochs"} & set(props)
    if command == "info --json":
        shown = json.loads(out)
        assert shown["architecture"] in ({}, {"sizes": [784, 16, 10], "dropout": 0.0, "batchnorm": True,
                                              "dtype": "float32", "init": "he_normal", "activation": "relu"})


def test_nan_in_metadata_is_refused_as_not_glassnets(tmp_path, model, capsys):
    with np.load(model) as archive:
        arrays = {name: archive[name] for name in archive.files}
    text = arrays["meta"].tobytes().decode()[:-1] + ', "metrics": {"test": {"accuracy": NaN}}}'
    arrays["meta"] = np.frombuffer(text.encode(), np.uint8)
    np.savez(tmp_path / "nan.npz", **arrays)
    assert main(["info", str(tmp_path / "nan.npz"), "--json"]) == 1
    assert "NaN is not a JSON number" in capsys.readouterr().err


def test_compare_shows_a_text_accuracy_as_absent(tmp_path, data, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(data), "--hidden", "16", "--epochs", "1", "--out", str(run),
                 "--quiet"]) == 0
    _with_meta(run / "model.npz", run / "model.npz", {"metrics": {"test": {"accuracy": "perfect"}}})
    capsys.readouterr()
    assert main(["compare", str(run)]) == 0
    assert "perfect" not in capsys.readouterr().out


def test_onnx_export_without_the_extra_names_it(tmp_path, model, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)           # import onnx raises ImportError
    assert main(["export", str(model), "--format", "onnx", str(tmp_path / "m.onnx")]) == 1
    assert "pip install 'glassnet[onnx]'" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_predict_reads_a_digit_array_named_beside_endless_ones(tmp_path, model, capsys):
    np.save(tmp_path / "digit.npy", synthetic_digits(1, 1)[0][0])
    assert main(["predict", str(model), str(tmp_path / "digit.npy")]) == 0


def test_a_number_beyond_float64_in_metadata_is_refused(tmp_path, model, capsys):
    with np.load(model) as archive:
        arrays = {name: archive[name] for name in archive.files}
    text = arrays["meta"].tobytes().decode()[:-1] + ', "metrics": {"test": {"accuracy": 1e400}}}'
    arrays["meta"] = np.frombuffer(text.encode(), np.uint8)
    np.savez(tmp_path / "big.npz", **arrays)
    assert main(["info", str(tmp_path / "big.npz"), "--json"]) == 1
    assert "1e400 is beyond any float glassnet writes" in capsys.readouterr().err


def test_metadata_larger_than_any_runs_record_is_refused_before_it_is_parsed(tmp_path, capsys):
    layers = ('{"type": "ReLU"},' * 1_200_000)[:-1]                     # 20 MB of layer records
    np.savez(tmp_path / "huge.npz", meta=np.frombuffer(('{"format_version": 2, "layers": [' + layers + "]}")
                                                       .encode(), np.uint8))
    assert main(["info", str(tmp_path / "huge.npz")]) == 1
    assert "its metadata takes" in capsys.readouterr().err

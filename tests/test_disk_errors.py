"""A full disk or a read-only folder: a clear message, exit 1, and the last checkpoint intact."""

import subprocess
import sys

import pytest

from glassnet.checkpoint import read_checkpoint
from glassnet.cli import main
from tests.mnist_fixtures import write_mnist_folder


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (needs root and mount rights; skipped elsewhere)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()

    def mount(options):
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        return mount_point

    yield mount
    subprocess.run(["umount", str(mount_point)], capture_output=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("data") / "mnist", n_train=200, n_test=50)


def test_full_disk_keeps_the_previous_checkpoint(tiny_disk, data, capsys):
    disk = tiny_disk("size=1m")
    run = disk / "run"
    # one checkpoint (~0.6 MB: weights and two Adam moments) fits; a second beside it does not
    code = main(["train", "--data-dir", str(data), "--hidden", "64", "--epochs", "3", "--batch-size", "50",
                 "--out", str(run), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "No space left on device" in err and "disk has space" in err and "Traceback" not in err
    meta, _ = read_checkpoint(run / "model.npz")              # still the complete epoch-1 checkpoint
    assert meta["epoch"] == 1
    assert not list(run.glob(".*.tmp"))


def test_read_only_folder(tiny_disk, data, capsys):
    disk = tiny_disk("size=1m,ro")
    code = main(["train", "--data-dir", str(data), "--epochs", "1", "--out", str(disk / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Read-only file system" in err and "Traceback" not in err


def test_run_folder_under_a_file(tmp_path, data):
    (tmp_path / "file").write_text("x")
    result = subprocess.run([sys.executable, "-m", "glassnet", "train", "--data-dir", str(data), "--epochs", "1",
                             "--out", str(tmp_path / "file" / "run"), "--quiet"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "cannot create the run folder" in result.stderr and "Traceback" not in result.stderr

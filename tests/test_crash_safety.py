"""SIGKILL a real `glassnet train` again and again: nothing is lost, nothing is half-written,
and the resumed run ends bit-identical to an uninterrupted one."""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from glassnet.checkpoint import read_checkpoint
from tests.mnist_fixtures import write_mnist_folder

KILLS = 24
TRAIN = ["--hidden", "1024", "--epochs", "60", "--batch-size", "50", "--quiet"]


def glassnet(*args):
    return subprocess.Popen([sys.executable, "-m", "glassnet", "train", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process, timeout=60.0):
    """Poll ``condition`` every half millisecond until it holds or the process ends."""
    deadline = time.monotonic() + timeout
    while not condition() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)


def weights(run):
    with np.load(run / "model.npz") as archive:
        return {name: archive[name] for name in archive.files if name.startswith(("param/", "buffer/"))}


@pytest.mark.slow
def test_killed_at_random_moments_resumes_to_the_same_weights(tmp_path):
    data = write_mnist_folder(tmp_path / "data", n_train=1000, n_test=100, gz=False)
    reference = tmp_path / "reference"
    assert glassnet("--data-dir", str(data), "--out", str(reference), *TRAIN).wait() == 0

    run = tmp_path / "run"
    checkpoint = run / "model.npz"
    chance = random.Random(0)
    kills, mid_write, epochs_seen = 0, 0, []
    while True:
        resumed = checkpoint.exists()
        process = glassnet("--data-dir", str(data), *(["--resume", str(run)] if resumed else
                                                      ["--out", str(run), *TRAIN]))
        if kills == KILLS:                                   # enough: let it finish
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
            break
        # three kinds of moment, in turn, so that the test works at any machine speed:
        if kills % 3 == 0:                                   # while a checkpoint is being written
            _wait_for(lambda: any(run.glob(".model.npz.*.tmp")), process)
        elif kills % 3 == 1:                                 # during start-up or the first batches
            time.sleep(chance.uniform(0.1, 1.0))
        else:                                                # a moment after a checkpoint landed
            before = checkpoint.stat().st_mtime_ns if resumed else None
            _wait_for(lambda before=before: checkpoint.exists() and checkpoint.stat().st_mtime_ns != before,
                      process)
            time.sleep(chance.uniform(0.0, 0.3))
        if process.poll() is not None:                       # it finished before the kill
            assert process.returncode == 0, process.stderr.read()
            break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
        mid_write += any(run.glob(".model.npz.*.tmp"))       # killed while writing the checkpoint
        if checkpoint.exists():
            meta, _ = read_checkpoint(checkpoint)            # never truncated, never unreadable
            epochs_seen.append(meta["epoch"])

    print(f"\n{kills} kills ({mid_write} during a checkpoint write); epochs at the kills: {epochs_seen}")
    assert kills >= 20 and mid_write >= 4
    assert epochs_seen == sorted(epochs_seen)               # progress is never lost
    final, expected = weights(run), weights(reference)
    assert final.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(final[name], expected[name], err_msg=name)
    meta, _ = read_checkpoint(run / "model.npz")
    assert meta["epoch"] == 60 and [h["epoch"] for h in meta["history"]] == list(range(1, 61))
    assert not list(run.glob(".*.tmp"))                      # stale temporaries were cleaned up
    import json
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == list(range(1, 61))

"""SIGKILL a real `glassnet train` again and again: nothing is lost, nothing is half-written,
and the resumed run ends bit-identical to an uninterrupted one.

The kills are aimed, not timed: a ``sitecustomize`` module on the child's path
(test code, not glassnet's) makes the process SIGKILL itself at the N-th
``os.fsync`` (a file fully written to its temporary name, not yet on disk) or
the N-th ``os.replace`` (just before a temporary becomes the real file, or just
after), so every kind of moment is hit whatever the speed of the machine.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from glassnet.checkpoint import read_checkpoint
from tests.mnist_fixtures import write_mnist_folder

EPOCHS = 40
TRAIN = ["--hidden", "256", "--epochs", str(EPOCHS), "--batch-size", "50", "--quiet"]
# (where, which call) for each aimed kill; several files are written per epoch, so these land in
# the model file, the history files and the report, in different epochs
AIMED = [(where, n) for n in (1, 2, 3, 4) for where in ("fsync", "before-replace", "after-replace")]

SITECUSTOMIZE = '''
import os, signal
_where, _, _n = os.environ.get("GLASSNET_TEST_KILL", "").partition(":")
_calls = {"fsync": 0, "replace": 0}
_fsync, _replace = os.fsync, os.replace

def _count(kind):
    _calls[kind] += 1
    return _calls[kind] == int(_n or 0)

def fsync(fd):
    if _where == "fsync" and _count("fsync"):
        os.kill(os.getpid(), signal.SIGKILL)
    return _fsync(fd)

def replace(src, dst, **kwargs):
    hit = _where in ("before-replace", "after-replace") and _count("replace")
    if hit and _where == "before-replace":
        os.kill(os.getpid(), signal.SIGKILL)
    _replace(src, dst, **kwargs)
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)

if _where:
    os.fsync, os.replace = fsync, replace
'''


def glassnet(args, hooks, kill=None):
    env = os.environ | {"PYTHONPATH": f"{hooks}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if kill is not None:
        env["GLASSNET_TEST_KILL"] = f"{kill[0]}:{kill[1]}"
    return subprocess.Popen([sys.executable, "-m", "glassnet", "train", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def weights(run, name="model.npz"):
    with np.load(run / name) as archive:
        return {name: archive[name] for name in archive.files if name.startswith(("param/", "buffer/"))}


@pytest.mark.slow
@pytest.mark.parametrize("early", [
    False,      # one file, model.npz, holds the state and is the model
    True,       # early stopping (whose patience outlasts the run): the state in resume.npz, the best in model.npz
], ids=["plain", "early-stopping"])
def test_killed_at_every_kind_of_moment_resumes_to_the_same_weights(tmp_path, early):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    data = write_mnist_folder(tmp_path / "data", n_train=1000, n_test=100, gz=False)
    train = TRAIN + (["--validation-size", "200", "--early-stopping-patience", "100"] if early else [])
    reference = tmp_path / "reference"
    assert glassnet(["--data-dir", str(data), "--out", str(reference), *train], hooks).wait() == 0

    run = tmp_path / "run"
    checkpoint = run / ("resume.npz" if early else "model.npz")       # the state, which --resume reads
    epochs_seen, killed = [], 0
    # aimed kills, and in between a few at an arbitrary moment (start-up, the middle of an epoch)
    plan = [*AIMED, *[("timed", 0.2 * k) for k in range(1, 4)]]
    for kill in plan:
        args = ["--data-dir", str(data), *(["--resume", str(run)] if checkpoint.exists() else
                                           ["--out", str(run), *train])]
        if kill[0] == "timed":
            process = glassnet(args, hooks)
            time.sleep(kill[1])
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
        else:
            process = glassnet(args, hooks, kill)
        _, err = process.communicate(timeout=300)
        assert process.returncode in (-signal.SIGKILL, 0), err
        killed += process.returncode == -signal.SIGKILL
        if checkpoint.exists():
            meta, _ = read_checkpoint(checkpoint)            # never truncated, never unreadable
            epochs_seen.append(meta["epoch"])
            history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
            assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))   # never half a file

    assert killed >= len(AIMED)                              # every aimed kill found its moment
    assert epochs_seen == sorted(epochs_seen)               # progress is never lost
    finish = glassnet(["--data-dir", str(data), "--resume", str(run)], hooks)
    _, err = finish.communicate(timeout=300)
    assert finish.returncode == 0, err
    for file in ("model.npz", "resume.npz") if early else ("model.npz",):
        final, expected = weights(run, file), weights(reference, file)
        assert final.keys() == expected.keys()
        for name in expected:
            np.testing.assert_array_equal(final[name], expected[name], err_msg=f"{file}: {name}")
    meta, _ = read_checkpoint(checkpoint)
    assert meta["epoch"] == EPOCHS and [h["epoch"] for h in meta["history"]] == list(range(1, EPOCHS + 1))
    assert not list(run.glob(".*.tmp"))                      # stale temporaries were cleaned up
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == list(range(1, EPOCHS + 1))

"""Fixtures of the sweep tests: spec files, a synthetic MNIST folder, worker processes, a PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mnist_fixtures import write_mnist_folder
from tests.sweep.postgres import PostgresServer, binaries, postgres_server

SPEC = """
name = "{name}"
trials = {trials}
sampler = "{sampler}"
seed = {seed}
heartbeat_seconds = {heartbeat}

[pruning]
enabled = {pruning}
startup_trials = 2
warmup_epochs = 1

[data]
train_subset = {subset}

[base]
epochs = {epochs}
hidden = {hidden}
batch_size = 64

[space]
lr = {{ type = "log_uniform", low = 1e-4, high = 3e-1 }}
dropout = {{ type = "uniform", low = 0.0, high = 0.5 }}
"""


def write_spec(folder: Path, **fields: Any) -> Path:
    values = {"name": "study", "trials": 4, "sampler": "tpe", "seed": 0, "pruning": "true", "subset": 1200, "epochs": 2,
              "hidden": "[32, 16]",
              "heartbeat": 1} | fields
    path = folder / f"{values['name']}.toml"
    path.write_text(SPEC.format(**values), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic MNIST folder: trials of a few hundredths of a second."""
    return write_mnist_folder(tmp_path_factory.mktemp("digits"), n_train=1200, n_test=100)


def glassnet(*args: str | Path, timeout: float = 900, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run the command as a user would, in its own process (the timeout is for a hang, not a slow machine)."""
    return subprocess.run([sys.executable, "-m", "glassnet", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def start(*args: str | Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as f:
        return subprocess.Popen([sys.executable, "-m", "glassnet", *map(str, args)], stdout=f,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; any still alive at its end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()


def _binaries() -> Path:
    """PostgreSQL's programs. CI (GLASSNET_REQUIRE_POSTGRES=1) fails rather than skips when Debian's package is
    missing."""
    pytest.importorskip("psycopg")
    bin_dir = binaries()
    if bin_dir is None:
        if os.environ.get("GLASSNET_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    return bin_dir


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the session: the URL of an empty database on it."""
    with postgres_server(_binaries()) as server:
        yield server.url


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, which it may stop and start again."""
    with postgres_server(_binaries()) as server:
        yield server

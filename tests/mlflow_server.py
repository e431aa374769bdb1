"""A throwaway MLflow tracking server for the tracking tests: `mlflow server` on an SQLite file and an artifact
folder in a temporary folder, on a loopback port it picks itself (--port 0); stopped, with every process it
started, afterwards."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

READY = re.compile(rb"Uvicorn running on (http://127\.0\.0\.1:\d+)")
HANG = 600.0        # seconds: only a server that hangs takes this long to start


def _wait_for_address(server: subprocess.Popen[bytes], log: Path) -> str:
    """The server's URL, once its log says it listens (polled: how long it takes depends on the machine)."""
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        found = READY.search(log.read_bytes())
        if found:
            return found.group(1).decode()
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited with status {server.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"mlflow server did not start in {HANG:.0f} s:\n{log.read_text()[-3000:]}")


def _wait_for_health(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline and server.poll() is None:
        with contextlib.suppress(urllib.error.URLError, OSError):
            with urllib.request.urlopen(f"{url}/health", timeout=30) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.2)
    raise RuntimeError(f"mlflow server at {url} never answered /health")


@contextlib.contextmanager
def mlflow_server(root: Path) -> Iterator[str]:
    """Start a tracking server keeping its runs in ``root``; yield its URL; stop it and its children."""
    log = root / "server.log"
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
               "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", "0",
               "--workers", "1"]
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}    # no job runner: nothing here uses it
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                  cwd=root, start_new_session=True)       # its own group: uvicorn is its child
    try:
        url = _wait_for_address(server, log)
        _wait_for_health(url, server)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        with contextlib.suppress(ProcessLookupError):      # a child that outlived the server
            os.killpg(server.pid, signal.SIGKILL)

"""A throwaway PostgreSQL server for the sweep tests: Debian's binaries, a fresh cluster in a temporary
folder, on a free loopback port; stopped and deleted afterwards. `.ci/run` installs the package."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: Debian keeps them off PATH, in /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A cluster in ``root`` serving one empty database, ``url``, on ``port``: stopped and started again at will."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir, self.root, self.port = bin_dir, root, port
        self.url = f"postgresql://glassnet@127.0.0.1:{port}/sweeps"
        # PostgreSQL refuses to run as root; Debian's package made the user 'postgres' for it
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *command: str) -> None:
        subprocess.run([*self.as_owner, *command], check=True, capture_output=True)

    def start(self) -> None:
        """Start the server and wait until it takes connections (pg_ctl -w)."""
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "server.log"),
                 "-w", "-t", "600", "-o",
                 f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        """Stop the server as an administrator would for a restart: open connections are cut."""
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "-t", "600",
                 "stop")


@contextlib.contextmanager
def postgres_server(bin_dir: Path) -> Iterator[PostgresServer]:
    """Start a server with an empty database; stop and delete it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="glassnet-pg-"))
    server = PostgresServer(bin_dir, root, _free_port())
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    try:
        server.run(str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "glassnet", "--auth=trust", "-E", "UTF8",
                   "--no-sync")
        server.start()
        try:
            server.run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "glassnet",
                       "sweeps")
            yield server
        finally:                              # a test may leave it stopped
            subprocess.run([*server.as_owner, str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate",
                            "-w", "stop"], capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

"""This machine's side of a sweep: its folder, and the worker processes started here.

A sweep folder belongs to one study. It holds a marker naming the study, the embedded store
(``study.db``) unless the study lives on a server, ``trials/NNNN`` (one run folder per trial run
here), ``workers/worker-K.log`` and, once reported, ``report.md``, ``trials.csv``, ``best.toml``
and ``plots/``. Like a run folder, it is made new or reused only if it is already this study's.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from glassnet.files import SMALL_JSON, FileKindError, read_bytes
from glassnet.sweep.storage import SweepError
from glassnet.version import __version__

MARKER = ".glassnet-sweep"


def prepare_folder(folder: Path, study: str) -> Path:
    """Make ``folder`` the home of study ``study`` on this machine, or say why it cannot be."""
    marker = folder / MARKER
    if marker.is_file():
        try:
            owner: str | None = study_of(folder)
        except SweepError:
            owner = None
        if owner != study:
            raise SweepError(f"{folder} holds the sweep {owner!r}, not {study!r}; choose another --out")
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.iterdir()):
            raise SweepError(f"{folder} exists and holds files glassnet did not write; a sweep goes into a new "
                             "or empty folder, so nothing of yours is overwritten. Choose another --out")
        marker.write_text(json.dumps({"study": study, "glassnet_version": __version__}) + "\n", encoding="utf-8")
    except (FileExistsError, NotADirectoryError):
        raise SweepError(f"{folder} or a folder above it is a file; choose another --out") from None
    except OSError as e:
        raise SweepError(f"cannot create the sweep folder {folder}: {e.strerror or e}") from e
    return folder


def study_of(folder: Path) -> str:
    """The study a sweep folder belongs to."""
    try:
        return str(json.loads(read_bytes(folder / MARKER, "sweep folder marker", SMALL_JSON))["study"])
    except FileNotFoundError:
        raise SweepError(f"{folder} is not a sweep folder (no {MARKER}); name the folder given to "
                         "glassnet sweep --out") from None
    except (OSError, ValueError, KeyError, TypeError, FileKindError) as e:
        raise SweepError(f"{folder}/{MARKER} cannot be read ({e}); it is not a sweep folder glassnet can use") from e


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                     # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def start_workers(n: int, url: str, study: str, folder: Path, flags: list[str]) -> list[subprocess.Popen[bytes]]:
    """``n`` workers on this machine, given ``flags`` (the data's, MLflow's), each with its share of the cores
    for NumPy's BLAS (at least one thread), logging to ``folder/workers/worker-K.log``. Worker K has index K
    (see ``study.sampler_seed``). They run in their own process groups, so a Ctrl-C in the terminal reaches
    the coordinator alone, which passes it on.

    Each worker reads the storage URL from the first line of its stdin, a pipe this process keeps open
    and never writes to again: the URL (and any password in it) stays out of the process list, and a
    worker sees the pipe close when this process ends, however it ends (see ``watch_coordinator``)."""
    threads = str(max(1, available_cores() // n))
    env = os.environ | {"OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    logs = folder / "workers"
    logs.mkdir(exist_ok=True)
    workers = []
    for k in range(n):
        command = [sys.executable, "-m", "glassnet", "sweep", "worker", "--from-coordinator", "--study", study,
                   "--out", str(folder), "--index", str(k), *flags]
        with open(logs / f"worker-{k}.log", "ab") as log:
            worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True)
        workers.append(worker)
        assert worker.stdin is not None, "Popen(stdin=PIPE) gives a pipe"
        with contextlib.suppress(BrokenPipeError):         # it exited already; its log and status say why
            worker.stdin.write(os.fsencode(url) + b"\n")
            worker.stdin.flush()
    return workers


def read_coordinator_url() -> str:
    """The storage URL a coordinator wrote to this worker's stdin (see ``start_workers``)."""
    if sys.stdin.isatty():
        raise SweepError("--from-coordinator is for the workers glassnet sweep starts; give --storage URL instead")
    line = sys.stdin.buffer.readline(64 * 1024)
    if not line.endswith(b"\n"):
        raise SweepError("--from-coordinator: no storage URL on stdin (its sweep ended before this worker started); "
                         "start workers by hand with --storage URL")
    return os.fsdecode(line[:-1])


def watch_coordinator(gone: Callable[[], None]) -> None:
    """Call ``gone`` (in a thread of its own) once stdin closes: the coordinator has ended, even by SIGKILL."""

    def watch() -> None:
        while os.read(sys.stdin.fileno(), 4096):
            pass
        gone()

    threading.Thread(target=watch, name="coordinator-watch", daemon=True).start()

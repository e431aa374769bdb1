"""This machine's side of a sweep: its folder, and the worker processes started here.

A sweep folder belongs to one study. It holds a marker naming the study, the embedded store
(``study.db``) unless the study lives on a server, ``trials/NNNN`` (one run folder per trial run
here), ``workers/worker-K.log`` and, once reported, ``report.md``, ``trials.csv``, ``best.toml``
and ``plots/``. Like a run folder, it is made new or reused only if it is already this study's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from glassnet.sweep.study import SweepError
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
        return str(json.loads((folder / MARKER).read_text(encoding="utf-8"))["study"])
    except FileNotFoundError:
        raise SweepError(f"{folder} is not a sweep folder (no {MARKER}); name the folder given to "
                         "glassnet sweep --out") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SweepError(f"{folder}/{MARKER} cannot be read ({e}); it is not a sweep folder glassnet can use") from e


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                     # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def start_workers(n: int, url: str, study: str, folder: Path, data_args: list[str]) -> list[subprocess.Popen[bytes]]:
    """``n`` workers on this machine, each with its share of the cores for NumPy's BLAS (at least one
    thread), logging to ``folder/workers/worker-K.log``. Worker K draws trials from seed + K. They run
    in their own process groups, so a Ctrl-C in the terminal reaches the coordinator alone, which
    passes it on."""
    threads = str(max(1, available_cores() // n))
    env = os.environ | {"OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    logs = folder / "workers"
    logs.mkdir(exist_ok=True)
    workers = []
    for k in range(n):
        command = [sys.executable, "-m", "glassnet", "sweep", "worker", "--storage", url, "--study", study,
                   "--out", str(folder), "--index", str(k), *data_args]
        with open(logs / f"worker-{k}.log", "ab") as log:
            workers.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            env=env, start_new_session=True))
    return workers

"""Run folders are glassnet's own: created fresh, recognisable, and nothing in them that glassnet did not
write is ever deleted or overwritten.

A new run goes into a folder that does not exist yet, or is empty, or is marked as glassnet's (a
run that was stopped before its first checkpoint); the marker file is written first. A folder
holding anything else is refused, whatever the file names. Temporary files are cleaned up only
when they are the temporaries of the files a run writes (``.<name>.<random>.tmp``).

A run folder is held by one process at a time: ``held(folder)`` takes an OS lock on its
``.glassnet-lock`` file (released by the OS when the process ends, however it ends), and a second
process that asks for it is refused with the holder's pid, host, start time and command.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import stat
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from glassnet.checkpoint import CHECKPOINT_NAME, LEGACY_BEST_NAME, RESUME_NAME
from glassnet.errors import GlassnetError
from glassnet.version import __version__

MARKER = ".glassnet-run"
LOCK = ".glassnet-lock"
# every file a run writes (an earlier glassnet's best.npz too); its temporaries are .<name>.<random>.tmp
RUN_FILES = (CHECKPOINT_NAME, RESUME_NAME, LEGACY_BEST_NAME, "config.toml", "history.csv", "history.json",
             "metrics.json", "report.md", "diagnostics.jsonl", "learning_curves.png", "confusion_matrix.png",
             "per_class_f1.png", "misclassified.png", "first_layer_weights.png")
_TEMPORARY = re.compile(r"^\.(" + "|".join(map(re.escape, RUN_FILES)) + r")\.[^/]+\.tmp$")


class RunFolderError(GlassnetError):
    """The folder asked for a new run cannot be used without touching someone else's files."""


def is_ours(folder: Path) -> bool:
    return (folder / MARKER).is_file() or (folder / CHECKPOINT_NAME).is_file() or (folder / RESUME_NAME).is_file()


def _mark(folder: Path) -> None:
    # written in place, not atomically: even a marker cut short by a kill still marks the folder as ours
    with open(folder / MARKER, "w", encoding="utf-8") as f:
        f.write(json.dumps({"glassnet_version": __version__,
                            "created": datetime.now().isoformat(timespec="seconds")}) + "\n")


def prepare_new(folder: Path) -> Path:
    """Make ``folder`` the home of a new run, or raise ``RunFolderError`` saying why it cannot be."""
    if str(folder).strip() == "":
        raise RunFolderError("the run folder's name is empty; name a new folder")
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        if not folder.is_dir():
            raise RunFolderError(f"{folder} exists and is not a folder; choose another name") from None
        if (folder / CHECKPOINT_NAME).exists() or (folder / RESUME_NAME).exists():
            raise RunFolderError(f"{folder} already holds a run; continue it with --resume {folder} "
                                 "(Python: resume=True), or choose another folder") from None
        if not (folder / MARKER).is_file():
            foreign = sorted(p.name for p in folder.iterdir())
            if foreign:
                shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
                raise RunFolderError(f"{folder} exists and holds files glassnet did not write ({shown}); a run goes "
                                     "into a new or empty folder, so nothing of yours is overwritten. Choose "
                                     "another folder") from None
    except OSError as e:
        raise RunFolderError(f"cannot create the run folder {folder}: {e.strerror or e}") from e
    _mark(folder)
    return folder


def new_timestamped(root: Path = Path("runs")) -> Path:
    """A fresh ``root/<date-time>`` folder, made here and now: two runs started in the same second get two."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for suffix in ("", *(f"-{n}" for n in range(2, 1000))):
        folder = root / f"{stamp}{suffix}"
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as e:
            raise RunFolderError(f"cannot create the run folder {folder}: {e.strerror or e}") from e
        _mark(folder)
        return folder
    raise RunFolderError(f"{root}/{stamp}-999 exists too; remove old runs or name a folder with --out")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries a killed run left in its own folder; any other file stays."""
    if not is_ours(folder):
        return []
    removed = []
    for path in folder.iterdir():
        if _TEMPORARY.match(path.name):
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


_held: dict[tuple[int, int], tuple[int, int]] = {}     # (device, inode) of a folder → (lock fd, depth)
_held_lock = threading.Lock()


@contextlib.contextmanager
def held(folder: Path) -> Iterator[None]:
    """Hold ``folder`` for this process while the block runs, or raise ``RunFolderError`` naming the process
    that holds it. Re-entrant: the CLI holds a run folder for the whole command, and ``fit`` within it."""
    try:
        info = os.stat(folder)
    except OSError as e:
        raise RunFolderError(f"cannot use the run folder {folder}: {e.strerror or e}") from e
    key = (info.st_dev, info.st_ino)
    with _held_lock:
        fd, depth = _held[key] if key in _held else (_lock(folder), 0)
        _held[key] = (fd, depth + 1)
    try:
        yield
    finally:
        with _held_lock:
            fd, depth = _held.pop(key)
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                os.close(fd)                              # closing the file releases the lock


def _lock(folder: Path) -> int:
    """The open lock file of ``folder``, locked for this process, with this process described in it."""
    path = folder / LOCK
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        raise RunFolderError(f"cannot lock the run folder {folder} ({path.name}: {e.strerror or e}); "
                             "a run folder must be writable, and its lock file a regular file") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RunFolderError(f"{path} is not a regular file; glassnet cannot lock this run folder")
        if not _try_lock(fd):
            raise RunFolderError(f"{folder} is in use by another glassnet process ({_holder(fd)}); wait for it "
                                 "to end or stop it, then try again. A run folder is written by one process at "
                                 "a time")
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": datetime.now().isoformat(timespec="seconds"),
                                 "command": " ".join(sys.argv)[:500]}).encode("utf-8") + b"\n")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _try_lock(fd: int) -> bool:
    """An exclusive lock on the whole file for this process, without waiting: True if taken."""
    if sys.platform == "win32":                          # no flock: lock the file's first byte instead
        import msvcrt
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as e:                                 # e.g. a network file system without locks
        raise RunFolderError(f"cannot lock the run folder ({e.strerror or e}): its file system offers no "
                             "locks; put the run on a local disk") from e
    return True


def _holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it (a few hundred bytes at most)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        record = json.loads(os.read(fd, 4096).decode("utf-8"))
        text = f"pid {int(record['pid'])} on {record['host']}, since {record['since']}: {record['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not recorded"
    return "".join(c if c.isprintable() else "?" for c in text)      # no terminal control codes from a file

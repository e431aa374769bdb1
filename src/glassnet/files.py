"""Reading files within a stated bound: every file glassnet reads is a regular file of a plausible size.

A path can name something that is not a file at all: a FIFO (reading it blocks until someone
writes), a device such as ``/dev/zero`` (it never ends), a folder, or a symlink to any of these.
``open_regular`` opens a path without blocking, looks at what it opened (never at the name), and
refuses anything but a regular file in one line. ``read_bytes`` also refuses a file larger than its
kind's bound before reading a byte, and reads at most that bound even if the file grows meanwhile.

The bounds are the ``Bound`` constants below, one per kind of file, each with the reason for its
size; ``BOUNDS`` lists them for the docs.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO, NamedTuple

from glassnet.errors import GlassnetError


class Bound(NamedTuple):
    """The most bytes glassnet reads from one file of a kind, and why that is enough."""

    bytes: int
    why: str


MiB, GiB = 1 << 20, 1 << 30
MODEL = Bound(2 * GiB, "a model file of 8,000-unit hidden layers in float64, with Adam's moments, is 1.6 GB")
TOML = Bound(1 * MiB, "a config or sweep spec is a few kilobytes")
IDX = Bound(1 * GiB, "MNIST's largest file is 47 MB unpacked; EMNIST's largest, 550 MB")
IMAGE = Bound(512 * MiB, "an uncompressed image at the 50,000,000-pixel limit is at most 200 MB")
RECORD_LINE = Bound(4 * MiB, "the longest line glassnet writes in a diagnostics record is about 100 kB")
SMALL_JSON = Bound(1 * MiB, "a marker, metrics or history file is a few kilobytes")
WORKBOOK = Bound(1 * MiB, "an exercise file is a few kilobytes of Python")
DOWNLOAD = Bound(64 * MiB, "MNIST's largest download is 9.9 MB")
LOG_TAIL = Bound(64 * 1024, "enough for the last lines of a worker's log")

BOUNDS = {"model file": MODEL, "config file or sweep spec": TOML, "IDX file (unpacked)": IDX, "image file": IMAGE,
          "line of a diagnostics record": RECORD_LINE, "marker, metrics or history file": SMALL_JSON,
          "workbook exercise": WORKBOOK, "MNIST download": DOWNLOAD, "worker log, read from its end": LOG_TAIL}


class FileKindError(GlassnetError):
    """A path names something other than a regular file, or a file beyond its kind's bound."""


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike[str], what: str, bound: Bound | None = None,
                 error: type[GlassnetError] = FileKindError) -> BinaryIO:
    """``path`` opened for reading in binary, once it is known to be a regular file (within ``bound``).

    ``what`` names the file for the message ("model file"); ``error`` is the exception raised for a
    path that is not a regular file or is too large. A missing file raises ``FileNotFoundError`` and
    an unreadable one ``PermissionError``, as ``open`` does, for the caller to word.
    """
    # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: {_kind(info.st_mode)}, not a regular file; name the {what} itself "
                        "(glassnet reads only regular files)")
        if bound is not None and info.st_size > bound.bytes:
            raise error(f"{path}: {info.st_size:,} bytes, more than any {what} glassnet reads (at most "
                        f"{bound.bytes:,}: {bound.why}); check that this is the file you meant")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str], what: str, bound: Bound,
               error: type[GlassnetError] = FileKindError) -> bytes:
    """The whole of a regular file no larger than ``bound`` (also if it grows while it is read)."""
    with open_regular(path, what, bound, error) as f:
        data = f.read(os.fstat(f.fileno()).st_size + 1)   # its size now (read() allocates what it is asked)
        while len(data) <= bound.bytes and (more := f.read(min(1 << 20, bound.bytes + 1 - len(data)))):
            data += more                                    # it grew since: read on, up to the bound
    if len(data) > bound.bytes:
        raise error(f"{path}: grew past {bound.bytes:,} bytes while it was read, more than any {what} glassnet "
                    f"reads ({bound.why})")
    return data


def read_text(path: str | os.PathLike[str], what: str, bound: Bound,
              error: type[GlassnetError] = FileKindError) -> str:
    """A UTF-8 text file, as ``read_bytes`` reads it; ``UnicodeDecodeError`` if it is not UTF-8."""
    return read_bytes(path, what, bound, error).decode("utf-8")


def read_tail(path: str | os.PathLike[str], what: str, bound: Bound = LOG_TAIL) -> bytes:
    """The last ``bound`` bytes of a regular file (all of it when shorter)."""
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - bound.bytes))
        return f.read(bound.bytes)


def is_regular(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (followed through symlinks) is a regular file; never opens it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


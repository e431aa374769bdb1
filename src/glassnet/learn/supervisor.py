"""``check``: the learner's exercises, checked in a child process, each within a time limit.

Nothing the learner's code does can stop or fool the checker: an endless loop (even one that catches
every exception), ``sys.exit``, ``os._exit`` or a crash ends at most the child
(``glassnet.learn.worker``, whose docstring lists the lines it sends). In the normal case one child
checks the whole workbook. When an exercise runs past the limit, or its code ends the child, that
exercise fails with the reason, and a new child checks the exercises left.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from glassnet.errors import GlassnetError
from glassnet.learn.causes import CAUSES
from glassnet.learn.exercises import BY_NAME, EXERCISES, TIME_LIMIT
from glassnet.learn.result import Result

GRACE = 5.0            # seconds past the limit the parent waits for the child to say where it was, then ends it
HARD_STOP = 2 * GRACE  # seconds past the limit a child ends itself even if its parent is gone (see worker.Watchdog)
START_LIMIT = 60.0     # seconds a child may take to import numpy and glassnet; only a broken installation needs more
LINE_BYTES = 1 << 20   # the child's lines are a few kilobytes at most

# The checks multiply matrices of a few rows: one BLAS thread does that fastest, and spares a shared machine
# (the network exercise's checks took 0.4 s with OpenBLAS's default threads, 0.1 s with one, on a busy 2-core one).
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

Message = tuple[str, Any]

_SHAPES: dict[str, Callable[[Any], bool]] = {       # what each kind of line the child sends holds
    "ready": lambda v: v is True,
    "begin": lambda v: isinstance(v, str),
    "check": lambda v: isinstance(v, str),
    "result": lambda v: isinstance(v, list) and [type(x) for x in v[:3]] == [str, bool, str] and len(v) == 4
    and (v[3] is None or v[3] in CAUSES),
    "end": lambda v: isinstance(v, str),
    "timeout": lambda v: isinstance(v, list) and len(v) == 2 and isinstance(v[0], (str, type(None)))
    and isinstance(v[1], (int, type(None))),
    "changed": lambda v: isinstance(v, str),
    "done": lambda v: v is True,
}
_HINTS = {"SIGSEGV": " (a segmentation fault: memory read out of bounds, as through a wrong "
                     "np.lib.stride_tricks.as_strided or ctypes, or recursion deeper than the C stack)",
          "SIGKILL": " (by the system, often for using too much memory, or by the checker when the process "
                     "closed its line to it)"}


def check(folder: str | Path, names: Sequence[str] = (), *, limit: float = TIME_LIMIT) -> list[Result]:
    """Check the exercises ``names`` (all when empty) of the workbook in ``folder``, ``limit`` seconds each.

    Raises ``GlassnetError`` for an unknown name, a folder that is not there, or a Python that cannot run
    the checker; whatever the learner's code does is a failed ``Result``.
    """
    folder = Path(folder)
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise GlassnetError(f"no exercise named {', '.join(unknown)}; the exercises are {', '.join(BY_NAME)}")
    if not folder.is_dir():
        raise GlassnetError(f"{folder} is not a folder; write a workbook there with 'glassnet learn start {folder}'")
    if not limit > 0:
        raise ValueError(f"limit must be a positive number of seconds, got {limit!r}")
    left = list(names) or [exercise.name for exercise in EXERCISES]
    results: list[Result] = []
    while left:
        session = _Session(folder.absolute(), left, float(limit))
        left = session.run()
        results += session.results
    return results


class _Session:
    """One child checking ``names`` in turn, as far as it gets."""

    def __init__(self, folder: Path, names: list[str], limit: float) -> None:
        self.folder, self.names, self.limit = folder, names, limit
        self.results: list[Result] = []
        self.ready = False
        self.ended = 0                                  # how many of names are done
        self.exercise: str | None = None                # the one running, if any
        self.check = "import"                           # the step of it that is running

    def run(self) -> list[str]:
        """Check as far as this child gets; return the exercises left for another."""
        child = _start(self.folder, self.names, self.limit)
        messages: queue.Queue[Message | None] = queue.Queue()
        threading.Thread(target=_read, args=(child.stdout, child.pid, messages), daemon=True).start()
        try:
            deadline = time.monotonic() + START_LIMIT
            while True:
                try:
                    message = messages.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    _stop(child)
                    return self._late()
                if message is None:
                    _stop(child)
                    return self._ended(child.returncode)
                left = self._take(*message)
                if left is not None:
                    return left
                if message[0] in ("ready", "begin", "end"):          # the limit is for a whole exercise
                    deadline = time.monotonic() + self.limit + GRACE
        finally:
            _stop(child)

    def _take(self, kind: str, value: Any) -> list[str] | None:
        """Follow one line of the child; return the exercises left once this child is done with."""
        if kind == "ready":
            self.ready = True
        elif kind == "begin":
            self.exercise, self.check = value, "import"
        elif kind == "check":
            self.check = value
        elif kind == "result" and self.exercise is not None:
            self.results.append(Result(self.exercise, *value))
        elif kind == "end":
            self.exercise, self.ended = None, self.ended + 1
        elif kind == "timeout" and self.exercise is not None:
            self._fail(self._timed_out(*value), "timeout")
            return self.names[self.ended + 1:]
        elif kind == "changed" and self.exercise is not None:
            self.results = [r for r in self.results if r.exercise != self.exercise]     # computed with its code
            self.check = "numpy and glassnet left as they were"
            self._fail(f"{self.exercise}.py replaced {value}; the checks compute with numpy and glassnet, so they "
                       "could no longer be trusted. Leave their functions as they are", "replaced-library")
            return self.names[self.ended + 1:]
        elif kind == "done":
            return []
        return None

    def _late(self) -> list[str]:
        """The child ran past its deadline without a word: code holding the GIL, which its own timer cannot end."""
        if not self.ready:
            raise GlassnetError(f"the Python process that checks the exercises did not start within "
                                f"{START_LIMIT:g} s; check that '{sys.executable} -m glassnet.learn.worker' can "
                                "import numpy and glassnet")
        if self.exercise is None:
            return self._between("stopped answering")
        self._fail(self._timed_out(None, None), "timeout")
        return self.names[self.ended + 1:]

    def _ended(self, status: int) -> list[str]:
        """The child ended: during an exercise, its code did that."""
        if not self.ready:
            raise GlassnetError(f"the Python process that checks the exercises ended (exit status {status}) before it "
                                f"began; check that '{sys.executable} -m glassnet.learn.worker' can import numpy and "
                                "glassnet")
        if self.exercise is None:
            return self._between(f"ended (exit status {status})")
        self._fail(f"{self.exercise}.py: {_why_ended(status)}", "ended")
        return self.names[self.ended + 1:]

    def _between(self, what: str) -> list[str]:
        """The child failed between two exercises: another one checks the rest, unless it never began one."""
        if not self.ended:
            raise GlassnetError(f"the Python process that checks the exercises {what} before the first one")
        return self.names[self.ended:]

    def _timed_out(self, function: str | None, line: int | None) -> str:
        file, limit = f"{self.exercise}.py", f"{self.limit:g} s"
        if function is None:
            return f"{file}: this check did not finish within {limit}: an endless loop?"
        if function == "<module>":
            return f"{file}, line {line}: the file did not finish importing within {limit}: an endless loop?"
        return f"{file}, line {line}: {function} did not return within {limit}: an endless loop?"

    def _fail(self, message: str, cause: str) -> None:
        assert self.exercise is not None
        self.results.append(Result(self.exercise, self.check, False, message, cause))


def _why_ended(status: int) -> str:
    """Why a child stopped, said of the exercise it was checking."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"the process checking it was ended by {name} during this check{_HINTS.get(name, '')}"
    return (f"the process checking it ended with exit status {status} during this check (os._exit?); a function "
            "must return its result, never end the process")


def _start(folder: Path, names: list[str], limit: float) -> subprocess.Popen[bytes]:
    """The child, in a session of its own: a Ctrl-C reaches this process alone, and ``_stop`` ends its forks too."""
    command = [sys.executable, "-P", "-m", "glassnet.learn.worker", repr(limit), str(folder), *names]
    try:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True,
                                env=os.environ | ONE_THREAD)
    except OSError as e:
        raise GlassnetError(f"cannot start a Python process to check the exercises ({sys.executable}: "
                            f"{e.strerror or e})") from e


def _stop(child: subprocess.Popen[bytes]) -> None:
    """End the child and every process of its session (the learner's code may fork), then reap it."""
    if child.returncode is not None:
        return
    try:
        if hasattr(os, "killpg"):
            os.killpg(child.pid, signal.SIGKILL)        # the child is not reaped yet, so its group id is its own
        else:
            child.kill()
    except OSError:                                     # already gone
        pass
    child.wait()


def _read(stream: IO[bytes], pid: int, messages: queue.Queue[Message | None]) -> None:
    """Pass on the child's lines, each as (kind, value), then None at the end; ignore any line not its own."""
    try:
        with stream:
            for line in iter(lambda: stream.readline(LINE_BYTES), b""):
                message = _parse(line, pid)
                if message is not None:
                    messages.put(message)
    finally:
        messages.put(None)


def _parse(line: bytes, pid: int) -> Message | None:
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.pop("pid", None) != pid or len(message) != 1:
        return None
    [(kind, value)] = message.items()
    return (kind, value) if kind in _SHAPES and _SHAPES[kind](value) else None

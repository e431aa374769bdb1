"""The child process that runs the learner's code: ``python -m glassnet.learn.worker LIMIT FOLDER NAME...``.

It checks the exercises NAME... of the workbook in FOLDER one after another and tells its parent
(``glassnet.learn.supervisor``) what it does, one JSON object per line on the stdout it was started
with, each carrying its process id:

    {"ready": true}                         imports done; the learner's code comes next
    {"begin": "linear"}                     an exercise starts: its file is imported
    {"check": "forward"}                    one of its checks starts
    {"result": ["forward", false, "…", "relu.abs"]}   that check's verdict: name, passed, message, cause (or null)
    {"end": "linear"}                       the exercise is done
    {"timeout": ["Linear.backward", 40]}    it ran past LIMIT seconds, there (function and line, or nulls)
    {"changed": "numpy.maximum"}            its code replaced a function the checks rely on
    {"done": true}                          every exercise is done

After "timeout" or "changed" the process ends itself; the parent starts another for the exercises left.
What the learner's code prints goes to stderr, never into these lines.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import IO, Any, NoReturn

import numpy as np

from glassnet.learn.checks import Checks
from glassnet.learn.exercises import BY_NAME, Exercise
from glassnet.learn.learner_code import ExerciseFileError, import_failure, load
from glassnet.learn.result import Result
from glassnet.learn.supervisor import HARD_STOP


class Channel:
    """The lines to the parent, on the file descriptor that was stdout; stdout itself now goes to stderr.

    Each line is written whole with ``os.write`` (a pipe keeps a write of up to 4 KiB in one piece, and
    lines are shorter but for a rare long message), and carries ``os.getpid()``: a process the learner's
    code forks, running on through the checks, cannot pass its lines off as this one's.
    """

    def __init__(self) -> None:
        self._fd = os.dup(1)
        os.dup2(2, 1)                                   # print(), and C code writing to fd 1, reach stderr
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(line_buffering=True)  # was block-buffered for a pipe; a crash would lose it

    def send(self, **message: Any) -> None:
        data = memoryview((json.dumps({"pid": os.getpid(), **message}) + "\n").encode("ascii"))
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError:                                 # the parent is gone: nobody to check for
            end(1)


class Watchdog:
    """Ends this process when the learner's code runs past ``limit`` seconds, after saying where it was.

    A timer thread, so that a loop which catches every exception is ended all the same; it looks at the
    main thread's stack for the innermost frame of the learner's file. Code that holds the GIL, such as
    a regular expression that backtracks for ages, keeps that thread from running: the parent ends such
    a child after ``GRACE`` more seconds, and should the parent be gone, faulthandler's timer (a C thread,
    which needs no GIL) ends it after ``HARD_STOP``.
    """

    def __init__(self, channel: Channel, path: Path, limit: float, devnull: IO[str]) -> None:
        self._channel, self._path, self._limit, self._devnull = channel, str(path), limit, devnull
        self._main = threading.get_ident()
        self._lock = threading.Lock()
        self._finished = False
        self._timer = threading.Timer(limit, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        faulthandler.dump_traceback_later(self._limit + HARD_STOP, exit=True, file=self._devnull)   # no one to read it
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:                                # a timer firing now has the lock, and ends the process
            self._finished = True
        self._timer.cancel()
        faulthandler.cancel_dump_traceback_later()

    def _fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            function, line = self._where(sys._current_frames().get(self._main))
            self._channel.send(timeout=[function, line])
            end(1)

    def _where(self, frame: FrameType | None) -> tuple[str | None, int | None]:
        while frame is not None and frame.f_code.co_filename != self._path:
            frame = frame.f_back
        return (frame.f_code.co_qualname, frame.f_lineno) if frame is not None else (None, None)


class Untouched:
    """The modules the checks compute with (numpy, glassnet, math, builtins), as they were at the start.

    A learner's file that replaces one of their functions (``np.maximum = …``) would make the checks
    compare with its own code; ``changed`` names the first such replacement.
    """

    def __init__(self) -> None:
        self._before = {name: dict(vars(module)) for name, module in list(sys.modules.items())
                        if _relied_on(name) and module is not None}

    def changed(self) -> str | None:
        for name, before in self._before.items():
            now = vars(sys.modules[name]) if name in sys.modules else {}
            for key, value in before.items():
                if not key.startswith("__") and now.get(key, _GONE) is not value:
                    return f"{name}.{key}"
        return None


_GONE = object()


def _relied_on(module: str) -> bool:
    return module in ("math", "builtins") or module.split(".")[0] in ("numpy", "glassnet")


def check_exercise(exercise: Exercise, checks: Callable[[ModuleType, Checks], None], path: Path,
                   channel: Channel) -> None:
    """Import the learner's file and run the exercise's checks on it, sending each check and result."""

    def report(result: Result) -> None:
        channel.send(result=[result.check, result.passed, result.message, result.cause])

    try:
        module = load(path)
    except ExerciseFileError as e:
        report(Result(exercise.name, "file", False, str(e), "file"))
        return
    except BaseException as e:                          # whatever the file's code raises or does, even sys.exit
        report(Result(exercise.name, "import", False, import_failure(path, e), "import"))
        return
    checks(module, Checks(exercise.name, path, started=lambda name: channel.send(check=name),
                                  report=report))


def main(arguments: list[str]) -> None:
    limit, folder, names = float(arguments[0]), Path(arguments[1]).absolute(), arguments[2:]
    channel = Channel()
    checks = {name: BY_NAME[name].check_function() for name in names}   # imported before any learner's file runs,
    untouched = Untouched()                                               # so that what they import is watched too
    devnull = open(os.devnull, "w")                     # faulthandler writes there; open until the process ends
    channel.send(ready=True)
    for name in names:
        channel.send(begin=name)
        path = folder / f"{name}.py"
        # numpy's error state and the warning filters are put back after each exercise, whatever it set
        with Watchdog(channel, path, limit, devnull), np.errstate(**np.geterr()), warnings.catch_warnings():
            check_exercise(BY_NAME[name], checks[name], path, channel)
        replaced = untouched.changed()
        if replaced is not None:
            channel.send(changed=replaced)
            end(1)
        channel.send(end=name)
    channel.send(done=True)
    end(0)


def end(status: int) -> NoReturn:
    """Flush what the learner's code printed, then end at once: no atexit hook or thread of theirs can hold it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:                           # a stream the learner's code replaced or closed
            pass
    os._exit(status)


if __name__ == "__main__":
    main(sys.argv[1:])

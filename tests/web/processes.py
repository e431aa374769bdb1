"""glassnet commands in child processes, for tests that wait for what a process prints.

Every wait is for an event (a line printed, the process ending) with ``DEADLINE``, a limit that only a
hang reaches: a loaded machine is slow, never wrong. ``stop_all`` ends whatever a test left running.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time

DEADLINE = 600.0                 # seconds; on a machine with every core busy a step takes seconds, not minutes
STARTED: list[subprocess.Popen] = []


class Process:
    """``python -m glassnet ARGS``; a thread collects its output (stdout and stderr), line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd=None) -> None:
        self.popen = subprocess.Popen([sys.executable, "-u", "-m", "glassnet", *args], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, cwd=cwd,
                                      env=env if env is not None else os.environ | {"GLASSNET_DATA": ""})
        STARTED.append(self.popen)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._ended = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.put(line)
        self.lines.put(None)                               # the output has ended

    def wait_for_line(self, start: str) -> str:
        """The first line (stripped) from now on that starts with ``start``; fails if the output ends first."""
        deadline = time.monotonic() + DEADLINE
        while not self._ended:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self._ended = True
                break
            self.seen.append(line)
            if line.startswith(start):
                return line.strip()
        raise AssertionError(f"no line starting {start!r}; output:\n{''.join(self.seen)}")

    def owner_url(self, start: str) -> str:
        """The URL with the owner's token in the line that starts with ``start`` ("live view: ", "serving ")."""
        return next(word for word in self.wait_for_line(start).split() if word.startswith("http://"))

    def finish(self, sig: int | None = signal.SIGINT) -> str:
        """Send ``sig`` if still running (None: send nothing), wait for the end, and return everything it printed."""
        if sig is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)
        self.popen.wait(timeout=DEADLINE)
        while not self._ended:
            line = self.lines.get(timeout=DEADLINE)          # the reader puts None once the pipe closes
            if line is None:
                self._ended = True
            else:
                self.seen.append(line)
        return "".join(self.seen)


def stop_all() -> None:
    """Kill every process a test started and left running."""
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=DEADLINE)


def base_of(owner_url: str) -> str:
    """``http://host:port`` of an owner's URL (``http://host:port/?token=…#view``)."""
    return owner_url.split("/?")[0]


def token_of(owner_url: str) -> str:
    return owner_url.split("?token=")[1].split("#")[0]

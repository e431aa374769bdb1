"""When a study stops by itself: trials that keep failing end it, whatever they fail on.

A study stops once ``MAX_FAILURES_IN_A_ROW`` of its trials, in the order they ended and whichever
workers ran them, have failed one after another. Every worker looks before it takes a trial, so
all of them leave, and ``glassnet sweep`` says why in one line: the most common error and what to
do about it. The count starts again each time the sweep is started (``glassnet sweep SPEC``), a
person's decision to try again; a trial abandoned on purpose (Ctrl-C twice, SIGTERM) is not a failure.

Why ten: a space where half of the trials fail reaches ten failures in a row by chance about once in
2,000 trials (the mean wait for a run of k at odds p is (1 − pᵏ) / ((1 − p) pᵏ)), while a space where
every trial fails, diverging in its first epoch, stops after seconds instead of filling the disk.
"""

from __future__ import annotations

import datetime
import re
import signal
from collections import Counter
from collections.abc import Sequence
from typing import Any

import optuna

MAX_FAILURES_IN_A_ROW = 10
COUNTED_FROM = "glassnet_failures_counted_from"      # study attribute: the first trial number counted
ABANDONED = "abandoned"                              # trial attribute: its worker was told to drop it
ERROR_CHARS = 300                                    # an error is kept and shown in one line of at most this
NO_HEARTBEAT = ("its worker stopped answering (no heartbeat): killed (out of memory?), or its machine or network "
                "was lost")


def worker_ended(index: int, pid: int, returncode: int) -> str:
    """The error of a trial whose worker, one ``glassnet sweep`` started here, ended before the trial did."""
    if returncode < 0:
        try:
            name = f" ({signal.Signals(-returncode).name})"
        except ValueError:                           # a signal Python has no name for
            name = ""
        how = f"was killed by signal {-returncode}{name}"
    else:
        how = f"exited with status {returncode} (workers/worker-{index}.log says why)"
    return f"the worker running it (worker {index}, pid {pid}) {how} before the trial ended"


_HINTS = {
    "DivergenceError": "lower the high end of lr (and of any other rate searched) in [space]",
    "MemoryError": "search smaller hidden widths and batch sizes",
    "ConfigError": "narrow [space] so that every combination it draws is a valid config",
    NO_HEARTBEAT: "search smaller networks, or run fewer workers on each machine",
}
_FAIL = optuna.trial.TrialState.FAIL
_ENDED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, _FAIL)


def error_of(trial: optuna.trial.FrozenTrial) -> str | None:
    """Why a trial failed (never empty for a failed one: a trial failed without a word lost its worker)."""
    if trial.state != _FAIL:
        return None
    return one_line(str(trial.user_attrs.get("error") or NO_HEARTBEAT))


def one_line(text: str) -> str:
    """The first line of ``text``, cut to ERROR_CHARS."""
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= ERROR_CHARS else line[:ERROR_CHARS - 1] + "…"


def _kind(error: str) -> str:
    """The exception's name that starts a worker's error line ("DivergenceError: …"), else the whole line."""
    found = re.match(r"([A-Za-z_][A-Za-z0-9_.]*): ", error)
    return found.group(1) if found else error


def failing_run(trials: Sequence[optuna.trial.FrozenTrial], attrs: dict[str, Any]) -> list[optuna.trial.FrozenTrial]:
    """The first ``MAX_FAILURES_IN_A_ROW`` failed trials in a row (in the order they ended, counted from the trial
    number the study's attributes ``attrs`` name), or [] while there is no such run."""
    counted_from = attrs.get(COUNTED_FROM, 0)
    if not isinstance(counted_from, int):            # not written by glassnet: count them all
        counted_from = 0
    ended = sorted((t for t in trials if t.number >= counted_from and t.state in _ENDED
                    and not t.user_attrs.get(ABANDONED)),
                   key=lambda t: t.datetime_complete or datetime.datetime.max)
    run: list[optuna.trial.FrozenTrial] = []
    for t in ended:
        run = [*run, t] if t.state == _FAIL else []
        if len(run) == MAX_FAILURES_IN_A_ROW:
            return run
    return []


def stop_line(name: str, run: Sequence[optuna.trial.FrozenTrial]) -> str:
    """Why the study stopped, in one line: the most common error among ``run`` and what to do."""
    errors = [error_of(t) or NO_HEARTBEAT for t in run]
    kind, count = Counter(map(_kind, errors)).most_common(1)[0]
    example = next(e for e in reversed(errors) if _kind(e) == kind)
    hint = _HINTS.get(kind, "the workers' logs show each trial's error")
    return (f"study {name!r} stopped: {len(run)} trials in a row failed ({count} of them: {example.rstrip('.')}). "
            f"What to do: {hint}, in a spec with a new name (a study keeps the spec it was made with); or, if "
            "the cause lay outside the spec, run the same command again")

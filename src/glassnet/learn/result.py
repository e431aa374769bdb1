"""``Result``: one check of one exercise, as the child that ran it reports it and the parent collects it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One check of one exercise: passed or not, what to do about it, and the mistake named (see ``CAUSES``)."""

    exercise: str
    check: str
    passed: bool
    message: str = ""
    cause: str | None = None          # None: passed, or failed in a way the checker cannot name

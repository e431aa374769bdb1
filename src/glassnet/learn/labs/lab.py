"""What a lab is: a question, the kind of prediction it asks for, the run that measures, and the explanation.

A lab breaks one thing on purpose. The learner reads the question, writes down a prediction (a number in the
lab's unit, or one of its options), then runs the lab and sees the measurement beside the guess. The same
``Lab`` serves the labs notebook (``docs/labs.ipynb``), ``glassnet learn lab NAME`` and any notebook of one's own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassnet.learn.labs.data import LabData


@dataclass(frozen=True)
class Number:
    """A prediction that is a number: ``what`` it measures, the ``unit`` after it ("%", "points"), an example."""

    what: str
    unit: str
    example: str

    def describe(self) -> str:
        return f"{self.what}, e.g. {self.example}"

    def parse(self, text: str) -> float:
        """The number in ``text`` ("85", "85 %", "1e-3"); ValueError saying what was expected."""
        cleaned = text.strip().removesuffix(self.unit.strip()).strip() if self.unit.strip() else text.strip()
        value = _number(cleaned)
        if value is None or not math.isfinite(value):
            raise ValueError(f"expected {self.describe()}; got {text.strip()!r}")
        return value

    def compare(self, guess: float, measured: float) -> str:
        gap = measured - guess
        side = "exactly your guess" if gap == 0 else f"{abs(gap):.3g} {'above' if gap > 0 else 'below'} it"
        return f"you predicted {guess:g}{self.unit_suffix()}; measured {measured:.3g}{self.unit_suffix()} ({side})"

    def unit_suffix(self) -> str:
        return self.unit if self.unit in ("%", "") else f" {self.unit}"


@dataclass(frozen=True)
class Choice:
    """A prediction that is one of ``options``: given by its words (or a unique start of them) or its number.

    Options that are themselves numbers (learning rates) are given as that number, and are not numbered.
    """

    options: tuple[str, ...]

    def describe(self) -> str:
        if self.numeric():
            return "one of " + ", ".join(self.options)
        return "one of: " + "; ".join(f"({i}) {option}" for i, option in enumerate(self.options, 1))

    def parse(self, text: str) -> str:
        """The option ``text`` names ("2", "nan", "trains worse"; "0.01" among rates); ValueError listing them."""
        wanted = " ".join(text.split()).lower()
        if self.numeric():
            found = [o for o in self.options if _number(wanted) == float(o)]
        elif wanted.isdigit() and 1 <= int(wanted) <= len(self.options):
            found = [self.options[int(wanted) - 1]]
        else:
            found = [o for o in self.options if o.lower() == wanted] or [
                o for o in self.options if wanted and o.lower().startswith(wanted)]
        if len(found) != 1:
            how = "" if self.numeric() else " (its number or its words)"
            raise ValueError(f"expected {self.describe()}{how}; got {text.strip()!r}")
        return found[0]

    def compare(self, guess: str, measured: str) -> str:
        return (f"you predicted “{guess}”; measured: “{measured}” "
                f"({'as you said' if guess == measured else 'not what you said'})")

    def numeric(self) -> bool:
        """Whether the options are numbers (then given as numbers, not by position)."""
        return all(_number(option) is not None for option in self.options)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Result:
    """What a run measured: ``answer`` (compared with the prediction), the measurement as text, the figures."""

    answer: float | str               # a number in the lab's unit, or one of its options
    lines: tuple[str, ...]            # the measurement, for people
    figures: dict[str, Any] = field(default_factory=dict)   # the measured numbers (and what a plot draws)


@dataclass(frozen=True)
class Lab:
    """One lab: ask ``question``, take a prediction of the kind ``predict``, ``run`` on the digits, explain."""

    name: str                                   # the slug: glassnet learn lab NAME
    title: str
    question: str
    predict: Number | Choice
    run: Callable[[LabData], Result]
    explanation: str                            # why the measurement comes out as it does
    look_for: str                               # what this mistake looks like in a real run
    code: tuple[Callable[..., Any] | type, ...]  # the lab's code as the page shows it (``run`` and its helpers)
    draw: Callable[[Result, Any], None] | None = None   # draws ``Result.figures`` into matplotlib axes
    needs_data: bool = True                     # False: the lab does not read the digits

    def parse(self, text: str) -> float | str | None:
        """A prediction from what a person typed; None when they typed nothing."""
        return None if not text.strip() else self.predict.parse(text)

    def compare(self, guess: float | str | None, result: Result) -> str:
        """The measurement beside the guess, in one line (or that no guess was made)."""
        if guess is None:
            return "no prediction was made; next time, write one down first"
        if isinstance(self.predict, Number):
            return self.predict.compare(float(guess), float(result.answer))
        return self.predict.compare(str(guess), str(result.answer))


def plain(text: str) -> str:
    """``text`` (Markdown with `code` and $math$) as plain text for a terminal: marks removed, lines joined."""
    return re.sub(r"[`$]|\*\*", "", " ".join(text.split()))

"""A check's results as a learner reads them (a table) and as a teacher's script does (one record a check).

``report(folder, names)`` checks a workbook and adds the hint steps opened for each exercise; in a
notebook the report shows itself as the same table ``glassnet learn check`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glassnet.learn.hint_texts import STEPS
from glassnet.learn.hints import levels
from glassnet.learn.result import Result
from glassnet.learn.supervisor import check


@dataclass(frozen=True)
class Report:
    """The results of one check of a workbook, with the hint steps opened for each exercise (0 to 3)."""

    results: list[Result]
    hints: dict[str, int]
    folder: Path = Path(".")

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def exercises(self) -> list[str]:
        return list(dict.fromkeys(r.exercise for r in self.results))

    def format(self) -> str:
        """A pass/fail table with the hint steps each exercise used, then the count of exercises passed."""
        width = max((len(r.check) for r in self.results), default=5)
        lines = [f"{'exercise':<22} {'hints':<5}  {'check':<{width}}  result"]
        shown: set[str] = set()
        for r in self.results:
            hints = "" if r.exercise in shown else f"{self.hints.get(r.exercise, 0)}/{len(STEPS)}"
            name = "" if r.exercise in shown else r.exercise
            shown.add(r.exercise)
            lines.append(f"{name:<22} {hints:<5}  {r.check:<{width}}  {'pass' if r.passed else 'FAIL'}")
            if r.message:
                lines.append(f"    → {r.message}")
        exercises = self.exercises()
        passed = [e for e in exercises if all(r.passed for r in self.results if r.exercise == e)]
        lines.append(f"\n{len(passed)} of {len(exercises)} exercises pass")
        stuck = [e for e in exercises if e not in passed and self.hints.get(e, 0) < len(STEPS)]
        if stuck:
            where = "" if self.folder == Path(".") else f" {self.folder}"
            lines.append(f"stuck? the next step of a hint: glassnet learn hint {stuck[0]}{where}")
        return "\n".join(lines)

    def records(self) -> list[dict[str, Any]]:
        """One record a check: exercise, check, passed, message, cause (None: none named) and hints used."""
        return [{"exercise": r.exercise, "check": r.check, "passed": r.passed, "message": r.message,
                 "cause": r.cause, "hints": self.hints.get(r.exercise, 0), "hint_steps": len(STEPS)}
                for r in self.results]

    def __str__(self) -> str:
        return self.format()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:     # IPython shows the table, not the fields
        printer.text(self.format())


def format_results(results: Sequence[Result]) -> str:
    """The table of ``results``, with no hint record (as for results checked elsewhere)."""
    return Report(list(results), {}).format()


def report(folder: str | Path = ".", names: Sequence[str] = ()) -> Report:
    """Check the exercises ``names`` (all when empty) of the workbook in ``folder``, with the hint steps used."""
    results = check(folder, names)
    return Report(results, levels(folder), Path(folder))

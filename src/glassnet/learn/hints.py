"""Hints one step at a time, and the record of how far each exercise's hints were opened.

``hint(folder, name)`` opens the next step of an exercise's hints and records it in ``RECORD``, a
small JSON file in the workbook's folder; ``levels(folder)`` reads that record for ``learn check``.
The record is the learner's own file: it tells a teacher what was opened, it does not prove it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from glassnet.atomic import atomic_write_text
from glassnet.errors import GlassnetError
from glassnet.files import SMALL_JSON, read_bytes
from glassnet.learn.hint_texts import HINTS, STEPS

RECORD = ".glassnet-hints.json"


@dataclass(frozen=True)
class Hint:
    """The steps of one exercise's hints opened so far (1 to 3), and their texts."""

    exercise: str
    level: int
    texts: tuple[str, ...]
    folder: Path = Path(".")

    def format(self) -> str:
        parts = [f"hint {i} of {len(STEPS)} for {self.exercise}: {STEPS[i - 1]}\n\n{text}\n"
                 for i, text in enumerate(self.texts, 1)]
        if self.level < len(STEPS):
            where = "" if self.folder == Path(".") else f" {self.folder}"
            parts.append(f"stuck still? the next step, {STEPS[self.level]}: glassnet learn hint {self.exercise}{where}")
        else:
            parts.append("that was the last step; the derivation is on the docs page named in the stub")
        return "\n".join(parts)


def levels(folder: str | Path) -> dict[str, int]:
    """How many steps of each exercise's hints were opened (absent: none); an unreadable record counts as none."""
    try:
        record = json.loads(read_bytes(Path(folder) / RECORD, "hint record", SMALL_JSON))
    except (OSError, GlassnetError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {name: level for name, level in record.items()
            if name in HINTS and isinstance(level, int) and 1 <= level <= len(STEPS)}


def hint(folder: str | Path, exercise: str) -> Hint:
    """Open the next step of ``exercise``'s hints (the last one again once all are open) and record it."""
    folder = Path(folder)
    if exercise not in HINTS:
        raise GlassnetError(f"no exercise named {exercise}; the exercises are {', '.join(HINTS)}")
    if not (folder / f"{exercise}.py").exists():
        raise GlassnetError(f"{folder} holds no {exercise}.py: name the workbook's folder, as in "
                            f"'glassnet learn hint {exercise} my-workbook'")
    opened = levels(folder)
    level = min(opened.get(exercise, 0) + 1, len(STEPS))
    try:
        atomic_write_text(folder / RECORD, json.dumps(opened | {exercise: level}, indent=1) + "\n")
    except OSError as e:
        raise GlassnetError(f"cannot record the hint in {folder / RECORD}: {e.strerror or e}") from e
    return Hint(exercise, level, HINTS[exercise][:level], folder)

"""The workbook as one notebook: each exercise's stub in a cell that saves it to its file, then a cell that checks it.

A cell that starts with ``%%writefile linear.py`` writes the rest of the cell into the workbook's
``linear.py`` when it runs, so the checker (which reads the files) sees exactly what the notebook
holds, and ``report`` prints the table ``glassnet learn check`` prints.
"""

from __future__ import annotations

import json
from typing import Any

from glassnet.learn.exercises import EXERCISES, TIME_LIMIT, stub
from glassnet.learn.hint_texts import STEPS

DOCS = "the docs' Exercises page"


def _cell(kind: str, text: str, index: int) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": text}
    if kind == "code":
        cell |= {"execution_count": None, "outputs": []}
    return cell


def cells() -> list[tuple[str, str]]:
    """(kind, text) of every cell, in order."""
    found = [("markdown", f"""# glassnet workbook

Each exercise below is a stub: its forward pass, its shapes and the rules of its layer. The backward
pass is yours to derive. Write your code in the exercise's cell and run it: the first line,
`%%writefile`, saves the cell into the workbook's file. Then run the cell below it, which checks that
file and prints the same table as `glassnet learn check`. Edit the cells or the files, not both:
running a cell overwrites its file.

Stuck? `hint(".", "linear")` opens the next of {len(STEPS)} steps ({", ".join(STEPS)}); the table
shows how many steps each exercise used. Each exercise has {TIME_LIMIT:g} seconds to run its checks.
The solutions are on {DOCS}, folded."""),
             ("code", "from glassnet.learn import hint, report")]
    for i, exercise in enumerate(EXERCISES):
        found += [("markdown", f"## {i}. {exercise.title}\n\nDerive it here; the worked derivation, to compare once "
                               f"yours passes, is the docs page `{exercise.page}`."),
                  ("code", f"%%writefile {exercise.name}.py\n{stub(exercise.name)}"),
                  ("code", f'report(".", ["{exercise.name}"])        # stuck? hint(".", "{exercise.name}")')]
    return found


def workbook_notebook() -> str:
    """``workbook.ipynb``'s text (nbformat 4)."""
    notebook = {"cells": [_cell(kind, text, i) for i, (kind, text) in enumerate(cells())],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                             "language_info": {"name": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"

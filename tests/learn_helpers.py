"""The docs' solutions to the workbook, pasted into the stubs as a learner would, and mistakes planted in them."""

import ast
import re
import textwrap
from pathlib import Path

from glassnet.learn import start

SOLUTIONS_PAGE = Path(__file__).parents[1] / "docs" / "learn" / "exercises.md"


def solutions() -> dict[str, str]:
    """Exercise name → the solution's code, from the folded blocks of the docs' exercises page."""
    found = re.findall(r'\?\?\? success "Solution: (\w+)"\n\n((?:    .*\n|\n)*?)    ```\n',
                       SOLUTIONS_PAGE.read_text())
    return {name: textwrap.dedent(block).removeprefix("```python\n") for name, block in found}


def paste(stub: str, solution: str) -> str:
    """The stub with each function the solution defines replaced by the solution's version (same indentation)."""
    lines = stub.splitlines(keepends=True)
    solved = textwrap.dedent(solution)
    replacements = []
    for function in ast.parse(solved).body:
        target = next(node for node in ast.walk(ast.parse(stub))
                      if isinstance(node, ast.FunctionDef) and node.name == function.name)
        indent = re.match(r"\s*", lines[target.lineno - 1]).group()
        text = "".join(solved.splitlines(keepends=True)[function.lineno - 1:function.end_lineno])
        replacements.append((target.lineno - 1, target.end_lineno, textwrap.indent(text, indent)))
    for first, last, text in sorted(replacements, reverse=True):
        lines[first:last] = [text]
    return "".join(lines)


def solve(folder: Path, name: str, plant: tuple[str, str] | None = None) -> Path:
    """Paste the docs' solution into ``folder/name.py``; ``plant`` = (old, new) edits the solution first."""
    solution = solutions()[name]
    if plant is not None:
        assert plant[0] in solution, f"the planted text {plant[0]!r} is not in the {name} solution"
        solution = solution.replace(plant[0], plant[1])
    path = folder / f"{name}.py"
    path.write_text(paste(path.read_text(), solution))
    return path


def solved_workbook(folder: Path, *plants: tuple[str, str, str]) -> Path:
    """A workbook with every solution pasted in; each of ``plants`` = (exercise, old, new) edits one solution first."""
    start(folder)
    planted = {exercise: (old, new) for exercise, old, new in plants}
    assert len(planted) == len(plants), "at most one planted edit per exercise"
    for name in solutions():
        solve(folder, name, planted.get(name))
    return folder

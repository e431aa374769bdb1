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


Edit = tuple[str, str]


def solve(folder: Path, name: str, plant: Edit | list[Edit] | None = None) -> Path:
    """Paste the docs' solution into ``folder/name.py``; ``plant`` = (old, new), or a list of them, edits it first."""
    solution = solutions()[name]
    for old, new in [plant] if isinstance(plant, tuple) else plant or []:
        assert solution.count(old) == 1, f"the planted text {old!r} is not once in the {name} solution"
        solution = solution.replace(old, new)
    path = folder / f"{name}.py"
    path.write_text(paste(path.read_text(), solution))
    return path


def solved_workbook(folder: Path, *plants: tuple[str, str, str] | tuple[str, list[Edit]]) -> Path:
    """A workbook with every solution pasted in; each of ``plants`` = (exercise, old, new) or (exercise, [(old, new),
    ...]) edits one exercise's solution first."""
    start(folder)
    planted = {plant[0]: (plant[1], plant[2]) if len(plant) == 3 else plant[1] for plant in plants}
    assert len(planted) == len(plants), "at most one planted mistake per exercise"
    for name in solutions():
        solve(folder, name, planted.get(name))
    return folder

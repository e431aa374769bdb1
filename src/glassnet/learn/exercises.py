"""The workbook: which exercises there are, writing them for a learner, and the table of a check's results.

Checking the learner's files is ``glassnet.learn.supervisor.check``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType

from glassnet.errors import GlassnetError
from glassnet.learn import checks
from glassnet.learn.checks import Checks, Result


@dataclass(frozen=True)
class Exercise:
    name: str                                         # the file is NAME.py
    title: str
    page: str                                         # the docs page that derives it
    check: Callable[[ModuleType, Checks], None]


EXERCISES = [
    Exercise("scalar_graph", "backpropagation on three scalar nodes", "onramp.md", checks.check_scalar_graph),
    Exercise("linear", "the linear layer", "derivations/linear.md", checks.check_linear),
    Exercise("relu", "ReLU", "derivations/relu-dropout.md", checks.check_relu),
    Exercise("softmax_cross_entropy", "stable softmax cross-entropy", "derivations/softmax-cross-entropy.md",
             checks.check_softmax_cross_entropy),
    Exercise("dropout", "inverted dropout", "derivations/relu-dropout.md", checks.check_dropout),
    Exercise("batchnorm_graph", "batch norm's backward, node by node", "derivations/batchnorm.md",
             checks.check_batchnorm_graph),
    Exercise("batchnorm", "the batch norm layer, compact backward", "derivations/batchnorm.md",
             checks.check_batchnorm),
    Exercise("adam", "Adam with bias correction", "derivations/adam.md", checks.check_adam),
    Exercise("init", "He initialization", "derivations/initialization.md", checks.check_init),
]
BY_NAME = {exercise.name: exercise for exercise in EXERCISES}
README = "README.md"
# Seconds each exercise (its import and all its checks) may take. The docs' solutions take under a
# tenth of a second an exercise, layers written with Python loops under half a second (measured on a
# busy 2-core machine): past ten seconds the code is stuck, not slow, and a learner should not be
# left waiting longer to hear so.
TIME_LIMIT = 10.0


def start(folder: str | Path) -> list[Path]:
    """Write a fresh workbook into ``folder`` (created if needed); never overwrite a file that is there."""
    folder = Path(folder)
    names = [f"{exercise.name}.py" for exercise in EXERCISES] + [README]
    taken = [name for name in names if (folder / name).exists()]
    if taken:
        raise GlassnetError(f"{folder} already holds {', '.join(taken)}; nothing was written. Check that "
                            f"workbook with 'glassnet learn check {folder}', or start one in a new folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        templates = resources.files("glassnet.learn").joinpath("workbook")
        written = []
        for exercise in EXERCISES:
            path = folder / f"{exercise.name}.py"
            with open(path, "x", encoding="utf-8") as f:     # "x": fails rather than overwrite
                f.write(templates.joinpath(f"{exercise.name}.py").read_text(encoding="utf-8"))
            written.append(path)
        with open(folder / README, "x", encoding="utf-8") as f:
            f.write(_readme(folder))
    except OSError as e:
        raise GlassnetError(f"cannot write the workbook into {folder}: {e.strerror or e}") from e
    return [*written, folder / README]


def _readme(folder: Path) -> str:
    rows = "\n".join(f"| {i} | `{e.name}.py` | {e.title} | {e.page} |" for i, e in enumerate(EXERCISES))
    return f"""# glassnet workbook

Each file is an exercise: a stub with its formula, its shapes and the docs page
that derives it. Replace each `raise NotImplementedError(...)` with your code,
in any editor or notebook, then check it:

    glassnet learn check {folder}             # every exercise, as a table
    glassnet learn check {folder} linear      # one of them

A check compares your code with finite differences and with glassnet's own
layers, on several batch sizes, and names the likely mistake when it can.
Your code runs in a Python process of its own: what it prints appears on
stderr, above the table, and even an endless loop, sys.exit or a crash fails
only its own exercise. Each exercise has {TIME_LIMIT:g} seconds: the solutions need
under a tenth of a second, so an exercise still running then is stuck, most
likely in an endless loop; its check fails and names the function it was in.
When the layers pass, train the reference network built from them:

    glassnet learn train {folder}

| # | file | exercise | read first (docs) |
|---|---|---|---|
{rows}

The solutions are in the docs, on the "Exercises" page, folded until you open them.
"""


def format_results(results: Sequence[Result]) -> str:
    """A pass/fail table, then a line that counts the exercises passed."""
    width = max((len(r.check) for r in results), default=5)
    lines = [f"{'exercise':<22} {'check':<{width}}  result"]
    for r in results:
        lines.append(f"{r.exercise:<22} {r.check:<{width}}  {'pass' if r.passed else 'FAIL'}")
        if r.message:
            lines.append(f"    → {r.message}")
    exercises = list(dict.fromkeys(r.exercise for r in results))
    passed = [e for e in exercises if all(r.passed for r in results if r.exercise == e)]
    lines.append(f"\n{len(passed)} of {len(exercises)} exercises pass")
    return "\n".join(lines)

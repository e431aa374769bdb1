"""The workbook: which exercises there are, and writing them (as files, or a notebook too) for a learner.

Checking the learner's files is ``glassnet.learn.supervisor.check``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module, resources
from pathlib import Path
from types import ModuleType
from typing import Any

from glassnet.errors import GlassnetError
from glassnet.learn.hint_texts import STEPS


@dataclass(frozen=True)
class Exercise:
    name: str                                         # the file is NAME.py
    title: str
    page: str                                         # the docs page that derives it
    checks: str                                       # its checks: MODULE:FUNCTION in glassnet.learn.checks

    def check_function(self) -> Callable[[ModuleType, Any], None]:
        """The function that checks this exercise, imported on demand: only the child that runs the checks needs it."""
        module, function = self.checks.split(":")
        found: Callable[[ModuleType, Any], None] = getattr(import_module(f"glassnet.learn.checks.{module}"), function)
        return found


EXERCISES = [
    Exercise("scalar_graph", "backpropagation on three scalar nodes", "onramp.md", "scalar:check_scalar_graph"),
    Exercise("linear", "the linear layer", "derivations/linear.md", "layers:check_linear"),
    Exercise("relu", "ReLU", "derivations/relu-dropout.md", "layers:check_relu"),
    Exercise("softmax_cross_entropy", "stable softmax cross-entropy", "derivations/softmax-cross-entropy.md",
             "softmax:check_softmax_cross_entropy"),
    Exercise("dropout", "inverted dropout", "derivations/relu-dropout.md", "layers:check_dropout"),
    Exercise("batchnorm_graph", "batch norm's backward, node by node", "derivations/batchnorm.md",
             "batchnorm:check_batchnorm_graph"),
    Exercise("batchnorm", "the batch norm layer, compact backward", "derivations/batchnorm.md",
             "batchnorm:check_batchnorm"),
    Exercise("adam", "Adam with bias correction", "derivations/adam.md", "adam:check_adam"),
    Exercise("init", "He initialization", "derivations/initialization.md", "init:check_init"),
    Exercise("network", "the whole network, node by node", "derivations/batchnorm.md", "network:check_network"),
]
BY_NAME = {exercise.name: exercise for exercise in EXERCISES}
README = "README.md"
NOTEBOOK = "workbook.ipynb"
# Seconds each exercise (its import and all its checks) may take. The docs' solutions take under a
# tenth of a second an exercise, layers written with Python loops under half a second (measured on a
# busy 2-core machine): past ten seconds the code is stuck, not slow, and a learner should not be
# left waiting longer to hear so.
TIME_LIMIT = 10.0


def start(folder: str | Path, *, notebook: bool = False) -> list[Path]:
    """Write a fresh workbook into ``folder`` (created if needed); never overwrite a file that is there.

    With ``notebook``, also ``workbook.ipynb``: the same stubs in cells that write their files, each
    followed by a cell that checks it.
    """
    folder = Path(folder)
    names = [f"{exercise.name}.py" for exercise in EXERCISES] + [README] + ([NOTEBOOK] if notebook else [])
    taken = [name for name in names if (folder / name).exists()]
    if taken:
        raise GlassnetError(f"{folder} already holds {', '.join(taken)}; nothing was written. Check that "
                            f"workbook with 'glassnet learn check {folder}', or start one in a new folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = [_write(folder / f"{exercise.name}.py", stub(exercise.name)) for exercise in EXERCISES]
        written.append(_write(folder / README, _readme(folder)))
        if notebook:
            from glassnet.learn.notebook import workbook_notebook

            written.append(_write(folder / NOTEBOOK, workbook_notebook()))
    except OSError as e:
        raise GlassnetError(f"cannot write the workbook into {folder}: {e.strerror or e}") from e
    return written


def stub(name: str) -> str:
    """The text of exercise ``name``'s stub, as ``start`` writes it."""
    return resources.files("glassnet.learn").joinpath("workbook", f"{name}.py").read_text(encoding="utf-8")


def _write(path: Path, text: str) -> Path:
    with open(path, "x", encoding="utf-8") as f:            # "x": fails rather than overwrite
        f.write(text)
    return path


def _readme(folder: Path) -> str:
    rows = "\n".join(f"| {i} | `{e.name}.py` | {e.title} | {e.page} |" for i, e in enumerate(EXERCISES))
    return f"""# glassnet workbook

Each file is an exercise: a stub with its forward pass, its shapes, the rules of
its layer and the docs page that derives it. The backward pass is yours to
derive. Replace each `raise NotImplementedError(...)` with your code, in any
editor or notebook, then check it:

    glassnet learn check {folder}             # every exercise, as a table
    glassnet learn check {folder} linear      # one of them

Stuck? Hints come in {len(STEPS)} steps ({", ".join(STEPS)}), one a call;
the check's table says how many steps each exercise used:

    glassnet learn hint linear {folder}

A check compares your code with finite differences and with glassnet's own
layers, on several batch sizes, and names the mistake when it can; when it
cannot, it says so and shows where your numbers differ most. Your code runs in a
Python process of its own: what it prints appears on stderr, above the table,
and even an endless loop, sys.exit or a crash fails only its own exercise.
Each exercise has {TIME_LIMIT:g} seconds: the solutions need under a tenth of a
second, so an exercise still running then is stuck, most likely in an endless
loop; its check fails and names the function it was in. When the layers pass, train the
reference network built from them (your init too) beside glassnet's:

    glassnet learn train {folder}

| # | file | exercise | the worked derivation (docs), to compare once yours passes |
|---|---|---|---|
{rows}

The solutions are in the docs, on the "Exercises" page, folded until you open them.
"""

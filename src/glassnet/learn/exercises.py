"""The workbook: which exercises there are, writing them for a learner, and checking the learner's files."""

from __future__ import annotations

import importlib.util
import sys
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
When the layers pass, train the reference network built from them:

    glassnet learn train {folder}

| # | file | exercise | read first (docs) |
|---|---|---|---|
{rows}

The solutions are in the docs, on the "Exercises" page, folded until you open them.
"""


def load(path: Path) -> ModuleType:
    """The learner's file as a fresh module (a new one on every call: edits are always seen)."""
    name = f"glassnet_workbook_{path.stem}_{id(path)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module                         # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def check(folder: str | Path, names: Sequence[str] = ()) -> list[Result]:
    """Check the exercises ``names`` (all when empty) of the workbook in ``folder``."""
    folder = Path(folder)
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise GlassnetError(f"no exercise named {', '.join(unknown)}; the exercises are {', '.join(BY_NAME)}")
    if not folder.is_dir():
        raise GlassnetError(f"{folder} is not a folder; write a workbook there with 'glassnet learn start {folder}'")
    results: list[Result] = []
    for exercise in [BY_NAME[name] for name in names] or EXERCISES:
        path = folder / f"{exercise.name}.py"
        if not path.exists():
            results.append(Result(exercise.name, "file", False, f"{path} is missing"))
            continue
        try:
            module = load(path)
        except Exception as e:                         # whatever the learner's file raises on import
            where = f" (line {e.lineno})" if isinstance(e, SyntaxError) else ""
            results.append(Result(exercise.name, "import", False, f"cannot import {path.name}: "
                                                                 f"{type(e).__name__}: {e}{where}"))
            continue
        collected = Checks(exercise.name, path.resolve())
        exercise.check(module, collected)
        results.extend(collected.results)
    return results


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

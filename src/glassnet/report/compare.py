"""Run folders side by side: a table of their figures and differing config fields, and their learning curves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glassnet.checkpoint import CHECKPOINT_NAME, read_checkpoint, recorded
from glassnet.errors import CheckpointError
from glassnet.train import EpochStats, training_record


@dataclass(frozen=True)
class RunSummary:
    name: str
    config: dict[str, Any]
    history: list[EpochStats]
    test_accuracy: float | None          # from the final report; None for a run that has not finished

    @property
    def eval_name(self) -> str:
        return "validation" if self.config.get("validation_size") else "test"


def load_run(folder: Path) -> RunSummary:
    """What a run folder's checkpoint records: config, epochs and, once finished, the test accuracy."""
    path = folder / CHECKPOINT_NAME if folder.is_dir() else folder
    if not path.exists():
        raise CheckpointError(f"{folder}: no {CHECKPOINT_NAME} here; name run folders (or their model files)")
    meta, _ = read_checkpoint(path)
    config, history, _ = training_record(meta, path)
    return RunSummary(str(folder), config, history, recorded(meta, "metrics", "test", "accuracy"))


def differing_fields(runs: Sequence[RunSummary]) -> list[str]:
    """Config fields whose values are not the same in every run (run_dir aside)."""
    names = sorted({k for r in runs for k in r.config} - {"run_dir"})
    return [k for k in names if len({repr(r.config.get(k)) for r in runs}) > 1]


#: The table's own columns, before the differing config fields (named as in the config): none is a config
#: field's name, so that every column's name is unique (the config's epochs is the number asked for).
COLUMNS = ("run", "epochs trained", "evaluated on", "last accuracy", "best accuracy (epoch)", "last loss",
           "test accuracy", "seconds")


def table(runs: Sequence[RunSummary]) -> str:
    """A Markdown table: each run's last and best evaluation figures, test accuracy and differing fields."""
    fields = differing_fields(runs)
    names = [*COLUMNS, *fields]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for r in runs:
        if r.history:
            last, best = r.history[-1], max(r.history, key=lambda s: s.eval_accuracy)
            figures = [f"{last.eval_accuracy:.2%}", f"{best.eval_accuracy:.2%} ({best.epoch})", f"{last.eval_loss:.4f}"]
        else:
            figures = ["", "", ""]
        test = f"{r.test_accuracy:.2%}" if r.test_accuracy is not None else ""
        seconds = f"{sum(s.seconds for s in r.history):.0f}"
        cells = [r.name, str(len(r.history)), r.eval_name, *figures, test, seconds,
                 *(str(r.config.get(k, "")) for k in fields)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

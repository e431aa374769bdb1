"""Files of a run folder: config.toml, history.csv/json, metrics.json and report.md, all written atomically."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glassnet.atomic import atomic_write_text
from glassnet.config import TrainConfig
from glassnet.metrics import ClassificationReport
from glassnet.train import EpochStats
from glassnet.train.threads import describe

PUBLISHED = {"accuracy": 0.974, "macro_f1": 0.970}


def write_config(run_dir: Path, config: TrainConfig) -> None:
    atomic_write_text(run_dir / "config.toml", config.to_toml())


def write_history(run_dir: Path, history: Sequence[EpochStats]) -> None:
    """history.csv (one row per epoch) and history.json (a list of records)."""
    records = [dataclasses.asdict(s) for s in history]
    names = [f.name for f in dataclasses.fields(EpochStats)]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    atomic_write_text(run_dir / "history.csv", text.getvalue())
    atomic_write_text(run_dir / "history.json", json.dumps(records, indent=1) + "\n")


def metrics_record(report: ClassificationReport, history: Sequence[EpochStats], dataset: dict[str, Any],
                   wall_seconds: float) -> dict[str, Any]:
    return {"dataset": dataset, "test": report.to_dict(), "epochs": len(history),
            "wall_seconds": wall_seconds, "train_seconds": sum(s.seconds for s in history)}


def write_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")


def write_report(run_dir: Path, config: TrainConfig, report: ClassificationReport,
                 history: Sequence[EpochStats], metrics: dict[str, Any], plots: Sequence[str]) -> None:
    """report.md: summary, learning curve table, classification report, confusion matrix, plots."""
    dataset = metrics["dataset"]
    best = max(range(10), key=lambda c: report.f1[c])
    worst = min(range(10), key=lambda c: report.f1[c])
    lines = [
        f"# glassnet run: {run_dir.name}", "",
        f"Data: {dataset.get('name', '?')} ({dataset.get('n_train', '?')} training images, "
        f"{dataset.get('n_test', '?')} test images). Seed {config.seed}, {config.epochs} epochs, "
        f"wall time {metrics['wall_seconds']:.0f} s ({metrics['train_seconds'] / max(len(history), 1):.2f} s "
        "per epoch including evaluation).", "",
        *([f"The model is {metrics['model']['selected']}.", ""] if "model" in metrics else []),
        *([f"Computed on {describe(metrics['threads'])}.", ""] if metrics.get("threads") else []),
        "| | test accuracy | macro precision | macro recall | macro F1 |",
        "|---|---|---|---|---|",
        f"| this run | {report.accuracy:.2%} | {report.macro('precision'):.2%} | {report.macro('recall'):.2%} "
        f"| {report.macro('f1'):.2%} |",
        f"| published reference | {PUBLISHED['accuracy']:.1%} | 97.0% | 97.0% | {PUBLISHED['macro_f1']:.1%} |", "",
        f"Best class: {best} (F1 {report.f1[best]:.2%}); hardest: {worst} (F1 {report.f1[worst]:.2%}).", "",
        "## Configuration", "", "```toml", config.to_toml().rstrip(), "```", "",
        "## Learning curves", "",
        "| epoch | train loss | train acc | eval loss | eval acc | lr | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {s.epoch} | {s.train_loss:.4f} | {s.train_accuracy:.2%} | {s.eval_loss:.4f} | "
              f"{s.eval_accuracy:.2%} | {s.lr:.3g} | {s.seconds:.2f} |" for s in history]
    lines += ["", "## Classification report (test set)", "", "```", report.format(), "```", "",
              "## Confusion matrix (rows: true digit, columns: predicted)", "", "```",
              report.format_confusion(), "```", ""]
    if plots:
        lines += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots] + [""]
    else:
        lines += ["Plots: install the `plot` extra (`pip install 'glassnet[plot]'`) to get PNG plots.", ""]
    atomic_write_text(run_dir / "report.md", "\n".join(lines))

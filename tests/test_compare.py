"""glassnet compare: run folders side by side, with their figures read from their checkpoints."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from glassnet.config import TrainConfig
from glassnet.report.compare import COLUMNS, differing_fields, load_run, table
from glassnet.train import TrainData, fit
from tests.mnist_fixtures import synthetic_digits


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    images, labels = synthetic_digits(300)
    data = TrainData(images.reshape(300, -1)[:240], labels[:240], images.reshape(300, -1)[240:], labels[240:],
                     "validation")
    folders = []
    for name, config in (("narrow", TrainConfig(hidden=(16,), epochs=2, validation_size=60, batch_size=32)),
                         ("wide", TrainConfig(hidden=(64,), epochs=3, validation_size=60, batch_size=32, lr=3e-3))):
        folder = tmp_path_factory.mktemp("runs") / name
        fit(config, data, run_dir=folder)
        folders.append(folder)
    return folders


def glassnet(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "glassnet", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_the_table_shows_each_run_s_figures_and_what_differs(runs: list[Path]) -> None:
    summaries = [load_run(folder) for folder in runs]
    assert [len(s.history) for s in summaries] == [2, 3]
    assert differing_fields(summaries) == ["epochs", "hidden", "lr"]
    text = table(summaries)
    header, _, narrow, wide = text.splitlines()
    names = header.strip("| ").split(" | ")
    assert names[-3:] == ["epochs", "hidden", "lr"] and len(set(names)) == len(names), names
    assert names[1] == "epochs trained" and narrow.split(" | ")[1] == "2" and wide.split(" | ")[1] == "3"
    last = summaries[1].history[-1]
    assert f"{last.eval_accuracy:.2%}" in wide and f"{last.eval_loss:.4f}" in wide and "validation" in wide
    assert narrow.endswith("| 2 | [16] | 0.001 |") and wide.endswith("| 3 | [64] | 0.003 |")


def test_no_column_of_the_table_shares_a_config_field_s_name() -> None:
    assert not set(COLUMNS) & {field.name for field in dataclasses.fields(TrainConfig)}


def test_the_command_prints_the_table_and_draws_the_curves_into_a_new_file(runs: list[Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "curves.png"
    done = glassnet("compare", *runs, "--plot", plot)
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("| ") for line in done.stdout.splitlines()) == 3
    assert plot.read_bytes().startswith(b"\x89PNG")
    again = glassnet("compare", *runs, "--plot", plot)
    assert again.returncode == 2 and "exists and is never replaced" in again.stderr


def test_a_folder_without_a_run_is_named(runs: list[Path], tmp_path: Path) -> None:
    done = glassnet("compare", runs[0], tmp_path)
    assert done.returncode == 1 and f"{tmp_path}: no model.npz here" in done.stderr and "Traceback" not in done.stderr

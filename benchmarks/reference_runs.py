"""Full reference runs for the comparisons in the docs: trained once, read back on every later call.

A folder that already holds a finished run is read, not trained again, and one stopped part-way is
resumed, so an interrupted comparison continues where it stopped.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any


def finished_run(folder: Path, flags: list[str], data_dir: str | None) -> dict[str, Any]:
    """The test figures of the run ``glassnet train FLAGS`` in ``folder``, training it first unless it is done."""
    metrics = folder / "metrics.json"
    if not metrics.exists():
        start = ["--resume", str(folder)] if (folder / "model.npz").exists() else [*flags, "--out", str(folder)]
        data = ["--data-dir", data_dir] if data_dir else []
        subprocess.run([sys.executable, "-m", "glassnet", "train", *start, *data], check=True,
                       stdout=subprocess.DEVNULL)
    test = json.loads(metrics.read_text())["test"]
    return {"accuracy": test["accuracy"], "f1": test["macro"]["f1"]}


def summary(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}

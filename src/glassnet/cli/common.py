"""What the glassnet subcommands share: usage errors, model paths, data loading, progress bars, MLflow."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from glassnet.checkpoint import CHECKPOINT_NAME
from glassnet.config import TrainConfig


class UsageError(Exception):
    """A command-line mistake the parser cannot see; exit code 2."""


def config_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
            if getattr(args, f.name) is not None}


def add_mlflow_flag(parser: argparse.ArgumentParser, runs: str) -> None:
    from glassnet.tracking import DEFAULT_EXPERIMENT

    parser.add_argument("--mlflow", nargs="?", const=DEFAULT_EXPERIMENT, metavar="EXPERIMENT",
                        help=f"record {runs} in MLflow (extra 'mlflow'): parameters, each epoch's figures, the "
                             f"model file; in experiment EXPERIMENT (default {DEFAULT_EXPERIMENT}) of "
                             "$MLFLOW_TRACKING_URI, else of MLflow's default store in this folder")


def mlflow_tracker(args: argparse.Namespace) -> Any:
    """The ``Tracker`` that ``--mlflow`` asks for (its warnings one line on stderr), or None."""
    from glassnet.tracking import Tracker

    if args.mlflow is None:
        return None
    if not args.mlflow.strip():
        raise UsageError("--mlflow EXPERIMENT needs an experiment name (or none, for the default)")
    return Tracker(args.mlflow, warn=lambda line: print(line, file=sys.stderr, flush=True))


def model_path(path: Path) -> Path:
    """A model file from what the user named: a file, a run folder, or ``demo`` (the pretrained model)."""
    from glassnet.demo import NAME, demo_model_path

    if str(path) == NAME and not path.exists():
        return demo_model_path()
    return path / CHECKPOINT_NAME if path.is_dir() else path


def start_model(path: Path | None) -> Path | None:
    """The model file a new run starts from (``--init-from``; as ``model_path`` finds it), refused before
    anything is made when it is missing, not a regular file or beyond any model file's size."""
    from glassnet.files import MODEL, open_regular

    if path is None:
        return None
    found = model_path(path)
    if not found.exists():
        raise UsageError(f"--init-from {path}: no such model file")
    open_regular(found, "model file", MODEL).close()
    return found


def load_data(args: argparse.Namespace, quiet: bool = False) -> Any:
    from glassnet.data.mnist import load_mnist

    bar: dict[str, Any] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if quiet:
            return
        if name not in bar:
            bar[name] = progress_bar(total, f"download {name}", unit="B")
        bar[name].update(done - bar[name].n)

    try:
        return load_mnist(args.data_dir, download=not args.no_download, progress=progress)
    finally:
        for b in bar.values():
            b.close()


def progress_bar(total: int | None, description: str, unit: str = "it") -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return NoBar()
    return tqdm(total=total, desc=description, unit=unit, unit_scale=unit == "B", leave=False,
                dynamic_ncols=True, file=sys.stderr, disable=None)      # None: no bar when not a terminal


class NoBar:
    """Stands in for tqdm when it is not installed."""

    n = 0

    def update(self, k: int) -> None:
        self.n += k

    def set_postfix_str(self, text: str) -> None: ...
    def close(self) -> None: ...

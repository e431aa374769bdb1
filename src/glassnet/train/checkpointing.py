"""Checkpointing: the whole state of the run into ``model.npz`` after every epoch, atomically, so that a
run killed at any moment resumes from its last finished epoch."""

from __future__ import annotations

from pathlib import Path

from glassnet.train.callbacks import Callback, Logs
from glassnet.train.state import TrainingState


class Checkpointing(Callback):
    """Saves ``run`` to ``path`` at the end of every epoch (after early stopping has had its say)."""

    def __init__(self, run: TrainingState, path: Path) -> None:
        self.run, self.path = run, path

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        self.run.save(self.path)

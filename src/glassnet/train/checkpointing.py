"""Checkpointing: the whole state of the run into ``model.npz`` after every epoch, atomically, so that a
run killed at any moment resumes from its last finished epoch. Weights that are not finite are never
written over the last good checkpoint: the run stops as diverged instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glassnet.errors import DivergenceError
from glassnet.train.callbacks import Callback, Logs
from glassnet.train.state import TrainingState


class Checkpointing(Callback):
    """Saves ``run`` to ``path`` at the end of every epoch (after early stopping has had its say)."""

    def __init__(self, run: TrainingState, path: Path) -> None:
        self.run, self.path = run, path

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        broken = [name for name, p in self.run.model.named_params().items() if not np.isfinite(p.value).all()]
        if broken:
            raise DivergenceError(f"training diverged: {', '.join(broken[:3])} not finite after epoch {epoch}; "
                                  f"the last good checkpoint is kept in {self.path}.\nhelp: start a new run with a "
                                  "lower learning rate (--lr)")
        self.run.save(self.path)

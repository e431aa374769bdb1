"""Checkpointing: after every epoch, atomically, the whole state of the run, so that a run killed at any
moment resumes from its last finished epoch, and the model the run hands back.

Without early stopping the two are one file, ``model.npz``. With it, ``resume.npz`` holds the state (the
last epoch's weights, optimizer moments, generator states, the policies' counters), which ``resume``
reads, and ``model.npz`` the best epoch's model, its metadata saying which epoch and why, beside the
run's record. The state is written first: a run killed between the two writes has its best epoch either
in ``model.npz`` or as the state's own last epoch, and resumes to the same weights. Weights that are not
finite are never written over the last good checkpoint: the run stops as diverged instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from glassnet.checkpoint import CHECKPOINT_NAME, LEGACY_BEST_NAME, RESUME_NAME, save_checkpoint, update_metadata
from glassnet.config import TrainConfig
from glassnet.errors import DivergenceError
from glassnet.nn.model import Sequential
from glassnet.train.callbacks import Callback, Logs
from glassnet.train.early_stopping import EarlyStopping, selection
from glassnet.train.state import TrainingState


def state_file(folder: Path, config: TrainConfig) -> Path:
    """Where a run in ``folder`` keeps its state: ``resume.npz`` with early stopping, else ``model.npz``."""
    return folder / (RESUME_NAME if config.early_stopping_patience else CHECKPOINT_NAME)


class Checkpointing(Callback):
    """Saves ``run`` into ``folder`` at the end of every epoch (after early stopping has had its say), and
    with early stopping (``early``) the model of its best epoch."""

    def __init__(self, run: TrainingState, folder: Path, early: EarlyStopping | None) -> None:
        self.run, self.folder, self.early = run, folder, early
        self.path = state_file(folder, run.config)

    def on_fit_start(self, model: Sequential, logs: Logs) -> None:
        """A resumed early-stopping run's folder brought to this layout: the state moves out of an earlier
        glassnet's ``model.npz`` into ``resume.npz``, its ``best.npz`` becomes ``model.npz``, and the model
        file's record is brought up to date (each step leaves a folder that resumes the same way)."""
        if self.early is None or self.run.epoch == 0:
            return
        if not self.path.exists():
            self.run.save(self.path)
        legacy = self.folder / LEGACY_BEST_NAME
        if legacy.exists():
            os.replace(legacy, self.folder / CHECKPOINT_NAME)
        self._save_model()

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        broken = [name for name, p in self.run.model.named_params().items() if not np.isfinite(p.value).all()]
        if broken:
            raise DivergenceError(f"training diverged: {', '.join(broken[:3])} not finite after epoch {epoch}; "
                                  f"the last good checkpoint is kept in {self.path}.\nhelp: start a new run with a "
                                  "lower learning rate (--lr)")
        self.run.save(self.path)
        if self.early is not None:
            self._save_model()

    def _save_model(self) -> None:
        """``model.npz``: the best epoch's model with the run's record, saved whole when the last epoch is the
        best (its weights are the model's), else only its metadata rewritten."""
        assert self.early is not None, "only early stopping keeps a model apart from the state"
        run, epoch = self.run, self.early.best_epoch
        meta = {key: value for key, value in run.meta().items() if key != "rng_states"} | {
            "epoch": epoch,
            "step": run.step // run.epoch * epoch,         # every epoch of a run takes the same number of steps
            "selected": selection(run.config, run.history, epoch)}
        if epoch == run.epoch:
            save_checkpoint(self.folder / CHECKPOINT_NAME, run.model, meta)
        else:
            update_metadata(self.folder / CHECKPOINT_NAME, meta)

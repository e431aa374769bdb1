"""Early stopping: the run ends when the validation figure has not improved for ``patience`` epochs,
and the model it hands back is the one of the best epoch.

The counter (the best figure so far, its epoch, the epochs since) is part of the run's state, so
every checkpoint holds it and a killed run resumes to the same stop. The best epoch's weights are
kept in ``best.npz`` (atomically) for a run folder, else in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glassnet.checkpoint import read_checkpoint, restore_state, save_checkpoint
from glassnet.config import TrainConfig
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array
from glassnet.train.callbacks import Callback, Logs
from glassnet.train.state import TrainingState

BEST_NAME = "best.npz"         # the best epoch's weights, in a run folder


class EarlyStopping(Callback):
    """Watches ``config.early_stopping_monitor`` on the validation split after every epoch, and decides.

    Its decision comes before the caller's callbacks, which see the epoch that ended; ``return_to_best``,
    after them, puts the best epoch's weights back once the run has stopped (before the checkpoint).
    """

    def __init__(self, run: TrainingState, best_path: Path | None) -> None:
        config: TrainConfig = run.config
        self.run, self.best_weights = run, _BestWeights(run.model, best_path)
        self.patience, self.min_delta = config.early_stopping_patience, config.early_stopping_min_delta
        self.monitor = config.early_stopping_monitor
        self.return_to_best = _ReturnToBest(self)

    @property
    def _state(self) -> dict[str, Any]:
        return self.run.policies.setdefault("early_stopping", {"best": None, "best_epoch": 0, "wait": 0})

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        state = self._state
        value = logs["eval_loss"] if self.monitor == "loss" else -logs["eval_accuracy"]
        if state["best"] is None or value < float(state["best"]) - self.min_delta:
            state.update(best=value, best_epoch=epoch, wait=0)
            self.best_weights.keep(epoch)
        else:
            state["wait"] = int(state["wait"]) + 1
        if state["wait"] >= self.patience:
            self.run.stopped = (f"early stopping: the validation {self.monitor} has not improved by more than "
                                f"{self.min_delta:g} for {state['wait']} epochs; the model is the one of epoch "
                                f"{state['best_epoch']}, the best")


class _ReturnToBest(Callback):
    """The end of early stopping's last epoch: the model becomes the best epoch's again."""

    def __init__(self, early: EarlyStopping) -> None:
        self.early = early

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        if self.early.run.stopped:
            self.early.best_weights.restore()


class _BestWeights:
    """The best epoch's parameters and buffers: in ``path`` (atomically) for a run folder, else in memory."""

    def __init__(self, model: Sequential, path: Path | None) -> None:
        self.model, self.path = model, path
        self.kept: dict[str, Array] = {}

    def _targets(self) -> dict[str, Array]:
        return ({f"param/{n}": p.value for n, p in self.model.named_params().items()}
                | {f"buffer/{n}": b for n, b in self.model.buffers().items()})

    def keep(self, epoch: int) -> None:
        if self.path is not None:
            save_checkpoint(self.path, self.model, {"epoch": epoch, "best_epoch": epoch})
        else:
            self.kept = {name: value.copy() for name, value in self._targets().items()}

    def restore(self) -> None:
        if self.path is not None:
            restore_state(self.model, read_checkpoint(self.path)[1], str(self.path))
        else:
            for name, target in self._targets().items():
                target[...] = self.kept[name]

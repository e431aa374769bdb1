"""Early stopping: the run ends when the validation figure has not improved for ``patience`` epochs,
and the model it hands back is the one of the best epoch, however the run ends: stopped by this rule, at
the end of its epochs, or interrupted (a callback's ``StopTraining``, Ctrl-C: the best epoch so far).

The counter (the best figure so far, its epoch, the epochs since) is part of the run's state, so
every checkpoint holds it and a killed run resumes to the same stop. The best epoch's weights are
kept in memory and, in a run folder, in ``model.npz`` (written by ``Checkpointing``), where a resumed
run finds them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glassnet.checkpoint import CHECKPOINT_NAME, LEGACY_BEST_NAME, read_checkpoint, restore_state
from glassnet.config import TrainConfig
from glassnet.errors import CheckpointError
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array
from glassnet.train.callbacks import Callback, Logs
from glassnet.train.state import EpochStats, TrainingState


class EarlyStopping(Callback):
    """Watches ``config.early_stopping_monitor`` on the validation split after every epoch, and decides.

    Its decision comes before the caller's callbacks, which see the epoch that ended. When the run
    ends (``on_fit_end``, also before the caller's callbacks), it puts the best epoch's weights back
    into the model and sets ``logs["epoch"]`` to that epoch.
    """

    def __init__(self, run: TrainingState, folder: Path | None) -> None:
        config: TrainConfig = run.config
        self.run, self.folder = run, folder
        self.patience, self.min_delta = config.early_stopping_patience, config.early_stopping_min_delta
        self.monitor = config.early_stopping_monitor
        self.best: dict[str, Array] = {}       # the best epoch's parameters and buffers, named as in a model file

    @property
    def _state(self) -> dict[str, Any]:
        return self.run.policies.setdefault("early_stopping", {"best": None, "best_epoch": 0, "wait": 0})

    @property
    def best_epoch(self) -> int:
        """The best epoch so far (0 before the first epoch ends)."""
        return int(self._state["best_epoch"])

    def on_fit_start(self, model: Sequential, logs: Logs) -> None:
        """A resumed run's best epoch: the state's own weights when its last epoch was the best, else the
        run folder's model file (an earlier glassnet's ``best.npz`` while it is there)."""
        epoch = self.best_epoch
        if epoch == 0 or self.best:
            return
        if epoch == self.run.epoch:
            self.best = _copy(model)
            return
        assert self.folder is not None, "only a run folder is resumed"
        legacy = self.folder / LEGACY_BEST_NAME
        path = legacy if legacy.exists() else self.folder / CHECKPOINT_NAME
        meta, arrays = read_checkpoint(path)
        if meta.get("epoch") != epoch:
            raise CheckpointError(f"{path}: holds epoch {meta.get('epoch')!r}, not the run's best epoch ({epoch}); "
                                  "the run cannot hand back its best epoch. Start a new run (--init-from this "
                                  "folder starts from that model)")
        last = _copy(model)
        restore_state(model, arrays, str(path))            # checks the names, shapes and values
        self.best = _copy(model)
        _inplace_load(model, last)

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        state = self._state
        value = logs["eval_loss"] if self.monitor == "loss" else -logs["eval_accuracy"]
        if state["best"] is None or value < float(state["best"]) - self.min_delta:
            state.update(best=value, best_epoch=epoch, wait=0)
            self.best = _copy(self.run.model)
        else:
            state["wait"] = int(state["wait"]) + 1
        if state["wait"] >= self.patience:
            self.run.stopped = (f"early stopping: the validation {self.monitor} has not improved by more than "
                                f"{self.min_delta:g} for {state['wait']} epochs; the model is the one of epoch "
                                f"{state['best_epoch']}, the best")

    def on_fit_end(self, logs: Logs) -> None:
        if self.best:
            _inplace_load(self.run.model, self.best)
            logs["epoch"] = self.best_epoch


def selection(config: TrainConfig, history: Sequence[EpochStats], epoch: int) -> str:
    """Which epoch's weights a run hands back, and why, in words."""
    if not config.early_stopping_patience:
        return f"epoch {epoch}, the last"
    monitor, stats = config.early_stopping_monitor, history[epoch - 1]
    value = f"{stats.eval_loss:.4f}" if monitor == "loss" else f"{stats.eval_accuracy:.2%}"
    rule = (f"the last to improve on the best by more than {config.early_stopping_min_delta:g}"
            if config.early_stopping_min_delta else "the best")
    return (f"epoch {epoch}: its validation {monitor} ({value}) is {rule} of the {len(history)} epochs run; "
            "early stopping hands back its best epoch")


def _copy(model: Sequential) -> dict[str, Array]:
    """A copy of the model's parameters and buffers, named as in a model file."""
    return ({f"param/{n}": p.value.copy() for n, p in model.named_params().items()}
            | {f"buffer/{n}": b.copy() for n, b in model.buffers().items()})


def _inplace_load(model: Sequential, weights: dict[str, Array]) -> None:
    """Write ``weights`` (as ``_copy`` makes them) into the model's own arrays, in place."""
    for name, p in model.named_params().items():
        p.value[...] = weights[f"param/{name}"]
    for name, b in model.buffers().items():
        b[...] = weights[f"buffer/{name}"]

"""Reduce on plateau: the learning rate is multiplied by ``plateau_factor`` each time the validation loss
has not fallen below its best for ``plateau_patience`` epochs (Keras's ``ReduceLROnPlateau``, PyTorch's
with ``threshold=0``). The factor applies on top of the schedule: the step takes schedule(step) · factorⁿ
after n reductions.

Its counter (the best loss so far, the epochs since, the reductions made) is part of the run's state,
so every checkpoint holds it and a killed run resumes to the same rates.
"""

from __future__ import annotations

from typing import Any

from glassnet.errors import ConfigError
from glassnet.train.callbacks import Callback, Logs
from glassnet.train.state import TrainingState


class ReduceLROnPlateau(Callback):
    """Watches the validation loss after every epoch; scales every update's learning rate by the reductions
    made so far (before the update, so ``lr`` in the logs and the epoch's record is the rate applied)."""

    def __init__(self, run: TrainingState) -> None:
        if run.eval_name != "validation":
            raise ConfigError("reduce-on-plateau watches a validation split and never the test set; hold one out "
                              "(validation_size, --validation-size) or set plateau_patience = 0")
        self.run = run
        self.patience, self.factor = run.config.plateau_patience, run.config.plateau_factor

    @property
    def _state(self) -> dict[str, Any]:
        return self.run.policies.setdefault("plateau", {"best": None, "wait": 0, "reductions": 0})

    def on_before_update(self, step: int, logs: Logs) -> None:
        reductions = int(self._state["reductions"])
        if reductions:
            self.run.optimizer.lr *= self.factor ** reductions
            logs["lr"] = self.run.optimizer.lr

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        state = self._state
        if state["best"] is None or logs["eval_loss"] < float(state["best"]):
            state.update(best=logs["eval_loss"], wait=0)
        else:
            state["wait"] = int(state["wait"]) + 1
        if state["wait"] >= self.patience:
            state.update(wait=0, reductions=int(state["reductions"]) + 1)

"""Training: ``fit`` runs a recipe (``TrainConfig``) on data, with evaluation, checkpoints and resume.

- ``data``: ``TrainData``, what a run trains and evaluates on, and ``evaluate``;
- ``state``: ``TrainingState``, everything a checkpoint holds to resume a run, and its epoch records;
- ``loop``: ``fit`` and ``train_epoch``, the loop itself;
- ``callbacks``: ``Callback`` and ``StopTraining``, how policies and the caller take part in the loop;
- the policies, each a callback in a module of its own: ``divergence`` (the guard), ``clipping``
  (gradient clipping), ``early_stopping``, ``plateau`` (reduce-on-plateau) and ``checkpointing``;
- ``lr_find``: the learning-rate range test, a short run of its own.
"""

from glassnet.train.callbacks import Callback, Logs, StopTraining
from glassnet.train.data import TrainData, evaluate
from glassnet.train.loop import FitResult, fit, train_epoch
from glassnet.train.state import EpochStats, TrainingState, initial_model, make_schedule, training_record

__all__ = ["Callback", "EpochStats", "FitResult", "Logs", "StopTraining", "TrainData", "TrainingState",
           "evaluate", "fit", "initial_model", "make_schedule", "train_epoch", "training_record"]

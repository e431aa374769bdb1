"""A sweep worker: it joins a study and runs trials, each a normal run folder, until the study has enough.

Any number of workers, on any machines, may join one study. Each asks the study for a trial
(a retry of a dead worker's trial first), trains it with ``fit`` and tells the result. When the
last trials are running elsewhere it waits rather than leaves, so that a trial whose worker dies
(its heartbeat stops; see ``study``) is retried here.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback, fail_stale_trials

from glassnet.config import TrainConfig
from glassnet.diagnostics.record import DiagnosticsRecorder
from glassnet.errors import DivergenceError, GlassnetError
from glassnet.report import run_files
from glassnet.run_folder import prepare_new
from glassnet.sweep.spec import Dimension, SweepSpec, decode
from glassnet.sweep.study import SweepError, counts, experimental_allowed, trials_wanted
from glassnet.train import Callback, EpochStats, Logs, StopTraining, TrainData, evaluate, fit

TRIALS_FOLDER = "trials"
MAX_ERRORS_IN_A_ROW = 5              # trials failing on an error (not a divergence) before the worker gives up


class Interrupted(Exception):
    """The worker was asked to stop at once; its trial was abandoned and queued to run again."""


@dataclass
class WorkerSummary:
    ran: int = 0
    errors_in_a_row: int = 0


def suggest(trial: optuna.Trial, d: Dimension) -> Any:
    """Draw one config field's value for ``trial`` (stored by Optuna under the field's name)."""
    if d.kind == "categorical":
        return trial.suggest_categorical(d.field, list(d.choices))
    if d.kind == "int":
        return trial.suggest_int(d.field, int(d.low), int(d.high), step=int(d.step or 1))
    return trial.suggest_float(d.field, d.low, d.high, step=d.step, log=d.kind == "log_uniform")


class _RunFiles(Callback):
    """config.toml before the first epoch and the history after each: the trial's folder reads as any run's."""

    def __init__(self, folder: Path, config: TrainConfig) -> None:
        self.folder, self.config, self.history = folder, config, list[EpochStats]()

    def on_fit_start(self, model: Any, logs: Logs) -> None:
        run_files.write_config(self.folder, self.config)

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        stats: EpochStats = logs["stats"]
        self.history.append(stats)
        run_files.write_history(self.folder, self.history)


class _Pruning(Callback):
    """Reports each epoch's validation figure to the study and stops the run when the pruner says so."""

    def __init__(self, trial: optuna.Trial, objective: str, epochs: int) -> None:
        self.trial, self.objective, self.epochs = trial, objective, epochs

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        value = logs["eval_accuracy"] if self.objective == "accuracy" else logs["eval_loss"]
        self.trial.report(value, epoch)
        if epoch < self.epochs and self.trial.should_prune():     # after the last epoch there is nothing to save
            raise StopTraining(f"pruned after epoch {epoch}: validation {self.objective} {value:.4f} is "
                               "behind the median of earlier trials at that epoch")


class Worker:
    """Runs trials of ``study`` on ``mnist`` into ``out/trials/NNNN``; ``stop_requested`` is polled between trials."""

    def __init__(self, study: optuna.Study, spec: SweepSpec, mnist: Any, out: Path, *,
                 log: Callable[[str], None] = print, stop_requested: Callable[[], bool] = lambda: False) -> None:
        self.study, self.spec, self.out, self.log, self.stop_requested = study, spec, out, log, stop_requested
        self.data = TrainData.from_mnist(mnist, spec.base.validation_size, spec.train_subset)
        self.summary = WorkerSummary()
        self._trial: optuna.Trial | None = None

    def run(self) -> WorkerSummary:
        """Run trials until the study has as many finished ones as it asks for (or a stop is requested)."""
        poll = min(self.spec.heartbeat_seconds, 5)
        while not self.stop_requested():
            with experimental_allowed():
                fail_stale_trials(self.study)        # trials of dead workers: failed, and queued again
            state, wanted = counts(self.study), trials_wanted(self.study)
            if state["finished"] >= wanted:
                break
            if not state["waiting"] and state["finished"] + state["running"] >= wanted:
                time.sleep(poll)                     # the last trials run elsewhere; stay in case one dies
                continue
            self._run_one()
        return self.summary

    def _run_one(self) -> None:
        self._trial = None
        try:
            self.study.optimize(self._objective, n_trials=1, catch=(GlassnetError,), gc_after_trial=False)
        except KeyboardInterrupt:
            number = self._trial.number if self._trial is not None else None
            frozen = next((t for t in self.study.get_trials(deepcopy=False) if t.number == number), None)
            if frozen is not None and frozen.state == optuna.trial.TrialState.FAIL:
                # Optuna marked the interrupted trial failed; queue it for another worker
                with experimental_allowed():
                    RetryHeartbeatStaleTrialCallback(self.spec.max_retries)(self.study, frozen)
                self.log(f"trial {frozen.number}: abandoned (its checkpoint stays in {self._folder(frozen.number)}); "
                         "queued to run again")
            raise Interrupted from None
        self.summary.ran += 1
        if self.summary.errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            raise SweepError(f"{MAX_ERRORS_IN_A_ROW} trials in a row failed with an error (above); "
                             "fix the spec or the data and start again")

    def _folder(self, number: int) -> Path:
        return self.out / TRIALS_FOLDER / f"{number:04d}"

    def _objective(self, trial: optuna.Trial) -> float:
        self._trial = trial
        params = {d.field: suggest(trial, d) for d in self.spec.space}
        shown = ", ".join(f"{name}={decode(value)}" for name, value in params.items())
        folder = self._folder(trial.number)
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        self.log(f"trial {trial.number}: {shown}")
        try:
            config = self.spec.config_for(params)
            prepare_new(folder)
            trial.set_user_attr("run_dir", str(folder.resolve()))
            callbacks = [_RunFiles(folder, config), DiagnosticsRecorder.for_run(folder, config, self.data),
                         _Pruning(trial, self.spec.objective, config.epochs)]
            result = fit(config, self.data, run_dir=folder, callbacks=callbacks)
        except GlassnetError as e:
            trial.set_user_attr("error", str(e).splitlines()[0])
            diverged = isinstance(e, DivergenceError)
            self.summary.errors_in_a_row = 0 if diverged else self.summary.errors_in_a_row + 1
            self.log(f"trial {trial.number}: failed: {str(e).splitlines()[0]}")
            raise
        self.summary.errors_in_a_row = 0
        trial.set_user_attr("epochs", len(result.history))
        trial.set_user_attr("seconds", round(sum(s.seconds for s in result.history), 3))
        if not result.finished and result.stop_reason.startswith("pruned"):
            self.log(f"trial {trial.number}: {result.stop_reason}")
            raise optuna.TrialPruned(result.stop_reason)
        if not result.finished:
            raise KeyboardInterrupt
        loss, accuracy, _ = evaluate(result.model, self.data.x_eval, self.data.y_eval)
        value = accuracy if self.spec.objective == "accuracy" else loss
        # the run's final figures, as glassnet train writes them, but on validation: a sweep never looks at
        # the test set (a pruned trial has none: like a stopped run, it could be resumed)
        run_files.write_metrics(folder, {"dataset": self.data.description,
                                         "validation": {"accuracy": accuracy, "loss": loss},
                                         "epochs": len(result.history), "sweep": {"study": self.study.study_name,
                                                                                  "trial": trial.number}})
        self.log(f"trial {trial.number}: validation {self.spec.objective} {value:.4f} after "
                 f"{len(result.history)} epochs ({result.stop_reason})")
        return value

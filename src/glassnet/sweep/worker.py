"""A sweep worker: it joins a study and runs trials, each a normal run folder, until the study has enough.

Any number of workers, on any machines, may join one study. Each asks the study for a trial
(a retry of a dead worker's trial first), trains it with ``fit`` and tells the result. When the
last trials are running elsewhere it waits rather than leaves, so that a trial whose worker dies
(its heartbeat stops; see ``study``) is retried here.

A trial that fails, whatever it raises, fails alone: its error (type and first line) goes to the
study and the log, the run folder it made is removed (trials.csv keeps the error), and the worker
takes the next trial, until the study stops itself (``failures``). Only a request ends a worker
mid-trial: ``stop()`` lets the running trial finish, ``stop(abandon=True)`` drops it at the end of
the batch it trains (it is failed and queued to run again). Both only set a flag that the worker
reads at those points, so a signal never cuts into Optuna's or the database's code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import fail_stale_trials

from glassnet.config import TrainConfig
from glassnet.diagnostics.record import DiagnosticsRecorder
from glassnet.report import run_files
from glassnet.run_folder import prepare_new
from glassnet.sweep.failures import ABANDONED, failing_run, one_line, stop_line
from glassnet.sweep.space import Dimension, decode
from glassnet.sweep.spec import SweepSpec
from glassnet.sweep.storage import SweepError, experimental_allowed
from glassnet.sweep.study import counts, queue_again, trials_wanted
from glassnet.tracking import MlflowRun, Tracker
from glassnet.train import Callback, EpochStats, Logs, StopTraining, TrainData, evaluate, fit

TRIALS_FOLDER = "trials"
ABANDONED_ERROR = "abandoned: its worker was told to stop (Ctrl-C twice, SIGTERM, or its sweep ended); queued again"


class Interrupted(Exception):
    """The worker was asked to stop at once; its trial was abandoned and queued to run again."""


class _Abandoned(Exception):
    """Ends a trial whose worker was asked to drop it (Optuna marks it failed)."""


@dataclass
class WorkerSummary:
    ran: int = 0


def suggest(trial: optuna.Trial, d: Dimension) -> Any:
    """Draw one config field's value for ``trial`` (stored by Optuna under the field's name)."""
    if d.kind == "categorical":
        return trial.suggest_categorical(d.field, list(d.choices))
    if d.kind == "int":
        return trial.suggest_int(d.field, int(d.low), int(d.high), step=int(d.step or 1))
    return trial.suggest_float(d.field, d.low, d.high, step=d.step, log=d.kind == "log_uniform")


def describe(error: BaseException) -> str:
    """An error in one line: its type (the first public one: NumPy's _ArrayMemoryError is a MemoryError) and the
    first line of its message, at most ``failures.ERROR_CHARS`` long."""
    kind = next(c.__name__ for c in type(error).__mro__ if not c.__name__.startswith("_"))
    lines = str(error).strip().splitlines()
    return one_line(f"{kind}: {lines[0]}" if lines else kind)


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


class _Abandon(Callback):
    """Ends the run after the batch in which its worker was asked to drop the trial."""

    def __init__(self, requested: Callable[[], bool]) -> None:
        self.requested = requested

    def on_batch_end(self, step: int, logs: Logs) -> None:
        if self.requested():
            raise StopTraining("abandoned")


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
    """Runs trials of ``study`` on ``mnist`` into ``out/trials/NNNN`` until the study has enough, or stops."""

    def __init__(self, study: optuna.Study, spec: SweepSpec, mnist: Any, out: Path, *,
                 log: Callable[[str], None] = print, tracker: Tracker | None = None) -> None:
        self.study, self.spec, self.out, self.log = study, spec, out, log
        self.tracker = tracker                    # records each trial as an MLflow run, under the study's
        self._parent: str | None = None
        self.data = TrainData.from_mnist(mnist, spec.base.validation_size, spec.train_subset)
        self.summary = WorkerSummary()
        self._trial: optuna.Trial | None = None
        self._made: Path | None = None            # the running trial's folder, when this worker created it
        self._stop = self._abandon = False

    def stop(self, abandon: bool = False) -> None:
        """Stop after the running trial; with ``abandon``, drop it after the batch it trains. Only sets flags:
        safe in a signal handler."""
        self._stop = True
        self._abandon = self._abandon or abandon

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def abandon_requested(self) -> bool:
        return self._abandon

    def run(self) -> WorkerSummary:
        """Run trials until the study has as many finished ones as it asks for (or a stop is requested).
        Raises ``SweepError`` once the study has stopped itself (``failures``)."""
        poll = min(self.spec.heartbeat_seconds, 5)
        while not self._stop:
            with experimental_allowed():
                fail_stale_trials(self.study)        # trials of dead workers: failed, and queued again
            trials, attrs = self.study.get_trials(deepcopy=False), self.study.user_attrs
            state, wanted = counts(trials), trials_wanted(attrs)
            if state["finished"] >= wanted:
                break
            failing = failing_run(trials, attrs)
            if failing:
                raise SweepError(stop_line(self.study.study_name, failing))
            if not state["waiting"] and state["finished"] + state["running"] >= wanted:
                time.sleep(poll)                     # the last trials run elsewhere; stay in case one dies
                continue
            self._run_one()
        return self.summary

    def _run_one(self) -> None:
        self._trial = None
        try:
            self.study.optimize(self._objective, n_trials=1, catch=(Exception,), gc_after_trial=False)
        except SweepError:
            raise                                    # the study's database is gone: the worker stops, saying so
        except Exception as e:                       # Optuna refused to close the trial, e.g. one failed meanwhile
            number = self._trial.number if self._trial is not None else "?"
            self.log(f"trial {number}: the study did not take its result ({describe(e)})")
        self.summary.ran += 1
        if self._abandon:
            self._queue_again()
            raise Interrupted

    def _queue_again(self) -> None:
        """Queue the abandoned trial (Optuna has marked it failed) for another worker."""
        number = self._trial.number if self._trial is not None else None
        frozen = next((t for t in self.study.get_trials(deepcopy=False) if t.number == number), None)
        if frozen is not None and frozen.state == optuna.trial.TrialState.FAIL and frozen.user_attrs.get(ABANDONED):
            queue_again(self.study, frozen, self.spec.max_retries)
            checkpoint = self._folder(frozen.number) / "model.npz"
            kept = f" (its checkpoint stays in {checkpoint.parent})" if checkpoint.is_file() else ""
            self.log(f"trial {frozen.number}: abandoned{kept}; queued to run again")

    def _folder(self, number: int) -> Path:
        return self.out / TRIALS_FOLDER / f"{number:04d}"

    def _objective(self, trial: optuna.Trial) -> float:
        self._trial, self._made = trial, None
        try:
            return self._train(trial)
        except _Abandoned:
            self._record(trial, {"error": ABANDONED_ERROR, ABANDONED: True})
            raise
        except optuna.TrialPruned:
            raise
        except Exception as e:
            self._fail(trial, e)
            raise

    def _fail(self, trial: optuna.Trial, error: Exception) -> None:
        """Say why the trial failed, and remove the run folder it made: trials.csv and the log keep the error."""
        line = describe(error)
        removed = self._made is not None and self._remove(self._made)
        self.log(f"trial {trial.number}: failed: {line}" + ("; its folder was removed" if removed else ""))
        self._record(trial, {"error": line} | ({"run_dir": None} if removed else {}))

    def _remove(self, folder: Path) -> bool:
        try:
            shutil.rmtree(folder)
        except OSError as e:
            self.log(f"could not remove the failed trial's folder {folder}: {e.strerror or e}")
            return False
        return True

    def _record(self, trial: optuna.Trial, attrs: dict[str, Any]) -> None:
        # a trial the study has already failed (its heartbeat was late) takes no attributes, and an unreachable
        # database fails the tell that follows, which says so: either way the failing trial is not the place
        with contextlib.suppress(Exception):
            for key, value in attrs.items():
                trial.set_user_attr(key, value)

    def _tracking(self, tracker: Tracker, number: int, config: TrainConfig, folder: Path) -> MlflowRun:
        """The trial's MLflow run, nested under the study's when the sweep made one (``--mlflow`` on its command)."""
        name = self.study.study_name
        self._parent = self._parent or tracker.study_run(name, create=False)
        return tracker.run(config, folder, run_name=f"{name} trial {number}", parent_run_id=self._parent,
                           tags={"glassnet.study": name, "glassnet.trial": str(number)})

    def _train(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("host", socket.gethostname())         # first: who runs it, should this process die
        trial.set_user_attr("pid", os.getpid())
        params = {d.field: suggest(trial, d) for d in self.spec.space}
        shown = ", ".join(f"{name}={decode(value)}" for name, value in params.items())
        folder = self._folder(trial.number)
        self.log(f"trial {trial.number}: {shown}")
        config = self.spec.config_for(params)
        if self._abandon:
            raise _Abandoned
        new = not folder.exists()
        prepare_new(folder)
        self._made = folder if new else None
        trial.set_user_attr("run_dir", str(folder.resolve()))
        callbacks = [_RunFiles(folder, config), DiagnosticsRecorder.for_run(folder, config, self.data),
                     _Pruning(trial, self.spec.objective, config.epochs), _Abandon(lambda: self._abandon)]
        tracking = self._tracking(self.tracker, trial.number, config, folder) if self.tracker else None
        with tracking or contextlib.nullcontext():          # a trial that fails is a FAILED run
            result = fit(config, self.data, run_dir=folder, callbacks=callbacks + ([tracking] if tracking else []))
        trial.set_user_attr("epochs", len(result.history))
        trial.set_user_attr("seconds", round(sum(s.seconds for s in result.history), 3))
        if not result.finished and result.stop_reason.startswith("pruned"):
            self.log(f"trial {trial.number}: {result.stop_reason}")
            raise optuna.TrialPruned(result.stop_reason)
        if not result.finished:                     # abandoned (or Ctrl-C, were fit ever to see one)
            raise _Abandoned
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

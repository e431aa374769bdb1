"""Runs in MLflow: each run's config as parameters, each epoch's figures as metrics, its model file as an artifact.

A ``Tracker`` is one connection to an MLflow tracking store and one experiment in it: the store
``MLFLOW_TRACKING_URI`` names (a tracking server, a database), else MLflow's own default in the
current folder (``mlflow.db``, or ``mlruns/`` when that already holds runs), which ``mlflow ui``
started in the same folder shows. ``Tracker.run`` gives the callback that records one ``fit``:

    tracker = Tracker("glassnet")
    with tracker.run(config, run_dir) as run:       # the MLflow run ends with the block
        fit(config, data, run_dir=run_dir, callbacks=[run])

Tracking never stops training. The first call that fails (a server that is down, a store that
refuses) gives one warning line, and the tracker sends nothing more: the run trains on and its run
folder is complete. Unless ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` or ``MLFLOW_HTTP_REQUEST_TIMEOUT``
is set, a tracker lowers them (MLflow retries a refused connection for minutes) to 2 retries
and 30 seconds. MLflow itself is the optional extra ``mlflow``, imported when a ``Tracker`` is
made; without it, that raises a ``GlassnetError`` naming the extra.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from glassnet.checkpoint import CHECKPOINT_NAME
from glassnet.config import TrainConfig
from glassnet.errors import GlassnetError
from glassnet.train.callbacks import Callback, Logs
from glassnet.train.state import EpochStats
from glassnet.version import __version__

DEFAULT_EXPERIMENT = "glassnet"
MISSING = "MLflow tracking needs the 'mlflow' extra: pip install 'glassnet[mlflow]'"
PATIENCE = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
METRICS = ("train_loss", "train_accuracy", "eval_loss", "eval_accuracy", "lr", "seconds")   # EpochStats', per epoch
STUDY_ROLE = "study"        # the tag glassnet.role of a sweep's parent run

T = TypeVar("T")


def require_mlflow() -> None:
    """Raise ``GlassnetError`` (one line naming the extra) unless MLflow can be imported."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise GlassnetError(MISSING) from None


def _warn(line: str) -> None:
    warnings.warn(line, RuntimeWarning, stacklevel=3)


class Tracker:
    """One experiment of one MLflow tracking store; silent after its first failure (see the module)."""

    def __init__(self, experiment: str = DEFAULT_EXPERIMENT, *, tracking_uri: str | None = None,
                 warn: Callable[[str], None] = _warn) -> None:
        require_mlflow()
        self.experiment, self.tracking_uri, self.warn = experiment, tracking_uri, warn
        self.failed = False
        self._client: Any = None
        self._experiment_id: str | None = None

    def call(self, what: str, action: Callable[[Any], T]) -> T | None:
        """``action(client)``, or None once anything has failed (the first failure is warned of, saying ``what``)."""
        if self.failed:
            return None
        try:
            return action(self._connect())
        except Exception as e:
            self.failed = True
            self.warn(f"MLflow: could not {what} at {self._where()} ({_cause(e)}); training goes on without tracking")
            return None

    def _where(self) -> str:
        if self.tracking_uri:
            return self.tracking_uri
        try:
            from mlflow import get_tracking_uri
            return get_tracking_uri()
        except Exception:
            return "MLflow's tracking store"

    def _connect(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            for name, value in PATIENCE.items():
                os.environ.setdefault(name, value)
            self._client = MlflowClient(self.tracking_uri)
        return self._client

    def experiment_id(self, client: Any) -> str:
        """The experiment's id, the experiment created when new (by this tracker or a worker beside it)."""
        if self._experiment_id is None:
            found = client.get_experiment_by_name(self.experiment)
            if found is None:
                try:
                    self._experiment_id = client.create_experiment(self.experiment)
                except Exception:                    # another process created it meanwhile
                    found = client.get_experiment_by_name(self.experiment)
                    if found is None:
                        raise
            self._experiment_id = self._experiment_id or found.experiment_id
        return self._experiment_id

    def run(self, config: TrainConfig, run_dir: Path, *, run_name: str | None = None,
            tags: Mapping[str, str] | None = None, parent_run_id: str | None = None) -> MlflowRun:
        """The callback that records one ``fit`` of ``config`` into ``run_dir`` as a run of this experiment."""
        return MlflowRun(self, config, run_dir, run_name=run_name, tags=tags, parent_run_id=parent_run_id)

    def study_run(self, study: str, *, create: bool) -> str | None:
        """The id of the parent run of sweep ``study`` (its trials' runs are nested under it); made when missing
        and ``create`` (the coordinator's), else None."""

        def find(client: Any) -> str | None:
            experiment = self.experiment_id(client)
            query = f"tags.`glassnet.study` = '{study}' AND tags.`glassnet.role` = '{STUDY_ROLE}'"
            found = client.search_runs([experiment], query, max_results=1)
            if found:
                if create:                           # the sweep runs again
                    client.update_run(found[0].info.run_id, status="RUNNING")
                return str(found[0].info.run_id)
            if not create:
                return None
            tags = {"glassnet.study": study, "glassnet.role": STUDY_ROLE, "glassnet.version": __version__}
            return str(client.create_run(experiment, run_name=study, tags=tags).info.run_id)

        return self.call(f"{'start' if create else 'find'} the run of study {study!r}", find)

    def end_study_run(self, run_id: str, finished: bool) -> None:
        self.call("end the study's run",
                  lambda client: client.set_terminated(run_id, "FINISHED" if finished else "KILLED"))


class MlflowRun(Callback):
    """One ``fit`` as an MLflow run: the config's fields as parameters at the start (and the epochs a resumed
    run had done as metrics), each epoch's ``EpochStats`` figures as metrics at step = epoch, and at the end
    the run folder's ``model.npz`` as an artifact and the run's status: FINISHED, KILLED (stopped before its
    last epoch: Ctrl-C, the live view's Stop, a pruned trial) or FAILED (an error). Inside a ``with`` block the
    run ends when the block does, after what the caller wrote since ``fit`` (final metrics, the model file's
    last metadata), and FAILED when an error leaves the block; used alone, when ``fit`` ends, where an error is
    KILLED too (``on_fit_end`` hears of a stop and of an error alike). Non-finite figures are sent as they are:
    MLflow keeps NaN, and its SQL store keeps ±inf as ± the largest double."""

    def __init__(self, tracker: Tracker, config: TrainConfig, run_dir: Path, *, run_name: str | None,
                 tags: Mapping[str, str] | None, parent_run_id: str | None) -> None:
        self.tracker, self.config, self.run_dir = tracker, config, run_dir
        self.run_name, self.parent_run_id = run_name, parent_run_id
        self.tags = {"glassnet.version": __version__, "glassnet.run_dir": str(run_dir.resolve())} | dict(tags or {})
        self.run_id: str | None = None
        self.epoch = 0                            # the last epoch done
        self.ended: Logs | None = None            # on_fit_end's logs
        self._block = self._closed = False

    def __enter__(self) -> MlflowRun:
        self._block = True
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close(error)

    def on_fit_start(self, model: Any, logs: Logs) -> None:
        def start(client: Any) -> str:
            from mlflow.entities import Param

            tags = self.tags | {"glassnet.engine": logs["engine"]}
            if self.parent_run_id:
                tags["mlflow.parentRunId"] = self.parent_run_id
            run_id = str(client.create_run(self.tracker.experiment_id(client), run_name=self.run_name,
                                           tags=tags).info.run_id)
            params = [Param(k, str(v)) for k, v in self.config.to_dict().items()]
            client.log_batch(run_id, params=params)
            if logs["history"]:
                client.log_batch(run_id, metrics=_metrics(logs["history"]))
            return run_id

        self.epoch = len(logs["history"])
        self.run_id = self.tracker.call("start a run", start)

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        self.epoch = epoch
        self._log(f"log epoch {epoch}", _metrics([logs["stats"]]))

    def on_fit_end(self, logs: Logs) -> None:
        self.ended = logs
        if not self._block:
            self.close()

    def log_final(self, values: Mapping[str, float]) -> None:
        """Figures known once the run has trained (the test set's), at the step of its last epoch."""
        from mlflow.entities import Metric

        now = _now()
        self._log("log the final figures", [Metric(k, float(v), now, self.epoch) for k, v in values.items()])

    def close(self, error: BaseException | None = None) -> None:
        """Send the model file and end the run (once)."""
        if self._closed or self.run_id is None:
            return
        self._closed = True
        run_id = self.run_id
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED" if error is not None or \
            self.ended is None else "FINISHED" if self.ended["finished"] else "KILLED"
        model = self.run_dir / CHECKPOINT_NAME
        if model.is_file():
            self.tracker.call("send the model file", lambda client: client.log_artifact(run_id, str(model)))
        reason = self.ended["stop_reason"] if self.ended else str(error or "")
        self.tracker.call("end the run", lambda client: (client.set_tag(run_id, "glassnet.stop_reason", reason[:5000]),
                                                          client.set_terminated(run_id, status)))

    def _log(self, what: str, metrics: list[Any]) -> None:
        run_id = self.run_id
        if run_id is not None and metrics:
            self.tracker.call(what, lambda client: client.log_batch(run_id, metrics=metrics))


def _cause(error: Exception) -> str:
    """The heart of an error in one short line: the system's words for a failed connection (MLflow wraps them in
    a paragraph of its own and of urllib3's), else the first line of the message."""
    text = str(error)
    system = re.search(r"\[Errno -?\d+\] ([^'\"()\]]+)", text)
    return system.group(1).strip() if system else (text.strip().splitlines() or [type(error).__name__])[0][:200]


def _now() -> int:
    return int(time.time() * 1000)


def _metrics(epochs: Iterable[EpochStats]) -> list[Any]:
    """Each epoch's figures as MLflow metrics at step = epoch."""
    from mlflow.entities import Metric

    now = _now()
    return [Metric(name, float(getattr(s, name)), now, s.epoch) for s in epochs for name in METRICS]

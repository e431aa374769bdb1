"""The diagnostics record of a run: a JSON-lines file that training appends to and the live view follows.

Every line is one JSON object, written whole with its newline in a single ``write``; a reader
takes only complete lines, so a line still being written (or cut off by a kill) is never read as
data. Kinds of line:

- ``meta``: the network's layers, the probe digits' labels, how often steps are recorded;
- ``tick``: every few steps (about 5,000 in a run): loss and accuracy, of the batch and smoothed,
  and the learning rate;
- ``step``: every k-th training step, the same and more: gradient norms, update-to-weight ratios,
  activation histograms, dead ReLUs, batch norm's γ/β;
- ``epoch``: after every epoch's checkpoint: the epoch's figures, the evaluation confusion matrix,
  a few current mistakes, a 2-D PCA map of the last hidden layer on the probe digits, and the
  first layer's W − W₀ for a few units;
- ``end``: written by the process that ran ``fit`` when it returned: ``finished`` (the run is
  complete) or not (stopped, to be resumed), and why.

k is chosen so that these statistics cost about 1% of the training time and the file holds at
most about 2,000 step lines; a resumed run first drops what the killed one recorded past its checkpoint
(and its end line). Lines are written by ``lines.encode``: a statistic that is not finite is recorded
as null and named in the line's "nonfinite" map, so a diverging run is recorded, not a crash.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from glassnet.config import TrainConfig
from glassnet.data.batches import as_inputs, n_batches
from glassnet.diagnostics.lines import encode, keep_records_before
from glassnet.diagnostics.stats import (
    activation_stats,
    batchnorm_ranges,
    first_layer_change,
    gradient_norms,
    snapshot,
    update_ratios,
)
from glassnet.metrics import confusion_matrix
from glassnet.nn.kinds import role_of
from glassnet.nn.layers import Linear
from glassnet.nn.losses import softmax
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array
from glassnet.train import Callback, EpochStats, Logs, StopTraining, TrainData, initial_model

RECORD_NAME = "diagnostics.jsonl"
MAX_STEP_LINES = 2000
MAX_TICK_LINES = 5000
FIRST_EVERY = 20                # the first statistics wait for the step time to be known
MIN_TICK_EVERY = 10
COST_SHARE = 0.01               # the share of training time that the per-step statistics may take
SMOOTHING = 0.98                # exponential moving average of the batch loss and accuracy
MISTAKES, MOSAIC_UNITS = 8, 16


class Controller:
    """Pause, resume and stop, asked for by one thread (the web page) and obeyed by the training loop."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._paused = False
        self._stopping = False
        self.paused_at_step: int | None = None          # set by the training loop once it has stopped moving

    def request(self, action: str) -> None:
        with self._lock:
            if action == "pause":
                self._paused = True
            elif action == "resume":
                self._paused = False
            elif action == "stop":
                self._stopping = True
            else:
                raise ValueError(f"unknown action {action!r}; send pause, resume or stop")
            self._lock.notify_all()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"paused": self._paused, "stopping": self._stopping, "paused_at_step": self.paused_at_step}

    def obey(self, step: int) -> None:
        """Called by the training loop between steps: wait while paused; raise ``StopTraining`` on stop."""
        with self._lock:
            while self._paused and not self._stopping:
                self.paused_at_step = step
                self._lock.wait()
            self.paused_at_step = None
            if self._stopping:
                raise StopTraining(f"stopped from the live view after step {step}")


def _rounded(values: NDArray[Any], digits: int = 4) -> list[Any]:
    return np.round(np.asarray(values, np.float64), digits).tolist()


class DiagnosticsRecorder(Callback):
    """A callback that appends the diagnostics record of a run to ``path`` while ``fit`` trains.

    ``x_eval``/``y_eval`` (inputs in [0, 1]) give the confusion matrix and the mistakes; their first
    ``probe_size`` digits are the probe for activations and the PCA map. ``initial_first_layer`` is
    W₀ of the run (for W − W₀); ``controller``, when given, is obeyed after every step.
    """

    def __init__(self, path: str | os.PathLike[str], x_eval: NDArray[np.floating], y_eval: NDArray[np.integer], *,
                 steps_per_epoch: int, epochs: int, initial_first_layer: Array, controller: Controller | None = None,
                 probe_size: int = 500) -> None:
        self.path = Path(path)
        self.x_eval, self.y_eval = x_eval, np.asarray(y_eval, np.intp)
        self.probe = x_eval[:probe_size]
        self.total_steps, self.w0, self.controller = steps_per_epoch * epochs, initial_first_layer, controller
        self.every = max(FIRST_EVERY, math.ceil(self.total_steps / MAX_STEP_LINES))
        self.tick_every = max(MIN_TICK_EVERY, math.ceil(self.total_steps / MAX_TICK_LINES))
        self._model: Sequential | None = None
        self._steps_per_epoch = steps_per_epoch
        self._done: list[EpochStats] = []                 # the epochs a resumed run had finished
        self._smooth: tuple[float, float] | None = None
        self._before: dict[str, Array] | None = None
        self._last_batch_end: float | None = None
        self._step_seconds = 0.0
        self._epoch = self._step = 0                      # the last epoch recorded, the last step seen
        self._ended = False

    @classmethod
    def for_run(cls, run_dir: Path, config: TrainConfig, data: TrainData,
                controller: Controller | None = None) -> DiagnosticsRecorder:
        """The recorder of a run of ``config`` on ``data`` into ``run_dir`` (W₀ drawn as ``fit`` draws it)."""
        first = next(layer for layer in initial_model(config, data.sizes).layers if isinstance(layer, Linear))
        return cls(run_dir / RECORD_NAME, as_inputs(data.x_eval, first.weight.value.dtype), data.y_eval,
                   steps_per_epoch=n_batches(len(data.x_train), config.batch_size), epochs=config.epochs,
                   initial_first_layer=first.weight.value, controller=controller)

    def on_fit_start(self, model: Sequential, logs: Logs) -> None:
        """Make the record agree with the run's checkpoint: drop what a killed run recorded past it, and
        add the record of its last epoch if the kill came between its checkpoint and its record."""
        self._model, self._done = model, list(logs["history"])
        self._epoch, self._step = len(self._done), len(self._done) * self._steps_per_epoch
        recorded = keep_records_before(self.path, len(self._done) + 1)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._append(self._meta())
        if self._done and self._done[-1].epoch not in recorded:
            self._record_epoch(self._done[-1], None)       # the model is that epoch's checkpoint

    def _meta(self) -> dict[str, Any]:
        model = self._require_model()
        return {"kind": "meta", "epoch": 0, "layers": [type(layer).__name__ for layer in model.layers],
                "params": list(model.named_params()), "every": self.every, "tick_every": self.tick_every,
                "total_steps": self.total_steps,
                "probe_labels": self.y_eval[:len(self.probe)].tolist(), "rule_of_thumb": 1e-3}

    def _require_model(self) -> Sequential:
        if self._model is None:
            raise RuntimeError("DiagnosticsRecorder: fit has not started")
        return self._model

    def _append(self, record: dict[str, Any]) -> None:
        with open(self.path, "ab") as f:                 # one write per complete line
            f.write(encode(record))

    def on_fit_end(self, logs: Logs) -> None:
        """Close the record with an ``end`` line: the run is over (``finished``) or stopped, by a callback,
        Ctrl-C or an error (to be resumed, or not). Readers take "finished" from this line only; a resumed
        run drops it."""
        if self._model is None or self._ended:
            return
        self._ended = True
        self._append({"kind": "end", "epoch": self._epoch, "step": self._step,
                      "finished": logs["finished"], "reason": logs["stop_reason"]})

    def on_batch_end(self, step: int, logs: Logs) -> None:
        epoch, loss, accuracy, lr = logs["epoch"], logs["loss"], logs["accuracy"], logs["lr"]
        now = time.perf_counter()
        if self._last_batch_end is not None:
            self._step_seconds = 0.9 * self._step_seconds + 0.1 * (now - self._last_batch_end) \
                if self._step_seconds else now - self._last_batch_end
        self._step = step
        smooth_loss, smooth_accuracy = self._smooth or (loss, accuracy)
        self._smooth = (SMOOTHING * smooth_loss + (1 - SMOOTHING) * loss,
                        SMOOTHING * smooth_accuracy + (1 - SMOOTHING) * accuracy)
        if step % self.every == 0:
            started = time.perf_counter()
            self._append(self._step_record(epoch, step, loss, accuracy, lr))
            spent = time.perf_counter() - started
            if self._step_seconds:                       # keep recording at about COST_SHARE of the time
                self.every = max(self.every, math.ceil(spent / (COST_SHARE * self._step_seconds)))
        elif step % self.tick_every == 0:
            self._append(self._tick(epoch, step, loss, accuracy, lr))
        if (step + 1) % self.every == 0:
            self._before = snapshot(self._require_model())   # to measure the next step's update
        if self.controller is not None:
            self.controller.obey(step)
        self._last_batch_end = time.perf_counter()

    def _tick(self, epoch: int, step: int, loss: float, accuracy: float, lr: float) -> dict[str, Any]:
        smooth_loss, smooth_accuracy = self._smooth or (loss, accuracy)
        return {"kind": "tick", "epoch": epoch, "step": step, "loss": round(loss, 5), "accuracy": round(accuracy, 4),
                "loss_smooth": round(smooth_loss, 5), "accuracy_smooth": round(smooth_accuracy, 4), "lr": lr}

    def _step_record(self, epoch: int, step: int, loss: float, accuracy: float, lr: float) -> dict[str, Any]:
        model = self._require_model()
        activations = [{"layer": s.layer, "counts": s.counts.tolist(), "edges": _rounded(s.edges[[0, -1]]),
                        "mean": round(s.mean, 4), "std": round(s.std, 4),
                        "dead": None if s.dead_fraction is None else round(s.dead_fraction, 4),
                        "not_finite": s.not_finite}
                       for s in activation_stats(model, self.probe)]
        record: dict[str, Any] = self._tick(epoch, step, loss, accuracy, lr) | {
            "kind": "step",
            "grad_norms": {k: float(f"{v:.4g}") for k, v in gradient_norms(model).items()},
            "activations": activations,
            "batchnorm": {k: _rounded(np.array(v)) for k, v in batchnorm_ranges(model).items()}}
        if self._before is not None:
            record["update_ratios"] = {k: float(f"{v:.4g}") for k, v in update_ratios(self._before, model).items()}
        return record

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        self._record_epoch(logs["stats"], logs["predicted"])      # fit's own evaluation: no second pass needed

    def _record_epoch(self, stats: EpochStats, predicted: NDArray[np.intp] | None) -> None:
        model = self._require_model()
        if predicted is None or predicted.shape != self.y_eval.shape:    # fit evaluated on other data
            predicted = model.infer(self.x_eval).argmax(axis=1)
        wrong = np.flatnonzero(predicted != self.y_eval)[:MISTAKES]
        probabilities = softmax(model.infer(self.x_eval[wrong]).astype(np.float64))
        hidden = [out for layer, out in zip(model.layers, model.trace(self.probe)) if role_of(layer) == "activation"]
        change = first_layer_change(model, self.w0)[:, :MOSAIC_UNITS]
        self._epoch = stats.epoch
        self._append({
            "kind": "epoch", "epoch": stats.epoch, "step": stats.epoch * self._steps_per_epoch,
            "train_loss": stats.train_loss, "train_accuracy": stats.train_accuracy, "eval_loss": stats.eval_loss,
            "eval_accuracy": stats.eval_accuracy, "lr": stats.lr, "seconds": round(stats.seconds, 3),
            "confusion": confusion_matrix(self.y_eval, predicted, model.n_classes).tolist(),
            "mistakes": [{"label": int(self.y_eval[i]), "predicted": int(predicted[i]),
                          "confidence": round(float(p.max()), 4),
                          "pixels": np.round(np.asarray(self.x_eval[i], np.float64) * 255).astype(int).tolist()}
                         for i, p in zip(wrong, probabilities)],
            "pca": _pca(hidden[-1]) if hidden else [],
            "mosaic": _mosaic(change)})


def _pca(hidden: NDArray[np.floating]) -> list[Any] | float:
    """The probe digits' PCA map, rounded; NaN (recorded as not finite) when the activations are not all finite."""
    return _rounded(pca_2d(hidden), 3) if np.isfinite(hidden).all() else float("nan")


def _mosaic(change: NDArray[np.floating]) -> dict[str, Any]:
    """W − W₀ of the first units as integers in [−99, 99] and their scale (NaN when W is not all finite)."""
    if not np.isfinite(change).all():
        return {"units": int(change.shape[1]), "scale": float("nan"), "values": float("nan")}
    scale = float(np.abs(change).max()) or 1.0
    return {"units": int(change.shape[1]), "scale": scale,
            "values": np.round(change / scale * 99).astype(int).T.ravel().tolist()}


def pca_2d(x: NDArray[np.floating]) -> NDArray[np.float64]:
    """The first two principal components of the rows of x (N, D), as (N, 2), signs fixed so maps don't flip."""
    centred = np.asarray(x, np.float64) - np.mean(x, axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.argmax(np.abs(components), axis=1)])
    coordinates = centred @ (components * signs[:, None]).T
    if coordinates.shape[1] < 2:
        coordinates = np.pad(coordinates, ((0, 0), (0, 2 - coordinates.shape[1])))
    return coordinates


"""The learning-rate range test (Smith 2017; fastai's ``lr_find``, Lightning's ``Tuner.lr_find``): train a
fresh copy of the run's network for a few steps while the rate grows exponentially, and watch the loss.

Step i (from 0) takes lr_i = start · (end / start)^(i / (steps − 1)), with the run's own training step
(its optimizer, batches, dropout, batch norm and augmentation, on the training split). The loss is smoothed
as fastai does, an exponential moving average with bias correction:
a_i = β · a_(i−1) + (1 − β) · loss_i, smoothed_i = a_i / (1 − β^(i+1)); the test stops once the smoothed
loss exceeds ``diverge`` times its lowest (or a loss is not finite). Two readings of the curve:

- the suggestion, the steepest descent: the rate where the smoothed loss falls fastest against log lr
  (Lightning's rule; the first ``SKIP_BEGIN`` steps and the last are left out);
- the minimum over ten: a tenth of the rate of the lowest smoothed loss (fastai's ``lr_min``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassnet.config import TrainConfig
from glassnet.errors import ConfigError, DivergenceError
from glassnet.nn.fused import FusedMLP
from glassnet.nn.model import Sequential
from glassnet.train.callbacks import Callback, Logs, StopTraining
from glassnet.train.clipping import GradientClipping
from glassnet.train.data import TrainData
from glassnet.train.loop import train_epoch
from glassnet.train.state import TrainingState

SKIP_BEGIN = 10          # the first steps, still at the start of training, are not read for the steepest descent
MIN_STEPS = 20           # a curve of fewer points has no descent to read
MAX_STEPS = 100_000


@dataclass(frozen=True)
class RangeTest:
    """What the range test measured: per step its rate, loss and smoothed loss; why it stopped; the readings."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stop_reason: str
    suggestion: float            # the steepest descent of the smoothed loss
    min_over_ten: float          # a tenth of the rate at the lowest smoothed loss

    RULE = "steepest descent of the smoothed loss"


class _Sweep(Callback):
    """Sets each update's rate, records the loss, and ends the test at its last step or when it diverges."""

    def __init__(self, run: TrainingState, start: float, end: float, steps: int, beta: float, diverge: float) -> None:
        self.run, self.start, self.end, self.steps, self.beta, self.diverge = run, start, end, steps, beta, diverge
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.average, self.lowest = 0.0, math.inf

    def on_before_update(self, step: int, logs: Logs) -> None:
        i = len(self.lrs)
        self.run.optimizer.lr = logs["lr"] = self.start * (self.end / self.start) ** (i / (self.steps - 1))

    def on_batch_end(self, step: int, logs: Logs) -> None:
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            raise StopTraining(f"the loss was not finite at step {len(self.lrs) + 1}")
        self.lrs.append(self.run.optimizer.lr)
        self.losses.append(loss)
        self.average = self.beta * self.average + (1 - self.beta) * loss
        self.smoothed.append(self.average / (1 - self.beta ** len(self.losses)))
        self.lowest = min(self.lowest, self.smoothed[-1])
        if self.smoothed[-1] > self.diverge * self.lowest:
            raise StopTraining(f"the smoothed loss passed {self.diverge:g} times its lowest at step {len(self.lrs)}")
        if len(self.lrs) == self.steps:
            raise StopTraining(f"all {self.steps} steps taken")


def range_test(config: TrainConfig, data: TrainData, *, start_lr: float = 1e-7, end_lr: float = 10.0,
               steps: int = 100, beta: float = 0.98, diverge: float = 4.0,
               init_from: Path | Sequential | None = None) -> RangeTest:
    """Run the range test on ``data``'s training split with a fresh network of ``config`` (or a copy of the
    weights of ``init_from``, a model file or model, which are never written). ``config.lr`` and its schedule
    play no part; gradient clipping (``config.clip_grad_norm``) does. ``ConfigError`` for bad arguments, or
    when the loss diverges before the curve can be read."""
    check_arguments(start_lr, end_lr, steps, beta, diverge)
    run = TrainingState(config, data)
    if init_from is not None:
        run.init_from(init_from)
    fused = FusedMLP(run.model) if config.engine == "fast" and not FusedMLP.refusal(run.model) else None
    sweep = _Sweep(run, start_lr, end_lr, steps, beta, diverge)
    callbacks: list[Callback] = [GradientClipping(config.clip_grad_norm)] if config.clip_grad_norm else []
    for callback in callbacks:
        callback.on_fit_start(run.model, {})
    try:
        while True:
            train_epoch(run, data, fused=fused, callbacks=[*callbacks, sweep])
    except StopTraining as e:
        stop_reason = str(e)
    except DivergenceError as e:          # gradients too large for clipping to scale: the curve ends there
        stop_reason = str(e).splitlines()[0]
    return _read(sweep, stop_reason)


def check_arguments(start_lr: float, end_lr: float, steps: int, beta: float = 0.98, diverge: float = 4.0) -> None:
    """``ConfigError`` unless the range test can run with these."""
    if not (0 < start_lr < end_lr < math.inf):
        raise ConfigError(f"the range test needs 0 < start lr < end lr, both finite; got {start_lr:g} and {end_lr:g}")
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ConfigError(f"the range test takes {MIN_STEPS} to {MAX_STEPS} steps, got {steps}")
    if not (0 <= beta < 1 and 1 < diverge < math.inf):
        raise ConfigError(f"the range test needs a smoothing β in [0, 1) and a finite divergence factor > 1; "
                          f"got {beta:g} and {diverge:g}")


def _read(sweep: _Sweep, stop_reason: str) -> RangeTest:
    """The two readings of the curve, once it is long enough to have a descent past its first steps."""
    if len(sweep.smoothed) < SKIP_BEGIN + 3:
        raise ConfigError(f"the loss diverged after {len(sweep.smoothed)} of {sweep.steps} steps ({stop_reason}), "
                          f"before the curve could be read; lower the end lr or take more steps")
    smoothed, log_lr = np.array(sweep.smoothed), np.log(sweep.lrs)
    slope = np.gradient(smoothed, log_lr)[SKIP_BEGIN:-1]
    steepest = SKIP_BEGIN + int(np.argmin(slope))
    lowest = int(np.argmin(smoothed))
    return RangeTest(sweep.lrs, sweep.losses, sweep.smoothed, stop_reason, suggestion=sweep.lrs[steepest],
                     min_over_ten=sweep.lrs[lowest] / 10)

"""``fit``: the training loop, one epoch after another, with its policies as callbacks over it.

Each step: opt.lr = schedule(step), x = augment(x), logits = model(x), (loss, G) = cross-entropy,
backward (the fused step or layer by layer), the callbacks' ``on_before_update``, opt.step(), the
callbacks' ``on_batch_end``. After each epoch: evaluation, then ``on_epoch_end``: the divergence guard,
reduce-on-plateau, clipping and early stopping's decision, the caller's callbacks, and last the checkpoint. When the run
ends, ``on_fit_end``: early stopping first, which hands back its best epoch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.checkpoint import resume_file
from glassnet.config import MEASURE, TrainConfig
from glassnet.data.batches import batch_indices, gather, n_batches
from glassnet.errors import CheckpointError, ConfigError
from glassnet.nn.blas import pinned
from glassnet.nn.fused import FusedMLP
from glassnet.nn.losses import NonFiniteLogitsError, softmax_cross_entropy
from glassnet.nn.model import Sequential
from glassnet.run_folder import held, prepare_new, remove_stale_temporaries
from glassnet.train.callbacks import Callback, Logs, StopTraining
from glassnet.train.checkpointing import Checkpointing, state_file
from glassnet.train.clipping import GradientClipping
from glassnet.train.data import TrainData, evaluate
from glassnet.train.divergence import DivergenceGuard
from glassnet.train.early_stopping import EarlyStopping
from glassnet.train.plateau import ReduceLROnPlateau
from glassnet.train.state import EpochStats, TrainingState, make_schedule
from glassnet.train.threads import automatic, check, measure


@dataclass
class FitResult:
    """What ``fit`` trained, and why it ended: ``finished`` when the run is complete (all its epochs,
    or stopped early by its own rule), not when a callback or Ctrl-C interrupted it. ``epoch`` is the
    epoch whose weights ``model`` holds: with early stopping the best, else the last finished (the model
    of a run interrupted mid-epoch is partway into the next). ``engine`` is the path that computed the
    steps; ``engine_note`` says why the fast path was refused, if it was; ``threads`` the BLAS threads it
    computed on and how they were chosen (``train/threads.py``)."""

    model: Sequential
    history: list[EpochStats]
    config: TrainConfig
    epoch: int = 0
    stop_reason: str = "completed all epochs"
    finished: bool = True
    engine: str = "fast"
    engine_note: str = ""
    threads: dict[str, Any] = dataclasses.field(default_factory=dict)


def fit(config: TrainConfig, data: TrainData, *, run_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (), resume: bool = False,
        init_from: str | Path | Sequential | None = None) -> FitResult:
    """Train an MLP as ``config`` says, evaluating after every epoch and checkpointing to ``run_dir``.

    The network's outer sizes come from the data (``data.sizes``). With ``resume``, continue from
    the run's state in ``run_dir``; the config may differ from the saved one in ``epochs`` only, and more
    epochs extend a finished run. ``init_from`` starts a new run from the weights of another model
    file or model (the same layers). Early stopping (``early_stopping_patience`` > 0) watches the
    validation split and needs one; the model returned, and ``run_dir/model.npz``, are then the best
    epoch's, however the run ends (at its own stop, at its last epoch, or interrupted: the best so far),
    and the state to resume from is ``run_dir/resume.npz``. A callback may raise ``StopTraining``, and
    Ctrl-C ends the run the same way: the last checkpoint stays and ``resume`` continues. A non-finite
    loss raises ``DivergenceError``.
    The run folder is held by this process while ``fit`` runs (``run_folder.held``).
    """
    if config.early_stopping_patience and data.eval_name != "validation":
        raise ConfigError("early stopping watches a validation split and never stops on the test set; "
                          "hold one out (validation_size, --validation-size) or set early_stopping_patience = 0")
    run = TrainingState(config, data)
    folder = Path(run_dir) if run_dir is not None else None
    if folder is None:
        if resume:
            raise ConfigError("resume=True continues the run in run_dir; name it")
        return _fit(run, data, None, callbacks, resume, init_from)
    if resume and not resume_file(folder).exists():
        raise CheckpointError(f"nothing to resume: {resume_file(folder)} does not exist")
    if not resume:
        prepare_new(folder)                                # new, empty or ours: nothing of the user's is touched
    with held(folder):                                     # one process at a time writes a run folder
        if resume:
            remove_stale_temporaries(folder)               # left by a run killed mid-write
        return _fit(run, data, folder, callbacks, resume, init_from)


def _policies(run: TrainingState, folder: Path | None) -> tuple[list[Callback], list[Callback]]:
    """The run's own rules: those that act before the caller's callbacks (the divergence guard, reduce-on-plateau,
    clipping and early stopping's decision), and those that act after them, once the epoch's record is complete
    (the checkpoint)."""
    config = run.config
    before: list[Callback] = [DivergenceGuard(state_file(folder, config) if folder is not None else None)]
    before += [ReduceLROnPlateau(run)] if config.plateau_patience else []
    after: list[Callback] = []
    if config.clip_grad_norm:
        before.append(GradientClipping(config.clip_grad_norm))
    early = EarlyStopping(run, folder) if config.early_stopping_patience else None
    if early is not None:
        before.append(early)
    if folder is not None:
        after.append(Checkpointing(run, folder, early))
    return before, after


def _fit(run: TrainingState, data: TrainData, folder: Path | None, callbacks: Sequence[Callback], resume: bool,
         init_from: str | Path | Sequential | None) -> FitResult:
    """``fit``'s loop, once the run folder (if any) is ready and held."""
    config = run.config
    if folder is not None and resume:
        run.restore(resume_file(folder))
    elif init_from is not None:
        run.init_from(init_from if isinstance(init_from, Sequential) else Path(init_from))
    note = (FusedMLP.refusal(run.model) or "") if config.engine == "fast" else ""
    fused = FusedMLP(run.model) if config.engine == "fast" and not note else None
    if not run.threads:                        # a new run; a resumed one computes on the count it recorded
        if config.threads > 0:
            check(config.threads)
            run.threads = {"count": config.threads, "source": "asked for"}
        elif config.threads == MEASURE:
            run.threads = measure(run.model, run.optimizer, data, config.batch_size, fused=fused is not None)
        else:
            run.threads = automatic()
    with pinned(run.threads["count"]):
        return _run(run, data, folder, callbacks, fused, note)


def _run(run: TrainingState, data: TrainData, folder: Path | None, callbacks: Sequence[Callback],
         fused: FusedMLP | None, note: str) -> FitResult:
    """The epochs of a ready run, its callbacks told of its start and its end."""
    config = run.config
    before, after = _policies(run, folder)
    every = [*before, *callbacks, *after]
    result = FitResult(run.model, run.history, config, engine="fast" if fused else "layers", engine_note=note,
                       threads=run.threads)
    for callback in every:
        callback.on_fit_start(run.model, {"history": list(run.history), "engine": result.engine,
                                          "engine_note": note, "threads": run.threads})
    try:
        _epochs(run, data, fused, every, after, state_file(folder, config) if folder is not None else None)
        result.stop_reason = run.stopped or "completed all epochs"
    except StopTraining as e:
        result.stop_reason, result.finished = str(e) or "stopped by a callback", False
    except KeyboardInterrupt:
        result.stop_reason, result.finished = "interrupted (Ctrl-C)", False
    except Exception as e:                     # the run ends with it: the callbacks hear why, then the caller
        for callback in every:
            callback.on_fit_end({"stop_reason": (str(e).splitlines() or [type(e).__name__])[0], "finished": False,
                                 "epoch": run.epoch})
        raise
    logs: Logs = {"stop_reason": result.stop_reason, "finished": result.finished, "epoch": run.epoch}
    for callback in every:
        callback.on_fit_end(logs)
    result.epoch = logs["epoch"]
    return result


def _epochs(run: TrainingState, data: TrainData, fused: FusedMLP | None, every: list[Callback],
            closing: list[Callback], checkpoint: Path | None) -> None:
    """Epoch after epoch until the last, or until a policy stops the run (``run.stopped``). ``closing`` are the
    callbacks of ``every`` that end an epoch, after all others, whatever those raise."""
    config = run.config
    while run.epoch < config.epochs and not run.stopped:
        epoch = run.epoch + 1
        for callback in every:
            callback.on_epoch_start(epoch, {"steps": n_batches(len(data.x_train), config.batch_size)})
        started = time.perf_counter()
        train_loss, train_accuracy = train_epoch(run, data, fused=fused, callbacks=every)
        try:
            with np.errstate(over="ignore", invalid="ignore"):     # what overflows shows as non-finite logits
                eval_loss, eval_accuracy, predicted = evaluate(run.model, data.x_eval, data.y_eval, weights=data.w_eval)
        except NonFiniteLogitsError:                   # the epoch's last update broke the weights
            raise DivergenceGuard.error(run.step, run.optimizer.lr, epoch, checkpoint) from None
        stats = EpochStats(epoch, train_loss, train_accuracy, eval_loss, eval_accuracy, run.optimizer.lr,
                           time.perf_counter() - started)
        run.history.append(stats)
        run.epoch = epoch
        logs = dataclasses.asdict(stats) | {"stats": stats, "predicted": predicted}
        try:
            for callback in every:
                if callback not in closing:
                    callback.on_epoch_end(epoch, logs)
        finally:                                       # the epoch is over: it is checkpointed, whatever a callback did
            for callback in closing:
                callback.on_epoch_end(epoch, logs)


def train_epoch(run: TrainingState, data: TrainData, *, fused: FusedMLP | None = None,
                callbacks: Sequence[Callback] = ()) -> tuple[float, float]:
    """One pass over the training data in shuffled mini-batches; returns the mean loss and accuracy.

    Each batch's loss is its mean cross-entropy, weighted by the batch's ``data.w_train`` when the data
    has weights; the epoch's loss is the mean of the batches' losses, weighted by their sizes.

    The fused step (``fused``) or the layers compute forward, loss and backward; the callbacks see the
    gradients before the update (``on_before_update``) and the step after it (``on_batch_end``). A
    batch whose logits are not finite skips its update and reaches ``on_batch_end`` with a NaN loss,
    where the divergence guard stops the run.
    """
    config, model, optimizer = run.config, run.model, run.optimizer
    steps_per_epoch = n_batches(len(data.x_train), config.batch_size)
    schedule = make_schedule(config, steps_per_epoch)
    augment, augment_rng, rng = config.augment, run.rngs["augment"], run.rngs["shuffle"]
    model.train()
    x_batch = np.empty((min(config.batch_size, len(data.x_train)), data.x_train.shape[1]), model.dtype)
    loss_sum, correct, seen = 0.0, 0, 0
    # Overflow makes no warning: in the forward pass it shows at once as non-finite logits; in the
    # backward pass or the update it leaves non-finite weights, which the next step's logits show.
    with np.errstate(over="ignore", invalid="ignore"):
        for batch, indices in enumerate(batch_indices(len(data.x_train), config.batch_size, rng)):
            run.step += 1
            optimizer.lr = schedule(run.step - 1)
            x = gather(data.x_train, indices, x_batch)
            if not augment.is_identity:
                x = augment(x, augment_rng)
            labels = data.y_train[indices]
            weights = data.w_train[indices] if data.w_train is not None else None
            logs: Logs = {"epoch": run.epoch + 1, "batch": batch, "lr": optimizer.lr}
            try:
                if fused is not None:
                    loss, logits = fused.forward_backward(x, labels, label_smoothing=config.label_smoothing,
                                                          weights=weights)
                else:
                    logits = model.forward(x)
                    loss, grad = softmax_cross_entropy(logits, labels, label_smoothing=config.label_smoothing,
                                                       weights=weights)
                    model.backward(grad, input_grad=False)
            except NonFiniteLogitsError:
                logs |= {"loss": math.nan, "accuracy": math.nan}
                for callback in callbacks:
                    callback.on_batch_end(run.step, logs)
                raise DivergenceGuard.error(run.step, optimizer.lr, run.epoch + 1, None) from None   # no guard passed
            logs["loss"] = loss
            for callback in callbacks:
                callback.on_before_update(run.step, logs)
            optimizer.step()
            hits = int(np.count_nonzero(logits.argmax(axis=1) == labels))
            loss_sum, correct, seen = loss_sum + loss * len(indices), correct + hits, seen + len(indices)
            logs["accuracy"] = hits / len(indices)
            for callback in callbacks:
                callback.on_batch_end(run.step, logs)
    return loss_sum / seen, correct / seen

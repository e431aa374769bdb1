"""``fit`` and ``evaluate``: the training loop, its record, checkpoints, divergence guard and resume.

One seed fixes the run: ``SeedSequence(seed)`` gives one generator for the
model (initial weights, then dropout masks), one for shuffling and one for
data augmentation. Their states are saved in every checkpoint, with the
parameters, BatchNorm statistics, optimizer moments and the step count, so a
resumed run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from glassnet.atomic import remove_stale_temporaries
from glassnet.checkpoint import (
    CHECKPOINT_NAME,
    FORMAT_VERSION,
    optimizer_arrays,
    read_checkpoint,
    restore_state,
    save_checkpoint,
)
from glassnet.config import TrainConfig
from glassnet.data.augment import Augment
from glassnet.data.batches import as_inputs, batch_indices, gather, n_batches
from glassnet.errors import CheckpointError, DivergenceError
from glassnet.nn.fused import FusedAdam, FusedMLP
from glassnet.nn.losses import NonFiniteLogitsError, softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import SGD, Adam
from glassnet.nn.schedules import Schedule, constant, cosine, step_decay
from glassnet.version import __version__


@dataclass(frozen=True)
class EpochStats:
    """One epoch's record. Train figures are means over the epoch's batches, in training mode."""

    epoch: int
    train_loss: float
    train_accuracy: float
    eval_loss: float
    eval_accuracy: float
    lr: float
    seconds: float


@dataclass(frozen=True)
class TrainData:
    """Inputs (N, 784) and integer labels; ``eval_name`` is "test" or "validation".

    Inputs are floats in [0, 1] or uint8 pixels, divided by 255 batch by
    batch (a quarter of the memory, and faster to gather)."""

    x_train: NDArray[np.floating]
    y_train: NDArray[np.integer]
    x_eval: NDArray[np.floating]
    y_eval: NDArray[np.integer]
    eval_name: str = "test"
    description: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for split, x, y in (("train", self.x_train, self.y_train), ("eval", self.x_eval, self.y_eval)):
            if x.ndim != 2 or x.shape[1] != self.x_train.shape[1]:
                raise ValueError(f"x_{split} must have shape (N, {self.x_train.shape[1]}), got {x.shape}")
            if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
                raise ValueError(f"x_{split} must hold uint8 pixels or floats in [0, 1], got dtype {x.dtype}")
            if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
                raise ValueError(f"x_{split} contains NaN or inf")
            if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"y_{split} must be {len(x)} integer labels to match x_{split}, "
                                 f"got {y.dtype} of shape {y.shape}")
        if len(self.x_train) < 2:
            raise ValueError(f"training needs at least 2 samples, got {len(self.x_train)}")


class Callback:
    """Hooks ``fit`` calls; override what you need. The library never prints."""

    def on_fit_start(self, model: Sequential) -> None: ...
    def on_epoch_start(self, epoch: int, n_batches: int) -> None: ...
    def on_batch_end(self, epoch: int, batch: int, loss: float, accuracy: float, lr: float) -> None: ...
    def on_evaluation(self, epoch: int, predicted: NDArray[np.intp]) -> None: ...   # each evaluation sample's class
    def on_epoch_end(self, stats: EpochStats) -> None: ...


@dataclass
class FitResult:
    model: Sequential
    history: list[EpochStats]
    config: TrainConfig


def evaluate(model: Sequential, x: NDArray[np.floating], labels: NDArray[np.integer], *,
             batch_size: int = 2048) -> tuple[float, float, NDArray[np.intp]]:
    """Mean cross-entropy, accuracy and predictions of ``model`` in inference mode (it writes no state)."""
    loss_sum, predictions = 0.0, []
    for start in range(0, len(x), batch_size):
        logits = model.infer(as_inputs(x[start:start + batch_size], model.dtype))
        loss, _ = softmax_cross_entropy(logits, labels[start:start + batch_size])
        loss_sum += loss * len(logits)
        predictions.append(logits.argmax(axis=1))
    predicted = np.concatenate(predictions) if predictions else np.empty(0, np.intp)
    n = max(len(x), 1)
    return loss_sum / n, float(np.mean(predicted == labels)) if len(x) else 0.0, predicted


def make_schedule(config: TrainConfig, steps_per_epoch: int) -> Schedule:
    """The config's learning-rate schedule, in optimizer steps."""
    if config.schedule == "step":
        return step_decay(config.lr, gamma=config.lr_decay,
                          every_steps=config.lr_decay_every_epochs * steps_per_epoch)
    if config.schedule == "cosine":
        return cosine(config.lr, total_steps=config.epochs * steps_per_epoch,
                      warmup_steps=config.warmup_epochs * steps_per_epoch)
    return constant(config.lr)


def _generators(seed: int) -> dict[str, np.random.Generator]:
    model_seed, shuffle_seed, augment_seed = np.random.SeedSequence(seed).spawn(3)
    return {"model": np.random.default_rng(model_seed), "shuffle": np.random.default_rng(shuffle_seed),
            "augment": np.random.default_rng(augment_seed)}


def _build(config: TrainConfig, rng: np.random.Generator) -> Sequential:
    return mlp(config.sizes, rng=rng, dropout=config.dropout, batchnorm=config.batchnorm,
               dtype=np.dtype(config.dtype), init=config.init)


def initial_model(config: TrainConfig) -> Sequential:
    """The model of a run with ``config`` before its first step: the same initial weights, bit for bit."""
    return _build(config, _generators(config.seed)["model"])


def _optimizer(config: TrainConfig, model: Sequential) -> Adam | SGD:
    if config.optimizer == "sgd":
        return SGD(model.params(), lr=config.lr, momentum=config.momentum)
    return FusedAdam(model.params(), lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps,
                weight_decay=config.weight_decay)


class _Run:
    """The mutable state of one training run: what a checkpoint must hold to resume it."""

    def __init__(self, config: TrainConfig, description: dict[str, Any]) -> None:
        self.config = config
        self.description = description
        self.rngs = _generators(config.seed)
        self.model = _build(config, self.rngs["model"])
        self.optimizer = _optimizer(config, self.model)
        self.epoch = 0          # completed epochs
        self.step = 0           # optimizer steps taken
        self.history: list[EpochStats] = []

    def meta(self) -> dict[str, Any]:
        return {"glassnet_version": __version__, "config": self.config.to_dict(), "epoch": self.epoch,
                "step": self.step, "rng_states": {k: g.bit_generator.state for k, g in self.rngs.items()},
                "history": [dataclasses.asdict(s) for s in self.history], "dataset": self.description}

    def save(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        save_checkpoint(path, self.model, self.meta() | (extra or {}), self.optimizer.state())

    def restore(self, path: Path) -> None:
        meta, arrays = read_checkpoint(path)
        if meta["format_version"] != FORMAT_VERSION:
            raise CheckpointError(f"{path}: written by an older glassnet (checkpoint format "
                                  f"{meta['format_version']}), whose training state this version cannot resume; "
                                  "its model still loads (evaluate, predict, serve, info); start a new run")
        if meta.get("config") != self.config.to_dict():
            raise CheckpointError(f"{path}: this run was trained with another config; resume it without "
                                  "changing any setting, or start a new run folder")
        try:
            restore_state(self.model, arrays, str(path))
            self.optimizer.load_state(optimizer_arrays(arrays))
            for name, generator in self.rngs.items():
                generator.bit_generator.state = meta["rng_states"][name]
            self.history = [EpochStats(**record) for record in meta["history"]]
            self.epoch, self.step = int(meta["epoch"]), int(meta["step"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: incomplete training state ({e}); it cannot be resumed") from e


def train_epoch(model: Sequential, optimizer: Adam | SGD, x_train: NDArray[np.floating],
                y_train: NDArray[np.integer], *, batch_size: int, rng: np.random.Generator,
                schedule: Schedule, first_step: int = 0, label_smoothing: float = 0.0,
                augment: Augment | None = None, augment_rng: np.random.Generator | None = None,
                fused: FusedMLP | None = None,
                on_batch: Callable[[int, float, float, float], None] | None = None) -> tuple[float, float]:
    """One pass over the training data in shuffled mini-batches; returns mean loss and accuracy.

    Each step: [x = augment(x)], logits = model(x), (loss, G) = cross-entropy, backward,
    opt.lr = schedule(step), opt.step(); or the same as one ``fused.step`` when ``fused`` is given.
    Raises ``DivergenceError`` (naming the step and lr) when the logits stop being finite.
    """
    model.train()
    x_batch = np.empty((batch_size, x_train.shape[1]), model.dtype)      # reused every step
    loss_sum, correct, seen = 0.0, 0, 0
    # Overflow makes no warning: in the forward pass it shows at once as non-finite logits; in the
    # backward pass or the update it leaves non-finite weights, which the next step's logits show.
    with np.errstate(over="ignore", invalid="ignore"):
        for batch, indices in enumerate(batch_indices(len(x_train), batch_size, rng)):
            step = first_step + batch
            optimizer.lr = schedule(step)
            x = gather(x_train, indices, x_batch)
            if augment is not None and not augment.is_identity:
                x = augment(x, augment_rng or rng)
            labels = y_train[indices]
            try:
                if fused is not None:
                    loss, logits = fused.step(x, labels, optimizer, label_smoothing=label_smoothing)
                else:
                    logits = model.forward(x)
                    loss, grad = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing)
                    model.backward(grad, input_grad=False)
                    optimizer.step()
            except NonFiniteLogitsError:
                raise DivergenceError(f"training diverged: non-finite loss at step {step + 1} "
                                      f"(lr {optimizer.lr:g})") from None
            loss_sum += loss * len(indices)
            hits = int(np.count_nonzero(logits.argmax(axis=1) == labels))
            correct += hits
            seen += len(indices)
            if on_batch is not None:
                on_batch(batch, loss, hits / len(indices), optimizer.lr)
    return loss_sum / seen, correct / seen


def fit(config: TrainConfig, data: TrainData, *, run_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (), resume: bool = False) -> FitResult:
    """Train an MLP as ``config`` says, evaluating after every epoch and checkpointing to ``run_dir``.

    With ``resume``, continue from ``run_dir/model.npz``. A non-finite loss
    raises ``DivergenceError``; the last good checkpoint stays in place.
    """
    run = _Run(config, data.description)
    checkpoint = Path(run_dir) / CHECKPOINT_NAME if run_dir is not None else None
    if run_dir is not None and Path(run_dir).is_dir():
        remove_stale_temporaries(run_dir)                  # left by a run killed mid-write
    if resume:
        if checkpoint is None or not checkpoint.exists():
            raise CheckpointError(f"nothing to resume: {checkpoint} does not exist")
        run.restore(checkpoint)
    model, optimizer = run.model, run.optimizer
    fused = FusedMLP(model) if config.engine == "fast" else None
    x_train, x_eval = data.x_train, data.x_eval
    steps_per_epoch = n_batches(len(x_train), config.batch_size)
    schedule = make_schedule(config, steps_per_epoch)
    for callback in callbacks:
        callback.on_fit_start(model)
    while run.epoch < config.epochs:
        epoch = run.epoch + 1
        for callback in callbacks:
            callback.on_epoch_start(epoch, steps_per_epoch)

        def on_batch(batch: int, loss: float, accuracy: float, lr: float, epoch: int = epoch) -> None:
            for callback in callbacks:
                callback.on_batch_end(epoch, batch, loss, accuracy, lr)

        started = time.perf_counter()
        try:
            train_loss, train_accuracy = train_epoch(
                model, optimizer, x_train, data.y_train, batch_size=config.batch_size, rng=run.rngs["shuffle"],
                schedule=schedule, first_step=run.step, label_smoothing=config.label_smoothing,
                augment=config.augment, augment_rng=run.rngs["augment"], fused=fused, on_batch=on_batch)
        except DivergenceError as e:
            kept = f"; the last good checkpoint is kept in {checkpoint}" if checkpoint and run.epoch else ""
            raise DivergenceError(f"{e} in epoch {epoch}{kept}.\nhelp: lower the learning rate (--lr)") from None
        run.step += steps_per_epoch
        eval_loss, eval_accuracy, predicted = evaluate(model, x_eval, data.y_eval)
        for callback in callbacks:
            callback.on_evaluation(epoch, predicted)
        stats = EpochStats(epoch, train_loss, train_accuracy, eval_loss, eval_accuracy, optimizer.lr,
                           time.perf_counter() - started)
        run.history.append(stats)
        run.epoch = epoch
        if checkpoint is not None:
            run.save(checkpoint)
        for callback in callbacks:
            callback.on_epoch_end(stats)
    return FitResult(model, run.history, config)

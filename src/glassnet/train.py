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

from glassnet.checkpoint import (
    CHECKPOINT_NAME,
    FORMAT_VERSION,
    build_model,
    layer_specs,
    optimizer_arrays,
    read_checkpoint,
    restore_state,
    save_checkpoint,
)
from glassnet.config import TrainConfig
from glassnet.data.augment import Augment
from glassnet.data.batches import as_inputs, batch_indices, gather, n_batches
from glassnet.errors import CheckpointError, ConfigError, DivergenceError
from glassnet.nn.fused import FusedAdam, FusedMLP
from glassnet.nn.layers import Linear
from glassnet.nn.losses import NonFiniteLogitsError, softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import SGD, Adam
from glassnet.nn.params import Array
from glassnet.nn.schedules import Schedule, constant, cosine, step_decay
from glassnet.run_folder import held, prepare_new, remove_stale_temporaries
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

    @classmethod
    def from_record(cls, record: Any) -> EpochStats:
        """An epoch read back from a checkpoint's history; ``ValueError`` unless it is what glassnet wrote."""
        fields = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(record, dict) or sorted(record) != sorted(fields):
            raise ValueError(f"a history entry is {record!r:.80}, not a record of {', '.join(fields)}")
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in record.values()):
            raise ValueError(f"a history entry holds a value that is not a number: {record!r:.120}")
        return cls(**record)


def training_record(meta: dict[str, Any], path: str | Path) -> tuple[dict[str, Any], list[EpochStats], int]:
    """The config, the epoch records and the epoch count a checkpoint was saved with, to resume from;
    ``CheckpointError`` unless they are what this version of glassnet writes. A config field added
    since the checkpoint was written takes its default, which is what that run trained with."""
    if meta["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by an older glassnet (checkpoint format "
                              f"{meta['format_version']}), whose training state this version cannot resume; "
                              "its model still loads (evaluate, predict, serve, info); start a new run")
    try:
        config, history, epoch = meta["config"], meta["history"], meta["epoch"]
        if not isinstance(config, dict) or not isinstance(history, list) or type(epoch) is not int:
            raise ValueError("its config, history or epoch is not what glassnet writes")
        added = {k: v for k, v in TrainConfig().to_dict().items() if k not in config}
        return added | config, [EpochStats.from_record(record) for record in history], epoch
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: the training record is damaged ({e}), so the run cannot be resumed; "
                              "its model may still load: start a new run from it with --init-from") from None


@dataclass(frozen=True)
class TrainData:
    """Inputs (N, 784) and integer labels; ``eval_name`` is "test" or "validation".

    Inputs are floats in [0, 1] or uint8 pixels, divided by 255 batch by
    batch (a quarter of the memory, and faster to gather)."""

    x_train: NDArray[np.floating]
    y_train: NDArray[np.integer]
    x_eval: NDArray[np.floating]
    y_eval: NDArray[np.integer]
    eval_name: str = "test"             # "validation" when x_eval is held out from training data
    description: dict[str, Any] = dataclasses.field(default_factory=dict)
    n_classes: int = 0                  # classes of the output layer; 0: the largest label + 1

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
        labels = [y for y in (self.y_train, self.y_eval) if len(y)]
        if min(int(y.min()) for y in labels) < 0:
            raise ValueError("labels must be class indices ≥ 0")
        largest = max(int(y.max()) for y in labels)
        if self.n_classes == 0:
            object.__setattr__(self, "n_classes", largest + 1)
        elif largest >= self.n_classes:
            raise ValueError(f"n_classes is {self.n_classes} but a label is {largest}")

    @classmethod
    def from_mnist(cls, mnist: Any, validation_size: int, train_subset: int = 0) -> TrainData:
        """MNIST's uint8 pixels (divided by 255 batch by batch, a quarter of the memory of float32 inputs):
        the first ``train_subset`` training images (0: all), of which the last ``validation_size`` are held
        out for evaluation; with none held out, the evaluation set is the test set."""
        x_train, y_train = mnist.train_images.reshape(len(mnist.train_images), -1), mnist.train_labels
        if train_subset > len(x_train):
            raise ConfigError(f"train_subset {train_subset} asks for more training images than the data has "
                              f"({len(x_train)})")
        if train_subset:
            x_train, y_train = x_train[:train_subset], y_train[:train_subset]
        if validation_size > len(x_train) - 2:
            raise ConfigError(f"validation_size {validation_size} leaves fewer than 2 training images "
                              f"(of {len(x_train)}); hold out fewer")
        description = {"name": mnist.name, "official": mnist.official, "folder": str(mnist.folder),
                       "n_train": len(x_train) - validation_size, "n_test": len(mnist.test_labels)}
        if validation_size:
            cut = len(x_train) - validation_size
            return cls(x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:], "validation", description)
        x_test = mnist.test_images.reshape(len(mnist.test_images), -1)
        return cls(x_train, y_train, x_test, mnist.test_labels, "test", description)

    @property
    def sizes(self) -> list[int]:
        """The MLP's outer sizes for this data: inputs and classes."""
        return [int(self.x_train.shape[1]), self.n_classes]


class StopTraining(Exception):
    """Raised by a callback to end ``fit``: from ``on_batch_end`` after the current batch, from
    ``on_epoch_end`` after the current epoch. ``fit`` returns normally, with the message as its reason."""


class Callback:
    """Hooks ``fit`` calls; override what you need. The library never prints.

    A callback may end the run by raising ``StopTraining("why")``.
    """

    def on_restore(self, history: list[EpochStats]) -> None: ...   # before on_fit_start, when resuming
    def on_fit_start(self, model: Sequential) -> None: ...
    def on_epoch_start(self, epoch: int, n_batches: int) -> None: ...
    def on_batch_end(self, epoch: int, batch: int, loss: float, accuracy: float, lr: float) -> None: ...
    def on_evaluation(self, epoch: int, predicted: NDArray[np.intp]) -> None: ...   # each evaluation sample's class
    def on_epoch_end(self, stats: EpochStats) -> None: ...


@dataclass
class FitResult:
    """What ``fit`` trained, and why it ended: ``finished`` when the run is complete (all its epochs,
    or stopped early by its own rule), not when a callback or Ctrl-C interrupted it."""

    model: Sequential
    history: list[EpochStats]
    config: TrainConfig
    stop_reason: str = "completed all epochs"
    finished: bool = True


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


def _build(config: TrainConfig, rng: np.random.Generator, outer: Sequence[int]) -> Sequential:
    sizes = [outer[0], *config.hidden, outer[-1]]
    return mlp(sizes, rng=rng, dropout=config.dropout, batchnorm=config.batchnorm,
               dtype=np.dtype(config.dtype), init=config.init, activation=config.activation)


def initial_model(config: TrainConfig, outer: Sequence[int] = (784, 10)) -> Sequential:
    """The model of a run with ``config`` before its first step: the same initial weights, bit for bit.

    ``outer`` = (inputs, classes) of the data (``TrainData.sizes``); MNIST's by default.
    """
    return _build(config, _generators(config.seed)["model"], outer)


def _optimizer(config: TrainConfig, model: Sequential) -> Adam | SGD:
    if config.optimizer == "sgd":
        return SGD(model.params(), lr=config.lr, momentum=config.momentum)
    adam = FusedAdam if config.engine == "fast" else Adam          # "layers": the textbook update, as derived
    return adam(model.params(), lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps,
                weight_decay=config.weight_decay)


class _EarlyStopping:
    """The patience counter: the best validation figure so far, its epoch, and the epochs since."""

    def __init__(self, config: TrainConfig) -> None:
        self.patience, self.min_delta = config.early_stopping_patience, config.early_stopping_min_delta
        self.monitor = config.early_stopping_monitor
        self.best: float | None = None
        self.best_epoch, self.wait = 0, 0

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load(self, state: dict[str, Any]) -> None:
        self.best = None if state["best"] is None else float(state["best"])
        self.best_epoch, self.wait = int(state["best_epoch"]), int(state["wait"])

    def update(self, stats: EpochStats) -> bool:
        """Count this epoch; True when it is the best so far (its weights are to be kept)."""
        value = stats.eval_loss if self.monitor == "loss" else -stats.eval_accuracy
        if self.best is None or value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, stats.epoch, 0
            return True
        self.wait += 1
        return False

    @property
    def exhausted(self) -> bool:
        return 0 < self.patience <= self.wait

    def reason(self) -> str:
        return (f"early stopping: the validation {self.monitor} has not improved by more than {self.min_delta:g} "
                f"for {self.wait} epochs; the model is the one of epoch {self.best_epoch}, the best")


def _describe(model: Sequential) -> str:
    sizes = [layer.in_features for layer in model.layers if isinstance(layer, Linear)] + [model.n_classes]
    kinds = sorted({type(layer).__name__ for layer in model.layers})
    return f"{'-'.join(map(str, sizes))} with {', '.join(kinds)}"


class _Run:
    """The mutable state of one training run: what a checkpoint must hold to resume it."""

    def __init__(self, config: TrainConfig, data: TrainData) -> None:
        self.config = config
        self.description = data.description
        self.rngs = _generators(config.seed)
        self.model = _build(config, self.rngs["model"], data.sizes)
        self.optimizer = _optimizer(config, self.model)
        self.epoch = 0          # completed epochs
        self.step = 0           # optimizer steps taken
        self.history: list[EpochStats] = []
        self.early = _EarlyStopping(config)
        self.stopped = ""       # why the run ended before its last epoch (early stopping), once it has
        self.extra: dict[str, Any] = {}

    def meta(self) -> dict[str, Any]:
        return {"glassnet_version": __version__, "config": self.config.to_dict(), "epoch": self.epoch,
                "step": self.step, "rng_states": {k: g.bit_generator.state for k, g in self.rngs.items()},
                "history": [dataclasses.asdict(s) for s in self.history], "dataset": self.description,
                "early_stopping": self.early.state(), "stopped": self.stopped} | self.extra

    def save(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        save_checkpoint(path, self.model, self.meta() | (extra or {}), self.optimizer.state())

    def init_from(self, source: Path | Sequential) -> None:
        """Start from the weights of a model file or a model, which must have this run's layers."""
        if isinstance(source, Sequential):
            model, name = source, "the model given"
            arrays = ({f"param/{n}": p.value for n, p in model.named_params().items()}
                      | {f"buffer/{n}": b for n, b in model.buffers().items()})
        else:
            meta, arrays = read_checkpoint(source)
            model, name = build_model(meta, arrays, np.random.default_rng(0), str(source)), str(source)
            self.extra["init_from"] = name
        if layer_specs(model) != layer_specs(self.model):
            raise CheckpointError(f"{name}: its network ({_describe(model)}) is not the one this config builds "
                                  f"({_describe(self.model)}); --init-from needs the same layers and sizes")
        restore_state(self.model, arrays, name)

    def restore(self, path: Path) -> None:
        meta, arrays = read_checkpoint(path)
        saved, history, done = training_record(meta, path)
        if {k: v for k, v in saved.items() if k != "epochs"} != {k: v for k, v in self.config.to_dict().items()
                                                                 if k != "epochs"}:
            raise CheckpointError(f"{path}: this run was trained with another config; resume it without "
                                  "changing any setting but --epochs, or start a new run folder")
        if meta.get("stopped") and saved.get("epochs") != self.config.epochs:
            raise CheckpointError(f"{path}: this run stopped early ({meta['stopped']}); extending it would train "
                                  "past its own stopping rule. Start a new run from its weights with --init-from")
        kept = ("name", "official", "n_train", "n_test")
        if {k: (meta.get("dataset") or {}).get(k) for k in kept} != {k: self.description.get(k) for k in kept}:
            raise CheckpointError(f"{path}: this run trained on other data ({(meta.get('dataset') or {}).get('name')}, "
                                  f"{(meta.get('dataset') or {}).get('n_train')} training images); resume it with the "
                                  "same data (--data-dir), or start a new run")
        if done > self.config.epochs:
            raise CheckpointError(f"{path}: this run has done {done} epochs; --epochs can only extend "
                                  "it, to more than that")
        try:
            restore_state(self.model, arrays, str(path))
            self.optimizer.load_state(optimizer_arrays(arrays))
            for name, generator in self.rngs.items():
                generator.bit_generator.state = meta["rng_states"][name]
            self.history, self.epoch, self.step = history, done, int(meta["step"])
            self.early.load(meta["early_stopping"])
            self.stopped = str(meta["stopped"])
            self.extra = {key: meta[key] for key in ("init_from",) if key in meta}
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
    opt.lr = schedule(step), opt.step(); forward, loss and backward as one ``fused.forward_backward`` when
    ``fused`` is given.
    Raises ``DivergenceError`` (naming the step and lr) when the logits stop being finite.
    """
    model.train()
    x_batch = np.empty((min(batch_size, len(x_train)), x_train.shape[1]), model.dtype)   # reused every step
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
                    loss, logits = fused.forward_backward(x, labels, label_smoothing=label_smoothing)
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


BEST_NAME = "best.npz"         # the best epoch's weights, under early stopping


def fit(config: TrainConfig, data: TrainData, *, run_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (), resume: bool = False,
        init_from: str | Path | Sequential | None = None) -> FitResult:
    """Train an MLP as ``config`` says, evaluating after every epoch and checkpointing to ``run_dir``.

    The network's outer sizes come from the data (``data.sizes``). With ``resume``, continue from
    ``run_dir/model.npz``; the config may differ from the saved one in ``epochs`` only, and more
    epochs extend a finished run. ``init_from`` starts a new run from the weights of another model
    file or model (the same layers). Early stopping (``early_stopping_patience`` > 0) watches the validation split
    and needs one; the best epoch's weights are kept (``run_dir/best.npz``) and are the model
    returned. A callback may raise ``StopTraining``, and Ctrl-C ends the run the same way: the last
    checkpoint stays and ``resume`` continues. A non-finite loss raises ``DivergenceError``.
    """
    if config.early_stopping_patience and data.eval_name != "validation":
        raise ConfigError("early stopping watches a validation split and never stops on the test set; "
                          "hold one out (validation_size, --validation-size) or set early_stopping_patience = 0")
    run = _Run(config, data)
    folder = Path(run_dir) if run_dir is not None else None
    if folder is None:
        if resume:
            raise ConfigError("resume=True continues the run in run_dir; name it")
        return _train(run, data, None, callbacks, resume, init_from)
    if resume and not (folder / CHECKPOINT_NAME).exists():
        raise CheckpointError(f"nothing to resume: {folder / CHECKPOINT_NAME} does not exist")
    if not resume:
        prepare_new(folder)                                # new, empty or ours: nothing of the user's is touched
    with held(folder):                                     # one process at a time writes a run folder
        if resume:
            remove_stale_temporaries(folder)               # left by a run killed mid-write
        return _train(run, data, folder, callbacks, resume, init_from)


def _train(run: _Run, data: TrainData, folder: Path | None, callbacks: Sequence[Callback], resume: bool,
           init_from: str | Path | Sequential | None) -> FitResult:
    """``fit``'s loop, once the run folder (if any) is ready and held."""
    config = run.config
    checkpoint = folder / CHECKPOINT_NAME if folder is not None else None
    if checkpoint is not None and resume:
        run.restore(checkpoint)
        for callback in callbacks:
            callback.on_restore(run.history)
    elif init_from is not None:
        run.init_from(init_from if isinstance(init_from, Sequential) else Path(init_from))
    best = _BestWeights(run.model, folder / BEST_NAME if folder is not None else None)
    model, optimizer = run.model, run.optimizer
    fused = FusedMLP(model) if config.engine == "fast" else None
    steps_per_epoch = n_batches(len(data.x_train), config.batch_size)
    schedule = make_schedule(config, steps_per_epoch)
    for callback in callbacks:
        callback.on_fit_start(model)
    try:
        while run.epoch < config.epochs and not run.stopped:
            epoch = run.epoch + 1
            for callback in callbacks:
                callback.on_epoch_start(epoch, steps_per_epoch)

            def on_batch(batch: int, loss: float, accuracy: float, lr: float, epoch: int = epoch) -> None:
                for callback in callbacks:
                    callback.on_batch_end(epoch, batch, loss, accuracy, lr)

            started = time.perf_counter()
            try:
                train_loss, train_accuracy = train_epoch(
                    model, optimizer, data.x_train, data.y_train, batch_size=config.batch_size,
                    rng=run.rngs["shuffle"], schedule=schedule, first_step=run.step,
                    label_smoothing=config.label_smoothing, augment=config.augment,
                    augment_rng=run.rngs["augment"], fused=fused, on_batch=on_batch)
            except DivergenceError as e:
                kept = f"; the last good checkpoint is kept in {checkpoint}" if checkpoint and run.epoch else ""
                raise DivergenceError(f"{e} in epoch {epoch}{kept}.\nhelp: start a new run with a lower "
                                      "learning rate (--lr); --resume keeps the run's own") from None
            run.step += steps_per_epoch
            eval_loss, eval_accuracy, predicted = evaluate(model, data.x_eval, data.y_eval)
            for callback in callbacks:
                callback.on_evaluation(epoch, predicted)
            stats = EpochStats(epoch, train_loss, train_accuracy, eval_loss, eval_accuracy, optimizer.lr,
                               time.perf_counter() - started)
            run.history.append(stats)
            run.epoch = epoch
            if config.early_stopping_patience:
                if run.early.update(stats):
                    best.keep(epoch)
                if run.early.exhausted:
                    best.restore()
                    run.stopped = run.early.reason()
            if checkpoint is not None:
                run.save(checkpoint)
            for callback in callbacks:
                callback.on_epoch_end(stats)
    except StopTraining as e:
        return FitResult(model, run.history, config, str(e) or "stopped by a callback", finished=False)
    except KeyboardInterrupt:
        return FitResult(model, run.history, config, "interrupted (Ctrl-C)", finished=False)
    return FitResult(model, run.history, config, run.stopped or "completed all epochs")


class _BestWeights:
    """The best epoch's parameters and buffers: in ``path`` (atomically) for a run folder, else in memory."""

    def __init__(self, model: Sequential, path: Path | None) -> None:
        self.model, self.path = model, path
        self.kept: dict[str, Array] = {}

    def _targets(self) -> dict[str, Array]:
        return ({f"param/{n}": p.value for n, p in self.model.named_params().items()}
                | {f"buffer/{n}": b for n, b in self.model.buffers().items()})

    def keep(self, epoch: int) -> None:
        if self.path is not None:
            save_checkpoint(self.path, self.model, {"epoch": epoch, "best_epoch": epoch})
        else:
            self.kept = {name: value.copy() for name, value in self._targets().items()}

    def restore(self) -> None:
        if self.path is not None:
            restore_state(self.model, read_checkpoint(self.path)[1], str(self.path))
        else:
            for name, target in self._targets().items():
                target[...] = self.kept[name]

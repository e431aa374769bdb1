"""The state of a training run: its model, optimizer, generators and record, saved and restored whole.

One seed fixes the run: ``SeedSequence(seed)`` gives one generator for the
model (initial weights, then dropout masks), one for shuffling and one for
data augmentation. Their states are saved in every checkpoint, with the
parameters, BatchNorm statistics, optimizer moments and the step count, so a
resumed run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.checkpoint import (
    FORMAT_VERSION,
    build_model,
    layer_specs,
    optimizer_arrays,
    read_checkpoint,
    restore_state,
    save_checkpoint,
)
from glassnet.config import TrainConfig
from glassnet.errors import CheckpointError
from glassnet.nn.fused import FusedAdam
from glassnet.nn.layers import Linear
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import SGD, Adam
from glassnet.nn.schedules import Schedule, constant, cosine, one_cycle, step_decay
from glassnet.train.data import TrainData
from glassnet.version import __version__

POLICY_KEYS = ("early_stopping", "plateau")    # the policies whose state a checkpoint keeps, under these names


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
        config, history, epoch, step = meta["config"], meta["history"], meta["epoch"], meta["step"]
        if not isinstance(config, dict) or not isinstance(history, list) or type(epoch) is not int \
                or type(step) is not int or not 0 <= step < 2**53:
            raise ValueError("its config, history, epoch or step is not what glassnet writes")
        for key in POLICY_KEYS:
            if key in meta:
                _policy_state(key, meta[key])
        added = {k: v for k, v in TrainConfig().to_dict().items() if k not in config}
        return added | config, [EpochStats.from_record(record) for record in history], epoch
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: the training record is damaged ({e}), so the run cannot be resumed; "
                              "its model may still load: start a new run from it with --init-from") from None


def make_schedule(config: TrainConfig, steps_per_epoch: int) -> Schedule:
    """The config's learning-rate schedule, in optimizer steps."""
    if config.schedule == "step":
        return step_decay(config.lr, gamma=config.lr_decay,
                          every_steps=config.lr_decay_every_epochs * steps_per_epoch)
    if config.schedule == "cosine":
        return cosine(config.lr, total_steps=config.epochs * steps_per_epoch,
                      warmup_steps=config.warmup_epochs * steps_per_epoch)
    if config.schedule == "one_cycle":
        return one_cycle(config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=config.one_cycle_pct_start,
                         div_factor=config.one_cycle_div_factor, final_div_factor=config.one_cycle_final_div_factor)
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


def _policy_state(key: str, state: Any) -> dict[str, Any]:
    """A policy's state as read back from a checkpoint; ``ValueError`` unless it is what glassnet writes."""
    if key == "early_stopping":
        if not isinstance(state, dict) or set(state) != {"best", "best_epoch", "wait"} \
                or not (state["best"] is None or type(state["best"]) in (int, float)) \
                or type(state["best_epoch"]) is not int or type(state["wait"]) is not int:
            raise ValueError(f"early stopping's state is {state!r:.80}, not its best, best_epoch and wait")
    if key == "plateau":
        if not isinstance(state, dict) or set(state) != {"best", "wait", "reductions"} \
                or not (state["best"] is None or type(state["best"]) in (int, float)) \
                or type(state["wait"]) is not int or type(state["reductions"]) is not int:
            raise ValueError(f"reduce-on-plateau's state is {state!r:.80}, not its best, wait and reductions")
    return dict(state)


def _threads_record(record: Any) -> dict[str, Any]:
    """The thread count a checkpoint recorded; a checkpoint from before glassnet recorded one ran on the BLAS's
    own count, which it resumes on. ``ValueError`` unless it is what glassnet writes."""
    if record is None:
        from glassnet.nn.blas import starting_threads

        return {"count": starting_threads(), "source": "the BLAS's own (the checkpoint recorded none)"}
    if not isinstance(record, dict) or type(record.get("count")) is not int or record["count"] < 1:
        raise ValueError(f"its thread count is {record!r:.80}, not a record of a count ≥ 1")
    return dict(record)


def _describe(model: Sequential) -> str:
    sizes = [layer.in_features for layer in model.layers if isinstance(layer, Linear)] + [model.n_classes]
    kinds = sorted({type(layer).__name__ for layer in model.layers})
    return f"{'-'.join(map(str, sizes))} with {', '.join(kinds)}"


class TrainingState:
    """The mutable state of one training run: what a checkpoint must hold to resume it.

    ``policies`` holds the resumable state of the run's policies by name (early stopping's and
    reduce-on-plateau's counters), ``stopped`` why the run ended by its own rule before its last epoch,
    once it has; ``eval_name`` is the data's evaluation split ("test" or "validation").
    """

    def __init__(self, config: TrainConfig, data: TrainData) -> None:
        self.config = config
        self.description, self.eval_name = data.description, data.eval_name
        self.rngs = _generators(config.seed)
        self.model = _build(config, self.rngs["model"], data.sizes)
        self.optimizer = _optimizer(config, self.model)
        self.epoch = 0          # completed epochs
        self.step = 0           # optimizer steps taken
        self.history: list[EpochStats] = []
        self.policies: dict[str, Any] = {}
        self.stopped = ""
        self.threads: dict[str, Any] = {}        # the BLAS threads it computes on, and how they were chosen
        self.extra: dict[str, Any] = {}

    def meta(self) -> dict[str, Any]:
        return {"glassnet_version": __version__, "config": self.config.to_dict(), "epoch": self.epoch,
                "step": self.step, "rng_states": {k: g.bit_generator.state for k, g in self.rngs.items()},
                "history": [dataclasses.asdict(s) for s in self.history], "dataset": self.description,
                "stopped": self.stopped, "threads": self.threads} | self.policies | self.extra

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
            self.policies = {key: _policy_state(key, meta[key]) for key in POLICY_KEYS if key in meta}
            self.stopped = str(meta["stopped"])
            self.threads = _threads_record(meta.get("threads"))
            self.extra = {key: meta[key] for key in ("init_from",) if key in meta}
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise CheckpointError(f"{path}: incomplete training state ({e}); it cannot be resumed") from e

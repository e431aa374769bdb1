"""``MLPClassifier``: glassnet's network as a scikit-learn estimator, for any tabular data (the ``sklearn`` extra).

The same engine as ``glassnet train``: Linear → [BatchNorm] → activation → [Dropout] blocks, Adam,
the fused training step, early stopping with the best weights. The input width and the classes
come from the data; class labels may be any values scikit-learn accepts (strings included). Scale
the features first (a ``StandardScaler`` in a ``Pipeline``) as for any neural network.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from glassnet.config import TrainConfig
from glassnet.nn.losses import check_weights
from glassnet.nn.model import Sequential
from glassnet.train import Callback, FitResult, Logs, TrainData, fit

EVAL_SAMPLES = 256          # without early stopping, each epoch is evaluated on this many training samples


class MLPClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A multilayer perceptron classifier trained by glassnet.

    hidden: widths of the hidden layers. activation: their nonlinearity, one of
    ``glassnet.nn.layers.ACTIVATIONS`` ("relu", "leaky_relu", "gelu", "tanh", "sigmoid").
    init: the initial weights, one of ``glassnet.config.INITS`` ("he_normal", "glorot_uniform",
    scikit-learn's). epochs: passes over the data (the most, with early stopping). schedule: the
    learning rate over the epochs, one of ``glassnet.config.SCHEDULES``: "constant" (``lr``
    throughout, as scikit-learn's Adam), "step" (× 0.95 every 10 epochs, ``glassnet train``'s
    default) or "cosine" (to 0 at the last epoch). class_weight:
    None, "balanced" (n_samples / (n_classes · the class's count), as scikit-learn computes it) or
    a dict {class label: weight}; it multiplies ``fit``'s ``sample_weight``. early_stopping: hold out
    ``validation_fraction`` of the data (stratified by class when every class can be) and stop after
    ``patience`` epochs without improvement of its loss, keeping the best epoch's weights; the
    validation loss and accuracy are weighted as the training loss is.
    warm_start: ``fit`` continues from the weights of the previous ``fit``. verbose: print each
    epoch's training loss (and validation accuracy) as scikit-learn's MLP does, and why training
    stopped. random_state fixes the initial weights, dropout masks, shuffling and the validation split.

    Fitted: ``classes_``, ``n_features_in_``, ``model_`` (the ``Sequential``), ``n_iter_`` (epochs
    run by the last call), ``loss_curve_`` (training loss per epoch, over every call since the
    weights were initialized), ``best_loss_`` (its minimum; None with early stopping),
    ``validation_scores_`` (validation accuracy per epoch, accumulated likewise; None without early
    stopping), ``best_validation_score_`` (the validation accuracy of the epoch whose weights were
    kept: the best validation loss of the last call; None without early stopping), ``stop_reason_``.
    """

    def __init__(self, hidden: Sequence[int] = (100,), *, activation: str = "relu", init: str = "he_normal",
                 dropout: float = 0.0, batchnorm: bool = True, epochs: int = 200, batch_size: int = 200,
                 lr: float = 1e-3, schedule: str = "constant", weight_decay: float = 0.0,
                 class_weight: str | Mapping[Any, float] | None = None, early_stopping: bool = False,
                 validation_fraction: float = 0.1, patience: int = 10, warm_start: bool = False,
                 verbose: bool = False, random_state: int | np.random.RandomState | None = None,
                 dtype: str = "float64") -> None:
        self.hidden = hidden
        self.activation = activation
        self.init = init
        self.dropout = dropout
        self.batchnorm = batchnorm
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.schedule = schedule
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state
        self.dtype = dtype

    def _config(self, n_train: int, epochs: int, seed: int, early: bool) -> TrainConfig:
        return TrainConfig(hidden=tuple(int(w) for w in self.hidden), activation=self.activation, init=self.init,
                           dropout=float(self.dropout),
                           batchnorm=bool(self.batchnorm), epochs=int(epochs),
                           batch_size=max(2, min(int(self.batch_size), n_train)), lr=float(self.lr),
                           schedule=self.schedule,
                           weight_decay=float(self.weight_decay), seed=seed, dtype=self.dtype,
                           early_stopping_patience=int(self.patience) if early else 0)

    def _validate(self, X: ArrayLike, y: ArrayLike, reset: bool) -> tuple[NDArray[np.floating], NDArray[Any]]:
        x, labels = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        check_classification_targets(labels)
        if len(x) < 2:
            raise ValueError(f"MLPClassifier needs at least 2 samples (batch norm estimates a variance over a "
                             f"batch), got {len(x)} sample; n_samples = 1 cannot be fitted")
        return np.asarray(x), np.asarray(labels)

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> MLPClassifier:
        """Train on X (n_samples, n_features) and labels y, each sample's loss weighted by ``sample_weight``
        (and ``class_weight``) when given; with ``warm_start``, from the previous weights."""
        continuing = self.warm_start and hasattr(self, "model_")
        X, y = self._validate(X, y, reset=not continuing)
        if continuing:
            self._check_labels(y)
        else:
            self.classes_ = LabelEncoder().fit(y).classes_
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs samples of at least 2 classes, got 1 class "
                                 f"({self.classes_[0]!r})")
        labels = np.searchsorted(self.classes_, y)
        weights = self._weights(labels, sample_weight, partial=False)
        return self._train(X, labels, weights, int(self.epochs), continuing, early=bool(self.early_stopping))

    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                    classes: ArrayLike | None = None) -> MLPClassifier:
        """One epoch over all of X, y, from the current weights (``classes``, all the labels, on the first call).

        The optimizer's moments start afresh at each call; the weights carry over. Early stopping
        belongs to ``fit``: ``partial_fit`` holds nothing out (scikit-learn's MLP refuses the combination).
        """
        first = not hasattr(self, "model_")
        X, y = self._validate(X, y, reset=first)
        if first:
            if classes is None:
                raise ValueError("the first call to partial_fit needs classes=, every label there will be")
            self.classes_ = LabelEncoder().fit(np.asarray(classes)).classes_
        self._check_labels(y)
        labels = np.searchsorted(self.classes_, y)
        weights = self._weights(labels, sample_weight, partial=True)
        return self._train(X, labels, weights, 1, continuing=not first, early=False)

    def _check_labels(self, y: NDArray[Any]) -> None:
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"labels {unknown[:5].tolist()} are not among the classes {self.classes_.tolist()}")

    def _weights(self, labels: NDArray[np.intp], sample_weight: ArrayLike | None,
                 partial: bool) -> NDArray[np.float64] | None:
        """Each sample's weight in the loss: ``sample_weight`` times its class's weight; None when neither is set."""
        n = len(labels)
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=np.float64)
            if weights.ndim == 0:
                weights = np.full(n, float(weights))
            check_weights(weights, n, "sample_weight")
        if self.class_weight is not None:
            by_class = self._class_weights(labels, partial)[labels]
            weights = by_class if weights is None else weights * by_class
        if weights is not None and not weights.sum() > 0:
            raise ValueError("sample_weight and class_weight give every sample a weight of zero; nothing would be "
                             "learnt")
        return weights

    def _class_weights(self, labels: NDArray[np.intp], partial: bool) -> NDArray[np.float64]:
        """``class_weight`` as one weight per class of ``classes_``."""
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            if partial:
                raise ValueError("class_weight='balanced' counts the classes over all the data, which partial_fit "
                                 "sees a part at a time; give class_weight as a dict {class: weight}")
            counts = np.bincount(labels, minlength=n_classes)
            return len(labels) / (np.count_nonzero(counts) * np.maximum(counts, 1))
        if isinstance(self.class_weight, Mapping):
            unknown = [key for key in self.class_weight if key not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(f"class_weight names {unknown[:5]}, which are not among the classes "
                                 f"{self.classes_.tolist()}")
            weights = np.array([self.class_weight.get(c, 1.0) for c in self.classes_.tolist()], dtype=np.float64)
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise ValueError(f"class_weight's weights must be finite and ≥ 0, got {dict(self.class_weight)}")
            return weights
        raise ValueError(f"class_weight must be None, 'balanced' or a dict {{class: weight}}, got "
                         f"{self.class_weight!r}")

    def _split(self, y: NDArray[np.intp], rng: np.random.RandomState) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """The indices of the training and the validation samples: ``validation_fraction`` of them held out
        (rounded up, as ``train_test_split`` rounds), stratified by class when every class can have a
        sample on both sides, else drawn at random."""
        fraction, n = self.validation_fraction, len(y)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {fraction!r}")
        n_held = math.ceil(fraction * n)
        if n - n_held < 2:
            raise ValueError(f"early stopping holds out {n_held} of the {n} samples (validation_fraction="
                             f"{fraction}), leaving {n - n_held} to train on, fewer than 2: give more samples, "
                             "a smaller validation_fraction or early_stopping=False")
        counts = np.bincount(y)
        counts = counts[counts > 0]
        stratified = counts.min() >= 2 and min(n_held, n - n_held) >= len(counts)
        train, held = train_test_split(np.arange(n), test_size=n_held, random_state=rng,
                                       stratify=y if stratified else None)
        return train, held

    def _train(self, X: NDArray[np.floating], y: NDArray[np.intp], weights: NDArray[np.float64] | None,
               epochs: int, continuing: bool, early: bool) -> MLPClassifier:
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(2**31 - 1))
        n_classes = len(self.classes_)
        if early:
            train, held = self._split(y, rng)
            for side, part in (("training", train), ("validation", held)):
                if weights is not None and not weights[part].sum() > 0:
                    weighed = np.flatnonzero(weights)
                    raise ValueError(f"early stopping's split gives every {side} sample a weight of zero (of "
                                     f"{len(y)} samples, only {len(weighed)}, of the classes "
                                     f"{self.classes_[np.unique(y[weighed])].tolist()}, weigh more): give more "
                                     "samples weight, a larger validation_fraction, or set early_stopping=False")
            data = TrainData(X[train], y[train], X[held], y[held], "validation", n_classes=n_classes,
                             w_train=None if weights is None else weights[train],
                             w_eval=None if weights is None else weights[held])
        else:
            data = TrainData(X, y, X[:EVAL_SAMPLES], y[:EVAL_SAMPLES], "training", n_classes=n_classes,
                             w_train=weights)
        config = self._config(len(data.x_train), epochs, seed, early)
        result: FitResult = fit(config, data, init_from=self.model_ if continuing else None,
                                callbacks=[_Progress(early)] if self.verbose else [])
        history = result.history
        self.model_: Sequential = result.model
        self.n_iter_ = len(history)
        self.loss_curve_: list[float] = (self.loss_curve_ if continuing else []) + [s.train_loss for s in history]
        if early:
            scores = [s.eval_accuracy for s in history]
            earlier = self.validation_scores_ if continuing and self.validation_scores_ is not None else []
            self.validation_scores_: list[float] | None = earlier + scores
            best = int(np.argmin([s.eval_loss for s in history]))   # the epoch early stopping keeps
            self.best_validation_score_: float | None = history[best].eval_accuracy
            self.best_loss_: float | None = None
        else:
            self.validation_scores_, self.best_validation_score_ = None, None
            self.best_loss_ = min(self.loss_curve_)
        self.stop_reason_ = result.stop_reason
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        x = np.asarray(validate_data(self, X, reset=False, dtype=[np.float64, np.float32]))
        return self.model_.predict_proba(x).astype(np.float64)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The most probable class of each sample, as one of ``classes_``."""
        check_is_fitted(self, "model_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class _Progress(Callback):
    """``verbose``: scikit-learn's MLP lines after each epoch (its training loss, and with early stopping the
    validation accuracy), and why training stopped."""

    def __init__(self, validation: bool) -> None:
        self.validation = validation

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        print(f"Iteration {epoch}, loss = {logs['train_loss']:.8f}")
        if self.validation:
            print(f"Validation score: {logs['eval_accuracy']:f}")

    def on_fit_end(self, logs: Logs) -> None:
        print(f"Stopped: {logs['stop_reason']}")

"""``MLPClassifier``: glassnet's network as a scikit-learn estimator, for any tabular data (the ``sklearn`` extra).

The same engine as ``glassnet train``: Linear → [BatchNorm] → activation → [Dropout] blocks, Adam,
the fused training step, early stopping with the best weights. The input width and the classes
come from the data; class labels may be any values scikit-learn accepts (strings included). Scale
the features first (a ``StandardScaler`` in a ``Pipeline``) as for any neural network.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from glassnet.nn.model import Sequential
from glassnet.train import FitResult, TrainData, fit

EVAL_SAMPLES = 256          # without early stopping, each epoch is evaluated on this many training samples


class MLPClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A multilayer perceptron classifier trained by glassnet.

    hidden: widths of the hidden layers. activation: their nonlinearity, one of
    ``glassnet.nn.layers.ACTIVATIONS`` ("relu", "leaky_relu", "gelu", "tanh", "sigmoid").
    epochs: passes over the data (the most, with early stopping). early_stopping: hold out
    ``validation_fraction`` of the data and stop after ``patience`` epochs without improvement of
    its loss, keeping the best epoch's weights. warm_start: ``fit`` continues from the weights of
    the previous ``fit``. random_state fixes the initial weights, dropout masks, shuffling and the
    validation split.

    Fitted: ``classes_``, ``n_features_in_``, ``model_`` (the ``Sequential``), ``n_iter_``
    (epochs run), ``loss_curve_`` (training loss per epoch), ``stop_reason_``.
    """

    def __init__(self, hidden: Sequence[int] = (100,), *, activation: str = "relu", dropout: float = 0.0,
                 batchnorm: bool = True, epochs: int = 200, batch_size: int = 200, lr: float = 1e-3,
                 weight_decay: float = 0.0, early_stopping: bool = False, validation_fraction: float = 0.1,
                 patience: int = 10, warm_start: bool = False,
                 random_state: int | np.random.RandomState | None = None, dtype: str = "float64") -> None:
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.batchnorm = batchnorm
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.warm_start = warm_start
        self.random_state = random_state
        self.dtype = dtype

    def _config(self, n_train: int, epochs: int, seed: int, early: bool) -> TrainConfig:
        return TrainConfig(hidden=tuple(int(w) for w in self.hidden), activation=self.activation,
                           dropout=float(self.dropout),
                           batchnorm=bool(self.batchnorm), epochs=int(epochs),
                           batch_size=max(2, min(int(self.batch_size), n_train)), lr=float(self.lr),
                           weight_decay=float(self.weight_decay), seed=seed, dtype=self.dtype,
                           early_stopping_patience=int(self.patience) if early else 0)

    def _validate(self, X: ArrayLike, y: ArrayLike, reset: bool) -> tuple[NDArray[np.floating], NDArray[Any]]:
        x, labels = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        check_classification_targets(labels)
        if len(x) < 2:
            raise ValueError(f"MLPClassifier needs at least 2 samples (batch norm estimates a variance over a "
                             f"batch), got {len(x)} sample; n_samples = 1 cannot be fitted")
        return np.asarray(x), np.asarray(labels)

    def fit(self, X: ArrayLike, y: ArrayLike) -> MLPClassifier:
        """Train on X (n_samples, n_features) and labels y; with ``warm_start``, from the previous weights."""
        continuing = self.warm_start and hasattr(self, "model_")
        X, y = self._validate(X, y, reset=not continuing)
        if continuing:
            self._check_labels(y)
        else:
            self.classes_ = LabelEncoder().fit(y).classes_
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs samples of at least 2 classes, got 1 class "
                                 f"({self.classes_[0]!r})")
        return self._train(X, np.searchsorted(self.classes_, y), int(self.epochs), continuing)

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None) -> MLPClassifier:
        """One epoch over X, y, from the current weights (``classes``, all the labels, on the first call).

        The optimizer's moments start afresh at each call; the weights carry over.
        """
        first = not hasattr(self, "model_")
        X, y = self._validate(X, y, reset=first)
        if first:
            if classes is None:
                raise ValueError("the first call to partial_fit needs classes=, every label there will be")
            self.classes_ = LabelEncoder().fit(np.asarray(classes)).classes_
        self._check_labels(y)
        return self._train(X, np.searchsorted(self.classes_, y), 1, continuing=not first, split=False)

    def _check_labels(self, y: NDArray[Any]) -> None:
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"labels {unknown[:5].tolist()} are not among the classes {self.classes_.tolist()}")

    def _train(self, X: NDArray[np.floating], y: NDArray[np.intp], epochs: int, continuing: bool,
               split: bool = True) -> MLPClassifier:
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(2**31 - 1))
        if self.early_stopping and split:
            stratify = y if np.bincount(y).min() >= 2 else None
            x_train, x_eval, y_train, y_eval = train_test_split(X, y, test_size=self.validation_fraction,
                                                                random_state=rng, stratify=stratify)
            eval_name = "validation"
        else:
            x_train, y_train, x_eval, y_eval, eval_name = X, y, X[:EVAL_SAMPLES], y[:EVAL_SAMPLES], "training"
        data = TrainData(x_train, y_train, x_eval, y_eval, eval_name, n_classes=len(self.classes_))
        config = self._config(len(x_train), epochs, seed, early=eval_name == "validation")
        result: FitResult = fit(config, data, init_from=self.model_ if continuing else None)
        self.model_: Sequential = result.model
        self.n_iter_ = len(result.history)
        self.loss_curve_ = [stats.train_loss for stats in result.history]
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

"""glassnet's MLPClassifier as scikit-learn users use it: the estimator checks, pipelines, searches, pickling."""

import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from glassnet.sklearn import MLPClassifier  # noqa: E402

# Checks that cannot apply, with the reason: none. (check_array_api_input skips itself unless the
# environment sets SCIPY_ARRAY_API=1: glassnet computes with NumPy only.)


@parametrize_with_checks([MLPClassifier(epochs=30, random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    return x, np.array(["setosa", "versicolor", "virginica"])[y]          # string labels


def test_string_labels_in_a_pipeline(iris):
    x, y = iris
    model = make_pipeline(StandardScaler(), MLPClassifier(hidden=(32,), epochs=60, lr=1e-2, random_state=0)).fit(x, y)
    assert set(model.predict(x)) <= {"setosa", "versicolor", "virginica"} and model.score(x, y) > 0.9
    assert model[-1].n_features_in_ == 4 and list(model[-1].classes_) == ["setosa", "versicolor", "virginica"]
    assert model.predict_proba(x).shape == (150, 3)


def test_cross_validation_and_a_parallel_grid_search_repeat_exactly(iris):
    x, y = iris
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(hidden=(16,), epochs=40, lr=1e-2, random_state=0))
    scores = cross_val_score(pipeline, x, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8

    def search():
        grid = GridSearchCV(pipeline, {"mlpclassifier__lr": [1e-3, 1e-2], "mlpclassifier__dropout": [0.0, 0.2]},
                            cv=3, n_jobs=2)
        return grid.fit(x, y)

    first, second = search(), search()
    assert first.best_params_ == second.best_params_
    np.testing.assert_array_equal(first.cv_results_["mean_test_score"], second.cv_results_["mean_test_score"])


def test_pickle_and_clone(iris):
    x, y = iris
    model = MLPClassifier(hidden=(8,), epochs=5, random_state=1).fit(x, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    fresh = clone(model)
    assert not hasattr(fresh, "model_") and fresh.get_params() == model.get_params()


def test_early_stopping_stops_and_keeps_the_best_weights():
    x, y = make_classification(n_samples=400, n_features=20, n_informative=5, flip_y=0.3, random_state=0)
    model = MLPClassifier(hidden=(256, 256), epochs=300, early_stopping=True, patience=5, random_state=0).fit(x, y)
    assert model.n_iter_ < 300 and model.stop_reason_.startswith("early stopping")


def test_warm_start_and_partial_fit_continue_from_the_weights(iris):
    x, y = iris
    model = MLPClassifier(hidden=(8,), epochs=3, warm_start=True, random_state=0).fit(x, y)
    before = model.model_.layers[0].weight.value.copy()
    model.fit(x, y)
    assert not np.array_equal(model.model_.layers[0].weight.value, before)
    assert model.loss_curve_[0] < MLPClassifier(hidden=(8,), epochs=3, random_state=0).fit(x, y).loss_curve_[0]
    incremental = MLPClassifier(hidden=(8,), batch_size=16, lr=1e-2, random_state=0)
    scores = []
    for _ in range(5):
        incremental.partial_fit(x, y, classes=np.unique(y))
        scores.append(incremental.score(x, y))
    assert incremental.n_iter_ == 1 and scores[-1] > 0.8 and scores[-1] > scores[0]
    with pytest.raises(ValueError, match="not among the classes"):
        incremental.partial_fit(x[:5], np.array(["rose"] * 5))


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "tanh", "sigmoid"])
def test_each_activation_learns_iris(iris, activation):
    x, y = iris
    model = make_pipeline(StandardScaler(), MLPClassifier(hidden=(16,), activation=activation, epochs=60, lr=1e-2,
                                                          random_state=0)).fit(x, y)
    assert model.score(x, y) > 0.85
    assert model[-1].model_.architecture["activation"] == activation


def test_an_unknown_activation_is_named():
    with pytest.raises(ValueError, match="'activation' must be one of"):
        MLPClassifier(activation="swish").fit([[0.0], [1.0]], [0, 1])

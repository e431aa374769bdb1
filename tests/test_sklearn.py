"""glassnet's MLPClassifier as scikit-learn users use it: the estimator checks, pipelines, searches, pickling."""

import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLP  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import glassnet.sklearn  # noqa: E402
from glassnet.sklearn import MLPClassifier  # noqa: E402
from glassnet.train import TrainData  # noqa: E402

# Checks that cannot apply, with the reason. (check_array_api_input skips itself unless the environment
# sets SCIPY_ARRAY_API=1: glassnet computes with NumPy only.)
CANNOT_APPLY = {
    "check_sample_weight_equivalence_on_dense_data":
        "a weight of 2 equals a repeated sample only for a deterministic solver (scikit-learn runs this check on "
        "its own MLP with lbfgs only); shuffled mini-batches and batch norm's batch statistics see repeated "
        "samples as more data",
}


@parametrize_with_checks([MLPClassifier(epochs=30, random_state=0),
                          MLPClassifier(epochs=30, early_stopping=True, random_state=0)],
                         expected_failed_checks=lambda estimator: CANNOT_APPLY)
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


def test_early_stopping_on_few_samples_of_many_classes_holds_out_a_plain_split():
    """9 of 90 samples held out cannot hold each of 10 classes (scikit-learn's split refuses): a plain split."""
    x, y = np.random.default_rng(0).normal(size=(90, 4)), np.repeat(np.arange(10), 9)
    model = MLPClassifier(hidden=(8,), epochs=3, early_stopping=True, random_state=0).fit(x, y)
    assert model.n_iter_ == 3 and len(model.validation_scores_) == 3
    one_of_a_kind = np.append(np.repeat([0, 1], 20), 2)                   # class 2 has a single sample
    MLPClassifier(hidden=(8,), epochs=2, early_stopping=True, random_state=0).fit(x[:41], one_of_a_kind)


def test_early_stopping_holds_out_a_stratified_split_when_every_class_can_be_in_it(iris, monkeypatch):
    held_out = []

    def record(*args, **kwargs):
        data = TrainData(*args, **kwargs)
        held_out.append(np.bincount(data.y_eval, minlength=3).tolist())
        return data

    monkeypatch.setattr(glassnet.sklearn, "TrainData", record)
    x, y = iris
    for seed in range(3):                          # a random 15 of 150 is 5 of each class 6% of the time
        MLPClassifier(hidden=(8,), epochs=1, early_stopping=True, random_state=seed).fit(x, y)
    assert held_out == [[5, 5, 5]] * 3


def test_early_stopping_on_too_few_samples_is_refused_in_one_line():
    with pytest.raises(ValueError, match="leaving 1 to train on, fewer than 2: give more samples, a smaller "
                                         "validation_fraction or early_stopping=False"):
        MLPClassifier(early_stopping=True).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match=r"validation_fraction must be in \(0, 1\), got 1.5"):
        MLPClassifier(early_stopping=True, validation_fraction=1.5).fit(np.eye(4), [0, 1, 0, 1])


def test_the_validation_record_and_verbose_lines(capsys):
    x, y = make_classification(n_samples=200, n_features=8, random_state=0)
    model = MLPClassifier(hidden=(16,), epochs=4, early_stopping=True, patience=50, verbose=True,
                          random_state=0).fit(x, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Iteration 1, loss = ") and lines[1].startswith("Validation score: ")
    assert len(lines) == 2 * 4 + 1 and lines[-1] == "Stopped: completed all epochs"
    assert [float(line.split()[-1]) for line in lines[1:-1:2]] == pytest.approx(model.validation_scores_, abs=1e-6)
    assert model.best_loss_ is None and model.best_validation_score_ in model.validation_scores_
    plain = MLPClassifier(hidden=(16,), epochs=4, random_state=0).fit(x, y)
    assert plain.best_loss_ == min(plain.loss_curve_) and plain.validation_scores_ is None
    assert plain.best_validation_score_ is None and capsys.readouterr().out == ""


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_and_partial_fit_keep_the_record_as_scikit_learn_does(iris):
    """loss_curve_ (and validation_scores_) run on over warm fits and partial fits; n_iter_ counts one call."""
    x, y = iris
    for options, sklearn_options in [({}, {}), ({"early_stopping": True}, {"early_stopping": True})]:
        ours = MLPClassifier(hidden=(8,), epochs=3, warm_start=True, patience=50, random_state=0, **options)
        theirs = SklearnMLP(hidden_layer_sizes=(8,), max_iter=3, warm_start=True, n_iter_no_change=50,
                            random_state=0, **sklearn_options)
        for model in (ours, theirs):
            model.fit(x, y)
            model.fit(x, y)
        assert (ours.n_iter_, len(ours.loss_curve_)) == (theirs.n_iter_, len(theirs.loss_curve_)) == (3, 6)
        assert (ours.validation_scores_ is None) == (theirs.validation_scores_ is None)
        if theirs.validation_scores_ is not None:
            assert len(ours.validation_scores_) == len(theirs.validation_scores_) == 6
        assert (ours.best_loss_ is None) == (theirs.best_loss_ is None)
    ours, theirs = MLPClassifier(hidden=(8,), random_state=0), SklearnMLP(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        for model in (ours, theirs):
            model.partial_fit(x, y, classes=np.unique(y))
    assert (ours.n_iter_, len(ours.loss_curve_)) == (theirs.n_iter_, len(theirs.loss_curve_)) == (1, 3)
    assert ours.best_loss_ == min(ours.loss_curve_)
    ours.fit(x, y)                                                           # no warm start: a new record
    assert len(ours.loss_curve_) == ours.n_iter_ == 200


def test_warm_start_and_partial_fit_continue_from_the_weights(iris):
    x, y = iris
    model = MLPClassifier(hidden=(8,), epochs=3, warm_start=True, random_state=0).fit(x, y)
    before = model.model_.layers[0].weight.value.copy()
    model.fit(x, y)
    assert not np.array_equal(model.model_.layers[0].weight.value, before)
    assert model.loss_curve_[3] < MLPClassifier(hidden=(8,), epochs=3, random_state=0).fit(x, y).loss_curve_[0]
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


@pytest.mark.parametrize("early_stopping", [False, True])
def test_sample_weights_of_one_train_the_unweighted_model_bit_for_bit(iris, early_stopping):
    x, y = iris
    options = dict(hidden=(16,), epochs=5, batch_size=32, dropout=0.2, early_stopping=early_stopping,
                   random_state=0, dtype="float32")
    plain = MLPClassifier(**options).fit(x, y)
    ones = MLPClassifier(**options).fit(x, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(ones.predict_proba(x), plain.predict_proba(x))
    assert ones.loss_curve_ == plain.loss_curve_ and ones.validation_scores_ == plain.validation_scores_


def test_sample_and_class_weights_steer_the_fit(iris):
    x, y = iris
    options = dict(hidden=(16,), epochs=20, lr=1e-2, random_state=0)
    weights = np.array([{"setosa": 1.0, "versicolor": 3.0, "virginica": 0.5}[label] for label in y])
    by_sample = MLPClassifier(**options).fit(x, y, sample_weight=weights)
    by_class = MLPClassifier(**options, class_weight={"versicolor": 3.0, "virginica": 0.5}).fit(x, y)
    np.testing.assert_array_equal(by_class.predict_proba(x), by_sample.predict_proba(x))
    assert by_class.loss_curve_ != MLPClassifier(**options).fit(x, y).loss_curve_
    # "balanced": n_samples / (n_classes · count), scikit-learn's formula
    keep = np.r_[0:50, 50:70, 100:110]                                   # 50, 20 and 10 samples
    balanced = MLPClassifier(**options, class_weight="balanced").fit(x[keep], y[keep])
    by_hand = np.array([80 / (3 * {"setosa": 50, "versicolor": 20, "virginica": 10}[label]) for label in y[keep]])
    weighted = MLPClassifier(**options).fit(x[keep], y[keep], sample_weight=by_hand)
    np.testing.assert_array_equal(balanced.predict_proba(x), weighted.predict_proba(x))
    ignored = MLPClassifier(**options, class_weight={"setosa": 0.0}).fit(x, y)   # what weighs 0 is not learnt
    assert not (ignored.predict(x[:50]) == "setosa").any()


@pytest.mark.parametrize("fit_args, options, message", [
    ({"sample_weight": [1.0, 2.0]}, {}, r"sample_weight must be 150 floats, one per sample, got .* shape \(2,\)"),
    ({"sample_weight": -np.ones(150)}, {}, "sample_weight must be finite and ≥ 0"),
    ({"sample_weight": np.zeros(150)}, {}, "give every sample a weight of zero"),
    ({}, {"class_weight": {"rose": 2.0}}, r"class_weight names \['rose'\], which are not among the classes"),
    ({}, {"class_weight": "even"}, "class_weight must be None, 'balanced' or a dict"),
    ({}, {"init": "zeros"}, "'init' must be one of"),
    ({}, {"schedule": "linear"}, "'schedule' must be one of"),
])
def test_bad_weights_and_options_are_named(iris, fit_args, options, message):
    x, y = iris
    with pytest.raises(ValueError, match=message):
        MLPClassifier(epochs=1, **options).fit(x, y, **fit_args)


def test_balanced_class_weights_are_refused_by_partial_fit(iris):
    x, y = iris
    with pytest.raises(ValueError, match="class_weight='balanced' counts the classes over all the data"):
        MLPClassifier(class_weight="balanced").partial_fit(x, y, classes=np.unique(y))


def test_partial_fit_with_early_stopping_set_trains_on_all_it_is_given(iris):
    x, y = iris
    model = MLPClassifier(hidden=(8,), early_stopping=True, random_state=0).partial_fit(x, y, classes=np.unique(y))
    assert model.n_iter_ == 1 and model.validation_scores_ is None


def test_the_initialization_is_a_parameter(iris):
    x, y = iris
    first_layers = {init: MLPClassifier(hidden=(64,), init=init, epochs=1, lr=1e-6, batchnorm=False,
                                        random_state=0).fit(x, y).model_.layers[0].weight.value
                    for init in ("he_normal", "glorot_uniform")}
    limit = np.sqrt(6 / (4 + 64))                                         # Glorot's uniform bound
    assert np.abs(first_layers["glorot_uniform"]).max() <= limit + 1e-4 < np.abs(first_layers["he_normal"]).max()

"""The labs: each runs on any digits and returns finite figures of the shape it promises, predictions are
read and compared, the backward bugs really are wrong gradients that still train, and ``glassnet learn lab``
lists, asks, runs and explains, with one-line errors."""

import dataclasses
import io
import math
import re

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.data.mnist import load_mnist
from glassnet.learn.labs import LABS, Choice, LabData, Number, subset
from glassnet.learn.labs.backward_bug import InvertedReLU, RedrawnDropout, checked, network, suspects
from glassnet.learn.labs.show import ask, reveal, run
from glassnet.nn.gradcheck import check_layer
from glassnet.nn.layers import Dropout, ReLU
from tests.mnist_fixtures import write_mnist_folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> LabData:
    """300 training and 100 test synthetic digits (a bar per class), read as the labs read MNIST."""
    return subset(load_mnist(write_mnist_folder(tmp_path_factory.mktemp("mnist"), 300, 100), download=False))


@pytest.fixture(scope="module")
def results(tiny):
    return {name: lab.run(tiny) for name, lab in LABS.items()}


def numbers(value):
    """Every number in nested dicts and lists."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


STEPS = math.ceil(300 / 128)                  # training steps in one epoch of the tiny set
SHAPES = {                                    # lab → figures → the shapes its figures promise
    "eval-mode": lambda f: (len(f["batch_sizes"]), len(f["training_mode_accuracy"])) == (6, 6),
    "dropout-scale": lambda f: sorted(f) == ["as trained", "test-time scale wrong"],
    "adam-bias": lambda f: len(f) == 4 and all(len(v["step_sizes"]) == STEPS for v in f.values()),
    "init": lambda f: len(f) == 4 and all(len(stds) == 8 for stds in f.values()),
    "learning-rate": lambda f: sorted(f) == ["0.001", "0.01", "0.1", "1"],
    "bias-before-batchnorm": lambda f: f["bias_grad"] < f["beta_grad"],
    "batchnorm": lambda f: [len(f["accuracy"]["on"]), len(f["accuracy"]["off"]), len(f["lead_points"])] == [4, 4, 4],
    "softmax-float16": lambda f: sorted(f, key=float) == ["5", "10", "12", "20", "100"],
    "backward-bug": lambda f: all(len(v["losses"]) == 3 * STEPS for v in f.values()),
}


@pytest.mark.parametrize("name", sorted(LABS))
def test_every_lab_runs_on_any_digits_and_returns_finite_figures_of_its_promised_shape(results, name):
    lab, result = LABS[name], results[name]
    assert SHAPES[name](result.figures)
    figures = {k: v for k, v in result.figures.items()} if name != "softmax-float16" else {
        top: v["shifted"] for top, v in result.figures.items()}        # the naive softmax's NaN is the point
    assert numbers(figures) and all(math.isfinite(n) for n in numbers(figures))
    assert result.lines and all(isinstance(line, str) for line in result.lines)
    if isinstance(lab.predict, Number):
        assert math.isfinite(result.answer)
    else:
        assert result.answer in lab.predict.options


def test_every_lab_in_the_list_and_every_one_once():
    assert set(SHAPES) == set(LABS)
    assert len({lab.title for lab in LABS.values()}) == len(LABS)


@pytest.mark.parametrize("name", sorted(LABS))
def test_the_page_asks_first_and_folds_the_answer(results, name):
    lab, result = LABS[name], results[name]
    question = ask(lab)._repr_markdown_()
    assert lab.question in question and "def run(" in question
    folded = reveal(lab, result, None)._repr_markdown_()
    assert folded.startswith("<details") and folded.rstrip().endswith("</details>")
    assert "\n\n" not in folded                              # a blank line would end Markdown's HTML block
    assert "no prediction was made" in folded and ("<img" in folded) == (lab.draw is not None)
    assert result.lines[0].split()[0] in folded


def test_a_prediction_that_does_not_parse_fails_before_the_lab_runs(tiny):
    def never(data):
        raise AssertionError("the lab ran before its prediction was read")

    lab = dataclasses.replace(LABS["eval-mode"], run=never)
    with pytest.raises(ValueError, match="expected a test accuracy in %"):
        run(lab, tiny, "most of them")


def test_the_inference_accuracy_is_measured_before_training_mode_moves_the_running_statistics(rng):
    from glassnet.learn.labs.data import reference_network

    noise = LabData(rng.random((300, 784), dtype=np.float32), rng.integers(0, 10, 300),
                    rng.random((200, 784), dtype=np.float32), rng.integers(0, 10, 200))   # answers that move easily
    fresh = reference_network(noise)
    expected = (fresh.predict(noise.x_test) == noise.y_test).mean()
    assert LABS["eval-mode"].run(noise).figures["inference_accuracy"] == expected


def test_a_prediction_is_compared_with_the_measurement(results):
    lab = LABS["eval-mode"]
    measured = results["eval-mode"].answer
    line = lab.compare(lab.parse(f"{measured - 10}"), results["eval-mode"])
    assert f"measured {measured:.3g}%" in line and "10 above it" in line
    assert "as you said" in LABS["softmax-float16"].compare("NaN", results["softmax-float16"])
    assert "“NaN”" in reveal(LABS["softmax-float16"], results["softmax-float16"], 2)._repr_markdown_()


@pytest.mark.parametrize(("text", "expected"), [
    ("2", "NaN"),
    ("nan", "NaN"),
    ("  The Right ", "the right probabilities"),
    ("all zeros", "all zeros"),
])
def test_a_choice_is_read_from_its_number_or_its_words(text, expected):
    assert Choice(("the right probabilities", "NaN", "inf", "all zeros")).parse(text) == expected


@pytest.mark.parametrize("text", ["5", "0", "", "the", "maybe"])
def test_a_choice_that_names_no_option_or_two_is_refused_with_the_options(text):
    with pytest.raises(ValueError, match=r"\(1\) the right.*\(2\) the rest"):
        Choice(("the right one", "the rest")).parse(text)


def test_options_that_are_numbers_are_given_as_numbers_not_by_position():
    rates = Choice(("0.001", "0.01", "0.1", "1"))
    assert [rates.parse(t) for t in ("1", "1e-3", "0.10")] == ["1", "0.001", "0.1"]
    with pytest.raises(ValueError, match=re.escape("one of 0.001, 0.01, 0.1, 1")):
        rates.parse("2")


@pytest.mark.parametrize(("text", "expected"), [("85", 85.0), ("85.5 %", 85.5), ("-3", -3.0), ("1e1", 10.0)])
def test_a_number_is_read_with_or_without_its_unit(text, expected):
    assert Number("a test accuracy in %", "%", "85").parse(text) == expected


@pytest.mark.parametrize("text", ["eighty", "nan", "inf", "85 points"])
def test_what_is_not_a_finite_number_is_refused_saying_what_was_expected(text):
    with pytest.raises(ValueError, match=re.escape("expected a test accuracy in %, e.g. 85")):
        Number("a test accuracy in %", "%", "85").parse(text)


def test_an_empty_prediction_is_no_prediction():
    assert LABS["eval-mode"].parse("  ") is None


# The backward-bug lab: the bugs are real gradient errors, caught by check_model, and located.

@pytest.mark.parametrize("layer", [InvertedReLU(), RedrawnDropout(0.5, rng=np.random.default_rng(0))])
def test_each_buggy_layer_backward_differs_from_the_true_gradient(layer, rng):
    assert not check_layer(layer, rng.standard_normal((8, 5)), rng=rng).passed()


@pytest.mark.parametrize("layer", [ReLU(), Dropout(0.5, rng=np.random.default_rng(0))])
def test_the_correct_layers_pass_the_same_check(layer, rng):
    assert check_layer(layer, rng.standard_normal((8, 5)), rng=rng).passed()


def test_check_model_passes_the_correct_network_and_fails_each_bug_below_it():
    assert checked(network(ReLU, Dropout, (6, 5, 3), dtype=np.float64)).passed()
    for relu, dropout in ((InvertedReLU, Dropout), (ReLU, RedrawnDropout)):
        model = network(relu, dropout, (6, 5, 3), dtype=np.float64)
        report = checked(model)
        failing = [row.name for row in report.rows if not type(report)([row]).passed()]
        assert failing == ["0.weight", "0.bias", "input"]          # the last layer, above the bug, passes
        assert suspects(model, failing) == f"layer 1 ({relu.__name__}) or layer 2 ({dropout.__name__})"


def test_the_backward_bug_lab_reports_both_bugs_and_the_correct_pass(results):
    figures = results["backward-bug"].figures
    assert figures["correct backward"]["check_passed"]
    assert not figures["ReLU mask inverted"]["check_passed"] and not figures["dropout mask redrawn"]["check_passed"]
    assert all(v["finite"] for v in figures.values())
    assert "FAIL in 0.weight, 0.bias, input" in "\n".join(results["backward-bug"].lines)


@pytest.mark.slow
def test_on_mnist_the_correct_backward_beats_both_bugs_and_every_run_is_finite(mnist_dir):
    result = LABS["backward-bug"].run(subset(load_mnist(mnist_dir, download=False)))
    accuracy = {name: v["accuracy"] for name, v in result.figures.items()}
    assert all(v["finite"] for v in result.figures.values())
    assert accuracy["correct backward"] > accuracy["ReLU mask inverted"] + 0.05
    assert accuracy["correct backward"] > accuracy["dropout mask redrawn"]
    assert result.answer == "it trains, to a worse model"


# The command line.

def test_the_cli_lists_every_lab_with_its_question(capsys):
    assert main(["learn", "lab"]) == 0
    out = capsys.readouterr().out
    assert all(f"{lab.name}: {lab.title}" in out for lab in LABS.values())
    assert "Float16's largest number is 65,504" in out


def test_the_cli_reads_the_prediction_from_stdin_asking_again_until_it_parses(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("maybe\nnan\n"))
    assert main(["learn", "lab", "softmax-float16"]) == 0
    captured = capsys.readouterr()
    assert "expected one of: (1) the right probabilities" in captured.err
    assert "you predicted “NaN”; measured: “NaN” (as you said)" in captured.out
    assert "What to look for in a real run:" in captured.out


@pytest.mark.parametrize("stdin", ["", "\n"])
def test_closed_stdin_or_an_empty_line_is_no_prediction(capsys, monkeypatch, stdin):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["learn", "lab", "softmax-float16"]) == 0
    assert "no prediction was made" in capsys.readouterr().out


def test_the_cli_takes_the_prediction_as_a_flag_and_runs_on_the_data_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("should not be read\n"))
    folder = write_mnist_folder(tmp_path / "mnist", 300, 100)
    assert main(["learn", "lab", "init", "--prediction", "8", "--data-dir", str(folder), "--no-download"]) == 0
    out = capsys.readouterr().out
    assert "your prediction: 8.0" in out and "on 300 training and 100 test digits" in out
    assert "you predicted 8; measured" in out and "He: N(0, 2/fan_in)" in out


def test_an_unknown_lab_is_one_line_naming_the_labs(capsys):
    assert main(["learn", "lab", "nope"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if not line.startswith("usage:")] == [
        f"glassnet learn: error: no lab named 'nope'; the labs are {', '.join(LABS)}"]


def test_a_prediction_flag_that_does_not_parse_is_a_usage_error(capsys):
    assert main(["learn", "lab", "backward-bug", "--prediction", "explodes"]) == 2
    err = capsys.readouterr().err
    assert "glassnet learn: error: --prediction: expected one of: (1) it crashes" in err and "Traceback" not in err


def test_a_missing_data_folder_is_one_line_before_any_prediction_is_asked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))       # no fallback to real MNIST anywhere
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("50\n"))
    assert main(["learn", "lab", "eval-mode", "--data-dir", str(tmp_path), "--no-download"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("glassnet learn: error: ") and "Traceback" not in captured.err

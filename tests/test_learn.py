"""The workbook: the untouched stubs fail helpfully, the docs' solutions pass, and each classic mistake,
planted in a solution, is named as that mistake."""

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.errors import GlassnetError
from glassnet.learn import EXERCISES, check, format_results, start
from tests.learn_helpers import solutions, solved_workbook


def test_every_exercise_has_a_solution_in_the_docs():
    assert sorted(solutions()) == sorted(e.name for e in EXERCISES)


def test_the_untouched_workbook_fails_every_exercise_with_what_to_write(tmp_path):
    start(tmp_path / "wb")
    results = check(tmp_path / "wb")
    assert {r.exercise for r in results} == {e.name for e in EXERCISES}
    assert not any(r.passed for r in results)
    assert all(r.message.startswith("not implemented yet: ") and len(r.message) > 40 for r in results)
    assert "0 of 9 exercises pass" in format_results(results)


def test_the_docs_solutions_pass_every_check(tmp_path):
    results = check(solved_workbook(tmp_path / "wb"))
    assert [r for r in results if not r.passed] == []
    assert len(results) >= 25


MISTAKES = [
    # (exercise, text in the solution, the mistake, what the check must say)
    ("softmax_cross_entropy", "return float(loss), grad / n", "return float(loss), grad", "factor of N"),
    ("softmax_cross_entropy", "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits",
     "Subtract each row's max"),
    ("softmax_cross_entropy", "loss = -log_p[rows, labels].mean()", "loss = -log_p[rows, labels].sum()",
     "the sum over the batch"),
    ("linear", "self.bias.grad = grad_out.sum(axis=0)", "self.bias.grad = grad_out.mean(axis=0)",
     "too small by a factor of N"),
    ("linear", "self.weight.grad = self.x.T @ grad_out", "self.weight.grad = grad_out.T @ self.x", "transposed"),
    ("linear", "self.weight.grad = self.x.T @ grad_out", "self.weight.grad += self.x.T @ grad_out", "accumulated"),
    ("relu", "return np.where(self.active, grad_out, 0)",
     "grad_out[~self.active] = 0\n        return grad_out", "changed its argument"),
    ("relu", "self.active = x > 0", "self.active = x >= 0", "at x = 0 the gradient is 0"),
    ("dropout", "self.mask = keep / (1.0 - self.p)", "self.mask = keep * 1.0", "not rescaled"),
    ("dropout", "keep = self.rng.random(x.shape) >= self.p", "keep = self.rng.random(x.shape) < self.p",
     "probability of *dropping*"),
    ("dropout", "keep = self.rng.random(x.shape) >= self.p", "keep = np.random.random(x.shape) >= self.p",
     "layer's generator"),
    ("batchnorm", "mean, var = x.mean(axis=0), x.var(axis=0)", "mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)",
     "unbiased variance"),
    ("batchnorm", "m * var * n / (n - 1)", "m * var", "unbiased σ² · N/(N − 1)"),
    ("batchnorm", "(n * grad_out - self.beta.grad - x_hat * self.gamma.grad)", "(n * grad_out - self.beta.grad)",
     "x̂ · Σ(G x̂) term is missing"),
    ("batchnorm", "(n * grad_out - self.beta.grad - x_hat * self.gamma.grad)",
     "(n * grad_out - x_hat * self.gamma.grad)", "Σ G term is missing"),
    ("batchnorm", "training, x_hat, inv_std = self.cache",
     "_, x_hat, inv_std = self.cache\n        training = self.training", "mode of its forward"),
    ("batchnorm_graph", "var = ((x - mu) ** 2).mean(axis=0)", "var = ((x - mu) ** 2).sum(axis=0) / (len(x) - 1)",
     "unbiased variance"),
    ("batchnorm_graph", " + dmu / n", "", "Σ G term is missing"),
    ("adam", "m_hat = m / (1 - beta1 ** self.t)", "m_hat = m", "bias correction of m is missing"),
    ("adam", "v_hat = v / (1 - beta2 ** self.t)", "v_hat = v", "bias correction of v is missing"),
    ("scalar_graph", "df_dv = 2 * v", "df_dv = v", "factor 2 is missing"),
    ("scalar_graph", "df_da = df_du * b", "df_da = df_du * a", "the other factor of the product"),
    ("init", "np.sqrt(2.0 / fan_in)", "np.sqrt(1.0 / fan_in)", "variance 1/fan_in"),
]


@pytest.mark.parametrize("exercise, old, new, named", MISTAKES, ids=[f"{m[0]}: {m[3]}" for m in MISTAKES])
def test_a_planted_mistake_is_named(tmp_path, exercise, old, new, named):
    results = check(solved_workbook(tmp_path / "wb", plant=(exercise, old, new)), [exercise])
    failed = [r for r in results if not r.passed]
    assert failed, f"the mistake passed every check of {exercise}"
    assert named in failed[0].message, failed[0].message


@pytest.mark.parametrize("exercise, wrong", [
    ("linear", ("return grad_out @ self.weight.value.T", "return grad_out @ self.weight.value.T * 1.01")),
    ("batchnorm", ("self.gamma.grad = (grad_out * x_hat).sum(axis=0)", "self.gamma.grad = grad_out.sum(axis=0)")),
    ("softmax_cross_entropy", ("grad[rows, labels] -= 1.0", "grad[rows, labels] -= 0.99")),
])
def test_an_unrecognised_mistake_still_fails_and_says_which_tensor(tmp_path, exercise, wrong):
    results = check(solved_workbook(tmp_path / "wb", plant=(exercise, *wrong)), [exercise])
    failed = [r for r in results if not r.passed]
    assert failed and any(s in failed[0].message for s in ("∂L/∂", "wrong"))


def test_a_file_that_does_not_import_is_reported_with_its_line(tmp_path):
    folder = solved_workbook(tmp_path / "wb")
    (folder / "relu.py").write_text("def broken(:\n")
    [result] = check(folder, ["relu"])
    assert not result.passed and "SyntaxError" in result.message and "line 1" in result.message


def test_start_never_overwrites(tmp_path):
    folder = tmp_path / "wb"
    folder.mkdir()
    (folder / "linear.py").write_text("my own work\n")
    with pytest.raises(GlassnetError, match=r"already holds linear\.py"):
        start(folder)
    assert (folder / "linear.py").read_text() == "my own work\n"
    assert sorted(p.name for p in folder.iterdir()) == ["linear.py"]


def test_learn_cli(tmp_path, capsys):
    folder = tmp_path / "wb"
    assert main(["learn", "start", str(folder)]) == 0
    assert "glassnet learn check" in capsys.readouterr().out
    assert main(["learn", "check", str(folder), "relu"]) == 1
    out = capsys.readouterr().out
    assert "relu" in out and "FAIL" in out and "0 of 1 exercises pass" in out
    solved_workbook(tmp_path / "solved")
    assert main(["learn", "check", str(tmp_path / "solved")]) == 0
    assert "9 of 9 exercises pass" in capsys.readouterr().out
    assert main(["learn", "check", str(folder), "nonsense"]) == 1
    assert "no exercise named nonsense" in capsys.readouterr().err
    assert main(["learn", "start", str(folder)]) == 1


def test_learn_train_with_the_solutions_reaches_glassnets_accuracy(tmp_path):
    from glassnet.learn.side_by_side import train_side_by_side
    from tests.mnist_fixtures import synthetic_digits

    images, labels = synthetic_digits(700, 5)
    x = images.reshape(700, 784) / 255.0
    rows = train_side_by_side(solved_workbook(tmp_path / "wb"), x[:500], labels[:500], x[500:], labels[500:],
                              epochs=4, batch_size=50)
    assert rows[-1].glassnet_accuracy > 0.8                            # the data can be learned …
    assert abs(rows[-1].yours_accuracy - rows[-1].glassnet_accuracy) <= 0.03    # … and the solutions learn it


def test_learn_train_with_a_broken_layer_does_not_learn(tmp_path):
    from glassnet.learn.side_by_side import train_side_by_side
    from tests.mnist_fixtures import synthetic_digits

    images, labels = synthetic_digits(700, 5)
    x = images.reshape(700, 784) / 255.0
    folder = solved_workbook(tmp_path / "wb", plant=("softmax_cross_entropy", "grad[rows, labels] -= 1.0",
                                                     "grad[rows, labels] += 1.0"))
    rows = train_side_by_side(folder, x[:500], labels[:500], x[500:], labels[500:], epochs=4, batch_size=50)
    assert rows[-1].yours_accuracy < rows[-1].glassnet_accuracy - 0.1


def test_learn_train_names_an_unwritten_workbook(tmp_path):
    from glassnet.learn.side_by_side import train_side_by_side

    start(tmp_path / "wb")
    x = np.random.default_rng(0).random((20, 784))
    with pytest.raises(GlassnetError, match="not written yet"):
        train_side_by_side(tmp_path / "wb", x, np.arange(20) % 10, x, np.arange(20) % 10, epochs=1)


@pytest.mark.slow
def test_learn_train_on_an_mnist_subset(tmp_path, mnist_dir, capsys):
    solved_workbook(tmp_path / "wb")
    assert main(["learn", "train", str(tmp_path / "wb"), "--data-dir", str(mnist_dir), "--epochs", "2",
                 "--train-size", "5000", "--test-size", "1000"]) == 0
    out = capsys.readouterr().out
    yours, theirs = (float(v) for v in __import__("re").findall(r"reach ([\d.]+)%, glassnet's ([\d.]+)%", out)[0])
    assert theirs > 85 and abs(yours - theirs) < 2

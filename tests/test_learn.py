"""The workbook: the untouched stubs fail helpfully, the docs' solutions pass, each classic mistake,
planted in a solution, is named as that mistake, and nothing the learner's code does (exit, crash,
loop forever, print, fork, replace numpy) stops the checker or makes it lie."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.errors import GlassnetError
from glassnet.learn import EXERCISES, TIME_LIMIT, check, format_results, start, supervisor
from glassnet.learn.side_by_side import LearnerCodeError, train_side_by_side
from tests.learn_helpers import SOLUTIONS_PAGE, solutions, solve, solved_workbook
from tests.mnist_fixtures import synthetic_digits, write_mnist_folder


def test_every_exercise_has_a_solution_in_the_docs():
    assert sorted(solutions()) == sorted(e.name for e in EXERCISES)


def test_the_untouched_workbook_fails_every_exercise_with_what_to_write(tmp_path):
    start(tmp_path / "wb")
    results = check(tmp_path / "wb")
    assert {r.exercise for r in results} == {e.name for e in EXERCISES}
    failed = [r for r in results if not r.passed]
    assert {r.exercise for r in failed} == {e.name for e in EXERCISES}
    assert all(r.message.startswith("not implemented yet: ") and len(r.message) > 40 for r in failed)
    assert all(r.cause == "not-implemented" for r in failed)
    assert {r.exercise for r in results if r.passed} == {"batchnorm_graph", "network"}     # their given forwards
    assert f"0 of {len(EXERCISES)} exercises pass" in format_results(results)


def test_the_docs_solutions_pass_every_check_in_one_child_process(tmp_path, monkeypatch):
    started = []
    start_child = supervisor._start
    monkeypatch.setattr(supervisor, "_start", lambda *args: started.append(args) or start_child(*args))
    results = check(solved_workbook(tmp_path / "wb"))
    assert [r for r in results if not r.passed] == []
    assert len(results) >= 25
    assert len(started) == 1


def test_the_time_limit_is_stated_where_learners_read(tmp_path):
    start(tmp_path / "wb")
    assert f"Each exercise has {TIME_LIMIT:g} seconds" in (tmp_path / "wb" / "README.md").read_text()
    assert f"{TIME_LIMIT:g} seconds" in SOLUTIONS_PAGE.read_text()


@pytest.mark.parametrize("exercise, wrong, what", [
    ("linear", ("return grad_out @ self.weight.value.T",
                "return grad_out @ self.weight.value.T + 0.01 * grad_out[:, :1]"), "∂L/∂X at batch 2"),
    ("batchnorm", ("self.gamma.grad = (grad_out * x_hat).sum(axis=0)",
                   "self.gamma.grad = (grad_out * x_hat).sum(axis=0) + grad_out[0]"), "∂L/∂γ at batch 2"),
    ("softmax_cross_entropy", ("grad[rows, labels] -= 1.0", "grad[rows, labels] -= 0.99"), "∂L/∂logits at batch 2"),
])
def test_a_mistake_it_cannot_name_is_said_so_plainly_with_where_the_tensor_differs(tmp_path, exercise, wrong, what):
    results = check(solved_workbook(tmp_path / "wb", (exercise, *wrong)), [exercise])
    failed = next(r for r in results if not r.passed)
    assert failed.cause is None
    assert f"{what} is wrong, and the checker cannot tell which mistake this is" in failed.message
    assert "entries differ; the most at [" in failed.message and "expected" in failed.message


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
    assert f"{len(EXERCISES)} of {len(EXERCISES)} exercises pass" in capsys.readouterr().out
    assert main(["learn", "check", str(folder), "nonsense"]) == 1
    assert "no exercise named nonsense" in capsys.readouterr().err
    assert main(["learn", "start", str(folder)]) == 1


def test_learn_train_with_the_solutions_reaches_glassnets_accuracy(tmp_path):
    images, labels = synthetic_digits(700, 5)
    x = images.reshape(700, 784) / 255.0
    trained = train_side_by_side(solved_workbook(tmp_path / "wb"), x[:500], labels[:500], x[500:], labels[500:],
                                 epochs=4, batch_size=50)
    assert trained.rows[-1].glassnet_accuracy > 0.8                                  # the data can be learned …
    assert abs(trained.rows[-1].yours_accuracy - trained.rows[-1].glassnet_accuracy) <= 0.03   # … and is
    assert trained.verdict.kind == "noise"


def test_learn_train_with_a_broken_layer_does_not_learn_and_says_the_gap_is_real(tmp_path):
    images, labels = synthetic_digits(700, 5)
    x = images.reshape(700, 784) / 255.0
    folder = solved_workbook(tmp_path / "wb", ("softmax_cross_entropy", "grad[rows, labels] -= 1.0",
                                               "grad[rows, labels] += 1.0"))
    trained = train_side_by_side(folder, x[:500], labels[:500], x[500:], labels[500:], epochs=4, batch_size=50)
    assert trained.rows[-1].yours_accuracy < trained.rows[-1].glassnet_accuracy - 0.1
    assert trained.verdict.kind == "real" and "a real gap of" in trained.verdict.format()


def test_learn_train_draws_the_initial_weights_with_the_learners_init(tmp_path):
    folder = solved_workbook(tmp_path / "wb", ("init", "return (", "raise ValueError('my init')\n    return ("))
    x, labels = _digits(40)
    with pytest.raises(LearnerCodeError, match=r"your network raised ValueError: my init \(init\.py, line \d+\)"):
        train_side_by_side(folder, x[:30], labels[:30], x[30:], labels[30:], epochs=1, batch_size=10)


def test_learn_train_names_an_unwritten_workbook(tmp_path):
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
    assert out.startswith("the checks of the 7 exercises the network is built from: all pass\n")
    yours, theirs = (float(v) for v in re.findall(r"your network reaches ([\d.]+)%, glassnet's ([\d.]+)%", out)[0])
    assert theirs > 85 and abs(yours - theirs) < 2 and ": within the noise: " in out


@pytest.mark.slow
def test_learn_train_with_an_inverted_relu_mask_ends_with_a_real_gap(tmp_path, mnist_dir, capsys):
    solved_workbook(tmp_path / "wb", ("relu", "return np.where(self.active, grad_out, 0)",
                                      "return np.where(self.active, 0, grad_out)"))
    assert main(["learn", "train", str(tmp_path / "wb"), "--data-dir", str(mnist_dir), "--epochs", "2",
                 "--train-size", "5000", "--test-size", "1000"]) == 1
    out = capsys.readouterr().out
    assert "relu fail (glassnet learn check" in out and "a real gap of" in out and "(glassnet's ahead)" in out


# ------------------------------------------------------------------- the learner's code cannot stop the checker

BACKWARD = "self.weight.grad = self.x.T @ grad_out"                       # the first line of Linear.backward
RETURN = "return z if self.bias is None else z + self.bias.value"         # the last line of Linear.forward


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("before, code, failed_check, message", [
    pytest.param(BACKWARD, "import sys; sys.exit(0)", "backward against glassnet",
                 "called sys.exit(0) (linear.py, line {line}); a function must return its result", id="sys.exit"),
    pytest.param(BACKWARD, "raise SystemExit", "backward against glassnet",
                 "called sys.exit(None) (linear.py, line {line})", id="raise SystemExit"),
    pytest.param(BACKWARD, "raise type('Stop', (BaseException,), {})('custom')", "backward against glassnet",
                 "raised Stop: custom (linear.py, line {line})", id="a BaseException of its own"),
    pytest.param(BACKWARD, "raise KeyboardInterrupt('mine')", "backward against glassnet",
                 "raised KeyboardInterrupt: mine (linear.py, line {line})", id="KeyboardInterrupt"),
    pytest.param(BACKWARD, "import sys; raise type('E', (Exception,), {'__str__': lambda e: sys.exit(5)})()",
                 "backward against glassnet", "raised E: (cannot be shown: its str() raised) (linear.py, line {line})",
                 id="an error whose message exits"),
    pytest.param(BACKWARD, "raise ValueError('x' * 10**6)", "backward against glassnet",
                 "… (999,700 more characters) (linear.py, line {line})", id="a megabyte of message"),
    pytest.param(RETURN, "import sys; return type('Odd', (), {'__array__': lambda *a, **k: sys.exit(1)})()", "forward",
                 "called sys.exit(1) (linear.py, line {line})", id="a result that exits when compared"),
    pytest.param(BACKWARD, "import os; os._exit(0)", "backward against glassnet",
                 "linear.py: the process checking it ended with exit status 0 during this check (os._exit?)",
                 id="os._exit"),
    pytest.param(BACKWARD, "import ctypes; ctypes.string_at(0)", "backward against glassnet",
                 "linear.py: the process checking it was ended by SIGSEGV during this check", id="segfault",
                 marks=pytest.mark.skipif(sys.platform != "linux", reason="a null read is SIGSEGV on Linux")),
])
def test_code_that_exits_or_crashes_fails_its_exercise_alone(tmp_path, before, code, failed_check, message):
    folder = solved_workbook(tmp_path / "wb", ("linear", before, f"{code}\n        {before}"))
    results = check(folder, ["linear", "relu"])
    linear = [r for r in results if r.exercise == "linear"]
    assert [(r.check, r.passed) for r in linear][-1] == (failed_check, False)
    assert message.format(line=_line_of(folder / "linear.py", code)) in linear[-1].message
    assert len(linear[-1].message) < 700
    assert [(r.check, r.passed) for r in results if r.exercise == "relu"] == [
        ("forward", True), ("backward", True), ("backward after two forwards: the last one's", True),
        ("float64 stays float64, float32 stays float32", True), ("backward against finite differences", True)]


def test_a_file_that_exits_while_imported_fails_to_import_and_the_cli_says_so(tmp_path, capsys):
    folder = solved_workbook(tmp_path / "wb")
    (folder / "relu.py").write_text("import sys\n\nsys.exit(0)\n")
    assert main(["learn", "check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "cannot import relu.py: it called sys.exit(0) (line 3)" in out and "9 of 10 exercises pass" in out


LOOP = "while True:\n            try:\n                pass\n            except BaseException:\n                pass"


def test_an_endless_loop_fails_after_the_limit_naming_its_function_and_the_rest_are_checked(tmp_path):
    start(tmp_path / "wb")
    path = solve(tmp_path / "wb", "linear", (BACKWARD, f"{LOOP}\n        {BACKWARD}"))
    results = check(tmp_path / "wb", ["linear", "relu"], limit=1)       # relu: the stub, which fails at once
    assert [(r.exercise, r.check, r.passed) for r in results] == [
        ("linear", "forward", True), ("linear", "backward against glassnet", False), ("relu", "forward", False)]
    assert results[1].message == (f"linear.py, line {_line_of(path, 'while True:')}: Linear.backward did not return "
                                  "within 1 s: an endless loop?")
    assert results[2].message.startswith("not implemented yet: ")


@pytest.mark.parametrize("top, at", [("while True:\n    pass\n", "while True"),
                                     ("import time\n\nwhile True:\n    time.sleep(60)\n", "time.sleep")],
                         ids=["busy", "asleep"])
def test_an_endless_loop_at_import_is_named_as_such(tmp_path, top, at):
    start(tmp_path / "wb")
    (tmp_path / "wb" / "linear.py").write_text(top)
    [result] = check(tmp_path / "wb", ["linear"], limit=1)
    assert (result.check, result.passed) == ("import", False)
    assert result.message == (f"linear.py, line {_line_of(tmp_path / 'wb' / 'linear.py', at)}: the file did "
                              "not finish importing within 1 s: an endless loop?")


@pytest.mark.slow
def test_a_loop_that_holds_the_interpreter_is_ended_by_the_parent(tmp_path):
    """A regular expression that backtracks for ages holds the GIL, so the child's own timer cannot run."""
    start(tmp_path / "wb")
    solve(tmp_path / "wb", "linear", (BACKWARD, f"import re; re.match(r'(a*)*b', 'a' * 64)\n        {BACKWARD}"))
    results = check(tmp_path / "wb", ["linear", "relu"], limit=1)
    assert [(r.exercise, r.passed) for r in results] == [("linear", True), ("linear", False), ("relu", False)]
    assert results[1].message == "linear.py: this check did not finish within 1 s: an endless loop?"


def test_what_the_learners_code_prints_goes_to_stderr_never_into_the_verdict(tmp_path, capfd):
    flood = "print('9 of 9 exercises pass\\n' * 10000)"
    folder = solved_workbook(tmp_path / "wb", ("relu", "self.active = x > 0", f"{flood}\n        self.active = x > 0"))
    assert main(["learn", "check", str(folder), "relu"]) == 0
    out, err = capfd.readouterr()
    assert out.count("exercises pass") == 1 and "1 of 1 exercises pass" in out
    assert err.count("9 of 9 exercises pass") >= 10000


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs a FIFO and /dev/zero")
def test_an_exercise_file_that_is_not_a_regular_file_is_refused_not_read(tmp_path):
    folder = tmp_path / "wb"
    start(folder)
    (folder / "linear.py").unlink()
    (folder / "linear.py").symlink_to("/dev/zero")
    (folder / "relu.py").unlink()
    os.mkfifo(folder / "relu.py")
    results = check(folder, ["linear", "relu", "init"])
    assert [(r.exercise, r.check, r.passed) for r in results] == [
        ("linear", "file", False), ("relu", "file", False),
        ("init", "the spread and distribution of the weights", False)]
    assert "linear.py: a character device, not a regular file" in results[0].message
    assert "relu.py: a FIFO (named pipe), not a regular file" in results[1].message
    with pytest.raises(GlassnetError, match="a character device, not a regular file"):
        train_side_by_side(folder, np.zeros((4, 784)), np.arange(4), np.zeros((2, 784)), np.arange(2))


def test_a_file_that_replaces_a_numpy_function_fails_and_the_rest_are_checked_afresh(tmp_path):
    folder = solved_workbook(tmp_path / "wb", ("relu", "return np.maximum(x, 0)", "return x"))
    path = folder / "relu.py"
    patch = "np.maximum = lambda a, b: a\n"                  # with it, the checks' own max(x, 0) is x
    path.write_text(path.read_text().replace("import numpy as np\n", f"import numpy as np\n{patch}"))
    results = check(folder, ["relu", "softmax_cross_entropy"])
    [relu] = [r for r in results if r.exercise == "relu"]
    assert not relu.passed and "relu.py replaced numpy.maximum" in relu.message
    assert all(r.passed for r in results if r.exercise == "softmax_cross_entropy")


def test_a_file_that_replaces_what_a_check_compares_with_is_caught_even_if_only_that_check_imports_it(tmp_path):
    folder = solved_workbook(tmp_path / "wb", ("adam", "(np.sqrt(v_hat) + self.eps)", "np.sqrt(v_hat + self.eps)"))
    path = folder / "adam.py"
    patch = "import glassnet.nn.optim\nglassnet.nn.optim.Adam = lambda params, lr: Adam(params, lr=lr)\n"
    path.write_text(path.read_text() + patch)          # the checks would compare the mistake with itself
    [adam] = [r for r in check(folder, ["adam"]) if not r.passed]
    assert "adam.py replaced glassnet.nn.optim.Adam" in adam.message and adam.cause == "replaced-library"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_fork_of_the_checker_cannot_add_results(tmp_path):
    fork = "import os\n        if not hasattr(os, 'forked'):\n            os.forked = os.fork()"
    folder = solved_workbook(tmp_path / "wb", ("linear", BACKWARD, f"{fork}\n        {BACKWARD}"))
    results = check(folder, ["linear", "relu"])                 # the fork runs on through the checks too
    assert [(r.exercise, r.passed) for r in results] == [("linear", True)] * 5 + [("relu", True)] * 5


# ------------------------------------------------------------------------------------------- learn train

def _digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = synthetic_digits(n, 5)
    return images.reshape(n, 784) / 255.0, labels


@pytest.mark.parametrize("plant, message", [
    (("linear", BACKWARD, f"raise ValueError('boom')\n        {BACKWARD}"),
     r"^your network raised ValueError: boom \(linear\.py, line \d+\); 'glassnet learn check"),
    (("relu", "return np.where(self.active, grad_out, 0)", "import sys; sys.exit(3)"),
     r"^your network called sys\.exit\(3\) \(relu\.py, line \d+\)"),
    (("adam", "self.t += 1", "self.t += 1\n        return None if self.t < 2 else [][0]"),
     r"^your network raised IndexError: list index out of range \(adam\.py, line \d+\)"),
])
def test_learn_train_names_the_learners_error_with_its_file_and_line(tmp_path, plant, message):
    x, labels = _digits(60)
    with pytest.raises(LearnerCodeError, match=message):
        train_side_by_side(solved_workbook(tmp_path / "wb", plant), x[:40], labels[:40], x[40:], labels[40:],
                           epochs=1, batch_size=10)


def test_learn_train_refuses_zero_epochs_or_too_few_rows(tmp_path):
    x, labels = _digits(4)
    for options in ({"epochs": 0}, {"batch_size": 1}):
        with pytest.raises(ValueError, match="expected epochs >= 1, batch_size >= 2"):
            train_side_by_side(tmp_path, x, labels, x, labels, **options)
    with pytest.raises(ValueError, match="got epochs=3, batch_size=128, 1 and 4 rows"):
        train_side_by_side(tmp_path, x[:1], labels[:1], x, labels)


@pytest.fixture
def mnist_like(tmp_path) -> Path:
    return write_mnist_folder(tmp_path / "data", 200, 100)


def test_learn_train_cli_says_a_learners_syntax_error_in_one_line(tmp_path, mnist_like, capsys):
    folder = solved_workbook(tmp_path / "wb")
    (folder / "linear.py").write_text((folder / "linear.py").read_text() + "\n\ndef broken(:\n")
    assert main(["learn", "train", str(folder), "--data-dir", str(mnist_like), "--no-download", "--epochs", "1",
                 "--train-size", "100", "--test-size", "50"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("glassnet learn: error: cannot import linear.py: SyntaxError: ") and err.count("\n") == 1
    assert f"(line {_line_of(folder / 'linear.py', 'def broken')}); fix it, then check it" in err


def test_learn_train_cli_refuses_in_one_line_a_workbook_with_layers_not_written(tmp_path, mnist_like, capsys):
    start(tmp_path / "wb")
    solve(tmp_path / "wb", "relu")
    assert main(["learn", "train", str(tmp_path / "wb"), "--data-dir", str(mnist_like), "--no-download",
                 "--train-size", "100", "--test-size", "50"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "linear, batchnorm, dropout, softmax_cross_entropy, adam, init are not written yet" in err


def test_learn_train_cli_checks_first_and_ends_with_a_verdict(tmp_path, mnist_like, capsys):
    folder = solved_workbook(tmp_path / "wb", ("adam", "(np.sqrt(v_hat) + self.eps)", "np.sqrt(v_hat + self.eps)"))
    assert main(["learn", "train", str(folder), "--data-dir", str(mnist_like), "--no-download", "--epochs", "1",
                 "--train-size", "200", "--test-size", "100"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"the checks of the 7 exercises the network is built from: adam fail (glassnet learn check "
                          f"{folder} shows why); training anyway")
    assert re.search(r"\nyour network reaches [\d.]+%, glassnet's [\d.]+%: (within the noise|unclear|a real gap)", out)


@pytest.mark.parametrize("flags, said", [
    (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["--epochs", "two"], "argument --epochs: expected a whole number, got 'two'"),
    (["--train-size", "1"], "argument --train-size: must be at least 2 (batch norm needs two digits in a batch)"),
    (["--train-size", "-5"], "argument --train-size: must be at least 2"),
    (["--test-size", "0"], "argument --test-size: must be at least 1, got 0"),
    (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
])
def test_learn_train_refuses_bad_options_as_usage_errors(tmp_path, mnist_like, capsys, flags, said):
    with pytest.raises(SystemExit) as exit_:
        main(["learn", "train", str(solved_workbook(tmp_path / "wb")), "--data-dir", str(mnist_like), *flags])
    assert exit_.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize("flag, said", [
    ("--train-size", "--train-size 201 is more than the 200 training digits of"),
    ("--test-size", "--test-size 201 is more than the 100 test digits of"),
])
def test_learn_train_refuses_more_digits_than_the_data_has(tmp_path, mnist_like, capsys, flag, said):
    assert main(["learn", "train", str(solved_workbook(tmp_path / "wb")), "--data-dir", str(mnist_like),
                 "--train-size", "100", flag, "201"]) == 2
    assert said in capsys.readouterr().err


@pytest.mark.slow
def test_learn_check_exits_1_when_a_file_calls_sys_exit(tmp_path):
    folder = solved_workbook(tmp_path / "wb", ("relu", "self.active = x > 0",
                                               "print('9 of 9 exercises pass'); import sys; sys.exit(0)"))
    done = subprocess.run([sys.executable, "-m", "glassnet", "learn", "check", str(folder)], capture_output=True,
                          text=True, env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert done.returncode == 1, done.stderr
    assert "9 of 10 exercises pass" in done.stdout and "10 of 10" not in done.stdout and "Traceback" not in done.stderr

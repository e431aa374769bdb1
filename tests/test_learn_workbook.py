"""What a learner is handed: stubs that state no backward formula, hints one step at a time (recorded, and shown by
``learn check``), a report a teacher's script can read, a notebook that checks from its cells, and figures printed
with the digits that show a difference."""

import json
import re
from pathlib import Path

import pytest

from glassnet.cli import main
from glassnet.errors import GlassnetError
from glassnet.learn import EXERCISES, hint, report, start
from glassnet.learn.exercises import stub
from glassnet.learn.hint_texts import HINTS, STEPS
from glassnet.learn.hints import RECORD, levels
from glassnet.learn.notebook import cells
from glassnet.learn.show import differing, factor
from glassnet.learn.verdict import compare_predictions, sign_test
from tests.learn_helpers import solutions

# What would give each exercise's backward pass away: a line stating a derivative ("∂L/∂W = …", "∂f/∂v = 2v"),
# and the pieces of each exercise's answer.
STATED_DERIVATIVE = re.compile(r"∂[Lf]/∂[^\s=]+\s*=")
ANSWERS = {
    "scalar_graph": ["2v", "2 * v", "2·v", "v · b", "* b"],
    "linear": ["Xᵀ", "x.T", "X.T", "Wᵀ", ".T @", "@ self.weight.value.T", "sum(axis=0)", "Σₙ G", "G W"],
    "relu": ["x > 0", "[x > 0]", "G where", "where x", "np.where"],
    "softmax_cross_entropy": ["P − Y", "P - Y", "one-hot", "− Y", "- Y", "/ N"],
    "dropout": ["G · mask", "G * mask", "grad_out * self.mask", "∂L/∂x = G"],
    "batchnorm_graph": ["−½", "-0.5", "3/2", "-1.5", "2 centred", "centred / n", "γ G", "gamma * grad_out"],
    "batchnorm": ["N G", "Σₙ G", "G x̂", "γ s", "−½", "inv_std / n"],
    "adam": ["1 − β₁ᵗ", "1 − β₂ᵗ", "1 - beta1 **", "1 - beta2 **", "β₁ᵗ", "β₂ᵗ"],
    "init": ["2/fan_in", "2 / fan_in", "√(2", "sqrt(2", "2.0 /"],
    "network": ["P − Y", "(P - Y)", "Wᵀ", ".T @", "−1/(N", "inv_std{k}\"] ** 3"],
}


@pytest.mark.parametrize("name", [e.name for e in EXERCISES])
def test_no_stub_states_a_backward_formula(name):
    text = stub(name)
    assert not STATED_DERIVATIVE.search(text), STATED_DERIVATIVE.search(text)
    assert [piece for piece in ANSWERS[name] if piece in text] == []


@pytest.mark.parametrize("name", [e.name for e in EXERCISES])
def test_each_stub_points_to_its_hints_its_check_and_its_docs_page(name):
    text = stub(name)
    assert f"glassnet learn hint {name}" in text and f"glassnet learn check . {name}" in text
    assert "to compare once yours passes: docs page" in text and "raise NotImplementedError(" in text


def test_the_old_stubs_would_have_failed_the_formula_test():
    """The test above can fail: the formulas the stubs used to state are caught by it."""
    old = {"linear": "∂L/∂W = Xᵀ G  (D_in, D_out)      ∂L/∂b = Σₙ G  (D_out,)      ∂L/∂X = G Wᵀ  (N, D_in)",
           "batchnorm": "∂L/∂β = Σₙ G      ∂L/∂γ = Σₙ G x̂      ∂L/∂x = γ s / N · (N G − ∂L/∂β − x̂ · ∂L/∂γ)",
           "relu": 'raise NotImplementedError("let G through where x was > 0, zero elsewhere (a new array)")'}
    for name, line in old.items():
        assert STATED_DERIVATIVE.search(line) or any(piece in line for piece in ANSWERS[name]), name


def test_every_exercise_has_three_steps_of_hints_and_the_last_step_agrees_with_the_solution():
    assert set(HINTS) == {e.name for e in EXERCISES} and len(STEPS) == 3
    assert all(len(steps) == len(STEPS) and all(len(s) > 40 for s in steps) for steps in HINTS.values())
    assert "grad_out.sum(axis=0)" in HINTS["linear"][2] and "grad_out.sum(axis=0)" in solutions()["linear"]


def test_hints_open_one_step_a_call_and_are_recorded_for_the_check(tmp_path, capsys):
    folder = tmp_path / "wb"
    start(folder)
    assert levels(folder) == {}
    first = hint(folder, "linear")
    assert (first.level, first.texts) == (1, HINTS["linear"][:1])
    assert "next step, the local derivatives: glassnet learn hint linear" in first.format()
    assert [hint(folder, "linear").level for _ in range(3)] == [2, 3, 3]
    assert "that was the last step" in hint(folder, "linear").format()
    hint(folder, "relu")
    assert levels(folder) == {"linear": 3, "relu": 1}
    table = report(folder, ["linear", "relu", "adam"]).format()
    assert table.endswith(f"stuck? the next step of a hint: glassnet learn hint relu {folder}")
    assert re.search(r"^linear\s+3/3\s", table, re.M) and re.search(r"^relu\s+1/3\s", table, re.M)
    assert re.search(r"^adam\s+0/3\s", table, re.M)


def test_the_hint_command_prints_the_steps_so_far_and_works_in_the_workbook_folder(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "wb"
    start(folder)
    assert main(["learn", "hint", "batchnorm_graph", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hint 1 of 3 for batchnorm_graph: what to compute, and its shape")
    assert f"glassnet learn hint batchnorm_graph {folder}" in out
    monkeypatch.chdir(folder)
    assert main(["learn", "hint", "batchnorm_graph"]) == 0
    out = capsys.readouterr().out
    assert "hint 1 of 3" in out and "hint 2 of 3 for batchnorm_graph: the local derivatives" in out
    assert "next step, the formula: glassnet learn hint batchnorm_graph\n" in out


@pytest.mark.parametrize("arguments, said", [
    (["nonsense"], "no exercise named nonsense; the exercises are scalar_graph, linear,"),
    (["linear", "elsewhere"], "elsewhere holds no linear.py: name the workbook's folder"),
])
def test_a_hint_for_an_unknown_exercise_or_folder_is_one_clear_line(tmp_path, capsys, monkeypatch, arguments, said):
    monkeypatch.chdir(tmp_path)
    assert main(["learn", "hint", *arguments]) == 1
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("record", ["not json", '["linear"]', '{"linear": 7, "relu": "2", "adam": 2}'])
def test_a_damaged_hint_record_counts_what_it_can_and_never_stops_the_check(tmp_path, record):
    start(tmp_path)
    (tmp_path / RECORD).write_text(record)
    assert levels(tmp_path) == ({"adam": 2} if record.startswith("{") else {})
    assert hint(tmp_path, "linear").level == 1


def test_learn_check_json_gives_one_record_per_check_with_its_cause_and_the_hints_used(tmp_path, capsys):
    from tests.learn_helpers import solved_workbook

    folder = solved_workbook(tmp_path / "wb", ("relu", "self.active = x > 0", "self.active = x >= 0"))
    hint(folder, "relu")
    assert main(["learn", "check", str(folder), "relu", "init", "--json"]) == 1
    records = json.loads(capsys.readouterr().out)
    assert [(r["exercise"], r["passed"]) for r in records] == [("relu", True), ("relu", False), ("init", True),
                                                               ("init", True)]
    failed = records[1]
    assert failed["cause"] == "relu.at-zero" and failed["hints"] == 1 and failed["hint_steps"] == 3
    assert "at x = 0 the gradient is 0" in failed["message"]
    assert set(records[0]) == {"exercise", "check", "passed", "message", "cause", "hints", "hint_steps"}


def test_the_notebook_holds_each_stub_in_a_cell_that_writes_it_then_a_check(tmp_path, capsys):
    assert main(["learn", "start", str(tmp_path / "wb"), "--notebook"]) == 0
    assert "workbook.ipynb" in capsys.readouterr().out
    notebook = json.loads((tmp_path / "wb" / "workbook.ipynb").read_text())
    assert notebook["nbformat"] == 4 and len({c["id"] for c in notebook["cells"]}) == len(notebook["cells"])
    code = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
    for e in EXERCISES:
        [i] = [k for k, text in enumerate(code) if text.startswith(f"%%writefile {e.name}.py\n")]
        assert code[i].removeprefix(f"%%writefile {e.name}.py\n") == stub(e.name)
        assert code[i + 1].startswith(f'report(".", ["{e.name}"])')


def test_a_check_from_a_notebook_cell_prints_the_same_table_as_the_command(tmp_path, capsys, monkeypatch):
    """Runs the notebook's cells as Jupyter would (the %%writefile magic done by hand): the same messages."""
    start(tmp_path / "wb")
    monkeypatch.chdir(tmp_path / "wb")
    code = [text for kind, text in cells() if kind == "code"]
    namespace: dict = {}
    exec(code[0], namespace)                                             # the imports
    [i] = [k for k, text in enumerate(code) if text.startswith("%%writefile relu.py\n")]
    Path("relu.py").write_text(code[i].split("\n", 1)[1])
    shown = eval(code[i + 1], namespace)                                 # what the cell displays
    assert main(["learn", "check", ".", "relu"]) == 1
    assert str(shown) == capsys.readouterr().out.rstrip("\n")


@pytest.mark.slow
def test_the_notebook_runs_in_jupyter_and_checks_from_its_cells(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    start(tmp_path, notebook=True)
    notebook = nbformat.read(tmp_path / "workbook.ipynb", as_version=4)
    from tests.learn_helpers import paste

    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith("%%writefile relu.py\n"):
            head, body = cell.source.split("\n", 1)
            cell.source = f"{head}\n{paste(body, solutions()['relu'])}"
    nbclient.NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {c.source.split("\n")[0]: "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                                                 for o in c.outputs) for c in notebook.cells if c.cell_type == "code"}
    assert "1 of 1 exercises pass" in outputs['report(".", ["relu"])        # stuck? hint(".", "relu")']
    assert "not implemented yet" in outputs['report(".", ["linear"])        # stuck? hint(".", "linear")']


def test_figures_are_printed_with_the_digits_that_show_their_difference():
    assert differing(6.3900912, 6.3900937) == ("6.390091", "6.390094")
    assert differing(1.0, 1.0 + 2e-16) == ("1", "1.0000000000000002")
    assert differing(2.5, 3.5) == ("2.5", "3.5")
    assert factor(1.0000046) == "1.0000046" and factor(0.5) == "0.5" and factor(31.6228) == "31.62"


def test_the_sign_test_separates_a_real_gap_from_noise():
    assert sign_test(0, 10) == pytest.approx(2 / 1024) and sign_test(5, 5) == 1.0 and sign_test(0, 0) == 1.0
    assert sign_test(3, 1) == pytest.approx(2 * (1 + 4) / 16)
    right = [True] * 1600 + [False] * 400
    import numpy as np

    glassnet = np.array(right)
    inverted_relu = glassnet.copy()
    inverted_relu[:340] = False                                          # 17 points lost
    assert compare_predictions(inverted_relu, glassnet).kind == "real"
    noisy = glassnet.copy()
    noisy[:35], noisy[1600:1625] = False, True                           # 35 lost, 25 won: 0.5 points
    verdict = compare_predictions(noisy, glassnet)
    assert verdict.kind == "noise" and verdict.gap_points == pytest.approx(0.5)
    assert "within the noise" in verdict.format() and "real gap" in compare_predictions(inverted_relu,
                                                                                         glassnet).format()


def test_a_workbook_cannot_be_started_over_a_notebook(tmp_path):
    (tmp_path / "workbook.ipynb").write_text("{}")
    with pytest.raises(GlassnetError, match=r"already holds workbook\.ipynb"):
        start(tmp_path, notebook=True)


def test_the_example_of_failed_checks_on_the_docs_page_is_what_the_checker_prints(tmp_path, monkeypatch):
    from tests.learn_helpers import SOLUTIONS_PAGE, solved_workbook

    folder = solved_workbook(
        tmp_path / "wb",
        ("linear", "self.bias.grad = grad_out.sum(axis=0)", "self.bias.grad = grad_out.mean(axis=0)"),
        ("batchnorm", "inv_std = 1.0 / np.sqrt(var + self.eps)", "inv_std = 1.0 / (np.sqrt(var) + self.eps)"),
        ("relu", "return np.where(self.active, grad_out, 0)", "return np.where(self.active, grad_out, 0) * 1.5 + 0.1"),
        ("network", 'np.where(v[f"bn{k}"] > 0, d[f"relu{k}"], 0.0)', 'np.where(v[f"bn{k}"] > 0, 0.0, d[f"relu{k}"])'))
    hint(folder, "network")
    hint(folder, "network")
    monkeypatch.chdir(folder)
    page = SOLUTIONS_PAGE.read_text()
    shown = page[page.index("```text\nexercise ") + len("```text\n"):]
    assert shown[:shown.index("\n```")] == str(report(".", ["linear", "relu", "batchnorm", "network"]))

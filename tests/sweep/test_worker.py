"""A worker in this process, on synthetic digits and an SQLite study: whatever a trial raises fails that trial
alone, a study whose trials keep failing stops by itself, and a continued study draws new values. A study in an
SQLite file takes seconds (a commit per step of each trial), so those tests are marked slow."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest

optuna = pytest.importorskip("optuna")

from glassnet.data.mnist import load_mnist  # noqa: E402
from glassnet.errors import DivergenceError  # noqa: E402
from glassnet.sweep import worker as worker_module  # noqa: E402
from glassnet.sweep.failures import MAX_FAILURES_IN_A_ROW, NO_HEARTBEAT, worker_ended  # noqa: E402
from glassnet.sweep.report import trial_rows, write_report  # noqa: E402
from glassnet.sweep.spec import load_spec  # noqa: E402
from glassnet.sweep.storage import SweepError, local_url  # noqa: E402
from glassnet.sweep.study import create_study, fail_left_running, load_study  # noqa: E402
from glassnet.sweep.worker import Worker, suggest  # noqa: E402
from tests.sweep.conftest import write_spec  # noqa: E402

State = optuna.trial.TrialState


def _start(folder: Path, **fields: Any) -> None:
    """Create (or restart) the study that ``write_spec(folder, **fields)`` describes, as ``glassnet sweep`` does."""
    create_study(load_spec(write_spec(folder, **fields)), local_url(folder))


def _worker(folder: Path, digits: Path, index: int = 0, log: list[str] | None = None) -> Worker:
    """Worker ``index`` of the study in ``folder``, writing its trials there and its lines into ``log``."""
    study, spec = load_study(local_url(folder), "study", index)
    return Worker(study, spec, load_mnist(digits, download=False), folder, log=(log if log is not None else []).append)


def _diverge(*args: Any, **kwargs: Any) -> Any:
    raise DivergenceError("training diverged: non-finite loss at step 4 (lr 2e+04) in epoch 1.\nhelp: …")


@pytest.mark.slow
@pytest.mark.parametrize(("error", "line"), [
    (ValueError("a statistic that is not finite\nsecond line"), "ValueError: a statistic that is not finite"),
    (MemoryError(), "MemoryError"),
    (RuntimeError(""), "RuntimeError"),
    (ValueError("x" * 10**6), "ValueError: " + "x" * 287 + "…"),
])
def test_a_trial_that_raises_anything_fails_alone_and_the_worker_goes_on(
        tmp_path: Path, digits: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, line: str) -> None:
    real_fit, calls = worker_module.fit, []

    def fit(*args: Any, **kwargs: Any) -> Any:           # every other trial raises once training starts
        calls.append(1)
        if len(calls) % 2:
            raise error
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(worker_module, "fit", fit)
    _start(tmp_path, trials=3, epochs=1)
    worker = _worker(tmp_path, digits)
    assert worker.run().ran == 6
    found = worker.study.get_trials()
    assert [t.state for t in found] == [State.FAIL, State.COMPLETE] * 3
    for t in found[::2]:
        assert t.user_attrs["error"] == line and t.user_attrs["run_dir"] is None
        assert not (tmp_path / "trials" / f"{t.number:04d}").exists(), "a failed trial's folder is removed"
    assert all((tmp_path / "trials" / f"{t.number:04d}" / "model.npz").is_file() for t in found[1::2])


@pytest.mark.slow
def test_a_study_whose_trials_keep_failing_stops_counting_all_its_workers(
        tmp_path: Path, digits: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "fit", _diverge)
    _start(tmp_path, trials=50)
    first_log: list[str] = []
    first = _worker(tmp_path, digits, 0, first_log)

    def stop_after_six(line: str) -> None:
        first_log.append(line)
        if sum("failed" in seen for seen in first_log) == 6:
            first.stop()

    first.log = stop_after_six
    first.run()
    second_log: list[str] = []
    with pytest.raises(SweepError, match=f"{MAX_FAILURES_IN_A_ROW} trials in a row failed .*DivergenceError: "
                                         "training diverged.*lower the high end of lr") as stopped:
        _worker(tmp_path, digits, 1, second_log).run()
    assert "\n" not in str(stopped.value)
    assert sum("failed: DivergenceError" in line for line in second_log) == MAX_FAILURES_IN_A_ROW - 6
    study, spec = load_study(local_url(tmp_path), "study")
    assert [t.state for t in study.get_trials()] == [State.FAIL] * MAX_FAILURES_IN_A_ROW
    write_report(study, spec, tmp_path)
    rows = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert all(r["error"].startswith("DivergenceError: training diverged") for r in rows)


@pytest.mark.slow
def test_a_new_start_of_the_sweep_counts_failures_afresh(
        tmp_path: Path, digits: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "fit", _diverge)
    _start(tmp_path, trials=50)
    with pytest.raises(SweepError, match="trials in a row failed"):
        _worker(tmp_path, digits).run()
    with pytest.raises(SweepError, match="trials in a row failed"):
        _worker(tmp_path, digits).run()                      # joining the stopped study: it stays stopped
    _start(tmp_path, trials=50)                              # `glassnet sweep SPEC` again: a person tries again
    worker = _worker(tmp_path, digits)
    with pytest.raises(SweepError, match="trials in a row failed"):
        worker.run()
    assert len(worker.study.get_trials()) == 2 * MAX_FAILURES_IN_A_ROW


def test_a_failed_trial_always_says_why(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path))
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(state=State.FAIL))            # failed as stale: its worker died
    study.add_trial(optuna.trial.create_trial(state=State.FAIL, user_attrs={"error": "ValueError: x"}))
    assert [row["error"] for row in trial_rows(study, spec)] == [NO_HEARTBEAT, "ValueError: x"]


def test_a_trial_left_running_by_a_worker_that_ended_is_failed_with_the_cause_and_queued_again() -> None:
    study = optuna.create_study()
    for pid in (41, 42):
        study.add_trial(optuna.trial.create_trial(state=State.RUNNING, user_attrs={"host": "here", "pid": pid},
                                                  params={"lr": 0.1},
                                                  distributions={"lr": optuna.distributions.FloatDistribution(0, 1)}))
    assert fail_left_running(study, "elsewhere", 41, "gone", max_retries=3) == []
    assert fail_left_running(study, "here", 41, worker_ended(0, 41, -9), max_retries=3) == [0]
    first, second, copy = study.get_trials()
    assert first.state == State.FAIL and second.state == State.RUNNING
    assert first.user_attrs["error"] == "the worker running it (worker 0, pid 41) was killed by signal 9 (SIGKILL) " \
                                       "before the trial ended"
    assert copy.state == State.WAITING and copy.params == {"lr": 0.1} and copy.system_attrs["failed_trial"] == 0
    assert copy.user_attrs == {}, "the copy starts without the failed run's record"
    assert fail_left_running(study, "here", 41, "again", max_retries=3) == [], "a failed trial stays as it is"


def test_a_worker_that_exits_mid_trial_names_its_log() -> None:
    assert worker_ended(2, 7, 1) == ("the worker running it (worker 2, pid 7) exited with status 1 "
                                     "(workers/worker-2.log says why) before the trial ended")


def _score(trial: Any, space: Any) -> float:
    """A value that TPE can learn from: best at lr = 1e-3 and no dropout."""
    params = {d.field: suggest(trial, d) for d in space}
    return -(math.log10(params["lr"]) + 3) ** 2 - params["dropout"]


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_continued_study_draws_values_it_has_not_tried(tmp_path: Path, sampler: str) -> None:
    url = local_url(tmp_path)
    for wanted in (6, 12):                                   # the same command, asking for more trials
        create_study(load_spec(write_spec(tmp_path, trials=wanted, sampler=sampler)), url)
        study, spec = load_study(url, "study", 0)
        study.optimize(lambda trial, space=spec.space: _score(trial, space), n_trials=6)
    drawn = [tuple(sorted(t.params.items())) for t in study.get_trials()]
    assert len(drawn) == 12 and len(set(drawn)) == 12

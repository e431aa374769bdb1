"""glassnet sweep as users run it: in their own processes, on synthetic digits (trials of a fraction of a
second), with the real MNIST for the kill tests, and on a real PostgreSQL server for many machines.

Every test here starts real processes, so all are marked slow. None depends on the machine's speed: a test
that needs a trial to be running when it acts stops that trial's worker (SIGSTOP), checks from the trial's
history that it is still mid-trial, acts, and lets it go on (SIGCONT)."""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

optuna = pytest.importorskip("optuna")

from glassnet.config import load_toml  # noqa: E402
from glassnet.sweep.failures import NO_HEARTBEAT  # noqa: E402
from glassnet.sweep.storage import local_url  # noqa: E402
from glassnet.sweep.study import load_study  # noqa: E402
from glassnet.sweep.worker import ABANDONED_ERROR  # noqa: E402
from tests.helpers import wait_for  # noqa: E402
from tests.sweep.conftest import glassnet, start, write_spec  # noqa: E402

pytestmark = pytest.mark.slow

State = optuna.trial.TrialState
HANG = 600                      # seconds: a deadline that only a hang reaches


def trials(url: str, name: str = "study") -> list[Any]:
    study, _ = load_study(url, name)
    return study.get_trials()


def history(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "history.json"
    return json.loads(path.read_text()) if path.exists() else []


def test_one_worker_gives_the_same_trials_from_the_same_spec_and_seed(tmp_path: Path, digits: Path) -> None:
    spec = write_spec(tmp_path, trials=12, pruning="false")
    runs = []
    for name in ("a", "b"):
        done = glassnet("sweep", spec, "--out", tmp_path / name, "--workers", "1", "--data-dir", digits)
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append([(t.params, t.value) for t in trials(local_url(tmp_path / name))])
    assert len(runs[0]) == 12 and runs[0] == runs[1]
    (tmp_path / "seed1").mkdir()
    other = write_spec(tmp_path / "seed1", trials=12, pruning="false", seed=1)
    done = glassnet("sweep", other, "--out", tmp_path / "c", "--data-dir", digits)
    assert done.returncode == 0, done.stderr
    assert [t.params for t in trials(local_url(tmp_path / "c"))] != [p for p, _ in runs[0]]


def test_pruned_trials_stop_before_the_budget(tmp_path: Path, digits: Path) -> None:
    spec = write_spec(tmp_path, trials=10, epochs=4)
    done = glassnet("sweep", spec, "--out", tmp_path / "out", "--data-dir", digits)
    assert done.returncode == 0, done.stdout + done.stderr
    found = trials(local_url(tmp_path / "out"))
    pruned = [t for t in found if t.state == State.PRUNED]
    complete = [t for t in found if t.state == State.COMPLETE]
    assert pruned and complete and len(pruned) + len(complete) == 10
    for t in pruned:
        epochs = history(t.user_attrs["run_dir"])
        assert 1 <= len(epochs) < 4
        assert t.user_attrs["epochs"] == len(epochs) == len(t.intermediate_values)
    for t in complete:
        assert len(history(t.user_attrs["run_dir"])) == 4
        metrics = json.loads((Path(t.user_attrs["run_dir"]) / "metrics.json").read_text())
        assert metrics["validation"]["accuracy"] == t.value and "test" not in metrics
    assert not any((Path(t.user_attrs["run_dir"]) / "metrics.json").exists() for t in pruned)
    assert "pruned after epoch" in (tmp_path / "out" / "workers" / "worker-0.log").read_text()


def test_report_best_config_and_trial_folders_are_usable(tmp_path: Path, digits: Path) -> None:
    spec = write_spec(tmp_path, trials=5, seed=2)
    out = tmp_path / "out"
    done = glassnet("sweep", spec, "--out", out, "--data-dir", digits)
    assert done.returncode == 0, done.stderr
    assert "best config:" in done.stdout
    study, loaded = load_study(local_url(out), "study")
    best = study.best_trial
    complete = [t for t in study.trials if t.state == State.COMPLETE]
    assert best.value == max(t.value for t in complete) and best.number != complete[0].number, \
        "the best is not simply the first complete trial (else this test could not tell them apart)"
    config = load_toml(out / "best.toml")
    assert config == loaded.config_for(best.params)
    assert f"trial {best.number}" in (out / "best.toml").read_text().splitlines()[0]
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [int(r["number"]) for r in rows] == list(range(5)) and {"lr", "dropout"} <= set(rows[0])
    assert {p.name for p in (out / "plots").iterdir()} == {"optimization_history.png", "intermediate_values.png",
                                                           "param_importances.png", "parallel_coordinate.png"}
    report = (out / "report.md").read_text()
    assert f"Best: trial {best.number}" in report and "| number | state | value | lr | dropout |" in report

    (out / "report.md").unlink()
    again = glassnet("sweep", "report", out)
    assert again.returncode == 0 and (out / "report.md").read_text() == report

    trial_dir = Path(best.user_attrs["run_dir"])
    assert trial_dir.parent == out / "trials"
    assert glassnet("info", trial_dir).returncode == 0
    assert glassnet("evaluate", trial_dir, "--data-dir", digits).returncode == 0
    assert (trial_dir / "diagnostics.jsonl").stat().st_size > 0        # what serve --live shows
    trained = glassnet("train", "--config", out / "best.toml", "--epochs", "1", "--out", tmp_path / "final",
                       "--data-dir", digits, "--quiet")
    assert trained.returncode == 0, trained.stderr


def test_more_trials_continue_the_study_and_other_changes_are_refused(tmp_path: Path, digits: Path) -> None:
    out = tmp_path / "out"
    assert glassnet("sweep", write_spec(tmp_path, trials=3), "--out", out, "--data-dir", digits).returncode == 0
    done = glassnet("sweep", write_spec(tmp_path, trials=5), "--out", out, "--data-dir", digits)
    assert done.returncode == 0, done.stderr
    assert len(trials(local_url(out))) == 5
    changed = glassnet("sweep", write_spec(tmp_path, trials=5, epochs=3), "--out", out, "--data-dir", digits)
    assert changed.returncode == 1 and "made from a different spec" in changed.stderr
    assert "Traceback" not in changed.stderr


def test_a_folder_of_someone_elses_files_is_refused_untouched(tmp_path: Path, digits: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    done = glassnet("sweep", write_spec(tmp_path), "--out", out, "--data-dir", digits)
    assert done.returncode == 1 and "holds files glassnet did not write" in done.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    a_file = glassnet("sweep", write_spec(tmp_path), "--out", out / "notes.txt", "--data-dir", digits)
    assert a_file.returncode == 1 and "is a file" in a_file.stderr and (out / "notes.txt").read_text() == "keep me"
    other = glassnet("sweep", write_spec(tmp_path, name="other"), "--out", tmp_path / "first", "--data-dir", digits)
    assert other.returncode == 0
    clash = glassnet("sweep", write_spec(tmp_path, name="second"), "--out", tmp_path / "first", "--data-dir", digits)
    assert clash.returncode == 1 and "holds the sweep 'other'" in clash.stderr


def test_trials_whose_drawn_config_is_invalid_fail_with_the_reason_and_others_still_count(
        tmp_path: Path, digits: Path) -> None:
    spec = write_spec(tmp_path, trials=6, seed=5)
    spec.write_text(spec.read_text().replace("[base]\n", '[base]\nschedule = "cosine"\n').replace(
        "[space]\n", '[space]\nwarmup_epochs = { type = "int", low = 0, high = 1 }\n'
                     'epochs = { type = "int", low = 1, high = 2 }\n'))
    done = glassnet("sweep", spec, "--out", tmp_path / "out", "--data-dir", digits)
    found = trials(local_url(tmp_path / "out"))
    failed = [t for t in found if t.state == State.FAIL]
    assert done.returncode == 0, done.stdout + done.stderr
    assert sum(t.state in (State.COMPLETE, State.PRUNED) for t in found) == 6
    assert failed, "warmup_epochs = 1 with epochs = 1 is drawn at least once"
    for t in failed:
        assert t.params["warmup_epochs"] >= t.params["epochs"]
        assert "warmup_epochs" in t.user_attrs["error"]
        assert not t.user_attrs.get("run_dir") and not (tmp_path / "out" / "trials" / f"{t.number:04d}").exists()
    assert "failed: " in (tmp_path / "out" / "workers" / "worker-0.log").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "missing.toml"], "cannot read the sweep spec"),
    (["sweep", "report", "."], "is not a sweep folder"),
    (["sweep", "worker", "--storage", "sqlite:///nowhere/x.db", "--study", "s"], "does not exist"),
    (["sweep", "worker", "--storage", "sqlite:///x.db", "--study", "s"], "x.db does not exist: no study lives there"),
    (["sweep", "worker", "--storage", "sqlite:///a\nb.db", "--study", "s"], "URL (one line)"),
    (["sweep", "worker", "--storage", "mysql://h/db", "--study", "s"], "--storage must be"),
    (["sweep", "worker", "--study", "s"], "--storage URL is required"),
    (["sweep", "spec.toml", "--workers", "100000"], "--workers must be 1 to"),
    (["sweep", "worker", "--storage", "sqlite:///x.db", "--study", "../../x"], "a study's name becomes a folder's"),
    (["sweep", "worker", "--from-coordinator", "--study", "s"], "no storage URL on stdin"),
    (["compare", "."], "no model.npz here"),
])
def test_mistakes_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = glassnet(*args, cwd=tmp_path)
    assert done.returncode in (1, 2) and message in done.stderr and "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir()), "a mistake leaves nothing behind"


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://sweeper:hunter2@127.0.0.1:1/sweeps", "postgresql://sweeper@127.0.0.1:1/sweeps"),
    ("postgresql://sweeper:hunter2@127.0.0.1:port/sweeps", "postgresql://sweeper@127.0.0.1:port/sweeps"),
])
def test_a_database_password_is_never_printed(tmp_path: Path, url: str, shown: str) -> None:
    pytest.importorskip("psycopg")
    done = glassnet("sweep", "worker", "--storage", url, "--study", "s")
    assert done.returncode == 1 and "cannot" in done.stderr and shown in done.stderr
    assert "hunter2" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def _running_trial(url: str, name: str = "study", epochs_done: int = 1) -> Any:
    """A running trial that has finished ``epochs_done`` epochs, once there is one."""
    for t in trials(url, name):
        if t.state == State.RUNNING and t.user_attrs.get("run_dir") and len(history(t.user_attrs["run_dir"])) \
                >= epochs_done:
            return t
    return None


def _frozen_mid_trial(url: str, epochs: int, name: str = "study") -> Any:
    """A running trial whose worker is stopped (SIGSTOP) with epochs still to train: until SIGCONT, nothing about
    it can change. Its history, read after the stop, shows that it had not finished; else the worker goes on and
    the next running trial is tried."""

    def freeze() -> Any:
        trial = _running_trial(url, name)
        if trial is None:
            return None
        os.kill(trial.user_attrs["pid"], signal.SIGSTOP)
        if len(history(trial.user_attrs["run_dir"])) < epochs:
            return trial
        os.kill(trial.user_attrs["pid"], signal.SIGCONT)
        return None

    return wait_for(freeze, timeout=HANG, what="a trial to stop mid-way")


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _in_shell(line: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command line as printed for a user to copy, through bash, with `glassnet` this Python's."""
    define = f'glassnet() {{ {shlex.quote(sys.executable)} -m glassnet "$@"; }}; '
    return subprocess.run(["bash", "-c", define + line], capture_output=True, text=True, timeout=HANG, **kwargs)


def _printed_after(text: str, prefix: str) -> str:
    return next(line.split(prefix, 1)[1].strip() for line in text.splitlines() if prefix in line)


def test_ctrl_c_finishes_the_trial_and_twice_abandons_it(tmp_path: Path, digits: Path, processes: list) -> None:
    spec = write_spec(tmp_path, trials=6, epochs=60, pruning="false", subset=600)
    out = tmp_path / "out"
    url = local_url(out)
    created = glassnet("sweep", spec, "--out", out, "--workers", "0", "--storage", url)
    assert created.returncode == 0, created.stderr
    worker = ["sweep", "worker", "--storage", url, "--study", "study", "--out", out, "--data-dir", digits]

    processes.append(first := start(*worker, log=tmp_path / "first.log"))
    trial = wait_for(lambda: _running_trial(url), what="a running trial")
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=HANG) == 130
    finished = next(t for t in trials(url) if t.number == trial.number)
    assert finished.state == State.COMPLETE and len(history(trial.user_attrs["run_dir"])) == 60
    assert "stopping after this trial" in (tmp_path / "first.log").read_text()


def test_ctrl_c_twice_abandons_the_trial_and_queues_it_again(tmp_path: Path, digits: Path, processes: list) -> None:
    spec = write_spec(tmp_path, trials=2, epochs=10**6, pruning="false", subset=600)    # a trial that never ends
    out = tmp_path / "out"
    url = local_url(out)
    assert glassnet("sweep", spec, "--out", out, "--workers", "0", "--storage", url).returncode == 0
    processes.append(worker := start("sweep", "worker", "--storage", url, "--study", "study", "--out", out,
                                     "--data-dir", digits, log=tmp_path / "worker.log"))
    trial = wait_for(lambda: _running_trial(url), what="a running trial")
    worker.send_signal(signal.SIGINT)
    wait_for(lambda: "stopping after this trial" in (tmp_path / "worker.log").read_text(), what="the message")
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=HANG) == 130
    after = trials(url)
    abandoned = next(t for t in after if t.number == trial.number)
    assert abandoned.state == State.FAIL and abandoned.user_attrs["error"] == ABANDONED_ERROR
    queued = [t for t in after if t.state == State.WAITING]
    assert len(queued) == 1 and queued[0].system_attrs["failed_trial"] == trial.number
    assert queued[0].params == trial.params
    assert queued[0].user_attrs == {}, "the copy is not marked abandoned, nor given the abandoned run's record"
    assert (Path(trial.user_attrs["run_dir"]) / "model.npz").is_file(), "an abandoned trial keeps its checkpoint"
    assert "queued to run again" in (tmp_path / "worker.log").read_text()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_on_the_sweep_stops_its_workers_and_the_same_command_continues(tmp_path: Path, digits: Path,
                                                                               processes: list, stop: int) -> None:
    home = tmp_path / "it's \"a\" sweep $(touch pwned); x"          # the printed command must survive a shell
    home.mkdir()
    spec = write_spec(home, trials=4, epochs=40, pruning="false", subset=600, heartbeat=30)
    out = home / "out dir"
    processes.append(sweep := start("sweep", spec, "--out", out, "--workers", "2", "--data-dir", digits,
                                    log=tmp_path / "sweep.log"))
    wait_for(lambda: (out / "workers").is_dir(), timeout=HANG, what="the workers")
    frozen = _frozen_mid_trial(local_url(out), epochs=40)
    sweep.send_signal(stop)
    wait_for(lambda: "workers finish their trials and stop" in (tmp_path / "sweep.log").read_text(),
             timeout=HANG, what="the Ctrl-C passed on")
    os.kill(frozen.user_attrs["pid"], signal.SIGCONT)
    assert sweep.wait(timeout=HANG) == 130
    printed = (tmp_path / "sweep.log").read_text()
    after = trials(local_url(out))
    assert not [t for t in after if t.state in (State.RUNNING, State.FAIL)], "each worker finished its trial"
    assert next(t for t in after if t.number == frozen.number).state == State.COMPLETE
    assert len(history(frozen.user_attrs["run_dir"])) == 40
    assert max(t.number for t in after if t.user_attrs["pid"] == frozen.user_attrs["pid"]) == frozen.number, \
        "the worker took no trial after the Ctrl-C"
    again = _in_shell(_printed_after(printed, "continue with:"), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sum(t.state == State.COMPLETE for t in trials(local_url(out))) == 4
    assert not (tmp_path / "pwned").exists()


def test_a_worker_joins_with_the_printed_command_whatever_the_folder_is_called(tmp_path: Path, digits: Path) -> None:
    home = tmp_path / "a b; 'c' \"d\" $(touch pwned) `touch pwned`"
    home.mkdir()
    out = home / "sweep"
    created = glassnet("sweep", write_spec(home, trials=2), "--out", out, "--workers", "0", "--storage",
                       local_url(out))
    assert created.returncode == 0, created.stderr
    printed = created.stdout.strip().splitlines()[-1]             # after "on each machine run:"
    joined = _in_shell(printed + " --data-dir " + shlex.quote(str(digits)), cwd=tmp_path)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    assert sum(t.state == State.COMPLETE for t in trials(local_url(out))) == 2
    assert not (tmp_path / "pwned").exists()


def test_a_study_whose_trials_all_diverge_ends_by_itself_and_says_why(tmp_path: Path, digits: Path) -> None:
    spec = write_spec(tmp_path, trials=50, epochs="2\nbatchnorm = false\noptimizer = \"sgd\"")
    spec.write_text(spec.read_text().replace("low = 1e-4, high = 3e-1", "low = 1e20, high = 1e30"))
    out = tmp_path / "out"
    done = glassnet("sweep", spec, "--out", out, "--workers", "2", "--data-dir", digits)
    assert done.returncode == 1, done.stdout + done.stderr
    stop = [line for line in done.stdout.splitlines() if "stopped:" in line]
    assert len(stop) == 1 and "10 trials in a row failed" in stop[0] and "lower the high end of lr" in stop[0]
    assert "DivergenceError: training diverged" in stop[0] and "Traceback" not in done.stdout + done.stderr
    failed = [t for t in trials(local_url(out)) if t.state == State.FAIL]
    assert 10 <= len(failed) <= 11, "ten in a row, and the other worker's running trial"
    assert not any((out / "trials").iterdir()), "no folder is left per failed trial"
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == len(failed) and all(r["error"] for r in rows), "a failed trial always says why"


def test_workers_stop_when_their_sweep_is_killed(tmp_path: Path, digits: Path, processes: list) -> None:
    spec = write_spec(tmp_path, trials=4, epochs=10**6, pruning="false", subset=600, heartbeat=30)
    out = tmp_path / "out"
    processes.append(sweep := start("sweep", spec, "--out", out, "--workers", "2", "--data-dir", digits,
                                    log=tmp_path / "sweep.log"))
    url = wait_for(lambda: (out / "workers").is_dir() and local_url(out), timeout=HANG, what="the workers")

    def both_in_trials() -> list[Any]:
        running = [t for t in trials(url) if t.state == State.RUNNING and "pid" in t.user_attrs]
        return running if len({t.user_attrs["pid"] for t in running}) == 2 else []

    running = wait_for(both_in_trials, timeout=HANG, what="both workers in trials")
    assert not any(b"postgres" in Path(f"/proc/{t.user_attrs['pid']}/cmdline").read_bytes() or
                   b"sqlite" in Path(f"/proc/{t.user_attrs['pid']}/cmdline").read_bytes() for t in running), \
        "the storage URL is given on stdin, never in the process list"
    sweep.kill()
    sweep.wait()
    wait_for(lambda: not any(_alive(t.user_attrs["pid"]) for t in running), timeout=HANG,
             what="the workers to stop")
    after = trials(url)
    for t in running:
        ended = next(a for a in after if a.number == t.number)
        assert ended.state == State.FAIL and ended.user_attrs["error"] == ABANDONED_ERROR
    assert sorted(t.system_attrs["failed_trial"] for t in after if t.state == State.WAITING) == \
        sorted(t.number for t in running)
    logs = "".join(p.read_text() for p in (out / "workers").iterdir())
    assert logs.count("the sweep that started this worker has ended") == 2 and "Traceback" not in logs


def test_a_trial_whose_worker_is_killed_says_so_and_is_queued_again(tmp_path: Path, digits: Path,
                                                                   processes: list) -> None:
    spec = write_spec(tmp_path, trials=2, epochs=10**6, pruning="false", subset=600, heartbeat=30)
    out = tmp_path / "out"
    processes.append(sweep := start("sweep", spec, "--out", out, "--workers", "1", "--data-dir", digits,
                                    log=tmp_path / "sweep.log"))
    url = wait_for(lambda: (out / "workers").is_dir() and local_url(out), timeout=HANG, what="the worker")
    trial = wait_for(lambda: _running_trial(url), timeout=HANG, what="a running trial")
    pid = trial.user_attrs["pid"]
    os.kill(pid, signal.SIGKILL)
    assert sweep.wait(timeout=HANG) == 1
    error = f"the worker running it (worker 0, pid {pid}) was killed by signal 9 (SIGKILL) before the trial ended"
    assert f"trial {trial.number}: fail ({error})" in (tmp_path / "sweep.log").read_text()
    rows = list(csv.DictReader((out / "trials.csv").open()))
    killed = next(r for r in rows if r["number"] == str(trial.number))
    assert killed["state"] == "fail" and killed["error"] == error and killed["pid"] == str(pid)
    [retry] = [r for r in rows if r["retry_of"]]
    assert retry["retry_of"] == str(trial.number) and retry["state"] == "waiting"
    assert retry["pid"] == retry["error"] == "", "the copy starts without the killed run's record"


def test_a_sweep_waits_while_its_sqlite_file_is_locked(tmp_path: Path, digits: Path, processes: list) -> None:
    spec = write_spec(tmp_path, trials=4, epochs=20, pruning="false", subset=600)
    out = tmp_path / "out"
    processes.append(sweep := start("sweep", spec, "--out", out, "--workers", "2", "--data-dir", digits,
                                    log=tmp_path / "sweep.log"))
    wait_for(lambda: (out / "workers").is_dir(), timeout=HANG, what="the workers")

    def locked_with_a_trial_running() -> sqlite3.Connection | None:
        if _running_trial(local_url(out)) is None:
            return None
        holder = sqlite3.connect(out / "study.db", isolation_level=None, timeout=HANG)
        holder.execute("BEGIN EXCLUSIVE")     # no worker can write an epoch's figure, or a trial's end, until...
        if holder.execute("SELECT count(*) FROM trials WHERE state = 'RUNNING'").fetchone()[0]:
            return holder
        holder.close()
        return None

    holder = wait_for(locked_with_a_trial_running, timeout=HANG, what="a lock with a trial running")
    waiting = "waiting for the study's database (database is locked); retrying in"
    wait_for(lambda: waiting in (tmp_path / "sweep.log").read_text() and
             any(waiting in log.read_text() for log in (out / "workers").iterdir()), timeout=HANG,
             what="the coordinator and a worker to say they wait")
    holder.close()                            # ...now
    assert sweep.wait(timeout=HANG) == 0, (tmp_path / "sweep.log").read_text()
    assert sum(t.state == State.COMPLETE for t in trials(local_url(out))) == 4
    logs = (tmp_path / "sweep.log").read_text() + "".join(p.read_text() for p in (out / "workers").iterdir())
    assert "Traceback" not in logs


def test_workers_wait_while_the_postgres_server_restarts(tmp_path: Path, digits: Path, postgres: Any,
                                                          processes: list) -> None:
    url = postgres.url.replace("glassnet@", "glassnet:hunter2@")        # trust auth: the password goes unused
    spec = write_spec(tmp_path, name="restart", trials=4, epochs=20, pruning="false", subset=600, heartbeat=10)
    processes.append(sweep := start("sweep", spec, "--out", tmp_path / "out", "--workers", "2", "--storage", url,
                                    "--data-dir", digits, log=tmp_path / "sweep.log"))
    logs = tmp_path / "out" / "workers"
    wait_for(logs.is_dir, timeout=HANG, what="the workers, started once the study exists")
    frozen = _frozen_mid_trial(postgres.url, epochs=20, name="restart")
    postgres.stop()
    os.kill(frozen.user_attrs["pid"], signal.SIGCONT)
    wait_for(lambda: any("waiting for the study's database" in log.read_text() for log in logs.iterdir()),
             timeout=HANG, what="a worker to say it waits")
    postgres.start()
    assert sweep.wait(timeout=HANG) == 0, (tmp_path / "sweep.log").read_text()
    assert sum(t.state in (State.COMPLETE, State.PRUNED) for t in trials(postgres.url, "restart")) >= 4
    printed = (tmp_path / "sweep.log").read_text() + "".join(log.read_text() for log in logs.iterdir())
    assert "Traceback" not in printed and "hunter2" not in printed


def _kill_the_worker_of_a_running_trial(url: str, name: str) -> Any:
    """SIGKILL the worker of a trial that is running (one epoch done of several), as when a machine is lost."""
    trial = _frozen_mid_trial(url, KILL_SPEC["epochs"], name)
    os.kill(trial.user_attrs["pid"], signal.SIGKILL)
    return trial


def _check_the_killed_trial_was_retried(url: str, name: str, killed: Any, wanted: int) -> None:
    found = trials(url, name)
    print([(t.number, t.state.name, t.system_attrs.get("failed_trial")) for t in found])   # shown if this fails
    assert sum(t.state in (State.COMPLETE, State.PRUNED) for t in found) == wanted
    assert next(t for t in found if t.number == killed.number).state == State.FAIL
    retries = [t for t in found if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].state == State.COMPLETE and retries[0].params == killed.params
    assert retries[0].user_attrs["pid"] != killed.user_attrs["pid"]
    assert len(history(retries[0].user_attrs["run_dir"])) == KILL_SPEC["epochs"]


# Trials of a few seconds on 12,000 real digits, so that a kill lands mid-trial. A dead worker is noticed
# 9 s after its last heartbeat, when the survivor has usually finished the other two trials: it must
# wait for the dead one's trial to be failed and queued again, and run it, instead of leaving.
KILL_SPEC = {"trials": 3, "epochs": 6, "pruning": "false", "subset": 12000, "hidden": "[256, 128]", "heartbeat": 3}


@pytest.mark.slow
def test_a_killed_worker_s_trial_is_retried_with_the_embedded_store(tmp_path: Path, mnist_dir: Path,
                                                                   processes: list) -> None:
    out = tmp_path / "out"
    processes.append(sweep := start("sweep", write_spec(tmp_path, **KILL_SPEC), "--out", out, "--workers", "2",
                                    "--data-dir", mnist_dir, log=tmp_path / "sweep.log"))
    wait_for(lambda: (out / "workers").is_dir(), what="the workers, started once the study exists")
    url = local_url(out)
    killed = _kill_the_worker_of_a_running_trial(url, "study")
    code = sweep.wait(timeout=HANG)
    printed = (tmp_path / "sweep.log").read_text()
    assert code == 0, printed
    assert "3 of 3 trials finished" in printed and "was killed (signal 9)" in printed
    _check_the_killed_trial_was_retried(url, "study", killed, 3)


@pytest.mark.slow
def test_workers_on_two_machines_share_a_postgres_study_and_survive_a_kill(
        tmp_path: Path, mnist_dir: Path, postgres_url: str, processes: list) -> None:
    spec = write_spec(tmp_path, name="shared", **KILL_SPEC)
    created = glassnet("sweep", spec, "--out", tmp_path / "coordinator", "--workers", "0", "--storage", postgres_url)
    assert created.returncode == 0, created.stderr
    assert shlex.join(["glassnet", "sweep", "worker", "--storage", postgres_url, "--study", "shared", "--out",
                       str(tmp_path / "coordinator")]) in created.stdout
    processes.extend(start("sweep", "worker", "--storage", postgres_url, "--study", "shared", "--out",
                           tmp_path / machine, "--data-dir", mnist_dir, log=tmp_path / f"{machine}.log")
                     for machine in ("machine-a", "machine-b"))        # each its own folder, as on its own disk
    killed = _kill_the_worker_of_a_running_trial(postgres_url, "shared")
    survivor = next(p for p in processes if p.pid != killed.user_attrs["pid"])
    assert survivor.wait(timeout=HANG) == 0, [(tmp_path / f"machine-{m}.log").read_text() for m in "ab"]
    _check_the_killed_trial_was_retried(postgres_url, "shared", killed, 3)
    report = glassnet("sweep", "report", tmp_path / "coordinator", "--storage", postgres_url)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "coordinator" / "best.toml").exists()
    rows = list(csv.DictReader((tmp_path / "coordinator" / "trials.csv").open()))
    assert sorted(r["state"] for r in rows) == ["complete"] * 3 + ["fail"]
    assert [r["error"] for r in rows if r["state"] == "fail"] == [NO_HEARTBEAT]
    assert [r["retry_of"] for r in rows if r["retry_of"]] == [str(killed.number)]

"""``glassnet sweep``: start a study and its workers here, join one from anywhere, report what it found."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from glassnet.cli.common import UsageError, add_mlflow_flag, load_data, mlflow_tracker
from glassnet.errors import GlassnetError


def _optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise GlassnetError("sweeps need Optuna: pip install 'glassnet[sweep]'") from None


def add_parsers(commands: Any, data_flags: Any) -> None:
    sweep = commands.add_parser("sweep", help="hyperparameter studies (Optuna) on this machine or many",
                                description="glassnet sweep SPEC.toml starts a study and runs it; "
                                            "glassnet sweep worker joins one; glassnet sweep report summarises one.")
    steps = sweep.add_subparsers(dest="sweep_command", required=True, metavar="SPEC.toml | worker | report")
    run = steps.add_parser("run", help="start (or continue) the study of SPEC.toml and run its trials here")
    run.add_argument("spec", type=Path, metavar="SPEC.toml")
    run.add_argument("--out", type=Path, metavar="DIR", help="the sweep folder (default: sweeps/<name>)")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="worker processes on this machine, sharing its cores (default 1, at most 4 a core; "
                          "0 with --storage: only create the study, for workers elsewhere)")
    run.add_argument("--storage", metavar="URL", help="a shared database, e.g. postgresql://user@host/db, so that "
                     "workers on other machines can join (default: an SQLite file in DIR)")
    data_flags(run)
    add_mlflow_flag(run, "each trial (under a run of the study) and pass it to the workers started here")
    worker = steps.add_parser("worker", help="join a study and run its trials until it has enough")
    worker.add_argument("--storage", metavar="URL", help="the study's database (required)")
    worker.add_argument("--from-coordinator", action="store_true", help=argparse.SUPPRESS)  # see local.start_workers
    worker.add_argument("--study", required=True, metavar="NAME", help="the study's name (the spec's name)")
    worker.add_argument("--out", type=Path, metavar="DIR", help="where this machine's trial folders go "
                        "(default: sweeps/<name>)")
    worker.add_argument("--index", type=int, metavar="K", help="seed the sampler from the spec's seed, K and the "
                        "trials already in the study (default: a fresh seed); the workers a sweep starts are "
                        "numbered 0, 1, …")
    data_flags(worker)
    add_mlflow_flag(worker, "each trial (under the study's run, when the sweep made one)")
    report = steps.add_parser("report", help="the trials table, best.toml and plots of a study")
    report.add_argument("folder", type=Path, metavar="DIR", help="the sweep folder")
    report.add_argument("--storage", metavar="URL", help="the study's database, when not in DIR")


def _data_args(mnist: Any) -> list[str]:
    """The worker flags that make it read the MNIST copy the coordinator already found (or downloaded)."""
    return ["--data-dir", str(mnist.folder), "--no-download"]


def cmd_sweep(args: argparse.Namespace) -> int:
    _optuna()
    return {"run": _run, "worker": _worker, "report": _report}[args.sweep_command](args)


def _say(line: str) -> None:
    print(line, flush=True)


def _write(line: str) -> None:
    """A line from a signal handler: straight to stdout's file, as print() may be busy in the same thread."""
    os.write(sys.stdout.fileno(), f"{line}\n".encode("utf-8", "backslashreplace"))


def _run(args: argparse.Namespace) -> int:
    from glassnet.sweep.local import available_cores, prepare_folder, start_workers
    from glassnet.sweep.spec import load_spec
    from glassnet.sweep.storage import local_url, redacted
    from glassnet.sweep.study import counts, create_study
    from glassnet.train import TrainData

    most = 4 * available_cores()
    if not (1 <= args.workers <= most or (args.workers == 0 and args.storage)):
        raise UsageError(f"--workers must be 1 to {most} (four per core here: more would only share the cores, "
                         "each with its own copy of MNIST), or 0 with --storage, to only create the study")
    spec = load_spec(args.spec)
    tracker = mlflow_tracker(args)
    if args.workers:                # the data checked before any folder is made: a failed start leaves nothing
        mnist = load_data(args)
        TrainData.from_mnist(mnist, spec.base.validation_size, spec.train_subset)
    folder = prepare_folder(args.out or Path("sweeps") / spec.name, spec.name)
    url = args.storage or local_url(folder)
    study = create_study(spec, url, say=_say)
    parent = tracker.study_run(spec.name, create=True) if tracker else None
    join = shlex.join(["glassnet", "sweep", "worker", "--storage", redacted(url), "--study", spec.name,
                       "--out", str(folder), *_mlflow_args(args)])
    if args.workers == 0:
        finished = counts(study.get_trials(deepcopy=False))["finished"]
        print(f"study {spec.name!r} is ready ({finished} of {spec.trials} trials finished); on each machine "
              f"run:\n  {join}")
        return 0
    threads = max(1, available_cores() // args.workers)
    print(f"sweep {spec.name!r}: {spec.trials} trials, {args.workers} worker(s) here with {threads} BLAS "
          f"thread(s) each; logs in {folder}/workers/", flush=True)
    if args.storage:
        print(f"other machines can join with: {join}", flush=True)
    started = time.perf_counter()
    relay = _Relay()
    workers = start_workers(args.workers, url, spec.name, folder, [*_data_args(mnist), *_mlflow_args(args)])
    try:
        relay.attach(workers)
        _follow(study, spec, workers)
    finally:
        for w in workers:                                   # on an error here: no worker is left running alone
            if w.poll() is None:
                w.terminate()                               # it abandons its trial, which is queued again
    print(f"\n{len(workers)} worker(s) done in {time.perf_counter() - started:.0f} s", flush=True)
    if tracker and parent:
        tracker.end_study_run(parent, counts(study.get_trials(deepcopy=False))["finished"] >= spec.trials)
    return _finish(study, spec, folder, workers, relay.count, _again(args, folder))


def _mlflow_args(args: argparse.Namespace) -> list[str]:
    return ["--mlflow", args.mlflow] if args.mlflow is not None else []


def _again(args: argparse.Namespace, folder: Path) -> str:
    """The command that continues this sweep, quoted for a shell (the URL without its password)."""
    from glassnet.sweep.storage import redacted

    return shlex.join(["glassnet", "sweep", str(args.spec), "--out", str(folder),
                       *(["--workers", str(args.workers)] if args.workers != 1 else []),
                       *(["--storage", redacted(args.storage)] if args.storage else []),
                       *(["--data-dir", str(args.data_dir)] if args.data_dir else []),
                       *(["--no-download"] if args.no_download else []), *_mlflow_args(args)])


class _Relay:
    """Ctrl-C (SIGINT) and SIGTERM on the coordinator, passed on to its workers at once: the first lets them
    finish their trials, the second abandons the trials (queued again). The coordinator itself stops at the
    third, or as soon as no worker is left to tell."""

    def __init__(self) -> None:
        self.count = 0
        self.workers: list[subprocess.Popen[bytes]] = []
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def attach(self, workers: list[subprocess.Popen[bytes]]) -> None:
        """Tell ``workers`` from now on, and of the signals that came while they were started."""
        self.workers = workers
        for _ in range(self.count):
            self._pass_on()

    def _pass_on(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGINT)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count >= 3 or not any(w.poll() is None for w in self.workers):
            raise KeyboardInterrupt
        self._pass_on()
        _write("\nCtrl-C: workers finish their trials and stop; Ctrl-C again abandons them (they are retried when "
               "the sweep runs again)" if self.count == 1 else
               "\nabandoning the running trials; Ctrl-C again stops this command at once")


def _outcome(trial: Any) -> str:
    """A finished trial's value, or why it failed."""
    from glassnet.sweep.failures import error_of

    error = error_of(trial)
    return f" ({error})" if error else f" {trial.value:.4f}" if trial.value is not None else ""


def _follow(study: Any, spec: Any, workers: list[subprocess.Popen[bytes]]) -> None:
    """Print each trial as it ends until every worker has exited. A trial that a worker leaves running when it
    ends (killed, say) is failed at once, with the cause, and queued to run again."""
    from glassnet.sweep.failures import worker_ended
    from glassnet.sweep.study import fail_left_running

    seen: set[int] = set()
    ended: set[int] = set()                       # the workers seen to have exited
    host = socket.gethostname()
    while True:
        done = all(w.poll() is not None for w in workers)
        for k, w in enumerate(workers):
            if w.returncode is not None and k not in ended:
                ended.add(k)
                fail_left_running(study, host, w.pid, worker_ended(k, w.pid, w.returncode), spec.max_retries)
        for t in study.get_trials(deepcopy=False):
            if t.number not in seen and t.state.is_finished():
                seen.add(t.number)
                print(f"  trial {t.number}: {t.state.name.lower()}{_outcome(t)}", flush=True)
        if done:
            return
        time.sleep(1.0)


def _finish(study: Any, spec: Any, folder: Path, workers: list[subprocess.Popen[bytes]], interrupted: int,
            again: str) -> int:
    from glassnet.sweep.failures import failing_run, stop_line
    from glassnet.sweep.report import write_report
    from glassnet.sweep.study import counts

    written = write_report(study, spec, folder)
    trials = study.get_trials(deepcopy=False)
    state = counts(trials)
    print(f"{state['finished']} of {spec.trials} trials finished ({state['failed']} failed); wrote {folder}/: "
          + ", ".join(written))
    if "best.toml" in written:
        print(f"best config: {folder}/best.toml "
              f"({shlex.join(['glassnet', 'train', '--config', str(folder / 'best.toml')])})")
    failing = failing_run(trials, study.user_attrs)
    if failing and state["finished"] < spec.trials:
        print(stop_line(spec.name, failing))
        return 1
    if interrupted:
        print(f"continue with: {again}")
        return 130
    for k, w in enumerate(workers):
        if w.returncode:
            print(f"worker {k} {_how(w.returncode)}; its log ends:\n  " + "\n  ".join(_log_tail(folder, k)))
    return 0 if state["finished"] >= spec.trials else 1


def _how(returncode: int) -> str:
    return f"was killed (signal {-returncode})" if returncode < 0 else f"exited with status {returncode}"


def _log_tail(folder: Path, k: int, lines: int = 3) -> list[str]:
    from glassnet.files import read_tail

    path = folder / "workers" / f"worker-{k}.log"
    try:
        return read_tail(path, "worker log").decode("utf-8", "replace").strip().splitlines()[-lines:]
    except (OSError, GlassnetError) as e:
        return [f"({path} cannot be read: {e})"]


class _WorkerSignals:
    """The first Ctrl-C (SIGINT) asks the worker to stop after its trial; the second, or SIGTERM, abandons the
    trial (at the end of the batch it trains); a Ctrl-C after that stops the worker at once, its trial left to
    go stale and be retried elsewhere."""

    def __init__(self, worker: Any) -> None:
        self.worker, self.count = worker, 0
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.count += 1
        abandon = number != signal.SIGINT or self.count > 1
        if number == signal.SIGINT and self.worker.abandon_requested:
            raise KeyboardInterrupt
        _write("abandoning the trial (it is queued to run again)" if abandon else
               "stopping after this trial (Ctrl-C again to abandon it)")
        self.worker.stop(abandon)


def _worker(args: argparse.Namespace) -> int:
    from glassnet.sweep.local import prepare_folder, read_coordinator_url, watch_coordinator
    from glassnet.sweep.study import load_study
    from glassnet.sweep.worker import Interrupted, Worker

    if args.from_coordinator:
        url = read_coordinator_url()
    elif args.storage:
        url = args.storage
    else:
        raise UsageError("--storage URL is required: the study's database")
    study, spec = load_study(url, args.study, args.index, say=_say)
    folder = prepare_folder(args.out or Path("sweeps") / spec.name, spec.name)
    tracker = mlflow_tracker(args)
    mnist = load_data(args, quiet=True)
    worker = Worker(study, spec, mnist, folder, log=_say, tracker=tracker)
    _WorkerSignals(worker)
    if args.from_coordinator:
        watch_coordinator(_coordinator_gone)
    try:
        summary = worker.run()
    except Interrupted:
        return 130
    print(f"worker done: ran {summary.ran} trial(s)", flush=True)
    return 130 if worker.stop_requested else 0


def _coordinator_gone() -> None:
    """The sweep that started this worker has ended without stopping it (killed): stop as SIGTERM would."""
    _say("the sweep that started this worker has ended (its pipe closed); stopping")
    os.kill(os.getpid(), signal.SIGTERM)


def _report(args: argparse.Namespace) -> int:
    from glassnet.sweep.local import study_of
    from glassnet.sweep.report import table_text, trial_rows, write_report
    from glassnet.sweep.storage import STORE_NAME, local_url
    from glassnet.sweep.study import load_study

    name = study_of(args.folder)
    if args.storage is None and not (args.folder / STORE_NAME).is_file():
        raise UsageError(f"{args.folder} has no {STORE_NAME}: its study lives on a server; give --storage URL")
    study, spec = load_study(args.storage or local_url(args.folder), name, say=_say)
    written = write_report(study, spec, args.folder)
    print(table_text(trial_rows(study, spec), [d.field for d in spec.space]), end="")
    print(f"wrote {args.folder}/: " + ", ".join(written))
    return 0

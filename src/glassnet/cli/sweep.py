"""``glassnet sweep``: start a study and its workers here, join one from anywhere, report what it found."""

from __future__ import annotations

import argparse
import signal
import subprocess
import time
from pathlib import Path
from types import FrameType
from typing import Any

from glassnet.cli.common import UsageError, load_data
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
                     help="worker processes on this machine, sharing its cores (default 1; 0 with --storage: "
                          "only create the study, for workers elsewhere)")
    run.add_argument("--storage", metavar="URL", help="a shared database, e.g. postgresql://user@host/db, so that "
                     "workers on other machines can join (default: an SQLite file in DIR)")
    data_flags(run)
    worker = steps.add_parser("worker", help="join a study and run its trials until it has enough")
    worker.add_argument("--storage", required=True, metavar="URL", help="the study's database")
    worker.add_argument("--study", required=True, metavar="NAME", help="the study's name (the spec's name)")
    worker.add_argument("--out", type=Path, metavar="DIR", help="where this machine's trial folders go "
                        "(default: sweeps/<name>)")
    worker.add_argument("--index", type=int, metavar="K", help="draw trials from the spec's seed + K (default: "
                        "a fresh seed); the workers a sweep starts are numbered 0, 1, …")
    data_flags(worker)
    report = steps.add_parser("report", help="the trials table, best.toml and plots of a study")
    report.add_argument("folder", type=Path, metavar="DIR", help="the sweep folder")
    report.add_argument("--storage", metavar="URL", help="the study's database, when not in DIR")


def _data_args(mnist: Any) -> list[str]:
    """The worker flags that make it read the MNIST copy the coordinator already found (or downloaded)."""
    return ["--data-dir", str(mnist.folder), "--no-download"]


def cmd_sweep(args: argparse.Namespace) -> int:
    _optuna()
    return {"run": _run, "worker": _worker, "report": _report}[args.sweep_command](args)


def _run(args: argparse.Namespace) -> int:
    from glassnet.sweep.local import available_cores, prepare_folder, start_workers
    from glassnet.sweep.spec import load_spec
    from glassnet.sweep.study import counts, create_study, local_url, redacted
    from glassnet.train import TrainData

    if args.workers < 0 or (args.workers == 0 and not args.storage):
        raise UsageError("--workers must be ≥ 1 (or 0 with --storage, to only create the study)")
    spec = load_spec(args.spec)
    if args.workers:                # the data checked before any folder is made: a failed start leaves nothing
        mnist = load_data(args)
        TrainData.from_mnist(mnist, spec.base.validation_size, spec.train_subset)
    folder = prepare_folder(args.out or Path("sweeps") / spec.name, spec.name)
    url = args.storage or local_url(folder)
    study = create_study(spec, url)
    join = f"glassnet sweep worker --storage URL --study {spec.name} --out DIR"
    if args.workers == 0:
        print(f"study {spec.name!r} is ready ({counts(study)['finished']} of {spec.trials} trials finished); "
              f"on each machine run:\n  {join}")
        return 0
    threads = max(1, available_cores() // args.workers)
    print(f"sweep {spec.name!r}: {spec.trials} trials, {args.workers} worker(s) here with {threads} BLAS "
          f"thread(s) each; logs in {folder}/workers/", flush=True)
    if args.storage:
        print(f"other machines can join with: {join}", flush=True)
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, _interrupt)               # `kill` stops the workers too, as Ctrl-C does
    workers = start_workers(args.workers, url, spec.name, folder, _data_args(mnist))
    try:
        interrupted = _follow(study, workers)
    finally:
        for w in workers:                                   # on an error here: no worker is left running alone
            if w.poll() is None:
                w.terminate()                               # it abandons its trial, which is queued again
    print(f"\n{len(workers)} worker(s) done in {time.perf_counter() - started:.0f} s", flush=True)
    again = f"glassnet sweep {args.spec} --out {folder}" + (f" --storage {redacted(args.storage)}" if args.storage
                                                            else "")
    return _finish(study, spec, folder, workers, interrupted, again)


def _interrupt(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _follow(study: Any, workers: list[subprocess.Popen[bytes]]) -> int:
    """Print each trial as it ends until every worker has exited; pass Ctrl-C on to them.
    Returns how many times Ctrl-C was pressed."""
    seen: set[int] = set()
    interrupts = 0
    while True:
        try:
            done = all(w.poll() is not None for w in workers)
            for t in study.get_trials(deepcopy=False):
                if t.number not in seen and t.state.is_finished():
                    seen.add(t.number)
                    value = f" {t.value:.4f}" if t.value is not None else ""
                    print(f"  trial {t.number}: {t.state.name.lower()}{value}", flush=True)
            if done:
                return interrupts
            time.sleep(1.0)
        except KeyboardInterrupt:
            interrupts += 1
            print("\nCtrl-C: workers finish their trials and stop; Ctrl-C again abandons them (they are retried "
                  "when the sweep runs again)" if interrupts == 1 else "\nabandoning the running trials", flush=True)
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGINT)


def _finish(study: Any, spec: Any, folder: Path, workers: list[subprocess.Popen[bytes]], interrupted: int,
            again: str) -> int:
    from glassnet.sweep.report import write_report
    from glassnet.sweep.study import counts

    written = write_report(study, spec, folder)
    state = counts(study)
    print(f"{state['finished']} of {spec.trials} trials finished ({state['failed']} failed); wrote {folder}/: "
          + ", ".join(written))
    if "best.toml" in written:
        print(f"best config: {folder}/best.toml (glassnet train --config {folder}/best.toml)")
    if interrupted:
        print(f"continue with: {again}")
        return 130
    for k, w in enumerate(workers):
        if w.returncode:
            tail = (folder / "workers" / f"worker-{k}.log").read_text(encoding="utf-8", errors="replace")
            how = f"was killed (signal {-w.returncode})" if w.returncode < 0 else f"exited with status {w.returncode}"
            print(f"worker {k} {how}; its log ends:\n  " + "\n  ".join(tail.strip().splitlines()[-3:]))
    return 0 if state["finished"] >= spec.trials else 1


class _Interrupts:
    """The first Ctrl-C (SIGINT) asks the worker to stop after its trial; the second, or SIGTERM, abandons it."""

    def __init__(self) -> None:
        self.count = 0
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.count += 1
        if number == signal.SIGINT and self.count == 1:
            print("stopping after this trial (Ctrl-C again to abandon it)", flush=True)
            return
        raise KeyboardInterrupt

    def stop_requested(self) -> bool:
        return self.count > 0


def _worker(args: argparse.Namespace) -> int:
    from glassnet.sweep.local import prepare_folder
    from glassnet.sweep.study import load_study
    from glassnet.sweep.worker import Interrupted, Worker

    study, spec = load_study(args.storage, args.study, args.index)
    folder = prepare_folder(args.out or Path("sweeps") / spec.name, spec.name)
    mnist = load_data(args, quiet=True)
    interrupts = _Interrupts()
    worker = Worker(study, spec, mnist, folder, log=lambda line: print(line, flush=True),
                    stop_requested=interrupts.stop_requested)
    try:
        summary = worker.run()
    except Interrupted:
        return 130
    print(f"worker done: ran {summary.ran} trial(s)", flush=True)
    return 130 if interrupts.stop_requested() else 0


def _report(args: argparse.Namespace) -> int:
    from glassnet.sweep.local import study_of
    from glassnet.sweep.report import table_text, trial_rows, write_report
    from glassnet.sweep.study import STORE_NAME, load_study, local_url

    name = study_of(args.folder)
    if args.storage is None and not (args.folder / STORE_NAME).is_file():
        raise UsageError(f"{args.folder} has no {STORE_NAME}: its study lives on a server; give --storage URL")
    study, spec = load_study(args.storage or local_url(args.folder), name)
    written = write_report(study, spec, args.folder)
    print(table_text(trial_rows(study, spec), [d.field for d in spec.space]), end="")
    print(f"wrote {args.folder}/: " + ", ".join(written))
    return 0

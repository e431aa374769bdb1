"""``glassnet train``: resolve the config, load MNIST, fit with progress, write the run folder."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from glassnet.checkpoint import CHECKPOINT_NAME, RESUME_NAME, resume_file
from glassnet.cli.common import (
    NoBar,
    UsageError,
    config_flags,
    load_data,
    mlflow_tracker,
    model_path,
    progress_bar,
    start_model,
)
from glassnet.config import TrainConfig, resolve
from glassnet.errors import GlassnetError
from glassnet.run_folder import held, new_timestamped, prepare_new


def _resolve_run(args: argparse.Namespace) -> tuple[TrainConfig, Path | None, list[Any]]:
    """The config, the run folder (None: a new time-stamped one) and the epochs already done."""
    from glassnet.checkpoint import read_checkpoint
    from glassnet.config import with_overrides
    from glassnet.train import training_record

    if args.resume is None:
        config = resolve(args.preset or "seed", args.config, config_flags(args))
        if args.out is not None and str(args.out).strip() in ("", "."):
            raise UsageError("--out needs the name of a new folder for the run")
        if config.threads > 0:
            from glassnet.train.threads import check

            check(config.threads)
        return config, args.out or (Path(config.run_dir) if config.run_dir else None), []
    extension = {k: v for k, v in config_flags(args).items() if k == "epochs"}
    if set(config_flags(args)) - {"epochs"} or args.config or args.out or args.init_from or args.preset:
        raise UsageError("--resume continues a run with its saved config; only --epochs may change (to extend it)")
    path = resume_file(args.resume)
    saved, done, _ = training_record(read_checkpoint(path)[0], path)
    return with_overrides(TrainConfig(), saved | extension, str(path)), args.resume, done


def cmd_train(args: argparse.Namespace) -> int:
    from glassnet.train import TrainData
    from glassnet.web.auth import owner_token

    if args.watch and not 0 <= args.watch_port <= 65535:
        raise UsageError(f"--watch-port must be in 0-65535 (0 picks a free one), got {args.watch_port}")
    token = owner_token() if args.watch else ""     # a bad GLASSNET_TOKEN is refused before anything is made
    tracker = mlflow_tracker(args)                  # so is --mlflow without its extra
    config, named, history = _resolve_run(args)
    start_model(args.init_from)                     # a missing or unreadable start is refused before anything is made
    started = time.perf_counter()
    mnist = load_data(args, args.quiet)
    data = TrainData.from_mnist(mnist, config.validation_size)
    # the folder is made once the data and the config are known to be good: a failed start leaves nothing
    run_dir = named if args.resume is not None and named is not None else \
        prepare_new(named) if named is not None else new_timestamped()
    tracking = tracker.run(config, run_dir) if tracker else None
    with held(run_dir), tracking or contextlib.nullcontext():     # the whole command: training, the report files
        return _train(args, config, history, mnist, data, run_dir, started, token, tracking)


def _train(args: argparse.Namespace, config: TrainConfig, history: list[Any], mnist: Any, data: Any,
           run_dir: Path, started: float, token: str, tracking: Any) -> int:
    from glassnet.checkpoint import update_metadata
    from glassnet.cli.watch import start_watch
    from glassnet.data.mnist import to_inputs
    from glassnet.metrics import ClassificationReport
    from glassnet.report import run_files
    from glassnet.train import Callback, EpochStats, Logs, fit
    from glassnet.train.early_stopping import selection

    try:
        run_files.write_config(run_dir, config)
    except OSError as e:
        raise GlassnetError(f"cannot write the run folder {run_dir}: {e.strerror or e}") from e

    class Progress(Callback):
        """A progress bar per epoch, a summary line after it, and the history files kept current."""

        def on_fit_start(self, model: Any, logs: Logs) -> None:
            from glassnet.train.threads import describe

            if not args.quiet:
                print(f"computing on {describe(logs['threads'])}", flush=True)
            if logs["engine_note"]:
                print(f"training layer by layer: the fast path refuses this network ({logs['engine_note']})",
                      flush=True)

        def on_epoch_start(self, epoch: int, logs: Logs) -> None:
            self.bar = progress_bar(logs["steps"], f"epoch {epoch}/{config.epochs}") if not args.quiet else NoBar()
            self.loss: float = 0.0
            self.accuracy: float = 0.0

        def on_batch_end(self, step: int, logs: Logs) -> None:
            batch = logs["batch"]
            self.loss = 0.9 * self.loss + 0.1 * logs["loss"] if batch else logs["loss"]          # smoothed for display
            self.accuracy = 0.9 * self.accuracy + 0.1 * logs["accuracy"] if batch else logs["accuracy"]
            self.bar.update(1)
            if batch % 20 == 0:
                self.bar.set_postfix_str(f"loss {self.loss:.4f} acc {self.accuracy:.1%} lr {logs['lr']:.2e}")

        def on_epoch_end(self, epoch: int, logs: Logs) -> None:
            stats: EpochStats = logs["stats"]
            self.bar.close()
            history.append(stats)
            run_files.write_history(run_dir, history)
            if args.quiet:
                return
            print(f"epoch {stats.epoch:>3}/{config.epochs}  train loss {stats.train_loss:.4f} "
                  f"acc {stats.train_accuracy:.2%}  {data.eval_name} loss {stats.eval_loss:.4f} "
                  f"acc {stats.eval_accuracy:.2%}  lr {stats.lr:.3g}  {stats.seconds:.1f}s", flush=True)

    if not args.quiet:
        print(f"training on {mnist.name}: {len(data.x_train)} images, evaluating on {data.eval_name} "
              f"({len(data.x_eval)}); run folder {run_dir}", flush=True)
    watch = start_watch(run_dir, config, data, mnist, args.watch_port, token) if args.watch else None
    callbacks: list[Callback] = [Progress()] + ([watch.recorder] if watch else []) + \
        ([tracking] if tracking else [])
    result = fit(config, data, run_dir=run_dir, callbacks=callbacks, resume=args.resume is not None,
                 init_from=model_path(args.init_from) if args.init_from else None)
    early = bool(config.early_stopping_patience)
    if not result.finished:                        # a stop from the live view, or Ctrl-C
        best = f" ({CHECKPOINT_NAME} holds the best epoch so far, {result.epoch})" if early and result.epoch else ""
        print(f"{result.stop_reason}; the checkpoint of the last finished epoch is kept in {run_dir}{best}.\n"
              f"continue with: glassnet train --resume {run_dir}", flush=True)
        if watch:
            watch.close()
        return 130 if result.stop_reason.startswith("interrupted") else 0
    selected = selection(config, result.history, result.epoch)
    if early:                                      # early stopping's own stop already names the epoch
        stopped = result.stop_reason.startswith("early stopping")
        print(result.stop_reason if stopped else f"{result.stop_reason}; the model is {selected}", flush=True)
    # the test set, used once: for the final report
    predicted = result.model.predict(to_inputs(mnist.test_images))
    report = ClassificationReport.from_predictions(mnist.test_labels, predicted)
    metrics = run_files.metrics_record(report, result.history, data.description, time.perf_counter() - started) \
        | {"model": {"epoch": result.epoch, "selected": selected}, "threads": result.threads}
    update_metadata(run_dir / CHECKPOINT_NAME, {"metrics": metrics})
    run_files.write_history(run_dir, result.history)
    run_files.write_metrics(run_dir, metrics)
    plots = _write_plots(run_dir, result, report, mnist.test_images, mnist.test_labels, predicted, data.eval_name)
    run_files.write_report(run_dir, config, report, result.history, metrics, plots)
    if tracking:
        tracking.log_final({"test_accuracy": report.accuracy, "test_macro_f1": report.macro("f1")})
    print(f"\ntest accuracy {report.accuracy:.2%}  macro precision {report.macro('precision'):.2%}  "
          f"recall {report.macro('recall'):.2%}  F1 {report.macro('f1'):.2%}")
    print(f"wrote {run_dir}/: {CHECKPOINT_NAME}, {RESUME_NAME + ', ' if early else ''}config.toml, history.csv, "
          f"history.json, metrics.json, report.md{', ' + ', '.join(plots) if plots else ''}")
    if watch:
        watch.finish()
    return 0


def _write_plots(run_dir: Path, result: Any, report: Any, images: Any, labels: Any, predicted: Any,
                 eval_name: str) -> list[str]:
    from glassnet.report import plots

    if not plots.matplotlib_available():
        print("(install the 'plot' extra for PNG plots: pip install 'glassnet[plot]')", file=sys.stderr)
        return []
    return [
        plots.learning_curves(result.history, run_dir / "learning_curves.png", eval_name),
        plots.confusion(report, run_dir / "confusion_matrix.png"),
        plots.per_class_f1(report, run_dir / "per_class_f1.png"),
        plots.misclassified(images, labels, predicted, run_dir / "misclassified.png"),
        plots.first_layer_weights(result.model.layers[0].weight.value, run_dir / "first_layer_weights.png"),
    ]

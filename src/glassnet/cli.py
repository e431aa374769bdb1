"""The ``glassnet`` command: train, evaluate, predict, gradcheck, info, serve.

The only module that prints or exits. Exit codes: 0 ok, 1 an expected failure
(one or two lines on stderr, no traceback), 2 a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import typing
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from glassnet import __version__
from glassnet.config import PRESETS, TrainConfig, resolve
from glassnet.errors import GlassnetError
from glassnet.train import CHECKPOINT_NAME

_FLAG_HELP = {
    "hidden": "hidden widths, comma-separated (e.g. 256,128)",
}


# --- argument parsing -----------------------------------------------------------------------

def _parse_widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 256,128, got {text!r}") from None


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field, defaulting to 'not given' so that presets and files apply."""
    group = parser.add_argument_group("training config (override the preset and --config file)")
    for field in dataclasses.fields(TrainConfig):
        kind = typing.get_type_hints(TrainConfig)[field.name]
        flag = "--" + field.name.replace("_", "-")
        default = getattr(PRESETS["seed"], field.name)
        help_text = _FLAG_HELP.get(field.name, f"default {default!r} in the seed preset")
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif kind == tuple[int, ...]:
            group.add_argument(flag, type=_parse_widths, default=None, metavar="W,W", help=help_text)
        else:
            group.add_argument(flag, type=kind, default=None, metavar=kind.__name__.upper(), help=help_text)


def _config_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
            if getattr(args, f.name) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassnet", description="A neural network you can see through: "
                                     "MNIST with NumPy only.")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train on MNIST and write a run folder")
    train.add_argument("--preset", default="seed", choices=sorted(PRESETS),
                       help="starting recipe (default: seed, the reference recipe)")
    train.add_argument("--config", type=Path, metavar="RUN.toml", help="TOML file of config fields")
    train.add_argument("--out", type=Path, metavar="DIR", help="run folder (default: config run_dir, "
                       "else runs/<time stamp>)")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    _add_data_flags(train)
    train.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    _add_config_flags(train)

    evaluate = commands.add_parser("evaluate", help="classification report of a model on the test set")
    evaluate.add_argument("model", type=Path, help=f"a model file ({CHECKPOINT_NAME}) or its run folder")
    _add_data_flags(evaluate)
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")

    predict = commands.add_parser("predict", help="read digits from PNG/JPEG images or .npy arrays")
    predict.add_argument("model", type=Path, help=f"a model file ({CHECKPOINT_NAME}) or its run folder")
    predict.add_argument("files", type=Path, nargs="+", metavar="FILE")
    predict.add_argument("--json", action="store_true", help="one JSON record per line")

    gradcheck = commands.add_parser("gradcheck", help="check backpropagation against finite differences")
    gradcheck.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    gradcheck.add_argument("--samples", type=int, default=20,
                           help="coordinates checked per tensor (default 20; 0 = all, slow)")
    gradcheck.add_argument("--seed", type=int, default=0)

    serve = commands.add_parser("serve", help="the draw-a-digit web page, on http://127.0.0.1:8000")
    serve.add_argument("model", type=Path, nargs="?",
                       help=f"a model file or run folder (default: the newest runs/*/{CHECKPOINT_NAME})")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="MNIST folder, for the random test digits (default: $GLASSNET_DATA, then the cache)")

    info = commands.add_parser("info", help="architecture, parameter counts, config and metrics of a model")
    info.add_argument("model", type=Path, help=f"a model file ({CHECKPOINT_NAME}) or its run folder")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _add_data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder with the MNIST IDX files (default: $GLASSNET_DATA, then the user cache)")
    parser.add_argument("--no-download", action="store_true", help="never download MNIST")


# --- commands ---------------------------------------------------------------------------------

def _model_path(path: Path) -> Path:
    return path / CHECKPOINT_NAME if path.is_dir() else path


def _load_data(args: argparse.Namespace, quiet: bool = False) -> Any:
    from glassnet.data.mnist import load_mnist

    bar: dict[str, Any] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if quiet:
            return
        if name not in bar:
            bar[name] = _progress_bar(total, f"download {name}", unit="B")
        bar[name].update(done - bar[name].n)

    try:
        return load_mnist(args.data_dir, download=not args.no_download, progress=progress)
    finally:
        for b in bar.values():
            b.close()


def _progress_bar(total: int | None, description: str, unit: str = "it") -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=description, unit=unit, unit_scale=unit == "B", leave=False,
                dynamic_ncols=True, file=sys.stderr, disable=None)      # None: no bar when not a terminal


class _NoBar:
    """Stands in for tqdm when it is not installed."""

    n = 0

    def update(self, k: int) -> None:
        self.n += k

    def set_postfix_str(self, text: str) -> None: ...
    def close(self) -> None: ...


def _resolve_run(args: argparse.Namespace) -> tuple[TrainConfig, Path, list[Any]]:
    """The config, the run folder and the epochs already done (a resumed run keeps its saved config)."""
    from glassnet.checkpoint import read_checkpoint
    from glassnet.config import with_overrides
    from glassnet.train import EpochStats

    if args.resume is None:
        config = resolve(args.preset, args.config, _config_flags(args))
        run_dir = args.out or Path(config.run_dir or f"runs/{datetime.now():%Y%m%d-%H%M%S}")
        if (run_dir / CHECKPOINT_NAME).exists():
            raise GlassnetError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                                "or choose another --out")
        return config, run_dir, []
    if _config_flags(args) or args.config or args.out:
        raise _UsageError("--resume continues a run with its saved config; drop the other config flags")
    meta, _ = read_checkpoint(args.resume / CHECKPOINT_NAME)
    config = with_overrides(TrainConfig(), meta.get("config") or {}, str(args.resume / CHECKPOINT_NAME))
    return config, args.resume, [EpochStats(**record) for record in meta.get("history", [])]


def _train_data(mnist: Any, config: TrainConfig) -> Any:
    """Training and evaluation arrays: uint8 pixels (divided by 255 batch by batch, a quarter of the
    memory of float32 inputs), with the last ``validation_size`` training images held out if asked."""
    from glassnet.train import TrainData

    x_train, y_train = mnist.train_images.reshape(len(mnist.train_images), -1), mnist.train_labels
    if config.validation_size >= len(x_train):
        raise GlassnetError(f"validation_size {config.validation_size} leaves no training data "
                            f"({len(x_train)} training images)")
    description = {"name": mnist.name, "official": mnist.official, "folder": str(mnist.folder),
                   "n_train": len(x_train) - config.validation_size, "n_test": len(mnist.test_labels)}
    if config.validation_size:
        cut = len(x_train) - config.validation_size
        return TrainData(x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:], "validation", description)
    x_test = mnist.test_images.reshape(len(mnist.test_images), -1)
    return TrainData(x_train, y_train, x_test, mnist.test_labels, "test", description)


def cmd_train(args: argparse.Namespace) -> int:
    from glassnet.data.mnist import to_inputs
    from glassnet.metrics import ClassificationReport
    from glassnet.report import run_files
    from glassnet.train import Callback, EpochStats, fit, record_metrics

    config, run_dir, history = _resolve_run(args)
    started = time.perf_counter()
    mnist = _load_data(args, args.quiet)
    data = _train_data(mnist, config)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        run_files.write_config(run_dir, config)
    except OSError as e:
        raise GlassnetError(f"cannot write the run folder {run_dir}: {e.strerror or e}") from e

    class Progress(Callback):
        """A progress bar per epoch, a summary line after it, and the history files kept current."""

        def on_epoch_start(self, epoch: int, n_batches: int) -> None:
            self.bar = _progress_bar(n_batches, f"epoch {epoch}/{config.epochs}") if not args.quiet else _NoBar()
            self.loss: float = 0.0
            self.accuracy: float = 0.0

        def on_batch_end(self, epoch: int, batch: int, loss: float, accuracy: float, lr: float) -> None:
            self.loss = 0.9 * self.loss + 0.1 * loss if batch else loss          # smoothed for display
            self.accuracy = 0.9 * self.accuracy + 0.1 * accuracy if batch else accuracy
            self.bar.update(1)
            if batch % 20 == 0:
                self.bar.set_postfix_str(f"loss {self.loss:.4f} acc {self.accuracy:.1%} lr {lr:.2e}")

        def on_epoch_end(self, stats: EpochStats) -> None:
            self.bar.close()
            history.append(stats)
            run_files.write_history(run_dir, history)
            print(f"epoch {stats.epoch:>3}/{config.epochs}  train loss {stats.train_loss:.4f} "
                  f"acc {stats.train_accuracy:.2%}  {data.eval_name} loss {stats.eval_loss:.4f} "
                  f"acc {stats.eval_accuracy:.2%}  lr {stats.lr:.3g}  {stats.seconds:.1f}s", flush=True)

    if not args.quiet:
        print(f"training on {mnist.name}: {len(data.x_train)} images, evaluating on {data.eval_name} "
              f"({len(data.x_eval)}); run folder {run_dir}", flush=True)
    result = fit(config, data, run_dir=run_dir, callbacks=[Progress()], resume=args.resume is not None)
    # the test set, used once: for the final report
    predicted = result.model.predict(to_inputs(mnist.test_images))
    report = ClassificationReport.from_predictions(mnist.test_labels, predicted)
    metrics = run_files.metrics_record(report, result.history, data.description, time.perf_counter() - started)
    record_metrics(run_dir, result.model, metrics)
    run_files.write_history(run_dir, result.history)
    run_files.write_metrics(run_dir, metrics)
    plots = _write_plots(run_dir, result, report, mnist.test_images, mnist.test_labels, predicted, data.eval_name)
    run_files.write_report(run_dir, config, report, result.history, metrics, plots)
    print(f"\ntest accuracy {report.accuracy:.2%}  macro precision {report.macro('precision'):.2%}  "
          f"recall {report.macro('recall'):.2%}  F1 {report.macro('f1'):.2%}")
    print(f"wrote {run_dir}/: {CHECKPOINT_NAME}, config.toml, history.csv, history.json, metrics.json, "
          f"report.md{', ' + ', '.join(plots) if plots else ''}")
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from glassnet.checkpoint import load_model
    from glassnet.data.mnist import to_inputs
    from glassnet.metrics import ClassificationReport

    model, _ = load_model(_model_path(args.model))
    mnist = _load_data(args, quiet=args.json)
    report = ClassificationReport.from_predictions(mnist.test_labels, model.predict(to_inputs(mnist.test_images)))
    if args.json:
        print(json.dumps({"dataset": mnist.name, "official": mnist.official} | report.to_dict()))
    else:
        print(f"{mnist.name}, test set ({len(mnist.test_labels)} images)\n")
        print(report.format())
        print("\nconfusion matrix (rows: true, columns: predicted)")
        print(report.format_confusion())
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from glassnet.checkpoint import load_model
    from glassnet.images import load_digits

    model, _ = load_model(_model_path(args.model))
    for path in args.files:
        for name, image in load_digits(path):
            probabilities = model.predict_proba(image.reshape(1, 784))[0]
            digit = int(probabilities.argmax())
            if args.json:
                print(json.dumps({"file": name, "prediction": digit,
                                  "probabilities": [round(float(p), 6) for p in probabilities]}))
            else:
                bars = "  ".join(f"{c}:{p:.3f}" for c, p in enumerate(probabilities))
                print(f"{name}: {digit}  ({probabilities[digit]:.1%})   {bars}")
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from glassnet.nn.gradcheck import check_model
    from glassnet.nn.model import mlp

    if args.batch < 2 or args.samples < 0:
        raise _UsageError("--batch must be ≥ 2 (BatchNorm needs two samples) and --samples ≥ 0")
    rng = np.random.default_rng(args.seed)
    model = mlp([784, 256, 128, 10], rng=rng, dropout=0.2, dtype=np.float64)
    x, labels = rng.random((args.batch, 784)), rng.integers(0, 10, args.batch)
    report = check_model(model, x, labels, rng=rng, n_samples=args.samples or None)
    print("Reference model 784-256-128-10 (BatchNorm in training mode, dropout mask held fixed), float64,\n"
          f"batch {args.batch}, centred differences with h = 1e-6; relative error = "
          "‖analytic − numerical‖ / (‖analytic‖ + ‖numerical‖)\n")
    print(report.format())
    verdict = "PASS" if report.passed(1e-6) else "FAIL"
    print(f"\nlargest relative error {report.max_rel_error:.2e}: {verdict} "
          "(below 1e-6 means backpropagation agrees with finite differences)")
    return 0 if verdict == "PASS" else 1


def cmd_info(args: argparse.Namespace) -> int:
    from glassnet.checkpoint import load_model

    model, meta = load_model(_model_path(args.model))
    layers = []
    for i, layer in enumerate(model.layers):
        count = sum(p.size for p in layer.params())
        shapes = ", ".join(f"{p.name} {p.value.shape}" for p in layer.params())
        layers.append({"index": i, "layer": type(layer).__name__, "parameters": count, "shapes": shapes})
    if args.json:
        print(json.dumps({"architecture": meta["architecture"], "layers": layers,
                          "parameters": int(model.flat.value.size), "config": meta.get("config"),
                          "epoch": meta.get("epoch"), "metrics": meta.get("metrics"),
                          "glassnet_version": meta.get("glassnet_version")}))
        return 0
    arch = meta["architecture"]
    print(f"MLP {'-'.join(map(str, arch['sizes']))}, dropout {arch['dropout']}, "
          f"batchnorm {arch['batchnorm']}, {arch['dtype']}; trained {meta.get('epoch', '?')} epochs "
          f"with glassnet {meta.get('glassnet_version', '?')}\n")
    for row in layers:
        print(f"  {row['index']:>2}  {row['layer']:<10}{row['parameters']:>9,}  {row['shapes']}")
    print(f"  total parameters {model.flat.value.size:,}\n")
    if meta.get("config"):
        print("config: " + ", ".join(f"{k}={v}" for k, v in meta["config"].items()))
    test = (meta.get("metrics") or {}).get("test")
    if test:
        print(f"test accuracy {test['accuracy']:.2%}, macro F1 {test['macro']['f1']:.2%} "
              f"({meta['metrics']['dataset'].get('name', '?')})")
    return 0


def newest_model(root: Path = Path("runs")) -> Path:
    """The most recently written runs/*/model.npz."""
    models = sorted(root.glob(f"*/{CHECKPOINT_NAME}"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise GlassnetError(f"no trained model in {root}/; train one with 'glassnet train' or pass MODEL")
    return models[-1]


def cmd_serve(args: argparse.Namespace) -> int:
    from glassnet.checkpoint import load_model
    from glassnet.data.mnist import load_mnist
    from glassnet.errors import DatasetError
    from glassnet.web.server import DigitApp, make_server

    path = _model_path(args.model) if args.model else newest_model()
    model, _ = load_model(path)
    images: Any = None
    labels: Any = None
    try:
        mnist = load_mnist(args.data_dir, download=False)
        images, labels = mnist.test_images, mnist.test_labels
    except DatasetError:
        print("(MNIST not found: the 'random test digit' button is off; pass --data-dir to turn it on)",
              file=sys.stderr)
    try:
        server = make_server(DigitApp(model, images, labels), args.host, args.port)
    except OSError as e:
        raise GlassnetError(f"cannot listen on {args.host}:{args.port} ({e.strerror or e}); "
                            "choose another --port") from e
    print(f"serving {path} on http://{args.host}:{server.server_address[1]}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "gradcheck": cmd_gradcheck, "info": cmd_info, "serve": cmd_serve}


class _UsageError(Exception):
    """A command-line mistake the parser cannot see; exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except _UsageError as e:
        parser.print_usage(sys.stderr)
        print(f"glassnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except GlassnetError as e:
        print(f"glassnet {args.command}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:                                   # disk full, read-only or missing folder, …
        where = f"{e.filename}: " if e.filename else ""
        print(f"glassnet {args.command}: error: {where}{e.strerror or e}\nhelp: check that the folder exists, "
              "is writable and that the disk has space; finished checkpoints are kept", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"glassnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``glassnet evaluate | predict | gradcheck | info | export | compare``: using and inspecting trained models."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from glassnet.cli.common import UsageError, load_data, model_path
from glassnet.errors import GlassnetError


def _needs_mnist_shape(model: Any) -> None:
    if model.n_inputs != 784 or model.n_classes != 10:
        raise GlassnetError(f"this model reads {model.n_inputs} inputs into {model.n_classes} classes; digits are "
                            "28×28 = 784 pixels into 10 classes: use a model trained on MNIST")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from glassnet.checkpoint import load_model
    from glassnet.data.mnist import to_inputs
    from glassnet.metrics import ClassificationReport
    from glassnet.nn.kinds import fold

    model, _ = load_model(model_path(args.model))
    _needs_mnist_shape(model)
    mnist = load_data(args, quiet=args.json)
    # the folded network: the layers' predictions on the test set for the demo and reference models (docs/speed.md),
    # faster; over a pool of threads, as predict_proba runs many rows
    probabilities = fold(model).predict_proba(to_inputs(mnist.test_images))
    report = ClassificationReport.from_predictions(mnist.test_labels, probabilities.argmax(axis=1))
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

    if args.model is not None:
        model_name, files = args.model, args.items
    else:
        model_name, files = args.items[0], args.items[1:]
    if not files:
        raise UsageError("name the image or .npy files to read, after the model (or use --model MODEL)")
    model, _ = load_model(model_path(model_name))
    _needs_mnist_shape(model)
    blank = False
    for path in files:
        for name, image in load_digits(path):
            if not image.any():                        # no ink: there is no digit to read
                blank = True
                print(json.dumps({"file": name, "blank": True, "prediction": None, "probabilities": None})
                      if args.json else f"{name}: blank (no ink found)")
                continue
            probabilities = model.predict_proba(image.reshape(1, 784))[0]
            if not np.isfinite(probabilities).all():
                raise GlassnetError(f"the model gives non-finite probabilities for {name}; its file is damaged "
                                    "(retrain it, or use another model)")
            digit = int(probabilities.argmax())
            if args.json:
                print(json.dumps({"file": name, "prediction": digit,
                                  "probabilities": [round(float(p), 6) for p in probabilities]}, allow_nan=False))
            else:
                bars = "  ".join(f"{c}:{p:.3f}" for c, p in enumerate(probabilities))
                print(f"{name}: {digit}  ({probabilities[digit]:.1%})   {bars}")
    return 3 if blank else 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from glassnet.nn.gradcheck import check_model
    from glassnet.nn.model import mlp

    if args.batch < 2 or args.samples < 0 or not 0 <= args.seed < 2**63:
        raise UsageError("--batch must be ≥ 2 (BatchNorm needs two samples), --samples ≥ 0 and --seed in [0, 2**63)")
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
    from glassnet.checkpoint import load_model, recorded, recorded_figures, shown

    model, meta = load_model(model_path(args.model))
    layers = []
    for i, layer in enumerate(model.layers):
        count = sum(p.size for p in layer.params())
        shapes = ", ".join(f"{p.name} {p.value.shape}" for p in layer.params())
        layers.append({"index": i, "layer": type(layer).__name__, "parameters": count, "shapes": shapes})
    config, metrics = recorded(meta, "config", kind=dict), recorded(meta, "metrics", kind=dict)
    epoch, version = recorded(meta, "epoch", kind=int), recorded(meta, "glassnet_version", kind=str)
    figures = recorded_figures(meta)
    threads = recorded(meta, "threads", kind=dict)
    count = recorded(meta, "threads", "count", kind=int)
    if args.json:
        print(json.dumps({"architecture": model.architecture, "layers": layers, "parameters": model.n_params,
                          "config": config, "epoch": epoch, "metrics": metrics, "glassnet_version": version,
                          "recorded": figures, "threads": threads}))
        return 0
    arch = model.architecture                  # the recipe, only when it builds exactly these layers
    kind = (f"MLP {'-'.join(map(str, arch['sizes']))}, {arch.get('activation', 'relu')}, dropout {arch['dropout']}, "
            f"batchnorm {arch['batchnorm']}"
            if arch else f"Sequential of {len(model.layers)} layers, {'-'.join(map(str, _widths(model)))}")
    print(f"{kind}, {model.dtype.name}; trained {'?' if epoch is None else epoch} epochs "
          f"with glassnet {shown(version or '?')}\n")
    for row in layers:
        print(f"  {row['index']:>2}  {row['layer']:<10}{row['parameters']:>9,}  {row['shapes']}")
    print(f"  total parameters {model.n_params:,}\n")
    if config:
        print("config: " + shown(", ".join(f"{k}={v}" for k, v in config.items())))
    if count is not None:
        source = recorded(meta, "threads", "source", kind=str)
        print(f"trained on {count} BLAS thread(s){' (' + shown(source) + ')' if source else ''}")
    for line in _figure_lines(figures):
        print(line)
    return 0


def _figure_lines(figures: dict[str, Any]) -> list[str]:
    """The recorded figures (``checkpoint.recorded_figures``) as info shows them."""
    lines = []
    if "test_accuracy" in figures:
        f1 = f", macro F1 {figures['macro_f1']:.2%}" if "macro_f1" in figures else ""
        lines.append(f"test accuracy {figures['test_accuracy']:.2%}{f1} ({figures.get('dataset', '?')})")
    lines += [f"{name} {figures[key]}" for key, name in (("seed", "seed"), ("recipe", "recipe:"),
                                                          ("command", "made by:")) if key in figures]
    return lines


def _widths(model: Any) -> list[int]:
    """The sizes a model's linear layers map between: inputs, each hidden width, classes."""
    from glassnet.nn.layers import Linear

    linears = [layer for layer in model.layers if isinstance(layer, Linear)]
    return [linears[0].in_features, *(layer.out_features for layer in linears)]


def cmd_export(args: argparse.Namespace) -> int:
    from glassnet.checkpoint import load_model

    model, meta = load_model(model_path(args.model))
    if args.format == "web":
        from glassnet.export.web import write_web

        folder = write_web(model, args.out, _accuracy_note(meta))
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"wrote {folder}/ ({size / 1e6:.2f} MB): open {folder / 'index.html'} in a browser, or put the "
              "folder on any static web host")
        return 0
    from glassnet.export.onnx import write_onnx

    path = write_onnx(model, args.out, meta)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): input x (N, {model.n_inputs}) float32 in [0, 1], "
          f"output probabilities (N, {model.n_classes}); the class labels, the input's layout and the recorded "
          "figures are in its metadata")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from glassnet.report import compare, plots

    if args.plot is not None and (args.plot.exists() or args.plot.suffix.lower() != ".png"):
        raise UsageError(f"--plot needs the name of a new .png file; {args.plot} "
                         + ("exists and is never replaced" if args.plot.exists() else "does not end in .png"))
    runs = [compare.load_run(folder) for folder in args.runs]
    print(compare.table(runs), end="")
    if args.plot is not None:
        if not plots.matplotlib_available():
            raise GlassnetError("--plot needs matplotlib: pip install 'glassnet[plot]'")
        plots.compared_runs(runs, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _accuracy_note(meta: dict[str, Any]) -> str:
    """The test accuracy a model file records (the demo model's, or a run's), for the exported page."""
    from glassnet.checkpoint import recorded_figures

    accuracy = recorded_figures(meta).get("test_accuracy")
    return f"test accuracy {accuracy:.2%} on MNIST" if accuracy is not None else ""

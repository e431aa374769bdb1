"""The ``glassnet`` command: train, evaluate, predict, gradcheck, info, serve, learn, export, sweep, compare, lr-find.

The only package that prints or exits. Exit codes: 0 ok, 1 an expected failure
(one or two lines on stderr, no traceback), 2 a usage error. Each subcommand
lives in its own module; this one parses the arguments and dispatches.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import sys
import typing
from collections.abc import Sequence
from pathlib import Path

from glassnet.checkpoint import CHECKPOINT_NAME
from glassnet.cli.common import UsageError, add_mlflow_flag
from glassnet.cli.learn import at_least, cmd_learn
from glassnet.cli.lr_find import add_parser as add_lr_find_parser
from glassnet.cli.lr_find import cmd_lr_find
from glassnet.cli.models import cmd_compare, cmd_evaluate, cmd_export, cmd_gradcheck, cmd_info, cmd_predict
from glassnet.cli.serve import cmd_serve
from glassnet.cli.sweep import add_parsers as add_sweep_parsers
from glassnet.cli.sweep import cmd_sweep
from glassnet.cli.train import cmd_train
from glassnet.config import AUTO, MEASURE, PRESETS, TrainConfig
from glassnet.errors import GlassnetError
from glassnet.version import __version__

_FLAG_HELP = {
    "hidden": "hidden widths, comma-separated (e.g. 256,128)",
    "threads": "BLAS threads for training: N; auto (the default: the BLAS's starting count, at most 8, the same "
               "run for a seed on a machine); or measure (the fastest of a short measurement at the start, faster "
               "on an unknown machine, but a busy machine may choose another count, and other bits); recorded "
               "in the run, and a resumed run keeps it",
}



def _parse_widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 256,128, got {text!r}") from None


def _parse_threads(text: str) -> int:
    words = {"auto": AUTO, "measure": MEASURE}
    if text.strip().lower() in words:
        return words[text.strip().lower()]
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected auto, measure or a number of threads ≥ 1, got {text!r}")
    return count


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
        elif field.name == "threads":
            group.add_argument(flag, type=_parse_threads, default=None, metavar="N|auto|measure", help=help_text)
        else:
            group.add_argument(flag, type=kind, default=None, metavar=kind.__name__.upper(), help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassnet", description="A neural network you can see through: "
                                     "MNIST with NumPy only.")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train on MNIST and write a run folder")
    train.add_argument("--preset", default=None, choices=sorted(PRESETS),
                       help="starting recipe (default: seed, the reference recipe)")
    train.add_argument("--config", type=Path, metavar="RUN.toml", help="TOML file of config fields")
    train.add_argument("--out", type=Path, metavar="DIR", help="run folder (default: config run_dir, "
                       "else runs/<time stamp>)")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR",
                       help="continue the run in RUN_DIR (with --epochs K: extend it to K epochs)")
    train.add_argument("--init-from", type=Path, metavar="MODEL",
                       help="start a new run from the weights of MODEL (a model file or run folder, same layers)")
    _add_data_flags(train)
    train.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    train.add_argument("--watch", action="store_true",
                       help="serve the live view of this run on 127.0.0.1 (pause, resume and stop it from the page)")
    train.add_argument("--watch-port", type=int, default=8000, metavar="PORT",
                       help="port of the live view (default 8000; 0 picks a free one)")
    add_mlflow_flag(train, "the run")
    _add_config_flags(train)

    evaluate = commands.add_parser("evaluate", help="classification report of a model on the test set")
    evaluate.add_argument("model", type=Path, help=f"a model file ({CHECKPOINT_NAME}), its run folder or 'demo'")
    _add_data_flags(evaluate)
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")

    predict = commands.add_parser("predict", help="read digits from PNG/JPEG images or .npy arrays",
                                  epilog="exit status: 0 every file read, 3 some file showed no digit (blank), "
                                         "1 an error")
    predict.add_argument("items", type=Path, nargs="+", metavar="[MODEL] FILE",
                         help=f"a model file ({CHECKPOINT_NAME}), its run folder or 'demo', then the files; "
                              "or only the files, with --model")
    predict.add_argument("--model", type=Path, help="the model (a file, a run folder, or 'demo': the pretrained one)")
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
    serve.add_argument("--live", action="store_true",
                       help="follow MODEL's run folder: its training curves and statistics, running or finished, "
                            "and the draw pad answered by its newest checkpoint")
    serve.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="MNIST folder, for the random test digits (default: $GLASSNET_DATA, then the cache)")

    learn = commands.add_parser("learn", help="exercises that check themselves: start, check, hint, train; "
                                "labs you predict before you run: lab")
    steps = learn.add_subparsers(dest="learn_command", required=True, metavar="STEP")
    learn_start = steps.add_parser("start", help="write a workbook of exercise stubs into FOLDER")
    learn_start.add_argument("folder", type=Path, metavar="FOLDER")
    learn_start.add_argument("--notebook", action="store_true",
                             help="also write workbook.ipynb: each stub in a cell that saves it, then a check")
    learn_check = steps.add_parser("check", help="check the exercises of a workbook (exit status 1 if any fails)")
    learn_check.add_argument("folder", type=Path, metavar="FOLDER")
    learn_check.add_argument("names", nargs="*", metavar="NAME", help="exercises to check (default: all)")
    learn_check.add_argument("--json", action="store_true",
                             help="one JSON record per check (with the cause named and the hint steps used)")
    learn_hint = steps.add_parser("hint", help="the next step of an exercise's hints (what to compute and its "
                                               "shape, the local derivatives, the formula)")
    learn_hint.add_argument("exercise", metavar="EXERCISE")
    learn_hint.add_argument("folder", type=Path, nargs="?", default=Path("."), metavar="FOLDER",
                            help="the workbook (default: the current folder)")
    learn_train = steps.add_parser("train", help="check, then train the network built from your code beside "
                                                 "glassnet's; say whether the gap is noise (exit status 1 if a check "
                                                 "fails or the gap is real)")
    learn_train.add_argument("folder", type=Path, metavar="FOLDER")
    learn_train.add_argument("--epochs", type=at_least(1), default=3, help="default 3")
    learn_train.add_argument("--train-size", type=at_least(2, " (batch norm needs two digits in a batch)"),
                             default=10000, help="training digits (default 10000)")
    learn_train.add_argument("--test-size", type=at_least(1), default=2000, help="test digits (default 2000)")
    learn_train.add_argument("--seed", type=at_least(0), default=0, help="default 0")
    _add_data_flags(learn_train)
    learn_lab = steps.add_parser("lab", help="the labs (without NAME: the list); with NAME: its question, your "
                                             "prediction, then the measurement beside it and what it means")
    learn_lab.add_argument("name", nargs="?", metavar="NAME", help="the lab to run (default: list them)")
    learn_lab.add_argument("--prediction", metavar="X", help="your prediction (a number, or an option by its "
                           "number or words) instead of asking for it on stdin")
    _add_data_flags(learn_lab)

    export = commands.add_parser("export", help="a trained model as a static web page, or an ONNX graph")
    export.add_argument("model", type=Path, help=f"a model file ({CHECKPOINT_NAME}), its run folder or 'demo'")
    export.add_argument("--format", choices=["web", "onnx"], required=True,
                        help="web: a folder with the draw-a-digit page, no server needed; "
                             "onnx: a standard ONNX graph (the 'onnx' extra)")
    export.add_argument("out", type=Path, metavar="OUT",
                        help="the new folder (web) or file (onnx); an existing one is never replaced")

    info = commands.add_parser("info", help="architecture, parameter counts, config and metrics of a model")
    info.add_argument("model", type=Path, help=f"a model file ({CHECKPOINT_NAME}), its run folder or 'demo'")
    info.add_argument("--json", action="store_true", help="machine-readable output")

    add_sweep_parsers(commands, _add_data_flags)
    add_lr_find_parser(commands, _add_data_flags, _add_config_flags)
    compare = commands.add_parser("compare", help="run folders side by side: a table and overlaid learning curves")
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run folders (a sweep's trials/NNNN too)")
    compare.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw their learning curves into FILE.png "
                         "(a new file; the 'plot' extra)")
    return parser


def _add_data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder with the MNIST IDX files (default: $GLASSNET_DATA, then the user cache)")
    parser.add_argument("--no-download", action="store_true", help="never download MNIST")


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "gradcheck": cmd_gradcheck, "info": cmd_info, "serve": cmd_serve, "learn": cmd_learn,
            "export": cmd_export, "sweep": cmd_sweep, "compare": cmd_compare, "lr-find": cmd_lr_find}
SWEEP_STEPS = ("run", "worker", "report", "-h", "--help")


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):    # file names that are not valid text print escaped, not a traceback
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) > 1 and argv[0] == "sweep" and argv[1] not in SWEEP_STEPS:
        argv.insert(1, "run")                  # `glassnet sweep SPEC.toml` is `glassnet sweep run SPEC.toml`
    args, extra = parser.parse_known_args(argv)
    if args.command == "predict" and extra and not any(item.startswith("-") for item in extra):
        args.items += map(Path, extra)         # files after an option: `predict demo --json a.png b.png`
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return COMMANDS[args.command](args)
    except UsageError as e:
        parser.print_usage(sys.stderr)
        print(f"glassnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except GlassnetError as e:
        print(f"glassnet {args.command}: error: {e}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"glassnet {args.command}: error: not enough memory for what was asked (a huge --hidden, "
              "--batch-size or image?); ask for less", file=sys.stderr)
        return 1
    except BrokenPipeError:                                # the reader went away: `glassnet info … | head -1`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as e:                                   # disk full, read-only or missing folder, …
        where = f"{e.filename}: " if e.filename else ""
        print(f"glassnet {args.command}: error: {where}{e.strerror or e}\nhelp: check that the folder exists, "
              "is writable and that the disk has space; finished checkpoints are kept", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"glassnet {args.command}: interrupted", file=sys.stderr)
        return 130

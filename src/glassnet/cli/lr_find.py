"""``glassnet lr-find``: the learning-rate range test on a fresh network of the config (``train.lr_find``),
written to a new folder: the curve (lr_find.csv), the readings (lr_find.json) and, with the ``plot``
extra, lr_find.png."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from glassnet.cli.common import UsageError, config_flags, load_data, start_model
from glassnet.config import resolve

CSV_NAME, JSON_NAME, PLOT_NAME = "lr_find.csv", "lr_find.json", "lr_find.png"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser],
               add_data_flags: Callable[[argparse.ArgumentParser], None],
               add_config_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    finder = commands.add_parser(
        "lr-find", help="the learning-rate range test: a short run with an exponentially growing lr, and a "
                        "suggested lr", description="Train a fresh network of the config (or a copy of MODEL's "
        "weights, never written) for --steps steps while the lr grows from --start-lr to --end-lr, stop when the "
        "smoothed loss diverges, and suggest an lr: the steepest descent of the smoothed loss (the minimum over "
        "ten is shown too).")
    finder.add_argument("--preset", default=None, help="starting recipe (default: seed, the reference recipe)")
    finder.add_argument("--config", type=Path, metavar="RUN.toml", help="TOML file of config fields")
    finder.add_argument("--init-from", type=Path, metavar="MODEL",
                        help="start from the weights of MODEL (a model file or run folder, same layers; only read)")
    finder.add_argument("--out", type=Path, metavar="DIR",
                        help="a new folder for the curve and the suggestion (default: runs/lr-find/<time stamp>)")
    finder.add_argument("--start-lr", type=float, default=1e-7, help="the first step's lr (default 1e-7)")
    finder.add_argument("--end-lr", type=float, default=10.0, help="the last step's lr (default 10)")
    finder.add_argument("--steps", type=int, default=100, help="steps at most (default 100)")
    add_data_flags(finder)
    finder.add_argument("--quiet", action="store_true", help="no progress line while loading the data")
    add_config_flags(finder)


def cmd_lr_find(args: argparse.Namespace) -> int:
    from glassnet.atomic import atomic_write_text
    from glassnet.report import plots
    from glassnet.run_folder import held, new_timestamped, prepare_new
    from glassnet.train import TrainData
    from glassnet.train.lr_find import RangeTest, check_arguments, range_test

    if args.out is not None and str(args.out).strip() in ("", "."):
        raise UsageError("--out needs the name of a new folder")
    check_arguments(args.start_lr, args.end_lr, args.steps)
    config = resolve(args.preset or "seed", args.config, config_flags(args))
    source = start_model(args.init_from)
    data = TrainData.from_mnist(load_data(args, args.quiet), config.validation_size)
    # the folder is made once the data and the config are known to be good; a folder holding a run is refused
    out = prepare_new(args.out) if args.out is not None else new_timestamped(Path("runs") / "lr-find")
    with held(out):
        found = range_test(config, data, start_lr=args.start_lr, end_lr=args.end_lr, steps=args.steps,
                           init_from=source)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["step", "lr", "loss", "smoothed_loss"])
        writer.writerows(zip(range(1, len(found.lrs) + 1), found.lrs, found.losses, found.smoothed))
        atomic_write_text(out / CSV_NAME, text.getvalue())
        atomic_write_text(out / JSON_NAME, json.dumps(
            {"suggestion": found.suggestion, "rule": RangeTest.RULE, "min_over_ten": found.min_over_ten,
             "steps": len(found.lrs), "stop_reason": found.stop_reason, "start_lr": args.start_lr,
             "end_lr": args.end_lr, "config": config.to_dict(),
             "init_from": str(source) if source is not None else None}, indent=1) + "\n")
        written = [CSV_NAME, JSON_NAME]
        if plots.matplotlib_available():
            written.append(plots.lr_range_test(found, out / PLOT_NAME))
        else:
            print(f"no plot: matplotlib is not installed (pip install 'glassnet[plot]'); the curve is in {CSV_NAME}")
    print(f"{len(found.lrs)} steps, lr {found.lrs[0]:.2e} to {found.lrs[-1]:.2e}; {found.stop_reason}")
    print(f"suggested lr {found.suggestion:.2e} ({RangeTest.RULE}); the minimum over ten gives "
          f"{found.min_over_ten:.2e}")
    print(f"wrote {out}/: {', '.join(written)}")
    return 0

"""``glassnet learn start | check | hint | train``: the workbook of exercises."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from glassnet.cli.common import UsageError, load_data


def at_least(least: int, why: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``least`` (``why`` says what needs it)."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}{why}, got {value}")
        return value

    return whole_number


def cmd_learn(args: argparse.Namespace) -> int:
    from glassnet.learn import hint, report, start

    if args.learn_command == "start":
        written = start(args.folder, notebook=args.notebook)
        print(f"wrote {len(written)} files into {args.folder}/: {', '.join(p.name for p in written)}\n"
              f"fill in each stub, then run: glassnet learn check {args.folder}")
        return 0
    if args.learn_command == "check":
        checked = report(args.folder, args.names)
        print(json.dumps(checked.records(), ensure_ascii=False, indent=1) if args.json else checked.format())
        return 0 if checked.passed else 1
    if args.learn_command == "hint":
        print(hint(args.folder, args.exercise).format())
        return 0
    return _train(args)


def _train(args: argparse.Namespace) -> int:
    from glassnet.data.mnist import to_inputs
    from glassnet.learn.side_by_side import EpochRow, train_side_by_side

    mnist = load_data(args)
    for flag, part, asked, there in (("--train-size", "training", args.train_size, len(mnist.train_labels)),
                                     ("--test-size", "test", args.test_size, len(mnist.test_labels))):
        if asked > there:
            raise UsageError(f"{flag} {asked} is more than the {there} {part} digits of {mnist.name}; ask for "
                             f"{there} or fewer")
    x_train, y_train = to_inputs(mnist.train_images[:args.train_size]), mnist.train_labels[:args.train_size]
    x_test, y_test = to_inputs(mnist.test_images[:args.test_size]), mnist.test_labels[:args.test_size]
    print(f"the reference network from your layers and from glassnet's, the same initial weights and batches;\n"
          f"{len(x_train)} training and {len(x_test)} test digits of {mnist.name}, float64\n")
    print(f"{'epoch':>5}  {'your loss':>10}  {'your test acc':>13}  {'glassnet loss':>13}  {'glassnet test acc':>17}")

    def show(row: EpochRow) -> None:
        print(f"{row.epoch:>5}  {row.yours_loss:>10.4f}  {row.yours_accuracy:>13.2%}  {row.glassnet_loss:>13.4f}  "
              f"{row.glassnet_accuracy:>17.2%}", flush=True)

    rows = train_side_by_side(args.folder, x_train, y_train, x_test, y_test, epochs=args.epochs, seed=args.seed,
                              on_epoch=show)
    gap = rows[-1].yours_accuracy - rows[-1].glassnet_accuracy
    print(f"\nyour layers reach {rows[-1].yours_accuracy:.2%}, glassnet's {rows[-1].glassnet_accuracy:.2%} "
          f"({gap:+.2%}; only the dropout masks differ, so a gap of a few tenths is noise)")
    return 0

"""``glassnet learn start | check | hint | train | lab``: the workbook of exercises, and the labs."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from glassnet.cli.common import UsageError, load_data
from glassnet.cli.labs import cmd_lab
from glassnet.errors import GlassnetError


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
    if args.learn_command == "lab":
        return cmd_lab(args)
    if args.learn_command == "hint":
        print(hint(args.folder, args.exercise).format())
        return 0
    return _train(args)


def _train(args: argparse.Namespace) -> int:
    from glassnet.data.mnist import to_inputs
    from glassnet.learn import report
    from glassnet.learn.side_by_side import NEEDED, EpochRow, train_side_by_side

    mnist = load_data(args)
    for flag, part, asked, there in (("--train-size", "training", args.train_size, len(mnist.train_labels)),
                                     ("--test-size", "test", args.test_size, len(mnist.test_labels))):
        if asked > there:
            raise UsageError(f"{flag} {asked} is more than the {there} {part} digits of {mnist.name}; ask for "
                             f"{there} or fewer")
    checked = report(args.folder, NEEDED)
    failing = [e for e in checked.exercises() if not all(r.passed for r in checked.results if r.exercise == e)]
    unwritten = [e for e in failing if any(r.cause == "not-implemented" for r in checked.results if r.exercise == e)]
    if unwritten:
        raise GlassnetError(f"the network is built from {', '.join(NEEDED)}; {', '.join(unwritten)} "
                            f"{'is' if len(unwritten) == 1 else 'are'} not written yet ('glassnet learn check "
                            f"{args.folder}' shows what is left)")
    print(f"the checks of the {len(NEEDED)} exercises the network is built from: " + (
        "all pass" if not failing else f"{', '.join(failing)} fail (glassnet learn check {args.folder} shows why); "
                                       "training anyway, to show what that costs"))
    x_train, y_train = to_inputs(mnist.train_images[:args.train_size]), mnist.train_labels[:args.train_size]
    x_test, y_test = to_inputs(mnist.test_images[:args.test_size]), mnist.test_labels[:args.test_size]
    print(f"the reference network from your code (your init too) and from glassnet's, the same initial weights "
          f"and batches;\n{len(x_train)} training and {len(x_test)} test digits of {mnist.name}, float64\n")
    print(f"{'epoch':>5}  {'your loss':>10}  {'your test acc':>13}  {'glassnet loss':>13}  {'glassnet test acc':>17}")

    def show(row: EpochRow) -> None:
        print(f"{row.epoch:>5}  {row.yours_loss:>10.4f}  {row.yours_accuracy:>13.2%}  {row.glassnet_loss:>13.4f}  "
              f"{row.glassnet_accuracy:>17.2%}", flush=True)

    trained = train_side_by_side(args.folder, x_train, y_train, x_test, y_test, epochs=args.epochs, seed=args.seed,
                                 on_epoch=show)
    last = trained.rows[-1]
    print(f"\nyour network reaches {last.yours_accuracy:.2%}, glassnet's {last.glassnet_accuracy:.2%}: "
          f"{trained.verdict.format()}")
    return 0 if trained.verdict.kind != "real" and not failing else 1

"""``glassnet learn lab [NAME]``: the labs, listed, or one of them asked, predicted, run and explained."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TYPE_CHECKING

from glassnet.cli.common import UsageError, load_data

if TYPE_CHECKING:
    from glassnet.learn.labs import Lab

WIDTH = 100


def cmd_lab(args: argparse.Namespace) -> int:
    from glassnet.learn.labs import LABS, LabData, subset
    from glassnet.learn.labs.lab import plain

    if args.name is None:
        print("the labs (glassnet learn lab NAME asks for your prediction, then runs one):\n")
        for lab in LABS.values():
            print(f"{lab.name}: {lab.title}\n{_wrap(plain(lab.question), '    ')}\n")
        return 0
    if args.name not in LABS:
        raise UsageError(f"no lab named {args.name!r}; the labs are {', '.join(LABS)}")
    lab = LABS[args.name]
    guess = None
    if args.prediction is not None:
        try:
            guess = lab.parse(args.prediction)
        except ValueError as e:
            raise UsageError(f"--prediction: {e}") from None
    data = subset(load_data(args)) if lab.needs_data else LabData.empty()     # a missing folder fails before asking
    print(f"{lab.title}\n\n{_wrap(plain(lab.question))}\n")
    if args.prediction is not None:
        print(f"your prediction: {guess}")
    else:
        guess = _ask(lab)
    print(f"\nrunning{f' on {data.describe()}' if lab.needs_data else ''}…\n", flush=True)
    result = lab.run(data)
    print("\n".join(result.lines))
    print(f"\n{_wrap(lab.compare(guess, result))}\n\n{_wrap(plain(lab.explanation))}\n\n"
          f"{_wrap('What to look for in a real run: ' + plain(lab.look_for))}")
    return 0


def _ask(lab: Lab) -> float | str | None:
    """Read a prediction from stdin until one parses; empty line or closed stdin: no prediction."""
    prompt = f"your prediction, {lab.predict.describe()} (empty: skip): "
    while True:
        try:
            text = input(prompt)
        except EOFError:
            print("\n(no prediction)")
            return None
        try:
            return lab.parse(text)
        except ValueError as e:
            print(e, file=sys.stderr)


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent)

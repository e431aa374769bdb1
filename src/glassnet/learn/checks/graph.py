"""Gradients compared node by node along a computational graph: the first wrong one, and the ones it feeds.

In a backward pass each node's gradient is computed from the gradients of the nodes it feeds in the
forward pass, so one wrong gradient makes every gradient computed from it wrong as well. The message
names the first wrong node in backward order (its own inputs are right, so the mistake is in its
local derivative), then the wrong ones computed from it, and, apart, any wrong one not computed from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet.learn.checks import Failed
from glassnet.learn.diagnose import Mistake, Problem, compare


@dataclass(frozen=True)
class Node:
    """One gradient to compare: the learner's dict key, the right value, and the gradients it is computed from."""

    name: str
    want: np.ndarray
    inputs: tuple[str, ...] = ()                 # gradients this one is computed from (none: from the loss or G)
    mistakes: list[Mistake] = field(default_factory=list)


def compare_nodes(got: Any, nodes: Sequence[Node], where: str, n: int) -> None:
    """Fail unless ``got`` (a dict: name → ∂L/∂name) holds every node's right gradient; ``nodes`` in backward order."""
    if not isinstance(got, dict):
        raise Failed(f"backward must return a dict, name → gradient; got {type(got).__name__}", "returned-none")
    problems: dict[str, Problem] = {}
    for node in nodes:
        if node.name not in got:
            problems[node.name] = Problem(f"∂L/∂{node.name} is missing from the dict backward returned",
                                          "returned-none")
            continue
        problem = compare(got[node.name], node.want, f"∂L/∂{node.name}", n=n, mistakes=node.mistakes)
        if problem is not None:
            problems[node.name] = problem
    if not problems:
        return
    root = next(node.name for node in nodes if node.name in problems)
    fed = [name for name in _fed_by(root, nodes) if name in problems]
    others = [name for name in problems if name != root and name not in fed]
    message = f"{where}, the first wrong gradient (its inputs are right): {problems[root].message}"
    cause = problems[root].cause
    if cause is None:
        message += f"; the gradients it is computed from are right, so the mistake is in ∂L/∂{root}'s own step"
        cause = "local-derivative"
    if fed:
        message += f"\n      computed from it, and wrong too (fix ∂L/∂{root} first): {_names(fed)}"
    if others:
        message += f"\n      also wrong, not computed from it: {_names(others)}"
    raise Failed(message, cause)


def _fed_by(root: str, nodes: Sequence[Node]) -> list[str]:
    """The nodes whose gradients are computed, directly or not, from ``root``'s, in backward order."""
    reached = {root}
    for node in nodes:                                   # backward order: a node comes after all its inputs
        if reached.intersection(node.inputs):
            reached.add(node.name)
    return [node.name for node in nodes if node.name in reached and node.name != root]


def _names(names: list[str]) -> str:
    return ", ".join(f"∂L/∂{name}" for name in names)

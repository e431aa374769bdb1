"""Gradients compared node by node along a computational graph: the first wrong one, and the ones it feeds.

In a backward pass each node's gradient is computed from the gradients of the nodes it feeds in the
forward pass, so one wrong gradient makes every gradient computed from it wrong as well. The message
names the first wrong node in backward order, with its mistake when one is recognised, and otherwise
with the local derivative that must be wrong (its inputs are right); then the wrong ones computed from
it, and, apart, any wrong one not computed from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet.learn.checks import Failed
from glassnet.learn.diagnose import Mistake, Problem, as_array, compare
from glassnet.learn.show import where_differs


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
    cause, alone = problems[root].cause, problems[root].alone
    if cause is None:
        node = next(node for node in nodes if node.name == root)
        message = f"{where}, the first wrong gradient is ∂L/∂{root}: {own_step('L', root, node.inputs)} " \
                  f"{difference(got[root], node.want)}"
        cause = "local-derivative"
    else:
        message = f"{where}, the first wrong gradient (its inputs are right): {problems[root].message}"
    if fed:
        message += f"\n      computed from it, and wrong too (fix ∂L/∂{root} first): {_names(fed)}"
    if others:
        message += f"\n      also wrong, not computed from it: {_names(others)}"
    raise Failed(message, cause, alone=alone and f"{where}, the first wrong gradient (its inputs are right): {alone}",
                 batch=n)


def own_step(output: str, node: str, inputs: tuple[str, ...]) -> str:
    """Why a wrong gradient whose inputs are right points at its own local derivative(s)."""
    if not inputs:
        return f"it comes straight from {output}, so its formula is what is wrong."
    sources = " and ".join(f"∂{output}/∂{name}" for name in inputs)
    local = " and ".join(f"∂{name}/∂{node}" for name in inputs)
    if len(inputs) == 1:
        return f"it is computed from {sources}, which is right, so the local derivative {local} is wrong."
    return (f"it is computed from {sources}, which are right, so a local derivative ({local}) is wrong, or the "
            "paths are not added up.")


def difference(got: Any, want: np.ndarray) -> str:
    """Where ``got`` differs from ``want``, when both are finite arrays of one shape."""
    array = as_array(got)
    if array is None or array.shape != want.shape:
        return f"It has shape {np.shape(got)}, expected {want.shape}."
    if not np.isfinite(array).all():
        bad = [int(i) for i in np.argwhere(~np.isfinite(array))[0]]
        return f"It holds NaN or inf (at {bad}), for finite inputs."
    return where_differs(array, want)


def _fed_by(root: str, nodes: Sequence[Node]) -> list[str]:
    """The nodes whose gradients are computed, directly or not, from ``root``'s, in backward order."""
    reached = {root}
    for node in nodes:                                   # backward order: a node comes after all its inputs
        if reached.intersection(node.inputs):
            reached.add(node.name)
    return [node.name for node in nodes if node.name in reached and node.name != root]


def _names(names: list[str]) -> str:
    return ", ".join(f"∂L/∂{name}" for name in names)

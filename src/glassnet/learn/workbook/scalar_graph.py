"""Exercise 0: backpropagation on a graph of three scalar nodes.

    a, b, c are numbers.      u = a · b      v = u + c      f = v²

forward returns the value of every node. backward returns the derivative of f with respect to
every input and node (∂f/∂a, ∂f/∂b, ∂f/∂c, ∂f/∂u, ∂f/∂v), found with the chain rule from the
output back, one node at a time. Derive each on paper first.

Stuck? glassnet learn hint scalar_graph  (one step at a time)
Worked derivation, to compare once yours passes: docs page "Backpropagation, from one node to the
MLP" (it works this very graph: derive yours first).
Check with:  glassnet learn check . scalar_graph
"""


def forward(a: float, b: float, c: float) -> dict[str, float]:
    """The value of every node: {"u": …, "v": …, "f": …}."""
    raise NotImplementedError("compute u, v and f, and return them in a dict")


def backward(a: float, b: float, c: float) -> dict[str, float]:
    """∂f/∂node for every input and node: {"a": …, "b": …, "c": …, "u": …, "v": …}."""
    raise NotImplementedError("apply the chain rule from f back to a, b and c (forward gives the values)")

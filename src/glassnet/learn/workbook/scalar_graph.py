"""Exercise 0: backpropagation on a graph of three scalar nodes.

    a, b, c are numbers.      u = a · b      v = u + c      f = v²

Forward: compute u, v and f. Backward: the chain rule, from the output back,
one node at a time:

    ∂f/∂v = 2v        ∂f/∂u = ∂f/∂v · ∂v/∂u = ∂f/∂v · 1       ∂f/∂c = ∂f/∂v · 1
    ∂f/∂a = ∂f/∂u · ∂u/∂a = ∂f/∂u · b                          ∂f/∂b = ∂f/∂u · a

Read first: the docs' page "Backpropagation, from one node to the MLP".
Check with:  glassnet learn check . scalar_graph
"""


def forward(a: float, b: float, c: float) -> dict[str, float]:
    """The value of every node: {"u": …, "v": …, "f": …}."""
    raise NotImplementedError("compute u = a·b, v = u + c and f = v², and return them in a dict")


def backward(a: float, b: float, c: float) -> dict[str, float]:
    """∂f/∂x for every input and node: {"a": …, "b": …, "c": …, "u": …, "v": …}."""
    raise NotImplementedError("apply the chain rule from f back to a, b and c (use forward for the values)")

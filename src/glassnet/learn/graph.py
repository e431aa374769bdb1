"""A computation as a graph: each node's value from the forward pass, its gradient from the backward pass, drawn.

Two ways to get one, both from code that really computes:

- ``Scalar``: a number that records the operation that made it and that operation's local derivatives
  (as micrograd does). Build an expression, call ``backward()`` on the result, and ``scalar_graph`` collects
  every number it was computed from.
- ``network_graph(model, x, labels)``: one training forward and backward pass of a ``Sequential`` under
  softmax cross-entropy, recorded layer by layer: each layer a node holding its output and the gradient of
  the loss with respect to that output, each parameter a node holding its value and its ``.grad``.

``Graph.svg()`` draws it with the inputs first (left to right, or top to bottom): in each box the node's
value in green and its gradient in red. ``Graph.drawing()`` is the same picture as data (boxes, text and
arrows with their positions), which the backward-stepping page of the docs draws in the browser.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential

# Geometry of a drawing, in pixels. Every text is monospace at FONT_SIZE, and CHAR_WIDTH is a little more
# than the width of one of its characters (0.6 em in the usual monospace fonts), so the text fits its box.
FONT_SIZE = 12
LINE_HEIGHT = 16
CHAR_WIDTH = 7.4
PADDING = 8
RANK_GAP = 40          # between a node and the nodes computed from it
LANE_GAP = 24          # between nodes side by side
ARROW = 7              # length of an arrowhead
COLOURS = {"title": "#212121", "label": "#616161", "value": "#1b5e20", "grad": "#b71c1c"}


class Scalar:
    """A number that remembers how it was made: enough to draw its graph and to run the chain rule back through it.

    ``inputs`` are the Scalars it was computed from and ``local`` the local derivatives ∂self/∂input, one per
    input, evaluated when it was computed. ``grad`` is ∂f/∂self once ``f.backward()`` has run.
    """

    def __init__(self, value: float, name: str = "", *, op: str = "input",
                 inputs: tuple[Scalar, ...] = (), local: tuple[float, ...] = ()) -> None:
        self.value = float(value)
        self.name = name
        self.op = op
        self.inputs = inputs
        self.local = local
        self.grad = 0.0

    def named(self, name: str) -> Scalar:
        """This Scalar, called ``name`` in the drawing."""
        self.name = name
        return self

    def __add__(self, other: Scalar) -> Scalar:
        # s = a + b:  ∂s/∂a = 1, ∂s/∂b = 1
        return Scalar(self.value + other.value, op=f"{self.name} + {other.name}", inputs=(self, other),
                      local=(1.0, 1.0))

    def __mul__(self, other: Scalar) -> Scalar:
        # p = a · b:  ∂p/∂a = b, ∂p/∂b = a
        return Scalar(self.value * other.value, op=f"{self.name} × {other.name}", inputs=(self, other),
                      local=(other.value, self.value))

    def squared(self) -> Scalar:
        # q = a²:  ∂q/∂a = 2a
        return Scalar(self.value ** 2, op=f"{self.name}²", inputs=(self,), local=(2.0 * self.value,))

    def backward(self) -> None:
        """∂self/∂node into every node's ``grad``: from this output back, each node passing its gradient
        times each local derivative to the input it belongs to (summed where a node feeds several others)."""
        order = _forward_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for source, local in zip(node.inputs, node.local):
                source.grad += node.grad * local          # chain rule: ∂f/∂source += ∂f/∂node · ∂node/∂source

    def __repr__(self) -> str:
        return f"Scalar({self.name or '?'} = {self.value}, grad {self.grad})"


def _forward_order(output: Scalar) -> list[Scalar]:
    """Every Scalar that ``output`` was computed from, and ``output`` last, each after its inputs."""
    order: list[Scalar] = []
    seen: set[int] = set()

    def visit(node: Scalar) -> None:
        if id(node) not in seen:
            seen.add(id(node))
            for source in node.inputs:
                visit(source)
            order.append(node)

    visit(output)
    return order


@dataclass
class Node:
    """One value of a computation. ``inputs`` name the nodes it is computed from (none for an input or a
    parameter); ``grad`` is the gradient of the output with respect to ``value``, of the same shape, or None
    where no gradient flows (the class labels)."""

    name: str
    op: str
    value: NDArray[Any]
    grad: NDArray[Any] | None = None
    inputs: tuple[str, ...] = ()


@dataclass
class Graph:
    """The nodes of a computation in forward order (each after its inputs), with how to draw them.

    ``direction`` is "right" (inputs on the left) or "down" (inputs on top); numbers are drawn with
    ``decimals`` decimals.
    """

    nodes: list[Node]
    direction: str = "right"
    decimals: int = 4
    _by_name: dict[str, Node] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.direction not in ("right", "down"):
            raise ValueError(f"Graph direction must be 'right' or 'down', got {self.direction!r}")
        self._by_name = {}
        for node in self.nodes:
            if node.name in self._by_name:
                raise ValueError(f"two nodes are called {node.name!r}; give each node its own name")
            missing = [name for name in node.inputs if name not in self._by_name]
            if missing:
                raise ValueError(f"node {node.name!r} is computed from {missing}, which come after it or not at "
                                 "all; list the nodes in forward order")
            if np.ndim(node.value) > 2:
                raise ValueError(f"node {node.name!r} has a {np.ndim(node.value)}-d value; a drawing shows "
                                 "numbers, vectors and matrices only")
            if node.grad is not None and np.shape(node.grad) != np.shape(node.value):
                raise ValueError(f"node {node.name!r} has a value of shape {np.shape(node.value)} but a gradient of "
                                 f"shape {np.shape(node.grad)}; a gradient has its value's shape")
            self._by_name[node.name] = node

    def __getitem__(self, name: str) -> Node:
        return self._by_name[name]

    def backward_order(self) -> list[str]:
        """The names of the nodes that get a gradient, in the order a backward pass reaches them."""
        return [node.name for node in reversed(self.nodes) if node.grad is not None]

    def drawing(self) -> dict[str, Any]:
        """The picture as data: its size, each node's box and lines of text, each arrow, and ``order``
        (``backward_order()``). Text roles: "title", "label", "value" and "grad" (the gradient's numbers)."""
        boxes = {node.name: _Box(node, self.decimals) for node in self.nodes}
        width, height = self._place(boxes)
        edges = [_edge(boxes[source], boxes[node.name], k, len(node.inputs), self.direction)
                 for node in self.nodes for k, source in enumerate(node.inputs)]
        return {"width": width, "height": height, "font_size": FONT_SIZE,
                "nodes": [boxes[node.name].data() for node in self.nodes], "edges": edges,
                "order": self.backward_order()}

    def _place(self, boxes: dict[str, _Box]) -> tuple[float, float]:
        """Set each box's position; return the drawing's width and height.

        A computed node goes one rank past its latest computed input, and an input or parameter one rank
        before the first node that uses it. Within a rank, computed nodes come first, then inputs and
        parameters, each in forward order. Ranks run along ``direction``, lanes across it; the boxes of
        a rank end on one line.
        """
        rank: dict[str, int] = {}
        for node in self.nodes:
            if node.inputs:
                rank[node.name] = 1 + max((rank[s] for s in node.inputs if self[s].inputs), default=0)
        for node in self.nodes:
            if not node.inputs:
                users = [n.name for n in self.nodes if node.name in n.inputs]
                rank[node.name] = rank[users[0]] - 1 if users else 0
        lane: dict[str, int] = {}
        for r in set(rank.values()):
            in_rank = sorted((n for n in self.nodes if rank[n.name] == r), key=lambda n: not n.inputs)
            lane.update({n.name: i for i, n in enumerate(in_rank)})
        down = self.direction == "down"

        def along(box: _Box) -> float:
            return box.height if down else box.width

        def across(box: _Box) -> float:
            return box.width if down else box.height

        rank_extents = [max(along(boxes[n]) for n in rank if rank[n] == r) for r in range(max(rank.values()) + 1)]
        rank_ends = [start + extent for start, extent in zip(_starts(rank_extents, RANK_GAP), rank_extents)]
        lane_extents = [max(across(boxes[n]) for n in lane if lane[n] == i) for i in range(max(lane.values()) + 1)]
        lane_starts = _starts(lane_extents, LANE_GAP)
        for name, box in boxes.items():      # the boxes of a rank end together, so no arrow crosses a neighbour
            first, second = rank_ends[rank[name]] - along(box), lane_starts[lane[name]]
            box.x, box.y = (second, first) if down else (first, second)
        right = max(box.x + box.width for box in boxes.values())
        bottom = max(box.y + box.height for box in boxes.values())
        return round(right + 1, 1), round(bottom + 1, 1)

    def svg(self, *, style: str = "") -> str:
        """The drawing as a standalone SVG document (``style``: a CSS style for its root element)."""
        picture = self.drawing()
        style = f' style="{_escape(style)}"' if style else ""
        lines = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{picture["width"]:g}" height="{picture["height"]:g}" '
                 f'viewBox="0 0 {picture["width"]:g} {picture["height"]:g}" font-family="monospace" '
                 f'font-size="{FONT_SIZE}"{style}>']
        for edge in picture["edges"]:
            x1, y1, x2, y2 = edge["line"]
            head = " ".join(f"{v:g}" for v in edge["head"])
            lines.append(f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="#9e9e9e" stroke-width="1.5"/>'
                         f'<polygon points="{head}" fill="#9e9e9e"/>')
        for node in picture["nodes"]:
            lines.append(f'<g data-node="{_escape(node["name"])}">')
            lines.append(f'<rect x="{node["x"]:g}" y="{node["y"]:g}" width="{node["width"]:g}" '
                         f'height="{node["height"]:g}" rx="4" fill="#fafafa" stroke="#9e9e9e"/>')
            for text in node["texts"]:
                weight = ' font-weight="bold"' if text["role"] == "title" else ""
                lines.append(f'<text x="{text["x"]:g}" y="{text["y"]:g}" text-anchor="{text["anchor"]}" '
                             f'fill="{COLOURS[text["role"]]}"{weight}>{_escape(text["text"])}</text>')
            lines.append("</g>")
        lines.append("</svg>")
        return "\n".join(lines)

    # how Jupyter (and the docs build, which renders a notebook's outputs) shows a Graph
    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:     # at its own size, scrolling sideways where the page is narrower
        return f'<div style="overflow-x: auto">\n{self.svg(style="max-width: none")}\n</div>'

    def _repr_markdown_(self) -> str:
        return self._repr_html_()


class _Box:
    """A node's box: its lines of text and its size, with its position set by ``Graph._place``."""

    def __init__(self, node: Node, decimals: int) -> None:
        self.name = node.name
        value_cells = _cells(node.value, decimals)
        grad_cells = None if node.grad is None else _cells(node.grad, decimals)
        shape = f" {node.value.shape}" if node.value.ndim else ""
        cell_chars = max(len(cell) for rows in (value_cells, grad_cells or []) for row in rows for cell in row)
        n_columns = max(len(row) for row in value_cells)
        self.lines: list[tuple[str, list[str]]] = [("title", [f"{node.name}: {node.op}"]), ("label", [f"value{shape}"]),
                                                   *(("value", row) for row in value_cells)]
        if grad_cells is None:
            self.lines.append(("label", ["gradient: none"]))
        else:
            self.lines += [("label", [f"gradient{shape}"]), *(("grad", row) for row in grad_cells)]
        self.column_chars = cell_chars + 1                       # a space between columns
        widest = max([len(cells[0]) for role, cells in self.lines if role in ("title", "label")]
                     + [n_columns * self.column_chars - 1])
        self.width = round(2 * PADDING + widest * CHAR_WIDTH, 1)
        self.height = 2 * PADDING + LINE_HEIGHT * len(self.lines)
        self.x = self.y = 0.0

    def data(self) -> dict[str, Any]:
        texts = []
        for i, (role, cells) in enumerate(self.lines):
            baseline = round(self.y + PADDING + LINE_HEIGHT * (i + 1) - 4, 1)
            if role in ("title", "label"):
                texts.append({"role": role, "text": cells[0], "x": self.x + PADDING, "y": baseline, "anchor": "start"})
                continue
            for j, cell in enumerate(cells):               # numbers right-aligned in columns
                right = self.x + PADDING + ((j + 1) * self.column_chars - 1) * CHAR_WIDTH
                texts.append({"role": role, "text": cell, "x": round(right, 1), "y": baseline, "anchor": "end"})
        return {"name": self.name, "x": self.x, "y": self.y, "width": self.width, "height": self.height,
                "texts": texts}


def _cells(array: NDArray[Any], decimals: int) -> list[list[str]]:
    """The numbers of a 0-, 1- or 2-d array as rows of text: integers as they are, others rounded."""
    rows = np.atleast_2d(array)
    if np.issubdtype(rows.dtype, np.integer):
        return [[str(int(v)) for v in row] for row in rows]
    return [[f"{float(v) + 0.0:.{decimals}f}" for v in row] for row in rows]    # + 0.0: no "-0.0000"


def _starts(extents: list[float], gap: float) -> list[float]:
    """Where each of a row of extents starts, with ``gap`` between neighbours."""
    starts, position = [], 0.0
    for extent in extents:
        starts.append(position)
        position += extent + gap
    return starts


def _edge(source: _Box, target: _Box, k: int, n_inputs: int, direction: str) -> dict[str, Any]:
    """The arrow from ``source`` into ``target``, its ``k``-th of ``n_inputs`` inputs (spread along the side)."""
    share = (k + 1) / (n_inputs + 1)
    if direction == "down":
        start = (source.x + source.width / 2, source.y + source.height)
        end = (target.x + target.width * share, target.y)
    else:
        start = (source.x + source.width, source.y + source.height / 2)
        end = (target.x, target.y + target.height * share)
    along = np.subtract(end, start) / np.hypot(*np.subtract(end, start))
    across = np.array([-along[1], along[0]])
    base = np.array(end) - ARROW * along
    head = [*end, *(base + ARROW / 2 * across), *(base - ARROW / 2 * across)]
    return {"from": source.name, "to": target.name,
            "line": [round(float(v), 1) for v in (*start, *base)], "head": [round(float(v), 1) for v in head]}


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def scalar_graph(output: Scalar, *, decimals: int = 2) -> Graph:
    """The graph of every Scalar ``output`` was computed from, left to right, with the gradients of the last
    ``output.backward()``. Every Scalar needs a name (``Scalar(2.0, "a")``, ``(a * b).named("u")``)."""
    order = _forward_order(output)
    unnamed = [node.op for node in order if not node.name]
    if unnamed:
        raise ValueError(f"the Scalars computed as {unnamed} have no name; name each with .named('u') to draw it")
    return Graph([Node(node.name, node.op, np.array(node.value), np.array(node.grad),
                       tuple(source.name for source in node.inputs)) for node in order], direction="right",
                 decimals=decimals)


def network_graph(model: Sequential, x: NDArray[np.floating], labels: NDArray[np.integer], *,
                  decimals: int = 4) -> Graph:
    """One training forward and backward pass of ``model`` on (x, labels), recorded, top to bottom.

    Nodes: the input "x"; per layer i its parameters ("0.weight", named as ``model.named_params()``) and
    "layer i", whose value is the layer's output and whose gradient is ∂L/∂(that output); "labels"; and
    "loss", the softmax cross-entropy L, whose gradient is ∂L/∂L = 1. The model runs in the mode it is in and
    is left as one training step leaves it (gradients assigned; in training mode, BatchNorm's running
    statistics updated) without an optimizer step.
    """
    x = np.asarray(x, dtype=model.dtype)
    nodes = [Node("x", "input", x)]
    out, below = x, "x"
    for i, layer in enumerate(model.layers):
        params = [Node(f"{i}.{p.name}", "parameter", p.value.copy()) for p in layer.params()]
        out = layer.forward(out)
        nodes += [*params, Node(f"layer {i}", type(layer).__name__, out, inputs=(below, *(p.name for p in params)))]
        below = f"layer {i}"
    loss, grad = softmax_cross_entropy(out, labels)
    nodes += [Node("labels", "input", np.asarray(labels)),
              Node("loss", "softmax cross-entropy", np.array(loss), np.array(1.0), inputs=(below, "labels"))]
    graph = Graph(nodes, direction="down", decimals=decimals)
    for i, layer in reversed(list(enumerate(model.layers))):    # as Sequential.backward, recording each step
        graph[f"layer {i}"].grad = grad                          # ∂L/∂(output of layer i)
        grad = layer.backward(grad)                              # ∂L/∂(input of layer i)
        for p in layer.params():
            graph[f"{i}.{p.name}"].grad = p.grad.copy()
    graph["x"].grad = grad
    return graph

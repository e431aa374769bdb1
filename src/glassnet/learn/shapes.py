"""A matrix product or a broadcast that NumPy refused, explained with the shapes of the arrays at the learner's line.

NumPy says ``matmul: Input operand 1 has a mismatch in its core dimension 0 …``; the learner needs to
know which product, of what shapes. The line the error came from is parsed, and each factor of an
``@`` (for a broadcast, each array the line names) that is a plain name, or an attribute, ``.T`` or
dict entry of one (``self.x.T``, ``grad_out``, ``self.weight.value``, ``params["W3"]``) is looked up
in that frame, reading attributes only from an object's own fields, an array's ``.T``, a parameter's
``value`` and ``grad``, entries only from a plain dict, and an array's basic index written with
constants (``b[:, None]``): nothing of the learner's code runs.

For a broadcast, the line's expressions are given shapes from those values (a reduction with a constant
axis, ``x.sum(axis=1)``, an elementwise function, arithmetic), computed from the shapes alone, so that
the operation NumPy refused is named with its operands as written, and a reduction over axis 1
without keepdims is named only when it is one of them.
"""

from __future__ import annotations

import ast
import linecache
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

_MISSING = object()


def explain_matmul(error: BaseException, path: Path) -> str | None:
    """'(2, 4) @ (5, 4): …' for the first ``@`` at the error's line in ``path`` whose factors do not fit."""
    found = _line(error, path) if "matmul" in str(error) else None
    if found is None:
        return None
    tree, frame = found
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            left, right = _value(node.left, frame), _value(node.right, frame)
            if isinstance(left, np.ndarray) and isinstance(right, np.ndarray) and left.ndim == right.ndim == 2 \
                    and left.shape[1] != right.shape[0]:
                return (f"{ast.unparse(node.left)} {left.shape} @ {ast.unparse(node.right)} {right.shape}: the inner "
                        f"sizes {left.shape[1]} and {right.shape[0]} differ. Write down the shape each factor must "
                        "have for the product's shape: is a .T missing, or one too many, or the order swapped?")
    return None


@dataclass(frozen=True)
class Operand:
    """One side of an operation at the learner's line: its text, its shape, and what can be said of it."""

    text: str
    shape: tuple[int, ...]
    value: Any = None                      # the array itself, when the text names one (not computed here)
    row_reduction: str | None = None       # the reduction over axis 1 without keepdims that made it, as written


@dataclass(frozen=True)
class Refused:
    """The operation at the learner's line whose operands NumPy could not broadcast together."""

    left: Operand
    op: str
    right: Operand

    def __str__(self) -> str:
        return f"{self.left.text} {self.left.shape} {self.op} {self.right.text} {self.right.shape}"


def refused_broadcast(error: BaseException, path: Path) -> Refused | None:
    """The operation at the error's line in ``path`` that NumPy refused, found by the shapes its message names.

    The line's expressions are given shapes from the values in its frame, without running anything of the
    learner's (see the module's docstring); an operation is reported only when its operands have exactly the
    shapes NumPy's message gives: the first such, in the order Python evaluates them.
    """
    shapes = _message_shapes(str(error))
    found = _line(error, path) if shapes is not None else None
    if found is None:
        return None
    tree, frame = found
    seen: list[Refused] = []
    for statement in tree.body:
        _shape(statement, frame, seen)
    return next((r for r in seen if [r.left.shape, r.right.shape] == shapes), None)


def explain_broadcast(error: BaseException, path: Path) -> str | None:
    """'mean (2,), self.running_mean (6,)': the arrays named at the line where NumPy could not broadcast."""
    found = _line(error, path) if "broadcast" in str(error) else None
    if found is None:
        return None
    tree, frame = found
    shapes: dict[str, tuple[int, ...]] = {}
    for node in ast.walk(tree):
        whole = isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value is ...
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)) and not whole:     # x[...] is x: said once
            value = _value(node, frame)
            if isinstance(value, np.ndarray) and value.ndim:
                shapes.setdefault(ast.unparse(node), value.shape)
    return ", ".join(f"{name} {shape}" for name, shape in shapes.items()) or None


def _message_shapes(message: str) -> list[tuple[int, ...]] | None:
    """[(3, 4), (4, 1)] from NumPy's 'operands could not be broadcast together with shapes (3,4) (4,1)'."""
    found = re.search(r"could not be broadcast together with shapes ((?:\([\d,]*\) ?)+)", message)
    if found is None:
        return None
    return [tuple(int(d) for d in group.split(",") if d) for group in re.findall(r"\(([\d,]*)\)", found[1])]


_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
              ast.Pow: "**"}
_COMPARISONS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}
_REDUCTIONS = {"sum", "mean", "max", "min", "var", "std", "prod", "amax", "amin"}
_SAME_SHAPE = {"exp", "log", "sqrt", "abs", "square", "negative", "tanh", "copy", "astype"}


def _shape(node: ast.AST, frame: FrameType, seen: list[Refused]) -> tuple[int, ...] | None:
    """The shape ``node`` evaluates to, when it can be told without running the learner's code; operations
    whose operands do not broadcast go into ``seen``, in the order Python evaluates them."""
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _pair(node.left, _OPERATORS[type(node.op)], node.right, frame, seen)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARISONS:
        return _pair(node.left, _COMPARISONS[type(node.ops[0])], node.comparators[0], frame, seen)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        left, right = _shape(node.left, frame, seen), _shape(node.right, frame, seen)
        if left is not None and right is not None and len(left) == len(right) == 2 and left[1] == right[0]:
            return left[0], right[1]
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _shape(node.operand, frame, seen)
    if isinstance(node, ast.Constant):
        return () if isinstance(node.value, (int, float)) and not isinstance(node.value, bool) else None
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        value = _value(node, frame)
        if value is not _MISSING:
            return _shape_of(value)
        if isinstance(node, ast.Attribute) and node.attr == "T":
            inner = _shape(node.value, frame, seen)
            return inner[::-1] if inner is not None else None
    if isinstance(node, ast.Call):
        return _call_shape(node, frame, seen)
    for child in ast.iter_child_nodes(node):             # anything else: look inside it for a refused operation
        if isinstance(child, (ast.expr, ast.stmt)):
            _shape(child, frame, seen)
    return None


def _pair(left_node: ast.expr, op: str, right_node: ast.expr, frame: FrameType,
          seen: list[Refused]) -> tuple[int, ...] | None:
    left, right = _shape(left_node, frame, seen), _shape(right_node, frame, seen)
    if left is None or right is None:
        return None
    try:
        return tuple(np.broadcast_shapes(left, right))
    except ValueError:
        seen.append(Refused(_operand(left_node, left, frame), op, _operand(right_node, right, frame)))
        return None


def _operand(node: ast.expr, shape: tuple[int, ...], frame: FrameType) -> Operand:
    value = _value(node, frame) if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)) else None
    found = _reduction(node, frame) if isinstance(node, ast.Call) else None
    reduction = ast.unparse(node) if found is not None and found[1] in (1, -1) and not found[2] else None
    return Operand(ast.unparse(node), shape, None if value is _MISSING else value, reduction)


def _call_shape(node: ast.Call, frame: FrameType, seen: list[Refused]) -> tuple[int, ...] | None:
    """The shape of a reduction (x.sum(axis=1), np.max(x, axis=0, keepdims=True)) or of an elementwise function
    (np.exp(x), x.copy()); anything else is not known (its arguments are still looked into)."""
    reduction = _reduction(node, frame)
    if reduction is not None:
        base, axis, keepdims = reduction
        shape = _shape(base, frame, seen)
        if shape is None or axis is _MISSING:
            return None
        axes = range(len(shape)) if axis is None else [a % len(shape) for a in
                                                       (axis if isinstance(axis, tuple) else (axis,))]
        if any(not 0 <= a < len(shape) for a in axes) or not shape:
            return None
        return tuple(1 if i in axes else d for i, d in enumerate(shape) if keepdims or i not in axes)
    function = node.func
    if isinstance(function, ast.Attribute) and function.attr in _SAME_SHAPE:
        if _is_numpy(function.value, frame) and len(node.args) == 1:
            return _shape(node.args[0], frame, seen)
        if not _is_numpy(function.value, frame) and function.attr in ("copy", "astype"):
            return _shape(function.value, frame, seen)
    for child in [*node.args, *(k.value for k in node.keywords)]:
        _shape(child, frame, seen)
    return None


def _reduction(node: ast.Call, frame: FrameType) -> tuple[ast.expr, Any, bool] | None:
    """(the array reduced, its axis, keepdims) for x.sum(axis=…) or np.sum(x, axis=…); axis _MISSING when not a
    constant."""
    function = node.func
    if not isinstance(function, ast.Attribute) or function.attr not in _REDUCTIONS:
        return None
    args = list(node.args)
    if _is_numpy(function.value, frame):
        if not args:
            return None
        base = args.pop(0)
    else:
        base = function.value
    keywords = {k.arg: k.value for k in node.keywords}
    axis_node = keywords.get("axis", args[0] if args else None)
    keepdims_node = keywords.get("keepdims")
    axis = _constant(axis_node) if axis_node is not None else None
    keepdims = _constant(keepdims_node) if keepdims_node is not None else False
    if keepdims is _MISSING:
        return None
    return base, axis, bool(keepdims)


def _constant(node: ast.expr) -> Any:
    """An int, a tuple of ints, None or a bool written as a constant; _MISSING otherwise."""
    if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in (int, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    if isinstance(node, ast.Tuple):
        items = [_constant(item) for item in node.elts]
        return tuple(items) if all(type(item) is int for item in items) else _MISSING
    return _MISSING


def _is_numpy(node: ast.expr, frame: FrameType) -> bool:
    return isinstance(node, ast.Name) and frame.f_locals.get(node.id, frame.f_globals.get(node.id)) is np


def _shape_of(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, np.ndarray):
        return value.shape
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return ()
    return None


def source_line(error: BaseException, path: Path) -> str | None:
    """The text of the innermost line of ``path`` the error passed through."""
    found = _innermost(error, path)
    return linecache.getline(str(path), found[1]).strip() if found else None


def _innermost(error: BaseException, path: Path) -> tuple[FrameType, int] | None:
    frames = [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__)
              if frame.f_code.co_filename == str(path)]
    return frames[-1] if frames else None


def _line(error: BaseException, path: Path) -> tuple[ast.Module, FrameType] | None:
    """The statement at the innermost line of ``path`` the error passed through, parsed, and its frame."""
    found = _innermost(error, path)
    if found is None:
        return None
    try:
        return ast.parse(linecache.getline(str(path), found[1]).strip()), found[0]
    except SyntaxError:                                     # a statement over several lines
        return None


def _value(node: ast.expr, frame: FrameType) -> Any:
    """The value of a name, or of a chain of attributes on one, read without running the learner's code."""
    if isinstance(node, ast.Name):
        return frame.f_locals.get(node.id, frame.f_globals.get(node.id, _MISSING))
    if isinstance(node, ast.Attribute):
        owner = _value(node.value, frame)
        if isinstance(owner, np.ndarray):
            return owner.T if node.attr == "T" else _MISSING
        if node.attr in ("value", "grad") and type(owner).__name__ in ("Param", "LooseParam"):
            return getattr(owner, node.attr)
        fields = getattr(owner, "__dict__", None)
        return fields.get(node.attr, _MISSING) if isinstance(fields, dict) else _MISSING
    if isinstance(node, ast.Subscript) and type(owner := _value(node.value, frame)) is dict:
        key = _key(node.slice, frame)
        return owner.get(key, _MISSING) if isinstance(key, (str, int)) else _MISSING
    if isinstance(node, ast.Subscript) and type(owner := _value(node.value, frame)) is np.ndarray:
        index = _basic_index(node.slice)
        try:
            return owner[index] if index is not _MISSING else _MISSING     # a view: nothing is computed
        except (IndexError, TypeError):
            return _MISSING
    return _MISSING


def _basic_index(node: ast.expr) -> Any:
    """An index written with constants only (x[:, None], x[0], x[..., 1:3]), as a Python object; else _MISSING."""
    if isinstance(node, ast.Tuple):
        items = [_basic_index(item) for item in node.elts]
        return _MISSING if any(item is _MISSING for item in items) else tuple(items)
    if isinstance(node, ast.Slice):
        parts = [None if part is None else _constant(part) for part in (node.lower, node.upper, node.step)]
        return _MISSING if any(part is _MISSING or type(part) is bool for part in parts) else slice(*parts)
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return Ellipsis
    value = _constant(node)
    return value if value is None or type(value) is int else _MISSING


def _key(node: ast.expr, frame: FrameType) -> Any:
    """A dict key written as a constant, or as an f-string of names holding numbers or strings (d[f"h{k}"])."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name) and part.format_spec is None:
                value = _value(part.value, frame)
                if type(value) not in (int, str):
                    return _MISSING
                parts.append(str(value))
            else:
                return _MISSING
        return "".join(parts)
    return _MISSING

"""A matrix product or a broadcast that NumPy refused, explained with the shapes of the arrays at the learner's line.

NumPy says ``matmul: Input operand 1 has a mismatch in its core dimension 0 …``; the learner needs to
know which product, of what shapes. The line the error came from is parsed, and each factor of an
``@`` (for a broadcast, each array the line names) that is a plain name, or an attribute, ``.T`` or
dict entry of one (``self.x.T``, ``grad_out``, ``self.weight.value``, ``params["W3"]``) is looked up
in that frame, reading attributes only from an object's own fields, an array's ``.T``, a parameter's
``value`` and ``grad``, and entries only from a plain dict: nothing of the learner's code runs.
"""

from __future__ import annotations

import ast
import linecache
import traceback
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


def explain_broadcast(error: BaseException, path: Path) -> str | None:
    """'mean (2,), self.running_mean (6,)': the arrays named at the line where NumPy could not broadcast."""
    found = _line(error, path) if "broadcast" in str(error) else None
    if found is None:
        return None
    tree, frame = found
    shapes: dict[str, tuple[int, ...]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            value = _value(node, frame)
            if isinstance(value, np.ndarray) and value.ndim:
                shapes.setdefault(ast.unparse(node), value.shape)
    return ", ".join(f"{name} {shape}" for name, shape in shapes.items()) or None


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
    return _MISSING


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

"""A trained model as a standard ONNX graph (the ``onnx`` extra): batch norm folded, float32.

Graph: input ``x`` (N, D) float32 in [0, 1], then the model's inference program (``nn/program.py``),
each operation as the ONNX nodes ``ONNX_OPS`` gives it (MatMul and Add for an affine map, Relu, …),
then Softmax over the classes: output ``probabilities`` (N, C). The same numbers as
``predict_proba`` (tested with onnxruntime, for every activation, and on the MNIST test set).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.atomic import atomic_open
from glassnet.errors import GlassnetError
from glassnet.export import exportable
from glassnet.nn.model import Sequential
from glassnet.nn.program import op_name
from glassnet.version import __version__

OPSET = 17


def _affine(op: Any, x: str, i: int, h: Any) -> tuple[list[Any], list[Any], str]:
    inits = [h.tensor(op.weight, f"W{i}"), h.tensor(op.bias, f"b{i}")]
    return [h.node("MatMul", [x, f"W{i}"], [f"matmul{i}"]), h.node("Add", [f"matmul{i}", f"b{i}"], [f"y{i}"])], \
        inits, f"y{i}"


def _scale(op: Any, x: str, i: int, h: Any) -> tuple[list[Any], list[Any], str]:
    inits = [h.tensor(op.center, f"c{i}"), h.tensor(op.scale, f"s{i}"), h.tensor(op.shift, f"t{i}")]
    return [h.node("Sub", [x, f"c{i}"], [f"centred{i}"]), h.node("Mul", [f"centred{i}", f"s{i}"], [f"scaled{i}"]),
            h.node("Add", [f"scaled{i}", f"t{i}"], [f"y{i}"])], inits, f"y{i}"


def _unary(onnx_op: str, **attributes: Any) -> Any:
    def build(op: Any, x: str, i: int, h: Any) -> tuple[list[Any], list[Any], str]:
        values = {name: value(op) if callable(value) else value for name, value in attributes.items()}
        return [h.node(onnx_op, [x], [f"y{i}"], **values)], [], f"y{i}"
    return build


def _gelu(op: Any, x: str, i: int, h: Any) -> tuple[list[Any], list[Any], str]:
    """y = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))), GELU's tanh form, from ONNX's primitive operators."""
    constants = {"half": 0.5, "one": 1.0, "k": math.sqrt(2 / math.pi), "c": 0.044715}
    inits = [h.tensor(np.array(v, np.float32), f"{name}{i}") for name, v in constants.items()]
    n = h.node
    nodes = [n("Mul", [x, x], [f"x2_{i}"]), n("Mul", [f"x2_{i}", x], [f"x3_{i}"]),
             n("Mul", [f"x3_{i}", f"c{i}"], [f"cx3_{i}"]), n("Add", [x, f"cx3_{i}"], [f"inner{i}"]),
             n("Mul", [f"inner{i}", f"k{i}"], [f"u{i}"]), n("Tanh", [f"u{i}"], [f"t{i}"]),
             n("Add", [f"t{i}", f"one{i}"], [f"onet{i}"]), n("Mul", [x, f"onet{i}"], [f"xt{i}"]),
             n("Mul", [f"xt{i}", f"half{i}"], [f"y{i}"])]
    return nodes, inits, f"y{i}"


#: How each operation of the inference program becomes ONNX nodes (opset 17).
ONNX_OPS = {"affine": _affine, "scale": _scale, "relu": _unary("Relu"),
            "leaky_relu": _unary("LeakyRelu", alpha=lambda op: op.options["slope"]),
            "gelu": _gelu, "tanh": _unary("Tanh"), "sigmoid": _unary("Sigmoid")}


class _Helpers:
    """onnx's node and tensor makers, imported only when an export runs (the 'onnx' extra)."""

    def __init__(self) -> None:
        try:
            from onnx import helper, numpy_helper
        except ImportError:
            raise GlassnetError("the ONNX export needs the 'onnx' extra: pip install 'glassnet[onnx]'") from None
        self.helper, self.numpy_helper = helper, numpy_helper

    def node(self, op: str, inputs: list[str], outputs: list[str], **attributes: Any) -> Any:
        return self.helper.make_node(op, inputs, outputs, **attributes)

    def tensor(self, array: Any, name: str) -> Any:
        return self.numpy_helper.from_array(np.asarray(array, np.float32), name)


def to_onnx(model: Sequential, name: str = "glassnet") -> bytes:
    """The serialized ONNX model of ``model``'s inference program."""
    program = exportable(model, list(ONNX_OPS), "the ONNX export")
    h = _Helpers()
    import onnx
    from onnx import TensorProto

    nodes, initializers, previous = [], [], "x"
    for i, op in enumerate(program.ops):
        more_nodes, more_initializers, previous = ONNX_OPS[op_name(op)](op, previous, i, h)
        nodes += more_nodes
        initializers += more_initializers
    nodes.append(h.node("Softmax", [previous], ["probabilities"], axis=1))
    graph = h.helper.make_graph(
        nodes, name,
        [h.helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", model.n_inputs])],
        [h.helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", model.n_classes])],
        initializers)
    proto = h.helper.make_model(graph, producer_name="glassnet", producer_version=__version__,
                                opset_imports=[h.helper.make_opsetid("", OPSET)])
    proto.ir_version = 8                               # readable by every onnxruntime of the last years
    onnx.checker.check_model(proto, full_check=True)
    return bytes(proto.SerializeToString())


def write_onnx(model: Sequential, path: str | os.PathLike[str]) -> Path:
    """Write the ONNX graph to ``path`` atomically; an existing file is never replaced."""
    path = Path(path)
    if path.exists():
        raise GlassnetError(f"{path} already exists; choose another file name (nothing was written)")
    data = to_onnx(model, path.stem)
    try:
        with atomic_open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise GlassnetError(f"cannot write {path}: {e.strerror or e}") from e
    return path

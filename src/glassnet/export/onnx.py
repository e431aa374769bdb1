"""A trained model as a standard ONNX graph (the ``onnx`` extra): batch norm folded, float32.

Graph: input ``x`` (N, D) float32 in [0, 1], then the model's inference program (``nn/program.py``),
each operation as the ONNX nodes ``ONNX_OPS`` gives it (MatMul and Add for an affine map, Relu, …),
then Softmax over the classes: output ``probabilities`` (N, C). The same numbers as
``predict_proba`` (tested with onnxruntime, for every activation, and on the MNIST test set).

The model carries its meaning (``metadata``): the class label of each output column, how an input row
is laid out and scaled, that preprocessing is the caller's, and the figures its model file records
(``checkpoint.recorded_figures``), as ONNX ``metadata_props``; a summary in ``doc_string``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.atomic import atomic_open
from glassnet.checkpoint import recorded_figures
from glassnet.errors import GlassnetError
from glassnet.export import exportable
from glassnet.nn.model import Sequential
from glassnet.nn.program import Affine, op_name
from glassnet.version import __version__

OPSET = 17
INTERFACE_VERSION = 1        # model_version: input x, output probabilities and the metadata keys, as built here


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


def metadata(model: Sequential, meta: dict[str, Any] | None = None) -> dict[str, str]:
    """The ONNX ``metadata_props`` of ``model``: ``class_labels`` (a JSON list, output column i is label i),
    ``input_shape``, ``input_dtype``, ``input_convention``, ``preprocessing``, ``output`` and the figures the
    model file's metadata ``meta`` records (``test_accuracy``, ``macro_f1``, ``dataset``, ``seed``, ``epochs``,
    ``recipe``, ``command``, where recorded). Every value a string; those from the file bounded."""
    d, c = model.n_inputs, model.n_classes
    if (d, c) == (784, 10):                            # MNIST's shape, that of every model glassnet train makes
        convention = ("each row one 28×28 image in MNIST's orientation and row-major order (the pixel in row r, "
                      "column c at index 28·r + c), pixels in [0, 1] (the uint8 value / 255), bright ink (1) "
                      "on black (0)")
        preprocessing = ("the caller's: a digit must look like MNIST's, its ink cropped, scaled to fit 20×20 and "
                         "centred by its centre of mass in the 28×28 field (as glassnet predict does, with "
                         "glassnet.data.preprocess.preprocess_digit); the graph does none of it")
    else:
        convention = f"each row {d} features, scaled as the model's training data were"
        preprocessing = "the caller's: the graph applies the network only"
    props = {"class_labels": json.dumps([str(k) for k in range(c)]), "input_shape": f"[N, {d}]",
             "input_dtype": "float32", "input_convention": convention, "preprocessing": preprocessing,
             "output": f"probabilities [N, {c}]: a softmax over the classes; column k is class_labels[k]"}
    figures = recorded_figures(meta or {})
    return props | {key: repr(value) if isinstance(value, float) else str(value) for key, value in figures.items()}


def to_onnx(model: Sequential, meta: dict[str, Any] | None = None) -> bytes:
    """The serialized ONNX model of ``model``'s inference program, with its ``metadata`` (the class labels, the
    input convention, and the figures that the model file's metadata ``meta`` records)."""
    program = exportable(model, list(ONNX_OPS), "the ONNX export")
    h = _Helpers()
    import onnx
    from onnx import TensorProto

    nodes, initializers, previous, widths = [], [], "x", [model.n_inputs]
    for i, op in enumerate(program.ops):
        more_nodes, more_initializers, previous = ONNX_OPS[op_name(op)](op, previous, i, h)
        nodes += more_nodes
        initializers += more_initializers
        if isinstance(op, Affine):
            widths.append(int(op.weight.shape[1]))                     # W (D_in, D_out)
    nodes.append(h.node("Softmax", [previous], ["probabilities"], axis=1))
    props = metadata(model, meta)
    summary = (f"glassnet MLP {'-'.join(map(str, widths))}, batch norm folded: input x {props['input_shape']} "
               f"float32, {props['input_convention']}; output {props['output']}. Preprocessing is "
               f"{props['preprocessing']}."
               + (f" Test accuracy {float(props['test_accuracy']):.2%}." if "test_accuracy" in props else "")
               + " metadata_props hold the class labels, the input convention and the recorded figures.")
    graph = h.helper.make_graph(
        nodes, "glassnet_mlp_" + "_".join(map(str, widths)),
        [h.helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", model.n_inputs],
                                         props["input_convention"])],
        [h.helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", model.n_classes],
                                         props["output"])],
        initializers)
    proto = h.helper.make_model(graph, producer_name="glassnet", producer_version=__version__,
                                model_version=INTERFACE_VERSION, doc_string=summary,
                                opset_imports=[h.helper.make_opsetid("", OPSET)])
    h.helper.set_model_props(proto, props)
    proto.ir_version = 8                               # readable by every onnxruntime of the last years
    onnx.checker.check_model(proto, full_check=True)
    return bytes(proto.SerializeToString())


def write_onnx(model: Sequential, path: str | os.PathLike[str], meta: dict[str, Any] | None = None) -> Path:
    """Write the ONNX graph (``to_onnx``) to ``path`` atomically; an existing file is never replaced."""
    path = Path(path)
    if path.exists():
        raise GlassnetError(f"{path} already exists; choose another file name (nothing was written)")
    data = to_onnx(model, meta)
    try:
        with atomic_open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise GlassnetError(f"cannot write {path}: {e.strerror or e}") from e
    return path

"""A trained model as a standard ONNX graph (the ``onnx`` extra): batch norm folded, float32.

Graph: input ``x`` (N, D) float32 in [0, 1], then for each layer MatMul and Add (and Relu for
the hidden ones), then Softmax over the classes: output ``probabilities`` (N, C). The same
numbers as ``predict_proba`` (tested with onnxruntime on the MNIST test set).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from glassnet.atomic import atomic_open
from glassnet.errors import GlassnetError
from glassnet.nn.fused import fold
from glassnet.nn.model import Sequential
from glassnet.version import __version__

OPSET = 17


def to_onnx(model: Sequential, name: str = "glassnet") -> bytes:
    """The serialized ONNX model of ``model``'s inference map (an ``mlp`` network)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise GlassnetError("the ONNX export needs the 'onnx' extra: pip install 'glassnet[onnx]'") from None

    try:
        folded = fold(model)
    except TypeError as e:
        raise GlassnetError(f"only mlp networks are exported: {e}") from None
    nodes, initializers, previous = [], [], "x"
    for i, (weight, bias) in enumerate(zip(folded.weights, folded.biases)):
        initializers += [numpy_helper.from_array(weight.astype(np.float32), f"W{i}"),
                         numpy_helper.from_array(bias.astype(np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [previous, f"W{i}"], [f"matmul{i}"]),
                  helper.make_node("Add", [f"matmul{i}", f"b{i}"], [f"z{i}"])]
        previous = f"z{i}"
        if i < len(folded.weights) - 1:
            nodes.append(helper.make_node("Relu", [previous], [f"h{i}"]))
            previous = f"h{i}"
    nodes.append(helper.make_node("Softmax", [previous], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", model.n_inputs])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", model.n_classes])],
        initializers)
    proto = helper.make_model(graph, producer_name="glassnet", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET)])
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

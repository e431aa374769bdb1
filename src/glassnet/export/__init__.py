"""Exports of a trained model for other runtimes: a static web page (``web``) and ONNX (``onnx``).

Both run the model's inference program (``nn/program.py``); ``exportable`` folds it and refuses, before
anything is written, a model whose program holds an operation the runtime does not know.
"""

from __future__ import annotations

from collections.abc import Sequence

from glassnet.errors import GlassnetError
from glassnet.nn.kinds import fold
from glassnet.nn.model import Sequential
from glassnet.nn.program import Program, unknown_ops


def exportable(model: Sequential, known: Sequence[str], runtime: str) -> Program:
    """The model's inference program, if ``runtime`` (which runs the operations ``known``) can run all of it."""
    try:
        program = fold(model)
    except TypeError as e:
        raise GlassnetError(f"cannot export this model: {e}") from None
    unknown = unknown_ops(program, known)
    if unknown:
        raise GlassnetError(f"{runtime} cannot run the operation(s) {', '.join(unknown)} of this model; it runs "
                            f"{', '.join(known)} (nothing was written)")
    return program

"""Model files and checkpoints: one ``.npz`` of arrays plus JSON metadata, never pickle.

Array names: ``param/<name>`` (e.g. ``param/0.weight``), ``buffer/<name>``
(BatchNorm running statistics), ``optim/<name>`` (Adam moments and step), and
``meta``, the UTF-8 bytes of a JSON object: format version, glassnet version,
architecture, config, progress, generator states and metrics. Files are
written atomically; loading checks the format, the architecture and every shape.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np

from glassnet.atomic import atomic_open
from glassnet.errors import CheckpointError
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.params import Array

FORMAT_VERSION = 1
# what np.load raises on damaged files (found by fuzzing): .npy headers are parsed with ast.literal_eval,
# zip headers with struct, and a damaged header may name an unknown zip version or compression
_UNREADABLE = (OSError, ValueError, SyntaxError, TokenError, EOFError, KeyError, MemoryError, OverflowError,
               NotImplementedError, struct.error, zlib.error, zipfile.BadZipFile)


def save_checkpoint(path: str | os.PathLike[str], model: Sequential, meta: dict[str, Any],
                    optimizer_state: dict[str, Array] | None = None) -> None:
    """Write model (and optionally optimizer) state with ``meta`` to ``path``, atomically."""
    arrays: dict[str, Any] = {f"param/{name}": p.value for name, p in model.named_params().items()}
    arrays |= {f"buffer/{name}": value for name, value in model.buffers().items()}
    arrays |= {f"optim/{name}": value for name, value in (optimizer_state or {}).items()}
    header = {"format_version": FORMAT_VERSION, "architecture": model.architecture} | meta
    arrays["meta"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        with atomic_open(path, "wb") as f:
            f.write(buffer.getbuffer())
    except OSError as e:
        raise CheckpointError(f"cannot write {path}: {e.strerror or e}; check the folder exists, is writable "
                              "and the disk has space (any previous checkpoint there is unchanged)") from e


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Array]]:
    """The metadata and the arrays of a checkpoint file, validated for format but not shapes."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError as e:
        raise CheckpointError(f"{path}: no such model file; train one with 'glassnet train'") from e
    except _UNREADABLE as e:
        raise CheckpointError(f"{path}: not a readable glassnet model file ({e}); it is truncated, "
                              "corrupt or of another format") from e
    if "meta" not in arrays or arrays["meta"].dtype != np.uint8 or arrays["meta"].ndim != 1:
        raise CheckpointError(f"{path}: no glassnet metadata in this .npz; it was not written by glassnet")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({e})") from e
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path}: checkpoint format version {version!r}, this glassnet reads "
                              f"version {FORMAT_VERSION}")
    return meta, arrays


def build_model(meta: dict[str, Any], rng: np.random.Generator, source: str = "checkpoint") -> Sequential:
    """A fresh model of the architecture recorded in ``meta``."""
    arch = meta.get("architecture")
    if not isinstance(arch, dict):
        raise CheckpointError(f"{source}: no architecture record in the metadata")
    try:
        return mlp(arch["sizes"], rng=rng, dropout=arch["dropout"], batchnorm=arch["batchnorm"],
                   dtype=np.dtype(arch["dtype"]), init=arch["init"])
    except (TypeError, KeyError, ValueError) as e:
        raise CheckpointError(f"{source}: invalid architecture record {arch!r} ({e})") from e


def restore_state(model: Sequential, arrays: dict[str, Array], source: str = "checkpoint") -> None:
    """Copy parameters and buffers from ``arrays`` into ``model``, checking names, shapes and finiteness."""
    targets = {f"param/{n}": p.value for n, p in model.named_params().items()}
    targets |= {f"buffer/{n}": b for n, b in model.buffers().items()}
    stored = {name for name in arrays if not name.startswith("optim/")}
    if stored != set(targets):
        raise CheckpointError(f"{source}: arrays {sorted(stored ^ set(targets))} do not match the architecture")
    for name, target in targets.items():
        saved = arrays[name]
        if saved.shape != target.shape or saved.dtype.kind != "f":
            raise CheckpointError(f"{source}: {name} has shape {saved.shape} and dtype {saved.dtype}, "
                                  f"expected {target.shape} floating point")
        if not np.isfinite(saved).all():
            raise CheckpointError(f"{source}: {name} contains NaN or inf; the model file is damaged")
        target[...] = saved


def optimizer_arrays(arrays: dict[str, Array]) -> dict[str, Array]:
    """The optimizer state stored in a checkpoint (names without the ``optim/`` prefix)."""
    return {name.removeprefix("optim/"): value for name, value in arrays.items() if name.startswith("optim/")}


def load_model(path: str | os.PathLike[str]) -> tuple[Sequential, dict[str, Any]]:
    """A trained model in eval mode, and its metadata, from a model file."""
    meta, arrays = read_checkpoint(path)
    model = build_model(meta, np.random.default_rng(0), str(path))
    restore_state(model, arrays, str(path))
    return model.eval(), meta

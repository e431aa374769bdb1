"""Model files and checkpoints: one ``.npz`` of arrays plus JSON metadata, never pickle.

Array names: ``param/<name>`` (e.g. ``param/0.weight``), ``buffer/<name>``
(BatchNorm running statistics), ``optim/<name>`` (Adam moments and step), and
``meta``, the UTF-8 bytes of a JSON object: format version, the layers (type
and sizes of each), the ``mlp`` recipe when there is one, glassnet version,
config, progress, generator states and metrics. Any ``Sequential`` of
glassnet's own layers round-trips; ``save_checkpoint`` refuses other layers.
Files are written atomically; loading checks the format, the layers against
the arrays' shapes before it allocates anything, and every array.

Format 1 (glassnet 0.1) kept the optimizer's moments as one flat vector and
recorded only the ``mlp`` recipe: its models load, its training state does not resume.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from tokenize import TokenError
from typing import Any, BinaryIO

import numpy as np

from glassnet.atomic import atomic_open
from glassnet.errors import CheckpointError
from glassnet.files import MODEL, open_regular
from glassnet.nn.kinds import kind_of_record, record
from glassnet.nn.layers import ACTIVATIONS, BatchNorm
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
CHECKPOINT_NAME = "model.npz"         # the model file in a run folder: the model the run hands back
RESUME_NAME = "resume.npz"            # with early stopping, the run's state, kept apart from its best epoch's model
LEGACY_BEST_NAME = "best.npz"         # an earlier glassnet's best epoch, beside model.npz's state; read to resume
MAX_EXPANSION = 100                   # how much more than its stored bytes a member may inflate to
MAX_DIRECTORY = 1 << 20               # bytes of zip directory: ~100 per array; a model has a few dozen arrays
MAX_META = 16 << 20                   # bytes of metadata: a run's config and history take a few hundred kilobytes
_EOCD = struct.Struct("<4s4H2LH")     # a zip's end-of-central-directory record
# what np.load raises on damaged files (found by fuzzing): .npy headers are parsed with ast.literal_eval,
# zip headers with struct, and a damaged header may name an unknown zip version or compression
_UNREADABLE = (OSError, ValueError, SyntaxError, TokenError, EOFError, KeyError, MemoryError, OverflowError,
               NotImplementedError, struct.error, zlib.error, zipfile.BadZipFile)


def resume_file(folder: str | os.PathLike[str]) -> Path:
    """The file a run folder resumes from: ``resume.npz``, where early stopping keeps the run's state apart
    from the model it hands back, else ``model.npz``, which then holds both (also in an earlier glassnet's folders)."""
    state = Path(folder) / RESUME_NAME
    return state if state.exists() else Path(folder) / CHECKPOINT_NAME


def layer_specs(model: Sequential) -> list[dict[str, Any]]:
    """Each layer's record (kind, sizes, options), enough to build it again; ``CheckpointError`` for a layer
    that is not one of glassnet's kinds (``nn.kinds``)."""
    specs = []
    for i, layer in enumerate(model.layers):
        try:
            specs.append(record(layer))
        except TypeError as e:
            raise CheckpointError(f"cannot save layer {i} ({type(layer).__name__}): {e}; model files hold "
                                  "glassnet's own layers only") from None
    return specs


def _write(path: str | os.PathLike[str], arrays: dict[str, Any], meta: dict[str, Any]) -> None:
    arrays = arrays | {"meta": np.frombuffer(json.dumps(meta, allow_nan=False).encode("utf-8"), dtype=np.uint8)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        with atomic_open(path, "wb") as f:
            f.write(buffer.getbuffer())
    except OSError as e:
        raise CheckpointError(f"cannot write {path}: {e.strerror or e}; check the folder exists, is writable "
                              "and the disk has space (any previous checkpoint there is unchanged)") from e


def save_checkpoint(path: str | os.PathLike[str], model: Sequential, meta: dict[str, Any],
                    optimizer_state: dict[str, Array] | None = None) -> None:
    """Write model (and optionally optimizer) state with ``meta`` to ``path``, atomically.

    The format version, the layers and the architecture describe the arrays,
    so they are always the model's own: keys of those names in ``meta`` are ignored.
    """
    arrays: dict[str, Any] = {f"param/{name}": p.value for name, p in model.named_params().items()}
    arrays |= {f"buffer/{name}": value for name, value in model.buffers().items()}
    arrays |= {f"optim/{name}": value for name, value in (optimizer_state or {}).items()}
    own = {"format_version": FORMAT_VERSION, "layers": layer_specs(model), "dtype": model.dtype.name,
           "architecture": model.architecture}
    _write(path, arrays, meta | own)


def update_metadata(path: str | os.PathLike[str], extra: dict[str, Any]) -> None:
    """Merge ``extra`` into a checkpoint's metadata, atomically; arrays and the model's own keys are kept."""
    meta, arrays = read_checkpoint(path)
    own = {key: meta[key] for key in ("format_version", "layers", "dtype", "architecture") if key in meta}
    _write(path, arrays, meta | extra | own)


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Array]]:
    """The metadata and the arrays of a checkpoint file, validated for format but not shapes."""
    path = Path(path)
    try:
        with open_regular(path, "model file", MODEL, CheckpointError) as f:
            if f.read(6) == b"\x93NUMPY":                # np.load would read a whole plain array
                raise CheckpointError(f"{path}: a single NumPy array (.npy), not a glassnet model; a model "
                                      "file is the .npz that 'glassnet train' writes")
            _refuse_zip_bombs(f, path)
            f.seek(0)
            with np.load(f, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError as e:
        raise CheckpointError(f"{path}: no such model file; train one with 'glassnet train'") from e
    except _UNREADABLE as e:
        raise CheckpointError(f"{path}: not a readable glassnet model file ({e}); it is truncated, "
                              "corrupt or of another format") from e
    if "meta" not in arrays or arrays["meta"].dtype != np.uint8 or arrays["meta"].ndim != 1:
        raise CheckpointError(f"{path}: no glassnet metadata in this .npz; it was not written by glassnet")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"), parse_constant=_not_json,
                          parse_float=_finite)
    except (UnicodeDecodeError, ValueError) as e:           # ValueError: JSON, or an integer of 4,300+ digits
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({e})") from e
    except RecursionError:
        raise CheckpointError(f"{path}: its metadata is nested too deeply to be glassnet's; the file is damaged "
                              "or not a glassnet model") from None
    if not isinstance(meta, dict) or meta.get("format_version") not in READABLE_VERSIONS:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path}: checkpoint format version {version!r}, this glassnet reads "
                              f"versions {', '.join(map(str, READABLE_VERSIONS))}")
    return meta, arrays


def _finite(text: str) -> float:
    """A JSON number as a float, refused when it is beyond float64 (1e400 would become inf)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is beyond any float glassnet writes")
    return value


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number (glassnet writes its metadata without NaN or infinities)")


def recorded(meta: Any, *keys: str, kind: type = float) -> Any:
    """The value a model file records at ``meta[key][key]…`` if it is a ``kind`` (a finite number for float),
    else None: what a file says beside its arrays is shown only when it is what glassnet writes there."""
    for key in keys:
        meta = meta.get(key) if isinstance(meta, dict) else None
    if kind is not float:
        return meta if type(meta) is kind else None
    try:
        return float(meta) if type(meta) in (int, float) and math.isfinite(meta) else None
    except OverflowError:                                 # an integer beyond any float
        return None


def shown(text: str, limit: int = 2000) -> str:
    """Text from a file, safe to show or to pass on: no control codes, no lone surrogates (which no UTF-8
    writer takes), and at most ``limit`` characters and an ellipsis."""
    kept = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return kept + ("…" if len(text) > limit else "")


def recorded_figures(meta: Any) -> dict[str, Any]:
    """What a model file records of how it was made and how well it did, each figure only where it is what
    glassnet writes there, text bounded (``shown``): ``test_accuracy`` and ``macro_f1`` (fractions),
    ``dataset``, ``seed``, ``epochs`` (trained), ``recipe``, ``command``. A run's come from its final report
    (``metrics``) and config; the demo model's from its ``demo`` record (scripts/make_demo_model.py)."""

    def fraction(*keys: str) -> float | None:
        value = recorded(meta, *keys)
        return value if value is not None and 0.0 <= value <= 1.0 else None

    def text(*keys: str) -> str | None:
        value = recorded(meta, *keys, kind=str)
        return shown(value, 500) if value else None

    def whole(*keys: str) -> int | None:               # a seed or a count: glassnet's are in [0, 2**63)
        value = recorded(meta, *keys, kind=int)
        return value if value is not None and 0 <= value < 2**63 else None

    def first(*values: Any) -> Any:
        return next((v for v in values if v is not None), None)

    figures = {"test_accuracy": first(fraction("demo", "test_accuracy"), fraction("metrics", "test", "accuracy")),
               "macro_f1": fraction("metrics", "test", "macro", "f1"),
               "dataset": first(text("demo", "dataset"), text("metrics", "dataset", "name")),
               "seed": first(whole("demo", "seed"), whole("config", "seed")), "epochs": whole("epoch"),
               "recipe": text("demo", "recipe"), "command": text("demo", "command")}
    return {key: value for key, value in figures.items() if value is not None}


def _refuse_zip_bombs(f: BinaryIO, path: Path) -> None:
    """Refuse, before inflating anything, a member that would expand far beyond its stored size.

    glassnet stores its arrays uncompressed, and trained weights barely compress: a member that claims
    more than 100× its stored bytes (plus 1 MiB for arrays of zeros) was not written by glassnet. The
    zip directory itself is read only once it is known to be small (it lists a few dozen arrays).
    """
    directory = _directory_size(f)
    if directory > MAX_DIRECTORY:
        raise CheckpointError(f"{path}: its zip directory takes {directory:,} bytes, far more than the list of "
                              "arrays of any glassnet model; the file is not one of them")
    try:
        with zipfile.ZipFile(f) as archive:             # reads the zip directory only
            members = archive.infolist()
    except zipfile.BadZipFile:
        return                                           # not a zip: np.load says what it is
    for member in members:
        if member.filename == "meta.npy" and member.file_size > MAX_META:
            raise CheckpointError(f"{path}: its metadata takes {member.file_size:,} bytes, more than any glassnet "
                                  f"model's ({MAX_META:,} at most: the record of a run is a few hundred kilobytes); "
                                  "the file is not one of them")
        if member.file_size > MAX_EXPANSION * member.compress_size + (1 << 20):
            raise CheckpointError(f"{path}: {member.filename} would expand from {member.compress_size:,} to "
                                  f"{member.file_size:,} bytes; glassnet does not compress its models, so this "
                                  "file is not one of them")


def _directory_size(f: BinaryIO) -> int:
    """The size of a zip file's central directory, from its end record (0 when there is none: not a zip)."""
    f.seek(0, os.SEEK_END)
    tail_start = max(0, f.tell() - _EOCD.size - 0xFFFF)    # the end record, then a comment of up to 64 KiB
    f.seek(tail_start)
    tail = f.read()
    found = tail.rfind(b"PK\x05\x06")
    if found < 0 or len(tail) - found < _EOCD.size:
        return 0
    *_, entries, size, _, _ = _EOCD.unpack_from(tail, found)
    return MAX_DIRECTORY + 1 if entries == 0xFFFF else size     # 0xFFFF: a zip64 directory, never ours


def _recipe_specs(arch: dict[str, Any]) -> list[dict[str, Any]]:
    """The layers ``mlp`` builds from its recipe (format 1 files record only the recipe)."""
    sizes, batchnorm, dropout = arch["sizes"], bool(arch["batchnorm"]), float(arch["dropout"])
    activation = record(ACTIVATIONS[arch.get("activation", "relu")]())     # e.g. {"type": "ReLU"}
    specs: list[dict[str, Any]] = []
    for d_in, d_out in zip(sizes[:-2], sizes[1:-1]):
        specs.append({"type": "Linear", "in_features": d_in, "out_features": d_out, "bias": not batchnorm})
        if batchnorm:
            specs.append(record(BatchNorm(d_out)))                      # mlp's batch norm: the defaults
        specs.append(activation)
        if dropout > 0.0:
            specs.append({"type": "Dropout", "p": dropout})
    specs.append({"type": "Linear", "in_features": sizes[-2], "out_features": sizes[-1], "bias": True})
    return specs


def _expected_shapes(specs: list[dict[str, Any]]) -> dict[str, tuple[int, ...]]:
    """The array names and shapes the layer records imply, before anything is allocated."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, spec in enumerate(specs):
        for name, shape in kind_of_record(spec).shapes(spec).items():
            prefix, tensor = name.split("/")
            shapes[f"{prefix}/{i}.{tensor}"] = shape
    return shapes


def build_model(meta: dict[str, Any], arrays: dict[str, Array], rng: np.random.Generator,
                source: str = "checkpoint") -> Sequential:
    """A fresh model of the layers recorded in ``meta``, once they are known to fit ``arrays``' shapes.

    ``rng`` draws the initial weights (overwritten by ``restore_state``) and later dropout masks.
    """
    arch = meta.get("architecture")
    try:
        specs = meta["layers"] if "layers" in meta else _recipe_specs(arch)   # type: ignore[arg-type]
        dtype = np.dtype(meta.get("dtype") or arch["dtype"])                  # type: ignore[index]
        if dtype not in (np.float32, np.float64) or not isinstance(specs, list) or not specs:
            raise ValueError(f"dtype {dtype} and {len(specs)} layers")
        expected = _expected_shapes(specs)
    except (TypeError, KeyError, ValueError, IndexError) as e:
        raise CheckpointError(f"{source}: invalid layer record in the metadata ({e})") from None
    stored = {name: arrays[name].shape for name in arrays if not name.startswith("optim/")}
    if stored != expected:
        raise CheckpointError(f"{source}: the arrays do not match the recorded layers "
                              f"(differ in {sorted(set(stored.items()) ^ set(expected.items()), key=str)[:4]}); "
                              "the model file is damaged")
    try:
        layers = [kind_of_record(spec).build(spec, rng, dtype) for spec in specs]
        return Sequential(layers, _verified_recipe(arch, specs, dtype))
    except (TypeError, KeyError, ValueError) as e:
        raise CheckpointError(f"{source}: invalid layer record in the metadata ({e})") from None


def _verified_recipe(arch: Any, specs: list[dict[str, Any]], dtype: np.dtype[Any]) -> dict[str, Any]:
    """The ``mlp`` recipe recorded with the layers, if it is one that builds exactly these layers; else {}
    (a hand-built stack, or a record that does not describe the arrays: shown as neither)."""
    try:
        typed = (isinstance(arch["sizes"], list) and all(type(s) is int for s in arch["sizes"])
                 and type(arch["batchnorm"]) is bool and type(arch["dropout"]) in (int, float)
                 and np.dtype(arch["dtype"]) == dtype)
        return arch if typed and _recipe_specs(arch) == specs else {}
    except (TypeError, KeyError, ValueError, IndexError):
        return {}


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
    model = build_model(meta, arrays, np.random.default_rng(0), str(path))
    restore_state(model, arrays, str(path))
    return model.eval(), meta

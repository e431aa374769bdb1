"""MNIST: found in a folder, or downloaded from public mirrors and verified by SHA-256.

Where it looks, in order: the ``data_dir`` argument, the folder named by the
``GLASSNET_DATA`` environment variable, the user cache folder
(``$XDG_CACHE_HOME/glassnet/mnist``, ``~/.cache/glassnet/mnist``, or the
platform's equivalent). Missing files are downloaded into the first of those,
each one checked against the SHA-256 of its *decompressed* bytes (gzip headers
differ between mirrors) before an atomic rename, so a failed download leaves
nothing behind.

Any folder with four IDX files under the MNIST names is accepted after
structural checks (a subset, Fashion-MNIST, a synthetic set); ``official``
says whether all four match the original MNIST checksums.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from glassnet.data.batches import as_inputs
from glassnet.data.idx import parse_idx, read_idx_bytes
from glassnet.errors import DatasetError, IdxFormatError
from glassnet.files import DOWNLOAD

#: Public mirrors, in the order torchvision and TensorFlow try them; the original site last.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: The four parts of MNIST: canonical file name and SHA-256 of the decompressed bytes.
MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train_labels": ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "test_images": ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "test_labels": ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}

#: progress(file_name, bytes_done, bytes_total or None)
Progress = Callable[[str, int, "int | None"], None]

_HELP = ("help: pass a folder holding the four MNIST IDX files with --data-dir DIR (Python: data_dir=DIR) "
         "or set GLASSNET_DATA=DIR; files may be gzip-compressed")


@dataclass(frozen=True)
class Mnist:
    """MNIST-style data: images (N, 28, 28) uint8, labels (N,) uint8."""

    train_images: NDArray[np.uint8]
    train_labels: NDArray[np.uint8]
    test_images: NDArray[np.uint8]
    test_labels: NDArray[np.uint8]
    folder: Path
    official: bool          # all four files match the original MNIST checksums

    @property
    def name(self) -> str:
        return "MNIST" if self.official else f"MNIST-format data from {self.folder} (not the official MNIST)"


def to_inputs(images: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Images (N, 28, 28) uint8 → network inputs (N, 784) float32 in [0, 1] (pixels / 255)."""
    return as_inputs(images.reshape(len(images), -1), np.dtype(np.float32))


def default_cache_dir() -> Path:
    """The user cache folder for MNIST, by platform convention."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "glassnet" / "mnist"


def candidate_folders(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where MNIST is looked for, in order: argument, ``GLASSNET_DATA``, user cache."""
    folders = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("GLASSNET_DATA"):
        folders.append(Path(os.environ["GLASSNET_DATA"]))
    folders.append(default_cache_dir())
    return list(dict.fromkeys(p.expanduser() for p in folders))


def _find_file(folder: Path, name: str) -> Path | None:
    """``name``, ``name.gz``, or the ``train-images.idx3-ubyte`` spelling, in ``folder``: whatever is there
    under that name (reading it refuses what is not a regular file, rather than downloading over it)."""
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (folder / candidate).exists():
            return folder / candidate
    return None


def _find_all(folder: Path) -> dict[str, Path] | None:
    found = {part: _find_file(folder, name) for part, (name, _) in MNIST_FILES.items()}
    return None if None in found.values() else found  # type: ignore[return-value]


def load_mnist(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True,
               mirrors: Sequence[str] = MIRRORS, timeout: float = 30.0,
               progress: Progress | None = None) -> Mnist:
    """Load MNIST from the first folder that has all four files, downloading them if none has.

    Raises ``DatasetError`` (or its subclass ``IdxFormatError``) naming the
    file and the problem when anything is missing, corrupt or inconsistent.
    """
    folders = candidate_folders(data_dir)
    for folder in folders:
        files = _find_all(folder)
        if files is not None:
            return _load_files(folder, files)
    target = folders[0]
    if target.exists() and not target.is_dir():
        raise DatasetError(f"{target} is not a folder: the data folder (--data-dir or GLASSNET_DATA) is the folder "
                           f"that holds the four MNIST files, or that they are downloaded into")
    missing = [name for name, _ in MNIST_FILES.values() if _find_file(target, name) is None]
    looked = ", ".join(str(f) for f in folders)
    if not download:
        raise DatasetError(f"MNIST not found: no folder has all four files (looked in {looked}); "
                           f"missing in {target}: {', '.join(missing)}.\n{_HELP}")
    for name, sha256 in MNIST_FILES.values():
        if name in missing:
            download_file(name + ".gz", target / (name + ".gz"), sha256=sha256,
                          mirrors=mirrors, timeout=timeout, progress=progress, looked_in=looked)
    files = _find_all(target)
    assert files is not None, "every missing file was just downloaded"
    return _load_files(target, files)


def _load_files(folder: Path, files: dict[str, Path]) -> Mnist:
    arrays, official = {}, True
    for part, path in files.items():
        raw = read_idx_bytes(path)
        official &= hashlib.sha256(raw).hexdigest() == MNIST_FILES[part][1]
        arrays[part] = parse_idx(raw, str(path))
    for split in ("train", "test"):
        _validate_split(arrays[f"{split}_images"], arrays[f"{split}_labels"],
                        files[f"{split}_images"], files[f"{split}_labels"])
    return Mnist(**arrays, folder=folder, official=official)


def _validate_split(images: NDArray, labels: NDArray, images_path: Path, labels_path: Path) -> None:  # type: ignore[type-arg]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise IdxFormatError(f"{images_path}: expected uint8 images of shape (N, 28, 28), "
                             f"got {images.dtype} of shape {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IdxFormatError(f"{labels_path}: expected a rank-1 uint8 label file, got {labels.dtype} "
                             f"of shape {labels.shape}")
    if len(labels) and labels.max() > 9:
        raise IdxFormatError(f"{labels_path}: labels must be digits 0-9, found {int(labels.max())} "
                             f"at index {int(np.argmax(labels > 9))}")
    if len(images) != len(labels):
        raise DatasetError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
                           "the two files must come from the same set")
    if len(images) == 0:
        raise DatasetError(f"{images_path}: the file holds no images")


def download_file(file_name: str, destination: Path, *, sha256: str, mirrors: Sequence[str],
                  timeout: float = 30.0, progress: Progress | None = None, looked_in: str = "") -> None:
    """Fetch ``file_name`` from the first mirror that serves bytes with the right checksum.

    The checksum is that of the decompressed bytes. The file appears at
    ``destination`` only once verified (atomic rename); partial downloads are removed.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + file_name
        fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{file_name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, file_name, timeout, progress)
            try:
                digest = hashlib.sha256(read_idx_bytes(tmp)).hexdigest()
            except IdxFormatError:
                digest = "<not a valid gzip stream>"
            if digest != sha256:
                failures.append(f"{url}: checksum mismatch (SHA-256 of the content {digest[:16]}…, "
                                f"expected {sha256[:16]}…)")
                continue
            os.replace(tmp, destination)
            return
        except (urllib.error.URLError, HTTPException, OSError, ValueError) as e:
            failures.append(f"{url}: {getattr(e, 'reason', None) or e}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    where = f" (looked in {looked_in})" if looked_in else ""
    raise DatasetError(f"could not download {file_name}{where}; every mirror failed:\n  "
                       + "\n  ".join(failures) + f"\n{_HELP}")


def _fetch(url: str, out, file_name: str, timeout: float, progress: Progress | None) -> None:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(url, headers={"User-Agent": "glassnet (MNIST downloader)"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        total = response.length
        done = 0
        while chunk := response.read(1 << 16):
            out.write(chunk)
            done += len(chunk)
            if done > DOWNLOAD.bytes:
                raise OSError(f"the server sent more than {DOWNLOAD.bytes:,} bytes ({DOWNLOAD.why})")
            if progress is not None:
                progress(file_name, done, total)
        if total is not None and done < total:
            raise OSError(f"connection closed after {done} of {total} bytes")

"""The BLAS's thread count, read and set while the program runs, with NumPy alone.

NumPy's matrix products run in the BLAS it was built with (OpenBLAS in NumPy's wheels, MKL or
BLIS elsewhere), which starts as many threads as the machine has cores, or as
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` said when it loaded. Each of these libraries has a C
function that changes the count at run time; this module finds the library loaded in this process
and calls that function through ``ctypes``. It finds the library's file with threadpoolctl where it
is installed (it knows every platform), else in ``/proc/self/maps`` (Linux), and then looks for the
function under the names the library's builds give it (NumPy's OpenBLAS prefixes ``scipy_`` and
suffixes ``64_``). Where none is found, ``blas()`` is None: the count stays what the library chose.
The search runs once, at the first call that needs it (importing the network loads NumPy alone).

The count is one number for the whole process: OpenBLAS's ``openblas_set_num_threads_local``,
despite its name, changes it for every thread (checked with NumPy 2.4's OpenBLAS 0.3.31), so it is
not used. The count changes results, not only speed: OpenBLAS splits a product's rows and columns
differently over a different number of threads, and float32 products then round differently
(``docs/speed.md``). So training pins the count it chose (``pinned``), and inference changes it
only while no training holds it (``nn/inference.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# (kind, the file name's start, the setter's and getter's names without prefix and suffix)
_LIBRARIES = (("openblas", ("libopenblas", "libscipy_openblas", "openblas"),
               "openblas_set_num_threads", "openblas_get_num_threads"),
              ("mkl", ("libmkl_rt", "mkl_rt"), "MKL_Set_Num_Threads", "MKL_Get_Max_Threads"),
              ("blis", ("libblis",), "bli_thread_set_num_threads", "bli_thread_get_num_threads"))
_AFFIXES = (("", ""), ("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "_"))


def available_cores() -> int:
    """The cores this process may run on (its affinity where the system has one, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                     # macOS and Windows have no affinity call
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Blas:
    """The BLAS loaded in this process: its kind ("openblas", "mkl", "blis"), its file, and the C functions
    that set and read its thread count."""

    kind: str
    path: str
    setter: Any                  # ctypes functions
    getter: Any

    @property
    def threads(self) -> int:
        return int(self.getter())

    def set_threads(self, n: int) -> None:
        self.setter(int(n))

    def config(self) -> str:
        """OpenBLAS's build line (its version and kernel, e.g. "OpenBLAS 0.3.31 … Haswell MAX_THREADS=64");
        the kind elsewhere."""
        library = ctypes.CDLL(self.path)
        for prefix, suffix in _AFFIXES:
            function = getattr(library, f"{prefix}openblas_get_config{suffix}", None)
            if self.kind == "openblas" and function is not None:
                function.restype = ctypes.c_char_p
                return str(function().decode(errors="replace"))
        return self.kind


def _loaded_files() -> list[str]:
    """The files of the shared libraries loaded in this process, as far as this platform tells."""
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-untyped]
    except ImportError:
        try:
            with open("/proc/self/maps") as maps:
                lines = maps.read().splitlines()
        except OSError:
            return []
        return list(dict.fromkeys(line.split(maxsplit=5)[5].strip() for line in lines
                                  if len(line.split(maxsplit=5)) == 6 and ".so" in line))
    return [pool["filepath"] for pool in threadpool_info() if pool.get("user_api") == "blas"]


@functools.cache
def blas() -> Blas | None:
    """The BLAS NumPy uses, with its thread-count functions; None where none is found."""
    import numpy  # (loads the BLAS, whose file is then in the process's maps)

    # SciPy, PyTorch and others bring BLAS libraries of their own, loaded beside NumPy's: NumPy's own copy (in
    # numpy.libs beside the package, or inside it) comes first; else the first found, as the platform lists them
    home = os.path.dirname(os.path.abspath(numpy.__file__))
    for path in sorted(_loaded_files(), key=lambda path: not path.startswith((home + os.sep, home + ".libs" + os.sep))):
        name = os.path.basename(path)
        for kind, starts, set_name, get_name in _LIBRARIES:
            if not name.startswith(starts):
                continue
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix, suffix in _AFFIXES:
                setter = getattr(library, f"{prefix}{set_name}{suffix}", None)
                getter = getattr(library, f"{prefix}{get_name}{suffix}", None)
                if setter is not None and getter is not None:
                    setter.restype, getter.restype = None, ctypes.c_int
                    setter.argtypes = [ctypes.c_int]
                    return Blas(kind, path, setter, getter)
    return None


_lock = threading.Lock()
_pins = 0            # training runs holding the count (``pinned``)
_lends = 0           # inference calls running at one thread (``one_thread``)
_lent_from = 0       # the count before the first of them


def threads() -> int:
    """The BLAS's thread count now (1 where it cannot be read)."""
    library = blas()
    return library.threads if library is not None else 1


@functools.cache
def starting_threads() -> int:
    """The thread count the BLAS started with (the cores, or what ``OPENBLAS_NUM_THREADS`` said, as a sweep's
    workers say it): the most threads training chooses among, read at the first call."""
    return threads()


@contextlib.contextmanager
def pinned(n: int) -> Iterator[None]:
    """Run the BLAS on ``n`` threads inside the block, and keep inference from changing the count meanwhile;
    the count before comes back after it."""
    global _pins
    library = blas()
    starting_threads()
    with _lock:
        before = _lent_from if _lends else threads()
        if library is not None:
            library.set_threads(n)
        _pins += 1
    try:
        yield
    finally:
        with _lock:
            _pins -= 1
            if library is not None and _pins == 0:
                library.set_threads(before)


@contextlib.contextmanager
def one_thread() -> Iterator[bool]:
    """Run the BLAS on one thread inside the block, where it may: the block gets True. False (nothing changed)
    where the BLAS cannot be set, or a training run in this process holds its count (``pinned``). Blocks in
    several threads at once share the one-thread setting; the last to leave restores the count."""
    global _lends, _lent_from
    library = blas()
    starting_threads()
    with _lock:
        allowed = library is not None and _pins == 0
        if library is not None and allowed:
            if _lends == 0:
                _lent_from = library.threads
                library.set_threads(1)
            _lends += 1
    try:
        yield allowed
    finally:
        if library is not None and allowed:
            with _lock:
                _lends -= 1
                if _lends == 0 and _pins == 0:        # a training run that began meanwhile set its own count
                    library.set_threads(_lent_from)

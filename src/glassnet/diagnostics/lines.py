"""The lines of a diagnostics record: how one is written (strict JSON, always) and how they are read (within bounds).

Writing: ``encode`` is the only way a record becomes a line. A statistic that is not finite (a
diverging run's gradient norm, the update ratio 0/0 of a tensor whose norm is 0) is written as
``null`` and named in the record's ``"nonfinite"`` map: a JSON Pointer to the value (RFC 6901, e.g.
``/update_ratios/1.beta``) → ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``. No line holds NaN.

Reading: a line is a record only if it is a whole line (with its newline), at most
``files.RECORD_LINE`` bytes, UTF-8 strict JSON (no NaN or Infinity, no number beyond float64) and an
object with a string ``"kind"``; anything else is skipped and counted, never an error. A reader asks
for a ``Piece``: at most ``MAX_PIECE_LINES`` lines and ``MAX_PIECE_BYTES`` bytes from an offset, so
that following a record of any size costs a bounded amount per request. A line longer than
``RECORD_LINE`` is read past in 64 KiB pieces, never held whole, possibly over several pieces: an
offset that does not begin a line is the rest of a line already skipped, and reading resumes at
the next line.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from glassnet.atomic import atomic_open
from glassnet.files import RECORD_LINE, open_regular

MAX_PIECE_LINES = 500                        # lines (records or skipped) per piece: the work of one answer
MAX_PIECE_BYTES = 2 * RECORD_LINE.bytes      # room for the longest record line, wherever the piece begins
SKIP_CHUNK = 64 * 1024                       # bytes read at a time while reading past an overlong line
_LARGEST_INT_DIGITS = 308                    # a longer integer is beyond float64, as a browser reads JSON


# ---- writing ---------------------------------------------------------------------------------------------

def encode(record: dict[str, Any]) -> bytes:
    """``record`` as one line of strict JSON with its newline; non-finite floats become null, named in "nonfinite"."""
    nonfinite: dict[str, str] = {}
    line = _finite(record, "", nonfinite)
    if nonfinite:
        line["nonfinite"] = nonfinite
    return (json.dumps(line, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")


def _finite(value: Any, pointer: str, nonfinite: dict[str, str]) -> Any:
    """``value`` with every non-finite float replaced by None, each one noted at its JSON Pointer."""
    if isinstance(value, float):                 # numpy's float64 is a float too
        if math.isfinite(value):
            return value
        nonfinite[pointer] = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        return None
    if isinstance(value, dict):
        return {key: _finite(item, f"{pointer}/{_escape(str(key))}", nonfinite) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item, f"{pointer}/{i}", nonfinite) for i, item in enumerate(value)]
    return value


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")        # RFC 6901


# ---- reading ---------------------------------------------------------------------------------------------

class Piece(NamedTuple):
    """What one read of a record returns: its record lines and where the next read begins."""

    lines: list[bytes]     # record lines as written (checked, without their newline)
    offset: int            # the byte offset the next piece begins at
    damaged: int           # lines skipped: not UTF-8 JSON, NaN or Infinity in them, or not a record object
    too_long: int          # lines skipped: longer than RECORD_LINE
    restart: bool = False  # the file is now shorter than the offset asked for (rewritten on resume): read from 0


def parse(line: bytes) -> dict[str, Any] | None:
    """The record a line holds, or None when it is not one (what a reader skips)."""
    try:
        value = json.loads(line.decode("utf-8"), parse_constant=_refuse, parse_float=_finite_float,
                           parse_int=_finite_int)
    except (ValueError, RecursionError):        # JSONDecodeError, UnicodeDecodeError, our refusals, deep nesting
        return None
    return value if isinstance(value, dict) and isinstance(value.get("kind"), str) else None


def _refuse(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):                 # 1e400
        raise ValueError(f"{text} is beyond float64")
    return value


def _finite_int(text: str) -> int:
    if len(text.lstrip("-")) > _LARGEST_INT_DIGITS:
        raise ValueError("an integer beyond float64")
    return int(text)


def read_piece(path: str | os.PathLike[str], offset: int = 0, *, max_lines: int = MAX_PIECE_LINES,
               max_bytes: int = MAX_PIECE_BYTES) -> Piece:
    """The records after byte ``offset`` of the record at ``path``, reading at most ``max_bytes`` past it.

    A missing file is an empty record. Raises ``files.FileKindError`` when ``path`` is not a regular file.
    """
    if max_bytes <= RECORD_LINE.bytes:
        raise ValueError(f"max_bytes must exceed RECORD_LINE ({RECORD_LINE.bytes}), or a long record could never "
                         f"be read; got {max_bytes}")
    try:
        f = open_regular(path, "diagnostics record")
    except FileNotFoundError:
        return Piece([], offset, 0, 0)
    with f:
        if offset > os.fstat(f.fileno()).st_size:
            return Piece([], 0, 0, 0, restart=True)
        return _read(f, offset, max_lines, offset + max_bytes)


def _read(f: BinaryIO, offset: int, max_lines: int, end: int) -> Piece:
    """Lines of ``f`` from ``offset``, reading no byte at or past ``end``; stops before a line not yet whole."""
    lines: list[bytes] = []
    damaged = too_long = 0
    position = offset if _begins_line(f, offset) else _skip_line(f, offset, end)
    f.seek(position)
    while len(lines) + damaged + too_long < max_lines and position < end:
        line = f.readline(min(RECORD_LINE.bytes + 1, end - position))
        if not line.endswith(b"\n"):
            if len(line) <= RECORD_LINE.bytes:
                break                            # still being written, or past this piece's bytes: next time
            too_long += 1
            position = _skip_line(f, position + len(line), end)
            continue
        position += len(line)
        if parse(line) is None:
            damaged += 1
        else:
            lines.append(line[:-1])
    return Piece(lines, position, damaged, too_long)


def _begins_line(f: BinaryIO, offset: int) -> bool:
    if offset == 0:
        return True
    f.seek(offset - 1)
    return f.read(1) == b"\n"


def _skip_line(f: BinaryIO, position: int, end: int) -> int:
    """Read past the rest of the line at ``position`` in pieces: the offset after its newline, or where reading
    stopped (``end``, or the end of the file) when the line goes on."""
    f.seek(position)
    while position < end:
        chunk = f.readline(min(SKIP_CHUNK, end - position))
        position += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            break
    return position


def read_lines(path: str | os.PathLike[str], offset: int = 0) -> Iterator[bytes]:
    """Every record line after ``offset``, read piece by piece (a partial last line is left for later)."""
    while True:
        piece = read_piece(path, offset)
        yield from piece.lines
        if piece.offset == offset or piece.restart:
            return
        offset = piece.offset


def read_records(path: str | os.PathLike[str], offset: int = 0) -> list[dict[str, Any]]:
    """Every record after byte ``offset`` of the record at ``path`` (for notebooks and tests: it holds them all)."""
    return [json.loads(line) for line in read_lines(path, offset)]


def keep_records_before(path: Path, epoch: int) -> set[int]:
    """Make the record at ``path`` hold only records of epochs before ``epoch``, and return the epochs it records.

    What goes: a partial last line, every line that is not a record, records of ``epoch`` or later (a
    resumed run records them anew) and ``end`` records (the run goes on). The file is read in pieces,
    and rewritten (atomically) only when something goes.
    """
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return set()
    epochs: set[int] = set()
    dropped, length = False, 0
    for line, record in _classified(path, epoch):
        if record is None:
            dropped = True
            continue
        length += len(line) + 1
        if record["kind"] == "epoch":
            epochs.add(record.get("epoch", 0))
    if dropped or length != size:                # skipped lines and a partial last one are not in ``length``
        with atomic_open(path, "wb") as out:
            for line, record in _classified(path, epoch):
                if record is not None:
                    out.write(line + b"\n")
    return epochs


def _classified(path: Path, epoch: int) -> Iterator[tuple[bytes, dict[str, Any] | None]]:
    """Each record line, with its record when it stays (before ``epoch``, not an end record), else None."""
    for line in read_lines(path):
        record = parse(line)
        stays = record is not None and record["kind"] != "end" and type(record.get("epoch", 0)) is int \
            and record.get("epoch", 0) < epoch
        yield line, record if stays else None

"""The learner's code: an exercise file run as a fresh module, and what its code raised, said in one line.

An exercise file is read through ``glassnet.files``: a regular file within the ``WORKBOOK`` bound, so
that a name pointing at a FIFO or a device is refused at once instead of read forever.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from types import ModuleType

from glassnet.errors import GlassnetError
from glassnet.files import WORKBOOK, read_bytes

MESSAGE_CHARS = 300       # a learner's error message is cut after this many characters: it is read in a table


class ExerciseFileError(GlassnetError):
    """An exercise file that cannot be read: missing, not a regular file, too large or unreadable."""


def load(path: Path) -> ModuleType:
    """The learner's file as a fresh module (a new one on every call: edits are always seen).

    Raises ``ExerciseFileError`` when the file cannot be read, and whatever compiling or running it raises.
    The module's code carries ``path`` made absolute as its file name, as ``describe`` expects.
    """
    path = path.absolute()
    source = _read(path)
    code = compile(source, str(path), "exec", dont_inherit=True)      # honours a coding declaration, as import does
    name = f"glassnet_workbook_{path.stem}"
    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module                         # dataclasses look a class's module up by name
    try:
        exec(code, module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def read_source(path: Path) -> str:
    """The text of the learner's file, read as ``load`` reads it (to look at how the code is written)."""
    try:
        return _read(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ExerciseFileError(f"{path} is not UTF-8: {e}") from None


def _read(path: Path) -> bytes:
    try:
        return read_bytes(path, "workbook exercise", WORKBOOK, ExerciseFileError)
    except FileNotFoundError:
        raise ExerciseFileError(f"{path} is missing") from None
    except OSError as e:
        raise ExerciseFileError(f"cannot read {path}: {e.strerror or e}") from None


def _innermost(error: BaseException, files: Collection[Path]) -> tuple[Path, int] | None:
    """The innermost (file, line) of ``files`` (absolute paths) that ``error`` passed through, if any."""
    names = {str(path) for path in files}
    lines = [(frame.f_code.co_filename, line) for frame, line in traceback.walk_tb(error.__traceback__)
             if frame.f_code.co_filename in names]
    return (Path(lines[-1][0]), lines[-1][1]) if lines else None


def _where(error: BaseException, files: Collection[Path]) -> str:
    """' (linear.py, line 12)': where in ``files`` ``error`` was raised; '' when it did not pass through them."""
    found = _innermost(error, files)
    return f" ({found[0].name}, line {found[1]})" if found else ""


def describe(error: BaseException, files: Collection[Path]) -> str:
    """What the learner's code did instead of returning: 'raised ValueError: … (linear.py, line 12)'."""
    if isinstance(error, SystemExit):
        return (f"called sys.exit({_shown(error.code)}){_where(error, files)}; a function must return its result "
                "(or raise an error), never end the program")
    return f"raised {type(error).__name__}: {text(error)}{_where(error, files)}"


def import_failure(path: Path, error: BaseException) -> str:
    """Why the exercise file at ``path`` (absolute) could not be imported, with the line when it is known."""
    found = _innermost(error, [path])
    line = error.lineno if isinstance(error, SyntaxError) else found[1] if found else None
    if isinstance(error, SystemExit):
        what = f"it called sys.exit({_shown(error.code)})"
    elif isinstance(error, SyntaxError):                # its str() names the file and line again
        what = f"{type(error).__name__}: {error.msg}"
    else:
        what = f"{type(error).__name__}: {text(error)}"
    return f"cannot import {path.name}: {what}{f' (line {line})' if line else ''}"


def text(error: BaseException) -> str:
    """``str(error)``, cut to ``MESSAGE_CHARS``: a learner's exception may be huge, or fail to say itself."""
    return _cut(str, error)


def _shown(value: object) -> str:
    """``repr(value)``, cut to ``MESSAGE_CHARS`` (a value the learner's code chose, e.g. sys.exit's argument)."""
    return _cut(repr, value)


def _cut(say: Callable[[object], str], value: object) -> str:
    try:
        message = say(value)
    except BaseException:                 # the learner's __str__ or __repr__ raised, even sys.exit: not ours to pass on
        return f"(cannot be shown: its {say.__name__}() raised)"
    if len(message) <= MESSAGE_CHARS:
        return message
    return f"{message[:MESSAGE_CHARS]}… ({len(message) - MESSAGE_CHARS:,} more characters)"

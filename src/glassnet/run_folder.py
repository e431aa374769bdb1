"""Run folders are glassnet's own: created fresh, recognisable, and nothing in them that glassnet did not
write is ever deleted or overwritten.

A new run goes into a folder that does not exist yet, or is empty, or is marked as glassnet's (a
run that was stopped before its first checkpoint); the marker file is written first. A folder
holding anything else is refused, whatever the file names. Temporary files are cleaned up only
when they are the temporaries of the files a run writes (``.<name>.<random>.tmp``).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from glassnet.errors import GlassnetError
from glassnet.version import __version__

MARKER = ".glassnet-run"
CHECKPOINT = "model.npz"
# every file a run writes; its temporaries are .<name>.<random>.tmp (glassnet.atomic)
RUN_FILES = (CHECKPOINT, "best.npz", "config.toml", "history.csv", "history.json", "metrics.json", "report.md",
             "diagnostics.jsonl", "learning_curves.png", "confusion_matrix.png", "per_class_f1.png",
             "misclassified.png", "first_layer_weights.png")
_TEMPORARY = re.compile(r"^\.(" + "|".join(map(re.escape, RUN_FILES)) + r")\.[^/]+\.tmp$")


class RunFolderError(GlassnetError):
    """The folder asked for a new run cannot be used without touching someone else's files."""


def is_ours(folder: Path) -> bool:
    return (folder / MARKER).is_file() or (folder / CHECKPOINT).is_file()


def _mark(folder: Path) -> None:
    # written in place, not atomically: even a marker cut short by a kill still marks the folder as ours
    with open(folder / MARKER, "w", encoding="utf-8") as f:
        f.write(json.dumps({"glassnet_version": __version__,
                            "created": datetime.now().isoformat(timespec="seconds")}) + "\n")


def prepare_new(folder: Path) -> Path:
    """Make ``folder`` the home of a new run, or raise ``RunFolderError`` saying why it cannot be."""
    if str(folder).strip() == "":
        raise RunFolderError("the run folder's name is empty; name a new folder")
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        if not folder.is_dir():
            raise RunFolderError(f"{folder} exists and is not a folder; choose another name") from None
        if (folder / CHECKPOINT).exists():
            raise RunFolderError(f"{folder} already holds a run; continue it with --resume {folder} "
                                 "(Python: resume=True), or choose another folder") from None
        if not (folder / MARKER).is_file():
            foreign = sorted(p.name for p in folder.iterdir())
            if foreign:
                shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
                raise RunFolderError(f"{folder} exists and holds files glassnet did not write ({shown}); a run goes "
                                     "into a new or empty folder, so nothing of yours is overwritten. Choose "
                                     "another folder") from None
    except OSError as e:
        raise RunFolderError(f"cannot create the run folder {folder}: {e.strerror or e}") from e
    _mark(folder)
    return folder


def new_timestamped(root: Path = Path("runs")) -> Path:
    """A fresh ``root/<date-time>`` folder, made here and now: two runs started in the same second get two."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for suffix in ("", *(f"-{n}" for n in range(2, 1000))):
        folder = root / f"{stamp}{suffix}"
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as e:
            raise RunFolderError(f"cannot create the run folder {folder}: {e.strerror or e}") from e
        _mark(folder)
        return folder
    raise RunFolderError(f"{root}/{stamp}-999 exists too; remove old runs or name a folder with --out")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries a killed run left in its own folder; any other file stays."""
    if not is_ours(folder):
        return []
    removed = []
    for path in folder.iterdir():
        if _TEMPORARY.match(path.name):
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed

"""The live view's side of the server: a run folder followed while it grows, its newest model, its controls.

``LiveRun`` reads the run's diagnostics record a piece at a time from a byte offset (complete, valid
lines only, within ``lines.MAX_PIECE_BYTES`` and ``lines.MAX_PIECE_LINES`` per answer), reloads the
newest checkpoint when it changes (for the draw pad, with the first layer's random start W₀ rebuilt
from the checkpoint's config, as the recorder draws it), and, for a run started with ``glassnet train
--watch``, passes pause, resume and stop to the training loop's ``Controller``. Whether the run has
ended is the record's to say (its ``end`` line), not this module's.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from glassnet.checkpoint import CHECKPOINT_NAME, load_model
from glassnet.config import TrainConfig, with_overrides
from glassnet.diagnostics.lines import read_piece
from glassnet.diagnostics.record import RECORD_NAME, Controller
from glassnet.errors import GlassnetError
from glassnet.nn.layers import Linear
from glassnet.nn.model import Sequential
from glassnet.nn.params import Array
from glassnet.train import initial_model
from glassnet.web.api import finite_json


class LiveRun:
    """One run folder, followed. ``controller`` only for a run trained by this process."""

    def __init__(self, run_dir: str | Path, controller: Controller | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.controller = controller
        self._lock = threading.Lock()
        self._model: Sequential | None = None
        self._start: Array | None = None
        self._model_stamp: tuple[int, int] | None = None

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"run": self.run_dir.name, "controllable": self.controller is not None}
        if self.controller is not None:
            state |= self.controller.state()
        return state

    def records(self, offset: int) -> bytes:
        """The answer to ``/api/live/record?offset=N``: a JSON object with the next piece of the record.

        ``records`` holds the record lines as the file holds them (each checked to be a strict JSON
        object, so they are spliced in, never parsed into a second copy); ``offset`` is where to ask next;
        ``skipped`` counts the lines left out; ``restart`` says the file was rewritten: read it from 0.
        Raises ``files.FileKindError`` when the record is not a regular file.
        """
        piece = read_piece(self.run_dir / RECORD_NAME, offset)
        head = finite_json({"offset": piece.offset, "restart": piece.restart,
                            "skipped": {"damaged": piece.damaged, "too_long": piece.too_long}})
        return head[:-1] + b',"records":[' + b",".join(piece.lines) + b"]}"

    def model(self) -> tuple[Sequential, Array | None] | None:
        """The newest checkpoint's model and its first layer's W₀ (None when the checkpoint does not say how the
        run started), reloaded when the file changes; None before the first epoch ends (or while ``model.npz``
        is not a model glassnet reads: ``load_model`` refuses a FIFO without opening it for long)."""
        path = self.run_dir / CHECKPOINT_NAME
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        with self._lock:
            if stamp != self._model_stamp:
                try:
                    self._model, meta = load_model(path)
                    self._start = first_layer_start(self._model, meta)
                    self._model_stamp = stamp
                except (GlassnetError, OSError):
                    pass                               # being replaced this instant (or damaged): keep the previous one
            return None if self._model is None else (self._model, self._start)

    def control(self, action: str) -> dict[str, Any]:
        """Pass ``action`` to the training loop; ``PermissionError`` when this server does not run the training."""
        if self.controller is None:
            raise PermissionError("this run is not controlled by this server; only 'glassnet train --watch' "
                                  "can pause or stop its own run")
        self.controller.request(action)
        return self.state()


def first_layer_start(model: Sequential, meta: dict[str, Any]) -> Array | None:
    """W₀ of ``model``'s first Linear: the random start its run drew, rebuilt from the checkpoint's config as the
    diagnostics recorder rebuilds it. None when the checkpoint has no run config, or its run started from
    another model's weights (``--init-from``), or the config builds another network."""
    config = meta.get("config")
    if not isinstance(config, dict) or "init_from" in meta:
        return None
    try:
        start = initial_model(with_overrides(TrainConfig(), config), (model.n_inputs, model.n_classes))
    except (GlassnetError, ValueError, TypeError):
        return None
    first = next(layer for layer in model.layers if isinstance(layer, Linear))
    initial = next(layer for layer in start.layers if isinstance(layer, Linear)).weight.value
    return initial if initial.shape == first.weight.value.shape else None

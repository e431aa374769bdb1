"""The live view's side of the server: a run folder followed while it grows, its newest model, its controls.

``LiveRun`` reads the run's diagnostics record from a byte offset (complete lines only), reloads
the newest checkpoint when it changes (for the draw pad), and, for a run started with
``glassnet train --watch``, passes pause, resume and stop to the training loop's ``Controller``,
only with the run's token.
"""

from __future__ import annotations

import hmac
import threading
from pathlib import Path
from typing import Any

from glassnet.checkpoint import CHECKPOINT_NAME, load_model
from glassnet.diagnostics.record import RECORD_NAME, Controller, read_records
from glassnet.errors import CheckpointError
from glassnet.nn.model import Sequential

MAX_RECORDS_PER_ANSWER = 500


class LiveRun:
    """One run folder, followed. ``controller`` and ``token`` only for a run trained by this process."""

    def __init__(self, run_dir: str | Path, controller: Controller | None = None, token: str | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.controller, self.token = controller, token
        self.finished = False                          # set by the training process when fit returns
        self._lock = threading.Lock()
        self._model: Sequential | None = None
        self._model_stamp: tuple[int, int] | None = None

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"run": self.run_dir.name, "controllable": self.controller is not None,
                                 "finished": self.finished or (self.run_dir / "metrics.json").exists()}
        if self.controller is not None:
            state |= self.controller.state() | {"token": self.token}
        return state

    def records(self, offset: int) -> dict[str, Any]:
        """Complete records after byte ``offset`` (at most MAX_RECORDS_PER_ANSWER: a long replay comes in pieces)."""
        records, end = read_records(self.run_dir / RECORD_NAME, max(0, offset), limit=MAX_RECORDS_PER_ANSWER)
        return {"records": records, "offset": end}

    def model(self) -> Sequential | None:
        """The newest checkpoint's model, reloaded when the file changes; None before the first epoch ends."""
        path = self.run_dir / CHECKPOINT_NAME
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._model_stamp:
                try:
                    self._model, _ = load_model(path)
                    self._model_stamp = stamp
                except CheckpointError:
                    pass                               # being replaced this instant: keep the previous one
            return self._model

    def control(self, action: str, token: str) -> dict[str, Any]:
        """Pass ``action`` to the training loop; ``PermissionError`` without the run's token."""
        if self.controller is None or self.token is None:
            raise PermissionError("this run is not controlled by this server; only 'glassnet train --watch' "
                                  "can pause or stop its own run")
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise PermissionError("wrong or missing run token")
        self.controller.request(action)
        return self.state()

"""The divergence guard: a non-finite loss ends the run with the step and the learning rate, and says
where the last good checkpoint is."""

from __future__ import annotations

import math
from pathlib import Path

from glassnet.errors import DivergenceError
from glassnet.train.callbacks import Callback, Logs


class DivergenceGuard(Callback):
    """Raises ``DivergenceError`` at the first batch whose loss is not finite (its update was skipped)."""

    def __init__(self, checkpoint: Path | None) -> None:
        self.checkpoint = checkpoint

    def on_batch_end(self, step: int, logs: Logs) -> None:
        if not math.isfinite(logs["loss"]):
            raise self.error(step, logs["lr"], logs["epoch"], self.checkpoint)

    @staticmethod
    def error(step: int, lr: float, epoch: int, checkpoint: Path | None) -> DivergenceError:
        """The error of a run whose logits stopped being finite at ``step`` (also when evaluation finds it)."""
        kept = f"; the last good checkpoint is kept in {checkpoint}" if checkpoint and epoch > 1 else ""
        return DivergenceError(f"training diverged: non-finite loss at step {step} (lr {lr:g}) in epoch {epoch}"
                               f"{kept}.\nhelp: start a new run with a lower learning rate (--lr); --resume keeps "
                               "the run's own")

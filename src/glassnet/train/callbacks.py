"""Callbacks: what ``fit`` calls at each moment of a run, each time with one ``logs`` dict.

Keras's convention: a hook receives the moment's index and a dict of what is known then, so a new
figure is a new key, never a new parameter of every callback. The keys:

- ``on_fit_start(model, logs)``: ``history`` (the epochs a resumed run had done, as ``EpochStats``),
  ``engine`` ("fast" or "layers": the path that computes the steps) and ``engine_note`` (why the
  fast path was refused, when it was asked for and cannot compute this network exactly);
- ``on_epoch_start(epoch, logs)``: ``steps`` (the epoch's batches);
- ``on_before_update(step, logs)``: every parameter's ``grad`` is assigned and not yet applied, on
  either path; ``epoch``, ``batch``, ``loss``, ``lr``. A callback may change the gradients here
  (``GradientClipping``) and add what it measured (``grad_norm``);
- ``on_batch_end(step, logs)``: ``epoch``, ``batch`` (0-based in the epoch), ``loss``, ``accuracy``,
  ``lr``, and what ``on_before_update`` added. ``step`` is the batch's number in the run, from 1
  (the optimizer steps taken, this one included). When the logits were not finite the update was
  skipped and ``loss`` is NaN: the divergence guard, first of the callbacks, then ends the run;
- ``on_epoch_end(epoch, logs)``: the ``EpochStats`` fields, ``stats`` (the ``EpochStats``) and
  ``predicted`` (each evaluation sample's class);
- ``on_fit_end(logs)``: ``stop_reason``, ``finished`` and ``epoch`` (as in ``FitResult``: early
  stopping, before the caller's callbacks hear it, puts its best epoch's weights back and says so);
  also when the run ends with an error (a divergence, a full disk), before ``fit`` raises it.

A callback ends the run by raising ``StopTraining("why")``: from ``on_batch_end`` after the current
batch, from ``on_before_update`` before its update (which is not applied), from ``on_epoch_end`` after
the current epoch (which is still checkpointed). The library never prints: a callback that shows
progress is the caller's.
"""

from __future__ import annotations

from typing import Any

from glassnet.nn.model import Sequential

Logs = dict[str, Any]


class StopTraining(Exception):
    """Raised by a callback to end ``fit``, which returns normally with the message as its reason."""


class Callback:
    """The hooks ``fit`` calls, each doing nothing until overridden."""

    def on_fit_start(self, model: Sequential, logs: Logs) -> None: ...
    def on_epoch_start(self, epoch: int, logs: Logs) -> None: ...
    def on_before_update(self, step: int, logs: Logs) -> None: ...
    def on_batch_end(self, step: int, logs: Logs) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs) -> None: ...
    def on_fit_end(self, logs: Logs) -> None: ...

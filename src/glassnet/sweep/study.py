"""Optuna's side of a sweep: the study every worker shares, its sampler and pruner.

The study keeps the spec (``glassnet_spec`` among its user attributes), so a worker on another
machine needs only the storage URL and the study's name. Running trials send a heartbeat; one
silent for three heartbeats is marked failed by the next worker that looks, and a copy of it is
queued to run again (Optuna's ``RetryHeartbeatStaleTrialCallback``); a trial whose worker is known to have
died (``fail_left_running``) is failed and queued at once, with the cause. The database itself is
``storage``'s.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback

from glassnet.sweep.failures import COUNTED_FROM
from glassnet.sweep.spec import SweepSpec, check_name, spec_from_dict
from glassnet.sweep.storage import SweepError, experimental_allowed, first_line, open_storage, redacted

SPEC_ATTR = "glassnet_spec"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

optuna.logging.set_verbosity(logging.ERROR)         # glassnet says what happened to each trial itself


def _quiet(line: str) -> None:
    """Where the waiting lines go when nobody is told."""


def create_study(spec: SweepSpec, url: str, say: Callable[[str], None] = _quiet) -> optuna.Study:
    """Create the spec's study in ``url``, or join it if it exists with the same spec. Failures in a row are
    counted afresh from here: a new start of the sweep is a person's decision to try again."""
    storage = open_storage(url, say=say)
    try:
        study = optuna.create_study(study_name=spec.name, storage=storage, direction=spec.direction,
                                    load_if_exists=True)
    except SweepError:
        raise
    except Exception as e:
        raise SweepError(f"cannot create the study {spec.name!r} in {redacted(url)}: {first_line(e, url)}") from e
    saved, wanted = study.user_attrs.get(SPEC_ATTR), spec.to_dict()
    if saved is not None and saved | {"trials": spec.trials} != wanted:
        raise SweepError(f"the study {spec.name!r} in {redacted(url)} was made from a different spec (only trials "
                         "may change, to ask for more); give this one another name (name = \"...\") or another "
                         "--out/--storage")
    if saved != wanted:
        study.set_user_attr(SPEC_ATTR, wanted)
    study.set_user_attr(COUNTED_FROM, len(study.get_trials(deepcopy=False)))
    return study


def trials_wanted(attrs: dict[str, Any]) -> int:
    """The number of finished trials the study asks for now (a later start of the sweep may raise it),
    from the study's user attributes."""
    try:
        return int(spec_from_dict(attrs[SPEC_ATTR], "the spec stored in the study").trials)
    except (KeyError, TypeError) as e:
        raise SweepError(f"the study's stored spec cannot be read ({e!r}); it was not written by glassnet "
                         "sweep") from e


def load_study(url: str, name: str, index: int | None = None,
               say: Callable[[str], None] = _quiet) -> tuple[optuna.Study, SweepSpec]:
    """Join the study ``name``: its spec, and a sampler seeded for worker ``index`` (None: a fresh seed)."""
    check_name(name, "--study")
    storage = open_storage(url, existing=True, say=say)
    try:
        summary = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    except SweepError:
        raise
    except Exception as e:
        raise SweepError(f"cannot read the studies in {redacted(url)}: {first_line(e, url)}") from e
    if name not in summary:
        known = ", ".join(sorted(summary)) or "none"
        raise SweepError(f"no study named {name!r} in {redacted(url)} (studies there: {known}); "
                         "start it with: glassnet sweep SPEC.toml --storage URL")
    attrs = summary[name].user_attrs
    if SPEC_ATTR not in attrs:
        raise SweepError(f"the study {name!r} was not made by glassnet sweep (it has no spec)")
    spec = spec_from_dict(attrs[SPEC_ATTR], f"the spec stored in study {name!r}")
    shared = open_storage(url, spec.heartbeat_seconds, spec.max_retries, existing=True, say=say)   # with a heartbeat
    study = optuna.load_study(study_name=name, storage=shared, sampler=sampler(spec, index, summary[name].n_trials),
                              pruner=pruner(spec))
    return study, spec


def sampler_seed(spec: SweepSpec, index: int, n_trials: int) -> int:
    """The seed of worker ``index`` joining a study of ``n_trials`` trials: the same spec and seed give one
    worker of a fresh study the same draws every time; two workers, or a study continued, draw anew."""
    return int(np.random.SeedSequence([spec.seed, index, n_trials]).generate_state(1)[0])


def sampler(spec: SweepSpec, index: int | None, n_trials: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler for worker ``index`` (``None``, a worker started by hand on another machine: a fresh
    seed), seeded by ``sampler_seed``."""
    seed = None if index is None else sampler_seed(spec, index, n_trials)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "grid":
        return optuna.samplers.GridSampler({d.field: d.grid() for d in spec.space}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    if not spec.pruning:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=spec.pruning_startup_trials,
                                       n_warmup_steps=spec.pruning_warmup_epochs)


def counts(trials: Sequence[optuna.trial.FrozenTrial]) -> dict[str, int]:
    """Trials by state: finished (complete or pruned), running, waiting, failed."""
    states = [t.state for t in trials]
    return {"finished": sum(s in FINISHED for s in states),
            "running": states.count(optuna.trial.TrialState.RUNNING),
            "waiting": states.count(optuna.trial.TrialState.WAITING),
            "failed": states.count(optuna.trial.TrialState.FAIL)}


def queue_again(study: optuna.Study, failed: optuna.trial.FrozenTrial, max_retries: int) -> None:
    """Queue a copy of the ``failed`` trial, with its drawn values, unless it has been retried ``max_retries``
    times. The copy starts without the record of the failed run (its worker's host and pid, folder, error)."""
    fresh = copy.deepcopy(failed)                  # Optuna's callback adds to its retry history in place
    fresh.user_attrs = {}
    with experimental_allowed():
        RetryHeartbeatStaleTrialCallback(max_retries)(study, fresh)


def fail_left_running(study: optuna.Study, host: str, pid: int, error: str, max_retries: int) -> list[int]:
    """Fail the trials that the process ``pid`` on ``host``, known to have ended, left running, with ``error``
    as their cause, and queue each to run again; their numbers. A trial that another worker has failed first
    (found stale) is left as it is."""
    storage = study._storage                 # as Optuna's fail_stale_trials: a Study fails no trial by number
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.user_attrs.get("host") != host or trial.user_attrs.get("pid") != pid:
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "error", error)
            if not storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        queue_again(study, storage.get_trial(trial._trial_id), max_retries)
        failed.append(trial.number)
    return failed

"""Optuna's side of a sweep: the storage every worker shares, the study, its sampler and pruner.

The study keeps the spec (``glassnet_spec`` among its user attributes), so a worker on another
machine needs only the storage URL and the study's name. Running trials send a heartbeat; one
silent for three heartbeats is marked failed by the next worker that looks, and a copy of it is
queued to run again (Optuna's ``RetryHeartbeatStaleTrialCallback``).
"""

from __future__ import annotations

import contextlib
import logging
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from glassnet.errors import GlassnetError
from glassnet.sweep.spec import SweepSpec, spec_from_dict

SPEC_ATTR = "glassnet_spec"
STORE_NAME = "study.db"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

optuna.logging.set_verbosity(logging.ERROR)         # glassnet says what happened to each trial itself


@contextlib.contextmanager
def experimental_allowed() -> Iterator[None]:
    """Silence Optuna's notes that the heartbeat and its retry are experimental: they are what a sweep needs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


class SweepError(GlassnetError):
    """A study cannot be reached, created or joined."""


def local_url(folder: Path) -> str:
    """The embedded store of a sweep folder: an SQLite file beside its trials."""
    return f"sqlite:///{(folder / STORE_NAME).resolve()}"


def _sqlalchemy_url(url: str) -> str:
    # SQLAlchemy reads a bare postgresql:// as psycopg2's; the 'sweep' extra installs psycopg 3
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def open_storage(url: str, heartbeat_seconds: int | None = None, max_retries: int = 0) -> RDBStorage:
    """The shared store; with a heartbeat, trials whose worker went silent are failed and retried."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+")):
        raise SweepError(f"--storage must be a postgresql://user@host/database or sqlite:///path URL, got {url!r}")
    # SQLite: wait up to a minute for another worker's write; PostgreSQL: give up on a server that does not answer
    engine: dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else \
        {"pool_pre_ping": True, "connect_args": {"connect_timeout": 20}}
    beat: dict[str, Any] = {}
    if heartbeat_seconds:
        with experimental_allowed():
            retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retries)
        beat = {"heartbeat_interval": heartbeat_seconds, "grace_period": 3 * heartbeat_seconds,
                "heartbeat_stale_trial_callback": retry}
    try:
        with experimental_allowed():
            return RDBStorage(_sqlalchemy_url(url), engine_kwargs=engine, **beat)
    except ImportError as e:
        raise SweepError(f"cannot open {url.split('@')[-1]}: {e}; install the 'sweep' extra: "
                         "pip install 'glassnet[sweep]'") from e
    except Exception as e:            # SQLAlchemy's OperationalError and friends: a server or file we cannot use
        raise SweepError(f"cannot open the study storage {redacted(url)}: {_first_line(e, url)}") from e


def _password(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).password or ""
    except ValueError:                 # not a URL with a well-formed host part: nothing to hide
        return ""


def redacted(url: str) -> str:
    """The URL without its password, to print."""
    password = _password(url)
    return url.replace(f":{password}@", "@", 1) if password else url


def _first_line(error: BaseException, url: str) -> str:
    """The first line of a database error, with the URL's password (which drivers may echo) blanked out."""
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    password = _password(url)
    return line.replace(password, "***") if password else line


def create_study(spec: SweepSpec, url: str) -> optuna.Study:
    """Create the spec's study in ``url``, or join it if it exists with the same spec."""
    storage = open_storage(url)
    try:
        study = optuna.create_study(study_name=spec.name, storage=storage, direction=spec.direction,
                                    load_if_exists=True)
    except Exception as e:
        raise SweepError(f"cannot create the study {spec.name!r} in {redacted(url)}: {_first_line(e, url)}") from e
    saved, wanted = study.user_attrs.get(SPEC_ATTR), spec.to_dict()
    if saved is not None and saved | {"trials": spec.trials} != wanted:
        raise SweepError(f"the study {spec.name!r} in {redacted(url)} was made from a different spec (only trials "
                         "may change, to ask for more); give this one another name (name = \"...\") or another "
                         "--out/--storage")
    if saved != wanted:
        study.set_user_attr(SPEC_ATTR, wanted)
    return study


def trials_wanted(study: optuna.Study) -> int:
    """The number of finished trials the study asks for now (a later start of the sweep may raise it)."""
    return int(study.user_attrs[SPEC_ATTR]["trials"])


def load_study(url: str, name: str, index: int | None = None) -> tuple[optuna.Study, SweepSpec]:
    """Join the study ``name``: its spec, and a sampler seeded for worker ``index`` (None: a fresh seed)."""
    storage = open_storage(url)
    try:
        summary = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    except Exception as e:
        raise SweepError(f"cannot read the studies in {redacted(url)}: {_first_line(e, url)}") from e
    if name not in summary:
        known = ", ".join(sorted(summary)) or "none"
        raise SweepError(f"no study named {name!r} in {redacted(url)} (studies there: {known}); "
                         "start it with: glassnet sweep SPEC.toml --storage URL")
    attrs = summary[name].user_attrs
    if SPEC_ATTR not in attrs:
        raise SweepError(f"the study {name!r} was not made by glassnet sweep (it has no spec)")
    spec = spec_from_dict(attrs[SPEC_ATTR], f"the spec stored in study {name!r}")
    shared = open_storage(url, spec.heartbeat_seconds, spec.max_retries)   # the heartbeat the spec asks for
    study = optuna.load_study(study_name=name, storage=shared, sampler=sampler(spec, index), pruner=pruner(spec))
    return study, spec


def sampler(spec: SweepSpec, index: int | None) -> optuna.samplers.BaseSampler:
    """The spec's sampler. Worker ``index`` k draws from seed + k, so two workers do not propose the same
    trials; ``None`` (a worker started by hand on another machine) draws from a fresh seed."""
    seed = None if index is None else spec.seed + index
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


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state: finished (complete or pruned), running, waiting, failed."""
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return {"finished": sum(s in FINISHED for s in states),
            "running": states.count(optuna.trial.TrialState.RUNNING),
            "waiting": states.count(optuna.trial.TrialState.WAITING),
            "failed": states.count(optuna.trial.TrialState.FAIL)}

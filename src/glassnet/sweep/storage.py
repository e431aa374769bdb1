"""The study's database: opened once, then waited for while it is locked or its server restarts.

Every worker and the coordinator reach the study through one ``RDBStorage``. A call that finds
the database unable to answer for now (an SQLite file another process holds locked, a PostgreSQL
server restarting or out of reach) is tried again after 1 s, then 2, 4, 8, 16 and every 30 s, and
each wait is said in one line ("waiting for the study's database (database is locked); retrying
in 4 s"), as PostgreSQL's own tools do. After ``PATIENCE_SECONDS`` of such waiting the call fails
with one line, a ``SweepError``, and so does every later call of that storage. Opening a database
for the first time waits only for a lock: a server that refuses a new client is named at once.

URLs are shown without their password (``redacted``), also when they are malformed.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import optuna
import sqlalchemy.exc
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from sqlalchemy.engine import URL

from glassnet.errors import GlassnetError

STORE_NAME = "study.db"
# One SQLite call waits this long for another process's write before the wait is said and retried:
# writes take milliseconds, so only a lock held on purpose (a backup, an open sqlite3 shell) lasts it.
SQLITE_BUSY_SECONDS = 5
# How long a sweep waits for its database before it stops: a PostgreSQL restart takes seconds and a
# failover about a minute; ten minutes also covers a server's reboot.
PATIENCE_SECONDS = 600
_FIRST_DELAY, _LONGEST_DELAY = 1.0, 30.0

# Every call a Study makes to its RDBStorage: Optuna wraps an RDBStorage in its _CachedStorage, whose
# calls to the storage are these (tests/sweep/test_storage.py checks the list against Optuna's source).
CALLS = ("create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
         "get_study_id_from_name", "get_study_name_from_id", "get_study_directions", "get_study_user_attrs",
         "get_study_system_attrs", "get_all_studies", "create_new_trial", "_create_new_trial", "set_trial_param",
         "_set_trial_param", "get_trial_id_from_study_id_trial_number", "get_trial_param", "_get_best_trial_id",
         "get_best_trial", "set_trial_state_values", "set_trial_intermediate_value", "set_trial_user_attr",
         "set_trial_system_attr", "get_trial", "get_all_trials", "_get_trials", "get_n_trials",
         "_get_stale_trial_ids")

T = TypeVar("T")


class SweepError(GlassnetError):
    """A study cannot be reached, created or joined."""


@contextlib.contextmanager
def experimental_allowed() -> Iterator[None]:
    """Silence Optuna's notes that the heartbeat and its retry are experimental: they are what a sweep needs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def local_url(folder: Path) -> str:
    """The embedded store of a sweep folder: an SQLite file beside its trials (any folder name, '?' and '%'
    included, escaped so that the URL names this file)."""
    return URL.create("sqlite", database=str((folder / STORE_NAME).resolve())).render_as_string()


# scheme://[user[:password]@]host...: the password runs from the first ':' after '://' to the last '@'
# (unescaped '@' or '/' in a password included), and libpq also takes ?password=...
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@]*):(?P<password>.*)@")
_QUERY_PASSWORD = re.compile(r"([?&])password=([^&#]*)&?", re.IGNORECASE)


def _secrets(url: str) -> list[str]:
    """The passwords a URL holds, as written and unescaped."""
    if url.startswith("sqlite"):
        return []
    found = [m.group("password") for m in [_USERINFO.match(url)] if m]
    found += [m.group(2) for m in _QUERY_PASSWORD.finditer(url)]
    return [s for secret in found for s in {secret, urllib.parse.unquote(secret)} if s]


def redacted(url: str) -> str:
    """The URL without its passwords, to print; a regular expression, so malformed URLs are redacted too."""
    if url.startswith("sqlite"):
        return url                     # a file path, which may hold ':' and '@'; never a password
    shown = _USERINFO.sub(r"\g<scheme>\g<user>@", url, count=1)
    return _QUERY_PASSWORD.sub(lambda m: m.group(1), shown).rstrip("?&")


def first_line(error: BaseException, url: str) -> str:
    """The first line of an error, with the URL's passwords (which drivers may echo) blanked out."""
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    for secret in sorted(_secrets(url), key=len, reverse=True):
        line = line.replace(secret, "***")
    return line


def _outage(error: BaseException, sqlite: bool) -> BaseException | None:
    """The driver's error if it says the database cannot answer for now (locked, restarting, out of reach),
    so that waiting may cure it; None for any other error."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, sqlalchemy.exc.DBAPIError):
            driver = seen.orig if seen.orig is not None else seen
            if sqlite:
                return driver if re.search(r"locked|busy", str(driver)) else None
            if isinstance(seen, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError) \
                    or seen.connection_invalidated:
                return driver
            return None
        seen = seen.__cause__ or seen.__context__
    return None


class Patience:
    """Waits for one database across calls: retries with growing delays, says each wait, and gives up for good
    once ``seconds`` have passed in one wait."""

    def __init__(self, url: str, seconds: float, say: Callable[[str], None]) -> None:
        self.url, self.seconds, self.say = url, seconds, say
        self.sqlite = url.startswith("sqlite")
        self._given_up: SweepError | None = None
        self._depth = threading.local()            # only the outermost call of a thread waits

    def call(self, attempt: Callable[[], T], only_locks: bool = False) -> T:
        """``attempt()``, tried again while the database cannot answer (with ``only_locks``: while it is locked)."""
        if self._given_up is not None:
            raise self._given_up
        if getattr(self._depth, "value", 0):
            return attempt()
        started, delay = time.monotonic(), _FIRST_DELAY
        self._depth.value = 1
        try:
            while True:
                try:
                    return attempt()
                except Exception as e:
                    cause = _outage(e, self.sqlite or only_locks)
                    if cause is None:
                        raise
                    reason = first_line(cause, self.url)
                    if time.monotonic() - started + delay > self.seconds:
                        self._given_up = SweepError(
                            f"the study's database {redacted(self.url)} did not answer for "
                            f"{time.monotonic() - started:.0f} s ({reason}); stopped waiting. Check the database "
                            "server (or what holds the SQLite file locked) and run the command again")
                        raise self._given_up from None
                    if threading.current_thread() is threading.main_thread():   # the heartbeat waits unsaid
                        self.say(f"waiting for the study's database ({reason}); retrying in {delay:.0f} s")
                    time.sleep(delay)
                    delay = min(2 * delay, _LONGEST_DELAY)
        finally:
            self._depth.value = 0


class PatientStorage(RDBStorage):
    """An ``RDBStorage`` whose every call waits out a locked SQLite file or a restarting server (see the module)."""

    patience: Patience

    def record_heartbeat(self, trial_id: int) -> None:
        """A heartbeat that cannot be recorded is skipped: the trial's own calls say why the study cannot go on
        (Optuna's heartbeat thread would end with a traceback)."""
        with contextlib.suppress(Exception):
            self.patience.call(lambda: RDBStorage.record_heartbeat(self, trial_id))


def _patient(name: str) -> Callable[..., Any]:
    method = getattr(RDBStorage, name)

    def patient(self: PatientStorage, *args: Any, **kwargs: Any) -> Any:
        return self.patience.call(lambda: method(self, *args, **kwargs))

    patient.__name__ = patient.__qualname__ = name
    return patient


for _name in CALLS:
    setattr(PatientStorage, _name, _patient(_name))


def _sqlalchemy_url(url: str) -> str:
    # SQLAlchemy reads a bare postgresql:// as psycopg2's; the 'sweep' extra installs psycopg 3
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _quiet(line: str) -> None:
    """Where the waiting lines go when nobody is told."""


def open_storage(url: str, heartbeat_seconds: int | None = None, max_retries: int = 0, *, existing: bool = False,
                 say: Callable[[str], None] = _quiet, patience_seconds: float = PATIENCE_SECONDS) -> PatientStorage:
    """The shared store; with a heartbeat, trials whose worker went silent are failed and retried. With
    ``existing``, an SQLite file that is not there is named, not created. ``say`` is told each wait for the
    database; ``patience_seconds`` bounds one wait."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+")) \
            or any(c in url for c in "\r\n\0"):
        raise SweepError(f"--storage must be a postgresql://user@host/database or sqlite:///path URL (one line), "
                         f"got {redacted(url)!r}")
    if existing and url.startswith("sqlite"):
        path = sqlalchemy.engine.make_url(url).database
        if path and not Path(path).is_file():
            raise SweepError(f"{path} does not exist: no study lives there; give the study.db of a sweep folder")
    engine: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}} if url.startswith("sqlite") else \
        {"pool_pre_ping": True, "connect_args": {"connect_timeout": 20}}   # a server that does not answer: named
    beat: dict[str, Any] = {}
    if heartbeat_seconds:
        with experimental_allowed():
            retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retries)
        beat = {"heartbeat_interval": heartbeat_seconds, "grace_period": 3 * heartbeat_seconds,
                "heartbeat_stale_trial_callback": retry}
    patience = Patience(url, patience_seconds, say)

    def construct() -> PatientStorage:
        with experimental_allowed():
            return PatientStorage(_sqlalchemy_url(url), engine_kwargs=engine, **beat)

    try:
        storage = patience.call(construct, only_locks=True)
    except SweepError:
        raise
    except ImportError as e:
        raise SweepError(f"cannot open {redacted(url)}: {first_line(e, url)}; install the 'sweep' extra: "
                         "pip install 'glassnet[sweep]'") from e
    except Exception as e:            # SQLAlchemy's OperationalError and friends: a server or file we cannot use
        raise SweepError(f"cannot open the study storage {redacted(url)}: {first_line(e, url)}") from e
    storage.patience = patience
    return storage

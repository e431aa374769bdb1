"""The study's database: passwords never shown, and a locked or restarting database waited for, within a bound.
The waits are real (a second at least), so those tests are marked slow."""

from __future__ import annotations

import inspect
import re
import sqlite3
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from glassnet.sweep import storage  # noqa: E402
from glassnet.sweep.storage import CALLS, SweepError, first_line, local_url, open_storage, redacted  # noqa: E402


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://sweeper:hunter2@db.lan/sweeps", "postgresql://sweeper@db.lan/sweeps"),
    ("postgresql://sweeper:hunter2@db.lan:notaport/sweeps", "postgresql://sweeper@db.lan:notaport/sweeps"),
    ("postgresql://sweeper:hunter2@[::1/sweeps", "postgresql://sweeper@[::1/sweeps"),
    ("postgresql://sweeper:hun@ter2@db.lan/sweeps", "postgresql://sweeper@db.lan/sweeps"),
    ("postgresql://sweeper:hun/ter2@db.lan/sweeps", "postgresql://sweeper@db.lan/sweeps"),
    ("postgresql://:hunter2@db.lan/sweeps", "postgresql://@db.lan/sweeps"),
    ("postgresql+psycopg://sweeper:hunter2@db.lan/sweeps", "postgresql+psycopg://sweeper@db.lan/sweeps"),
    ("postgresql://db.lan/sweeps?password=hunter2", "postgresql://db.lan/sweeps"),
    ("postgresql://db.lan/sweeps?sslmode=require&password=hunter2&connect_timeout=3",
     "postgresql://db.lan/sweeps?sslmode=require&connect_timeout=3"),
    ("mysql://root:hunter2@db.lan/sweeps", "mysql://root@db.lan/sweeps"),
    ("postgresql://sweeper@db.lan/sweeps", "postgresql://sweeper@db.lan/sweeps"),
    ("sqlite:////tmp/a:b@c/study.db", "sqlite:////tmp/a:b@c/study.db"),
])
def test_a_password_is_never_shown_however_the_url_is_written(url: str, shown: str) -> None:
    assert redacted(url) == shown
    assert "hunter2" not in redacted(url) and "ter2" not in redacted(url)


def test_a_driver_s_echo_of_the_password_is_blanked_in_its_raw_and_escaped_forms() -> None:
    url = "postgresql://sweeper:p%40ss@db.lan/sweeps?password=other"
    error = RuntimeError("auth failed for p@ss (p%40ss), other\nsecond line p@ss")
    assert first_line(error, url) == "auth failed for *** (***), ***"


@pytest.mark.parametrize("url", ["mysql://root:hunter2@db.lan/sweeps", "postgresql://u:hunter2@db.lan:port/db"])
def test_refusals_of_a_url_do_not_show_its_password(url: str) -> None:
    with pytest.raises(SweepError) as refused:
        open_storage(url)
    assert "hunter2" not in str(refused.value)


def test_every_call_a_study_makes_to_its_storage_waits_for_the_database() -> None:
    from optuna.storages._cached_storage import _CachedStorage

    made = set(re.findall(r"self\._backend\.(\w+)\(", inspect.getsource(_CachedStorage)))
    plumbing = {"get_heartbeat_interval", "get_heartbeat_stale_trial_callback", "record_heartbeat"}
    assert made - plumbing <= set(CALLS), "Optuna calls its storage in a way that does not wait for the database"


def test_a_sweep_folder_with_any_name_keeps_its_database_inside(tmp_path: Path) -> None:
    folder = tmp_path / "a?b%20c#d 'e' $(f)"
    folder.mkdir()
    open_storage(local_url(folder)).get_all_studies()
    assert [p.name for p in folder.iterdir()] == ["study.db"]


@pytest.fixture
def quick_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite gives up on a lock after 0.1 s instead of 5, so that the waits come at once (same code path)."""
    monkeypatch.setattr(storage, "SQLITE_BUSY_SECONDS", 0.1)


def _locked(path: Path) -> sqlite3.Connection:
    """A connection holding an exclusive lock on ``path``: no other may read or write until it ends."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


@pytest.mark.slow
def test_a_locked_sqlite_file_is_waited_for_and_said(tmp_path: Path, quick_locks: None) -> None:
    url = local_url(tmp_path)
    optuna.create_study(study_name="s", storage=open_storage(url))
    holder = _locked(tmp_path / "study.db")
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        holder.rollback()                     # the lock goes while the first wait is said

    study = optuna.load_study(study_name="s", storage=open_storage(url, say=say))
    study.set_user_attr("k", 1)
    assert said == ["waiting for the study's database (database is locked); retrying in 1 s"]
    assert optuna.load_study(study_name="s", storage=url).user_attrs == {"k": 1}


@pytest.mark.slow
def test_a_database_locked_for_longer_than_the_bound_stops_with_one_line(tmp_path: Path, quick_locks: None) -> None:
    url = local_url(tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(url, patience_seconds=1.5))
    holder = _locked(tmp_path / "study.db")
    with pytest.raises(SweepError, match=r"did not answer for \d+ s \(database is locked\); stopped waiting") as e:
        study.set_user_attr("k", 1)
    assert "\n" not in str(e.value)
    with pytest.raises(SweepError, match="stopped waiting"):
        study.set_user_attr("k", 2)           # and at once from then on: a worker stops, it does not wait again
    holder.rollback()

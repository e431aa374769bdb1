"""Nothing of the user's is deleted or overwritten: a run goes into a new, empty or glassnet-marked folder."""

import json
import os
import subprocess
import sys
import threading

import pytest

from glassnet.cli import main
from glassnet.run_folder import (
    LOCK,
    MARKER,
    RunFolderError,
    held,
    new_timestamped,
    prepare_new,
    remove_stale_temporaries,
)
from tests.mnist_fixtures import write_mnist_folder

USER_FILES = [
    {"notes.txt": "mine"},
    {".secret.tmp": "a hidden temporary of mine"},
    {".model.npz.abc123.tmp": "looks like glassnet's, but the folder is not glassnet's"},
    {"config.toml": "my config"},
    {"report.md": "my report", "history.csv": "my history"},
    {"sub/deep.txt": "nested"},
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("data") / "mnist", n_train=200, n_test=50, gz=False)


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("files", USER_FILES, ids=[",".join(f) for f in USER_FILES])
def test_train_refuses_a_folder_holding_the_users_files_and_touches_none(tmp_path, data, files, capsys):
    folder = tmp_path / "mine"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    before = _snapshot(folder)
    assert main(["train", "--data-dir", str(data), "--out", str(folder), "--epochs", "1", "--quiet"]) == 1
    assert "holds files glassnet did not write" in capsys.readouterr().err
    assert _snapshot(folder) == before


@pytest.mark.parametrize("out", ["", ".", " "])
def test_an_empty_or_current_folder_name_is_refused(tmp_path, data, out, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["train", "--data-dir", str(data), "--out", out, "--epochs", "1", "--quiet"]) == 2
    assert "--out needs the name of a new folder" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]


def test_a_new_or_empty_folder_is_used_and_marked(tmp_path, data):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "new" / "nested"):
        assert main(["train", "--data-dir", str(data), "--out", str(folder), "--epochs", "1", "--quiet"]) == 0
        assert (folder / MARKER).is_file() and (folder / "model.npz").is_file()


def test_a_run_stopped_before_its_first_checkpoint_can_start_again_in_its_folder(tmp_path, data):
    folder = prepare_new(tmp_path / "run")
    (folder / "config.toml").write_text("from the first attempt\n")
    assert main(["train", "--data-dir", str(data), "--out", str(folder), "--epochs", "1", "--quiet"]) == 0
    with pytest.raises(RunFolderError, match="already holds a run"):
        prepare_new(folder)


def test_a_failed_start_leaves_no_folder(tmp_path, data):
    folder = tmp_path / "run"
    assert main(["train", "--data-dir", str(data), "--out", str(folder), "--validation-size", "999999",
                 "--quiet"]) == 1
    assert not folder.exists()


def test_only_glassnets_own_temporaries_are_cleaned_up(tmp_path):
    folder = prepare_new(tmp_path / "run")
    ours = [".model.npz.k3j2.tmp", ".history.json.x.tmp", ".diagnostics.jsonl.tmp.tmp"]
    theirs = [".secret.tmp", ".notes.txt.abc.tmp", "model.npz.tmp", ".model.npz"]
    for name in ours + theirs:
        (folder / name).write_text("x")
    removed = sorted(p.name for p in remove_stale_temporaries(folder))
    assert removed == sorted(ours)
    assert sorted(p.name for p in folder.iterdir()) == sorted([MARKER, *theirs])
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / ".model.npz.abc.tmp").write_text("x")
    assert remove_stale_temporaries(foreign) == [] and (foreign / ".model.npz.abc.tmp").exists()


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    folders, barrier = [], threading.Barrier(8)

    def start():
        barrier.wait()
        folders.append(new_timestamped(tmp_path / "runs"))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(folders)) == 8 and all((f / MARKER).is_file() for f in folders)


def test_the_library_refuses_a_foreign_folder_too(tmp_path):
    import numpy as np

    from glassnet.config import TrainConfig
    from glassnet.train import TrainData, fit

    (tmp_path / "mine.txt").write_text("mine")
    x, y = np.random.default_rng(0).random((40, 784)), np.arange(40) % 10
    with pytest.raises(RunFolderError, match="did not write"):
        fit(TrainConfig(hidden=(8,), epochs=1, batch_size=20), TrainData(x, y, x, y), run_dir=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["mine.txt"]


class _Holder:
    """Another process that holds a run folder until the test lets it go (closes its stdin)."""

    def __init__(self, folder):
        code = ("import sys; from pathlib import Path; from glassnet.run_folder import held\n"
                "with held(Path(sys.argv[1])):\n    print('held', flush=True)\n    sys.stdin.read()\n")
        self.process = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline() == "held\n"     # waits for the lock to be taken

    def release(self):
        self.process.stdin.close()
        assert self.process.wait() == 0


def _run_with_one_epoch(tmp_path, data):
    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(data), "--out", str(run), "--epochs", "1", "--quiet"]) == 0
    return run


def test_a_second_process_is_refused_a_run_folder_in_use_naming_the_holder(tmp_path, data, capsys):
    run = _run_with_one_epoch(tmp_path, data)
    capsys.readouterr()
    before = (run / "history.json").read_bytes()
    holder = _Holder(run)
    try:
        assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet", "--data-dir", str(data)]) == 1
        err = capsys.readouterr().err
        assert f"is in use by another glassnet process (pid {holder.process.pid} on " in err
        assert len(err.strip().splitlines()) == 1
        assert (run / "history.json").read_bytes() == before
    finally:
        holder.release()
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet", "--data-dir", str(data)]) == 0
    assert len(json.loads((run / "history.json").read_text())) == 2


def test_fit_holds_its_run_folder_and_lets_it_go(tmp_path, data):
    run = _run_with_one_epoch(tmp_path, data)
    with held(run), held(run):                  # re-entrant within a process
        pass
    _Holder(run).release()                      # another process can take it now


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, data, capsys):
    run = _run_with_one_epoch(tmp_path, data)
    target = tmp_path / "someone-elses.txt"
    target.write_text("keep me")
    (run / LOCK).unlink()
    (run / LOCK).symlink_to(target)
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet", "--data-dir", str(data)]) == 1
    assert "cannot lock the run folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"

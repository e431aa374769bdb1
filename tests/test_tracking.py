"""MLflow tracking (glassnet.tracking, --mlflow): runs read back through MLflow's own client from a real tracking
server the tests start; a server that is down; the extra missing."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glassnet.cli import main
from glassnet.config import TrainConfig
from glassnet.train.state import EpochStats
from tests.mlflow_server import mlflow_server
from tests.mnist_fixtures import write_mnist_folder
from tests.sweep.conftest import write_spec


def _require_mlflow() -> None:
    """Skip without MLflow, except in CI (GLASSNET_REQUIRE_MLFLOW=1), which installs the extra and must run these."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        if os.environ.get("GLASSNET_REQUIRE_MLFLOW"):
            pytest.fail("MLflow is not installed (pip install -e '.[mlflow]'); make install installs it")
        pytest.skip("MLflow is not installed (pip install -e '.[mlflow]')")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server (SQLite backend) for the module: its URL."""
    _require_mlflow()
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mnist_folder(tmp_path_factory.mktemp("digits"), n_train=600, n_test=100)


def _client(url: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(url)


def _runs(url: str, experiment: str) -> list[Any]:
    client = _client(url)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} on the server"
    return list(client.search_runs([found.experiment_id]))


def _artifact(url: str, run_id: str, folder: Path) -> bytes:
    return Path(_client(url).download_artifacts(run_id, "model.npz", str(folder))).read_bytes()


def _history(url: str, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in _client(url).get_metric_history(run_id, key))


TRAIN = ["--epochs", "3", "--hidden", "16", "--batch-size", "32", "--validation-size", "100", "--quiet"]


@pytest.mark.slow
def test_a_train_run_reads_back_from_the_server(server, digits, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    run_dir = tmp_path / "run"
    assert main(["train", "--data-dir", str(digits), "--no-download", "--out", str(run_dir), *TRAIN,
                 "--mlflow", "cli-train"]) == 0
    assert "MLflow" not in capsys.readouterr().err
    [run] = _runs(server, "cli-train")
    assert run.info.status == "FINISHED"
    config = TrainConfig(epochs=3, hidden=(16,), batch_size=32, validation_size=100)
    assert run.data.params == {k: str(v) for k, v in config.to_dict().items()}
    assert run.data.tags["glassnet.run_dir"] == str(run_dir.resolve())
    history = json.loads((run_dir / "history.json").read_text())
    for key in ("train_loss", "eval_loss", "eval_accuracy", "lr"):
        assert _history(server, run.info.run_id, key) == [(e["epoch"], e[key]) for e in history]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert _history(server, run.info.run_id, "test_accuracy") == [(3, metrics["test"]["accuracy"])]
    # the model file as the command left it: with the test set's figures in its metadata
    assert _artifact(server, run.info.run_id, tmp_path / "down") == (run_dir / "model.npz").read_bytes()

    # extended: a new MLflow run, holding the epochs done before too
    assert main(["train", "--resume", str(run_dir), "--epochs", "4", "--data-dir", str(digits), "--no-download",
                 "--quiet", "--mlflow", "cli-train"]) == 0
    [extended] = [r for r in _runs(server, "cli-train") if r.info.run_id != run.info.run_id]
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history) == 4
    assert _history(server, extended.info.run_id, "eval_loss") == [(e["epoch"], e["eval_loss"]) for e in history]
    assert extended.data.params["epochs"] == "4"
    assert _artifact(server, extended.info.run_id, tmp_path / "down2") == (run_dir / "model.npz").read_bytes()


@pytest.mark.slow
def test_non_finite_figures_are_recorded_as_mlflow_stores_them(server, tmp_path):
    from glassnet.tracking import Tracker

    said: list[str] = []
    run = Tracker("non-finite", tracking_uri=server, warn=said.append).run(TrainConfig(), tmp_path)
    run.on_fit_start(None, {"history": [], "engine": "fast", "engine_note": ""})
    run.on_epoch_end(1, {"stats": EpochStats(1, math.nan, 0.5, math.inf, -math.inf, 1e-3, 1.0)})
    run.on_fit_end({"stop_reason": "diverged", "finished": False})
    assert said == []
    assert math.isnan(_history(server, run.run_id, "train_loss")[0][1])
    # MLflow's SQL store keeps ±inf as the largest finite doubles
    assert _history(server, run.run_id, "eval_loss") == [(1, sys.float_info.max)]
    assert _history(server, run.run_id, "eval_accuracy") == [(1, -sys.float_info.max)]
    ended = _client(server).get_run(run.run_id)
    assert ended.info.status == "KILLED" and ended.data.tags["glassnet.stop_reason"] == "diverged"


@pytest.mark.slow
def test_an_error_that_leaves_the_block_fails_the_run_and_sends_the_last_checkpoint(server, tmp_path, rng):
    from glassnet.tracking import Tracker
    from glassnet.train import Callback, TrainData, fit

    class Broken(Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
            raise RuntimeError("a bug in a callback")

    data = TrainData(rng.random((64, 784)), rng.integers(0, 10, 64), rng.random((16, 784)), rng.integers(0, 10, 16))
    config, run_dir = TrainConfig(epochs=3, hidden=(8,), batch_size=16), tmp_path / "run"
    with pytest.raises(RuntimeError), Tracker("errors", tracking_uri=server).run(config, run_dir) as run:
        fit(config, data, run_dir=run_dir, callbacks=[run, Broken()])
    ended = _client(server).get_run(run.run_id)
    assert ended.info.status == "FAILED" and ended.data.tags["glassnet.stop_reason"] == "a bug in a callback"
    assert _history(server, run.run_id, "train_loss")[-1][0] == 1
    assert _artifact(server, run.run_id, tmp_path / "down") == (run_dir / "model.npz").read_bytes()


@pytest.mark.slow
def test_sweep_trials_are_runs_nested_under_the_study(server, digits, tmp_path):
    spec = write_spec(tmp_path, name="tracked", trials=2, pruning="false", subset=300)
    env = os.environ | {"MLFLOW_TRACKING_URI": server}
    done = subprocess.run([sys.executable, "-m", "glassnet", "sweep", str(spec), "--out", str(tmp_path / "sweep"),
                           "--data-dir", str(digits), "--no-download", "--mlflow", "sweeps"],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = _runs(server, "sweeps")
    [study] = [r for r in runs if r.data.tags.get("glassnet.role") == "study"]
    assert study.data.tags["glassnet.study"] == "tracked" and study.info.status == "FINISHED"
    trials = sorted((r for r in runs if r is not study), key=lambda r: int(r.data.tags["glassnet.trial"]))
    assert [r.data.tags["glassnet.trial"] for r in trials] == ["0", "1"]
    for number, run in enumerate(trials):
        folder = tmp_path / "sweep" / "trials" / f"{number:04d}"
        assert run.data.tags["mlflow.parentRunId"] == study.info.run_id
        assert run.data.tags["glassnet.study"] == "tracked" and run.info.status == "FINISHED"
        assert run.data.params["lr"] == str(tomllib.loads((folder / "config.toml").read_text())["lr"])
        assert _artifact(server, run.info.run_id, tmp_path / f"down{number}") == (folder / "model.npz").read_bytes()


@pytest.fixture
def closed_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """MLFLOW_TRACKING_URI at a loopback port that refuses connections (bound, never listening)."""
    _require_mlflow()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")       # MLflow's 7 retries take minutes
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        yield url


def _mlflow_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "MLflow" in line]


@pytest.mark.slow
def test_a_server_that_is_down_costs_one_warning_line(closed_port, digits, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "--data-dir", str(digits), "--no-download", "--out", str(run_dir), *TRAIN, "--mlflow"]) == 0
    err = capsys.readouterr().err
    assert _mlflow_lines(err) == [f"MLflow: could not start a run at {closed_port} (Connection refused); "
                                  "training goes on without tracking"], err
    assert {"model.npz", "metrics.json", "report.md"} <= {p.name for p in run_dir.iterdir()}


@pytest.mark.slow
def test_a_sweep_whose_server_is_down_warns_once_a_process(closed_port, digits, tmp_path):
    """The coordinator and its worker each say it once; the worker's second trial does not try again."""
    spec = write_spec(tmp_path, name="untracked", trials=2, pruning="false", subset=300)
    done = subprocess.run([sys.executable, "-m", "glassnet", "sweep", str(spec), "--out", str(tmp_path / "sweep"),
                           "--data-dir", str(digits), "--no-download", "--mlflow"],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 of 2 trials finished" in done.stdout
    said = f"the run of study 'untracked' at {closed_port} (Connection refused); training goes on without tracking"
    assert _mlflow_lines(done.stdout + done.stderr) == [f"MLflow: could not start {said}"]
    log = (tmp_path / "sweep" / "workers" / "worker-0.log").read_text()
    assert _mlflow_lines(log) == [f"MLflow: could not find {said}"], log


def test_without_the_extra_the_flag_fails_in_one_line_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)            # import mlflow raises ImportError
    run_dir = tmp_path / "run"
    assert main(["train", "--data-dir", str(tmp_path / "none"), "--out", str(run_dir), "--mlflow"]) == 1
    err = capsys.readouterr().err
    assert err == "glassnet train: error: MLflow tracking needs the 'mlflow' extra: pip install 'glassnet[mlflow]'\n"
    assert not run_dir.exists()

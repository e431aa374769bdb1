"""Threads: the BLAS's count read and set, inference in blocks over a pool (bit for bit the sequential
result), and training's count chosen, recorded and kept on resume."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from glassnet.checkpoint import read_checkpoint
from glassnet.cli import main
from glassnet.config import MEASURE, TrainConfig
from glassnet.data.mnist import to_inputs
from glassnet.errors import ConfigError
from glassnet.nn import blas, inference
from glassnet.nn.kinds import fold
from glassnet.nn.model import mlp
from glassnet.nn.optim import SGD
from glassnet.train import Callback, TrainData, fit, loop
from glassnet.train import threads as training_threads
from tests.mnist_fixtures import synthetic_digits, write_mnist_folder

needs_blas = pytest.mark.skipif(blas.blas() is None, reason="no BLAS whose thread count can be set was found")


@pytest.fixture(scope="module")
def data():
    (train_images, train_labels), (test_images, test_labels) = synthetic_digits(300, 1), synthetic_digits(100, 2)
    return TrainData(to_inputs(train_images), train_labels, to_inputs(test_images), test_labels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [0, 1, 255, 257, 513, 1001])
def test_pooled_inference_equals_the_sequential_blocks_bit_for_bit(dtype, rows):
    model = mlp([784, 64, 32, 10], rng=np.random.default_rng(0), dropout=0.2, dtype=dtype).eval()
    x = np.random.default_rng(1).random((rows, 784))
    for predict in (model.predict_proba, fold(model).predict_proba):      # the layer path and the folded one
        alone = predict(x, workers=1)
        assert alone.shape == (rows, 10) and alone.dtype == dtype
        for workers in (2, 3, None):
            np.testing.assert_array_equal(predict(x, workers=workers), alone)


def test_one_row_and_small_calls_are_one_call_without_a_pool():
    model = mlp([784, 16, 10], rng=np.random.default_rng(0)).eval()
    x = np.random.default_rng(1).random((inference.BLOCK, 784)).astype(np.float32)
    np.testing.assert_array_equal(model.predict_proba(x, workers=4), model.predict_proba(x, workers=1))
    np.testing.assert_array_equal(model.predict_proba(x[0]), model.predict_proba(x[:1], workers=4))


@needs_blas
def test_every_block_computes_on_one_blas_thread_unless_a_training_run_holds_the_count():
    seen = []

    def compute(rows):
        seen.append(blas.threads())
        return rows

    for rows in (inference.BLOCK + 1, 3 * inference.BLOCK):     # two blocks and three
        seen.clear()
        np.testing.assert_array_equal(inference.in_blocks(compute, np.ones((rows, 2)), workers=1), np.ones((rows, 2)))
        assert seen and set(seen) == {1}
    with blas.pinned(2):                                           # a training run holds the count: left alone
        seen.clear()
        inference.in_blocks(compute, np.ones((inference.BLOCK + 1, 2)))
        assert seen == [2, 2]


@needs_blas
def test_inference_restores_the_blas_count_and_leaves_a_pinned_count_alone():
    before = blas.threads()
    with blas.one_thread() as alone:
        assert alone and blas.threads() == 1
        with blas.one_thread() as again:                  # a second caller shares the setting
            assert again and blas.threads() == 1
        assert blas.threads() == 1
    assert blas.threads() == before
    with blas.pinned(1):                                  # a training run holds the count
        with blas.one_thread() as alone:
            assert not alone
        assert blas.threads() == 1
    assert blas.threads() == before


def test_numpys_own_blas_is_chosen_when_another_library_brings_one_too(monkeypatch):
    site = Path(np.__file__).resolve().parent.parent
    numpys = sorted((site / "numpy.libs").glob("*openblas*.so"))
    others = sorted((site / "scipy.libs").glob("*openblas*.so"))
    if not numpys or not others:
        pytest.skip("needs NumPy's bundled OpenBLAS and SciPy's beside it")
    monkeypatch.setattr(blas, "_loaded_files", lambda: [str(others[0]), str(numpys[0])])     # SciPy's listed first
    found = blas.blas.__wrapped__()
    assert found is not None and found.path == str(numpys[0])


@needs_blas
def test_the_blas_is_found_without_threadpoolctl(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("the fallback reads /proc/self/maps (Linux)")
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)           # import threadpoolctl raises ImportError
    found = blas.blas.__wrapped__()
    assert found is not None and found.path == blas.blas().path and found.threads == blas.threads()


@pytest.mark.parametrize("most, expected", [(1, [1]), (2, [1, 2]), (6, [1, 2, 4, 6]), (16, [1, 2, 4, 8, 16])])
def test_candidates(most, expected):
    assert training_threads.candidates(most) == expected


@pytest.mark.parametrize("starting, expected", [(1, 1), (2, 2), (16, 8), (64, 8)])
def test_the_rule_gives_every_starting_thread_up_to_eight(starting, expected):
    assert training_threads.rule(starting) == expected


def _fake_clock(monkeypatch, seconds_per_step):
    """A clock that advances by ``seconds_per_step[the BLAS's count]`` at each timed step; the calls it saw."""
    clock, calls = [0.0], []
    monkeypatch.setattr(training_threads, "_step",
                        lambda *args: clock.__setitem__(0, clock[0] + seconds_per_step[blas.threads()]))
    monkeypatch.setattr(training_threads.time, "perf_counter", lambda: calls.append(clock[0]) or clock[0])
    return calls


@needs_blas
@pytest.mark.parametrize("starting", [1, 2, 16, 64])
def test_auto_is_the_rule_without_timing(monkeypatch, starting):
    """Under a clock on which one thread is the fastest, auto still gives the rule's count, twice alike, and
    reads no clock."""
    monkeypatch.setattr(blas, "starting_threads", lambda: starting)
    monkeypatch.setattr(blas, "available_cores", lambda: 64)
    calls = _fake_clock(monkeypatch, {n: 1e-3 * n for n in range(1, 65)})
    first, second = training_threads.automatic(), training_threads.automatic()
    assert first == second and first["count"] == training_threads.rule(starting) and not calls
    assert first["source"] == f"auto: the BLAS's {starting} starting thread(s), at most 8"


@needs_blas
def test_measure_picks_the_fastest_candidate_on_the_clock_and_records_its_figures(monkeypatch, data):
    """A clock that runs 3 ms a step on 2 threads, 5 on 1 and 4 on 4: 2 is chosen, and the figures recorded."""
    monkeypatch.setattr(blas, "starting_threads", lambda: 4)
    monkeypatch.setattr(blas, "available_cores", lambda: 4)
    calls = _fake_clock(monkeypatch, {1: 5e-3, 2: 3e-3, 4: 4e-3})
    model = mlp([784, 16, 10], rng=np.random.default_rng(0))
    optimizer = SGD(model.params(), lr=0.1)
    record = training_threads.measure(model, optimizer, data, 32, fused=False)
    assert record["count"] == 2 and record["source"] == "measured" and calls
    assert record["seconds_per_step"] == pytest.approx({"1": 5e-3, "2": 3e-3, "4": 4e-3})
    # within the margin of the BLAS's own count (4), the own count stays
    _fake_clock(monkeypatch, {1: 5e-3, 2: 3.8e-3, 4: 4e-3})
    assert training_threads.measure(model, optimizer, data, 32, fused=False)["count"] == 4


class _Threads(Callback):
    """The BLAS's count at each epoch; Ctrl-C after ``stop_after``."""

    def __init__(self, stop_after=0):
        self.seen, self.stop_after = [], stop_after

    def on_epoch_start(self, epoch, logs):
        self.seen.append(blas.threads())

    def on_epoch_end(self, epoch, logs):
        if epoch == self.stop_after:
            raise KeyboardInterrupt


@needs_blas
def test_the_count_asked_for_is_recorded_and_a_resumed_run_keeps_it(data, tmp_path):
    before = blas.threads()
    config = TrainConfig(hidden=(16,), epochs=3, batch_size=32, threads=1)
    first = _Threads(stop_after=1)
    fit(config, data, run_dir=tmp_path, callbacks=[first])
    assert first.seen == [1] and blas.threads() == before
    assert read_checkpoint(tmp_path / "model.npz")[0]["threads"] == {"count": 1, "source": "asked for"}
    again = _Threads()
    fit(config, data, run_dir=tmp_path, resume=True, callbacks=[again])
    assert again.seen == [1, 1] and blas.threads() == before


@needs_blas
def test_a_measured_run_records_its_figures_and_resumes_on_its_count(data, tmp_path, monkeypatch):
    measured = {"count": 1, "source": "measured", "seconds_per_step": {"1": 1.0}}
    monkeypatch.setattr(loop, "measure", lambda *args, **kwargs: measured)
    config = TrainConfig(hidden=(16,), epochs=2, batch_size=32, threads=MEASURE)
    fit(config, data, run_dir=tmp_path, callbacks=[_Threads(stop_after=1)])
    assert read_checkpoint(tmp_path / "model.npz")[0]["threads"] == measured
    monkeypatch.setattr(loop, "measure", lambda *args, **kwargs: pytest.fail("measured again"))
    resumed = _Threads()
    fit(config, data, run_dir=tmp_path, resume=True, callbacks=[resumed])
    assert resumed.seen == [1]
    assert read_checkpoint(tmp_path / "model.npz")[0]["threads"] == measured


@needs_blas
def test_the_default_measures_nothing_and_two_runs_of_a_seed_are_bit_identical(data, tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "measure", lambda *args, **kwargs: pytest.fail("the default measured"))
    config = TrainConfig(hidden=(32,), epochs=2, batch_size=32, seed=3)
    first = _Threads()
    fit(config, data, run_dir=tmp_path / "a", callbacks=[first])
    fit(config, data, run_dir=tmp_path / "b")
    expected = training_threads.automatic()
    assert first.seen == [expected["count"]] * 2
    assert read_checkpoint(tmp_path / "a" / "model.npz")[0]["threads"] == expected
    # the same weights, moments and history, byte for byte; only the seconds each epoch took differ
    with np.load(tmp_path / "a" / "model.npz") as a, np.load(tmp_path / "b" / "model.npz") as b:
        assert a.files == b.files
        for name in set(a.files) - {"meta"}:
            assert a[name].tobytes() == b[name].tobytes(), name
    histories = [[{k: v for k, v in epoch.items() if k != "seconds"}
                  for epoch in read_checkpoint(tmp_path / run / "model.npz")[0]["history"]] for run in "ab"]
    assert histories[0] == histories[1]


def test_a_count_above_the_cores_is_refused(data, monkeypatch):
    monkeypatch.setattr(blas, "available_cores", lambda: 2)
    with pytest.raises(ConfigError, match="more BLAS threads than the 2 core"):
        fit(TrainConfig(hidden=(8,), epochs=1, batch_size=32, threads=3), data)
    with pytest.raises(ConfigError, match=r"'threads' must be a count ≥ 1, 0 \(auto"):
        TrainConfig(threads=-2)


@pytest.mark.parametrize("flag, message", [("0", "expected auto, measure or a number of threads ≥ 1, got '0'"),
                                           ("-1", "expected auto, measure or a number of threads ≥ 1"),
                                           ("many", "expected auto, measure or a number of threads ≥ 1, got 'many'")])
def test_bad_threads_flags_are_one_line(flag, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--threads", flag, "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_threads_flag_above_the_cores_is_refused_before_anything_is_made(tmp_path, capsys):
    data_dir = write_mnist_folder(tmp_path / "mnist", n_train=300, n_test=100)
    out = tmp_path / "run"
    assert main(["train", "--data-dir", str(data_dir), "--threads", str(blas.available_cores() + 1), "--out",
                 str(out), "--quiet"]) == 1
    assert "more BLAS threads than the" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("flag", ["auto", "measure"])
def test_train_says_and_records_its_count(flag, tmp_path, capsys):
    data_dir = write_mnist_folder(tmp_path / "mnist", n_train=300, n_test=100)
    out = tmp_path / "run"
    assert main(["train", "--data-dir", str(data_dir), "--threads", flag, "--epochs", "1", "--hidden", "16",
                 "--out", str(out)]) == 0
    assert "computing on " in capsys.readouterr().out
    recorded = read_checkpoint(out / "model.npz")[0]["threads"]
    assert read_checkpoint(out / "model.npz")[0]["config"]["threads"] == {"auto": 0, "measure": MEASURE}[flag]
    assert 1 <= recorded["count"] <= blas.available_cores()
    if flag == "auto" and blas.blas() is not None:
        assert recorded == training_threads.automatic()
    assert json.loads((out / "metrics.json").read_text())["threads"] == recorded
    assert f"Computed on {recorded['count']} BLAS thread(s)" in (out / "report.md").read_text()
    assert main(["info", str(out)]) == 0
    assert f"trained on {recorded['count']} BLAS thread(s)" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["threads"] == recorded

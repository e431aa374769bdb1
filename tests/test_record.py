"""The diagnostics record: whole lines only, resumable, bounded, and without any effect on training."""

import dataclasses
import json
import math
import threading
import tracemalloc

import numpy as np
import pytest

from glassnet.config import TrainConfig
from glassnet.diagnostics.lines import encode, parse, read_piece, read_records
from glassnet.diagnostics.record import RECORD_NAME, Controller, DiagnosticsRecorder, pca_2d
from glassnet.errors import DivergenceError
from glassnet.files import RECORD_LINE
from glassnet.nn.layers import Linear
from glassnet.train import EpochStats, StopTraining, TrainData, fit, initial_model
from tests.helpers import all_values
from tests.mnist_fixtures import synthetic_digits

CONFIG = TrainConfig(hidden=(32, 16), epochs=3, batch_size=25, dtype="float64")


def _data():
    images, labels = synthetic_digits(300, 7)
    x = images.reshape(300, 784)
    return TrainData(x[:200], labels[:200], x[200:], labels[200:])


def _recorder(path, data, controller=None):
    w0 = next(layer for layer in initial_model(CONFIG).layers if isinstance(layer, Linear)).weight.value
    return DiagnosticsRecorder(path, data.x_eval / 255.0, data.y_eval, steps_per_epoch=8, epochs=CONFIG.epochs,
                               initial_first_layer=w0, controller=controller, probe_size=50)


def test_recording_does_not_change_what_training_computes(tmp_path):
    data = _data()
    plain = fit(CONFIG, data).model
    recorded = fit(CONFIG, data, callbacks=[_recorder(tmp_path / RECORD_NAME, data)]).model
    np.testing.assert_array_equal(all_values(recorded), all_values(plain))
    records = read_records(tmp_path / RECORD_NAME)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "meta" and kinds.count("meta") == 1 and kinds.count("epoch") == 3
    assert {"step", "tick"} & set(kinds)
    step = next(r for r in records if r["kind"] == "step")
    assert set(step["grad_norms"]) == set(records[0]["params"])
    assert len(step["activations"]) == len(records[0]["layers"]) == 9
    epoch = [r for r in records if r["kind"] == "epoch"][-1]
    assert np.array(epoch["confusion"]).sum() == 100 and np.shape(epoch["pca"]) == (50, 2)
    assert epoch["mosaic"]["units"] == 16 and len(epoch["mosaic"]["values"]) == 16 * 784
    json.dumps(records, allow_nan=False)


def test_a_partial_last_line_is_never_read_and_a_resumed_run_drops_what_it_redoes(tmp_path):
    path = tmp_path / RECORD_NAME
    lines = [{"kind": "meta", "epoch": 0}, {"kind": "epoch", "epoch": 1}, {"kind": "tick", "epoch": 2, "step": 9}]
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in lines) + b'{"kind": "ep')
    offset = read_piece(path).offset
    assert read_records(path) == lines and offset == path.stat().st_size - len(b'{"kind": "ep')
    assert read_records(path, offset) == [] and read_piece(path, offset).offset == offset
    assert read_piece(path, 0, max_lines=1).lines == [json.dumps(lines[0]).encode()]
    assert read_records(tmp_path / "missing.jsonl") == []
    data = _data()
    recorder = _recorder(path, data)
    resumed = {"history": [EpochStats(1, 0.5, 0.9, 0.4, 0.9, 1e-3, 1.0)]}     # resuming after epoch 1
    recorder.on_fit_start(initial_model(CONFIG), resumed)
    assert read_records(path) == lines[:2] and path.read_bytes().endswith(b"\n")     # epoch 2's old lines went


def test_a_kill_between_checkpoint_and_record_is_repaired_on_resume(tmp_path):
    path = tmp_path / RECORD_NAME
    path.write_bytes(json.dumps({"kind": "meta", "epoch": 0}).encode() + b"\n")   # no epoch line yet
    recorder = _recorder(path, _data())
    resumed = {"history": [EpochStats(1, 0.5, 0.9, 0.4, 0.9, 1e-3, 1.0)]}             # but epoch 1's checkpoint
    recorder.on_fit_start(initial_model(CONFIG), resumed)
    epochs = [r for r in read_records(path) if r["kind"] == "epoch"]
    assert [(r["epoch"], r["step"], r["eval_loss"]) for r in epochs] == [(1, 8, 0.4)]


def test_the_controller_pauses_the_loop_and_stops_it():
    controller = Controller()
    controller.request("pause")
    reached = threading.Event()

    def loop():
        reached.set()
        controller.obey(17)

    thread = threading.Thread(target=loop)
    thread.start()
    reached.wait()
    while controller.state()["paused_at_step"] is None:    # the loop reports that it has stopped moving
        thread.join(0.01)
    assert controller.state() == {"paused": True, "stopping": False, "paused_at_step": 17}
    controller.request("resume")
    thread.join()
    assert controller.state()["paused_at_step"] is None
    controller.request("stop")
    with pytest.raises(StopTraining, match="after step 3"):
        controller.obey(3)
    with pytest.raises(ValueError, match="pause, resume or stop"):
        controller.request("explode")


def test_stop_from_the_controller_ends_fit_with_the_checkpoint_kept(tmp_path):
    data = _data()
    controller = Controller()

    recorder = _recorder(tmp_path / RECORD_NAME, data, controller)
    original = recorder.on_epoch_end

    def on_epoch_end(epoch, logs):
        original(epoch, logs)
        controller.request("stop")

    recorder.on_epoch_end = on_epoch_end
    result = fit(CONFIG, data, run_dir=tmp_path, callbacks=[recorder])
    assert not result.finished and result.stop_reason == "stopped from the live view after step 9"   # epoch 2's first
    assert (tmp_path / "model.npz").exists()
    assert [r["epoch"] for r in read_records(tmp_path / RECORD_NAME) if r["kind"] == "epoch"] == [1]


def test_pca_is_exact_and_its_signs_do_not_flip():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)) * [5.0, 1.0] @ np.array([[0.6, 0.8], [-0.8, 0.6]])
    x = np.hstack([x, np.zeros((200, 3))])
    coords = pca_2d(x)
    assert coords.shape == (200, 2)
    assert coords[:, 0].var() > 20 * coords[:, 1].var()                 # the long axis first
    np.testing.assert_allclose(np.abs(pca_2d(-x)), np.abs(coords), atol=1e-9)
    np.testing.assert_allclose(pca_2d(x), coords)


@pytest.mark.parametrize("record, line", [
    ({"kind": "step", "x": math.nan}, {"kind": "step", "x": None, "nonfinite": {"/x": "NaN"}}),
    ({"kind": "step", "x": math.inf}, {"kind": "step", "x": None, "nonfinite": {"/x": "Infinity"}}),
    ({"kind": "step", "x": -math.inf}, {"kind": "step", "x": None, "nonfinite": {"/x": "-Infinity"}}),
    ({"kind": "step", "x": np.float64("nan")}, {"kind": "step", "x": None, "nonfinite": {"/x": "NaN"}}),
    ({"kind": "step", "r": {"1.beta": math.nan}}, {"kind": "step", "r": {"1.beta": None},
                                                   "nonfinite": {"/r/1.beta": "NaN"}}),
    ({"kind": "step", "r": {"a/b~c": math.inf}}, {"kind": "step", "r": {"a/b~c": None},
                                                  "nonfinite": {"/r/a~1b~0c": "Infinity"}}),
    ({"kind": "step", "a": [{"m": 1.0}, {"m": math.nan}]}, {"kind": "step", "a": [{"m": 1.0}, {"m": None}],
                                                            "nonfinite": {"/a/1/m": "NaN"}}),
    ({"kind": "step", "x": 1.5, "n": 3, "s": "NaN"}, {"kind": "step", "x": 1.5, "n": 3, "s": "NaN"}),
])
def test_a_non_finite_statistic_is_written_as_null_and_named(record, line):
    written = encode(record)
    assert written.endswith(b"\n") and written.count(b"\n") == 1
    assert json.loads(written, parse_constant=lambda name: pytest.fail(name)) == line
    assert parse(written[:-1]) == line                      # and a reader takes it


def _run(tmp_path, **changes):
    """Train CONFIG with ``changes`` and the recorder; the records, and how fit ended."""
    config = dataclasses.replace(CONFIG, **changes)
    data = _data()
    w0 = next(layer for layer in initial_model(config).layers if isinstance(layer, Linear)).weight.value
    recorder = DiagnosticsRecorder(tmp_path / RECORD_NAME, data.x_eval / 255.0, data.y_eval, steps_per_epoch=8,
                                   epochs=config.epochs, initial_first_layer=w0, probe_size=50)
    try:
        ended = fit(config, data, callbacks=[recorder]).stop_reason
    except DivergenceError as e:                            # the guard on the loss, not the recorder, stops it
        ended = str(e)
    return read_records(tmp_path / RECORD_NAME), ended


@pytest.mark.parametrize("changes, nonfinite", [
    ({"lr": 1e-50, "dtype": "float32"}, "/update_ratios/1.beta"),     # no update moves β from 0: 0/0
    ({"optimizer": "sgd", "lr": 100.0, "dtype": "float32"}, "/activations/4/std"),   # diverging
])
def test_non_finite_statistics_are_recorded_as_such_and_training_goes_on(tmp_path, changes, nonfinite):
    records, ended = _run(tmp_path, **changes)
    lines = (tmp_path / RECORD_NAME).read_bytes().splitlines()
    assert len(records) == len(lines)                      # every line written is a record a reader takes
    assert ended == "completed all epochs" or "diverged" in ended
    noted = [r for r in records if nonfinite in r.get("nonfinite", {})]
    assert noted, [r.get("nonfinite") for r in records]
    pointer = nonfinite.split("/")[1:]
    value = noted[0][pointer[0]]
    for key in pointer[1:]:
        value = value[int(key) if isinstance(value, list) else key]
    assert value is None


def test_a_resume_reads_past_damaged_non_finite_and_overlong_lines_in_bounded_memory(tmp_path):
    path = tmp_path / RECORD_NAME
    meta, epoch = {"kind": "meta", "epoch": 0}, {"kind": "epoch", "epoch": 1, "step": 8}
    path.write_bytes(json.dumps(meta).encode() + b"\n{damaged\n" + b'{"kind": "tick", "epoch": 1, "loss": NaN}\n'
                     + b'{"kind": "tick", "epoch": 1, "pad": "' + b"x" * (6 * RECORD_LINE.bytes) + b'"}\n'
                     + json.dumps(epoch).encode() + b"\n" + b'{"kind": "tick", "epoch": "two"}\n')
    recorder = _recorder(path, _data())
    resumed = {"history": [EpochStats(1, 0.5, 0.9, 0.4, 0.9, 1e-3, 1.0)]}
    tracemalloc.start()
    try:
        recorder.on_fit_start(initial_model(CONFIG), resumed)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read_records(path) == [meta, epoch] and path.read_bytes().count(b"\n") == 2
    assert peak < 3 * RECORD_LINE.bytes, f"{peak / 2**20:.1f} MiB at once for a 24 MiB line"


def test_a_resumed_run_drops_the_end_line_of_the_run_it_extends(tmp_path):
    path = tmp_path / RECORD_NAME
    lines = [{"kind": "meta", "epoch": 0}, {"kind": "epoch", "epoch": 1, "step": 8},
             {"kind": "end", "epoch": 1, "step": 8, "finished": True, "reason": "training finished"}]
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in lines))
    recorder = _recorder(path, _data())
    resumed = {"history": [EpochStats(1, 0.5, 0.9, 0.4, 0.9, 1e-3, 1.0)]}       # extended past epoch 1
    recorder.on_fit_start(initial_model(CONFIG), resumed)
    assert read_records(path) == lines[:2]


def test_the_end_line_is_written_once_and_only_for_a_record_that_began(tmp_path):
    recorder = _recorder(tmp_path / RECORD_NAME, _data())
    recorder.on_fit_end({"stop_reason": "interrupted", "finished": False})
    assert not (tmp_path / RECORD_NAME).exists()                       # fit never started: nothing to end
    recorder.on_fit_start(initial_model(CONFIG), {"history": [EpochStats(1, 0.5, 0.9, 0.4, 0.9, 1e-3, 1.0)]})
    recorder.on_fit_end({"stop_reason": "stopped from the live view", "finished": False})
    recorder.on_fit_end({"stop_reason": "training finished", "finished": True})
    ends = [r for r in read_records(tmp_path / RECORD_NAME) if r["kind"] == "end"]
    assert ends == [{"kind": "end", "epoch": 1, "step": 8, "finished": False, "reason": "stopped from the live view"}]

"""The diagnostics record: whole lines only, resumable, bounded, and without any effect on training."""

import json
import threading

import numpy as np
import pytest

from glassnet.config import TrainConfig
from glassnet.diagnostics.record import (
    RECORD_NAME,
    Controller,
    DiagnosticsRecorder,
    pca_2d,
    read_records,
)
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
    records, _ = read_records(tmp_path / RECORD_NAME)
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
    records, offset = read_records(path)
    assert records == lines and offset == path.stat().st_size - len(b'{"kind": "ep')
    assert read_records(path, offset) == ([], offset)
    assert read_records(path, 0, limit=1)[0] == lines[:1]
    assert read_records(tmp_path / "missing.jsonl") == ([], 0)
    data = _data()
    recorder = _recorder(path, data)
    resumed = {"history": [EpochStats(1, 0.5, 0.9, 0.4, 0.9, 1e-3, 1.0)]}     # resuming after epoch 1
    recorder.on_fit_start(initial_model(CONFIG), resumed)
    records, _ = read_records(path)
    assert records == lines[:2] and path.read_bytes().endswith(b"\n")     # epoch 2's old lines went


def test_a_kill_between_checkpoint_and_record_is_repaired_on_resume(tmp_path):
    path = tmp_path / RECORD_NAME
    path.write_bytes(json.dumps({"kind": "meta", "epoch": 0}).encode() + b"\n")   # no epoch line yet
    recorder = _recorder(path, _data())
    resumed = {"history": [EpochStats(1, 0.5, 0.9, 0.4, 0.9, 1e-3, 1.0)]}             # but epoch 1's checkpoint
    recorder.on_fit_start(initial_model(CONFIG), resumed)
    epochs = [r for r in read_records(path)[0] if r["kind"] == "epoch"]
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
    assert [r["epoch"] for r in read_records(tmp_path / RECORD_NAME)[0] if r["kind"] == "epoch"] == [1]


def test_pca_is_exact_and_its_signs_do_not_flip():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)) * [5.0, 1.0] @ np.array([[0.6, 0.8], [-0.8, 0.6]])
    x = np.hstack([x, np.zeros((200, 3))])
    coords = pca_2d(x)
    assert coords.shape == (200, 2)
    assert coords[:, 0].var() > 20 * coords[:, 1].var()                 # the long axis first
    np.testing.assert_allclose(np.abs(pca_2d(-x)), np.abs(coords), atol=1e-9)
    np.testing.assert_allclose(pca_2d(x), coords)

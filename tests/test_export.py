"""The pretrained demo model, and the ONNX export checked with onnxruntime."""

import json

import numpy as np
import pytest

from glassnet.checkpoint import load_model, read_checkpoint, save_checkpoint
from glassnet.cli import main
from glassnet.demo import demo_model_path
from glassnet.errors import GlassnetError
from glassnet.nn.model import mlp
from glassnet.version import __version__
from tests.mnist_fixtures import synthetic_digits

onnxruntime = pytest.importorskip("onnxruntime")
from glassnet.export.onnx import to_onnx, write_onnx  # noqa: E402


def _session(model):
    return onnxruntime.InferenceSession(to_onnx(model), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("options", [{"dropout": 0.2}, {"batchnorm": False}])
def test_onnx_graph_gives_predict_proba(rng, options):
    model = mlp([784, 32, 16, 10], rng=rng, **options)
    model.forward(rng.random((64, 784), np.float32))               # running statistics off their start
    model.eval()
    x = rng.random((100, 784), np.float32)
    [probabilities] = _session(model).run(["probabilities"], {"x": x})
    np.testing.assert_allclose(probabilities, model.predict_proba(x), rtol=0, atol=1e-5)


def test_write_onnx_never_replaces_a_file(tmp_path, rng):
    (tmp_path / "model.onnx").write_text("mine")
    with pytest.raises(GlassnetError, match="already exists"):
        write_onnx(mlp([784, 8, 10], rng=rng), tmp_path / "model.onnx")
    assert (tmp_path / "model.onnx").read_text() == "mine"


def test_export_cli(tmp_path, rng, capsys):
    model = mlp([784, 16, 10], rng=rng)
    save_checkpoint(tmp_path / "model.npz", model, {"epoch": 1})
    assert main(["export", str(tmp_path), "--format", "onnx", str(tmp_path / "out.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "out.onnx").stat().st_size > 10_000
    assert main(["export", str(tmp_path), "--format", "onnx", str(tmp_path / "out.onnx")]) == 1


def test_the_onnx_file_carries_its_labels_input_convention_and_recorded_figures(tmp_path, rng, capsys):
    import onnx

    model = mlp([784, 16, 10], rng=rng)
    save_checkpoint(tmp_path / "model.npz", model, {
        "epoch": 3, "config": {"seed": 7}, "glassnet_version": "0.1.0",
        "metrics": {"dataset": {"name": "MNIST"}, "test": {"accuracy": 0.9, "macro": {"f1": 0.875}}}})
    assert main(["export", str(tmp_path), "--format", "onnx", str(tmp_path / "out.onnx")]) == 0
    assert "metadata" in capsys.readouterr().out
    proto = onnx.load(tmp_path / "out.onnx")
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["class_labels"]) == [str(d) for d in range(10)]
    assert props["input_shape"] == "[N, 784]" and props["input_dtype"] == "float32"
    assert "28×28" in props["input_convention"] and "row-major" in props["input_convention"]
    assert "[0, 1]" in props["input_convention"] and "centre of mass" in props["preprocessing"]
    assert {k: props[k] for k in ("test_accuracy", "macro_f1", "dataset", "seed", "epochs")} == \
        {"test_accuracy": "0.9", "macro_f1": "0.875", "dataset": "MNIST", "seed": "7", "epochs": "3"}
    assert "command" not in props, "a run's file records no command"
    assert (proto.producer_name, proto.producer_version, proto.model_version) == ("glassnet", __version__, 1)
    assert proto.graph.name == "glassnet_mlp_784_16_10" and "90.00%" in proto.doc_string
    x = rng.random((20, 784), np.float32)
    session = onnxruntime.InferenceSession(str(tmp_path / "out.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map == props
    [probabilities] = session.run(["probabilities"], {"x": x})
    np.testing.assert_allclose(probabilities, load_model(tmp_path / "model.npz")[0].predict_proba(x), atol=1e-5)


def test_the_demo_model_s_onnx_file_carries_its_record(tmp_path):
    import onnx

    assert main(["export", "demo", "--format", "onnx", str(tmp_path / "demo.onnx")]) == 0
    props = {p.key: p.value for p in onnx.load(tmp_path / "demo.onnx").metadata_props}
    demo = read_checkpoint(demo_model_path())[0]["demo"]
    assert float(props["test_accuracy"]) == demo["test_accuracy"] and props["seed"] == str(demo["seed"])
    assert props["command"] == demo["command"] and props["recipe"] == demo["recipe"]


def test_the_demo_model_ships_and_answers(tmp_path, capsys):
    meta, _ = read_checkpoint(demo_model_path())
    demo = meta["demo"]
    assert demo["seed"] == 0 and demo["command"] == "python scripts/make_demo_model.py"
    assert demo["test_accuracy"] > 0.97 and demo_model_path().stat().st_size < 1_500_000
    assert main(["info", "demo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == 235_530
    images, _ = synthetic_digits(2, 3)
    np.save(tmp_path / "digits.npy", images)
    assert main(["predict", "--model", "demo", str(tmp_path / "digits.npy"), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 2 and all(abs(sum(r["probabilities"]) - 1) < 1e-4 for r in records)


@pytest.mark.slow
def test_the_demo_models_recorded_accuracy_is_what_evaluate_measures(mnist_dir):
    from glassnet.data.mnist import load_mnist, to_inputs
    from glassnet.train import evaluate

    model, meta = load_model(demo_model_path())
    mnist = load_mnist(mnist_dir)
    _, accuracy, _ = evaluate(model, mnist.test_images.reshape(-1, 784), mnist.test_labels)
    assert accuracy == meta["demo"]["test_accuracy"]
    x = to_inputs(mnist.test_images)
    [probabilities] = _session(model).run(["probabilities"], {"x": x})
    difference = np.abs(probabilities - model.predict_proba(x)).max()
    assert difference < 1e-5, difference

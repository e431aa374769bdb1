"""Every layer kind through every path: a kind added to the registry (nn.kinds.KINDS) and not to a path
fails here, by name. One line per kind, as tinygrad writes its optimizer tests.

Paths: the backward against finite differences, a checkpoint round trip, the inference program
against the layers, the fused step against the layers (or refused), ONNX against predict_proba.
PyTorch parity per activation is in tests/reference/test_torch_parity.py; the web export's
JavaScript per activation in tests/web/test_web_export.py.
"""

import numpy as np
import pytest

from glassnet.checkpoint import load_model, save_checkpoint
from glassnet.nn.fused import FusedAdam, FusedMLP
from glassnet.nn.gradcheck import check_layer
from glassnet.nn.kinds import KINDS, fold, kind_of, record
from glassnet.nn.layers import ACTIVATIONS, GELU, BatchNorm, Dropout, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import Adam
from glassnet.nn.program import Affine, op_name

F64 = np.float64

# One example of each kind, in float64, as a test builds it; a kind missing here fails every test below.
EXAMPLES = {
    "Linear": lambda rng: Linear(5, 4, rng=rng, dtype=F64),
    "BatchNorm": lambda rng: BatchNorm(5, dtype=F64),
    "Dropout": lambda rng: Dropout(0.3, rng=rng),
    "ReLU": lambda rng: ReLU(),
    "LeakyReLU": lambda rng: LeakyReLU(0.1),
    "GELU": lambda rng: GELU(),
    "Tanh": lambda rng: Tanh(),
    "Sigmoid": lambda rng: Sigmoid(),
}


def _input(rng, width=5):
    x = rng.standard_normal((7, width)) * 2
    x[np.abs(x) < 1e-3] = 0.5                       # away from kinks, where no derivative exists
    return x


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_has_an_example_here(name):
    assert name in EXAMPLES


@pytest.mark.parametrize("name", list(KINDS))
def test_backward_against_finite_differences(name, rng):
    layer = EXAMPLES[name](rng)                     # dropout: check_layer draws the same mask on every forward
    report = check_layer(layer, _input(rng), rng=rng)
    assert report.passed(1e-6), report.format()


@pytest.mark.parametrize("name", list(KINDS))
def test_a_record_builds_the_same_kind_again(name, rng):
    layer = EXAMPLES[name](rng)
    spec = record(layer)
    assert spec["type"] == name
    again = KINDS[name].build(spec, rng, np.dtype(F64))
    assert type(again) is type(layer) and record(again) == spec
    shapes = {name.split("/")[1]: shape for name, shape in KINDS[name].shapes(spec).items()}
    assert shapes == {p.name: p.value.shape for p in layer.params()} | {k: v.shape for k, v in layer.buffers().items()}


@pytest.mark.parametrize("name", list(KINDS))
def test_the_fold_of_each_kind_computes_its_inference(name, rng):
    layer = EXAMPLES[name](rng)
    if isinstance(layer, BatchNorm):
        layer.running_mean[:], layer.running_var[:] = rng.standard_normal(5), rng.uniform(0.5, 2, 5)
    head = Linear(4 if isinstance(layer, Linear) else 5, 3, rng=rng, dtype=F64)
    model = Sequential([layer, head])
    x = _input(rng)
    np.testing.assert_allclose(fold(model).infer(x), model.infer(x), rtol=1e-12, atol=1e-12)


def test_a_layer_of_another_class_is_no_kind(rng):
    class MyReLU(ReLU):
        pass

    with pytest.raises(TypeError, match="not one of glassnet's layer kinds"):
        kind_of(MyReLU())
    with pytest.raises(TypeError, match="not one of glassnet's layer kinds"):
        fold(Sequential([Linear(3, 3, rng=rng), MyReLU(), Linear(3, 2, rng=rng)]))


def _trained(activation, rng, dtype=np.float32):
    model = mlp([784, 24, 12, 10], rng=rng, dropout=0.2, activation=activation, dtype=dtype)
    optimizer = Adam(model.params(), lr=1e-2)
    for _ in range(3):                               # weights and running statistics off their start
        x, labels = rng.random((32, 784)), rng.integers(0, 10, 32)
        _, grad = softmax_cross_entropy(model.forward(x.astype(dtype)), labels)
        model.backward(grad)
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_a_model_of_each_activation_saves_and_loads(activation, rng, tmp_path):
    model = _trained(activation, rng)
    save_checkpoint(tmp_path / "model.npz", model, {})
    loaded, _ = load_model(tmp_path / "model.npz")
    assert [record(layer) for layer in loaded.layers] == [record(layer) for layer in model.layers]
    assert loaded.architecture["activation"] == activation
    x = rng.random((20, 784))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_fused_step_equals_the_layers_for_each_activation(activation):
    layered, fused = (mlp([30, 17, 9, 4], rng=np.random.default_rng(7), dropout=0.3, activation=activation,
                          dtype=F64) for _ in range(2))
    assert FusedMLP.refusal(fused) is None
    opt_layered, opt_fused, fast = Adam(layered.params()), FusedAdam(fused.params()), FusedMLP(fused)
    data = np.random.default_rng(8)
    for n in (5, 2, 33, 8):
        x, labels = data.random((n, 30)), data.integers(0, 4, n)
        _, grad = softmax_cross_entropy(layered.forward(x), labels)
        layered.backward(grad, input_grad=False)
        opt_layered.step()
        fast.forward_backward(x, labels)
        opt_fused.step()
    for (name, p), q in zip(layered.named_params().items(), fused.params()):
        np.testing.assert_allclose(q.value, p.value, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-10, atol=1e-12, err_msg=f"grad {name}")


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_program_of_each_activation_runs_in_numpy(activation, rng):
    model = _trained(activation, rng)
    program = fold(model)
    assert activation in map(op_name, program.ops)
    x = rng.random((50, 784))
    np.testing.assert_allclose(program.predict_proba(x), model.predict_proba(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_onnx_of_each_activation_gives_predict_proba(activation, rng):
    onnxruntime = pytest.importorskip("onnxruntime")
    from glassnet.export.onnx import to_onnx

    model = _trained(activation, rng)
    session = onnxruntime.InferenceSession(to_onnx(model), providers=["CPUExecutionProvider"])
    x = rng.random((100, 784)).astype(np.float32)
    [probabilities] = session.run(["probabilities"], {"x": x})
    np.testing.assert_allclose(probabilities, model.predict_proba(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_web_export_knows_every_activation(activation, rng):
    from glassnet.export.web import WEB_OPS, weights_script

    model = _trained(activation, rng)
    assert activation in WEB_OPS
    assert f'"op": "{activation}"' in weights_script(model)


@pytest.mark.parametrize("export", ["web", "onnx"])
def test_an_operation_a_runtime_does_not_know_is_refused_before_anything_is_written(export, rng, tmp_path,
                                                                                     monkeypatch):
    from glassnet.errors import GlassnetError

    model = _trained("gelu", rng)
    if export == "web":
        from glassnet.export import web

        monkeypatch.setattr(web, "WEB_OPS", tuple(op for op in web.WEB_OPS if op != "gelu"))
        with pytest.raises(GlassnetError, match=r"cannot run the operation.* gelu"):
            web.write_web(model, tmp_path / "page")
        assert not (tmp_path / "page").exists()
    else:
        pytest.importorskip("onnx")
        from glassnet.export import onnx

        monkeypatch.delitem(onnx.ONNX_OPS, "gelu")
        with pytest.raises(GlassnetError, match=r"cannot run the operation.* gelu"):
            onnx.write_onnx(model, tmp_path / "model.onnx")
        assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_an_activation_said_homogeneous_is_x_times_its_derivative(activation):
    """The fused step applies f′ as a gate for a homogeneous activation: f(x) = x · f′(x) must hold everywhere,
    far from 0 too (a ReLU6 that inherited the flag from ReLU would break above 6)."""
    layer = ACTIVATIONS[activation]()
    x = np.linspace(-100, 100, 20_001)
    holds = np.allclose(layer.function(x), x * layer.derivative(x, layer.function(x)), rtol=1e-12, atol=1e-12)
    assert holds or not layer.homogeneous


def test_the_fused_step_uses_the_layers_own_slope():
    def model():
        rng = np.random.default_rng(3)
        return Sequential([Linear(10, 8, rng=rng, bias=False, dtype=F64), BatchNorm(8, dtype=F64), LeakyReLU(0.3),
                           Dropout(0.2, rng=rng), Linear(8, 3, rng=rng, dtype=F64)])

    layered, fused = model(), model()
    fast, data = FusedMLP(fused), np.random.default_rng(4)
    x, labels = data.random((9, 10)) * 4 - 2, data.integers(0, 3, 9)
    _, grad = softmax_cross_entropy(layered.forward(x), labels)
    layered.backward(grad, input_grad=False)
    fast.forward_backward(x, labels)
    for (name, p), q in zip(layered.named_params().items(), fused.params()):
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-10, atol=1e-12, err_msg=name)


def test_the_web_exports_list_of_operations_is_its_javascripts():
    """export/web.py refuses what glassnet-web.js's OPS table cannot run: the two lists must be one."""
    import re
    from importlib import resources

    from glassnet.export.web import WEB_OPS

    script = resources.files("glassnet.export").joinpath("web_static", "glassnet-web.js").read_text()
    table = script[script.index("const OPS = {"):script.index("};", script.index("const OPS = {"))]
    assert sorted(re.findall(r"^  (\w+): ", table, flags=re.M)) == sorted(WEB_OPS)


def test_the_numpy_runtime_refuses_an_operation_it_does_not_know():
    from glassnet.nn.program import Elementwise, Program

    program = Program((Affine(np.eye(2), np.zeros(2)), Elementwise("swish", {})))
    with pytest.raises(TypeError, match="does not know the operation 'swish'"):
        program.infer(np.ones((1, 2)))

"""The engine keeps no hidden state a read-only call can disturb.

Inference writes nothing, backward follows the mode of its forward, gradient
checks leave the model as they found it, parameters cannot be detached from
the optimizer, and `import glassnet.nn` loads no file or network stack.
"""

import subprocess
import sys
import threading

import numpy as np
import pytest

from glassnet.checkpoint import load_model, save_checkpoint
from glassnet.errors import CheckpointError
from glassnet.nn.gradcheck import check_layer, check_model
from glassnet.nn.layers import BatchNorm, Dropout, Linear, ReLU
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import Adam
from glassnet.train import evaluate


def _reference_model(dtype=np.float32, seed=0):
    return mlp([784, 256, 128, 10], rng=np.random.default_rng(seed), dropout=0.2, dtype=dtype)


def _snapshot(model):
    """Everything a layer holds that a call could change, as copies."""
    state = {f"param {name}": p.value.copy() for name, p in model.named_params().items()}
    state |= {f"grad {name}": p.grad.copy() for name, p in model.named_params().items()}
    state |= {f"buffer {name}": b.copy() for name, b in model.buffers().items()}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dropout):
            state[f"rng {i}"] = np.frombuffer(repr(layer._rng.bit_generator.state).encode(), np.uint8)
    return state


def _assert_same(before, after):
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


READ_ONLY_CALLS = {
    "predict_proba": lambda model, x: model.predict_proba(x),
    "predict": lambda model, x: model.predict(x),
    "trace": lambda model, x: model.trace(x),
    "infer": lambda model, x: model.infer(x),
    "evaluate": lambda model, x: evaluate(model, x, np.zeros(len(x), np.int64)),
    "one sample": lambda model, x: model.predict_proba(x[0]),
}


@pytest.mark.parametrize("call", READ_ONLY_CALLS)
def test_inference_between_forward_and_backward_leaves_gradients_bit_identical(call):
    rng = np.random.default_rng(1)
    x, labels = rng.random((64, 784), np.float32), rng.integers(0, 10, 64)
    other = rng.random((64, 784), np.float32)      # the same batch size: no shape guard could notice

    def gradients(interrupt):
        model = _reference_model()
        _, grad = softmax_cross_entropy(model.forward(x), labels)
        before = _snapshot(model)
        if interrupt:
            READ_ONLY_CALLS[call](model, other)
            _assert_same(before, _snapshot(model))          # no parameter, buffer or generator moved
        model.backward(grad)
        assert model.training                              # and the mode is what it was
        return {name: p.grad.copy() for name, p in model.named_params().items()}

    _assert_same(gradients(False), gradients(True))


def test_batchnorm_backward_follows_the_mode_of_its_forward(rng):
    x, upstream = rng.standard_normal((8, 5)), rng.standard_normal((8, 5))
    layer = BatchNorm(5, dtype=np.float64)
    layer.forward(x)
    expected = layer.backward(upstream)
    layer.forward(x)
    layer.training = False                                 # switched after the forward: too late to matter
    np.testing.assert_array_equal(layer.backward(upstream), expected)
    # an eval-mode forward is differentiated as eval: dx = γ / √(running σ² + eps) · G
    layer.forward(x)
    np.testing.assert_allclose(layer.backward(upstream), upstream / np.sqrt(layer.running_var + layer.eps))


def test_dropout_backward_follows_the_mode_of_its_forward(rng):
    layer = Dropout(0.5, rng=rng)
    x, upstream = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    y = layer.forward(x)
    layer.training = False
    np.testing.assert_array_equal(layer.backward(upstream), upstream * (y / x))    # the training mask
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(upstream), upstream)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_check_model_leaves_the_model_bit_identical(mode):
    model = mlp([20, 12, 8, 4], rng=np.random.default_rng(3), dropout=0.3, dtype=np.float64)
    getattr(model, mode)()
    rng = np.random.default_rng(4)
    x, labels = rng.random((6, 20)), rng.integers(0, 4, 6)
    _, grad = softmax_cross_entropy(model.forward(x), labels)      # a training step in progress…
    before = _snapshot(model)
    report = check_model(model, x, labels, rng=rng)
    assert report.passed(1e-6), report.format()
    _assert_same(before, _snapshot(model))
    model.backward(grad)                                            # …whose caches survived the check
    fresh = mlp([20, 12, 8, 4], rng=np.random.default_rng(3), dropout=0.3, dtype=np.float64)
    getattr(fresh, mode)()
    fresh.forward(x)
    fresh.backward(grad)
    for ours, theirs in zip(model.params(), fresh.params()):
        np.testing.assert_array_equal(ours.grad, theirs.grad)


@pytest.mark.parametrize("make", [
    lambda rng: BatchNorm(5, dtype=np.float64),
    lambda rng: Dropout(0.5, rng=np.random.default_rng(9)),
    lambda rng: Linear(5, 5, rng=rng, dtype=np.float64),
])
def test_check_layer_leaves_the_layer_bit_identical_and_holds_the_mask(rng, make):
    layer = make(rng)
    model = Sequential([layer])
    before = _snapshot(model)
    generator = getattr(layer, "_rng", None)
    state = generator.bit_generator.state if generator is not None else None
    report = check_layer(layer, rng.standard_normal((7, 5)), rng=rng)
    assert report.passed(1e-6), report.format()                     # a new mask per forward would fail
    _assert_same(before, _snapshot(model))
    if generator is not None:
        assert generator.bit_generator.state == state
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((7, 5)))                             # no cache was left behind


def test_two_threads_predicting_at_once_agree_with_one_at_a_time():
    model = _reference_model().train()             # a model in training mode, with dropout
    rng = np.random.default_rng(5)
    inputs = [rng.random((16, 784), np.float32) for _ in range(2)]
    expected = [model.predict_proba(x) for x in inputs]
    barrier = threading.Barrier(2)
    failures = []

    def worker(k):
        barrier.wait()
        failures.extend(k for _ in range(200) if not np.array_equal(model.predict_proba(inputs[k]), expected[k]))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert model.training


def _eval_reference(model, x):
    """The inference-mode network written out from its parameters alone, in float64."""
    h = x.astype(np.float64)
    for layer in model.layers:
        if isinstance(layer, Linear):
            h = h @ layer.weight.value.astype(np.float64)
            if layer.bias is not None:
                h = h + layer.bias.value
        elif isinstance(layer, BatchNorm):
            h = (h - layer.running_mean) / np.sqrt(layer.running_var.astype(np.float64) + layer.eps)
            h = h * layer.gamma.value + layer.beta.value
        elif isinstance(layer, ReLU):
            h = np.maximum(h, 0.0)
    return h


@pytest.mark.parametrize("dtype, tol", [
    (np.float32, 1e-6),
    (np.float64, 1e-12),
])
def test_inference_matches_the_written_out_network(dtype, tol):
    rng = np.random.default_rng(6)
    model = _reference_model(dtype).train()
    for _ in range(3):                             # move the running statistics away from 0 and 1
        model.forward(rng.random((32, 784)))
    for p in model.params():
        p.value[...] += 0.1 * rng.standard_normal(p.value.shape)
    x = rng.random((50, 784))
    logits, expected = model.infer(x), _eval_reference(model, x)
    assert logits.dtype == dtype
    # every logit within tol of the float64 reference, relative to the largest logit (about 10 here)
    np.testing.assert_allclose(logits, expected, rtol=0, atol=tol * np.abs(expected).max())


def test_assigning_a_param_is_checked_and_the_optimizer_follows_it(rng):
    layer = Linear(3, 2, rng=rng, dtype=np.float64)
    opt = Adam(layer.params(), lr=0.1)
    with pytest.raises(ValueError, match=r"value must be a float64 array of shape \(3, 2\).*p.value\[...\]"):
        layer.weight.value = np.zeros((2, 3))
    with pytest.raises(ValueError, match="float64"):
        layer.weight.value = np.zeros((3, 2), np.float32)
    layer.weight.value = np.zeros((3, 2))           # the same shape and dtype: the new array is the parameter
    layer.forward(rng.standard_normal((4, 3)))
    layer.backward(rng.standard_normal((4, 2)))
    opt.step()
    assert layer.weight.value.any()                 # the optimizer updated the array the layer uses


def test_hand_built_sequential_round_trips_through_a_model_file(tmp_path, rng):
    model = Sequential([Linear(6, 5, rng=rng), BatchNorm(5, momentum=0.2, eps=1e-3), ReLU(), Dropout(0.1, rng=rng),
                        Linear(5, 3, rng=rng, bias=False)])
    model.forward(rng.random((8, 6)))
    save_checkpoint(tmp_path / "m.npz", model, {"note": "hand-built", "format_version": 99, "layers": "mine"})
    loaded, meta = load_model(tmp_path / "m.npz")
    assert meta["note"] == "hand-built" and meta["format_version"] == 2       # the model's own keys win
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert (loaded.layers[1].momentum, loaded.layers[1].eps, loaded.layers[3].p) == (0.2, 1e-3, 0.1)
    x = rng.random((4, 6))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_a_model_with_foreign_layers_is_refused_before_anything_is_written(tmp_path, rng):
    class Scale:
        training = True

        def params(self): return []
        def buffers(self): return {}
        def forward(self, x): return 2 * x
        def backward(self, g): return 2 * g
        def infer(self, x): return 2 * x

    model = Sequential([Linear(4, 3, rng=rng), Scale()])
    with pytest.raises(CheckpointError, match=r"layer 1 \(Scale\)"):
        save_checkpoint(tmp_path / "m.npz", model, {})
    assert not list(tmp_path.iterdir())


def test_sequential_names_what_a_layer_lacks(rng):
    class NoInfer:
        training = True

        def params(self): return []
        def buffers(self): return {}
        def forward(self, x): return x
        def backward(self, g): return g

    with pytest.raises(TypeError, match=r"1 \(NoInfer\): infer"):
        Sequential([Linear(4, 3, rng=rng), NoInfer()])


FORBIDDEN_FOR_NN = ("urllib", "http", "zipfile", "email", "socket", "ssl", "tempfile", "json",
                    "glassnet.train", "glassnet.checkpoint", "glassnet.data", "glassnet.config", "glassnet.web")


def test_import_glassnet_nn_loads_numpy_and_nothing_of_the_file_or_network_stack():
    code = ("import sys, glassnet.nn.layers, glassnet.nn.model, glassnet.nn.optim, glassnet.nn.gradcheck, "
            "glassnet.nn.schedules; print('\\n'.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                 .stdout.split())
    assert "numpy" in loaded
    assert not {m for m in loaded if m.split(".")[0] in FORBIDDEN_FOR_NN or m.startswith(FORBIDDEN_FOR_NN)}
    assert {m for m in loaded if m.startswith("glassnet")} <= {
        "glassnet", "glassnet.version", "glassnet.nn", "glassnet.nn.layers", "glassnet.nn.model",
        "glassnet.nn.optim", "glassnet.nn.gradcheck", "glassnet.nn.schedules", "glassnet.nn.params",
        "glassnet.nn.init", "glassnet.nn.losses", "glassnet.nn.inference", "glassnet.nn.blas"}


def test_import_glassnet_is_lazy_and_its_api_complete():
    code = "import sys, glassnet; print('glassnet.train' in sys.modules); print(glassnet.fit.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "glassnet.train.loop"]
    import glassnet
    assert all(getattr(glassnet, name) is not None for name in glassnet.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        glassnet.nope  # noqa: B018

"""Two paths, one truth: the fused training step against the layer-by-layer definition."""

import numpy as np
import pytest

from glassnet.nn.fused import FusedAdam, FusedMLP
from glassnet.nn.layers import BatchNorm, Linear, ReLU
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import Sequential, mlp
from glassnet.nn.optim import Adam


def _pair(sizes, dtype, **options):
    """Two identical models (same seed: same weights, same dropout generators)."""
    return [mlp(sizes, rng=np.random.default_rng(7), dtype=dtype, **options) for _ in range(2)]


def _run(sizes, dtype, steps, batches=(64,), label_smoothing=0.0, weighted=False, **options):
    layered, fused = _pair(sizes, dtype, **options)
    opt_layered, opt_fused = Adam(layered.params()), FusedAdam(fused.params())
    fast = FusedMLP(fused)
    data = np.random.default_rng(8)
    losses = []
    for step in range(steps):
        n = batches[step % len(batches)]
        x, labels = data.random((n, sizes[0])), data.integers(0, sizes[-1], n)
        weights = data.uniform(0.0, 2.0, n) if weighted else None
        logits = layered.forward(x)
        loss, grad = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing, weights=weights)
        layered.backward(grad, input_grad=False)
        opt_layered.step()
        fast_loss, fast_logits = fast.forward_backward(x, labels, label_smoothing=label_smoothing, weights=weights)
        opt_fused.step()
        losses.append((loss, fast_loss))
        if step == 0:
            np.testing.assert_allclose(fast_logits, logits, rtol=1e-10 if dtype == np.float64 else 1e-5,
                                       atol=1e-12 if dtype == np.float64 else 1e-5)
    return layered, fused, losses


def _assert_models_close(a, b, rtol, atol):
    for (name, p), q in zip(a.named_params().items(), b.params()):
        np.testing.assert_allclose(q.value, p.value, rtol=rtol, atol=atol, err_msg=name)
        np.testing.assert_allclose(q.grad, p.grad, rtol=rtol, atol=atol, err_msg=f"grad {name}")
    for (name, buffer), other in zip(a.buffers().items(), b.buffers().values()):
        np.testing.assert_allclose(other, buffer, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("steps", [1, 100])
def test_reference_model_float64_equal_to_1e_10(steps):
    layered, fused, losses = _run([784, 256, 128, 10], np.float64, steps, dropout=0.2)
    _assert_models_close(layered, fused, rtol=1e-10, atol=1e-12)
    assert losses[-1][1] == pytest.approx(losses[-1][0], rel=1e-10)


@pytest.mark.parametrize("options", [
    {"dropout": 0.0},
    {"dropout": 0.3, "batchnorm": False},
    {"dropout": 0.0, "batchnorm": False},
])
def test_other_mlp_shapes_odd_and_changing_batch_sizes(options):
    layered, fused, _ = _run([30, 17, 9, 4], np.float64, 40, batches=(5, 2, 33), label_smoothing=0.1, **options)
    _assert_models_close(layered, fused, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("options", [{"dropout": 0.3}, {"dropout": 0.0, "batchnorm": False}])
def test_weighted_steps_equal_the_layers(options):
    layered, fused, losses = _run([30, 17, 9, 4], np.float64, 40, batches=(5, 2, 33), label_smoothing=0.1,
                                  weighted=True, **options)
    _assert_models_close(layered, fused, rtol=1e-10, atol=1e-12)
    assert losses[-1][1] == pytest.approx(losses[-1][0], rel=1e-10)


def test_reference_model_float32_within_a_stated_tolerance():
    """float32: the two paths round differently. After one step every gradient agrees to 1e-5 of its
    tensor's largest entry. Adam then divides by √v̂ + ε: where a gradient is near zero (|g| ≲ ε = 1e-8)
    a rounding difference moves that coordinate's step by up to ~lr, so weights are compared through
    what they compute: after 100 steps the training loss agrees to 1e-3 (relative)."""
    layered, fused, _ = _run([784, 256, 128, 10], np.float32, 1, dropout=0.2)
    for (name, p), q in zip(layered.named_params().items(), fused.params()):
        assert q.grad.dtype == np.float32
        np.testing.assert_allclose(q.grad, p.grad, rtol=0, atol=1e-5 * np.abs(p.grad).max(), err_msg=name)
    _, _, losses = _run([784, 256, 128, 10], np.float32, 100, dropout=0.2)
    assert losses[-1][1] == pytest.approx(losses[-1][0], rel=1e-3)


def test_the_same_dropout_masks_are_drawn():
    layered, fused, _ = _run([20, 16, 3], np.float64, 3, dropout=0.5)
    generators = [[layer._rng.bit_generator.state for layer in m.layers if hasattr(layer, "_rng")]
                  for m in (layered, fused)]
    assert generators[0] == generators[1]


def test_shapes_it_cannot_fuse_are_refused(rng):
    odd = Sequential([Linear(4, 3, rng=rng), BatchNorm(3), Linear(3, 2, rng=rng)])    # no activation
    assert "its layers are not" in FusedMLP.refusal(odd)
    with pytest.raises(TypeError, match="as mlp builds it"):
        FusedMLP(odd)
    assert FusedMLP.refusal(Sequential([Linear(4, 3, rng=rng), ReLU(), Linear(3, 2, rng=rng)])) is None
    assert FusedMLP.refusal(mlp([4, 2], rng=rng)) is None


def test_a_bias_before_batchnorm_is_refused_by_the_fast_path(rng):
    """The fused step leaves a bias before batch norm out; the layers keep it (its gradient is zero in real
    arithmetic, but Adam divides by √v̂ + ε, so rounding-sized gradients still move it)."""
    model = Sequential([Linear(12, 8, rng=rng, bias=True), BatchNorm(8), ReLU(), Linear(8, 3, rng=rng)])
    assert "layer 0 is a Linear with a bias before BatchNorm" in FusedMLP.refusal(model)
    with pytest.raises(TypeError, match="bias before BatchNorm"):
        FusedMLP(model)


def test_a_model_in_eval_mode_is_refused_a_fused_step(rng):
    model = mlp([6, 4, 3], rng=rng, dtype=np.float64).eval()
    with pytest.raises(RuntimeError, match="training mode"):
        FusedMLP(model).forward_backward(rng.random((5, 6)), rng.integers(0, 3, 5))


def test_fit_with_either_engine_trains_the_same_model():
    from glassnet.config import TrainConfig
    from glassnet.train import TrainData, fit
    from tests.mnist_fixtures import synthetic_digits

    images, labels = synthetic_digits(200, 4)
    x = images.reshape(200, 784)
    data = TrainData(x[:150], labels[:150], x[150:], labels[150:])
    results = [fit(TrainConfig(hidden=(32, 16), epochs=3, batch_size=32, dtype="float64", engine=engine), data)
               for engine in ("layers", "fast")]
    _assert_models_close(results[0].model, results[1].model, rtol=1e-10, atol=1e-12)
    assert [s.eval_accuracy for s in results[0].history] == [s.eval_accuracy for s in results[1].history]


@pytest.mark.parametrize("engine", ["layers", "fast"])
def test_fit_with_weights_of_one_trains_the_unweighted_model_bit_for_bit(engine):
    from glassnet.config import TrainConfig
    from glassnet.train import TrainData, fit
    from tests.mnist_fixtures import synthetic_digits

    images, labels = synthetic_digits(200, 4)
    x = images.reshape(200, 784)
    config = TrainConfig(hidden=(32, 16), epochs=3, batch_size=32, engine=engine)     # float32, dropout 0.2
    plain = fit(config, TrainData(x[:150], labels[:150], x[150:], labels[150:]))
    ones = fit(config, TrainData(x[:150], labels[:150], x[150:], labels[150:], w_train=np.ones(150),
                                 w_eval=np.ones(50)))
    for (name, p), q in zip(plain.model.named_params().items(), ones.model.params()):
        np.testing.assert_array_equal(q.value, p.value, err_msg=name)
    assert [(s.train_loss, s.eval_loss, s.eval_accuracy) for s in ones.history] == \
        [(s.train_loss, s.eval_loss, s.eval_accuracy) for s in plain.history]
    weights = np.where(labels[:150] == 0, 5.0, 1.0)
    weighted = fit(config, TrainData(x[:150], labels[:150], x[150:], labels[150:], w_train=weights))
    assert weighted.history[-1].train_loss != plain.history[-1].train_loss


@pytest.mark.parametrize("engine, textbook_steps", [("layers", 3 * 5), ("fast", 0)])
def test_the_layers_engine_updates_with_the_textbook_adam(engine, textbook_steps, monkeypatch):
    """--engine layers is the path the docs derive, optimizer included; FusedAdam overrides Adam.step."""
    from glassnet.config import TrainConfig
    from glassnet.train import TrainData, fit
    from tests.mnist_fixtures import synthetic_digits

    calls = []
    textbook_step = Adam.step
    monkeypatch.setattr(Adam, "step", lambda self: (calls.append(type(self)), textbook_step(self))[1])
    images, labels = synthetic_digits(200, 4)
    x = images.reshape(200, 784)
    fit(TrainConfig(hidden=(32, 16), epochs=3, batch_size=32, engine=engine),
        TrainData(x[:150], labels[:150], x[150:], labels[150:]))
    assert len(calls) == textbook_steps and set(calls) <= {Adam}


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("options", [{"dropout": 0.2}, {"dropout": 0.0, "batchnorm": False}])
def test_folded_inference_equals_the_layers(dtype, tol, options):
    from glassnet.nn.kinds import fold

    rng = np.random.default_rng(3)
    model = mlp([784, 64, 32, 10], rng=rng, dtype=dtype, **options)
    for _ in range(3):                                         # running statistics away from 0 and 1
        model.forward(rng.random((50, 784)))
    for p in model.params():
        p.value[...] += 0.1 * rng.standard_normal(p.value.shape)
    x = rng.random((40, 784))
    expected = model.infer(x)
    folded = fold(model).infer(x)
    assert folded.dtype == dtype
    np.testing.assert_allclose(folded, expected, rtol=0, atol=tol * np.abs(expected).max())
    np.testing.assert_allclose(fold(model).infer(x[:1]), folded[:1], rtol=0, atol=tol * np.abs(expected).max())


def test_a_batch_of_one_is_refused_as_the_layers_refuse_it(rng):
    model = mlp([6, 4, 3], rng=rng, dtype=np.float64)
    with pytest.raises(ValueError, match="at least 2 samples"):
        model.forward(rng.random((1, 6)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        FusedMLP(model).forward_backward(rng.random((1, 6)), rng.integers(0, 3, 1))
    assert np.isfinite(model.buffers()["1.running_var"]).all()

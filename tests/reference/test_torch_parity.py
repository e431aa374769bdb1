"""glassnet against PyTorch (torch==2.13.0, float64): same weights, same inputs, same numbers."""

import numpy as np
import pytest

from glassnet.nn.layers import ACTIVATIONS, Activation, BatchNorm, Dropout, LeakyReLU, Linear
from glassnet.nn.losses import softmax_cross_entropy
from glassnet.nn.model import mlp
from glassnet.nn.optim import Adam
from glassnet.nn.schedules import step_decay

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)

RTOL = 1e-10


def t(array):
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=True)


def assert_close(ours, theirs, rtol=RTOL, atol=0.0):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=rtol, atol=atol)


def test_linear(rng):
    ours = Linear(7, 5, rng=rng, dtype=np.float64)
    ours.bias.value[:] = rng.standard_normal(5)
    theirs = torch.nn.Linear(7, 5)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.value.T))   # torch stores (out, in)
        theirs.bias.copy_(torch.tensor(ours.bias.value))
    x, upstream = rng.standard_normal((4, 7)), rng.standard_normal((4, 5))
    x_t = t(x)
    y_t = theirs(x_t)
    y_t.backward(torch.tensor(upstream))
    assert_close(ours.forward(x), y_t)
    assert_close(ours.backward(upstream), x_t.grad)
    assert_close(ours.weight.grad, theirs.weight.grad.T)
    assert_close(ours.bias.grad, theirs.bias.grad)


def test_batchnorm_training_and_running_statistics(rng):
    ours = BatchNorm(6, dtype=np.float64)
    ours.gamma.value[:] = rng.uniform(0.5, 2, 6)
    ours.beta.value[:] = rng.standard_normal(6)
    theirs = torch.nn.BatchNorm1d(6, eps=1e-5, momentum=0.1)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.value))
        theirs.bias.copy_(torch.tensor(ours.beta.value))
    for _ in range(5):
        _compare_batchnorm_step(ours, theirs, rng.standard_normal((16, 6)) * 3 + 2, rng.standard_normal((16, 6)))
    assert_close(ours.running_mean, theirs.running_mean)
    assert_close(ours.running_var, theirs.running_var)

    ours.training = False
    theirs.eval()
    _compare_batchnorm_step(ours, theirs, rng.standard_normal((8, 6)), rng.standard_normal((8, 6)))


def _compare_batchnorm_step(ours, theirs, x, upstream):
    """One forward and backward through both; outputs and every gradient agree."""
    x_t = t(x)
    theirs.zero_grad()
    y_t = theirs(x_t)
    y_t.backward(torch.tensor(upstream))
    assert_close(ours.forward(x), y_t)
    assert_close(ours.backward(upstream), x_t.grad)
    assert_close(ours.gamma.grad, theirs.weight.grad)
    assert_close(ours.beta.grad, theirs.bias.grad)


# Each activation's PyTorch module, built from ours; an activation missing here fails its tests by name.
TORCH_ACTIVATIONS = {
    "relu": lambda layer: torch.nn.ReLU(),
    "leaky_relu": lambda layer: torch.nn.LeakyReLU(layer.slope),
    "gelu": lambda layer: torch.nn.GELU(approximate="tanh"),
    "tanh": lambda layer: torch.nn.Tanh(),
    "sigmoid": lambda layer: torch.nn.Sigmoid(),
}


@pytest.mark.parametrize("name", [*ACTIVATIONS, "leaky_relu slope 0.2"])
def test_activation(name, rng):
    x, upstream = rng.standard_normal((50, 4)) * 4, rng.standard_normal((50, 4))
    x[np.abs(x) < 1e-3] = 0.5
    ours = LeakyReLU(0.2) if name == "leaky_relu slope 0.2" else ACTIVATIONS[name]()
    name = ours.name
    x_t = t(x)
    y_t = TORCH_ACTIVATIONS[name](ours)(x_t)
    y_t.backward(torch.tensor(upstream))
    assert_close(ours.forward(x), y_t, atol=1e-13)          # atol: GELU and σ of large negative x are ~0
    assert_close(ours.backward(upstream), x_t.grad, atol=1e-13)


def test_dropout_same_mask(rng):
    p = 0.3
    ours = Dropout(p, rng=rng)
    x, upstream = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    y = ours.forward(x)
    keep = ours.mask > 0
    assert 0 < keep.sum() < keep.size
    x_t = t(x)
    # torch's dropout draws its own mask; apply our draw the way it does, with our exact keep probability
    y_t = x_t * torch.tensor(keep, dtype=torch.float64) / ours.keep_probability
    y_t.backward(torch.tensor(upstream))
    assert_close(y, y_t)
    assert_close(ours.backward(upstream), x_t.grad)
    # and torch's own functional dropout uses the same scaling: kept units are x / (1 − p)
    y_torch = torch.nn.functional.dropout(torch.ones(1000, dtype=torch.float64), p=p, training=True)
    assert set(np.unique(y_torch.numpy())) <= {0.0, 1 / (1 - p)}


def test_softmax_cross_entropy(rng):
    logits, labels = rng.standard_normal((9, 10)) * 3, rng.integers(0, 10, 9)
    logits_t = t(logits)
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(labels))
    loss_t.backward()
    loss, grad = softmax_cross_entropy(logits, labels)
    assert loss == pytest.approx(loss_t.item(), rel=RTOL)
    assert_close(grad, logits_t.grad)


def test_label_smoothing(rng):
    logits, labels = rng.standard_normal((9, 10)) * 3, rng.integers(0, 10, 9)
    logits_t = t(logits)
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(labels), label_smoothing=0.1)
    loss_t.backward()
    loss, grad = softmax_cross_entropy(logits, labels, label_smoothing=0.1)
    assert loss == pytest.approx(loss_t.item(), rel=RTOL)
    assert_close(grad, logits_t.grad)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_sample_weighted_cross_entropy(rng, label_smoothing):
    """Per-sample weights: Σ wₙ ℓₙ / Σ wₙ of torch's unreduced losses (scikit-learn's weighted mean)."""
    logits, labels, weights = rng.standard_normal((9, 10)) * 3, rng.integers(0, 10, 9), rng.uniform(0, 2, 9)
    logits_t, weights_t = t(logits), torch.tensor(weights)
    losses_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(labels), reduction="none",
                                                 label_smoothing=label_smoothing)
    loss_t = (weights_t * losses_t).sum() / weights_t.sum()
    loss_t.backward()
    loss, grad = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing, weights=weights)
    assert loss == pytest.approx(loss_t.item(), rel=RTOL)
    assert_close(grad, logits_t.grad)


def test_class_weighted_cross_entropy(rng):
    """Class weights: torch's own weight= (a mean weighted by the weight of each sample's class)."""
    logits, labels, class_weights = rng.standard_normal((9, 4)) * 3, rng.integers(0, 4, 9), rng.uniform(0.1, 3, 4)
    logits_t = t(logits)
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(labels), weight=torch.tensor(class_weights))
    loss_t.backward()
    loss, grad = softmax_cross_entropy(logits, labels, weights=class_weights[labels])
    assert loss == pytest.approx(loss_t.item(), rel=RTOL)
    assert_close(grad, logits_t.grad)


def _torch_reference_model(ours):
    """The same network in PyTorch, with our initial weights."""
    layers = []
    for layer in ours.layers:
        if isinstance(layer, Linear):
            linear = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(layer.weight.value.T))
                if layer.bias is not None:
                    linear.bias.copy_(torch.tensor(layer.bias.value))
            layers.append(linear)
        elif isinstance(layer, BatchNorm):
            layers.append(torch.nn.BatchNorm1d(layer.n_features))
        elif isinstance(layer, Activation):
            layers.append(TORCH_ACTIVATIONS[layer.name](layer))
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_twenty_adam_steps_of_the_reference_model(rng, activation):
    """Full model with each activation, Adam, 20 steps on the same batches, dropout 0: parameters agree to 1e-8.

    The hidden Linears have no bias, by design: a bias feeding BatchNorm has a
    true gradient of exactly zero, so its computed gradient would be rounding
    noise and Adam (which divides by √v̂) would move it by ±lr along the sign of
    that noise, differently in each framework, without changing any output.
    """
    ours = mlp([784, 256, 128, 10], rng=rng, dropout=0.0, dtype=np.float64, activation=activation)
    theirs = _torch_reference_model(ours)
    opt = Adam(ours.params(), lr=1e-3)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(20):
        x, labels = rng.random((32, 784)), rng.integers(0, 10, 32)
        loss, grad = softmax_cross_entropy(ours.forward(x), labels)
        ours.backward(grad, input_grad=False)
        opt.step()
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(labels))
        loss_t.backward()
        opt_t.step()
        assert loss == pytest.approx(loss_t.item(), rel=1e-8)
    torch_params = [p.detach().numpy() for p in theirs.parameters()]
    for (name, ours_p), theirs_p in zip(ours.named_params().items(), torch_params):
        expected = theirs_p.T if ours_p.value.ndim == 2 else theirs_p
        np.testing.assert_allclose(ours_p.value, expected, rtol=1e-8, atol=1e-12, err_msg=name)
    for (name, buffer), theirs_b in zip(ours.buffers().items(),
                                       [b.numpy() for b in theirs.buffers() if b.ndim == 1]):
        np.testing.assert_allclose(buffer, theirs_b, rtol=1e-8, err_msg=name)


def test_step_decay_matches_step_lr():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.95)
    ours = step_decay(1e-3, gamma=0.95, every_steps=10)
    for epoch in range(50):
        assert ours(epoch) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), epoch
        opt.step()
        scheduler.step()


def test_adamw_matches_torch(rng):
    """Decoupled weight decay θ ← θ(1 − lr·λ) before the Adam step, as torch.optim.AdamW, on weight
    matrices only: the vector (a bias, gamma or beta) is in a torch parameter group without decay."""
    from glassnet.nn.params import Param

    matrix, vector = rng.standard_normal((5, 10)), rng.standard_normal(10)
    ours = [Param(matrix.copy()), Param(vector.copy())]
    theirs = [torch.nn.Parameter(torch.tensor(matrix)), torch.nn.Parameter(torch.tensor(vector))]
    opt = Adam(ours, lr=1e-2, weight_decay=0.05)
    opt_t = torch.optim.AdamW([{"params": [theirs[0]], "weight_decay": 0.05},
                               {"params": [theirs[1]], "weight_decay": 0.0}], lr=1e-2)
    for _ in range(25):
        for ours_p, theirs_p in zip(ours, theirs):
            grad = rng.standard_normal(ours_p.value.shape)
            ours_p.grad = grad
            theirs_p.grad = torch.tensor(grad)
        opt.step()
        opt_t.step()
    for ours_p, theirs_p in zip(ours, theirs):
        np.testing.assert_allclose(ours_p.value, theirs_p.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_cosine_matches_cosine_annealing_lr():
    from glassnet.nn.schedules import cosine

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40, eta_min=0.001)
    ours = cosine(0.1, total_steps=40, min_lr=0.001)
    for step in range(41):
        assert ours(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12), step
        opt.step()
        scheduler.step()

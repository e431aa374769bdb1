"""Exercises 5 and 6: batch norm's backward node by node, then the batch norm layer with its compact backward."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np

from glassnet.learn.checks import (
    AFTER_TWO,
    DTYPES,
    SECOND_FORWARD,
    Checks,
    after_two_forwards,
    assigned,
    backward,
    expect,
    expect_grad,
    forward,
    gradcheck,
    keeps_dtype,
    loosen,
    over_batches,
    require,
)
from glassnet.learn.checks.graph import Node, compare_nodes
from glassnet.learn.diagnose import Mistake
from glassnet.nn import layers as reference

EPS = 1e-5


def batchnorm_case(n: int, rng: np.random.Generator, constant_column: bool = False) -> tuple[np.ndarray, ...]:
    """x (n, 6), γ, β and G: feature 4 varies little (where eps matters), feature 2 may be one repeated value."""
    x = rng.standard_normal((n, 6)) * 3 + 1
    x[:, 4] = x[:, 4] * 1e-3 + 0.5
    if constant_column:
        x[:, 2] = 4.0
    return x, rng.uniform(0.5, 2.0, 6), rng.standard_normal(6), rng.standard_normal((n, 6))


def batchnorm_nodes(x: np.ndarray, gamma: np.ndarray, g: np.ndarray, *, suffix: str = "", output: str = "y",
                    source: str = "x", eps: float = EPS) -> list[Node]:
    """The gradient at every node of batch norm's graph (backward order), with each node's classic mistakes.

    The graph: mu = mean(x), centred = x − mu, var = mean(centred²), inv_std = 1/√(var + eps),
    x_hat = centred · inv_std, output = gamma · x_hat + beta; G = ∂L/∂output.
    """
    n = len(x)
    mu = x.mean(axis=0)
    centred = x - mu
    var = (centred**2).mean(axis=0)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = centred * inv_std
    dx_hat = gamma * g
    dinv_std = (dx_hat * centred).sum(axis=0)
    dvar = dinv_std * -0.5 * (var + eps) ** -1.5
    through_x_hat = dx_hat * inv_std
    dcentred = through_x_hat + dvar * 2 * centred / n
    dmu = -dcentred.sum(axis=0)
    dx = dcentred + dmu / n
    with np.errstate(all="ignore"):                       # σ² = 0 for a feature with one repeated value
        dvar_no_eps = dinv_std * -0.5 * var**-1.5

    def name(node: str) -> str:
        return f"{node}{suffix}"

    return [
        Node(name("beta"), g.sum(axis=0), (output,)),
        Node(name("gamma"), (g * x_hat).sum(axis=0), (output,), [
            Mistake("bn.dgamma-no-xhat", "∂L/∂γ is Σₙ G x̂: the factor x̂ is missing", g.sum(axis=0)),
            Mistake("bn.dgamma-x", "it multiplies G by the input x; γ multiplies x̂, so ∂L/∂γ = Σₙ G x̂",
                    (g * x).sum(axis=0)),
            Mistake("bn.dgamma-x", "it multiplies G by centred (x − μ); γ multiplies x̂, so ∂L/∂γ = Σₙ G x̂",
                    (g * centred).sum(axis=0))]),
        Node(name("x_hat"), dx_hat, (output,), [
            Mistake("bn.gamma-missing", "γ is missing: ∂L/∂x̂ = γ G", g)]),
        Node(name("inv_std"), dinv_std, (name("x_hat"),), [
            Mistake("bn.dinv-std-x-hat", "it multiplies by x̂; x̂ = centred · inv_std, so ∂x̂/∂inv_std = centred "
                                         "(x − μ)", (dx_hat * x_hat).sum(axis=0)),
            Mistake("bn.dinv-std-x", "it multiplies by x; x̂ = centred · inv_std, so ∂x̂/∂inv_std = centred (x − μ)",
                    (dx_hat * x).sum(axis=0))]),
        Node(name("var"), dvar, (name("inv_std"),), [
            Mistake("bn.power-rule", "the −½ of the power rule is missing: d/dσ² (σ² + ε)^(−½) = −½ (σ² + ε)^(−3/2)",
                    dinv_std * (var + eps) ** -1.5),
            Mistake("bn.var-exponent", "the exponent is off: d/dσ² (σ² + ε)^(−½) = −½ (σ² + ε)^(−3/2), not "
                                       "−½ (σ² + ε)^(−½)", dinv_std * -0.5 * (var + eps) ** -0.5),
            Mistake("bn.var-exponent", "the exponent is off: d/dσ² (σ² + ε)^(−½) = −½ (σ² + ε)^(−3/2) = −½ inv_std³, "
                                       "not −½ (σ² + ε)^(−1) = −½ inv_std²", dinv_std * -0.5 / (var + eps)),
            Mistake("bn.eps-missing", "ε is missing: d/dσ² (σ² + ε)^(−½) = −½ (σ² + ε)^(−3/2), with the ε forward "
                                      "used", dvar_no_eps)]),
        Node(name("centred"), dcentred, (name("x_hat"), name("var")), [
            Mistake("bn.var-path-missing", "only the path through x̂ is there; centred also reaches the loss "
                                           "through var: add ∂L/∂var · 2 centred / N", through_x_hat),
            Mistake("bn.var-path-no-n", "the path through var lacks its 1/N: var = (1/N) Σₙ centred², so "
                                        "∂var/∂centred = 2 centred / N", through_x_hat + dvar * 2 * centred),
            Mistake("bn.var-path-x", "the path through var uses x: var = (1/N) Σₙ centred², so ∂var/∂centred = "
                                     "2 centred / N, not 2 x / N", through_x_hat + dvar * 2 * x / n)]),
        Node(name("mu"), dmu, (name("centred"),)),
        Node(source, dx, (name("centred"), name("mu")), [
            Mistake("bn.mu-path-missing", "the path through μ is missing: add ∂L/∂μ / N (μ is the mean of x)",
                    dcentred),
            Mistake("bn.mu-path-no-n", "the path through μ lacks its 1/N: ∂μ/∂xₙ = 1/N", dcentred + dmu),
            Mistake("bn.mu-path-sign", "the path through μ is subtracted: the two paths add, ∂L/∂x = ∂L/∂centred + "
                                       "∂L/∂μ / N (the minus sign of centred = x − μ is already in ∂L/∂μ)",
                    dcentred - dmu / n)]),
    ]


def compact_mistakes(x: np.ndarray, gamma: np.ndarray, g: np.ndarray, eps: float = EPS) -> list[Mistake]:
    """What each classic mistake of the compact ∂L/∂x gives, in training."""
    n = len(x)
    s = 1 / np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - x.mean(axis=0)) * s
    dbeta, dgamma = g.sum(axis=0), (g * x_hat).sum(axis=0)
    outside = 1 / (np.sqrt(x.var(axis=0)) + eps)
    x_hat_outside = (x - x.mean(axis=0)) * outside
    with np.errstate(all="ignore"):
        no_eps = 1 / np.sqrt(x.var(axis=0))
    return [
        Mistake("bn.xhat-term-missing", "the x̂ · Σ(G x̂) term is missing (the path through σ²), or reads "
                                        "∂L/∂γ before backward assigns it", gamma * s / n * (n * g - dbeta)),
        Mistake("bn.sum-term-missing", "the Σ G term is missing (the path through μ), or reads ∂L/∂β before "
                                       "backward assigns it", gamma * s / n * (n * g - x_hat * dgamma)),
        Mistake("bn.gamma-missing", "γ is missing: ∂L/∂x̂ = γ G", s / n * (n * g - dbeta - x_hat * dgamma)),
        Mistake("bn.stats-as-constants", "it treats μ and σ² as constants (the inference formula) on a training "
                                         "forward", gamma * s * g),
        Mistake("bn.n-minus-1", "it uses N − 1 where N belongs (biased variance: the mean divides by N)",
                gamma * s / (n - 1) * ((n - 1) * g - dbeta - x_hat * dgamma)),
        Mistake("bn.term-sign", "a term has the wrong sign: γ s / N · (N G − Σ G − x̂ Σ G x̂)",
                gamma * s / n * (n * g + dbeta - x_hat * dgamma)),
        Mistake("bn.term-sign", "a term has the wrong sign: γ s / N · (N G − Σ G − x̂ Σ G x̂)",
                gamma * s / n * (n * g - dbeta + x_hat * dgamma)),
        Mistake("bn.n-times-g-missing", "G lacks its factor N: γ s / N · (N G − Σ G − x̂ Σ G x̂)",
                gamma * s / n * (g - dbeta - x_hat * dgamma)),
        Mistake("bn.eps-outside-sqrt", "ε is added outside the square root: 1/√(σ² + ε), not 1/(√σ² + ε)",
                gamma * outside / n * (n * g - dbeta - x_hat_outside * (g * x_hat_outside).sum(axis=0))),
        Mistake("bn.eps-missing", "its 1/√σ² lacks ε (its x̂ has it): backward needs the inv_std forward used, "
                                  "1/√(σ² + ε)", gamma * no_eps / n * (n * g - dbeta - x_hat * dgamma))]


def _forward_mistakes(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running: Any) -> list[Mistake]:
    mean, var = x.mean(axis=0), x.var(axis=0)
    n = len(x)
    updated_mean, updated_var = 0.1 * mean, 0.9 + 0.1 * var * n / (n - 1)       # after this batch's update
    with np.errstate(all="ignore"):
        no_eps = (x - mean) / np.sqrt(var) * gamma + beta
    return [
        Mistake("bn.unbiased-in-training", "normalized with the unbiased variance (÷ (N − 1)); training uses the "
                "biased one (÷ N)", (x - mean) / np.sqrt(x.var(axis=0, ddof=1) + EPS) * gamma + beta),
        Mistake("bn.eps-outside-sqrt", "ε is added outside the square root: (x − μ)/√(σ² + ε), not "
                                       "(x − μ)/(√σ² + ε)", (x - mean) / (np.sqrt(var) + EPS) * gamma + beta),
        Mistake("bn.eps-missing", "ε is missing: a feature with one repeated value has σ² = 0, and x̂ = 0/0; "
                                  "divide by √(σ² + ε)", no_eps),
        Mistake("bn.std-for-var", "it uses the standard deviation σ where the variance σ² belongs: √(σ² + ε)",
                (x - mean) / np.sqrt(x.std(axis=0) + EPS) * gamma + beta),
        Mistake("bn.all-entries", "its μ and σ² are over every entry (no axis); batch norm takes them per feature, "
                                  "over the batch (axis=0)", (x - x.mean()) / np.sqrt(x.var() + EPS) * gamma + beta),
        Mistake("bn.not-normalized", "x is not normalized: y = γ x̂ + β with x̂ = (x − μ)/√(σ² + ε)",
                gamma * x + beta),
        Mistake("bn.beta-scaled", "β is scaled by γ too: y = γ x̂ + β, not γ (x̂ + β)",
                gamma * ((x - mean) / np.sqrt(var + EPS) + beta)),
        Mistake("bn.affine-missing", "it returns x̂: the scale and shift are missing, y = γ x̂ + β",
                (x - mean) / np.sqrt(var + EPS)),
        Mistake("bn.running-in-training", "it uses the running averages in training: use the batch's μ and σ²",
                running),
        Mistake("bn.running-in-training", "it normalizes with the running averages this batch has just updated; "
                                          "training uses the batch's own μ and σ²",
                (x - updated_mean) / np.sqrt(updated_var + EPS) * gamma + beta)]


def check_batchnorm_graph(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)

    def forward_pass() -> None:
        x, gamma, beta, _ = batchnorm_case(5, rng)
        y, cache = forward(module.batchnorm_forward, x, gamma, beta, what="batchnorm_forward")
        expect(y, (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPS) * gamma + beta,
               "y of the given forward (it was changed?)")
        require(isinstance(cache, dict), "batchnorm_forward must return (y, cache), the cache a dict")

    def backward_at(n: int) -> None:
        x, gamma, beta, g = batchnorm_case(n, rng, constant_column=n == 7)
        got = backward(_bound(module.batchnorm_backward, module.batchnorm_forward(x, gamma, beta)[1]), g)
        compare_nodes(got, batchnorm_nodes(x, gamma, g), f"at batch {n}", n)

    def backward_pass() -> None:
        over_batches((2, 3, 7, 64), backward_at)

    checks.run_in_order(("the given forward, unchanged", forward_pass),
                        ("backward, node by node, against glassnet", backward_pass))


def _bound(backward: Callable[[np.ndarray, Any], Any], cache: Any) -> Callable[[np.ndarray], Any]:
    """backward(G, cache) as a function of G alone."""
    return lambda grad: backward(grad, cache)


def check_batchnorm(module: ModuleType, checks: Checks) -> None:
    rng = np.random.default_rng(0)

    def pair(gamma: np.ndarray, beta: np.ndarray, dtype: type = np.float64) -> tuple[Any, reference.BatchNorm]:
        mine, theirs = module.BatchNorm(6, dtype=dtype), reference.BatchNorm(6, dtype=dtype)
        for layer in (mine, theirs):
            layer.gamma.value[...], layer.beta.value[...] = gamma, beta
        return loosen(mine, "gamma", "beta"), theirs

    def training_at(n: int) -> None:
        x, gamma, beta, g = batchnorm_case(n, rng, constant_column=n == 3)
        mine, theirs = pair(gamma, beta)
        running = theirs.infer(x)
        expect(forward(mine.forward, x), theirs.forward(x), f"y in training at batch {n}",
               mistakes=partial(_forward_mistakes, x, gamma, beta, running))
        dx = backward(mine.backward, g, mine)
        want_dx = theirs.backward(g)
        expect_grad(mine.beta, theirs.beta.grad, f"∂L/∂β at batch {n}", n=n)
        expect_grad(mine.gamma, theirs.gamma.grad, f"∂L/∂γ at batch {n}", n=n, mistakes=[
            Mistake("bn.dgamma-no-xhat", "∂L/∂γ is Σₙ G x̂: the factor x̂ is missing", g.sum(axis=0)),
            Mistake("bn.dgamma-x", "it multiplies G by the input x; γ multiplies x̂, so ∂L/∂γ = Σₙ G x̂",
                    (g * x).sum(axis=0))])
        expect(dx, want_dx, f"∂L/∂x at batch {n}", n=n, mistakes=partial(compact_mistakes, x, gamma, g))
        assigned(mine.backward, g, mine.params())

    def training() -> None:
        over_batches((2, 3, 7), training_at)

    def running() -> None:
        x0, gamma, beta, _ = batchnorm_case(8, rng)
        mine, theirs = pair(gamma, beta)
        held = mine.running_mean, mine.running_var
        batches = [x0 * (k + 1) + k for k in range(3)]
        for x in batches:
            mine.forward(x)
            theirs.forward(x)
        n = len(x0)
        variants = {name: _running(batches, mean, var) for name, (mean, var) in {
            "biased": (_mean, lambda x: x.var(axis=0)),
            "twice": (_mean, lambda x: x.var(axis=0, ddof=1) * n / (n - 1)),
            "std": (_mean, lambda x: np.sqrt(_unbiased(x))),
            "std-biased": (_mean, lambda x: x.std(axis=0)),
            "all-entries": (lambda x: np.full(6, x.mean()), lambda x: np.full(6, x.var() * n / (n - 1))),
            "plus-one": (_mean, lambda x: x.var(axis=0) * n / (n + 1))}.items()}
        variants["swapped"] = _running(batches, _mean, _unbiased, momentum=0.9)
        variants["last"] = (_mean(batches[-1]), _unbiased(batches[-1]))
        for i, name in enumerate(("running_mean", "running_var")):
            start = np.zeros(6) if i == 0 else np.ones(6)
            expect(getattr(mine, name), getattr(theirs, name), f"{name} after three training batches", mistakes=[
                Mistake("bn.running-not-updated", "it never changed: each training forward must update it, "
                                                  "running = (1 − m) · running + m · batch", start),
                Mistake("bn.running-biased", "it averages the biased variance; the running variance uses the "
                                             "unbiased σ² · N/(N − 1)", variants["biased"][i]),
                Mistake("bn.running-is-batch", "it is the last batch's statistic: a running average keeps (1 − m) "
                                               "of its old value", variants["last"][i]),
                Mistake("bn.unbiased-twice", "it corrects the variance twice: σ² · N/(N − 1) of a variance that was "
                                             "already unbiased (ddof=1)", variants["twice"][i]),
                Mistake("bn.momentum-swapped", "momentum is the weight of the *new* batch: running = (1 − m) · "
                                               "running + m · batch", variants["swapped"][i]),
                Mistake("bn.all-entries", f"it averages the {('mean', 'variance')[i]} of every entry of the batch "
                                          "(no axis); the running averages are per feature, over the batch (axis=0)",
                        variants["all-entries"][i]),
                *([Mistake("bn.std-for-var", "it averages the standard deviation σ; the running variance averages "
                                             "σ² · N/(N − 1)", variants[std][1]) for std in ("std", "std-biased")]
                  if i else []),
                *([Mistake("bn.bessel-plus-one", "it corrects the variance by N/(N + 1); the unbiased variance is "
                                                 "σ² · N/(N − 1)", variants["plus-one"][1])] if i else [])])
        for name, array in zip(("running_mean", "running_var"), held):
            require(getattr(mine, name) is array, f"the right {name}, but in a new array: forward rebinds "
                    f"self.{name} = …; the stub asks for an update in place, self.{name}[...] = …, so that whoever "
                    "holds the array (a checkpoint being restored, buffers()' caller) sees the running average",
                    "bn.running-rebound")

    def inference() -> None:
        x, gamma, beta, g = batchnorm_case(5, rng)
        mine, theirs = pair(gamma, beta)
        for layer in (mine, theirs):
            layer.running_mean[...] = np.linspace(-1, 1, 6)
            layer.running_var[...] = np.linspace(0.5, 2, 6)
            layer.training = False
        batch = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPS) * gamma + beta
        mean, var = np.linspace(-1, 1, 6), np.linspace(0.5, 2, 6)
        y = mine.forward(x)
        require(np.array_equal(mine.running_mean, np.linspace(-1, 1, 6))
                and np.array_equal(mine.running_var, np.linspace(0.5, 2, 6)),
                "an inference forward changed the running averages: only training batches update them",
                "bn.inference-updates")
        expect(y, theirs.forward(x), "y in inference (training = False): the running averages", mistakes=[
            Mistake("bn.batch-stats-in-inference", "it uses the batch's statistics in inference; use running_mean "
                                                   "and running_var", batch),
            Mistake("bn.affine-missing", "it returns x̂: the scale and shift are missing, y = γ x̂ + β",
                    (x - mean) / np.sqrt(var + EPS)),
            Mistake("bn.eps-missing", "ε is missing: divide by √(σ²_run + ε)",
                    (x - mean) / np.sqrt(var) * gamma + beta),
            Mistake("bn.eps-outside-sqrt", "ε is added outside the square root: √(σ²_run + ε), not √σ²_run + ε",
                    (x - mean) / (np.sqrt(var) + EPS) * gamma + beta),
            Mistake("bn.no-sqrt", "it divides by σ²_run + ε: the square root is missing, √(σ²_run + ε)",
                    (x - mean) / (var + EPS) * gamma + beta)])
        x_hat = (x - np.linspace(-1, 1, 6)) / np.sqrt(np.linspace(0.5, 2, 6) + EPS)
        s = 1 / np.sqrt(np.linspace(0.5, 2, 6) + EPS)
        training_formula = gamma * s / 5 * (5 * g - g.sum(axis=0) - x_hat * (g * x_hat).sum(axis=0))
        expect(backward(mine.backward, g), theirs.backward(g), "∂L/∂x after an inference forward", mistakes=[
            Mistake("bn.training-backward-in-inference", "it applies the training formula after an inference "
                    "forward; there μ and σ² are constants, so ∂L/∂x = γ / √(σ²_run + ε) · G", training_formula),
            Mistake("bn.gamma-missing", "γ is missing: after an inference forward ∂L/∂x = γ / √(σ²_run + ε) · G",
                    s * g)])

    def follows_forward() -> None:
        x, gamma, beta, g = batchnorm_case(6, rng)
        mine, theirs = pair(gamma, beta)
        mine.forward(x)
        theirs.forward(x)
        mine.training = theirs.training = False             # switched after the forward
        expect(mine.backward(g), theirs.backward(g), "∂L/∂x of a training forward, with eval() called after it",
               mistakes=[Mistake("bn.mode-now", "backward used the mode the layer is in now, not the mode of its "
                                                "forward pass: record the mode in the cache",
                                 compact_mistakes(x, gamma, g)[3].value)])

    def second_forward() -> None:
        x1, gamma, beta, _ = batchnorm_case(7, rng)
        x2, _, _, g = batchnorm_case(3, rng)
        mine, theirs = pair(gamma, beta)
        for x in (x1, x2):
            mine.forward(x)
            theirs.forward(x)
        with after_two_forwards(mine, 7, 3):
            dx = backward(mine.backward, g, mine)
            want_dx = theirs.backward(g)
            expect(mine.gamma.grad, theirs.gamma.grad, f"∂L/∂γ {AFTER_TWO}")
            expect(dx, want_dx, f"∂L/∂x {AFTER_TWO}")

    def dtypes() -> None:
        for dtype in (np.float64, np.float32):
            x, gamma, beta, g = batchnorm_case(5, rng)
            for training in (True, False):
                mine = pair(gamma, beta, dtype)[0]
                mine.training = training
                keeps_dtype(mine, x.astype(dtype), g)

    def finite_differences() -> None:
        for n in (3, 7):
            x, gamma, beta, _ = batchnorm_case(n, rng)
            gradcheck(pair(gamma, beta)[0], x, rng)

    checks.run_in_order(("training: forward and backward against glassnet", training),
                        (SECOND_FORWARD, second_forward), ("running averages", running), ("inference mode", inference),
                        ("backward follows the mode of its forward", follows_forward), (DTYPES, dtypes),
                        ("backward against finite differences", finite_differences))


def _mean(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=0)


def _unbiased(x: np.ndarray) -> np.ndarray:
    return x.var(axis=0, ddof=1)


def _running(batches: list[np.ndarray], mean: Callable[[np.ndarray], np.ndarray],
             var: Callable[[np.ndarray], np.ndarray], momentum: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The running mean and variance after ``batches``, from these statistics of each batch."""
    running_mean, running_var = np.zeros(6), np.ones(6)
    for x in batches:
        running_mean = (1 - momentum) * running_mean + momentum * mean(x)
        running_var = (1 - momentum) * running_var + momentum * var(x)
    return running_mean, running_var


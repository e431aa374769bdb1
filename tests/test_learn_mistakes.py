"""Every planted mistake is caught and named as itself, and no rule that names a cause fires on another one.

Each case plants one mistake into the docs' solution of one exercise and names the cause the checker
must report (a key of ``glassnet.learn.causes.MISTAKES``). Since every case requires its own cause,
a rule that fired on a neighbouring mistake would fail that neighbour's case; the last tests require
that every rule has a case, and that each is tried against at least two other causes in its exercise.
"""

from collections import Counter, defaultdict

import numpy as np
import pytest

from glassnet.learn import check
from glassnet.learn.causes import MISTAKES
from glassnet.learn.checks import Failed, expect, over_batches
from tests.learn_helpers import solved_workbook

# (exercise, the edits of the solution: (old, new) or a list of them, the cause to be named[, text the message holds])
PLANTED = [
    # 0. scalar_graph
    ("scalar_graph", ("df_dv = 2 * v", "df_dv = v"), "scalar.missing-2"),
    ("scalar_graph", ("df_dv = 2 * v", "df_dv = v * v"), "scalar.value-not-derivative"),
    ("scalar_graph", ("df_dv = 2 * v", "df_dv = -2 * v"), "sign"),
    ("scalar_graph", ("df_da = df_du * b", "df_da = df_du * a"), "scalar.other-factor"),
    ("scalar_graph", ("df_da = df_du * b", "df_da = b"), "scalar.local-only"),
    ("scalar_graph", ("df_du = df_dv * 1.0", "df_du = 1.0"), "scalar.local-only"),
    ("scalar_graph", ("df_db = df_du * a", "df_db = df_du"), "scalar.local-missing"),
    ("scalar_graph", ("df_db = df_du * a", "df_db = df_du * a * b"), "local-derivative"),
    ("scalar_graph", ('return {"u": u, "v": v, "f": v * v}', 'return {"u": u, "v": v, "f": 2 * v}'), "scalar.forward"),
    ("scalar_graph", ("    v = u + c\n", "    v = u * c\n"), "scalar.forward"),
    ("scalar_graph", (', "u": df_du, "v": df_dv}', ', "u": df_du}'), "returned-none"),
    # 1. linear
    ("linear", ("return z if self.bias is None else z + self.bias.value", "return z"), "linear.bias-missing"),
    ("linear", ("return z if self.bias is None else z + self.bias.value",
                "return z if self.bias is None else z - self.bias.value"), "linear.bias-sign"),
    ("linear", ("self.weight.grad = self.x.T @ grad_out", "self.weight.grad = grad_out.T @ self.x"), "transposed"),
    ("linear", ("self.weight.grad = self.x.T @ grad_out", "self.weight.grad += self.x.T @ grad_out"), "accumulated"),
    ("linear", ("self.weight.grad = self.x.T @ grad_out", "self.weight.grad = self.x.T @ grad_out / len(grad_out)"),
     "factor-1/n"),
    ("linear", ("self.weight.grad = self.x.T @ grad_out", "self.weight.value[...] = self.x.T @ grad_out"),
     "wrote-value"),
    ("linear", ("self.bias.grad = grad_out.sum(axis=0)", "self.bias.grad = grad_out.mean(axis=0)"), "factor-1/n"),
    ("linear", ("self.bias.grad = grad_out.sum(axis=0)", "self.bias.grad = grad_out.sum(axis=1)"), "wrong-axis"),
    ("linear", ("self.bias.grad = grad_out.sum(axis=0)", "self.bias.grad = grad_out.sum()"), "summed-every-axis"),
    ("linear", ("self.bias.grad = grad_out.sum(axis=0)", "self.bias.grad = grad_out.sum(axis=0, keepdims=True)"),
     "shape"),
    ("linear", ("return grad_out @ self.weight.value.T", "return grad_out @ self.weight.T"), "param-not-array"),
    ("linear", ("return grad_out @ self.weight.value.T", "return self.weight.value @ grad_out.T"), "transposed"),
    ("linear", ("return grad_out @ self.weight.value.T", "return -grad_out @ self.weight.value.T"), "sign"),
    ("linear", ("return grad_out @ self.weight.value.T", "return grad_out @ self.weight.value"), "matmul-shapes"),
    ("linear", ("return grad_out @ self.weight.value.T", "return grad_out @ self.weight.grad.T"),
     "linear.grad-for-weight"),
    ("linear", ("if self.bias is not None:\n            self.bias.grad", "if True:\n            self.bias.grad"),
     "none-value"),
    ("linear", ("        self.x = x\n", ""), "none-value"),
    ("linear", ("            self.bias.grad = grad_out.sum(axis=0)", "            pass"), "grad-not-assigned"),
    ("linear", ("return grad_out @ self.weight.value.T", "return grad_out @ self.weight.value.T, self.weight.grad"),
     "returned-tuple"),
    ("linear", ("self.weight.grad = self.x.T @ grad_out", "self.weight.grad = self.x @ grad_out"), "matmul-shapes"),
    ("linear", [("        self.x = x\n", ""),
                ("return z if self.bias is None else z + self.bias.value",
                 "self.x = z if self.bias is None else z + self.bias.value\n        return self.x")],
     "linear.cached-output"),
    # (from the planted-mistake report of #27: mistakes named as another, or passed, before)
    ("linear", ("return z if self.bias is None else z + self.bias.value",
                "return (z if self.bias is None else z + self.bias.value).astype(np.float32)"), "downcasts",
     "in a float64 run (its floating-point inputs float64), the output is float32"),
    ("linear", ("        self.x = x\n", "        self.x = x.astype(np.float32)\n"), "downcasts",
     "self.x, which forward keeps, is float32"),
    ("linear", ("z + self.bias.value\n", "z + self.bias.value.astype(np.float64)\n"), "upcasts",
     "in a float32 run (its floating-point inputs float32), the output is float64"),
    ("linear", ("        self.x = x\n", "        if self.x is None:\n            self.x = x\n"), "stale-cache",
     "self.x still has the first batch's 7 rows"),
    ("linear", ("        if self.bias is not None:\n",
                "        self.weight.grad = self.weight.grad + self.x.T @ grad_out\n"
                "        if self.bias is not None:\n"),
     "constant-factor", "∂L/∂W at batch 3 is exactly 2 times the right value"),
    ("linear", ("z + self.bias.value\n", "z + self.bias.value[:, None]\n"), "broadcast-shapes",
     "z (3, 4) + self.bias.value[:, None] (4, 1)"),
    # 2. relu
    ("relu", ("self.active = x > 0", "self.active = x >= 0"), "relu.at-zero"),
    ("relu", ("return np.maximum(x, 0)", "x[~self.active] = 0\n        return x"), "changed-input"),
    ("relu", ("return np.where(self.active, grad_out, 0)", "grad_out[~self.active] = 0\n        return grad_out"),
     "changed-grad-out"),
    ("relu", ("return np.where(self.active, grad_out, 0)", "return np.maximum(grad_out, 0)"), "relu.mask-of-g"),
    ("relu", ("return np.where(self.active, grad_out, 0)", "return np.where(self.active, 0, grad_out)"),
     "relu.inverted-mask"),
    ("relu", ("self.active = x > 0", "self.active = x < 0"), "relu.inverted-mask"),
    ("relu", ("return np.where(self.active, grad_out, 0)", "return self.active * 1.0"), "relu.mask-only"),
    ("relu", ("return np.where(self.active, grad_out, 0)", "return grad_out.copy()"), "relu.no-mask"),
    ("relu", [("self.active = x > 0", "self.active = np.maximum(x, 0)"), ("return np.maximum(x, 0)",
                                                                         "return self.active.copy()"),
              ("return np.where(self.active, grad_out, 0)", "return grad_out * self.active")], "relu.times-output"),
    ("relu", ("return np.maximum(x, 0)", "return np.abs(x)"), "relu.abs"),
    ("relu", ("return np.maximum(x, 0)", "return x.copy()"), "relu.keeps-negatives"),
    ("relu", ("return np.maximum(x, 0)", "return np.minimum(x, 0)"), "relu.min"),
    ("relu", ("        self.active = x > 0\n", "        if self.active is None:\n            self.active = x > 0\n"),
     "stale-cache", "self.active still has the first batch's 7 rows"),
    ("relu", ("return np.maximum(x, 0)", "return np.maximum(x, np.zeros(x.shape))"), "upcasts"),
    # 3. softmax cross-entropy
    ("softmax_cross_entropy", ("return float(loss), grad / n", "return float(loss), grad"), "factor-n"),
    ("softmax_cross_entropy", ("return float(loss), grad / n", "return float(loss), -grad / n"), "sign"),
    ("softmax_cross_entropy", ("return float(loss), grad / n", "return grad / n, float(loss)"), "softmax.swapped"),
    ("softmax_cross_entropy", ("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits"),
     "softmax.no-shift"),
    ("softmax_cross_entropy", ("logits.max(axis=1, keepdims=True)", "logits.max()"), "softmax.batch-max"),
    ("softmax_cross_entropy", ("logits.max(axis=1, keepdims=True)", "logits.max(axis=0, keepdims=True)"),
     "softmax.column-max"),
    ("softmax_cross_entropy", ("logits.max(axis=1, keepdims=True)", "logits.max(axis=1)"), "keepdims"),
    ("softmax_cross_entropy", ("loss = -log_p[rows, labels].mean()", "loss = -log_p[rows, labels].sum()"),
     "softmax.loss-sum"),
    ("softmax_cross_entropy", ("loss = -log_p[rows, labels].mean()",
                               "loss = -(log_p * (np.arange(log_p.shape[1]) == labels[:, None])).mean()"),
     "softmax.loss-mean-over-classes"),
    ("softmax_cross_entropy", ("loss = -log_p[rows, labels].mean()",
                               "loss = -np.log(np.exp(log_p[rows, labels]) + 1e-7).mean()"), "softmax.log-p-eps"),
    ("softmax_cross_entropy", ("return float(loss), grad / n", "return -log_p[rows, labels], grad / n"),
     "softmax.per-sample-loss"),
    ("softmax_cross_entropy", ("grad[rows, labels] -= 1.0", "grad[:, labels] -= 1.0"), "softmax.column-index"),
    ("softmax_cross_entropy", ("grad[rows, labels] -= 1.0", "grad[labels] -= 1.0"), "softmax.row-index"),
    ("softmax_cross_entropy", ("loss = -log_p[rows, labels].mean()",
                               "loss = -np.log(np.exp(log_p)[rows, labels]).mean()"), "softmax.log-of-softmax"),
    ("softmax_cross_entropy", ("grad[rows, labels] -= 1.0 ", "pass "), "softmax.no-one-hot"),
    ("softmax_cross_entropy", [("grad = np.exp(log_p) ", "grad = np.exp(log_p) / n "),
                               ("return float(loss), grad / n", "return float(loss), grad")],
     "softmax.subtract-after-divide"),
    ("softmax_cross_entropy", ("log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                               "log_p = shifted"), "softmax.no-log-sum-exp"),
    ("softmax_cross_entropy", ("np.exp(shifted).sum(axis=1, keepdims=True)", "np.exp(shifted).sum()"),
     "softmax.sum-over-everything"),
    ("softmax_cross_entropy", [("    loss = -log_p[rows, labels].mean()\n", ""),
                               ("    grad[rows, labels] -= 1.0 ", "    grad[rows, labels] -= 1.0\n"
                                "    loss = -np.log(grad[rows, labels]).mean() ")], "softmax.aliased"),
    ("softmax_cross_entropy", ("np.exp(shifted).sum(axis=1, keepdims=True)",
                               "np.exp(shifted).sum(axis=0, keepdims=True)"),
     "softmax.wrong-axis"),
    ("softmax_cross_entropy", ("shifted = logits - logits.max(axis=1, keepdims=True)",
                               "logits -= logits.max(axis=1, keepdims=True)\n    shifted = logits"), "changed-input"),
    ("softmax_cross_entropy", ("loss = -log_p[rows, labels].mean()", "loss = -(log_p * labels).sum(axis=1).mean()"),
     "softmax.labels-as-one-hot", "log_p (2, 10) * labels (2,)"),
    ("softmax_cross_entropy", ("shifted = logits - logits.max(axis=1, keepdims=True)",
                               "row_max = logits.max(axis=1)\n    shifted = logits - row_max"), "broadcast-shapes",
     "if it is one value per row, it needs shape (2, 1)"),
    ("softmax_cross_entropy", ("loss = -log_p[rows, labels].mean()", "loss = -log_p[rows, labels].mean() / n"),
     "factor-1/n", "too small by a factor of N = 2 (the batch size; 3 at batch 3 too)"),
    ("softmax_cross_entropy", ("loss = -log_p[rows, labels].mean()", "loss = -log_p[:, labels].mean()"),
     "softmax.column-index"),
    ("softmax_cross_entropy", ("grad = np.exp(log_p) ", "grad = np.exp(shifted) "), "softmax.unnormalized"),
    ("softmax_cross_entropy", ("grad = np.exp(log_p) ", "grad = log_p.copy() "), "softmax.log-p-for-p"),
    ("softmax_cross_entropy", ("grad[rows, labels] -= 1.0", "grad[rows, logits.argmax(axis=1)] -= 1.0"),
     "softmax.argmax-for-label"),
    ("softmax_cross_entropy", ("logits.max(axis=1, keepdims=True)", "logits.min(axis=1, keepdims=True)"),
     "softmax.min-shift"),
    ("softmax_cross_entropy", ("return float(loss), grad / n", "return float(loss), (grad / n).astype(np.float32)"),
     "downcasts", "∂L/∂logits is float32"),
    ("softmax_cross_entropy", ("return float(loss), grad / n", "return float(loss), (grad / n).astype(np.float64)"),
     "upcasts", "∂L/∂logits is float64"),
    # 4. dropout
    ("dropout", ("self.mask = keep / (1.0 - self.p)", "self.mask = keep * 1.0"), "dropout.not-rescaled"),
    ("dropout", ("self.mask = keep / (1.0 - self.p)", "self.mask = keep * (1.0 - self.p)"), "dropout.times-keep"),
    ("dropout", ("self.mask = keep / (1.0 - self.p)", "self.mask = keep / self.p"), "dropout.divides-by-p"),
    ("dropout", ("self.mask = keep / (1.0 - self.p)", "self.mask = keep / (1.0 + self.p)"), "constant-factor"),
    ("dropout", ("keep = self.rng.random(x.shape) >= self.p", "keep = self.rng.random(x.shape) < self.p"),
     "dropout.p-is-keep"),
    ("dropout", ("keep = self.rng.random(x.shape) >= self.p", "keep = np.random.random(x.shape) >= self.p"),
     "dropout.global-rng"),
    ("dropout", ("keep = self.rng.random(x.shape) >= self.p", "keep = self.rng.random(x.shape[1:]) >= self.p"),
     "dropout.one-mask-per-column"),
    ("dropout", ("else grad_out * self.mask",
                 "else grad_out * (self.rng.random(grad_out.shape) >= self.p) / (1.0 - self.p)"), "dropout.new-mask"),
    ("dropout", ("else grad_out * self.mask", "else grad_out"), "dropout.backward-no-mask"),
    ("dropout", ("else grad_out * self.mask", "else grad_out * (self.mask > 0)"), "dropout.backward-unscaled"),
    ("dropout", ("if not self.training or self.p == 0.0:", "if self.p == 0.0:"), "dropout.inference-drops"),
    ("dropout", ("self.mask = None\n            return x\n",
                 "self.mask = None\n            return x * (1.0 - self.p)\n"),
     "dropout.inference-scaled"),
    ("dropout", ("self.mask = None\n            return x\n", "return x\n"), "dropout.stale-mask"),
    ("dropout", ("return x * self.mask", "x *= self.mask\n        return x"), "changed-input"),
    ("dropout", ("self.mask = self.mask.astype(x.dtype)", "pass"), "dropout.upcasts"),
    ("dropout", ("return grad_out.copy() if self.mask is None else grad_out * self.mask",
                 "return grad_out * self.mask"), "none-value"),
    ("dropout", ("keep = self.rng.random(x.shape) >= self.p\n        self.mask = keep / (1.0 - self.p)",
                 "if self.mask is None or self.mask.shape != x.shape:\n            keep = self.rng.random(x.shape) "
                 ">= self.p\n            self.mask = keep / (1.0 - self.p)"), "dropout.same-mask"),
    ("dropout", ("self.mask = keep / (1.0 - self.p)", "self.mask = (keep / (1.0 - self.p)).astype(np.float32)"),
     "downcasts", "1/(1 − p) = 1.4285714285714286 rounded to float32"),
    ("dropout", ("else grad_out * self.mask", "else grad_out / self.mask"), "dropout.backward-divides"),
    # 5. batchnorm_graph
    ("batchnorm_graph", ('"gamma": (grad_out * x_hat).sum(axis=0)}', '"gamma": grad_out.sum(axis=0)}'),
     "bn.dgamma-no-xhat"),
    ("batchnorm_graph", ('"gamma": (grad_out * x_hat).sum(axis=0)}', '"gamma": (grad_out * x).sum(axis=0)}'),
     "bn.dgamma-x"),
    ("batchnorm_graph", ('d["x_hat"] = gamma * grad_out', 'd["x_hat"] = grad_out'), "bn.gamma-missing"),
    ("batchnorm_graph", ('(d["x_hat"] * centred).sum(axis=0)', '(d["x_hat"] * x_hat).sum(axis=0)'),
     "bn.dinv-std-x-hat"),
    ("batchnorm_graph", ("* -0.5 * (var + eps) ** -1.5", "* (var + eps) ** -1.5"), "bn.power-rule"),
    ("batchnorm_graph", ("* -0.5 * (var + eps) ** -1.5", "* -0.5 * (var + eps) ** -0.5"), "bn.var-exponent"),
    ("batchnorm_graph", ("* -0.5 * (var + eps) ** -1.5", "* -1.5 * (var + eps) ** -1.5"), "constant-factor"),
    ("batchnorm_graph", (' + d["var"] * 2 * centred / n', ""), "bn.var-path-missing"),
    ("batchnorm_graph", (' + d["var"] * 2 * centred / n', ' + d["var"] * 2 * centred'), "bn.var-path-no-n"),
    ("batchnorm_graph", ('d["x"] = d["centred"] + d["mu"] / n', 'd["x"] = d["centred"]'), "bn.mu-path-missing"),
    ("batchnorm_graph", ('d["x"] = d["centred"] + d["mu"] / n', 'd["x"] = d["centred"] + d["mu"]'),
     "bn.mu-path-no-n"),
    ("batchnorm_graph", ('d["mu"] = -d["centred"].sum(axis=0)', 'd["mu"] = d["centred"].sum(axis=0)'), "sign"),
    ("batchnorm_graph", ('d["mu"] = -d["centred"].sum(axis=0)', 'd["mu"] = -d["centred"].mean(axis=0)'),
     "factor-1/n"),
    ("batchnorm_graph", ('"beta": grad_out.sum(axis=0)', '"beta": grad_out.sum(axis=1)'), "wrong-axis"),
    ("batchnorm_graph", ('d["inv_std"] = (d["x_hat"] * centred).sum(axis=0)',
                         'd["inv_std"] = (d["x_hat"] * centred).sum(axis=0) + var'), "local-derivative"),
    ("batchnorm_graph", ("* -0.5 * (var + eps) ** -1.5", "* -(var + eps) ** -1.5"), "constant-factor",
     "∂L/∂var is exactly 2 times the right value"),
    ("batchnorm_graph", ("* -0.5 * (var + eps) ** -1.5", "* -0.5 * var ** -1.5"), "bn.eps-missing"),
    ("batchnorm_graph", ("* -0.5 * (var + eps) ** -1.5", "* -0.5 * inv_std ** 2"), "bn.var-exponent"),
    ("batchnorm_graph", ('(d["x_hat"] * centred).sum(axis=0)', '(d["x_hat"] * x).sum(axis=0)'), "bn.dinv-std-x"),
    ("batchnorm_graph", (' + d["var"] * 2 * centred / n', ' + d["var"] * 2 * x / n'), "bn.var-path-x"),
    ("batchnorm_graph", ('d["x"] = d["centred"] + d["mu"] / n', 'd["x"] = d["centred"] - d["mu"] / n'),
     "bn.mu-path-sign"),
    # 6. batchnorm
    ("batchnorm", ("x.mean(axis=0), x.var(axis=0)", "x.mean(axis=0), x.var(axis=0, ddof=1)"),
     "bn.unbiased-in-training"),
    ("batchnorm", ("x.mean(axis=0), x.var(axis=0)", "x.mean(axis=0), x.std(axis=0)"), "bn.std-for-var"),
    ("batchnorm", ("x.mean(axis=0), x.var(axis=0)", "x.mean(), x.var()"), "bn.all-entries"),
    ("batchnorm", ("inv_std = 1.0 / np.sqrt(var + self.eps)", "inv_std = 1.0 / (np.sqrt(var) + self.eps)"),
     "bn.eps-outside-sqrt"),
    ("batchnorm", ("inv_std = 1.0 / np.sqrt(var + self.eps)", "inv_std = 1.0 / np.sqrt(var)"), "bn.eps-missing"),
    ("batchnorm", ("return self.gamma.value * x_hat + self.beta.value",
                   "return self.gamma.value * x + self.beta.value"),
     "bn.not-normalized"),
    ("batchnorm", ("if self.training:", "if False:"), "bn.running-in-training"),
    ("batchnorm", ("m * var * n / (n - 1)", "m * var"), "bn.running-biased"),
    ("batchnorm", [("x.mean(axis=0), x.var(axis=0)", "x.mean(axis=0), x.var(axis=0, ddof=1)"),
                   ("inv_std = 1.0 / np.sqrt(var + self.eps)",
                    "inv_std = 1.0 / np.sqrt((var * (n - 1) / n if self.training else var) + self.eps)")],
     "bn.unbiased-twice"),
    ("batchnorm", ("return self.gamma.value * x_hat + self.beta.value", "return x_hat"), "bn.affine-missing"),
    ("batchnorm", ("(1 - m) * self.running_mean + m * mean", "mean"), "bn.running-is-batch"),
    ("batchnorm", ("x.mean(axis=0), x.var(axis=0)", "x.mean(axis=1), x.var(axis=1)"), "broadcast-shapes"),
    ("batchnorm", ("(1 - m) * self.running_mean + m * mean", "m * self.running_mean + (1 - m) * mean"),
     "bn.momentum-swapped"),
    ("batchnorm", ("            self.running_mean[...] = (1 - m) * self.running_mean + m * mean\n", ""),
     "bn.running-not-updated"),
    ("batchnorm", ("self.gamma.grad = (grad_out * x_hat).sum(axis=0)", "self.gamma.grad = grad_out.sum(axis=0)"),
     "bn.dgamma-no-xhat"),
    ("batchnorm", ("self.gamma.grad = (grad_out * x_hat).sum(axis=0)",
                   "self.gamma.grad = (grad_out * x_hat).sum(axis=1)"),
     "wrong-axis"),
    ("batchnorm", ("self.beta.grad = grad_out.sum(axis=0)", "self.beta.grad += grad_out.sum(axis=0)"), "accumulated"),
    ("batchnorm", ("self.gamma.grad = (grad_out * x_hat).sum(axis=0)", "dgamma = (grad_out * x_hat).sum(axis=0)"),
     "grad-not-assigned"),
    ("batchnorm", ("(n * grad_out - self.beta.grad - x_hat * self.gamma.grad)", "(n * grad_out - self.beta.grad)"),
     "bn.xhat-term-missing"),
    ("batchnorm", ("(n * grad_out - self.beta.grad - x_hat * self.gamma.grad)",
                   "(n * grad_out - x_hat * self.gamma.grad)"), "bn.sum-term-missing"),
    ("batchnorm", ("(n * grad_out - self.beta.grad - x_hat * self.gamma.grad)",
                   "(n * grad_out + self.beta.grad - x_hat * self.gamma.grad)"), "bn.term-sign"),
    ("batchnorm", ("return self.gamma.value * inv_std / n * (", "return inv_std / n * ("), "bn.gamma-missing"),
    ("batchnorm", ("n = len(grad_out)", "n = len(grad_out) - 1"), "bn.n-minus-1"),
    ("batchnorm", ("(n * grad_out - self.beta.grad - x_hat * self.gamma.grad)",
                   "(grad_out - self.beta.grad - x_hat * self.gamma.grad)"), "bn.n-times-g-missing"),
    ("batchnorm", ("return self.gamma.value * x_hat + self.beta.value",
                   "return self.gamma.value * (x_hat + self.beta.value)"), "bn.beta-scaled"),
    ("batchnorm", ("mean, var = self.running_mean, self.running_var",
                   "mean, var = self.running_mean, self.running_var - self.eps"), "bn.eps-missing"),
    ("batchnorm", ("if not training:", "if True:"), "bn.stats-as-constants"),
    ("batchnorm", ("if not training:", "if False:"), "bn.training-backward-in-inference"),
    ("batchnorm", ("training, x_hat, inv_std = self.cache",
                   "_, x_hat, inv_std = self.cache\n        training = self.training"), "bn.mode-now"),
    ("batchnorm", ("if self.training:", "if True:"), "bn.inference-updates"),
    ("batchnorm", ("mean, var = self.running_mean, self.running_var", "mean, var = x.mean(axis=0), x.var(axis=0)"),
     "bn.batch-stats-in-inference"),
    ("batchnorm", ("        self.cache = (self.training, x_hat, inv_std)\n",
                   "        if self.cache is None:\n            self.cache = (self.training, x_hat, inv_std)\n"),
     "stale-cache", "self.cache[1] still has the first batch's 7 rows"),
    ("batchnorm", ("        self.cache = (self.training, x_hat, inv_std)\n",
                   "        if self.training:\n            self.cache = (self.training, x_hat, inv_std)\n"),
     "none-value", "a cache that forward did not set"),
    ("batchnorm", ("x.mean(axis=0), x.var(axis=0)",
                   "x.mean(axis=0, dtype=np.float64), x.var(axis=0, dtype=np.float64)"), "upcasts"),
    ("batchnorm", [("self.running_mean[...] =", "self.running_mean ="),
                   ("self.running_var[...] =", "self.running_var =")], "bn.running-rebound"),
    ("batchnorm", ("m * var * n / (n - 1)", "m * np.sqrt(var * n / (n - 1))"), "bn.std-for-var"),
    ("batchnorm", ("(1 - m) * self.running_mean + m * mean", "(1 - m) * self.running_mean + m * x.mean()"),
     "bn.all-entries"),
    ("batchnorm", ("m * var * n / (n - 1)", "m * var * n / (n + 1)"), "bn.bessel-plus-one"),
    ("batchnorm", ("inv_std = 1.0 / np.sqrt(var + self.eps)",
                   "inv_std = 1.0 / np.sqrt(var + self.eps) if self.training else 1.0 / (var + self.eps)"),
     "bn.no-sqrt"),
    ("batchnorm", ("return self.gamma.value * inv_std * grad_out", "return inv_std * grad_out"), "bn.gamma-missing"),
    ("batchnorm", ("self.cache = (self.training, x_hat, inv_std)",
                   "self.cache = (self.training, x_hat, 1.0 / np.sqrt(var))"), "bn.eps-missing"),
    ("batchnorm", ("m * var * n / (n - 1)\n",
                   "m * var * n / (n - 1)\n            mean, var = self.running_mean, self.running_var\n"),
     "bn.running-in-training"),
    # 7. adam
    ("adam", ("m_hat = m / (1 - beta1 ** self.t)", "m_hat = m"), "adam.no-m-correction"),
    ("adam", ("v_hat = v / (1 - beta2 ** self.t)", "v_hat = v"), "adam.no-v-correction"),
    ("adam", [("m_hat = m / (1 - beta1 ** self.t)", "m_hat = m"), ("v_hat = v / (1 - beta2 ** self.t)", "v_hat = v")],
     "adam.no-correction"),
    ("adam", [("(1 - beta1 ** self.t)", "(1 - beta1) ** self.t"), ("(1 - beta2 ** self.t)", "(1 - beta2) ** self.t")],
     "adam.correction-power"),
    ("adam", ("(1 - beta2) * p.grad ** 2", "(1 - beta2) * p.grad"), "adam.v-of-g"),
    ("adam", ("        self.t += 1\n", ""), "adam.t-never-incremented"),
    ("adam", [("        self.t += 1\n", ""), ("(np.sqrt(v_hat) + self.eps)\n",
                                             "(np.sqrt(v_hat) + self.eps)\n        self.t += 1\n")], "adam.t-late"),
    ("adam", [("        self.t += 1\n", ""), ("            m[...] =", "            self.t += 1\n            m[...] =")],
     "adam.t-wrong"),
    ("adam", [("m[...] = beta1 * m", "m = beta1 * m"), ("v[...] = beta2 * v", "v = beta2 * v")],
     "adam.state-not-stored"),
    ("adam", ("m[...] = beta1 * m + (1 - beta1) * p.grad", "m[...] = (1 - beta1) * m + beta1 * p.grad"),
     "adam.beta-swapped"),
    ("adam", ("m[...] = beta1 * m + (1 - beta1) * p.grad", "m[...] = beta2 * m + (1 - beta2) * p.grad"),
     "adam.betas-mixed"),
    ("adam", ("(np.sqrt(v_hat) + self.eps)", "np.sqrt(v_hat + self.eps)"), "adam.eps-inside-sqrt"),
    ("adam", ("(np.sqrt(v_hat) + self.eps)", "(v_hat + self.eps)"), "adam.no-sqrt"),
    ("adam", ("self.lr * m_hat / (np.sqrt(v_hat) + self.eps)", "self.lr * m_hat / np.sqrt(v_hat) + self.eps"),
     "adam.eps-on-step"),
    ("adam", [("m_hat = m / (1 - beta1 ** self.t)", "m /= 1 - beta1 ** self.t\n            m_hat = m"),
              ("v_hat = v / (1 - beta2 ** self.t)", "v /= 1 - beta2 ** self.t\n            v_hat = v")],
     "adam.corrected-in-place"),
    ("adam", ("p.value -= ", "p.value += "), "adam.ascent"),
    ("adam", [("beta1 ** self.t", "beta1 ** (self.t + 1)"), ("beta2 ** self.t", "beta2 ** (self.t + 1)")],
     "adam.t-ahead"),
    ("adam", ("(np.sqrt(v_hat) + self.eps)", "np.sqrt(v_hat)"), "adam.no-eps"),
    ("adam", ("self.lr * m_hat /", "self.lr * p.grad /"), "adam.uses-g"),
    ("adam", ("self.lr * m_hat /", "m_hat /"), "adam.no-lr"),
    ("adam", ("p.value -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)",
              "p.value -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)\n            return"), "adam.stops-early",
     "the return at line"),
    ("adam", ("m[...] = beta1 * m + (1 - beta1) * p.grad", "m[...] = beta1 * m + p.grad"), "adam.moment-unscaled",
     "m[0] after the second step"),
    ("adam", ("(1 - beta2) * p.grad ** 2", "p.grad ** 2"), "adam.moment-unscaled", "v[0] after the second step"),
    ("adam", ("m_hat = m / (1 - beta1 ** self.t)", "m[...] = m / (1 - beta1 ** self.t)\n            m_hat = m"),
     "adam.corrected-in-place", "m[0] after the second step"),
    ("adam", [("(1 - beta1 ** self.t)", "(1 - beta1 * self.t)"), ("(1 - beta2 ** self.t)", "(1 - beta2 * self.t)")],
     "adam.correction-times-t"),
    ("adam", ("v / (1 - beta2 ** self.t)", "v / (1 - beta1 ** self.t)"), "adam.correction-betas-mixed"),
    ("adam", ("m / (1 - beta1 ** self.t)", "m / (1 - beta2 ** self.t)"), "adam.correction-betas-mixed",
     "p0 after steps 1 and 2"),
    ("adam", ("(1 - beta2) * p.grad ** 2", "(1 - beta2) * np.abs(p.grad)"), "adam.v-of-abs-g"),
    ("adam", ("zip(self.params, self.m, self.v)", "zip(self.params, self.v, self.m)"), "adam.m-v-swapped"),
    ("adam", [("            m_hat = m / (1 - beta1 ** self.t)\n            v_hat = v / (1 - beta2 ** self.t)\n", ""),
              ("            m[...] =", "            m_hat = m / (1 - beta1 ** self.t)\n"
                                     "            v_hat = v / (1 - beta2 ** self.t)\n            m[...] =")],
     "adam.corrected-before-update"),
    ("adam", ("p.value -= self.lr", "p.value = p.value - self.lr"), "adam.value-rebound"),
    # 8. init
    ("init", ("np.sqrt(2.0 / fan_in)", "np.sqrt(1.0 / fan_in)"), "init.lecun"),
    ("init", ("np.sqrt(2.0 / fan_in)", "np.sqrt(2.0 / fan_out)"), "init.fan-out"),
    ("init", ("np.sqrt(2.0 / fan_in)", "(2.0 / fan_in)"), "init.variance-as-std"),
    ("init", ("np.sqrt(2.0 / fan_in)", "np.sqrt(2.0 / (fan_in + fan_out))"), "init.glorot"),
    ("init", ("np.sqrt(2.0 / fan_in)", "np.sqrt(2.0) / fan_in"), "init.sqrt-of-2-only"),
    ("init", ("rng.standard_normal((fan_in, fan_out))", "rng.standard_normal((fan_out, fan_in))"),
     "init.shape-transposed"),
    ("init", ("rng.standard_normal((fan_in, fan_out))", "rng.standard_normal((fan_out, fan_in)).T"),
     "init.drawn-transposed"),
    ("init", ("rng.standard_normal((fan_in, fan_out))", "np.random.standard_normal((fan_in, fan_out))"),
     "init.global-rng"),
    ("init", ("rng.standard_normal((fan_in, fan_out))", "rng.uniform(-np.sqrt(3), np.sqrt(3), (fan_in, fan_out))"),
     "init.uniform"),
    ("init", (".astype(dtype)", ""), "init.dtype"),
    ("init", ("np.sqrt(2.0 / fan_in)", "np.sqrt(4.0 / fan_in)"), "constant-factor"),
    ("init", ("rng.standard_normal((fan_in, fan_out))", "np.clip(rng.standard_normal((fan_in, fan_out)), -2, 2)"),
     "init.clipped", "2 × √(2/fan_in)"),
    # 9. network
    ("network", ('d["probs"][rows, labels] = -1.0 / (n * v["probs"][rows, labels])',
                 'd["probs"] = -1.0 / (n * v["probs"])'), "net.dprobs-every-entry"),
    ("network", ('d["probs"][rows, labels] = -1.0 / (n * v["probs"][rows, labels])',
                 'd["probs"][rows, labels] = -1.0 / v["probs"][rows, labels]'), "factor-n"),
    ("network", ('d["W3"] = v["drop2"].T @ d["logits"]', 'd["W3"] = v["relu2"].T @ d["logits"]'),
     "net.input-before-dropout"),
    ("network", ('d["W3"] = v["drop2"].T @ d["logits"]', 'd["W3"] = d["logits"].T @ v["drop2"]'), "transposed"),
    ("network", ('d["b3"] = d["logits"].sum(axis=0)', 'd["b3"] = d["logits"].mean(axis=0)'), "factor-1/n"),
    ("network", ('d["drop2"] = d["logits"] @ params["W3"].T', 'd["drop2"] = d["logits"] @ params["W3"]'),
     "matmul-shapes"),
    ("network", ('d[f"drop{k}"] * masks[f"mask{k}"]', 'd[f"drop{k}"] * 1.0'), "dropout.backward-no-mask"),
    ("network", ('d[f"drop{k}"] * masks[f"mask{k}"]', 'd[f"drop{k}"] * (masks[f"mask{k}"] > 0)'),
     "dropout.backward-unscaled"),
    ("network", ('np.where(v[f"bn{k}"] > 0, d[f"relu{k}"], 0.0)', 'np.where(v[f"bn{k}"] > 0, 0.0, d[f"relu{k}"])'),
     "relu.inverted-mask"),
    ("network", ('np.where(v[f"bn{k}"] > 0, d[f"relu{k}"], 0.0)', 'd[f"relu{k}"] * v[f"relu{k}"]'),
     "relu.times-output"),
    ("network", ('np.where(v[f"bn{k}"] > 0, d[f"relu{k}"], 0.0)', 'd[f"relu{k}"].copy()'), "relu.no-mask"),
    ("network", ('* -0.5 * v[f"inv_std{k}"] ** 3', '* -0.5 * v[f"inv_std{k}"]'), "bn.var-exponent"),
    ("network", ('d[f"h{k}"] = d[f"centred{k}"] + d[f"mu{k}"] / n', 'd[f"h{k}"] = d[f"centred{k}"]'),
     "bn.mu-path-missing"),
    ("network", ('d[f"x_hat{k}"] = params[f"gamma{k}"] * g', 'd[f"x_hat{k}"] = g'), "bn.gamma-missing"),
    ("network", ('d[f"mu{k}"] = -d[f"centred{k}"].sum(axis=0)', 'd[f"mu{k}"] = -d[f"x_hat{k}"].sum(axis=0)'),
     "local-derivative"),
    ("network", ('d["logits"] = v["probs"] * (d["probs"] - (d["probs"] * v["probs"]).sum(axis=1, keepdims=True))',
                 'd["logits"] = v["probs"]\n    d["logits"][rows, labels] -= 1\n    d["logits"] /= n'),
     "changed-input"),
    ("network", ("def backward(", "def forward(x, labels, params, masks, eps=1e-5):\n    return {'x': x}\n\n\n"
                                  "def backward("), "net.forward-changed"),
    ("network", ('d["logits"] = v["probs"] * (d["probs"] - (d["probs"] * v["probs"]).sum(axis=1, keepdims=True))',
                 'd["logits"] = v["probs"] * d["probs"]'), "net.softmax-diagonal"),
    ("network", ('(d["probs"] * v["probs"]).sum(axis=1, keepdims=True)',
                 '(d["probs"] * v["probs"]).sum(axis=0, keepdims=True)'), "net.softmax-sum-axis"),
    ("network", ('np.where(v[f"bn{k}"] > 0, d[f"relu{k}"], 0.0)', 'np.where(v[f"x_hat{k}"] > 0, d[f"relu{k}"], 0.0)'),
     "net.relu-mask-x-hat"),
    ("network", ('d["probs"][rows, labels] = -1.0', 'd["probs"][:, labels] = -1.0'), "softmax.column-index"),
    ("network", ('(g * v[f"x_hat{k}"]).sum(axis=0)', '(g * v[f"centred{k}"]).sum(axis=0)'), "bn.dgamma-x"),
    ("network", ('* -0.5 * v[f"inv_std{k}"] ** 3', '* -0.5 * v[f"var{k}"] ** -1.5'), "bn.eps-missing"),
    ("network", ('d["drop1"] = d["h2"] @ params["W2"].T', 'd["drop1"] = params["W2"] @ d["h2"].T'),
     "broadcast-shapes", "each shape is the other reversed"),
]


# Mistakes the checker sees but cannot put down to one cause: it must say so plainly, name none, and say what it saw.
UNNAMED = [
    ("init", ("rng.standard_normal((fan_in, fan_out))", "rng.laplace(0.0, np.sqrt(0.5), (fan_in, fan_out))"),
     "the weights are not normally distributed"),
    ("linear", ("return grad_out @ self.weight.value.T", "return grad_out @ self.weight.value.astype(np.float32).T"),
     "∂L/∂X, in float64, agrees with glassnet's only to"),
    ("adam", ("m[...] = beta1 * m + (1 - beta1) * p.grad", "m[...] = beta1 * m + (1 - beta1) * p.grad * (self.t == 1)"),
     "p0 after step 2 is wrong"),
    ("softmax_cross_entropy", ("loss = -log_p[rows, labels].mean()",
                               "loss = (np.log(np.exp(logits).sum(axis=1)) - logits[rows, labels]).mean()"),
     "(the loss; ∂L/∂logits is finite)"),
]


def _rounds() -> list[dict[str, int]]:
    """The cases' indices dealt into rounds of at most one per exercise: one workbook, and one check, a round."""
    rounds: list[dict[str, int]] = []
    for index, (exercise, *_) in enumerate(PLANTED):
        free = next((r for r in rounds if exercise not in r), None)
        if free is None:
            rounds.append(free := {})
        free[exercise] = index
    return rounds


@pytest.fixture(scope="module")
def planted_results(tmp_path_factory):
    """The results of each case's exercise, by its index in PLANTED (each exercise reads only its file, so
    mistakes in different exercises share a workbook, which saves starting a checker for each)."""
    found = [[] for _ in PLANTED]
    for round_ in _rounds():
        plants = [(exercise, PLANTED[index][1]) for exercise, index in round_.items()]
        results = check(solved_workbook(tmp_path_factory.mktemp("wb"), *plants), list(round_))
        for exercise, index in round_.items():
            found[index] = [r for r in results if r.exercise == exercise]
    return found


@pytest.mark.parametrize("index", range(len(PLANTED)), ids=[f"{p[0]}: {p[2]}" for p in PLANTED])
def test_a_planted_mistake_is_caught_and_named_as_itself(planted_results, index):
    exercise, _, cause, *said = PLANTED[index]
    failed = [r for r in planted_results[index] if not r.passed]
    assert failed, f"the mistake passed every check of {exercise}"
    assert failed[0].cause == cause, failed[0].message
    assert "cannot tell" not in failed[0].message
    assert all(text in failed[0].message for text in said), failed[0].message


def test_every_rule_that_names_a_mistake_has_a_planted_case():
    assert sorted(set(MISTAKES) - {cause for _, _, cause, *_ in PLANTED}) == []


def test_every_rule_is_tried_against_at_least_two_other_causes_in_its_exercise():
    causes = defaultdict(set)
    for exercise, _, cause, *_ in PLANTED:
        causes[exercise].add(cause)
    for exercise, cause in {(e, c) for e, _, c, *_ in PLANTED}:
        assert len(causes[exercise] - {cause}) >= 2, (exercise, cause)


def test_the_catalogue_is_broad():
    assert len(PLANTED) >= 100 and min(Counter(e for e, *_ in PLANTED).values()) >= 9


@pytest.mark.parametrize("exercise, plant, said", UNNAMED, ids=[f"{e}: {said}" for e, _, said in UNNAMED])
def test_a_mistake_it_cannot_name_is_said_so_and_named_as_nothing(tmp_path, exercise, plant, said):
    results = check(solved_workbook(tmp_path / "wb", (exercise, *plant)), [exercise])
    failed = [r for r in results if not r.passed]
    assert failed and failed[0].cause is None, failed[0].message if failed else "passed"
    assert "cannot tell" in failed[0].message and said in failed[0].message, failed[0].message


def _factor_at(n: int, k: float) -> None:
    """A check at batch n whose tensor is k times the right one."""
    want = np.arange(1.0, 5.0)
    expect(k * want, want, f"∂L/∂W at batch {n}", n=n)


@pytest.mark.parametrize("factors, cause, said", [
    ({2: 2, 3: 3, 7: 7}, "factor-n", "too large by a factor of N = 2 (the batch size; 3 at batch 3 too)"),
    ({2: 0.5, 3: 1 / 3, 7: 1 / 7}, "factor-1/n", "too small by a factor of N = 2 (the batch size; 3 at batch 3 too)"),
    ({2: 2, 3: 2, 7: 2}, "constant-factor", "∂L/∂W at batch 3 is exactly 2 times the right value"),
    ({2: 2, 3: 1, 7: 1}, None, "∂L/∂W at batch 2 is exactly 2 times the right value (2 is N here), and it is right at "
                               "the other batch sizes: the checker cannot tell"),
    ({2: 1, 3: 1, 7: 7}, None, "∂L/∂W at batch 7 is exactly 7 times the right value (7 is N here), and it is right"),
])
def test_a_factor_equal_to_the_batch_size_is_named_n_only_when_another_batch_size_shows_it(factors, cause, said):
    with pytest.raises(Failed) as raised:
        over_batches((2, 3, 7), lambda n: _factor_at(n, factors[n]))
    assert raised.value.cause == cause and said in str(raised.value)

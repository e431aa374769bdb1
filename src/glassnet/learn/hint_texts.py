"""The hints of every exercise, three steps each: what to compute and its shape, the local derivatives, the formula.

Shown one step at a time by ``glassnet learn hint`` (``glassnet.learn.hints``); a stub names none of this.
"""

from __future__ import annotations

STEPS = ("what to compute, and its shape", "the local derivatives", "the formula")

HINTS: dict[str, tuple[str, str, str]] = {
    "scalar_graph": (
        """backward returns five numbers, ∂f/∂v, ∂f/∂u, ∂f/∂c, ∂f/∂a and ∂f/∂b, in that order: each needs
the one before. Start at the output (∂f/∂f = 1) and go back one node at a time: a node's
gradient is the gradient of the node it feeds, times that node's derivative with respect to it.""",
        """f = v²: ∂f/∂v = 2v.   v = u + c: ∂v/∂u = 1 and ∂v/∂c = 1.   u = a·b: ∂u/∂a = b and ∂u/∂b = a.""",
        """∂f/∂v = 2v;  ∂f/∂u = ∂f/∂c = 2v · 1;  ∂f/∂a = 2v · b;  ∂f/∂b = 2v · a.""",
    ),
    "linear": (
        """backward(G), G = ∂L/∂Z of shape (N, D_out), sets weight.grad (D_in, D_out), the shape of W, and
bias.grad (D_out,), and returns ∂L/∂X (N, D_in). Work out one entry first:
z[n, k] = Σᵢ x[n, i] w[i, k] + b[k], and ask which entries of Z a given w[i, k], b[k] or x[n, i] touches.""",
        """∂z[n, k]/∂w[i, k] = x[n, i] for every sample n;  ∂z[n, k]/∂b[k] = 1 for every n;
∂z[n, k]/∂x[n, i] = w[i, k] for every output k. The chain rule adds up every entry of Z that an
entry touches, e.g. ∂L/∂w[i, k] = Σₙ g[n, k] x[n, i]. Which matrix product of X, G and W has
the right shape and computes these sums?""",
        """∂L/∂W = Xᵀ G (self.x.T @ grad_out);  ∂L/∂b = Σₙ G (grad_out.sum(axis=0));  ∂L/∂X = G Wᵀ.""",
    ),
    "relu": (
        """backward(G) returns ∂L/∂x, of the shape of x (and of G). forward must keep what backward needs:
where its input was positive.""",
        """dy/dx = 1 where x > 0 and 0 where x < 0, entry by entry; at exactly 0 take 0 (the convention
of every framework).""",
        """∂L/∂x = G where x > 0, else 0: np.where(self.active, grad_out, 0), a new array.""",
    ),
    "softmax_cross_entropy": (
        """Return the mean loss (one number) and ∂L/∂logits, of the logits' shape (N, C). Derive one
sample's ℓ = −log p_y = −z_y + log Σⱼ exp(z_j) with respect to one logit z_c; the mean over
N samples then puts 1/N in front.""",
        """∂(log Σⱼ exp z_j)/∂z_c = exp z_c / Σⱼ exp z_j = p_c (the derivative of log-sum-exp is softmax);
∂(−z_y)/∂z_c = −1 when c = y, else 0.""",
        """∂L/∂Z = (P − Y)/N, P the softmax probabilities, Y the one-hot labels:
grad = P.copy(); grad[np.arange(N), labels] -= 1; grad / N.""",
    ),
    "dropout": (
        """backward(G) returns ∂L/∂x, of the shape of x. forward must keep the mask it drew in training (or
remember that it was the identity, in inference); backward draws nothing.""",
        """y = x · mask, and the mask is a constant once drawn: ∂y/∂x = mask, entry by entry
(mask = keep / (1 − p)).""",
        """∂L/∂x = G · mask after a training forward; G itself (a copy) after an inference forward.""",
    ),
    "batchnorm_graph": (
        """backward returns a dict: ∂L/∂node for beta, gamma, x_hat, inv_std, var, centred, mu and x, each
of its node's shape ((D,) or (N, D)). Go in that order: each uses the ones before it. A node of
shape (D,) used in an (N, D) expression was broadcast over the batch, so its gradient sums over
the batch (axis=0). Draw the graph first: a node that feeds two others reaches the loss along
two paths, and its gradient adds them.""",
        """centred feeds x_hat and var, x feeds centred and mu: each gradient adds its two paths.
y = γ x̂ + β: ∂y/∂β = 1, ∂y/∂γ = x̂, ∂y/∂x̂ = γ.   x̂ = centred · inv_std: ∂/∂centred = inv_std,
∂/∂inv_std = centred.   inv_std = (var + ε)^(−½): ∂/∂var = −½ (var + ε)^(−3/2).
var = (1/N) Σₙ centredₙ²: ∂var/∂centredₙ = 2 centredₙ / N.   centred = x − μ: ∂/∂x = 1, ∂/∂μ = −1.
μ = (1/N) Σₙ xₙ: ∂μ/∂xₙ = 1/N.""",
        """beta: Σₙ G;  gamma: Σₙ G x̂;  x_hat: γ G;  inv_std: Σₙ ∂x̂ · centred;  var: ∂inv_std · (−½)(var + ε)^(−3/2);
centred: ∂x̂ · inv_std + ∂var · 2 centred / N;  mu: −Σₙ ∂centred;  x: ∂centred + ∂mu / N
(∂node short for ∂L/∂node; every Σₙ is .sum(axis=0)).""",
    ),
    "batchnorm": (
        """backward(G) assigns gamma.grad and beta.grad (D,) and returns ∂L/∂x (N, D). You derived it node by
node in batchnorm_graph; here fold those steps into one expression of G, x̂ and s = 1/√(σ² + ε),
in which Σₙ G and Σₙ G x̂ (the parameter gradients) appear. After an inference forward μ and σ²
are constants, so the layer is affine; backward follows the mode of its forward, so keep it in the cache.""",
        """With d = γ G:  ∂L/∂σ² = −(s²/2) Σₖ dₖ x̂ₖ,  ∂L/∂μ = −s Σₖ dₖ,  and
∂L/∂xₙ = s dₙ + ∂L/∂σ² · 2 x̂ₙ / (N s) + ∂L/∂μ / N. Factor out s/N.""",
        """∂L/∂β = Σₙ G;  ∂L/∂γ = Σₙ G x̂;  ∂L/∂x = γ s / N · (N G − ∂L/∂β − x̂ · ∂L/∂γ) in training,
γ s_running · G after an inference forward.""",
    ),
    "adam": (
        """step() moves each p.value in place from p.grad, with one m and one v per parameter (self.m[i],
self.v[i], of p.value's shape) and a step count t, 1 on the first step. What is left to derive is
the bias correction: m and v start at 0, so early on they underestimate E[g] and E[g²]. By which
factor, at step t?""",
        """Unroll the average: m_t = (1 − β₁) Σₖ β₁^(t−k) g_k. If every g_k has the mean E[g], then
E[m_t] = E[g] (1 − β₁) Σ_{j<t} β₁ʲ = E[g] (1 − β₁ᵗ), a geometric sum. The same holds for v and
g², with β₂.""",
        """t += 1;  m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;  m̂ = m / (1 − β₁ᵗ);  v̂ = v / (1 − β₂ᵗ);
θ ← θ − lr · m̂ / (√v̂ + ε).""",
    ),
    "init": (
        """Return weights of shape (fan_in, fan_out), standard normal draws from rng times a standard
deviation σ, chosen so that the variance of z = x W stays the same from one ReLU layer to the next.""",
        """For z_k = Σᵢ w_ik x_i with independent, zero-mean weights: Var(z_k) = fan_in · Var(w) · E[x²].
After a ReLU of a z symmetric around 0, half the x are 0: E[x²] = ½ Var(z).""",
        """Var(w) = 2 / fan_in:  rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in), then .astype(dtype).""",
    ),
    "network": (
        """backward(values, labels, params, masks) returns a dict with ∂L/∂name for every name of GRADIENTS
(in the stub), each of the shape of values[name] or params[name]. Go in GRADIENTS' order, from the loss
back: each uses the ones before it. Every piece is one you derived in exercises 1 to 6; only
∂L/∂probs is new.""",
        """L = −(1/N) Σₙ log probs[n, yₙ]: ∂L/∂probs is −1/(N p) at each row's label, 0 elsewhere.
Softmax: ∂p_i/∂z_c = p_i ([i = c] − p_c). Then, going back: a linear layer (X W + b), a dropout
(its mask), a ReLU ([bn > 0]), and batch norm's nodes as in batchnorm_graph.""",
        """logits: (P − Y)/N, which is also probs · (∂probs − Σ_c ∂probs · probs);  W3: drop2ᵀ ∂logits;
b3: Σₙ ∂logits;  drop2: ∂logits W3ᵀ;  relu2: ∂drop2 · mask2;  bn2: ∂relu2 where bn2 > 0;
gamma2 … h2: batchnorm_graph's formulas with G = ∂bn2;  W2: drop1ᵀ ∂h2;  drop1: ∂h2 W2ᵀ;
and block 1 the same way, down to W1: xᵀ ∂h1.""",
    ),
}

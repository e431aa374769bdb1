"""Exercise 7: Adam with bias correction, against glassnet's ``Adam``: its state after one step, then five steps.

The state (t, m and v after the first step) is looked at before the parameters: a mistake in one of
them is named where it is made, not from the parameters it spoils later.
"""

from __future__ import annotations

from functools import partial
from types import ModuleType
from typing import Any

import numpy as np

from glassnet.learn.checks import Checks, Failed, expect
from glassnet.learn.diagnose import Mistake, as_array
from glassnet.nn.optim import Adam
from glassnet.nn.params import Param

SHAPES = [(4, 3), (3,)]
LR, BETA1, BETA2, EPS = 0.01, 0.9, 0.999, 1e-8


def _trajectory(steps: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """The starting values and each step's gradients, the same on every call."""
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(shape) for shape in SHAPES]
    grads = [[rng.standard_normal(shape) * 0.1 for shape in SHAPES] for _ in range(steps)]
    for step in grads:
        step[0][0] *= 1e-7                              # gradients near eps: where eps's place in the step shows
    return values, grads


def _variant(step: int, **mistake: bool) -> np.ndarray:
    """The first parameter after ``step`` steps of the trajectory, with one mistake made (a flag below)."""
    values, grads = _trajectory(step)
    theta, m, v = values[0].copy(), np.zeros(SHAPES[0]), np.zeros(SHAPES[0])
    with np.errstate(all="ignore"):
        for t in range(1, step + 1):
            g = grads[t - 1][0]
            if mistake.get("not_stored"):
                m, v = np.zeros_like(m), np.zeros_like(v)
            m = BETA1 * m + (1 - BETA1) * g
            v = BETA2 * v + (1 - BETA2) * (g if mistake.get("v_of_g") else g**2)
            k = t - 1 if mistake.get("late_t") else t + 1 if mistake.get("early_t") else t
            if mistake.get("power_of_one_minus"):
                m_hat, v_hat = m / (1 - BETA1) ** k, v / (1 - BETA2) ** k
            else:
                m_hat = m if mistake.get("no_m_correction") else m / (1 - BETA1**k)
                v_hat = v if mistake.get("no_v_correction") else v / (1 - BETA2**k)
            top = g if mistake.get("uses_g") else m_hat
            if mistake.get("store_corrected"):
                m, v = m_hat, v_hat
            if mistake.get("eps_inside"):
                step_size = top / np.sqrt(v_hat + EPS)
            elif mistake.get("eps_on_step"):
                step_size = top / np.sqrt(v_hat) + EPS / LR
            elif mistake.get("no_sqrt"):
                step_size = top / (v_hat + EPS)
            else:
                step_size = top / (np.sqrt(v_hat) + (0.0 if mistake.get("no_eps") else EPS))
            lr = 1.0 if mistake.get("no_lr") else LR
            theta = theta + lr * step_size if mistake.get("ascent") else theta - lr * step_size
    return theta


def _value_mistakes(step: int) -> list[Mistake]:
    return [Mistake(cause, words, _variant(step, **{flag: True for flag in flags})) for cause, words, flags in (
        ("adam.no-correction", "bias correction is missing (m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ))",
         ("no_m_correction", "no_v_correction")),
        ("adam.no-v-correction", "the bias correction of v is missing (v̂ = v / (1 − β₂ᵗ))", ("no_v_correction",)),
        ("adam.no-m-correction", "the bias correction of m is missing (m̂ = m / (1 − β₁ᵗ))", ("no_m_correction",)),
        ("adam.correction-power", "the correction divides by (1 − β)ᵗ; it is 1 − βᵗ, β to the power t",
         ("power_of_one_minus",)),
        ("adam.eps-inside-sqrt", "ε is inside the square root: m̂ / (√v̂ + ε), not m̂ / √(v̂ + ε)", ("eps_inside",)),
        ("adam.no-sqrt", "the square root is missing: the step divides by √v̂ + ε", ("no_sqrt",)),
        ("adam.eps-on-step", "ε is added to the step, not to the denominator: lr · m̂ / (√v̂ + ε) needs the "
                             "parentheses", ("eps_on_step",)),
        ("adam.corrected-in-place", "it stores the corrected m̂ and v̂ in m and v; the averages stay uncorrected "
                                    "(the correction is for the step only)", ("store_corrected",)),
        ("adam.no-eps", "ε is missing from the step: m̂ / (√v̂ + ε), which keeps a tiny v̂ from blowing the step up",
         ("no_eps",)),
        ("adam.uses-g", "the step uses the gradient g where the corrected average m̂ belongs", ("uses_g",)),
        ("adam.no-lr", "the learning rate is missing from the step: θ ← θ − lr · m̂ / (√v̂ + ε)", ("no_lr",)),
        ("adam.ascent", "it moves up the gradient: subtract the step, θ ← θ − lr · m̂ / (√v̂ + ε)", ("ascent",)),
        ("adam.t-late", "the corrections used t = 0 on the first step (1 − β⁰ = 0): increment t before them",
         ("late_t",)),
        ("adam.t-ahead", "the corrections use t + 1: at step t they divide by 1 − βᵗ", ("early_t",)),
        ("adam.v-of-g", "v averages g, not g²: v ← β₂ v + (1 − β₂) g², and √ of a negative v is NaN", ("v_of_g",)),
        ("adam.state-not-stored", "m and v start from 0 at every step: they are never stored (m = … rebinds a "
                                  "local name; write m[...] = …)", ("not_stored",)))]


def _moment_mistakes(g: np.ndarray, which: str) -> list[Mistake]:
    """What m (which='m') or v after the first step holds for each mistake made in its update."""
    square = g**2 if which == "v" else g
    beta = BETA2 if which == "v" else BETA1
    other = BETA1 if which == "v" else BETA2
    letter = "β₂" if which == "v" else "β₁"
    found = [Mistake("adam.state-not-stored", f"{which} is still 0 after a step: it is never stored (m = … "
                                              "rebinds a local name; write m[...] = …)", np.zeros_like(g)),
             Mistake("adam.beta-swapped", f"{letter} and 1 − {letter} are swapped: {which} ← {letter} {which} + "
                                          f"(1 − {letter}) · {'g²' if which == 'v' else 'g'}", beta * square),
             Mistake("adam.betas-mixed", f"{which} uses the other β: {which} is averaged with {letter}",
                     (1 - other) * square)]
    found.append(Mistake("adam.corrected-in-place", f"it stores the corrected {which}̂ in {which}; {which} stays "
                                                     "uncorrected (the correction is for the step only)", square))
    if which == "v":
        found.insert(1, Mistake("adam.v-of-g", "v averages g, not g²: v ← β₂ v + (1 − β₂) g²", (1 - BETA2) * g))
    return found


def check_adam(module: ModuleType, checks: Checks) -> None:
    def run(steps: int) -> list[tuple[Any, list[Param], list[Param]]]:
        values, grads = _trajectory(steps)
        mine = [Param(v.copy(), name=f"p{i}") for i, v in enumerate(values)]
        theirs = [Param(v.copy(), name=f"p{i}") for i, v in enumerate(values)]
        opt_mine, opt_theirs = module.Adam(mine, lr=LR), Adam(theirs, lr=LR)
        seen = []
        for step in range(steps):
            for a, b, g in zip(mine, theirs, grads[step]):
                a.grad, b.grad = g.copy(), g.copy()
            opt_mine.step()
            opt_theirs.step()
            seen.append((opt_mine, [Param(p.value.copy(), name=p.name) for p in mine],
                         [Param(p.value.copy(), name=p.name) for p in theirs]))
        return seen

    def first_step() -> None:
        [(opt, mine, theirs)] = run(1)
        t = getattr(opt, "t", None)
        if isinstance(t, (int, np.integer)) and t != 1:
            if t == 0:
                raise Failed("t is still 0 after the first step: increment it (t = 1 on the first step) before the "
                             "corrections use it", "adam.t-never-incremented")
            raise Failed(f"t is {t} after the first step, expected 1: one increment a step", "adam.t-wrong")
        _, grads = _trajectory(1)
        for which, scale in (("m", 1 - BETA1), ("v", 1 - BETA2)):
            state = getattr(opt, which, None)
            if not isinstance(state, list) or len(state) != len(SHAPES):
                continue                                    # kept under another name: the values will tell
            for i, g in enumerate(grads[0]):
                if as_array(state[i]) is not None and np.shape(state[i]) == g.shape:
                    expect(state[i], scale * (g**2 if which == "v" else g), f"{which}[{i}] after the first step",
                           mistakes=_moment_mistakes(g, which))
        check_values(1, mine, theirs)

    def five_steps() -> None:
        for step, (_, mine, theirs) in enumerate(run(5), 1):
            check_values(step, mine, theirs)

    def check_values(step: int, mine: list[Param], theirs: list[Param]) -> None:
        expect(mine[0].value, theirs[0].value, f"p0 after step {step}", mistakes=partial(_value_mistakes, step))
        expect(mine[1].value, theirs[1].value, f"p1 (a vector) after step {step}")

    checks.run_in_order(("the first step: t, m and v", first_step), ("five steps against glassnet's Adam",
                                                                      five_steps))

"""Checks of the data policies and the regression family against ``theory.policies``.

Under accumulate, fresh and fixed policies σ²_n does not collapse and concentrates (every fit
uses at least M points), so its mean is tested directly.  Each negative control simulates a
deliberately wrong variant (another estimator, another γ or λ, the replace policy).
"""

from __future__ import annotations

import numpy as np

from .. import discrete, gaussian, regression
from ..theory import policies as theory
from . import stats
from .registry import check

_ACC = "derived in proofs/policy_accumulate.py"
_FF = "derived in proofs/policy_fresh_fixed.py"
_P3 = np.array([0.5, 0.3, 0.2])


def _var(key, scale, *, policy, m=10, n=30, estimator="mle", method="exact", trials=10_000,
         record=None):
    res = gaussian.simulate(key, sample_size=m, generations=n, trials=trials * scale,
                            estimator=estimator, method=method, policy=policy,
                            record=record or [n])
    return res, np.exp(np.asarray(res.log_det, np.float64))


@check("policy.gaussian.accumulate.mle",
       title="E σ²_n under accumulate, MLE (M=10, n=30)", source=f"Gerstgrasser et al. 2024; {_ACC}",
       formula="σ0² Π_{k≤n}(1 − 1/(M k²)) → sin(π/√M)/(π/√M)",
       control="simulate the replace policy")
def _(key, scale, control):
    m, n = 10, 30
    res, var = _var(key, scale, policy="replace" if control else "accumulate", record="log")
    expected = theory.accumulate_variance_factor(m, n, "mle")
    out = stats.z_mean(var[:, -1], float(expected[n]))
    out.curve = stats.curve(res.generation, var, expected[np.asarray(res.generation)], "E σ²_n")
    return out


@check("policy.gaussian.accumulate.unbiased.samples",
       title="E σ²_n under accumulate, unbiased, sample-based (M=10, n=20)", source=_ACC,
       formula="σ0² Π_{2≤k≤n}(N_k − 1 − M/N_k)/(N_k − 1)", control="simulate with the MLE")
def _(key, scale, control):
    _, var = _var(key, scale, policy="accumulate", n=20, method="samples", trials=5_000,
                  estimator="mle" if control else "unbiased")
    return stats.z_mean(var[:, -1], float(theory.accumulate_variance_factor(10, 20, "unbiased")[20]))


def _subsample_literal(seed: int, m: int, n: int, trials: int, subsample: bool) -> np.ndarray:
    """σ²_n of accumulate-subsample written literally in numpy (MLE); ``subsample=False`` fits
    the whole pool instead (the control)."""
    rng = np.random.default_rng(seed)
    out = np.empty(trials)
    for t in range(trials):
        pool = rng.normal(0.0, 1.0, m)
        fit = pool
        for _ in range(1, n):
            pool = np.concatenate([pool, rng.normal(fit.mean(), fit.std(), m)])
            fit = rng.choice(pool, m, replace=False) if subsample else pool
        out[t] = fit.var()
    return out


@check("policy.gaussian.subsample.literal",
       title="accumulate-subsample (no closed form): σ²_n vs a literal numpy chain (M=10, n=8)",
       source="Kazdan et al. 2024; no closed form derived — two implementations in law",
       formula="law of σ²_n equal to the literal chain's (KS)",
       control="the literal chain without subsampling (plain accumulate)")
def _(key, scale, control):
    import jax

    m, n, trials = 10, 8, 2_000 * scale
    _, var = _var(key, 1, policy="accumulate-subsample", n=n, trials=trials)
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    return stats.ks_two_sample(var[:, -1], _subsample_literal(seed, m, n, trials, not control))


@check("policy.gaussian.fresh.stationary",
       title="E σ²_n under fresh:0.3 (M=10, n=40, stationary)", source=f"island model; {_FF}",
       formula="affine recursion in (E σ², E(μ−μ0)²); fixed point solved exactly",
       control="simulate fresh:0.6")
def _(key, scale, control):
    _, var = _var(key, scale, policy="fresh:0.6" if control else "fresh:0.3", n=40)
    return stats.z_mean(var[:, -1], float(theory.fresh_gaussian_moments(10, 0.3, 40)[0][40]))


@check("policy.gaussian.fixed.lambda1",
       title="E σ²_n under fixed:1 (M=10, n=40)", source=f"Bertrand et al. 2023; {_FF}",
       formula="s* = S_R(2L + R)/(2LR + L + R²) (MLE, given S_R)",
       control="simulate with the unbiased estimator")
def _(key, scale, control):
    _, var = _var(key, scale, policy="fixed:1", n=40,
                  estimator="unbiased" if control else "mle")
    return stats.z_mean(var[:, -1], float(theory.fixed_gaussian_variance(10, 1.0, 40)[40]))


@check("policy.discrete.accumulate.gini",
       title="E H_n (Gini–Simpson) under accumulate (K=3, M=10, n=30)", source=_ACC,
       formula="H0 Π_{k≤n}(1 − 1/(M k²))",
       control="simulate fresh:0.2 instead (reuses the next check's compiled chain)")
def _(key, scale, control):
    res = discrete.simulate(key, _P3, sample_size=10, generations=30, trials=10_000 * scale,
                            policy="fresh:0.2" if control else "accumulate", record=[30])
    h = np.asarray(discrete.gini_simpson(res), np.float64)[:, -1]
    return stats.z_mean(h, float((1 - np.sum(_P3**2)) * theory.accumulate_gini_simpson_factor(10, 30)[30]))


@check("policy.discrete.fresh.gini",
       title="E H_n under fresh:0.2 (K=3, M=10, n=30)", source=_FF,
       formula="F' = [R(1−F0) + S(1−F) + R²F0 + 2RS F0 + S²F]/M²",
       control="simulate accumulate instead (no fresh data)")
def _(key, scale, control):
    res = discrete.simulate(key, _P3, sample_size=10, generations=30, trials=10_000 * scale,
                            policy="accumulate" if control else "fresh:0.2", record=[30])
    h = np.asarray(discrete.gini_simpson(res), np.float64)[:, -1]
    return stats.z_mean(h, float(theory.fresh_gini_simpson(_P3, 10, 0.2, 30)[30]))


def _reg(key, scale, policy, design, n=12, rows=20, dim=4, trials=10_000):
    res = regression.simulate(key, rows=rows, dim=dim, generations=n, trials=trials * scale,
                              noise=0.5, design=design, policy=policy, record="log")
    return res, np.asarray(res.error, np.float64)


@check("policy.regression.replace",
       title="E‖ŵ_n − w*‖², replace, fresh design (T=20, d=4, n=12)",
       source=f"Dohmatob et al. 2024; {_ACC}", formula="σ² d n/(T − d − 1)",
       control="simulate the accumulate policy")
def _(key, scale, control):
    res, err = _reg(key, scale, "accumulate" if control else "replace", "fresh")
    expected = theory.regression_error(12, 20, 4, 0.5)
    out = stats.z_mean(err[:, -1], float(expected[12]))
    out.curve = stats.curve(res.generation, err, expected[np.asarray(res.generation)],
                            "E‖ŵ_n − w*‖²")
    return out


@check("policy.regression.accumulate.fixed",
       title="E‖ŵ_n − w*‖², accumulate, fixed design (T=20, d=4, n=12)",
       source=f"Gerstgrasser et al. 2024; {_ACC}", formula="σ² d/(T − d − 1) Σ_{i≤n} 1/i²",
       control="simulate the replace policy")
def _(key, scale, control):
    res, err = _reg(key, scale, "replace" if control else "accumulate", "fixed")
    expected = theory.regression_error(12, 20, 4, 0.5, policy="accumulate")
    out = stats.z_mean(err[:, -1], float(expected[12]))
    out.curve = stats.curve(res.generation, err, expected[np.asarray(res.generation)],
                            "E‖ŵ_n − w*‖²")
    return out

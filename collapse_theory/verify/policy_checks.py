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
from .registry import check_table, literal_check

_ACC = "derived in proofs/policy_accumulate.py; docs/theory.md §4"
_FF = "derived in proofs/policy_fresh_fixed.py; docs/theory.md §4"
#: Regression under replace and accumulate (derived with the accumulate policy).
_REG = "derived in proofs/policy_accumulate.py; docs/theory.md §6"
_P3 = np.array([0.5, 0.3, 0.2])


def _var(key, scale, *, policy, m=10, n=30, estimator="mle", method="exact", trials=10_000,
         record=None):
    res = gaussian.simulate(key, sample_size=m, generations=n, trials=trials * scale,
                            estimator=estimator, method=method, policy=policy,
                            record=record or [n])
    return res, np.exp(np.asarray(res.log_det, np.float64))


def _variance_mean(key, scale, control, *, m=10, n=30, expected, wrong, ylabel=None,
                   **settings):
    """z-test of ``E σ²_n`` against ``expected(m, n)[n]``; the control simulates ``settings`` with
    ``wrong`` over them."""
    res, var = _var(key, scale, m=m, n=n, **(settings | wrong if control else settings),
                    record="log" if ylabel else None)
    gens = np.asarray(res.generation)
    return stats.z_last(gens, var, expected(m, n)[gens], ylabel)


check_table({
    "policy.gaussian.accumulate.mle": dict(
        title="E σ²_n under accumulate, MLE (M=10, n=30)",
        source=f"Gerstgrasser et al. 2024 (arXiv:2404.01413); {_ACC}",
        formula="σ0² Π_{k≤n}(1 − 1/(M k²)) → sin(π/√M)/(π/√M)",
        control="simulate the replace policy",
        run=_variance_mean, policy="accumulate", wrong=dict(policy="replace"), ylabel="E σ²_n",
        expected=lambda m, n: theory.accumulate_variance_factor(m, n, "mle")),
    "policy.gaussian.accumulate.unbiased.samples": dict(
        title="E σ²_n under accumulate, unbiased, sample-based (M=10, n=20)", source=_ACC,
        formula="σ0² Π_{2≤k≤n}(N_k − 1 − M/N_k)/(N_k − 1)", control="simulate with the MLE",
        run=_variance_mean, policy="accumulate", n=20, method="samples", trials=5_000,
        estimator="unbiased", wrong=dict(estimator="mle"),
        expected=lambda m, n: theory.accumulate_variance_factor(m, n, "unbiased")),
})


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


literal_check(
    "policy.gaussian.subsample.literal", subject="accumulate-subsample", statistic="σ²_n",
    source="Kazdan et al. 2024 (arXiv:2410.16713); no closed form derived (docs/theory.md §4)",
    control="the literal chain without subsampling (plain accumulate)", m=10, n=8,
    simulated=lambda key, scale, m, n: _var(key, scale, policy="accumulate-subsample", m=m, n=n,
                                            trials=2_000)[1][:, -1],
    literal=lambda seed, m, n, trials, control: _subsample_literal(seed, m, n, trials,
                                                                   not control))


check_table({
    "policy.gaussian.fresh.stationary": dict(
        title="E σ²_n under fresh:0.3 (M=10, n=40, stationary)", source=f"island model (fresh real data); {_FF}",
        formula="affine recursion in (E σ², E(μ−μ0)²); fixed point solved exactly",
        control="simulate fresh:0.6",
        run=_variance_mean, policy="fresh:0.3", n=40, wrong=dict(policy="fresh:0.6"),
        expected=lambda m, n: theory.fresh_gaussian_moments(m, 0.3, n)[0]),
    "policy.gaussian.fixed.lambda1": dict(
        title="E σ²_n under fixed:1 (M=10, n=40)", source=f"Bertrand et al. 2023 (arXiv:2310.00429); {_FF}",
        formula="s* = S_R(2L + R)/(2LR + L + R²) (MLE, given S_R)",
        control="simulate with the unbiased estimator",
        run=_variance_mean, policy="fixed:1", n=40, wrong=dict(estimator="unbiased"),
        expected=lambda m, n: theory.fixed_gaussian_variance(m, 1.0, n)),
})


def _gini(key, scale, control, *, policy, wrong, expected):
    """z-test of ``E H_n`` (K = 3, M = 10, n = 30) against ``expected``; the control simulates
    the ``wrong`` policy."""
    res = discrete.simulate(key, _P3, sample_size=10, generations=30, trials=10_000 * scale,
                            policy=wrong if control else policy, record=[30])
    h = np.asarray(discrete.gini_simpson(res), np.float64)[:, -1]
    return stats.z_mean(h, float(expected()[30]))


check_table({
    "policy.discrete.accumulate.gini": dict(
        title="E H_n (Gini–Simpson) under accumulate (K=3, M=10, n=30)", source=_ACC,
        formula="H0 Π_{k≤n}(1 − 1/(M k²))",
        control="simulate fresh:0.2 instead (reuses the next check's compiled chain)",
        run=_gini, policy="accumulate", wrong="fresh:0.2",
        expected=lambda: (1 - np.sum(_P3**2)) * theory.accumulate_gini_simpson_factor(10, 30)),
    "policy.discrete.fresh.gini": dict(
        title="E H_n under fresh:0.2 (K=3, M=10, n=30)", source=_FF,
        formula="F' = [R(1−F0) + S(1−F) + R²F0 + 2RS F0 + S²F]/M²",
        control="simulate accumulate instead (no fresh data)",
        run=_gini, policy="fresh:0.2", wrong="accumulate",
        expected=lambda: theory.fresh_gini_simpson(_P3, 10, 0.2, 30)),
})


def _regression_error(key, scale, control, *, policy, wrong, design):
    """z-test of ``E‖ŵ_n − w*‖²`` (T = 20, d = 4, σ² = 0.5, n = 12) against
    :func:`theory.regression_error` under ``policy``; the control simulates the ``wrong`` one."""
    res = regression.simulate(key, rows=20, dim=4, generations=12, trials=10_000 * scale,
                              noise=0.5, design=design, policy=wrong if control else policy,
                              record="log")
    gens = np.asarray(res.generation)
    return stats.z_last(gens, res.error, theory.regression_error(12, 20, 4, 0.5, policy)[gens],
                        "E‖ŵ_n − w*‖²")


check_table({
    "policy.regression.replace": dict(
        title="E‖ŵ_n − w*‖², replace, fresh design (T=20, d=4, n=12)",
        source=f"Dohmatob et al. 2024 (arXiv:2402.07712); {_REG}", formula="σ² d n/(T − d − 1)",
        control="simulate the accumulate policy",
        run=_regression_error, policy="replace", wrong="accumulate", design="fresh"),
    "policy.regression.accumulate.fixed": dict(
        title="E‖ŵ_n − w*‖², accumulate, fixed design (T=20, d=4, n=12)",
        source=f"Gerstgrasser et al. 2024 (arXiv:2404.01413); {_REG}", formula="σ² d/(T − d − 1) Σ_{i≤n} 1/i²",
        control="simulate the replace policy",
        run=_regression_error, policy="accumulate", wrong="replace", design="fixed"),
})

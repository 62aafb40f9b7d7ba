"""Checks of the KDE refitting chain against the closed forms of ``theory.kde``.

The model variance ``V_n = s²_n + h²_n`` concentrates for these sizes: with a fixed ``h`` it
is stationary (replace) or slowly growing (accumulate) with relative spread ≈ √(2/M); with
Scott's rule under replace it is a product of ``n`` factors of relative spread ≈ √(2/M), so at
``M = 50``, ``n = 10`` its coefficient of variation is ≈ 0.7 and the sample mean over 10⁴
chains is close to normal.  Each test is a z-test with the Monte Carlo SE ``s/√N``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import chain, kde
from ..theory import kde as theory
from . import stats
from .registry import check, check_table, literal_check

_PROOF = "derived in proofs/kde_variance.py; docs/theory.md §8"
_KAZDAN = "Kazdan et al. 2024 (arXiv:2410.16713, KDE chain)"


def _run(key, scale, *, m, n, bandwidth, policy="replace"):
    """10⁴ × ``scale`` chains recorded on the log grid: checks of the same (policy, rule, M, n)
    share one compiled chain."""
    return kde.simulate(key, sample_size=m, generations=n, trials=10_000 * scale,
                        bandwidth=bandwidth, policy=policy, record="log")


def _variance(res) -> np.ndarray:
    return np.exp(np.asarray(res.log_variance, np.float64))


def _mean_sq_dev(res) -> np.ndarray:
    return np.asarray(res.mean, np.float64) ** 2


def _expected_variance(m, n, **chain) -> np.ndarray:
    return theory.moments(m, n, **chain).variance


def _expected_mean_sq_dev(m, n, **chain) -> np.ndarray:
    return theory.moments(m, n, **chain).mean_sq_dev


def _replace_variance_var(m, n, *, bandwidth, policy) -> np.ndarray:
    """``Var V_n`` under replace (``policy`` is ``"replace"``)."""
    return theory.replace_second_moments(m, n, bandwidth=bandwidth).variance_var


def _moment(key, scale, control, *, m, n, bandwidth, policy="replace", wrong,
            statistic=_variance, closed_form=_expected_variance, test=stats.z_mean, ylabel=None):
    """``test`` of ``statistic(chain)`` at generation ``n`` (default: the mean of ``V_n``) against
    ``closed_form(m, n, bandwidth=, policy=)``; the control simulates with ``wrong`` (a bandwidth
    or a policy) over the chain's own."""
    right = dict(bandwidth=bandwidth, policy=policy)
    res = _run(key, scale, m=m, n=n, **(right | wrong if control else right))
    gens = np.asarray(res.generation)
    return stats.z_last(gens, statistic(res), closed_form(m, n, **right)[gens], ylabel, test=test)


@check("kde.replace.fixed_h",
       title="E V_n, KDE, replace, fixed h (M=20, h=0.3, n=20)", source=f"{_KAZDAN}; {_PROOF}",
       formula="M h² + (σ0² − M h²)((M − 1)/M)^n → M h²",
       control="refit forgetting the kernel: resample the centres without h·z "
               "(simulated with h = 1e-6), report s² + h²")
def _(key, scale, control):
    m, n, h = 20, 20, 0.3
    res = _run(key, scale, m=m, n=n, bandwidth=1e-6 if control else h)
    if control:
        values = np.exp(np.asarray(res.log_centre_variance, np.float64)) + h * h
    else:
        values = _variance(res)
    gens = np.asarray(res.generation)
    return stats.z_last(gens, values, theory.replace_fixed_variance(m, h, n)[gens],
                        "E V_n (KDE, fixed h)")


check_table({
    "kde.replace.fixed_h.variance": dict(
        title="Var V_n, KDE, replace, fixed h (M=20, h=0.3, n=20)", source=_PROOF,
        formula="(E s², E s⁴, E m4) linear recursion; μ4(KDE) = m4 + 6s²h² + 3h⁴",
        control="simulate the accumulate policy",
        m=20, n=20, bandwidth=0.3, wrong=dict(policy="accumulate"), test=stats.z_variance,
        closed_form=_replace_variance_var),
    "kde.replace.scott": dict(
        title="E V_n, KDE, replace, Scott's rule (M=50, n=10)", source=f"{_KAZDAN}; {_PROOF}",
        formula="σ0² ρ^n, ρ = (M − 1)/M + M^{-2/5} > 1 (explodes)",
        control="Silverman's rule 0.9 min(σ̂, IQR/1.34) N^{-1/5} instead",
        m=50, n=10, bandwidth="scott", wrong=dict(bandwidth="silverman"),
        ylabel="E V_n (KDE, Scott)"),
    "kde.accumulate.fixed_h": dict(
        title="E V_n, KDE, accumulate, fixed h (M=20, h=0.5, n=20)", source=f"{_KAZDAN}; {_PROOF}",
        formula="E s²' = [N s² + M(1 − 1/N')(s² + h²)]/N' (≈ h² log n growth)",
        control="simulate the replace policy",
        m=20, n=20, bandwidth=0.5, policy="accumulate",
        wrong=dict(policy="replace"), ylabel="E V_n (KDE accumulate, fixed h)"),
    "kde.accumulate.scott": dict(
        title="E V_n, KDE, accumulate, Scott's rule (M=20, n=20)", source=_PROOF,
        formula="E s²' = [N s² + M(1 − 1/N')(1 + κ_N)s²]/N', κ_N = N^{3/5}/(N − 1)",
        control="bandwidth frozen at h = 0.5 (≈ Scott's first-fit h) instead of recomputed "
                "from each pool",
        m=20, n=20, bandwidth="scott", policy="accumulate",
        wrong=dict(bandwidth=0.5)),
    "kde.fresh.fixed_h": dict(
        title="E V_n, KDE, fresh:0.2, fixed h (M=20, h=0.3, n=20)", source=_PROOF,
        formula="E[M s²'] = (Rσ0² + SV)(M − 1)/M + (RS/M) E d², "
                "E d²' = (Rσ0² + SV)/M² + (S/M)² E d²",
        control="simulate the replace policy (no fresh data)",
        m=20, n=20, bandwidth=0.3, policy="fresh:0.2",
        wrong=dict(policy="replace")),
    "kde.replace.sklearn_scott": dict(
        title="E V_n, KDE, replace, scikit-learn's Scott (unscaled h = M^{-1/5}; M=20, n=20)",
        source=_PROOF, formula="E V_n with η_M = M^{-2/5}, κ = 0 (h ignores the data's scale)",
        control="scipy's Scott (h = σ̂ M^{-1/5}, scaled) instead",
        m=20, n=20, bandwidth="sklearn-scott", wrong=dict(bandwidth="scott")),
    "kde.replace.mean_drift": dict(
        title="E(x̄_n − μ0)², KDE, replace, fixed h (M=20, h=0.3, n=20)", source=_PROOF,
        formula="Σ_{g<n} E V_g / M (the centres' mean is a martingale)",
        control="simulate the accumulate policy",
        m=20, n=20, bandwidth=0.3, wrong=dict(policy="accumulate"),
        statistic=_mean_sq_dev, closed_form=_expected_mean_sq_dev),
}, run=_moment)


def _silverman_literal(seed: int, m: int, n: int, trials: int, rule: str) -> np.ndarray:
    """V_n of the replace chain written literally in numpy: centres, rule of thumb on them,
    ``M`` draws ``x_J + h z``; ``rule`` ``"silverman"`` (0.9) or ``"scott"`` (the control)."""
    rng = np.random.default_rng(seed)
    out = np.empty(trials)
    for t in range(trials):
        x = rng.normal(0.0, 1.0, m)
        for g in range(n):
            sd = x.std(ddof=1)
            if rule == "silverman":
                q75, q25 = np.percentile(x, [75, 25])
                h = 0.9 * min(sd, (q75 - q25) / 1.34) * m ** -0.2
            else:
                h = sd * m ** -0.2
            if g < n - 1:
                x = x[rng.integers(0, m, m)] + h * rng.normal(size=m)
        out[t] = x.var() + h * h
    return out


literal_check(
    "kde.replace.silverman.literal", subject="Silverman's rule", statistic="V_n",
    source="no closed form (IQR is not quadratic; docs/theory.md §8)", control="the literal chain with Scott's rule",
    m=50, n=10,  # the chain of kde.replace.scott's control: one compiled chain for both
    simulated=lambda key, scale, m, n: _variance(
        _run(key, scale, m=m, n=n, bandwidth="silverman"))[:, -1],
    literal=lambda seed, m, n, trials, control: _silverman_literal(
        seed, m, n, trials, "scott" if control else "silverman"))


_SCALE_2D = (1.0, 2.0)  # D0 = N(0, diag(1, 4)) in the 2-D checks: tr Σ0 = 5


def _d0_2d(key, n: int):
    return jax.random.normal(key, (n, 2)) * jnp.asarray(_SCALE_2D)


def _log_trace_v(p: kde.Params):
    """``log tr V`` of a 2-D KDE: ``tr V = s² (d + |B|²_F)``."""
    return 2.0 * p.log_scale + jnp.log(p.kernel.shape[0] + jnp.sum(p.kernel**2))


def _trace_2d(key, scale, control, *, m, n, bandwidth, policy, wrong):
    """E tr V_n of :func:`kde.family` in 2-D (:func:`chain.simulate`, D0 given as a sampler)
    against ``theory.kde.moments(dim=2)``; the control simulates the ``wrong`` bandwidth."""
    res = chain.simulate(key, kde.family(2, wrong if control else bandwidth), None,
                         sample_size=m, generations=n, trials=10_000 * scale, policy=policy,
                         real=_d0_2d, record="log", observe=_log_trace_v)
    gens = np.asarray(res.generation)
    expected = theory.moments(m, n, bandwidth=bandwidth, policy=policy,
                              variance0=sum(v * v for v in _SCALE_2D), dim=2).variance
    return stats.z_last(gens, np.exp(np.asarray(res.params, np.float64)), expected[gens],
                        "E tr V_n (2-D KDE)")


check_table({
    "kde.2d.replace.scott": dict(
        title="E tr V_n, 2-D KDE, replace, scipy's Scott (kernel N^{-1/3} Σ̂; M=20, n=6)",
        formula="E tr V_n = tr Σ0 ρ^n, ρ = (M − 1)/M (1 + M^{-1/3} M/(M − 1))",
        control="scikit-learn's Scott (unscaled h² I) instead",
        m=20, n=6, bandwidth="scott", policy="replace", wrong="sklearn-scott"),
    "kde.2d.accumulate.sklearn_scott": dict(
        title="E tr V_n, 2-D KDE, accumulate, scikit-learn's Scott (h = N^{-1/6}; M=10, n=10)",
        formula="the accumulate recursion on traces, η_N = 2 N^{-1/3}",
        control="scipy's Scott (scaled f² Σ̂) instead",
        m=10, n=10, bandwidth="sklearn-scott", policy="accumulate", wrong="scott"),
}, run=_trace_2d, source=f"{_PROOF} (traces in d dimensions)")

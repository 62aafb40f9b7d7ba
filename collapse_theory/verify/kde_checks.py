"""Checks of the KDE refitting chain against the closed forms of ``theory.kde``.

The model variance ``V_n = s²_n + h²_n`` concentrates for these sizes: with a fixed ``h`` it
is stationary (replace) or slowly growing (accumulate) with relative spread ≈ √(2/M); with
Scott's rule under replace it is a product of ``n`` factors of relative spread ≈ √(2/M), so at
``M = 50``, ``n = 10`` its coefficient of variation is ≈ 0.7 and the sample mean over 10⁴
chains is close to normal.  Each test is a z-test with the Monte Carlo SE ``s/√N``.
"""

from __future__ import annotations

import numpy as np

from .. import kde
from ..theory import kde as theory
from . import stats
from .registry import check

_PROOF = "derived in proofs/kde_variance.py"
_KAZDAN = "Kazdan et al. 2024 (KDE chain)"


def _run(key, scale, *, m, n, bandwidth, policy="replace"):
    """10⁴ × ``scale`` chains recorded on the log grid: checks of the same (policy, rule, M, n)
    share one compiled chain."""
    return kde.simulate(key, sample_size=m, generations=n, trials=10_000 * scale,
                        bandwidth=bandwidth, policy=policy, record="log")


def _variance(res) -> np.ndarray:
    return np.exp(np.asarray(res.log_variance, np.float64))


def _with_curve(out, res, values, expected_all, ylabel):
    gens = np.asarray(res.generation)
    out.curve = stats.curve(gens, values, expected_all[gens], ylabel)
    return out


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
    expected = theory.replace_fixed_variance(m, h, n)
    out = stats.z_mean(values[:, -1], float(expected[n]))
    return _with_curve(out, res, values, expected, "E V_n (KDE, fixed h)")


@check("kde.replace.fixed_h.variance",
       title="Var V_n, KDE, replace, fixed h (M=20, h=0.3, n=20)", source=_PROOF,
       formula="(E s², E s⁴, E m4) linear recursion; μ4(KDE) = m4 + 6s²h² + 3h⁴",
       control="simulate the accumulate policy")
def _(key, scale, control):
    m, n, h = 20, 20, 0.3
    res = _run(key, scale, m=m, n=n, bandwidth=h, policy="accumulate" if control else "replace")
    expected = theory.replace_second_moments(m, n, bandwidth=h).variance_var
    return stats.z_variance(_variance(res)[:, -1], float(expected[n]))


@check("kde.replace.scott",
       title="E V_n, KDE, replace, Scott's rule (M=50, n=10)", source=f"{_KAZDAN}; {_PROOF}",
       formula="σ0² ρ^n, ρ = (M − 1)/M + M^{-2/5} > 1 (explodes)",
       control="Silverman's rule 0.9 min(σ̂, IQR/1.34) N^{-1/5} instead")
def _(key, scale, control):
    m, n = 50, 10
    res = _run(key, scale, m=m, n=n, bandwidth="silverman" if control else "scott")
    values = _variance(res)
    expected = theory.moments(m, n, bandwidth="scott").variance
    out = stats.z_mean(values[:, -1], float(expected[n]))
    return _with_curve(out, res, values, expected, "E V_n (KDE, Scott)")


@check("kde.accumulate.fixed_h",
       title="E V_n, KDE, accumulate, fixed h (M=20, h=0.5, n=20)",
       source=f"{_KAZDAN}; {_PROOF}",
       formula="E s²' = [N s² + M(1 − 1/N')(s² + h²)]/N' (≈ h² log n growth)",
       control="simulate the replace policy")
def _(key, scale, control):
    m, n, h = 20, 20, 0.5
    res = _run(key, scale, m=m, n=n, bandwidth=h, policy="replace" if control else "accumulate")
    values = _variance(res)
    expected = theory.moments(m, n, bandwidth=h, policy="accumulate").variance
    out = stats.z_mean(values[:, -1], float(expected[n]))
    return _with_curve(out, res, values, expected, "E V_n (KDE accumulate, fixed h)")


@check("kde.accumulate.scott",
       title="E V_n, KDE, accumulate, Scott's rule (M=20, n=20)", source=_PROOF,
       formula="E s²' = [N s² + M(1 − 1/N')(1 + κ_N)s²]/N', κ_N = N^{3/5}/(N − 1)",
       control="bandwidth frozen at h = 0.5 (≈ Scott's first-fit h) instead of recomputed "
               "from each pool")
def _(key, scale, control):
    m, n = 20, 20
    res = _run(key, scale, m=m, n=n, bandwidth=0.5 if control else "scott", policy="accumulate")
    expected = theory.moments(m, n, bandwidth="scott", policy="accumulate").variance
    return stats.z_mean(_variance(res)[:, -1], float(expected[n]))


@check("kde.fresh.fixed_h",
       title="E V_n, KDE, fresh:0.2, fixed h (M=20, h=0.3, n=20)", source=_PROOF,
       formula="E[M s²'] = (Rσ0² + SV)(M − 1)/M + (RS/M) E d², "
               "E d²' = (Rσ0² + SV)/M² + (S/M)² E d²",
       control="simulate the replace policy (no fresh data)")
def _(key, scale, control):
    m, n, h = 20, 20, 0.3
    res = _run(key, scale, m=m, n=n, bandwidth=h, policy="replace" if control else "fresh:0.2")
    expected = theory.moments(m, n, bandwidth=h, policy="fresh:0.2").variance
    return stats.z_mean(_variance(res)[:, -1], float(expected[n]))


@check("kde.replace.mean_drift",
       title="E(x̄_n − μ0)², KDE, replace, fixed h (M=20, h=0.3, n=20)", source=_PROOF,
       formula="Σ_{g<n} E V_g / M (the centres' mean is a martingale)",
       control="simulate the accumulate policy")
def _(key, scale, control):
    m, n, h = 20, 20, 0.3
    res = _run(key, scale, m=m, n=n, bandwidth=h, policy="accumulate" if control else "replace")
    expected = theory.moments(m, n, bandwidth=h).mean_sq_dev
    return stats.z_mean(np.asarray(res.mean, np.float64)[:, -1] ** 2, float(expected[n]))


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


@check("kde.replace.silverman.literal",
       title="Silverman's rule (no closed form): V_n vs a literal numpy chain (M=50, n=10)",
       source="no closed form (IQR is not quadratic) — two implementations in law",
       formula="law of V_n equal to the literal chain's (KS)",
       control="the literal chain with Scott's rule")
def _(key, scale, control):
    import jax

    m, n = 50, 10  # the chain of kde.replace.scott's control: one compiled chain for both
    res = _run(key, scale, m=m, n=n, bandwidth="silverman")
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    literal = _silverman_literal(seed, m, n, 2_000 * scale, "scott" if control else "silverman")
    return stats.ks_two_sample(_variance(res)[:, -1], literal)

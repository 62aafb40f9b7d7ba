"""Checks of the Gaussian refitting chain against the closed forms of ``theory.gaussian``.

Statistics are chosen to concentrate: log det Σ_n rather than Σ_n, and sample sizes for which
σ²_n has moderate moments where a moment of σ²_n itself is tested (its relative variance is
``(E Q²)^n − 1 = (1 + 2/(M−1))^n − 1``; at M = 100, n = 50 it is 1.7).
"""

from __future__ import annotations

import numpy as np

from .. import gaussian, metrics
from ..theory import gaussian as theory
from . import stats
from .registry import check, check_table, check_with

_PROOFS = "derived in proofs/gaussian_log_det.py"
_MOMENTS = "derived in proofs/gaussian_moments.py"
_SCHEDULES = "derived in proofs/gaussian_schedules.py"
_W2 = "derived in proofs/gaussian_w2.py"
#: The section of docs/theory.md on the Gaussian chain (Theorem 3.1, moments, W2, schedules).
_DOC = "docs/theory.md §3"


def _other(estimator: str) -> str:
    return "mle" if estimator == "unbiased" else "unbiased"


def _last_log_det(res):
    """log det Σ_n at the last recorded generation, as float64 numpy."""
    return np.asarray(res.log_det, dtype=np.float64)[:, -1]


def _chain(key, scale, control, *, estimator, n, trials=20_000, ylabel=None, **settings):
    """``(result, generations)`` of ``trials × scale`` chains of ``settings`` recorded at ``n``
    (on the log grid when a curve is drawn, ``ylabel``); the control uses the other estimator."""
    res = gaussian.simulate(key, generations=n, trials=trials * scale,
                            estimator=_other(estimator) if control else estimator,
                            record="log" if ylabel else [n], **settings)
    return res, np.asarray(res.generation)


def _log_det_mean(key, scale, control, *, m, n, dim, estimator, method, trials, ylabel=None):
    """z-test of ``E log det Σ_n`` (:func:`theory.expected_log_det`)."""
    res, gens = _chain(key, scale, control, estimator=estimator, n=n, trials=trials,
                       ylabel=ylabel, sample_size=m, dim=dim, method=method)
    return stats.z_last(gens, res.log_det, theory.expected_log_det(gens, m, dim, estimator),
                        ylabel)


def _det_power(key, scale, control, *, m, n, dim, estimator, power, ylabel=None):
    """z-test of ``E (det Σ_n)^power``: ``E σ_n^{2·power}`` in 1-D
    (:func:`theory.expected_variance_power`), ``E det Σ_n`` (power 1) for d > 1
    (:func:`theory.expected_det`)."""
    res, gens = _chain(key, scale, control, estimator=estimator, n=n, ylabel=ylabel,
                       sample_size=m, dim=dim)
    expected = (theory.expected_variance_power(gens, m, power, estimator) if dim == 1
                else theory.expected_det(gens, m, dim, estimator))
    return stats.z_last(gens, np.exp(power * np.asarray(res.log_det, np.float64)), expected,
                        ylabel)


def _moment(quantity, section, formula, *, m, n, dim, estimator, **params):
    """A :func:`_det_power` spec: titled by ``quantity``, the estimator, the dimension, M and n;
    sourced to README ``section`` and the moments proof; controlled by the other estimator."""
    name, control = {"unbiased": ("unbiased", "simulate with the MLE"),
                     "mle": ("MLE", "simulate with the unbiased estimator")}[estimator]
    return dict(title=f"{quantity}, {name}, {'1-D' if dim == 1 else f'd={dim}'} (M={m}, n={n})",
                source=f"{_DOC} {section}; {_MOMENTS}", formula=formula, control=control,
                m=m, n=n, dim=dim, estimator=estimator, **params)


def _mean_sq_dev(key, scale, control, *, estimator, m=100, n=50, dim=1, data="gaussian",
                 trials=20_000, ylabel=None):
    """z-test of ``E|μ_n − μ_0|²`` (:func:`theory.expected_mean_sq_dev`; any D0 of covariance I)."""
    res, gens = _chain(key, scale, control, estimator=estimator, n=n, trials=trials,
                       ylabel=ylabel, sample_size=m, dim=dim, data=data)
    return stats.z_last(gens, _mean_sq(res),
                        theory.expected_mean_sq_dev(gens, m, dim, estimator, trace0=dim), ylabel)


def _log_det_var(key, scale, control, *, m, n, dim, trials):
    """z-test of ``Var log det Σ_n`` (:func:`theory.var_log_det`); control: ``M + 2`` per fit."""
    res = gaussian.simulate(key, sample_size=m + 2 if control else m, generations=n,
                            trials=trials * scale, dim=dim, record=[n])
    return stats.z_variance(_last_log_det(res), float(theory.var_log_det(n, m, dim)))


def _exact_vs_samples(key, scale, control, *, m, n, dim, trials, statistic, control_kwargs):
    """KS test of ``statistic`` between the exact chain and the sample-based one (the control:
    the sample-based one with ``control_kwargs``)."""
    import jax

    k_exact, k_samples = jax.random.split(key)
    common = dict(generations=n, trials=trials * scale, dim=dim, record=[n])
    exact = gaussian.simulate(k_exact, sample_size=m, method="exact", **common)
    kwargs = dict(sample_size=m) | (control_kwargs if control else {})
    samples = gaussian.simulate(k_samples, method="samples", **kwargs, **common)
    return stats.ks_two_sample(statistic(exact), statistic(samples))


def _mean_sq(res):
    return np.sum(np.asarray(res.mean, np.float64) ** 2, axis=-1)


_BARTLETT = "log det Σ0 + n Σ_j[ψ((M−j)/2) + log(2/(M−1))]"

check_table({
    "gaussian.log_det.mean.unbiased.1d": dict(
        title="E log σ²_n, unbiased, 1-D (M=10, n=50)", source=f"{_DOC}; {_PROOFS}",
        formula="log σ0² + n[ψ((M−1)/2) + log(2/(M−1))]", control="simulate with the MLE (÷M)",
        m=10, n=50, dim=1, estimator="unbiased", method="exact", trials=20_000,
        ylabel="E log σ²_n"),
    "gaussian.log_det.mean.mle.1d": dict(
        title="E log σ²_n, MLE, 1-D (M=10, n=50)", source=f"{_DOC}; {_PROOFS}",
        formula="log σ0² + n[ψ((M−1)/2) + log(2/M)]",
        control="simulate with the unbiased estimator",
        m=10, n=50, dim=1, estimator="mle", method="exact", trials=20_000),
    "gaussian.log_det.mean.unbiased.3d.exact": dict(
        title="E log det Σ_n, unbiased, d=3, exact (M=10, n=20)",
        source=f"{_DOC} (Bartlett); {_PROOFS}", formula=_BARTLETT,
        control="simulate with the MLE",
        m=10, n=20, dim=3, estimator="unbiased", method="exact", trials=10_000),
    "gaussian.log_det.mean.unbiased.3d.samples": dict(
        title="E log det Σ_n, unbiased, d=3, sample-based (M=10, n=20)",
        source=f"{_DOC} (Bartlett); {_PROOFS}", formula=_BARTLETT,
        control="simulate with the MLE",
        m=10, n=20, dim=3, estimator="unbiased", method="samples", trials=5_000),
}, run=_log_det_mean)
check_table({
    "gaussian.log_det.var.1d": dict(
        title="Var log σ²_n, 1-D (M=10, n=50)", source=f"{_DOC}; {_PROOFS}",
        formula="n ψ₁((M−1)/2)", control="simulate with M+2 samples per fit",
        m=10, n=50, dim=1, trials=20_000),
    "gaussian.log_det.var.3d": dict(
        title="Var log det Σ_n, d=3 (M=10, n=20)", source=f"{_DOC}; {_PROOFS}",
        formula="n Σ_j ψ₁((M−j)/2)", control="simulate with M+2 samples per fit",
        m=10, n=20, dim=3, trials=10_000),
}, run=_log_det_var)
check_table({
    "gaussian.std.mean.unbiased.1d": _moment(
        "E σ_n", "(c(M))", "σ0 c(M)^n, c(M) = √(2/(M−1)) Γ(M/2)/Γ((M−1)/2)",
        m=20, n=20, dim=1, estimator="unbiased", power=0.5, ylabel="E σ_n"),
    "gaussian.var.mean.mle.1d": _moment(
        "E σ²_n", "(moments)", "σ0² ((M−1)/M)^n", m=100, n=50, dim=1, estimator="mle", power=1.0),
    "gaussian.det.mean.mle.2d": _moment(
        "E det Σ_n", "(moments)", "det Σ0 [Π_j (M−j)/M]^n",
        m=100, n=20, dim=2, estimator="mle", power=1.0),
    "gaussian.det.mean.unbiased.3d": _moment(
        "E det Σ_n", "(Bartlett)", "det Σ0 [Π_j (M−j)/(M−1)]^n",
        m=100, n=20, dim=3, estimator="unbiased", power=1.0),
    "gaussian.std.mean.mle.1d": _moment(
        "E σ_n", "(MLE)", "σ0 Π √(2/M) Γ(M/2)/Γ((M−1)/2)",
        m=20, n=20, dim=1, estimator="mle", power=0.5),
    "gaussian.var_power.k2.unbiased.1d": _moment(
        "E σ⁴_n", "(E σ^{2k}_n)", "σ0⁴ (1 + 2/(M−1))^n",
        m=100, n=20, dim=1, estimator="unbiased", power=2.0),
}, run=_det_power)
check_table({
    "gaussian.mean_sq_dev.unbiased.1d": dict(
        title="E(μ_n − μ_0)², unbiased, 1-D (M=100, n=50)",
        source=f"{_DOC}; {_SCHEDULES}", formula="n σ0² / M",
        control="simulate with the MLE",
        estimator="unbiased", ylabel="E|μ_n − μ_0|²"),
    "gaussian.mean_sq_dev.mle.1d": dict(
        title="E(μ_n − μ_0)², MLE, 1-D (M=100, n=50)", source=f"{_DOC}; {_SCHEDULES}",
        formula="σ0² (1 − ((M−1)/M)^n)", control="simulate with the unbiased estimator",
        estimator="mle"),
    "gaussian.theorem31.mean_sq_dev.2d": dict(
        title="Theorem 3.1: E|μ_n − μ_0|² grows linearly, d=2 (M=100, n=100)",
        source="Shumailov et al. (Nature 2024) Theorem 3.1; arXiv appendix lower bound; "
               f"{_DOC}; {_SCHEDULES}",
        formula="n tr Σ0 / M (≤ E W2², so E W2² → ∞)", control="simulate with the MLE",
        estimator="unbiased", n=100, dim=2, trials=10_000),
}, run=_mean_sq_dev)
check_with(_log_det_mean, "gaussian.theorem31.log_det_drift.2d",
           title="Theorem 3.1: log det Σ_n drifts to −∞, d=2 (M=10, n=1000)",
           source=f"Shumailov et al. (Nature 2024) Theorem 3.1; {_DOC}; {_PROOFS}",
           formula=f"E log det Σ_n = {_BARTLETT} (drift < 0)", control="simulate with the MLE",
           m=10, n=1000, dim=2, estimator="unbiased", method="exact", trials=2_000)


@check("gaussian.w2.exact.unbiased.1d", title="E W2²(N(μ_n,σ_n²), D0), unbiased, 1-D (M=100, n=50)",
       source=f"Shumailov et al. 2024 (Nature SI, E W2²); {_DOC} (exact 1-D form); {_W2}",
       formula="σ0²(n/M + 2 − 2 c(M)^n)", control="simulate with the MLE")
def _(key, scale, control):
    m, label = 100, "E W2²(N(μ_n, σ_n²), D0)"
    res, gens = _chain(key, scale, control, estimator="unbiased", n=50, sample_size=m, ylabel=label)
    out = stats.z_last(gens, metrics.w2_squared_to_d0(res), theory.expected_w2_squared(gens, m),
                       label)
    out.curve["paper"] = np.asarray(theory.paper_w2_squared(res.generation, m)).tolist()
    return out


def _linear_schedule(n: int, shift: int = 0) -> np.ndarray:
    return 5 + 5 * np.arange(1, n + 1) + shift


@check("gaussian.schedule.log_det.linear", title="E log σ²_n under M_i = 5 + 5i (n=40)",
       source=f"{_DOC} (growing M_i); {_PROOFS}",
       formula="Σ_{i≤n} [ψ((M_i−1)/2) + log(2/(M_i−1))]", control="simulate with M_i + 5")
def _(key, scale, control):
    n = 40
    res = gaussian.simulate(key, sample_size=_linear_schedule(n, 5 if control else 0),
                            generations=n, trials=20_000 * scale, record=[n])
    return stats.z_mean(_last_log_det(res),
                        float(theory.expected_log_det(n, _linear_schedule(n))))


def _quadratic_schedule(n: int) -> np.ndarray:
    return 2 + np.arange(1, n + 1) ** 2


@check("gaussian.schedule.mean_sq_dev.quadratic",
       title="E(μ_n − μ_0)² stays bounded under M_i = 2 + i² (n=100)",
       source=f"{_DOC} (Σ 1/M_i < ∞); {_SCHEDULES}",
       formula="σ0² Σ_{i≤n} 1/M_i (bounded)", control="schedule shifted by one fit (M_{i+1} at fit i)")
def _(key, scale, control):
    n = 100
    m = _quadratic_schedule(n + 1)
    res = gaussian.simulate(key, sample_size=m[1:] if control else m[:-1], generations=n,
                            trials=20_000 * scale, record=[n])
    return stats.z_mean(_mean_sq(res)[:, -1], float(theory.expected_mean_sq_dev(n, m[:-1])))


check_with(_mean_sq_dev, "gaussian.real_data.student_t.mean_sq_dev",
           title="E(μ_n − μ_0)² with Student-t(5) real data, unbiased (M=100, n=20)",
           source=f"Theorem 3.1 (any D0 with finite variance); {_DOC}; {_SCHEDULES}",
           formula="n σ0² / M (only D0's variance enters)", control="simulate with the MLE",
           estimator="unbiased", n=20, data="student-t:5")


@check("gaussian.real_data.laplace.first_fit_variance",
       title="E σ²_1 = σ0² for Laplace real data, unbiased (M=20)",
       source=f"unbiasedness of the sample variance for any D0; {_DOC}",
       formula="σ0²", control="simulate with the MLE")
def _(key, scale, control):
    res, _ = _chain(key, scale, control, estimator="unbiased", n=1, sample_size=20, data="laplace")
    return stats.z_mean(np.exp(_last_log_det(res)), 1.0)


_SAME_LAW = f"Bartlett decomposition (exact method) vs the literal process; {_DOC}"

check_table({
    "gaussian.exact_vs_samples.log_det.1d": dict(
        title="exact and sample-based chains: same law of log σ²_n (M=10, n=20)", source=_SAME_LAW,
        formula="law(log σ²_n | exact) = law(log σ²_n | samples)",
        control="sample-based chain with the MLE",
        m=10, n=20, dim=1, trials=10_000, statistic=_last_log_det,
        control_kwargs=dict(estimator="mle")),
    "gaussian.exact_vs_samples.log_det.3d": dict(
        title="exact and sample-based chains: same law of log det Σ_n, d=3 (M=8, n=10)",
        source=_SAME_LAW, formula="law(log det Σ_n | exact) = law(log det Σ_n | samples)",
        control="sample-based chain with the MLE",
        m=8, n=10, dim=3, trials=5_000, statistic=_last_log_det,
        control_kwargs=dict(estimator="mle")),
    "gaussian.exact_vs_samples.mean.1d": dict(
        title="exact and sample-based chains: same law of μ_n (M=10, n=20)",
        source=f"independence of sample mean and scatter; exact vs literal process; {_DOC}",
        formula="law(μ_n | exact) = law(μ_n | samples)", control="sample-based chain with M=4",
        m=10, n=20, dim=1, trials=10_000,
        statistic=lambda r: np.asarray(r.mean, np.float64)[:, -1, 0],
        control_kwargs=dict(sample_size=4)),
}, run=_exact_vs_samples)

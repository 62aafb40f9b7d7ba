"""The paper's 1-D drift figure: the fitted mean and standard deviation wander away from D0.

Shumailov et al. (Nature 2024, Fig. on the Gaussian chain) plot ``|μ0 − μ_n|`` and
``|σ0 − σ_n|`` for one chain per sample size ``M``; here every ``M`` gets many chains, drawn as
the median and the 10–90 % band over trials.  Each panel overlays theory for the statistic it
shows: left, the root mean square over chains (dots) against the closed form
``√E(μ_n − μ0)² = √(n/M)`` (unbiased; :mod:`collapse_theory.theory.gaussian`); right, the
median and 10/90 % quantiles of ``|σ0 − σ_n|`` under the chain's exact law
(:func:`._common.std_gap_quantiles`, a Fourier inversion of the law of ``log σ²_n``).  D0 is ``N(0, 1)``; chains run with the exact (Bartlett) step in float64,
whose cost does not depend on ``M``.

:func:`w2_figure` draws the paper's Wasserstein claim and Theorem 3.1: the mean over chains of
``W2²(N(μ_n, σ_n²), N(0, 1)) = μ_n² + (σ_n − 1)²`` against the exact
``E W2² = n/M + 2 − 2 c(M)^n`` and the paper's ``(3/2) n/M``; and ``log det Σ_n`` in ``d``
dimensions against its closed-form mean ``n Σ_j [ψ((M−j)/2) + log(2/(M−1))]`` (a random walk
with negative drift: ``Σ_n → 0`` almost surely).
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _validate, gaussian
from ..theory import gaussian as gtheory
from ._common import MAX_GENERATIONS, band, generation_axis, pyplot, save, std_gap_quantiles

DEFAULT_SAMPLE_SIZES = (100, 1000, 10_000, 100_000, 10 ** 7)


def drift_figure(path, *, sample_sizes=DEFAULT_SAMPLE_SIZES, generations=1000, trials=2000,
                 seed=0, estimator="unbiased", progress: bool = False, memory_limit=None):
    """Write the two-panel drift figure (PNG) to ``path`` and return ``path``.

    Args:
      sample_sizes: the ``M`` of each curve (constant over generations), each ``≥ 2``.
      generations: number of fits ``G ≥ 1`` (recorded at log-spaced generations).
      trials: chains per ``M``.
      seed: PRNG seed; sample size ``i`` uses ``fold_in(key(seed), i)``.
      estimator: ``"unbiased"`` or ``"mle"``.
      progress: show each simulation's progress on stderr.
      memory_limit: bytes each simulation may use (default: this machine's memory).
    """
    plt = pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from ..theory.gaussian import expected_mean_sq_dev

    path = _validate.writable_path("path", path)
    generations = _validate.integer("generations", generations, minimum=1,
                                    maximum=MAX_GENERATIONS)
    trials = _validate.integer("trials", trials, minimum=1)
    seed = _validate.seed(seed)
    estimator = _validate.choice("estimator", estimator, gaussian.ESTIMATORS)
    if isinstance(sample_sizes, (str, bytes)) or not np.iterable(sample_sizes) or not len(sample_sizes):
        raise TypeError(f"sample_sizes must be a non-empty sequence of integers, got {sample_sizes!r}")
    sample_sizes = [_validate.integer("sample_sizes", m, minimum=2) for m in sample_sizes]

    key = jax.random.key(seed)
    fig, (ax_mu, ax_sd) = plt.subplots(1, 2, figsize=(12, 4.8), sharex=True)
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(sample_sizes)))
    with jax.enable_x64(True):
        for i, (m, colour) in enumerate(zip(sample_sizes, colours)):
            res = gaussian.simulate(jax.random.fold_in(key, i), sample_size=m,
                                    generations=generations, trials=trials,
                                    estimator=estimator, record="log", progress=progress,
                                    memory_limit=memory_limit)
            n = np.asarray(res.generation)[1:]
            dev_mu = np.abs(np.asarray(res.mean)[:, 1:, 0])
            dev_sd = np.abs(1.0 - np.exp(0.5 * np.asarray(res.log_det)[:, 1:]))
            for ax, dev in ((ax_mu, dev_mu), (ax_sd, dev_sd)):
                band(ax, n, dev, colour, f"M = {m:,}")
            ax_mu.plot(n, np.sqrt(np.mean(dev_mu ** 2, axis=0)), "o", ms=3, color=colour)
            ax_mu.plot(n, np.sqrt(expected_mean_sq_dev(n, m, dim=1, estimator=estimator,
                                                       trace0=1.0)),
                       color=colour, lw=1.2, ls="--")
            lo, med, hi = std_gap_quantiles(n, m, [0.1, 0.5, 0.9], estimator)
            ax_sd.plot(n, med, color=colour, lw=1.2, ls="--")
            ax_sd.plot(n, lo, color=colour, lw=0.8, ls=":")
            ax_sd.plot(n, hi, color=colour, lw=0.8, ls=":")

    ax_mu.set_title(r"$|\mu_0 - \hat\mu_n|$; dots: root mean square over chains;" "\n"
                    r"dashed: its closed form $\sqrt{E(\mu_n-\mu_0)^2}$", fontsize=10)
    ax_sd.set_title(r"$|\sigma_0 - \hat\sigma_n|$; dashed: median, dotted: 10% and 90% of"
                    "\nthe exact law (compare with the median and the band)", fontsize=10)
    for ax in (ax_mu, ax_sd):
        generation_axis(ax)
    ax_mu.set_ylabel(r"$|\mu_0 - \hat\mu_n|$ (D0 = N(0, 1))")
    ax_sd.set_ylabel(r"$|\sigma_0 - \hat\sigma_n|$")
    ax_mu.legend(handles=[Line2D([], [], color="k", lw=1.8, label="median over chains"),
                          Patch(color="k", alpha=0.18, label="10–90% of chains"),
                          Line2D([], [], color="k", marker="o", ms=3, ls="",
                                 label="root mean square over chains"),
                          Line2D([], [], color="k", lw=1.2, ls="--", label="closed form")],
                 loc="lower right", fontsize=8)
    ax_sd.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"Gaussian refitting chain, 1-D, {estimator} fit, {trials:,} chains per M")
    return save(fig, path)


def w2_results(key, *, sample_sizes=(10, 100, 1000), dims=(1, 2, 5), dim_sample_size=20,
               generations=1000, trials=2000, progress: bool = False, memory_limit=None):
    """``({M: GaussianResult}, {d: GaussianResult})``: 1-D chains per ``M`` of
    ``sample_sizes`` (``fold_in(key, i)``) and ``d``-dimensional chains with ``M =
    dim_sample_size`` per ``d`` of ``dims`` (``fold_in(key, 1000 + j)``), unbiased, float64,
    recorded at log-spaced generations."""
    run = dict(generations=generations, trials=trials, record="log", progress=progress,
               memory_limit=memory_limit)
    with jax.enable_x64(True):
        one = {m: gaussian.simulate(jax.random.fold_in(key, i), sample_size=m, **run)
               for i, m in enumerate(sample_sizes)}
        multi = {d: gaussian.simulate(jax.random.fold_in(key, 1000 + j), dim=d,
                                      sample_size=dim_sample_size, **run)
                 for j, d in enumerate(dims)}
    return one, multi


def w2_squared(res) -> np.ndarray:
    """``W2²(N(μ_n, σ_n²), N(0, 1)) = μ_n² + (σ_n − 1)²`` of a 1-D result, ``(trials, R)``."""
    mean = np.asarray(res.mean, np.float64)[..., 0]
    return mean ** 2 + np.expm1(0.5 * np.asarray(res.log_det, np.float64)) ** 2


def w2(path, one_d: dict, multi: dict, *, dim_sample_size):
    """Draw :func:`w2_results` to ``path`` and return ``path``."""
    plt = pyplot()
    fig, (ax_w, ax_d) = plt.subplots(1, 2, figsize=(12, 4.8))
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(one_d)))
    for (m, res), colour in zip(one_d.items(), colours):
        n = np.asarray(res.generation)[1:]
        w = w2_squared(res)[:, 1:]
        se = w.std(0, ddof=1) / np.sqrt(w.shape[0])
        ax_w.errorbar(n, w.mean(0), yerr=2 * se, fmt="o", ms=3, color=colour,
                      label=f"M = {m:,}: mean over {w.shape[0]:,} chains ± 2 SE")
        ax_w.plot(n, np.median(w, 0), color=colour, lw=0.8, ls=":")
        ax_w.plot(n, gtheory.expected_w2_squared(n, m), color=colour, lw=1.2)
        ax_w.plot(n, gtheory.paper_w2_squared(n, m), color=colour, lw=1.0, ls="--")
    ax_w.plot([], [], color="k", lw=1.2, label=r"exact $n/M + 2 - 2c(M)^n$")
    ax_w.plot([], [], color="k", lw=1.0, ls="--", label=r"paper $(3/2)\,n/M$")
    ax_w.plot([], [], color="k", lw=0.8, ls=":", label="median over chains")
    ax_w.set_title(r"$W_2^2(N(\mu_n,\sigma_n^2), N(0,1))$, 1-D, unbiased fit; for $n \gtrsim M$"
                   "\nthe mean is carried by rare chains whose σ has not collapsed", fontsize=10)
    ax_w.set_ylabel(r"$W_2^2$")
    colours = plt.get_cmap("plasma")(np.linspace(0.0, 0.8, len(multi)))
    for (d, res), colour in zip(multi.items(), colours):
        n = np.asarray(res.generation)[1:]
        log_det = np.asarray(res.log_det, np.float64)[:, 1:]
        band(ax_d, n, log_det, colour, f"d = {d}: median, 10–90 %")
        ax_d.plot(n, log_det.mean(0), "o", ms=3, color=colour)
        ax_d.plot(n, gtheory.expected_log_det(n, dim_sample_size, dim=d), "--", color=colour,
                  lw=1.2)
    ax_d.set_title(rf"Theorem 3.1: $\log\det\Sigma_n$ (M = {dim_sample_size}); dots: mean, "
                   "dashed: closed form", fontsize=10)
    ax_d.set_ylabel(r"$\log\det\Sigma_n$")
    generation_axis(ax_w)
    generation_axis(ax_d, "linear")
    ax_w.legend(fontsize=7, loc="upper left")
    ax_d.legend(fontsize=8, loc="lower left")
    fig.suptitle("Gaussian refitting chain: the Wasserstein error grows without bound while "
                 "the covariance collapses")
    return save(fig, path)


def w2_figure(path, *, sample_sizes=(10, 100, 1000), dims=(1, 2, 5), dim_sample_size=20,
              generations=1000, trials=2000, seed=0, progress: bool = False,
              memory_limit=None):
    """Write the W2 / Theorem 3.1 figure (PNG, :func:`w2`) to ``path`` and return ``path``."""
    path = _validate.writable_path("path", path)
    generations = _validate.integer("generations", generations, minimum=1,
                                    maximum=MAX_GENERATIONS)
    trials = _validate.integer("trials", trials, minimum=2)
    m_d = _validate.integer("dim_sample_size", dim_sample_size, minimum=2)
    sizes = [_validate.integer("sample_sizes", m, minimum=2) for m in sample_sizes]
    dims = [_validate.integer("dims", d, minimum=1, maximum=m_d - 1) for d in dims]
    one, multi = w2_results(jax.random.key(_validate.seed(seed)), sample_sizes=sizes, dims=dims,
                            dim_sample_size=m_d, generations=generations, trials=trials,
                            progress=progress, memory_limit=memory_limit)
    return w2(path, one, multi, dim_sample_size=m_d)

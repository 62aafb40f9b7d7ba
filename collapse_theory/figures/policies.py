"""Figures of the data policies: replace vs accumulate vs accumulate-subsample for the three
families on one page, and the sample-size schedule picture.

Every panel draws the median over chains (line) and the 10–90 % band, and the mean over chains
(dots) against the closed-form means of :mod:`collapse_theory.theory.policies` (dashed) where
they exist — like with like; accumulate-subsample has none.  Under replace the Gaussian chain's
sample mean of σ²_n is dominated by rare chains (its relative variance grows geometrically), so
that panel overlays instead the *exact* median and 10/90 % quantiles of σ²_n
(:func:`._common.log_variance_law`) on the simulated median and band.
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _validate, discrete, gaussian, policies, regression
from ._common import (POLICY_COLOURS, band, chain_sizes, generation_axis, log_variance_law,
                      pyplot, save)


def policies_figure(path, *, generations=100, trials=1000, sample_size=10, seed=0,
                    progress: bool = False, memory_limit=None):
    """Write the three-panel policy comparison (PNG) to ``path`` and return ``path``.

    Gaussian σ²_n (1-D, MLE), discrete Gini–Simpson H_n (K = 5, ``p_0 ∝ (5, 4, 3, 2, 1)``) and
    regression ``‖ŵ_n − w*‖²`` (``T = 2M``, ``d = 4``, σ² = 0.5, fixed design for the closed
    form of accumulate), each under replace, accumulate and accumulate-subsample with ``M``
    points per batch.  ``progress`` shows each simulation's progress on stderr;
    ``memory_limit``: bytes each may use.
    """
    from ..theory import policies as ptheory

    plt = pyplot()
    path, g, trials, m = chain_sizes(path, generations, trials, sample_size, min_sample_size=6)
    key = jax.random.key(_validate.seed(seed))
    names = list(POLICY_COLOURS)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    probs = np.arange(5, 0, -1) / 15.0
    h0 = 1.0 - np.sum(probs**2)
    rows, dim, noise = 2 * m, 4, 0.5
    with jax.enable_x64(True):
        for i, name in enumerate(names):
            colour = POLICY_COLOURS[name]
            k = jax.random.fold_in(key, i)
            res = gaussian.simulate(k, sample_size=m, generations=g, trials=trials,
                                    estimator="mle", policy=name, record="log",
                                    progress=progress, memory_limit=memory_limit)
            n = np.asarray(res.generation)
            var = np.exp(np.asarray(res.log_det))[:, 1:]
            band(axes[0], n[1:], var, colour, name)
            if name == "replace":
                x, cdf = log_variance_law(n[1:], m, "mle")
                lo, med, hi = (np.exp([np.interp(q, c, xx) for xx, c in zip(x, cdf)])
                               for q in (0.1, 0.5, 0.9))
                axes[0].plot(n[1:], med, "-.", color="k", lw=1.0,
                             label="replace: exact median, 10% and 90%")
                axes[0].plot(n[1:], lo, ":", color="k", lw=0.8)
                axes[0].plot(n[1:], hi, ":", color="k", lw=0.8)
            else:
                axes[0].plot(n[1:], var.mean(0), "o", ms=3, color=colour)
            res = discrete.simulate(k, probs, sample_size=m, generations=g, trials=trials,
                                    policy=name, record="log", progress=progress,
                                    memory_limit=memory_limit)
            nd = np.asarray(res.generation)
            gini = np.asarray(discrete.gini_simpson(res))
            band(axes[1], nd, gini, colour, name)
            axes[1].plot(nd, gini.mean(0), "o", ms=3, color=colour)
            res = regression.simulate(k, rows=rows, dim=dim, generations=g, trials=trials,
                                      noise=noise, design="fixed", policy=name, record="log",
                                      progress=progress, memory_limit=memory_limit)
            nr = np.asarray(res.generation)
            err = np.asarray(res.error)[:, 1:]
            band(axes[2], nr[1:], err, colour, name)
            axes[2].plot(nr[1:], err.mean(0), "o", ms=3, color=colour)
    gen = np.arange(1, g + 1)
    axes[0].plot(gen, ptheory.accumulate_variance_factor(m, g, "mle")[1:], "--",
                 color=POLICY_COLOURS["accumulate"], lw=1.2)
    axes[0].axhline(ptheory.accumulate_variance_limit(m), color=POLICY_COLOURS["accumulate"],
                    lw=0.8, ls=":", label=r"accumulate limit $\sin(\pi/\sqrt{M})/(\pi/\sqrt{M})$")
    axes[1].plot(gen, h0 * (1 - 1 / m) ** gen, "--", color=POLICY_COLOURS["replace"], lw=1.2)
    axes[1].plot(gen, h0 * ptheory.accumulate_gini_simpson_factor(m, g)[1:], "--",
                 color=POLICY_COLOURS["accumulate"], lw=1.2)
    axes[2].plot(gen, ptheory.regression_error(g, rows, dim, noise)[1:], "--",
                 color=POLICY_COLOURS["replace"], lw=1.2)
    axes[2].plot(gen, ptheory.regression_error(g, rows, dim, noise, "accumulate")[1:], "--",
                 color=POLICY_COLOURS["accumulate"], lw=1.2)
    axes[2].axhline(noise * dim / (rows - dim - 1) * np.pi**2 / 6, color="k", lw=0.8, ls=":",
                    label=r"$\sigma^2 d/(T-d-1)\cdot\pi^2/6$")
    titles = [rf"Gaussian: $\hat\sigma^2_n$ (MLE, M = {m})",
              rf"discrete: Gini–Simpson $H_n$ (K = 5, M = {m})",
              rf"regression: $\|\hat w_n - w^*\|^2$ (T = {rows}, d = {dim}, fixed design)"]
    ylabels = [r"$\hat\sigma^2_n / \sigma^2_0$", r"$H_n = 1 - \sum_i p_{n,i}^2$",
               r"$\|\hat w_n - w^*\|^2$"]
    for ax, title, ylabel in zip(axes, titles, ylabels):
        generation_axis(ax, "linear" if ax is axes[1] else "log")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Data policies, {trials:,} chains: median (line) and 10–90% band; dots: mean "
                 "over chains, dashed: its closed form (accumulate; discrete and regression\n"
                 "replace); Gaussian replace: exact median and 10/90% (dash-dot, dotted); "
                 "accumulate-subsample has no closed form", fontsize=11)
    return save(fig, path)


def schedule_figure(path, *, generations=1000, trials=1000, sample_size=10, seed=0,
                    progress: bool = False, memory_limit=None):
    """Write the sample-size schedule picture (PNG): the replace chain (1-D, unbiased) under
    ``M_i = M`` (constant), ``M·i`` (linear) and ``M·i²`` (quadratic).

    Left: ``(μ_n − μ_0)²``: its mean over chains (markers, ± 2 SE) against the closed form
    ``σ_0² Σ_{i≤n} 1/M_i`` — bounded iff ``Σ 1/M_i < ∞`` (the quadratic schedule; the linear one
    grows like log n) — and the median/10–90 % band (heavy-tailed: the median stays small even
    under constant M, where chains freeze as σ collapses); right: ``log σ̂²_n`` with its
    closed-form mean ``Σ_i [ψ((M_i−1)/2) + log(2/(M_i−1))]``.  ``progress`` shows each
    simulation's progress on stderr; ``memory_limit``: bytes each may use.
    """
    from ..theory import gaussian as gtheory

    plt = pyplot()
    path, g, trials, m = chain_sizes(path, generations, trials, sample_size)
    key = jax.random.key(_validate.seed(seed))
    schedules = {"constant M": policies.constant(m, g), "linear M·i": policies.linear(m, g),
                 "quadratic M·i²": policies.polynomial(m, g, 1.0)}
    fig, (ax_mu, ax_var) = plt.subplots(1, 2, figsize=(12, 4.8))
    gen = np.arange(1, g + 1)
    with jax.enable_x64(True):
        for i, (label, sched) in enumerate(schedules.items()):
            colour = f"C{i}"
            res = gaussian.simulate(jax.random.fold_in(key, i), sample_size=sched,
                                    generations=g, trials=trials, record="log",
                                    progress=progress, memory_limit=memory_limit)
            n = np.asarray(res.generation)[1:]
            sq = np.asarray(res.mean)[:, 1:, 0] ** 2
            lo, med, hi = np.quantile(sq, [0.1, 0.5, 0.9], axis=0)
            ax_mu.fill_between(n, lo, hi, color=colour, alpha=0.10, linewidth=0)
            ax_mu.plot(n, med, color=colour, lw=1.0, alpha=0.6)
            ax_mu.errorbar(n, sq.mean(0), yerr=2 * sq.std(0, ddof=1) / np.sqrt(trials),
                           fmt="o", ms=3, color=colour,
                           label=f"{label}: Σ1/M_i = {policies.reciprocal_sum(sched):.3g}")
            ax_mu.plot(gen, gtheory.expected_mean_sq_dev(gen, sched), "--", color=colour, lw=1.2)
            log_var = np.asarray(res.log_det)[:, 1:]
            band(ax_var, n, log_var, colour, label)
            ax_var.plot(n, log_var.mean(0), "o", ms=3, color=colour)
            ax_var.plot(gen, gtheory.expected_log_det(gen, sched), "--", color=colour, lw=1.2)
    ax_mu.set_title(r"$(\mu_n-\mu_0)^2$: mean (dots), median (thin), 10–90%;"
                    "\n" r"dashed: $E = \sigma_0^2\sum_{i=1}^{n} 1/M_i$", fontsize=10)
    ax_var.set_title(r"$\log\hat\sigma^2_n$ (unbiased): median, 10–90%; dots: mean over chains;"
                     "\ndashed: its closed form", fontsize=10)
    ax_mu.set_ylabel(r"$(\mu_n - \mu_0)^2$")
    ax_var.set_ylabel(r"$\log\hat\sigma^2_n$")
    for ax, yscale in ((ax_var, "linear"), (ax_mu, "log")):
        generation_axis(ax, yscale)
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Growing sample sizes (replace, 1-D, M = {m}, {trials:,} chains): error "
                 "bounded iff Σ 1/M_i < ∞")
    return save(fig, path)

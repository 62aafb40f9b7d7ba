"""Figures of the data policies: replace vs accumulate vs accumulate-subsample for the three
families on one page, and the sample-size schedule picture.

Every panel draws the median over chains (line) and the 10–90 % band, with the closed forms of
:mod:`collapse_theory.theory.policies` (means, dashed) where they exist; accumulate-subsample has
none.
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _validate, discrete, gaussian, policies, regression
from ._common import POLICY_COLOURS, band, chain_sizes, generation_axis, pyplot, save


def policies_figure(path, *, generations=100, trials=1000, sample_size=10, seed=0):
    """Write the three-panel policy comparison (PNG) to ``path`` and return ``path``.

    Gaussian σ²_n (1-D, MLE), discrete Gini–Simpson H_n (K = 5, ``p_0 ∝ (5, 4, 3, 2, 1)``) and
    regression ``‖ŵ_n − w*‖²`` (``T = 2M``, ``d = 4``, σ² = 0.5, fixed design for the closed
    form of accumulate), each under replace, accumulate and accumulate-subsample with ``M``
    points per batch.
    """
    from ..theory import gaussian as gtheory
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
                                    estimator="mle", policy=name, record="log")
            n = np.asarray(res.generation)
            band(axes[0], n[1:], np.exp(np.asarray(res.log_det))[:, 1:], colour, name)
            res = discrete.simulate(k, probs, sample_size=m, generations=g, trials=trials,
                                    policy=name, record="log")
            nd = np.asarray(res.generation)
            band(axes[1], nd, np.asarray(discrete.gini_simpson(res)), colour, name)
            res = regression.simulate(k, rows=rows, dim=dim, generations=g, trials=trials,
                                      noise=noise, design="fixed", policy=name, record="log")
            nr = np.asarray(res.generation)
            band(axes[2], nr[1:], np.asarray(res.error)[:, 1:], colour, name)
    gen = np.arange(1, g + 1)
    axes[0].plot(gen, gtheory.expected_variance_power(gen, m, 1.0, "mle"), "--",
                 color=POLICY_COLOURS["replace"], lw=1.2)
    axes[0].plot(gen, ptheory.accumulate_variance_factor(m, g, "mle")[1:], "--",
                 color=POLICY_COLOURS["accumulate"], lw=1.2)
    axes[0].axhline(ptheory.accumulate_variance_limit(m), color="k", lw=0.8, ls=":",
                    label=r"$\sin(\pi/\sqrt{M})/(\pi/\sqrt{M})$")
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
    for ax, title in zip(axes, titles):
        generation_axis(ax, "linear" if ax is axes[1] else "log")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Data policies: median and 10–90% band over {trials:,} chains; dashed: closed-"
                 "form means (replace, accumulate); accumulate-subsample has no closed form")
    return save(fig, path)


def schedule_figure(path, *, generations=1000, trials=1000, sample_size=10, seed=0):
    """Write the sample-size schedule picture (PNG): the replace chain (1-D, unbiased) under
    ``M_i = M`` (constant), ``M·i`` (linear) and ``M·i²`` (quadratic).

    Left: ``(μ_n − μ_0)²``: its mean over chains (markers, ± 2 SE) against the closed form
    ``σ_0² Σ_{i≤n} 1/M_i`` — bounded iff ``Σ 1/M_i < ∞`` (the quadratic schedule; the linear one
    grows like log n) — and the median/10–90 % band (heavy-tailed: the median stays small even
    under constant M, where chains freeze as σ collapses); right: ``log σ̂²_n`` with its
    closed-form mean ``Σ_i [ψ((M_i−1)/2) + log(2/(M_i−1))]``.
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
                                    generations=g, trials=trials, record="log")
            n = np.asarray(res.generation)[1:]
            sq = np.asarray(res.mean)[:, 1:, 0] ** 2
            lo, med, hi = np.quantile(sq, [0.1, 0.5, 0.9], axis=0)
            ax_mu.fill_between(n, lo, hi, color=colour, alpha=0.10, linewidth=0)
            ax_mu.plot(n, med, color=colour, lw=1.0, alpha=0.6)
            ax_mu.errorbar(n, sq.mean(0), yerr=2 * sq.std(0, ddof=1) / np.sqrt(trials),
                           fmt="o", ms=3, color=colour,
                           label=f"{label}: Σ1/M_i = {policies.reciprocal_sum(sched):.3g}")
            ax_mu.plot(gen, gtheory.expected_mean_sq_dev(gen, sched), "--", color=colour, lw=1.2)
            band(ax_var, n, np.asarray(res.log_det)[:, 1:], colour, label)
            ax_var.plot(gen, gtheory.expected_log_det(gen, sched), "--", color=colour, lw=1.2)
    ax_mu.set_title(r"$(\mu_n-\mu_0)^2$: mean (dots), median (thin), 10–90%;"
                    "\n" r"dashed: $E = \sigma_0^2\sum_{i=1}^{n} 1/M_i$", fontsize=10)
    ax_var.set_title(r"$\log\hat\sigma^2_n$ (unbiased): median, 10–90%; dashed: closed-form mean",
                     fontsize=10)
    for ax, yscale in ((ax_var, "linear"), (ax_mu, "log")):
        generation_axis(ax, yscale)
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Growing sample sizes (replace, 1-D, M = {m}, {trials:,} chains): error "
                 "bounded iff Σ 1/M_i < ∞")
    return save(fig, path)

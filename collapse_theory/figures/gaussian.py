"""The paper's 1-D drift figure: the fitted mean and standard deviation wander away from D0.

Shumailov et al. (Nature 2024, Fig. on the Gaussian chain) plot ``|μ0 − μ_n|`` and
``|σ0 − σ_n|`` for one chain per sample size ``M``; here every ``M`` gets many chains, drawn as
the median and the 10–90 % band over trials.  Each panel overlays theory for the statistic it
shows: left, the root mean square over chains (dots) against the closed form
``√E(μ_n − μ0)² = √(n/M)`` (unbiased; :mod:`collapse_theory.theory.gaussian`); right, the
median and 10/90 % quantiles of ``|σ0 − σ_n|`` under the chain's exact law
(:func:`._common.std_gap_quantiles`, a Fourier inversion of the law of ``log σ²_n``).  D0 is ``N(0, 1)``; chains run with the exact (Bartlett) step in float64,
whose cost does not depend on ``M``.
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _validate, gaussian
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

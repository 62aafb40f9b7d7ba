"""The KDE refitting chain: replace vs accumulate, fixed bandwidth vs Scott's rule.

Top: the model variance ``V_n = s²_n + h²_n`` (median and 10–90 % band over chains, mean as
dots) with the closed-form means of :mod:`collapse_theory.theory.kde` (dashed); bottom: the
density ``f_n`` of one chain at a few generations under each policy (fixed ``h``), against D0.
Under replace with a fixed ``h`` the median of ``V_n`` stays well below its mean ``→ M h²``:
the centres descend from few ancestors (a coalescent) and ``V_n`` is right-skewed.
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _validate, kde
from ..theory import kde as theory
from ._common import POLICY_COLOURS, band, chain_sizes, generation_axis, pyplot, save


def kde_figure(path, *, generations=200, trials=1000, sample_size=20, bandwidth=0.3, seed=0,
               progress: bool = False, memory_limit=None):
    """Write the four-panel KDE figure (PNG) to ``path`` and return ``path``.

    ``bandwidth`` is the fixed ``h`` of the left and bottom panels; the right panel uses Scott's
    rule ``h = σ̂ N^{-1/5}``; there replace grows geometrically (a log axis spanning many
    decades), so an inset redraws accumulate on a linear axis, where it visibly stays bounded.
    D0 is N(0, 1).  ``progress`` shows each simulation's progress on stderr; ``memory_limit``:
    bytes each may use.
    """
    plt = pyplot()
    path, g, trials, m = chain_sizes(path, generations, trials, sample_size)
    h = _validate.real("bandwidth", bandwidth, minimum=0.0, strict_minimum=True)
    key = jax.random.key(_validate.seed(seed))
    shown = sorted({1, min(10, g), max(g // 4, 1), g})
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    inset = axes[0, 1].inset_axes([0.12, 0.33, 0.42, 0.4])
    gen = np.arange(1, g + 1)
    x = np.linspace(-4.5, 4.5, 901)
    with jax.enable_x64(True):
        for i, policy in enumerate(("replace", "accumulate")):
            colour = POLICY_COLOURS[policy]
            for ax, bw in ((axes[0, 0], h), (axes[0, 1], "scott")):
                res = kde.simulate(jax.random.fold_in(key, i), sample_size=m, generations=g,
                                   trials=trials, bandwidth=bw, policy=policy, record="log",
                                   progress=progress, memory_limit=memory_limit)
                n = np.asarray(res.generation)
                values = np.asarray(res.variance)[:, 1:]
                band(ax, n[1:], values, colour, policy)
                ax.plot(n[1:], values.mean(0), "o", ms=3, color=colour)
                expected = theory.moments(m, g, bandwidth=bw, policy=policy).variance
                ax.plot(gen, expected[1:], "--", color=colour, lw=1.2)
                if bw == "scott" and policy == "accumulate":
                    band(inset, n[1:], values, colour, policy)
                    inset.plot(n[1:], values.mean(0), "o", ms=2, color=colour)
                    inset.plot(gen, expected[1:], "--", color=colour, lw=1.2)
            one = kde.simulate(jax.random.fold_in(key, 10 + i), sample_size=m, generations=g,
                               trials=1, bandwidth=h, policy=policy, record=shown, centres=True,
                               progress=progress, memory_limit=memory_limit)
            dens = one.density(x)
            ax = axes[1, i]
            ax.plot(x, np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi), "k--", lw=1.2, label="D0")
            for j, gg in enumerate(np.asarray(one.generation)):
                ax.plot(x, dens[j], color=plt.cm.viridis(j / max(len(shown) - 1, 1)), lw=1.3,
                        label=f"n = {gg} (N = {one.size[j]}, V = {float(one.variance[0, j]):.2f})")
            ax.set_title(f"{policy}: density f_n of one chain (fixed h = {h:g}, M = {m})",
                         fontsize=10)
            ax.set_xlabel("x")
            ax.legend(fontsize=8, loc="upper right")
            ax.grid(True, alpha=0.3)
    axes[0, 0].axhline(m * h * h, color="k", lw=0.8, ls=":", label=r"replace limit $M h^2$")
    axes[0, 0].set_title(rf"$V_n = s_n^2 + h^2$, fixed h = {h:g}: replace → $M h^2$, "
                         r"accumulate grows like $h^2\log n$", fontsize=10)
    axes[0, 1].set_title(r"$V_n$, Scott $h = \hat\sigma N^{-1/5}$: replace explodes "
                         rf"($\rho$ = {theory.scott_growth_factor(m):.3f}), accumulate bounded",
                         fontsize=10)
    for ax in axes[0]:
        generation_axis(ax)
        ax.set_ylabel(r"$V_n = s_n^2 + h_n^2$ (D0: $V_0 = 1$)")
        ax.legend(fontsize=8, loc="upper left")
    generation_axis(inset, "linear")
    inset.set_ylim(0, None)
    inset.set_xlabel("")
    inset.tick_params(labelsize=7)
    inset.set_title("accumulate, linear axis: bounded", fontsize=8)
    for ax in axes[1]:
        ax.set_ylabel("density")
    fig.suptitle(f"KDE refitting chain (D0 = N(0, 1), M = {m}): median and 10–90% band over "
                 f"{trials:,} chains; dots: mean over chains; dashed: closed-form E V_n")
    return save(fig, path)

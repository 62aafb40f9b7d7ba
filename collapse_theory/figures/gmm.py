"""The paper's GMM figures: one chain's fits over generations, and the L2 distance to D0.

Shumailov et al. (2024) show a 2-component GMM refitted on 1000 of its own samples at
generations {0, 50, 100, 150, 200, 350, 2000} of a single run, and the L2 distance between
each fit and the original.  :func:`panel_figure` draws the first for one trial (samples of
each fit, 1σ and 2σ ellipses of the components holding at least one point);
:func:`l2_figure` the second over many trials (median and quantile bands, log scale).
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _validate, gmm, mixture
from ._common import generation_axis, pyplot, save

PANEL_GENERATIONS = (0, 50, 100, 150, 200, 350, 2000)
#: Largest generation a GMM figure runs to: EM refits every generation (the paper's run is 2000;
#: 10⁵ generations of one chain already take many minutes on a CPU).
MAX_GENERATIONS = 100_000


def _ellipse(mean, chol, radius, n=120):
    """Points of ``{μ + r L u : |u| = 1}`` in the first two coordinates (``L[:2, :2]`` is the
    Cholesky factor of the marginal covariance, ``L`` being lower triangular)."""
    t = np.linspace(0.0, 2 * np.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)])
    return mean[:2, None] + radius * chol[:2, :2] @ circle


def panel_figure(path, *, generations=PANEL_GENERATIONS, sample_size=1000, seed=0, trial=0,
                 points=1000, init="warm", progress: bool = False, memory_limit=None):
    """Write the panel of one chain's fits (PNG) to ``path`` and return ``path``.

    Args:
      generations: generations to show, each in ``[0, MAX_GENERATIONS]``; one panel each, on a
        grid of up to four columns with shared axes (the collapse shows as shrinking clouds).
      sample_size: ``M`` per fit (the paper: 1000).
      seed, trial: the chain is trial ``trial`` of ``gmm.simulate(key(seed), ...)``.
      points: samples of each fit drawn for the scatter.
      init: ``"warm"`` or ``"kmeans++"`` (see :func:`gmm.simulate`).
      progress: show the simulation's progress on stderr.
      memory_limit: bytes the simulation may use (default: this machine's memory).
    """
    plt = pyplot()
    path = _validate.writable_path("path", path)
    seed = _validate.seed(seed)
    trial = _validate.integer("trial", trial, minimum=0)
    points = _validate.integer("points", points, minimum=1)
    if isinstance(generations, (str, bytes)) or not np.iterable(generations):
        raise TypeError(f"generations must be a sequence of integers, got {generations!r}")
    gens = [_validate.integer("generations", g, minimum=0, maximum=MAX_GENERATIONS)
            for g in generations]
    if not gens:
        raise ValueError("generations must name at least one generation")
    res = gmm.simulate(jax.random.key(seed), sample_size=sample_size, generations=max(gens),
                       trials=trial + 1, record=gens, init=init, progress=progress,
                       memory_limit=memory_limit)
    rec = [int(g) for g in np.asarray(res.generation)]
    weights, means, chol = (np.asarray(a, np.float64)[trial] for a in (res.weights, res.means,
                                                                        res.chol))
    std = np.asarray(mixture.component_std(res.mixture), np.float64)[trial]
    m = int(sample_size) if np.ndim(sample_size) == 0 else int(np.min(sample_size))
    cols = min(4, len(rec))
    rows = -(-len(rec) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.4 * rows + 0.6), squeeze=False,
                             sharex=True, sharey=True)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
    keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 2 ** 31), len(rec))
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    for i, (ax, g) in enumerate(zip(axes.flat, rec)):
        fit = mixture.Mixture(weights[i], means[i], chol[i])
        x = np.asarray(mixture.sample(keys[i], jax.tree.map(np.float32, fit), points))
        ax.scatter(x[:, 0], x[:, 1], s=2, color="0.5", alpha=0.4, linewidths=0)
        lo, hi = np.minimum(lo, x[:, :2].min(0)), np.maximum(hi, x[:, :2].max(0))
        live = weights[i] * m >= 1
        for k in np.flatnonzero(live):
            c = colours[k % len(colours)]
            for r, ls in ((1.0, "-"), (2.0, "--")):
                e = _ellipse(means[i, k], chol[i, k], r)
                ax.plot(e[0], e[1], color=c, lw=1.2, ls=ls)
        label = ", ".join(f"{s:.3g}" for s in std[i][live])
        ax.set_title(f"generation {g}: component std {label}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * 1.08
    for ax in axes.flat:
        ax.set_xlim(centre[0] - half[0], centre[0] + half[0])
        ax.set_ylim(centre[1] - half[1], centre[1] + half[1])
        ax.set_aspect("equal", adjustable="box")
    fig.set_size_inches(3.4 * cols, (3.1 * half[1] / half[0] + 0.55) * rows + 0.7)
    for i, ax in enumerate(axes.flat):
        if i >= len(rec):
            ax.axis("off")
        elif i + cols >= len(rec):  # the lowest panel of its column
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("$x_1$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$x_2$")
    fig.suptitle(f"GMM refitting chain, M = {m}, trial {trial} (seed {seed}), shared axes: "
                 f"{points} samples of each fit,\n1σ (solid) and 2σ (dashed) ellipses of the "
                 "components holding ≥ 1 point", fontsize=10)
    return save(fig, path)


def l2_figure(path, *, generations=2000, trials=256, sample_size=1000, seed=0,
              policies=("replace",), init="warm", progress: bool = False, memory_limit=None):
    """Write the L2-distance-to-D0 curves (PNG) to ``path`` and return ``path``.

    One chain set per policy (policy ``i`` uses ``fold_in(key(seed), i)``), recorded at
    log-spaced generations, drawn by :func:`l2`; ``generations ≤ MAX_GENERATIONS``;
    ``progress`` shows each simulation's progress on stderr; ``memory_limit``: bytes each may use.
    """
    path = _validate.writable_path("path", path)
    seed = _validate.seed(seed)
    generations = _validate.integer("generations", generations, minimum=1,
                                    maximum=MAX_GENERATIONS)
    if isinstance(policies, str):
        policies = (policies,)
    results = {policy: gmm.simulate(jax.random.fold_in(jax.random.key(seed), i),
                                    sample_size=sample_size, generations=generations,
                                    trials=trials, record="log", policy=policy, init=init,
                                    progress=progress, memory_limit=memory_limit)
               for i, policy in enumerate(policies)}
    return l2(path, results, sample_size=sample_size)


def l2(path, results, *, sample_size):
    """Draw ``{policy: GMMResult}`` (chains of the paper's mixture, :func:`mixture.paper_mixture`)
    to ``path``: per policy the median over chains of ``‖f_g − f_0‖₂`` (closed form,
    :func:`mixture.l2_distance`) with 10–90 % and 25–75 % bands (``sample_size``: the chains'
    ``M``, for the title); returns ``path``."""
    plt = pyplot()
    d0 = mixture.paper_mixture()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.8, max(len(results), 1)))
    for (policy, res), colour in zip(results.items(), colours):
        n = np.asarray(res.generation)[1:]
        l2_dist = np.asarray(mixture.l2_distance(res.mixture, d0), np.float64)[:, 1:]
        q10, q25, med, q75, q90 = np.quantile(l2_dist, [0.1, 0.25, 0.5, 0.75, 0.9], axis=0)
        ax.fill_between(n, q10, q90, color=colour, alpha=0.15, linewidth=0)
        ax.fill_between(n, q25, q75, color=colour, alpha=0.3, linewidth=0)
        ax.plot(n, med, color=colour, lw=1.8, label=f"{policy}: median (bands 25–75 %, 10–90 %)")
    generation_axis(ax)
    ax.set_ylabel(r"$\|f_n - f_0\|_{L^2}$")
    ax.legend(fontsize=8, loc="upper left")
    trials = next(iter(results.values())).weights.shape[0]
    ax.set_title(f"GMM refitting chain, M = {sample_size}, {trials} chains: L2 distance to D0")
    return save(fig, path)

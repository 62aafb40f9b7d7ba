r"""Figures of the discrete resampling chain, each with the exact chain overlaid.

* :func:`tail_loss_figure` — the paper's early collapse: a Zipf ``p_0`` refitted to ``M`` samples;
  one chain's fitted probabilities against rank at several generations, with the ``1/M``
  threshold below which a category is likely to get no sample, and the mean number of surviving
  categories against the exact ``Σ_i (1 − P(X_n^i = 0))``.
* :func:`survival_figure` — ``P(X_n > 0)`` for categories with original counts ``x_0 = M p_0``
  against generation: simulated fraction of chains and the exact binomial-chain curve.
* :func:`histogram_figure` — the paper's log-count histograms: over categories, the law of
  ``log₁₀ q_n(i)`` at a few generations for a Zipf ``p_0`` and for real English word frequencies,
  with the ``q = 1/M`` line below which a category is likely to draw no sample (``(1 − q)^M ≈
  e^{−Mq}``); the categories lost are counted in the legend.
* :func:`absorption_figure` — the law of the absorption time of one category and of the time to
  one category (uniform ``p_0`` on ``K`` categories, one run): simulated against the exact law
  from :mod:`collapse_theory.theory.discrete`, with Kimura's and Littler's diffusion means marked.

Each takes ``progress`` (show the simulation's progress on stderr) and ``memory_limit`` (bytes
a simulation may use, as in :func:`collapse_theory.discrete.simulate`) and refuses
``generations > MAX_GENERATIONS`` before any work.
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _validate, discrete, sources
from ..theory import discrete as theory
from ._common import MAX_GENERATIONS, generation_axis, pyplot, save


def _common(path, sample_size, generations, trials, seed):
    path = _validate.writable_path("path", path)
    sample_size = _validate.integer("sample_size", sample_size, minimum=2)
    generations = _validate.integer("generations", generations, minimum=1,
                                    maximum=MAX_GENERATIONS)
    trials = _validate.integer("trials", trials, minimum=1)
    seed = _validate.seed(seed)
    return path, sample_size, generations, trials, jax.random.key(seed)


def tail_loss_figure(path, *, categories=200, exponent=1.1, sample_size=500, generations=200,
                     trials=200, seed=0, progress: bool = False, memory_limit=None):
    """Write the tail-loss figure (PNG) to ``path`` and return ``path``.

    ``p_0`` is Zipf's law with ``categories`` categories and ``exponent`` (:func:`discrete.zipf`).
    """
    path, m, generations, trials, key = _common(path, sample_size, generations, trials, seed)
    p0 = discrete.zipf(categories, exponent)
    res = discrete.simulate(key, p0, sample_size=m, generations=generations, trials=trials,
                            progress=progress, memory_limit=memory_limit)
    gens = np.asarray(res.generation)
    counts = np.asarray(res.counts[0])  # one chain, every generation: (G, K)
    support = np.asarray(discrete.support_size(res), np.float64)
    n_all = np.arange(generations + 1)
    exact = theory.expected_support(p0, m, generations)

    plt = pyplot()
    from matplotlib.colors import LogNorm

    fig, (ax_q, ax_s) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw=dict(width_ratios=[1.15, 1]))
    q = np.vstack([p0, counts / m]).T  # (K, G+1), generation 0 is p0
    rank_edges = np.arange(0.5, p0.size + 1.0)
    gen_edges = np.arange(-0.5, generations + 1.0)
    mesh = ax_q.pcolormesh(gen_edges, rank_edges, np.ma.masked_equal(q, 0.0), cmap="viridis",
                           norm=LogNorm(vmin=min(p0.min(), 1.0 / m), vmax=1.0), shading="flat")
    cbar = fig.colorbar(mesh, ax=ax_q, pad=0.02)
    cbar.set_label(r"$q_n(i) = c_n(i)/M$ (log scale; white: no sample)")
    cbar.ax.axhline(1.0 / m, color="w", lw=2.0)
    cbar.ax.axhline(1.0 / m, color="r", lw=1.0, ls="--")
    below = np.sum(p0 >= 1.0 / m) + 0.5
    ax_q.axhline(below, color="r", ls="--", lw=1.2,
                 label=f"$p_0(i) = 1/M$: ranks below the line start under 1/M = 1/{m}")
    ax_q.set_ylim(p0.size + 0.5, 0.5)
    ax_q.set_xscale("symlog", linthresh=10.0, linscale=1.5)
    ax_q.set_xlim(-0.5, generations + 0.5)
    ticks = [t for t in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t <= generations]
    ax_q.set_xticks(ticks, [str(t) for t in ticks])
    ax_q.set_xlabel("generation n (0 = Zipf $p_0$)")
    ax_q.set_ylabel("category rank i")
    ax_q.set_title("one chain: each category's fitted probability, until its count hits 0",
                   fontsize=10)
    ax_q.legend(fontsize=8, loc="lower right", framealpha=0.9)

    lo, hi = np.quantile(support, [0.1, 0.9], axis=0)
    ax_s.fill_between(gens, lo, hi, color="C0", alpha=0.2, lw=0, label="10–90% of chains")
    ax_s.plot(gens, support.mean(axis=0), "o", ms=4, color="C0",
              label=f"mean over {trials} chains")
    ax_s.plot(n_all[1:], exact[1:], color="k", lw=1.2, label=r"exact $\sum_i P(X^i_n > 0)$")
    ax_s.axhline(np.sum(p0 >= 1.0 / m), color="grey", ls=":", lw=1.2,
                 label=r"categories with $p_0 \geq 1/M$")
    generation_axis(ax_s)
    ax_s.set_ylabel("categories with a sample")
    ax_s.set_title(f"surviving categories (K = {p0.size}, M = {m})")
    ax_s.legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Discrete resampling chain, Zipf $p_0$ (s = {exponent:g}): tail loss", y=0.99)
    return save(fig, path)


def survival_law(original_counts, sample_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x_0, p_0)`` of :func:`survival_figure`: the validated original counts and
    ``p_0 = (x_0/M, ..., 1 − Σ x_0/M)`` (no remainder category when ``Σ x_0 = M``)."""
    m = sample_size
    if isinstance(original_counts, (str, bytes)) or not np.iterable(original_counts):
        raise TypeError(f"original_counts must be a sequence of integers, got {original_counts!r}")
    x0 = np.array([_validate.integer("original_counts", x, minimum=1) for x in original_counts])
    if x0.size == 0 or x0.sum() > m:
        raise ValueError(f"original_counts must be non-empty with sum <= sample_size={m}, "
                         f"got {x0.tolist()}")
    return x0, (np.append(x0 / m, 1.0 - x0.sum() / m) if x0.sum() < m else x0 / m)


def survival_figure(path, *, original_counts=(1, 2, 5, 10, 25), sample_size=50,
                    generations=200, trials=4000, seed=0, progress: bool = False,
                    memory_limit=None):
    """Write the survival figure (PNG): ``P(X_n > 0)`` for categories with ``X_0 = x_0``.

    All categories share one chain: ``p_0 = (x_0/M, ..., remainder)``; each category's count is a
    binomial chain whatever the others do, so the curves are exact marginals.
    """
    path, m, generations, trials, key = _common(path, sample_size, generations, trials, seed)
    x0, p0 = survival_law(original_counts, m)
    res = discrete.simulate(key, p0, sample_size=m, generations=generations, trials=trials,
                            progress=progress, memory_limit=memory_limit)
    ext = np.asarray(res.extinction)[:, : x0.size]
    n = np.arange(generations + 1)
    exact = theory.extinction_probability(x0 / m, m, generations)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, x0.size))
    shown = np.unique(np.round(np.geomspace(1, generations, 40)).astype(int))
    for j, colour in enumerate(colours):
        alive = 1.0 - np.mean((ext[:, j, None] >= 0) & (ext[:, j, None] <= shown[None, :]), 0)
        ax.step(n, 1.0 - exact[:, j], where="post", color=colour, lw=1.2,
                label=f"$x_0$ = {x0[j]} ($p_0$ = {x0[j] / m:.3g})")
        ax.plot(shown, alive, "o", ms=4, mfc="none", color=colour)
    ax.plot([], [], "o", ms=4, mfc="none", color="k", label=f"simulated ({trials} chains)")
    ax.plot([], [], color="k", lw=1.2, label="exact: 1 − P(X_n = 0)")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, generations)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("generation n")
    ax.set_ylabel(r"$P(X_n > 0)$: category still sampled")
    ax.set_title(f"Survival of a category with original count $x_0$ (M = {m})")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(True, alpha=0.3)
    return save(fig, path)


def absorption_figure(path, *, sample_size=50, categories=3, generations=400, trials=4000,
                      seed=0, progress: bool = False, memory_limit=None):
    """Write the absorption-time figure (PNG) and return ``path``.

    One run on the uniform ``p_0`` over ``categories`` categories.  Left: the absorption time
    ``T_1`` (loss or fixation) of category 1; right: the time to one category.  Bars: simulated;
    line: exact law; dashed: exact mean; dotted: Kimura's / Littler's diffusion mean.
    """
    path, m, generations, trials, key = _common(path, sample_size, generations, trials, seed)
    k_cat = _validate.integer("categories", categories, minimum=2)
    p0 = np.full(k_cat, 1.0 / k_cat)
    res = discrete.simulate(key, p0, sample_size=m, generations=generations, trials=trials,
                            record=[generations], progress=progress, memory_limit=memory_limit)
    cases = (
        (np.asarray(discrete.absorption_generation(res))[:, 0],
         theory.absorption_time_pmf(p0[0], m, generations),
         float(theory.absorption_time_mean(p0[0], m)),
         float(theory.kimura_absorption_time(p0[0], m)), "Kimura",
         f"absorption time of category 1 (lost or fixed), $p_0 = 1/{k_cat}$"),
        (np.asarray(res.fixation), theory.fixation_time_pmf(p0, m, generations),
         theory.fixation_time_mean(p0, m), theory.littler_fixation_time(p0, m), "Littler",
         f"time to one category, uniform $p_0$ on K = {k_cat}"),
    )
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    width = max(1, generations // 80)
    edges = np.arange(0, generations + width + 1, width)
    for ax, (times, pmf, exact_mean, approx, name, title) in zip(axes, cases):
        hist, _ = np.histogram(times[times >= 0], bins=edges)
        exact_bins = np.add.reduceat(pmf, edges[edges <= generations])
        ax.bar(edges[:-1], hist / times.size, width=width, align="edge", color="C0", alpha=0.5,
               label=f"simulated ({trials} chains; {np.mean(times < 0):.1%} beyond n = {generations})")
        ax.step(edges[: exact_bins.size], exact_bins, where="post", color="k", lw=1.3,
                label="exact law")
        ax.axvline(exact_mean, color="k", ls="--", lw=1.0, label=f"exact mean {exact_mean:.1f}")
        ax.axvline(approx, color="C3", ls=":", lw=1.5,
                   label=f"{name} {approx:.1f} ({approx / exact_mean - 1:+.1%})")
        ax.set_xlim(0, generations)
        ax.set_xlabel("generation n")
        ax.set_ylabel(f"probability per {width}-generation bin")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Absorption times of the discrete resampling chain (M = {m})")
    return save(fig, path)


#: Generations :func:`histogram_figure` draws (generation 0 is ``p_0``).
HISTOGRAM_GENERATIONS = (0, 1, 10, 100)


def histogram_sources(zipf=(10_000, 1.1), words=("en", 10_000)) -> dict:
    """``{label: p_0}``: Zipf's law on ``zipf = (K, s)`` and the ``words = (lang, K)`` most
    frequent words of a language (:func:`collapse_theory.sources.word_frequencies`)."""
    k, s = zipf
    lang, top = words
    return {f"Zipf, K = {k:,}, s = {s:g}": discrete.zipf(k, s),
            f"{lang} word frequencies, K = {top:,}": np.asarray(
                sources.word_frequencies(lang, top)[1])}


def histogram_results(key, laws: dict, *, sample_size, generations, trials,
                      progress: bool = False, memory_limit=None) -> dict:
    """``{label: DiscreteResult}`` of :func:`discrete.simulate` per ``p_0`` of ``laws``
    (law ``i`` with ``fold_in(key, i)``), recorded at the generations ``≥ 1`` of
    ``generations``."""
    record = sorted({g for g in generations if g >= 1})
    return {label: discrete.simulate(jax.random.fold_in(key, i), p0, sample_size=sample_size,
                                     generations=max(record), trials=trials, record=record,
                                     progress=progress, memory_limit=memory_limit)
            for i, (label, p0) in enumerate(laws.items())}


def histograms(path, results: dict, *, generations=HISTOGRAM_GENERATIONS):
    """Draw the log-count histograms of ``{label: DiscreteResult}`` (one panel each) to
    ``path``: per generation of ``generations`` (0: ``p_0``) the number of categories per
    chain and per decade in each bin of ``log₁₀ q_n(i)`` (one bin per count ``M q`` up to 10),
    pooled over chains, with the line ``q = 1/M``."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 4.8), squeeze=False)
    for ax, (label, res) in zip(axes[0], results.items()):
        m = int(res.sample_size[0])
        p0 = np.asarray(res.probs0)
        recorded = [int(g) for g in np.asarray(res.generation)]
        counts = np.asarray(res.counts)
        trials = counts.shape[0]
        # Bins in count units c = M q: one per count up to 10 (counts are integers), then
        # log-spaced; heights per decade of q, so that bins of any width compare.
        low = min(p0.min() * m, 0.5)
        edges = np.log10(np.unique(np.concatenate([
            np.geomspace(low, 0.5, 6), np.arange(0.5, 10.5), np.geomspace(10.5, m, 40)])) / m)
        colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(generations)))
        for g, colour in zip(generations, colours):
            if g == 0:
                q, lost = p0[None], 0.0
            else:
                q = counts[:, recorded.index(g)] / m
                lost = float(np.mean(np.sum(q == 0, axis=-1)))
            hist, _ = np.histogram(np.log10(q[q > 0]), bins=edges)
            ax.stairs(hist / q.shape[0] / np.diff(edges), edges, color=colour, lw=1.6,
                      label="generation 0: $p_0$" if g == 0 else
                      f"generation {g}: {lost:,.0f} of {p0.size:,} lost")
        ax.axvline(-np.log10(m), color="r", ls="--", lw=1.2, label=f"q = 1/M = 1/{m:,}")
        ax.set_yscale("log")
        ax.set_xlabel(r"$\log_{10} q_n(i)$ (generation 0: $p_0(i)$)")
        ax.set_ylabel("categories per chain, per decade of q")
        ax.set_title(f"{label}, M = {m:,} ({trials} chains pooled)", fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(True, alpha=0.3)
    fig.suptitle("Discrete resampling: the tail below 1/M is lost first (log-count histograms)")
    return save(fig, path)


def histogram_figure(path, *, zipf=(10_000, 1.1), words=("en", 10_000), sample_size=100_000,
                     generations=HISTOGRAM_GENERATIONS, trials=16, seed=0,
                     progress: bool = False, memory_limit=None):
    """Write the log-count histograms (PNG) of a Zipf ``p_0`` and of real word frequencies
    (:func:`histogram_sources`) to ``path``; returns ``path``."""
    gens = [_validate.integer("generations", g, minimum=0, maximum=MAX_GENERATIONS)
            for g in (generations if np.iterable(generations) else [generations])]
    if max(gens) < 1:
        raise ValueError(f"generations must include a generation >= 1, got {gens}")
    path, m, _, trials, key = _common(path, sample_size, max(gens), trials, seed)
    results = histogram_results(key, histogram_sources(zipf, words), sample_size=m,
                                generations=gens, trials=trials, progress=progress,
                                memory_limit=memory_limit)
    return histograms(path, results, generations=gens)

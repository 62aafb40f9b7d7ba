"""The paper's language-model figures (Shumailov et al. 2023, Fig. 1b/c and Fig. 10) from a
:func:`collapse_theory.lm.simulate` result.

:func:`perplexity` draws the test perplexity of real held-out text against generation, one
curve per data policy (Fig. 1b/c: no original data kept against 10 % kept), with the KL to a
known source and the vocabulary survival beside it; :func:`vocabulary` the vocabulary survival
alone, by frequency-rank band of the real text (the tails go first); :func:`histograms`
the per-sequence perplexity of each generation's text under the trial's first model (Fig. 10:
the mode moves to lower perplexity and a long high-perplexity tail grows).  Generation 0 is
the real text; generation ``g ≥ 1`` the ``g``-th fitted model (the paper's ``g − 1``).  Each
function draws what the result holds (nothing is simulated), writes ``path`` atomically and
returns it.
"""

from __future__ import annotations

import numpy as np

from .. import _validate
from ._common import POLICY_COLOURS, pyplot, save

#: Generations :func:`histograms` draws by default (the paper's 0, 1, 2, 3, 5, 9 are fits
#: 1, 2, 3, 4, 6, 10 here; 0 is the real text).
HISTOGRAM_GENERATIONS = (0, 1, 2, 3, 4, 6, 10)


def _colours(results):
    spare = iter(c for c in ("C1", "C4", "C5", "C6", "C8", "C9")
                 if c not in POLICY_COLOURS.values())
    return {label: POLICY_COLOURS.get(label) or next(spare) for label in results}


def _styles(results):
    """A line style per policy (the rank bands take the colours)."""
    return dict(zip(results, ["-", "--", ":", "-."] * len(results)))


def _band(ax, n, values, colour, label):
    """The median over trials and its 10–90 % band, read off the sorted values (an infinite
    perplexity is a value like any other: no interpolation between ∞ and a number; matplotlib
    leaves ∞ undrawn)."""
    lo, med, hi = np.quantile(values, [0.1, 0.5, 0.9], axis=0, method="nearest")
    ax.fill_between(n, lo, hi, color=colour, alpha=0.18, linewidth=0)
    ax.plot(n, med, color=colour, lw=1.8, label=label)


def _rank_bands(ax, n, res, style, label):
    """One median line per real frequency-rank band: the fraction of its types generated."""
    edges = np.asarray(res.band_edges)
    sizes = np.diff(edges)
    frac = np.median(np.asarray(res.band_types, np.float64)[:, :, :sizes.size], axis=0) / sizes
    colours = pyplot().get_cmap("viridis")(np.linspace(0.0, 0.85, sizes.size))
    for b, colour in enumerate(colours):
        ax.plot(n, frac[:, b], style, color=colour, lw=1.6,
                label=f"{edges[b] + 1}–{edges[b + 1]}, {label}")
    ax.set_ylim(0, 1.05)


def vocabulary(path, results):
    """The fraction of each real frequency-rank band's word types still generated against
    generation (``band_types`` over the band's size; median over trials), colour the band, line
    style the policy: the rare words go first where nothing regenerates them (``α = 0``)."""
    plt = pyplot()
    path = _validate.writable_path("path", path)
    if not results:
        raise ValueError("results must hold at least one result")
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    styles = _styles(results)
    for label, res in results.items():
        _rank_bands(ax, np.asarray(res.generation), res, styles[label], label)
    _vocabulary_axes(ax, results)
    trials = sorted({np.shape(r.test_perplexity)[0] for r in results.values()})
    fig.suptitle("Word types generated, by frequency rank in the real text: "
                 f"{', '.join(map(str, trials))} trials per policy", fontsize=10)
    return save(fig, path, rect=(0, 0, 1, 0.95))


def _generation_axis(ax):
    ax.set_xlabel("generation (0 = real text, g = the g-th model)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.3)


def _vocabulary_axes(ax, results):
    notes = [f"{label} {np.median(np.asarray(r.band_types)[:, -1, -1]):g}"
             for label, r in results.items()]
    ax.set_title("Word types by real frequency rank\n(types new to the real text at the end, "
                 "median: " + ", ".join(notes) + ")", fontsize=9)
    ax.set_ylabel("fraction of the band's word types generated")
    _generation_axis(ax)
    ax.legend(fontsize=7, ncol=max(1, len(results) // 2), title="ranks, policy (median)",
              title_fontsize=7)


def perplexity(path, results):
    """Test perplexity, KL to the source and vocabulary survival against generation.

    ``results`` maps a label (the policy) to a result; each curve is the median over trials
    with its 10–90 % band.  Panels: the perplexity of the real test continuations (log axis;
    a dotted line at the source's perplexity ``exp H`` when the KL is known: ``ppl = exp(H +
    KL)`` for test text from the source); ``KL(source ‖ Q_g)`` per token (only where a result
    has it); the word types among the generated continuations (generation 0: the real text),
    as the fraction of each real frequency-rank band still generated (``band_types``; median
    over trials; colour the band, line style the policy), with the types absent from the real
    text counted in a note.
    """
    plt = pyplot()
    path = _validate.writable_path("path", path)
    if not results:
        raise ValueError("results must hold at least one result")
    with_kl = any(not np.all(np.isnan(np.asarray(r.kl, np.float64))) for r in results.values())
    panels = ["test_perplexity"] + (["kl"] if with_kl else []) + ["vocabulary"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4))
    colours = _colours(results)
    trials = set()
    infinite = {}
    styles = _styles(results)
    for label, res in results.items():
        n = np.asarray(res.generation)
        for ax, field in zip(axes, panels):
            if field == "vocabulary":
                _rank_bands(ax, n, res, styles[label], label)
                continue
            values = np.asarray(getattr(res, field), np.float64)
            keep = ~np.all(np.isnan(values), axis=0)
            _band(ax, n[keep], values[:, keep], colours[label], label)
            infinite[field] = infinite.get(field, 0.0) + np.isposinf(values).sum()
        trials.add(np.shape(res.test_perplexity)[0])
    titles = {"test_perplexity": ("perplexity (log scale)", "Perplexity of real test text"),
              "kl": ("nats per token", "KL(source ‖ model)")}
    for ax, field in zip(axes, panels):
        if field in titles:
            ax.set_ylabel(titles[field][0])
            ax.set_title(titles[field][1], fontsize=10)
        _generation_axis(ax)
    for ax, field in zip(axes, panels):
        if not ax.has_data() or not np.isfinite(ax.dataLim.get_points()).all():
            ax.set_xlim(min(np.min(r.generation) for r in results.values()),
                        max(np.max(r.generation) for r in results.values()))
            ax.set_yticks([])
        if infinite.get(field):
            ax.text(0.02, 0.02, f"{int(infinite[field])} values infinite (a token of "
                    "probability 0), not drawn", transform=ax.transAxes, fontsize=7)
    if np.isfinite(axes[0].dataLim.y0) and axes[0].dataLim.y0 > 0:
        axes[0].set_yscale("log")
    axes[0].legend(fontsize=8, title="policy: median, 10–90 % band", title_fontsize=8)
    _vocabulary_axes(axes[-1], results)
    count = ", ".join(map(str, sorted(trials)))
    fig.suptitle(f"Language model refitted on its own continuations: {count} trials per policy",
                 fontsize=11)
    return save(fig, path, rect=(0, 0, 1, 0.94))


def histograms(path, result, *, generations=HISTOGRAM_GENERATIONS, bins=50):
    """Per-sequence perplexity of each generation's text under the trial's first model
    (Fig. 10), pooled over trials: one density curve per generation on a log perplexity axis,
    dark (early) to light (late); the legend gives each generation's median.  ``generations``:
    recorded generations to draw (those not recorded are skipped, at least one must be)."""
    plt = pyplot()
    path = _validate.writable_path("path", path)
    bins = _validate.integer("bins", bins, minimum=2)
    recorded = np.asarray(result.generation)
    gens = [int(g) for g in generations if int(g) in recorded]
    if not gens:
        raise ValueError(f"generations must include a recorded generation; recorded: "
                         f"{recorded.tolist()}, asked: {list(generations)}")
    ppl = np.asarray(result.sequence_perplexity, np.float64)
    pooled = [ppl[:, int(np.searchsorted(recorded, g))].ravel() for g in gens]
    finite = np.concatenate([p[np.isfinite(p) & (p > 0)] for p in pooled])
    if finite.size == 0:
        raise ValueError("no finite per-sequence perplexity to draw")
    edges = np.geomspace(*np.quantile(finite, [0.001, 0.999]) * [0.95, 1.05], bins + 1)
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(gens)))
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for g, p, c in zip(gens, pooled, colours):
        dens, _ = np.histogram(np.log(p[np.isfinite(p)]), np.log(edges), density=True)
        name = "generation 0 (real text)" if g == 0 else f"generation {g}"
        ax.plot(np.sqrt(edges[1:] * edges[:-1]), dens, color=c, lw=1.6,
                label=f"{name}: median {np.median(p):.3g}")
        inf = np.mean(~np.isfinite(p))
        if inf:
            ax.plot([], [], " ", label=f"   {inf:.1%} infinite (a token of probability 0)")
    ax.set_xscale("log")
    ax.set_xlabel("perplexity of a generated sequence under the first model (log scale)")
    ax.set_ylabel("density of log perplexity")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Text of each generation scored by the first model "
                 f"({ppl.shape[0]} trials × {ppl.shape[2]} sequences pooled)", fontsize=10)
    return save(fig, path)

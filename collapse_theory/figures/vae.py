"""The paper's VAE figures (Shumailov et al. 2023, Figs 8–9) from a :func:`vae.simulate` result.

:func:`samples` shows decoded samples of one chain at a few generations (Fig. 9: the digits blur
and lose variety); :func:`latents` the law of the latent means of each generation's samples as
the first fit's encoder sees them (Fig. 8: the tails wash away, the mass gathers at the mode);
:func:`metrics` the latent std, ELBO, class entropy and MMD over generations, bands over trials,
one curve per data policy.  Generation 0 is the real data D0; generation ``g ≥ 1`` is the
``g``-th fitted VAE (the paper's generation ``g − 1``).  Each function draws what the result
holds (nothing is simulated), writes ``path`` atomically and returns it.
"""

from __future__ import annotations

import numpy as np

from .. import _validate
from ._common import POLICY_COLOURS, band, pyplot, save

#: Generations :func:`samples` shows by default.
SAMPLE_GENERATIONS = (0, 1, 5, 10, 20)


def _indices(result, generations) -> tuple[list[int], list[int]]:
    """The recorded generations asked for, and their record indices (``ValueError`` naming the
    recorded ones if one is missing)."""
    if isinstance(generations, (str, bytes)) or not np.iterable(generations):
        raise TypeError(f"generations must be a sequence of integers, got {generations!r}")
    gens = [_validate.integer("generations", g, minimum=0) for g in generations]
    if not gens:
        raise ValueError("generations must name at least one generation")
    recorded = [int(g) for g in np.asarray(result.generation)]
    missing = [g for g in gens if g not in recorded]
    if missing:
        raise ValueError(f"generations {missing} were not recorded (recorded: "
                         f"{', '.join(map(str, recorded))})")
    return gens, [recorded.index(g) for g in gens]


def _label(g: int) -> str:
    return "generation 0: real digits (D0)" if g == 0 else f"generation {g}: VAE fit {g}"


def _mosaic(images: np.ndarray, cols: int = 4, gap: int = 1) -> np.ndarray:
    """``(n, h, w)`` images on a ``cols``-wide grid, ``gap`` blank pixels between them
    (blank cells are NaN, drawn as the background)."""
    n, h, w = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = img
    return out


def samples(path, result, *, trial=0, generations=SAMPLE_GENERATIONS):
    """Sample grids of trial ``trial`` at ``generations`` (the paper's Fig. 9), one panel each.

    Generation 0 shows real digits; ``g ≥ 1`` the decoded Bernoulli means of the ``g``-th VAE at
    the same fixed latents in every panel, so a cell follows one latent point through the
    chain.  Grey levels are pixel intensities in [0, 1] (black = 1).
    """
    plt = pyplot()
    path = _validate.writable_path("path", path)
    gens, idx = _indices(result, generations)
    trial = _validate.integer("trial", trial, minimum=0,
                              maximum=np.shape(result.samples)[0] - 1)
    images = np.asarray(result.samples, np.float64)[trial]
    rows = -(-len(gens) // 4)
    cols = -(-len(gens) // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(2.9 * cols, 3.1 * rows + 0.5), squeeze=False)
    for ax, g, i in zip(axes.flat, gens, idx):
        ax.imshow(_mosaic(images[i]), cmap="gray_r", vmin=0.0, vmax=1.0,
                  interpolation="nearest")
        ax.set_title(_label(g), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[len(gens):]:
        ax.axis("off")
    fig.suptitle(f"VAE refitted on its own samples, trial {trial}: "
                 f"{images.shape[1]} samples per generation\n(fits ≥ 1: decoded means at the "
                 "same fixed latents; black = intensity 1)", fontsize=10)
    return save(fig, path)


def latents(path, result, *, trial=None, generations=None, bins=60):
    """The law of the latent means of each generation's samples under the first fit's encoder
    (the paper's Fig. 8), and each latent dimension's spread.

    Left: histogram densities of ``latent_mean`` standardised per trial and dimension by the
    first generation drawn (generation 0, the real digits, by default): ``(μ − m₀)/s₀``, pooled
    over samples, dimensions (and trials if ``trial`` is None), so that the real digits' curve
    has unit spread and a later curve shows its shrinkage and drift in those units (pooling raw
    means would mix the dimensions' different centres).  One curve per generation, dark (early)
    to light (late); the legend gives the mean per-dimension std in latent units.  Right: the
    std of each latent dimension over the samples (log axis), dimensions sorted by their std at
    the first generation drawn.  ``generations``: recorded generations to draw, sorted (default:
    up to six, spread evenly).
    """
    plt = pyplot()
    path = _validate.writable_path("path", path)
    bins = _validate.integer("bins", bins, minimum=2)
    recorded = np.asarray(result.generation)
    if generations is None:
        pick = np.unique(np.round(np.linspace(0, recorded.size - 1, min(6, recorded.size))))
        generations = recorded[pick.astype(int)].tolist()
    gens, idx = zip(*sorted(zip(*_indices(result, generations))))
    mean = np.asarray(result.latent_mean, np.float64)
    std = np.asarray(result.latent_std, np.float64)
    if trial is not None:
        trial = _validate.integer("trial", trial, minimum=0, maximum=mean.shape[0] - 1)
        mean, std = mean[trial:trial + 1], std[trial:trial + 1]
    centre = mean[:, idx[0]].mean(axis=1, keepdims=True)   # (trials, 1, latent)
    scale = std[:, idx[0], None, :]
    pooled = [((mean[:, i] - centre) / scale).ravel() for i in idx]
    lo, hi = np.quantile(np.concatenate(pooled), [0.001, 0.999])
    edges = np.linspace(lo, hi, bins + 1)
    centres = (edges[1:] + edges[:-1]) / 2
    order = np.argsort(-std[:, idx[0]].mean(0))
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(gens)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 4.8),
                                      gridspec_kw={"width_ratios": [1.4, 1]})
    for g, i, x, c in zip(gens, idx, pooled, colours):
        dens, _ = np.histogram(x, edges, density=True)
        name = "generation 0 (real digits)" if g == 0 else f"generation {g}"
        left.plot(centres, dens, color=c, lw=1.6, label=f"{name}: std {std[:, i].mean():.3g}")
        right.plot(np.arange(1, std.shape[-1] + 1), std[:, i].mean(0)[order], "o-", color=c,
                   ms=3, lw=1.2)
    left.set_xlabel(f"latent mean, standardised by generation {gens[0]}'s mean and std of "
                    "its dimension")
    left.set_ylabel("density")
    left.set_ylim(0, left.get_ylim()[1] * 1.4)
    left.legend(fontsize=8, ncol=2, loc="upper center",
                title="mean per-dimension std (latent units)", title_fontsize=8)
    right.set_yscale("log")
    right.set_xlabel(f"latent dimension (sorted by its std at generation {gens[0]})")
    right.xaxis.get_major_locator().set_params(integer=True)
    right.set_ylabel("std of the latent mean over samples")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    who = "all trials pooled" if trial is None else f"trial {trial}"
    left.set_title(f"Latent means of each generation's samples ({who})", fontsize=10)
    right.set_title("Spread per latent dimension" + (" (mean over trials)" if trial is None
                                                     else ""), fontsize=10)
    fig.suptitle("VAE chain seen through the first fit's encoder: generation 0 encodes real "
                 f"validation digits, generation g ≥ 1 {mean.shape[2]} samples of the g-th VAE",
                 fontsize=10)
    return save(fig, path, rect=(0, 0, 1, 0.95))


#: The panels of :func:`metrics`: field, y label, title.
_METRICS = (
    ("latent_std_mean", "std (latent units, log scale)",
     "Latent spread under fit 1's encoder: per-dimension std, mean over dimensions"),
    ("elbo", "ELBO (nats per digit)", "ELBO of real validation digits"),
    ("class_entropy", "entropy (nats)", "Entropy of the predicted classes of samples"),
    ("mmd", "MMD² (pixel space)", "Squared MMD to real validation digits"),
)


def metrics(path, results):
    """Latent std, ELBO, class entropy and MMD against generation, one curve per policy.

    ``results`` maps a label (the policy) to a result; each curve is the median over trials
    with its 10–90 % band; a generation where no trial has a value (the ELBO at generation 0:
    no model yet) is left out.  The latent std is on a log axis; the class-entropy panel marks
    log 10, ten equally likely classes.
    """
    plt = pyplot()
    path = _validate.writable_path("path", path)
    if not results:
        raise ValueError("results must hold at least one result")
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), sharex=True)
    spare = iter(c for c in ("C1", "C4", "C5", "C6", "C8", "C9")
                 if c not in POLICY_COLOURS.values())
    trials = set()
    for label, res in results.items():
        colour = POLICY_COLOURS.get(label) or next(spare)
        n = np.asarray(res.generation)
        for ax, (field, *_) in zip(axes.flat, _METRICS):
            values = np.asarray(getattr(res, field), np.float64)
            keep = ~np.all(np.isnan(values), axis=0)
            band(ax, n[keep], values[:, keep], colour, label)
        trials.add(np.shape(res.elbo)[0])
    for ax, (_, ylabel, title) in zip(axes.flat, _METRICS):
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
    uniform = axes[1, 0].axhline(np.log(10), color="0.4", ls=":", lw=1.2,
                                 label="log 10: ten classes equally likely")
    axes[1, 0].legend(handles=[uniform], fontsize=8)
    axes[0, 0].set_yscale("log")
    for ax in axes[1]:
        ax.set_xlabel("generation (0 = real digits D0, g = the g-th VAE)")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0, 0].legend(fontsize=8, title="policy: median, 10–90 % band", title_fontsize=8)
    count = ", ".join(map(str, sorted(trials)))
    fig.suptitle(f"VAE refitted on its own samples: {count} trials per policy", fontsize=11)
    return save(fig, path, rect=(0, 0, 1, 0.96))

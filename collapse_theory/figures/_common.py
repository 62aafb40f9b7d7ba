"""Helpers shared by the figure modules: a headless ``pyplot``, saving, the median/quantile band."""

from __future__ import annotations

import numpy as np

from .. import _io, _validate

#: Resolution of every figure the package writes.
DPI = 120

#: Largest number of generations a figure runs (figures record log-spaced generations, so this
#: bounds the run time, not memory; the GMM figures have their own, smaller bound).
MAX_GENERATIONS = 1_000_000

#: One colour per data policy, the same in every figure.
POLICY_COLOURS = {"replace": "C3", "accumulate": "C0", "accumulate-subsample": "C2"}


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path, *, rect=None) -> str:
    """Lay out ``fig`` (``tight_layout`` within ``rect``, the figure's fraction left to the
    axes), write it to ``path`` atomically (whole or not at all) and close it."""
    fig.tight_layout(rect=rect)
    try:
        _io.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI))
    finally:
        pyplot().close(fig)
    return path


def chain_sizes(path, generations, trials, sample_size, *, min_sample_size: int = 2):
    """The validated ``(path, 1 ≤ generations ≤ MAX_GENERATIONS, trials ≥ 1,
    sample_size ≥ min_sample_size)``."""
    return (_validate.writable_path("path", path),
            _validate.integer("generations", generations, minimum=1, maximum=MAX_GENERATIONS),
            _validate.integer("trials", trials, minimum=1),
            _validate.integer("sample_size", sample_size, minimum=min_sample_size))


def generation_axis(ax, yscale: str = "log") -> None:
    """Generations ``n`` on a log x-axis, ``yscale`` values and a major grid."""
    ax.set_xscale("log")
    ax.set_yscale(yscale)
    ax.set_xlabel("generation n")
    ax.grid(True, which="major", alpha=0.3)


def band(ax, n, values, colour, label):
    """The median over chains (``values`` is ``(trials, len(n))``) and its 10–90 % band."""
    lo, med, hi = np.quantile(values, [0.1, 0.5, 0.9], axis=0)
    ax.fill_between(n, lo, hi, color=colour, alpha=0.18, linewidth=0)
    ax.plot(n, med, color=colour, lw=1.8, label=label)


def log_variance_law(generations, sample_size: int, estimator: str = "unbiased",
                     points: int = 4096):
    r"""The exact law of ``log σ²_n`` of the 1-D Gaussian chain (σ_0 = 1, constant ``M``).

    ``log σ²_n = Σ_{i≤n} log(χ²_{M−1,i}/c)`` (``c = M − 1`` unbiased, ``M`` MLE) has the
    characteristic function ``φ(t)^n``, ``φ(t) = (2/c)^{it} Γ((M−1)/2 + it)/Γ((M−1)/2)``
    (``E X^s = 2^s Γ(ν/2 + s)/Γ(ν/2)`` for ``X ~ χ²_ν``, ``proofs/gaussian_moments.py``).  Its
    density is recovered by a discrete Fourier inversion on ``points`` grid points spanning
    ±16 standard deviations (error far below what a figure shows).  Returns ``(x, cdf)``,
    each ``(len(generations), points)``.
    """
    from scipy import special

    m = int(sample_size)
    half_nu = (m - 1) / 2.0
    log_c = np.log(m - 1.0 if estimator == "unbiased" else float(m))
    xs, cdfs = [], []
    for n in np.atleast_1d(np.asarray(generations, dtype=np.float64)):
        mean = n * (special.digamma(half_nu) + np.log(2.0) - log_c)
        sd = np.sqrt(n * special.polygamma(1, half_nu))
        a, dx = mean - 16 * sd, 32 * sd / points
        dt = 2 * np.pi / (points * dx)
        t = (np.arange(points) - points // 2) * dt
        log_phi = n * (1j * t * (np.log(2.0) - log_c) + special.loggamma(half_nu + 1j * t)
                       - special.loggamma(half_nu))
        dens = np.real(dt / (2 * np.pi) * (-1.0) ** np.arange(points)
                       * np.fft.fft(np.exp(log_phi - 1j * t * a)))
        dens = np.maximum(dens, 0.0)
        cdf = np.cumsum(dens) * dx
        xs.append(a + dx * (np.arange(points) + 0.5))
        cdfs.append(cdf / cdf[-1])
    return np.array(xs), np.array(cdfs)


def std_gap_quantiles(generations, sample_size: int, quantiles, estimator: str = "unbiased"):
    """Exact quantiles of ``|σ_0 − σ_n|`` of the 1-D Gaussian chain (σ_0 = 1, constant ``M``),
    ``(len(quantiles), len(generations))``, from :func:`log_variance_law`:
    ``P(|1 − σ_n| ≤ t) = F(2 log(1 + t)) − F(2 log(1 − t))`` (the second term 0 for t ≥ 1)."""
    xs, cdfs = log_variance_law(generations, sample_size, estimator)
    out = np.empty((len(quantiles), len(xs)))
    for j, (x, cdf) in enumerate(zip(xs, cdfs)):
        t = np.unique(np.abs(1.0 - np.exp(x / 2)))
        upper = np.interp(2 * np.log1p(t), x, cdf, left=0.0, right=1.0)
        lower = np.where(t < 1, np.interp(2 * np.log(np.maximum(1 - t, 1e-300)), x, cdf,
                                          left=0.0, right=1.0), 0.0)
        g = np.maximum.accumulate(upper - lower)
        out[:, j] = np.interp(quantiles, g, t)
    return out

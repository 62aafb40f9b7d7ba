"""Helpers shared by the figure modules: a headless ``pyplot``, saving, the median/quantile band."""

from __future__ import annotations

import numpy as np

from .. import _io, _validate

#: Resolution of every figure the package writes.
DPI = 120

#: One colour per data policy, the same in every figure.
POLICY_COLOURS = {"replace": "C3", "accumulate": "C0", "accumulate-subsample": "C2"}


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path) -> str:
    """Lay out ``fig``, write it to ``path`` atomically (whole or not at all) and close it."""
    fig.tight_layout()
    try:
        _io.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI))
    finally:
        pyplot().close(fig)
    return path


def chain_sizes(path, generations, trials, sample_size, *, min_sample_size: int = 2):
    """The validated ``(path, generations ≥ 1, trials ≥ 1, sample_size ≥ min_sample_size)``."""
    return (_validate.writable_path("path", path),
            _validate.integer("generations", generations, minimum=1),
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

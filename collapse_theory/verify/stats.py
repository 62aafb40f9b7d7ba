"""The statistical tests behind every check, each returning an :class:`Outcome`.

The tests themselves live in :mod:`collapse_theory.testing.statistics` (one implementation,
shared with the calibrated assertions offered to users); this module adds what a check
reports: the test at the last recorded generation and the check's curve.  The acceptance
threshold is the per-check level of the run (Bonferroni, see ``registry``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..testing.statistics import (Outcome, chi_square, ks_two_sample, z_mean, z_proportion,
                                  z_variance)

__all__ = ["Outcome", "chi_square", "curve", "ks_two_sample", "z_last", "z_mean",
           "z_proportion", "z_variance"]


def z_last(generation, values, expected, ylabel: str | None = None, *,
           test: Callable[..., Outcome] = z_mean) -> Outcome:
    """``test`` of ``values (trials, R)`` at the last recorded generation against the closed
    form ``expected (R,)`` there; with ``ylabel``, also the check's :func:`curve`."""
    v = np.asarray(values)
    out = test(v[:, -1], float(np.asarray(expected)[-1]))
    if ylabel is not None:
        out.curve = curve(generation, v, expected, ylabel)
    return out


def curve(generation, values, expected, ylabel: str) -> dict:
    """A check's figure data: per recorded generation, mean ± SE over trials and the closed form.

    ``values`` is ``(trials, R)``; ``expected`` the closed form at ``generation``.
    """
    v = np.asarray(values, dtype=np.float64)
    return {"n": np.asarray(generation).tolist(), "estimate": v.mean(0).tolist(),
            "stderr": (v.std(0, ddof=1) / np.sqrt(v.shape[0])).tolist(),
            "expected": np.asarray(expected, dtype=np.float64).tolist(),
            "xlabel": "generation n", "ylabel": ylabel}

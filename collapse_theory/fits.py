"""Fit rules shared by the chains and their closed forms (:mod:`collapse_theory.theory`).

* KDE bandwidths: a fixed ``h`` or a rule of thumb (:func:`parse_bandwidth`);
* the data policies a chain or a closed form supports (:func:`supported_policy`,
  :data:`KDE_POLICIES`);
* the smoothed categorical fit ``q = a c/M + b`` of the discrete chains (:func:`fitted_probs`).

Above the policy spec (:mod:`collapse_theory.policies`) and below the engine: the families and
the closed forms both import these rules, neither imports the other.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from . import _validate, policies

#: Bandwidth rules of thumb and their default constants ``c`` (see :class:`Bandwidth`).
RULES = {"scott": 1.0, "silverman": 0.9, "scipy-silverman": 1.0, "sklearn-scott": 1.0,
         "sklearn-silverman": 1.0}
#: Data policies with KDE closed forms (:mod:`collapse_theory.theory.kde`).
KDE_POLICIES = ("replace", "accumulate", "fresh")


class Bandwidth(NamedTuple):
    r"""A validated KDE bandwidth for ``N`` points in ``d`` dimensions (``N`` the effective
    count ``(Σw)²/Σw²`` of weighted points, scipy's convention; the live count for 0/1 weights):

    * ``"fixed"``: kernel ``N(0, h² I)``, ``value = h``;
    * ``"scott"``: kernel covariance ``(c N^{-1/(d+4)})² Σ̂`` (scipy's ``gaussian_kde``
      default, ``Σ̂`` the weighted covariance with scipy's unbiased divisor);
    * ``"scipy-silverman"``: ``(c (N(d + 2)/4)^{-1/(d+4)})² Σ̂`` (``bw_method="silverman"``);
    * ``"silverman"`` (1-D): ``h = c min(σ̂, IQR/1.34) N^{-1/5}``, ``c = 0.9`` (Silverman's
      rule of thumb; the IQR of the points with positive weight, numpy's interpolation);
    * ``"sklearn-scott"``, ``"sklearn-silverman"``: scikit-learn's ``KernelDensity``
      conventions, the same factors *unscaled*: kernel ``N(0, h² I)`` with ``h = c N^{-1/(d+4)}``
      or ``c (N(d + 2)/4)^{-1/(d+4)}``, whatever the data's scale.
    """

    rule: str
    value: float

    def __str__(self) -> str:
        return f"{self.value:g}" if self.rule == "fixed" else f"{self.rule}:{self.value:g}"

    @property
    def scaled(self) -> bool:
        """True when the kernel scales with the data (``h ∝ σ̂``)."""
        return self.rule in ("scott", "scipy-silverman", "silverman")

    def factor(self, n, dim: int = 1):
        """The rule's factor at ``n`` effective points (numpy or jax arrays): ``h`` itself for
        an unscaled rule, ``h/σ̂`` for a scaled one (``silverman``: before the IQR's minimum)."""
        if self.rule == "fixed":
            return self.value + 0.0 * n
        if self.rule == "silverman":
            return self.value * n ** -0.2
        if self.rule.endswith("silverman"):
            return self.value * (n * (dim + 2) / 4.0) ** (-1.0 / (dim + 4))
        return self.value * n ** (-1.0 / (dim + 4))


def parse_bandwidth(bandwidth) -> Bandwidth:
    """A :class:`Bandwidth` from ``h > 0``, a rule name of :data:`RULES` or ``"rule:c"``."""
    if isinstance(bandwidth, Bandwidth):
        return bandwidth
    if isinstance(bandwidth, str):
        try:
            bandwidth = float(bandwidth)
        except ValueError:
            rule, _, param = bandwidth.partition(":")
            if rule not in RULES:
                raise ValueError(f"bandwidth must be a number > 0, one of {', '.join(RULES)} or "
                                 f"'rule:c' (c > 0), got {bandwidth!r}") from None
            c = RULES[rule]
            if param:
                try:
                    c = float(param)
                except ValueError:
                    raise ValueError(f"bandwidth constant must be a number > 0, got {param!r} "
                                     f"in {bandwidth!r}") from None
                c = _validate.real("bandwidth constant", c, minimum=0.0, strict_minimum=True)
            return Bandwidth(rule, c)
    h = _validate.real("bandwidth", bandwidth, minimum=0.0, strict_minimum=True)
    return Bandwidth("fixed", h)


def supported_policy(policy, supported, chain: str) -> policies.Policy:
    """:func:`policies.parse`, rejecting a policy whose name is not in ``supported``
    (``chain`` names the chain in the message)."""
    pol = policies.parse(policy)
    if pol.name not in supported:
        options = ", ".join(f"'{name}:γ' (γ in [0, 1])" if name == "fresh" else f"'{name}'"
                            for name in supported)
        raise ValueError(f"policy {str(pol)!r} is not supported by the {chain} chain; use one "
                         f"of {options}")
    return pol


def kde_policy(policy) -> policies.Policy:
    """:func:`policies.parse`, rejecting policies without KDE closed forms."""
    return supported_policy(policy, KDE_POLICIES, "KDE closed-form")


@jax.jit
def fitted_probs(counts, m, a, b):
    """The smoothed categorical fit ``q = a c/M + b`` of counts ``c`` out of ``M`` (``a = 1,
    b = 0`` gives ``c/M`` exactly, so zeros stay zeros)."""
    return a * (counts.astype(m.dtype) / m) + b

"""Fit rules shared by the chains and their closed forms (:mod:`collapse_theory.theory`).

* KDE bandwidths: a fixed ``h`` or a rule of thumb (:func:`parse_bandwidth`);
* the data policies a chain supports (:func:`supported_policy`, :data:`KDE_POLICIES`);
* the smoothed categorical fit ``q = a c/M + b`` of the discrete chains (:func:`fitted_probs`).

Above the policy spec (:mod:`collapse_theory.policies`) and below the engine: the families and
the closed forms both import these rules, neither imports the other.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from . import _validate, policies

#: Bandwidth rules of thumb and their default constants ``c``.
RULES = {"scott": 1.0, "silverman": 0.9}
#: Data policies the KDE chain supports (see :mod:`collapse_theory.policies`).
KDE_POLICIES = ("replace", "accumulate", "fresh")


class Bandwidth(NamedTuple):
    """A validated bandwidth: ``rule`` ``"fixed"`` (``value`` = h), ``"scott"`` or
    ``"silverman"`` (``value`` = the constant ``c``)."""

    rule: str
    value: float

    def __str__(self) -> str:
        return f"{self.value:g}" if self.rule == "fixed" else f"{self.rule}:{self.value:g}"


def parse_bandwidth(bandwidth) -> Bandwidth:
    """A :class:`Bandwidth` from ``h > 0``, ``"scott"``, ``"silverman"`` or ``"rule:c"``."""
    if isinstance(bandwidth, Bandwidth):
        return bandwidth
    if isinstance(bandwidth, str):
        try:
            bandwidth = float(bandwidth)
        except ValueError:
            rule, _, param = bandwidth.partition(":")
            if rule not in RULES:
                raise ValueError(f"bandwidth must be a number > 0, 'scott', 'silverman' or "
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
    """:func:`policies.parse`, rejecting policies the KDE chain does not support."""
    return supported_policy(policy, KDE_POLICIES, "KDE")


@jax.jit
def fitted_probs(counts, m, a, b):
    """The smoothed categorical fit ``q = a c/M + b`` of counts ``c`` out of ``M`` (``a = 1,
    b = 0`` gives ``c/M`` exactly, so zeros stay zeros)."""
    return a * (counts.astype(m.dtype) / m) + b

r"""The model-family protocol: how to sample from a fitted model and how to fit one.

A chain is a family + a data policy (:mod:`collapse_theory.policies`) + the engine.  A family is
a small pytree of pure functions (optax/blackjax style):

* ``sample(key, params, n) -> points``: ``n`` (a static Python int) i.i.d. draws from the model,
  shape ``(n, *event)`` (or a pytree of such arrays sharing the leading axis, e.g. points with
  a per-point log scale);
* ``fit(points, weights) -> params``: the estimator.  ``weights`` ``(n,)`` are ``≥ 0``; a zero
  weight is an absent point (padding of variable sample sizes, a subsample, the unused rows of a
  pool), equal positive weights are an ordinary sample.  A fit that needs randomness or a warm
  start declares keyword-only parameters ``key`` and/or ``previous`` (the model it refits) and
  gets them: ``fit(points, weights, *, key, previous)``.

Optional exact shortcuts, used when given (e.g. sufficient statistics drawn in law, the
Bartlett factor of a Gaussian or the multinomial counts of a categorical law); with them
``accumulate`` keeps ``O(1)`` memory per trial:

* ``stats(points, weights) -> S``; ``merge(S, S) -> S`` (associative, ``n = 0`` the identity);
* ``fit_stats(S) -> params`` (the same estimator as ``fit``; may also take ``key``/``previous``);
* ``sample_stats(key, params, n) -> S``: the statistics of ``n`` draws in law, ``n`` a traced
  integer (defaults to ``stats`` of ``sample``).  One that declares the keyword ``n_max`` gets
  a static bound on ``n``: :data:`N_MAX_LIMIT` where every ``n`` of the chain is at most that,
  else ``None`` (so a family compiles at most two steps, whatever the sample sizes).  It may
  leave out code that only larger batches need (the multinomial's BTRS).

Every member must be a pure function of its arguments (no Python side effects): it is traced
under ``jit``, ``vmap`` and ``lax.scan``.  Build a family once (module level or a cached factory)
and pass the same object again: compiled chains are cached on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

#: Keywords a ``fit`` or ``fit_stats`` may declare (keyword-only or ``**kwargs``).
FIT_KEYWORDS = ("key", "previous")
#: Keywords a ``sample_stats`` may declare.
SAMPLE_KEYWORDS = ("n_max",)
#: The ``n_max`` a chain passes when every batch is at most this large (else ``None``).
N_MAX_LIMIT = 32


class Family(NamedTuple):
    """A model family (see the module docstring for the protocol).

    Attributes:
      sample: ``sample(key, params, n) -> (n, *event)`` points.
      fit: ``fit(points, weights[, *, key, previous]) -> params``.
      stats, merge, fit_stats, sample_stats: optional exact shortcuts (all of ``stats``,
        ``merge``, ``fit_stats`` or none; ``sample_stats`` needs them).
      name: a label for progress lines and errors.
    """

    sample: Callable
    fit: Callable
    stats: Callable | None = None
    merge: Callable | None = None
    fit_stats: Callable | None = None
    sample_stats: Callable | None = None
    name: str = "family"

    @property
    def has_stats(self) -> bool:
        """True when the family fits from merged sufficient statistics."""
        return self.fit_stats is not None


def check(family: Any) -> Family:
    """``family`` if it satisfies the protocol, else ``TypeError``/``ValueError`` naming the member."""
    if not isinstance(family, Family):
        raise TypeError(f"family must be a collapse_theory.Family, got {type(family).__name__}")
    for name in ("sample", "fit"):
        if not callable(getattr(family, name)):
            raise TypeError(f"family.{name} must be callable, got {getattr(family, name)!r}")
    shortcuts = ("stats", "merge", "fit_stats", "sample_stats")
    for name in shortcuts:
        member = getattr(family, name)
        if member is not None and not callable(member):
            raise TypeError(f"family.{name} must be callable or None, got {member!r}")
    given = [name for name in shortcuts[:3] if getattr(family, name) is not None]
    if given and len(given) != 3:
        missing = [name for name in shortcuts[:3] if name not in given]
        raise ValueError(f"family gives {', '.join(given)} but not {', '.join(missing)}: the "
                         "exact shortcut needs stats, merge and fit_stats together")
    if family.sample_stats is not None and not given:
        raise ValueError("family.sample_stats needs stats, merge and fit_stats")
    if not isinstance(family.name, str):
        raise TypeError(f"family.name must be a string, got {family.name!r}")
    return family


def keywords(fn: Callable, names: tuple = FIT_KEYWORDS) -> frozenset:
    """The keywords of ``names`` that ``fn`` accepts (by name or ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature take none
        return frozenset()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return frozenset(names)
    given = {p.name for p in params
             if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    return frozenset(k for k in names if k in given)


def carry_reference(own, previous):
    """``(reference, fits)`` for a fit that keeps its chain's fit-1 model (e.g. the generation-0
    encoder a metric is read under): ``own`` at the chain's first fit, else
    ``previous.reference``, selected with ``jnp.where`` (no branch under ``jit``); ``fits``
    counts the chain's fits so far.  ``previous`` has fields ``reference`` and ``fits``; it is
    ``None`` outside a chain (a lone fit, the engine's shape probe), and a chain starts from
    ``fits == 0``."""
    if previous is None:
        return own, jnp.ones((), jnp.int32)
    first = previous.fits == 0
    reference = jax.tree.map(lambda o, p: jnp.where(first, o, p), own, previous.reference)
    return reference, previous.fits + 1

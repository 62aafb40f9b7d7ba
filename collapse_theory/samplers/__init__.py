r"""Exact samplers for the chains: binomial, multinomial, gamma / χ² and the Bartlett factor.

``jax.random`` evaluates every branch of its binomial for every element, each in a per-element
``while_loop`` (so every lane waits for the slowest), returns float counts from its multinomial,
and its gamma is several times slower than numpy's.  The samplers here are exact (up to the
floating-point rounding of their acceptance tests) and organised for vector hardware:

* **inversion** (binomial means ``n·min(p, 1−p) < 10``; the multinomial's conditional means
  ``< 30``, with 48 unrolled steps and the rare longer searches gathered and finished apart)
  steps all elements through ``k = 0, 1, ...`` together: a handful of flops per step and one
  uniform per element;
* the multinomial handles each conditional binomial for the whole ``vmap`` batch at once, lanes
  on the contiguous axis, and gathers only the lanes whose means need BTRS;
* the 1-D Gaussian chain draws the noise of several generations for its whole batch at once
  from Threefry counters ``(g, ·)`` (:class:`collapse_theory.engine.BlockStep`) and redraws
  only the 32-lane groups holding a Marsaglia–Tsang rejection;
* **rejection** (BTRS for larger binomial means, Marsaglia–Tsang for gamma) runs in *rounds*.
  Each round takes the elements still unresolved, gathers them into a compact buffer (sizes
  ``L/256``, ``L/16`` or ``L/4`` of the ``L`` lanes, or all in place, chosen by ``lax.switch``
  on their number), draws candidates for each (two a round in place, one a step once
  gathered) and scatters back the accepted ones.  The work of a round is that of the elements
  it serves, so a batch pays neither for the branch it does not need nor for waiting on its
  slowest lane.  Under ``vmap`` the compaction spans the whole batch
  (``jax.custom_batching.custom_vmap``), and element ``e`` of batch member ``b`` hashes its
  own seed from ``(LANE, e)`` under member ``b``'s key, drawing its ``i``-th candidate from it:
  results depend only on each member's own key and inputs, ``vmap(f)(keys)[b] == f(keys[b])``;
* random words come from Threefry-2x32 on explicit counters (:mod:`collapse_theory.rng`),
  written out in ``jnp`` (bit-identical to ``jax.random``'s hash, ~5× faster on CPU than its
  rolled-loop lowering);
* counts are carried as floats holding exact integers (``n ≤ 2**24`` in float32,
  ``n ≤ 2**53`` in float64) and returned as integers.
"""

from .binomial import binomial, multinomial
from .gamma import bartlett, chisquare, gamma, log_chisquare, log_gamma

__all__ = ["bartlett", "binomial", "chisquare", "gamma", "log_chisquare", "log_gamma",
           "multinomial"]

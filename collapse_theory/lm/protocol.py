r"""The continuation protocol of Shumailov et al. (2023, §5): what a language model's chain refits.

The real training text ``x_0, x_1, …`` is cut into blocks of ``L`` tokens (the paper's 64).  A
*point* is two consecutive blocks, ``(2L,)`` int32: a prompt (the first ``L`` tokens) and its
continuation (the last ``L``).  Fits model only the continuation,

.. math:: \log Q(\text{point}) = \sum_{t<L} \log Q(x_{L+t} \mid x_{<L+t}),

so that every real token is predicted once (:func:`points`: windows at stride ``L``).  Model 0
is fitted on the real points; model ``g ≥ 1`` is *sampled* by prompting it with the original
prompts and generating ``L`` tokens each (:func:`continuation_sampler`): the generated set has
the size of the original, and ``fresh:γ`` keeps a random ``γ`` of the original points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import rng
from ..family import Family


class LanguageModel(NamedTuple):
    """A language-model family in the continuation protocol.

    Attributes:
      family: the :class:`~collapse_theory.Family`; points ``(n, 2L)`` int32 as above,
        ``fit(points, weights, *, key[, previous])`` fits the continuations (zero weight =
        absent point), ``sample(key, params, n)`` continues ``n`` original prompts.
      log_prob: ``log_prob(params, points) -> (n, L)`` float, ``log Q(x_{L+t} | x_{<L+t})``
        of each continuation token (``-inf`` where the model gives it probability 0).
      vocab: vocabulary size ``V`` (tokens are ``0..V−1``).
      block: ``L``.
    """

    family: Family
    log_prob: Callable
    vocab: int
    block: int


def points(tokens, block: int) -> np.ndarray:
    """``(N, 2L)`` int32 windows of ``tokens`` at stride ``L``: point ``j`` is
    ``tokens[jL:(j+2)L]`` (a trailing partial block is dropped)."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or not np.issubdtype(tokens.dtype, np.integer):
        raise TypeError(f"tokens must be a 1-D integer array, got shape {tokens.shape} and "
                        f"dtype {tokens.dtype}")
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"block must be an int >= 1, got {block!r}")
    n = tokens.size // block - 1
    if n < 1:
        raise ValueError(f"tokens must hold at least two blocks of {block}, got {tokens.size}")
    idx = np.arange(n)[:, None] * block + np.arange(2 * block)
    return tokens[idx].astype(np.int32)


def continuation_sampler(prompts, generate: Callable) -> Callable:
    """``sample(key, params, n)`` of the protocol from ``generate(key, params, prompts) ->
    (n, L)``: ``n ≤ N`` original prompts drawn without replacement (all of them, in some
    order, when ``n = N``; prompts cycle when ``n > N``), each followed by its generated
    continuation, ``(n, 2L)`` int32."""
    prompts = np.asarray(prompts, np.int32)
    total = prompts.shape[0]

    def sample(key, params, n: int):
        k_pick, k_gen = jax.random.split(key)
        if n <= total:
            rows = rng.subsample(k_pick, total, n, n, total)
        else:
            rows = jnp.arange(n) % total
        chosen = jnp.asarray(prompts)[rows]
        return jnp.concatenate([chosen, generate(k_gen, params, chosen).astype(jnp.int32)], 1)

    return sample


r"""Decoding: continue a prompt with ``length`` tokens, by sampling or by beam search.

A model enters as ``next_logprobs(params, tokens, t) -> (V,)``: the log-probabilities of the
token at position ``t`` given ``tokens[:t]`` (``tokens`` is a fixed ``(T,)`` buffer; positions
``≥ t`` hold placeholders the model must ignore).  At least one entry must be finite.

* **sampling** (:func:`sample`): ``x_t ∼ softmax(ℓ_t / τ)`` restricted to the ``top_k`` largest
  ``ℓ_t``, where ``ℓ_t`` are the log-probabilities after the repetition penalty;
* **beam search** (:func:`beam`): the ``beams`` highest-scoring continuations under
  ``Σ_t ℓ_t`` (the paper decodes with five beams), deterministic given the model.

The repetition penalty ``ρ ≥ 1`` (Keskar et al. 2019, the paper's ablation) multiplies the
log-probability of every token already in the buffer by ``ρ`` (log-probabilities are ≤ 0, so
repeated tokens become less likely): ``ℓ_t(w) = ρ^{[w ∈ x_{<t}]} log Q(w | x_{<t})``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def _penalised(lp, tokens, t, penalty: float):
    """``lp`` with the repetition penalty on the tokens of ``tokens[:t]``."""
    if penalty == 1.0:
        return lp
    seen = jnp.zeros(lp.shape, bool).at[tokens].max(jnp.arange(tokens.shape[0]) < t)
    return jnp.where(seen, lp * penalty, lp)


def _buffer(prompt, length: int):
    return jnp.concatenate([prompt, jnp.zeros((length,), prompt.dtype)])


def sample(key, next_logprobs: Callable, params, prompt, length: int, *, temperature=1.0,
           top_k=None, penalty=1.0):
    """``(length,)`` tokens sampled after ``prompt (L,)``, one key per position
    (``fold_in(key, t)``)."""
    n_prompt = prompt.shape[0]

    def step(tokens, t):
        lp = _penalised(next_logprobs(params, tokens, t), tokens, t, penalty) / temperature
        if top_k is not None:
            kth = jax.lax.top_k(lp, top_k)[0][-1]
            lp = jnp.where(lp >= kth, lp, -jnp.inf)
        x = jax.random.categorical(jax.random.fold_in(key, t), lp).astype(tokens.dtype)
        return tokens.at[t].set(x), None

    positions = jnp.arange(n_prompt, n_prompt + length)
    tokens, _ = jax.lax.scan(step, _buffer(prompt, length), positions)
    return tokens[n_prompt:]


def beam(next_logprobs: Callable, params, prompt, length: int, *, beams: int = 5,
         penalty=1.0):
    """``(length,)`` tokens of the best of ``beams`` beams after ``prompt (L,)`` (ties broken
    by ``lax.top_k``'s order: deterministic)."""
    n_prompt = prompt.shape[0]
    buf = jnp.broadcast_to(_buffer(prompt, length), (beams, n_prompt + length))
    # One live beam at the start, so that the first expansion does not repeat itself.
    score = jnp.where(jnp.arange(beams) == 0, 0.0, -jnp.inf)

    def step(carry, t):
        tokens, score = carry
        lp = jax.vmap(lambda b: _penalised(next_logprobs(params, b, t), b, t, penalty))(tokens)
        vocab = lp.shape[-1]
        total = (score[:, None] + lp).reshape(-1)
        best, flat = jax.lax.top_k(total, beams)
        parent, word = flat // vocab, (flat % vocab).astype(tokens.dtype)
        return (tokens[parent].at[:, t].set(word), best), None

    positions = jnp.arange(n_prompt, n_prompt + length)
    (tokens, score), _ = jax.lax.scan(step, (buf, score), positions)
    return tokens[jnp.argmax(score), n_prompt:]

r"""The order-``k`` n-gram language model with add-α smoothing, fitted from counts.

A fit counts, over the continuation positions ``t ∈ [L, 2L)`` of its present points
(:mod:`~collapse_theory.lm.protocol`; a point is present where its weight is ``> 0``: the
chain's weights are 0 or equal, so a fit is its sample's count), the n-grams
``N_j(c, w)`` of every order ``j ≤ k`` (``c`` the ``j`` tokens before ``w``, taken inside the
point: ``k ≤ L``), ``N_j(c) = Σ_w N_j(c, w)``, and predicts

.. math:: Q(w \mid c) = \frac{N_{j^*}(c_{j^*}, w) + α}{N_{j^*}(c_{j^*}) + αV},

where ``c_j`` is the last ``j`` tokens of the context.  With ``α > 0``, ``j^* = k`` (an unseen
context is uniform, the add-α law).  With ``α = 0`` an unseen context *backs off*: ``j^*`` is
the largest ``j ≤ k`` with ``N_j(c_j) > 0``, ending at the unigram law (``j = 0``, seen once the
fit has any data; a fit with no data at all is uniform).  So every context has a finite option
and ``log Q`` is defined everywhere; a seen context's unseen word has ``log Q = −inf`` (α = 0).

Memory: parameters are sparse, fixed size whatever ``V^k``.  Row ``j`` of :class:`Table` holds
the sorted codes ``(c·V + w)`` (Horner base ``V`` over ``x_{t−j..t}``) of the ``T = nL``
target positions (absent points' codes are ``2^{31} − 1``, sorted last); a context's n-grams
are a run of consecutive codes and a count is the run's length.  A run is found by
``searchsorted`` (``O(log T)``), or, for the orders with at most ``T`` contexts (``V^j ≤ T``),
read from the dense run starts of every context (``Table.starts``, two gathers).  Codes are
int32: ``V^{k+1} < 2^{31}`` (``V = 1000``: ``k ≤ 2``).

Decoding (``sample`` continues ``n`` original prompts, :func:`~collapse_theory.lm.protocol.
continuation_sampler`): ``decode="beam"`` (the paper's five beams) and ``decode="sample"`` with a
temperature, top-k or repetition penalty run :mod:`~collapse_theory.lm.decode` on the ``(V,)``
vector ``log Q(· | c)`` (``O(V log T)`` a token); plain sampling (``τ = 1``, no top-k, no
penalty) draws from ``Q`` directly, the same law in ``O(log T)`` a token: ``v ∼ U(0, N + αV)``;
``v < N``: the word of occurrence ``⌊v⌋`` of the context's run (a uniform occurrence); else the
uniform word ``⌊(v − N)/α⌋``.  Order 0 with plain
sampling and α = 0 is therefore the multinomial chain (:mod:`collapse_theory.discrete`) on the
continuation tokens.

:class:`Params` also carry the trial's fit-1 table (``reference``, the paper's generation-0
model), copied by later fits, and ``fits`` (0 in the chain's placeholder for D0 given as data).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate, engine
from ..family import Family, carry_reference
from . import decode as decode_mod
from .protocol import LanguageModel, continuation_sampler

#: Decoders of :func:`model`.
DECODES = ("beam", "sample")
#: Largest n-gram code + 1 (int32 codes); the code of an absent point's positions.
MAX_CODE = 2**31 - 1


class Table(NamedTuple):
    """Fitted counts of every order ``j = 0..k`` (module docstring).

    Attributes:
      codes: ``(k+1, T)`` int32, row ``j`` the sorted codes of the ``(j+1)``-grams ending at a
        target position (absent points: :data:`MAX_CODE`, last).
      starts: for each order ``j`` with ``V^j ≤ T`` (a prefix ``0..d−1`` of the orders), the
        ``(V^j + 1,)`` int32 run starts in row ``j`` of every context code and of ``V^j``.
      ends: for each other order ``j ≥ d``, ``(T,)`` int32: the end of the run of the context of
        each entry of row ``j`` (its context found by binary search, its end read here).
    """

    codes: jax.Array
    starts: tuple
    ends: tuple


class Params(NamedTuple):
    """A fitted n-gram model: its ``table``, the trial's fit-1 table (``reference``) and
    ``fits`` ``()`` int32, the fits of the chain so far."""

    table: Table
    reference: Table
    fits: jax.Array

    def reference_model(self) -> Params:
        """The trial's fit-1 model (its table as the model's)."""
        return self._replace(table=self.reference)


class NGram(NamedTuple):
    """The pieces of one n-gram configuration (:func:`model` returns ``lm``)."""

    lm: LanguageModel
    order: int
    alpha: float
    log_q: Callable
    unigram: Callable


_BUILT: dict = {}


def model(vocab: int, order: int, prompts, *, alpha=0.0, block=None, decode="beam", beams=5,
          temperature=1.0, top_k=None, penalty=1.0) -> LanguageModel:
    """The order-``order`` n-gram family over ``vocab`` tokens in the continuation protocol.

    Args:
      vocab: ``V ≥ 2``.
      order: context length ``k ≥ 0`` (0 unigram, 1 bigram, 2 trigram), ``k ≤ L`` and
        ``V^{k+1} < 2^{31}``.
      prompts: ``(N, L)`` int tokens in ``[0, V)``: the original prompts a generation continues.
      alpha: add-α pseudocount ``≥ 0`` (0: back-off for unseen contexts, module docstring).
      block: ``L`` (default: ``prompts.shape[1]``; must agree).
      decode: ``"beam"`` or ``"sample"``.
      beams: beams of beam search (``≥ 1``).
      temperature, top_k, penalty: sampling's temperature ``> 0``, top-k (``None`` or
        ``1..V``) and the repetition penalty ``ρ ≥ 1`` (beam search uses ``penalty`` only).

    The same arguments return the same object (compiled chains are cached on it).
    """
    vocab = _validate.integer("vocab", vocab, minimum=2)
    order = _validate.integer("order", order, minimum=0)
    if vocab ** (order + 1) > MAX_CODE:
        raise ValueError(f"order: codes need vocab**(order+1) < 2**31, got vocab={vocab}, "
                         f"order={order}")
    p = np.asarray(prompts)
    if p.ndim != 2 or not np.issubdtype(p.dtype, np.integer) or p.size == 0:
        raise TypeError(f"prompts must be a non-empty (N, L) integer array, got shape {p.shape} "
                        f"and dtype {p.dtype}")
    if p.min() < 0 or p.max() >= vocab:
        raise ValueError(f"prompts must hold tokens in [0, {vocab}), got [{p.min()}, {p.max()}]")
    if block is None:
        block = p.shape[1]
    block = _validate.integer("block", block, minimum=1)
    if block != p.shape[1]:
        raise ValueError(f"block must equal the prompts' length {p.shape[1]}, got {block}")
    if order > block:
        raise ValueError(f"order must be <= block ({block}), got {order}")
    alpha = _validate.real("alpha", alpha, minimum=0.0)
    decode = _validate.choice("decode", decode, DECODES)
    beams = _validate.integer("beams", beams, minimum=1)
    temperature = _validate.real("temperature", temperature, minimum=0.0, strict_minimum=True)
    if top_k is not None:
        top_k = _validate.integer("top_k", top_k, minimum=1, maximum=vocab)
    penalty = _validate.real("penalty", penalty, minimum=1.0)
    return _model(vocab, order, engine.Content(p.astype(np.int32)), alpha, decode, beams,
                  temperature, top_k, penalty).lm


def parts(lm_model: LanguageModel) -> NGram:
    """The :class:`NGram` behind a model of :func:`model` (``TypeError`` for another family)."""
    try:
        return _BUILT[lm_model.family]
    except (KeyError, TypeError, AttributeError):
        raise TypeError(f"lm_model must be an n-gram model of ngram.model, got "
                        f"{getattr(getattr(lm_model, 'family', None), 'name', lm_model)!r}") from None


def log_q(lm_model: LanguageModel, params: Params) -> Callable:
    """``log_q(contexts (C, m), next (C, S)) -> (C, S)``: ``log Q(next | the last k tokens of
    each context)`` under ``params`` (``m ≥ k``), for a known source's cross-entropy."""
    return functools.partial(parts(lm_model).log_q, params)


def unigram_counts(lm_model: LanguageModel, params: Params) -> jax.Array:
    """``(V,)`` the fitted unigram counts ``N_0(w)`` (the present points' continuation
    tokens)."""
    return parts(lm_model).unigram(params.table)


def _counting_sort(codes, present, size: int):
    """``sort(where(present, codes, MAX_CODE))`` for codes in ``[0, size)``, ``size ≤ T``, in
    ``O(T)``: the histogram's cumulative sum marks where each code's run starts."""
    counts = jnp.zeros(size, jnp.int32).at[codes].add(present.astype(jnp.int32))
    starts = jnp.cumsum(counts) - counts
    marks = jnp.zeros(codes.size, jnp.int32).at[starts].add(1, mode="drop")
    index = jnp.arange(codes.size)
    return jnp.where(index < counts.sum(), jnp.cumsum(marks) - 1, MAX_CODE).astype(jnp.int32)


def _run_ends(keys):
    """``(T,)`` for sorted ``keys``: the index one past the last entry equal to each entry."""
    index = jnp.arange(keys.size, dtype=jnp.int32)
    last = jnp.append(keys[1:] != keys[:-1], True)
    return jax.lax.cummin(jnp.where(last, index + 1, keys.size).astype(jnp.int32), reverse=True)


def _lower_bound(flat, base, lo, hi, q, width: int):
    """The first ``i ∈ [lo, hi)`` with ``flat[base + i] ≥ q`` (``hi`` if none) for sorted
    ``flat[base + lo : base + hi]``, ``hi − lo ≤ width``; ``q`` may be a vector.  Branch-free,
    ``⌈log₂(width + 1)⌉`` steps of a loop (under ``vmap`` no row is sliced; unrolled, XLA would
    fuse each step with a recomputation of the steps before it)."""
    q = jnp.asarray(q)

    def step(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) // 2
        below = (flat[jnp.minimum(base + mid, flat.size - 1)] < q) & (mid < hi)
        return jnp.where(below, mid + 1, lo), jnp.where(below, hi, mid)

    bounds = (jnp.broadcast_to(jnp.asarray(lo, jnp.int32), q.shape),
              jnp.broadcast_to(jnp.asarray(hi, jnp.int32), q.shape))
    return jax.lax.fori_loop(0, int(width).bit_length(), step, bounds)[0]


def _horner(tokens, vocab: int):
    """Code of ``tokens (..., j)`` in base ``V`` (0 for ``j = 0``)."""
    code = jnp.zeros(tokens.shape[:-1], jnp.int32)
    for i in range(tokens.shape[-1]):
        code = code * vocab + tokens[..., i].astype(jnp.int32)
    return code


@functools.lru_cache(maxsize=32)
def _model(vocab: int, k: int, prompts: engine.Content, alpha: float, decode: str, beams: int,
           temperature: float, top_k, penalty: float) -> NGram:
    L = prompts.array.shape[1]

    # Orders read from dense run starts: at most as many contexts as a sample's positions.
    dense = [j for j in range(k + 1) if vocab ** j <= prompts.array.shape[0] * L]

    def fit_table(points, weights) -> Table:
        x = points.astype(jnp.int32)
        present = jnp.repeat(weights > 0, L)
        rows = []
        for j in range(k + 1):
            grams = jnp.stack([x[:, L - j + i: 2 * L - j + i] for i in range(j + 1)], -1)
            code = _horner(grams, vocab).reshape(-1)
            rows.append(_counting_sort(code, present, vocab ** (j + 1))
                        if vocab ** (j + 1) <= code.size else
                        jnp.sort(jnp.where(present, code, MAX_CODE)))
        starts = tuple(jnp.searchsorted(rows[j], jnp.arange(vocab ** j + 1, dtype=jnp.int32)
                                        * vocab).astype(jnp.int32) for j in dense)
        ends = tuple(_run_ends(rows[j] // vocab) for j in range(len(dense), k + 1))
        return Table(jnp.stack(rows), starts, ends)

    def fit(points, weights, *, previous: Params | None) -> Params:
        table = fit_table(points, weights)
        return Params(table, *carry_reference(table, previous))

    def run(table: Table, j: int, c):
        """The run ``[a, b)`` of context code ``c`` in row ``j`` (static): dense starts, or a
        binary search for its start and its end read from ``Table.ends``."""
        d = len(table.starts)
        if j < d:
            return table.starts[j][c], table.starts[j][c + 1]
        flat, width = table.codes.reshape(-1), table.codes.shape[1]
        a = _lower_bound(flat, j * width, 0, width, c * vocab, width)
        at = jnp.minimum(a, width - 1)
        found = (a < width) & (flat[j * width + at] // vocab == c)
        return a, jnp.where(found, table.ends[j - d][at], a)

    def context(table: Table, ctx):
        """Per order ``j`` (stacked ``(k+1,)``): the context codes ``c_j``, the counts
        ``N_j(c_j)`` and the runs' starts and ends; and ``j*`` (module docstring).  Rows are
        read at static indices only: a traced row index under ``vmap`` would copy the row."""
        codes = jnp.stack([_horner(ctx[k - j:], vocab) for j in range(k + 1)])
        a, b = (jnp.stack(x) for x in zip(*(run(table, j, c) for j, c in enumerate(codes))))
        n = b - a
        if alpha > 0:
            j = jnp.asarray(k)
        else:  # the longest seen suffix; none seen (no data at all): j = k, N = 0, uniform
            seen = n[::-1] > 0
            j = jnp.where(seen.any(), k - jnp.argmax(seen), k)
        return j, codes, n, a, b

    def log_ratio(nw, total):
        """``log((N(c, w) + α) / (N(c) + αV))``; ``−log V`` when ``N(c) + αV = 0``."""
        nw, total = jnp.asarray(nw, float), jnp.asarray(total, float)
        safe = jnp.where(total > 0, total, 1)
        return jnp.where(total > 0, jnp.log(nw + alpha) - jnp.log(safe), -jnp.log(float(vocab)))

    def log_q_one(table: Table, ctx, w):
        """``log Q(w | ctx)``: ``N(c, w)`` searched inside the run of the chosen order."""
        j, codes, n, a, b = context(table, ctx)
        code = codes[j] * vocab + w
        width = table.codes.shape[1]
        ends = _lower_bound(table.codes.reshape(-1), j * width, a[j], b[j],
                            jnp.stack([code, code + 1]), width)
        return log_ratio(ends[1] - ends[0], n[j] + alpha * vocab)

    def log_q_vec(table: Table, ctx):
        """``(V,)`` ``log Q(· | ctx)`` (``V + 1`` look-ups of the context's run per order)."""
        j, codes, n, _, _ = context(table, ctx)
        nw = jnp.stack([jnp.diff(jnp.searchsorted(
            table.codes[i], codes[i] * vocab + jnp.arange(vocab + 1))) for i in range(k + 1)])
        return log_ratio(nw[j], n[j] + alpha * vocab)

    def draw_one(table: Table, ctx, u):
        """One word ``∼ Q(· | ctx)`` from ``u ∼ U(0, 1)`` (module docstring): one gather from
        the flattened rows (a row sliced under ``vmap`` would be copied every token)."""
        j, _, n, a, _ = context(table, ctx)
        nj = n[j].astype(u.dtype)
        v = u * (nj + alpha * vocab)
        width = table.codes.shape[1]
        pick = j * width + jnp.minimum(a[j] + v.astype(jnp.int32), width - 1)
        seen = table.codes.reshape(-1)[pick] % vocab
        uniform = jnp.floor((v - nj) / alpha) if alpha > 0 else jnp.floor(u * vocab)
        uniform = jnp.clip(uniform, 0, vocab - 1).astype(jnp.int32)
        return jnp.where((v < nj) & (nj > 0), seen, uniform)

    def last(tokens, t):
        return jax.lax.dynamic_slice(tokens, (t - k,), (k,)) if k else tokens[:0]

    def next_logprobs(params: Params, tokens, t):
        return log_q_vec(params.table, last(tokens, t))

    def direct(key, params: Params, prompt):
        def step(ctx, u):
            w = draw_one(params.table, ctx, u)
            return jnp.concatenate([ctx, w[None]])[1:], w

        _, tokens = jax.lax.scan(step, prompt[L - k:], jax.random.uniform(key, (L,)))
        return tokens

    plain = temperature == 1.0 and top_k is None and penalty == 1.0
    if decode == "beam":
        def generate(key, params, chosen):
            return jax.vmap(lambda p: decode_mod.beam(next_logprobs, params, p, L, beams=beams,
                                                      penalty=penalty))(chosen)
    else:
        def generate(key, params, chosen):
            keys = jax.random.split(key, chosen.shape[0])
            if plain:
                return jax.vmap(lambda kk, p: direct(kk, params, p))(keys, chosen)
            return jax.vmap(lambda kk, p: decode_mod.sample(
                kk, next_logprobs, params, p, L, temperature=temperature, top_k=top_k,
                penalty=penalty))(keys, chosen)

    def log_prob(params: Params, points):
        pts = jnp.asarray(points).astype(jnp.int32)
        idx = jnp.arange(L)[:, None] + L - k + jnp.arange(k)[None]
        ctx = pts[:, idx]  # (n, L, k)
        w = pts[:, L:]
        one = functools.partial(log_q_one, params.table)
        return jax.vmap(jax.vmap(one))(ctx, w)

    def log_q_fn(params: Params, contexts, nxt):
        ctx = jnp.asarray(contexts).astype(jnp.int32)
        if ctx.shape[-1] < k:
            raise ValueError(f"contexts must hold >= {k} tokens (the order), got {ctx.shape[-1]}")
        ctx = ctx[:, ctx.shape[-1] - k:]
        one = functools.partial(log_q_one, params.table)
        return jax.vmap(lambda c, ws: jax.vmap(lambda w: one(c, w))(ws))(ctx, jnp.asarray(nxt))

    def unigram(table: Table):
        return jnp.diff(jnp.searchsorted(table.codes[0], jnp.arange(vocab + 1)))

    name = (f"ngram k={k} V={vocab} alpha={alpha:g} "
            + (f"beam{beams}" if decode == "beam" else
               f"sample t={temperature:g} top_k={top_k} rho={penalty:g}"))
    family = Family(continuation_sampler(prompts.array, generate), fit, name=name)
    built = NGram(LanguageModel(family, log_prob, vocab, L), k, alpha, log_q_fn, unigram)
    _BUILT[family] = built
    return built

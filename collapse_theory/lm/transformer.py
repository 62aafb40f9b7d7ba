r"""A small decoder-only transformer as a language-model family (Shumailov et al. 2023, §5).

**Network** (:class:`Transformer`, equinox layers only): token and learned position embeddings
over the ``2L`` positions of a point, ``layers`` pre-LN blocks
``h ← h + MHA(LN(h))`` (causal mask: position ``i`` attends to ``j ≤ i``),
``h ← h + MLP(LN(h))`` (one hidden layer of ``mlp_ratio × width``, GELU), a final LayerNorm
and a linear head to the ``V`` logits; no dropout.

**Loss**: the continuation protocol's (:mod:`~collapse_theory.lm.protocol`),
``ℓ(x) = −(1/L) Σ_{t<L} log Q(x_{L+t} | x_{<L+t})`` per point; a minibatch's loss is
``Σ_b w̃_b ℓ(x_b) / B`` over its ``B`` rows, ``w̃ = w N / Σ w`` (``N`` live rows, weight > 0;
equal weights give ``w̃ = 1``; a zero weight is an absent point, never read).

**Training** (:func:`train`, one jit-able pure function, vmapped over trials by the chain
engine): ``epochs`` passes, each over one uniform random permutation of the live rows (from the
fit's key) cut into ``ceil(N / batch)`` minibatches, the last one partial; AdamW (optax) on a
warm-up + cosine schedule over the fit's ``epochs · ceil(N / batch)`` steps (peak ``lr``, linear
warm-up over the first ``warmup`` fraction, cosine decay to 0), decoupled weight decay on every
parameter (PyTorch's ``AdamW`` default), gradients clipped to global norm ``clip``; the
parameters are raveled into one vector (one optimiser update, not one per leaf).  A
``lax.scan`` over epochs holds a ``lax.scan`` over ``ceil(rows / batch)`` steps, the steps past
``ceil(N / batch)`` being no-ops (computed, then discarded: a pool padded with absent points
pays for them): ``N`` is traced, the schedule follows the live steps only, and appending
zero-weight points leaves the fit bit for bit unchanged.

**Best checkpoint** (the paper keeps the checkpoint with the best loss on the real validation
set): with ``validation`` points, their mean token loss is evaluated after every epoch inside
the scan, and the parameters of the epoch with the lowest one are returned (the earliest on
ties; ``jnp.where`` on the raveled parameters).  Without, the last epoch's.

**Each fit trains a fresh network from its key**, as the VAE does.  The paper instead
fine-tunes a pre-trained OPT-125m each generation from the previous one; there is no
pre-trained model here, and starting every generation from scratch makes each fit a function of
its data alone (the chain's only memory is the text it passes on).

**Sampling**: the original prompts continued by :func:`collapse_theory.lm.decode.beam` (the
paper's five beams) or :func:`collapse_theory.lm.decode.sample` (temperature, top-k), with the
optional repetition penalty, over ``next_logprobs(params, tokens, t)`` = the log-softmax of the
logits at position ``t − 1`` (causal: positions ``≥ t`` are ignored).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from .. import _validate, engine
from ..family import Family, carry_reference
from . import decode as decoding
from .protocol import LanguageModel, continuation_sampler

DTYPE = jnp.float32
DECODERS = ("beam", "sample")


@dataclasses.dataclass(frozen=True)
class Config:
    """A transformer and how each generation trains it.  Defaults sized for a 2-core CPU.

    **Why 20 epochs at batch 16, not the paper's 5 or 10**: the paper fine-tunes a pre-trained
    OPT-125m; here every fit trains from scratch (module docstring), and on a small corpus 5
    epochs are a handful of AdamW steps (5 at ``N = 32`` points, batch 32: fit 1's loss 6.070,
    near the uniform ``log V``; fit 10's of the old benchmark, ``log V`` itself).  The paper's
    epochs remain a field (``Config(epochs=5)``, ``10``).
    Measured on fit 1 (``lm.english(vocab=500)``, ``L = 16``, ``N`` points, the best epoch on
    20 validation points, which also score it; one key; ``log V = 6.215``, unigram entropy
    ``5.045``, entropy rate ``2.626`` nats/token; seconds of a steady fit on 2 shared cores,
    load 3–7):

    =======================  ===============  ===============
    epochs, batch, lr        N = 32: loss, s  N = 64: loss, s
    =======================  ===============  ===============
    5, 32, 3e-3 (before)     6.070, 0.5
    20, 8, 3e-3              5.150, 0.4
    **20, 16, 3e-3**         **5.132, 0.5**   **4.840, 1.2**
    30, 8, 3e-3              5.149, 0.8       4.863, 2.3
    30, 8, 1e-2              5.196, 2.1
    30, 8, 1e-3                               4.889, 1.5
    40, 16, 3e-3             5.132, 1.1       4.855, 2.6
    60, 8, 3e-3              5.167, 2.3
    =======================  ===============  ===============

    (warm-up 0.1, 2 layers of width 64 throughout; width and depth were not varied).  The
    chosen row has the lowest loss at both sizes (tied with 40 epochs at ``N = 32``, at half
    the steps): more steps or a higher rate overfit (training loss 2.3–4.0 against validation
    ~5).  At ``N = 32`` (512 training tokens for ``V = 500``) a fit learns about the unigram
    law (5.13 vs 5.05), at ``N = 64`` some of the bigrams (4.84); both stay 2.2–2.5 nats above
    the entropy rate, whose 500 × 32 successor probabilities 512–1024 tokens cannot pin down.

    Attributes:
      layers: decoder blocks.
      width: model width ``d`` (a multiple of ``heads``).
      heads: attention heads (each ``d / heads`` wide).
      mlp_ratio: the MLP's hidden width over ``d``.
      epochs: passes over the fit's data per generation (the paper's fine-tuning: 5 under
        protocol (a), 10 under (b); see above).
      batch: minibatch size in points.
      lr: peak learning rate of the warm-up + cosine schedule.
      warmup: fraction of the fit's steps spent warming up linearly from 0, in ``[0, 1)``.
      weight_decay: AdamW's decoupled weight decay (on every parameter).
      clip: global gradient-norm clip (``0``: none).
    """

    layers: int = 2
    width: int = 64
    heads: int = 4
    mlp_ratio: int = 4
    epochs: int = 20
    batch: int = 16
    lr: float = 3e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    clip: float = 1.0


def check(config) -> Config:
    """``config`` validated and normalised (Python ints and floats); ``None`` is the default
    :class:`Config`.  ``TypeError``/``ValueError`` name the field, its value and the range."""
    if config is None:
        return Config()
    if not isinstance(config, Config):
        raise TypeError(f"config must be a collapse_theory.lm.transformer.Config or None, "
                        f"got {type(config).__name__}")
    c = Config(
        layers=_validate.integer("config.layers", config.layers, minimum=1, maximum=64),
        width=_validate.integer("config.width", config.width, minimum=1, maximum=8192),
        heads=_validate.integer("config.heads", config.heads, minimum=1, maximum=1024),
        mlp_ratio=_validate.integer("config.mlp_ratio", config.mlp_ratio, minimum=1, maximum=64),
        epochs=_validate.integer("config.epochs", config.epochs, minimum=1, maximum=100_000),
        batch=_validate.integer("config.batch", config.batch, minimum=1, maximum=1 << 20),
        lr=_validate.real("config.lr", config.lr, minimum=0.0, strict_minimum=True),
        warmup=_validate.real("config.warmup", config.warmup, minimum=0.0),
        weight_decay=_validate.real("config.weight_decay", config.weight_decay, minimum=0.0),
        clip=_validate.real("config.clip", config.clip, minimum=0.0))
    if c.warmup >= 1.0:
        raise ValueError(f"config.warmup must be in [0, 1) (a fraction of the steps), "
                         f"got {c.warmup}")
    if c.width % c.heads:
        raise ValueError(f"config.width must be a multiple of config.heads = {c.heads}, "
                         f"got {c.width}")
    return c


class Block(eqx.Module):
    """One pre-LN decoder block on ``h (T, d)``."""

    norm1: eqx.nn.LayerNorm
    attention: eqx.nn.MultiheadAttention
    norm2: eqx.nn.LayerNorm
    mlp: eqx.nn.MLP

    def __call__(self, h, mask):
        a = jax.vmap(self.norm1)(h)
        h = h + self.attention(a, a, a, mask=mask)
        return h + jax.vmap(self.mlp)(jax.vmap(self.norm2)(h))


class Transformer(eqx.Module):
    """Tokens ``(T,)``, ``T ≤ 2L``, to logits ``(T, V)`` of the next token at each position."""

    embed: eqx.nn.Embedding
    position: eqx.nn.Embedding
    blocks: tuple
    norm: eqx.nn.LayerNorm
    head: eqx.nn.Linear

    def hidden(self, tokens):
        """The final normalised states ``(T, d)`` (position ``i`` sees tokens ``≤ i``)."""
        n = tokens.shape[0]
        h = jax.vmap(self.embed)(tokens) + jax.vmap(self.position)(jnp.arange(n))
        mask = jnp.tril(jnp.ones((n, n), bool))
        for block in self.blocks:
            h = block(h, mask)
        return jax.vmap(self.norm)(h)

    def __call__(self, tokens):
        return jax.vmap(self.head)(self.hidden(tokens))


def build(key, vocab: int, block: int, config: Config) -> Transformer:
    """A :class:`Transformer` (float32) for ``vocab`` tokens and points of ``2 × block``,
    initialised by equinox's layers (:func:`initializer` draws the fits' initial networks)."""
    d = config.width
    keys = iter(jax.random.split(key, 3 + 2 * config.layers))
    blocks = tuple(
        Block(eqx.nn.LayerNorm(d, dtype=DTYPE),
              eqx.nn.MultiheadAttention(config.heads, d, use_query_bias=True,
                                        use_key_bias=True, use_value_bias=True,
                                        use_output_bias=True, dtype=DTYPE, key=next(keys)),
              eqx.nn.LayerNorm(d, dtype=DTYPE),
              eqx.nn.MLP(d, d, config.mlp_ratio * d, 1, activation=jax.nn.gelu, dtype=DTYPE,
                         key=next(keys)))
        for _ in range(config.layers))
    return Transformer(eqx.nn.Embedding(vocab, d, dtype=DTYPE, key=next(keys)),
                       eqx.nn.Embedding(2 * block, d, dtype=DTYPE, key=next(keys)),
                       blocks, eqx.nn.LayerNorm(d, dtype=DTYPE),
                       eqx.nn.Linear(d, vocab, dtype=DTYPE, key=next(keys)))


def initializer(vocab: int, block: int, config: Config):
    """``(init, static)``: ``init(key)`` the arrays of a fresh network in one uniform draw
    ``u ~ U(−1, 1)`` (one PRNG call instead of one or two per layer: the compiled fit is much
    smaller), ``static`` its non-array parts (``eqx.combine(init(key), static)``).  Linear
    weights and biases (attention and MLP included) are ``lim · u``, ``lim = 1/√fan_in``
    (equinox's law); embeddings ``√3 · u`` (unit variance, as equinox's ``N(0, 1)``, not its
    law); LayerNorms start at scale 1, shift 0 (equinox's)."""
    net = build(jax.random.key(0), vocab, block, config)
    arrays, static = eqx.partition(net, eqx.is_array)

    def limits(node):
        if isinstance(node, eqx.nn.Linear):
            lim = 1.0 / math.sqrt(node.in_features)
            return jax.tree.map(lambda a: jnp.full(a.shape, lim, DTYPE), node)
        if isinstance(node, eqx.nn.Embedding):
            return jax.tree.map(lambda a: jnp.full(a.shape, math.sqrt(3.0), DTYPE), node)
        return jnp.zeros(node.shape, DTYPE)

    layers = lambda n: isinstance(n, (eqx.nn.Linear, eqx.nn.Embedding))
    scale, unravel = ravel_pytree(jax.tree.map(limits, arrays, is_leaf=layers))
    base = ravel_pytree(jax.tree.map(lambda n: jax.tree.map(jnp.zeros_like, n) if layers(n) else n,
                                     arrays,
                                     is_leaf=layers))[0]  # LayerNorms' 1 and 0, else 0
    scale, base = np.asarray(scale), np.asarray(base)

    def init(key):
        return unravel(base + scale * jax.random.uniform(key, scale.shape, DTYPE, -1.0, 1.0))

    return init, static


def token_log_prob(net: Transformer, points):
    """``log Q(x_{L+t} | x_{<L+t})`` of the continuation tokens of ``points (n, 2L)``,
    ``(n, L)``."""
    block = points.shape[1] // 2
    logits = jax.vmap(net)(points)[:, block - 1:-1]
    lp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(lp, points[:, block:, None], axis=-1)[..., 0]


def optimizer(config: Config, total) -> optax.GradientTransformation:
    """Clip to global norm ``clip`` (if ``> 0``), then AdamW with the warm-up + cosine schedule
    of ``lr`` over ``total`` steps (a traced count): ``lr_s = lr · u(s / total)``, ``u`` rising
    linearly from 0 to 1 over ``[0, warmup]`` and ``½(1 + cos π (f − warmup)/(1 − warmup))``
    after."""
    unit = optax.warmup_cosine_decay_schedule(0.0, config.lr, config.warmup, 1.0)
    adamw = optax.adamw(lambda count: unit(count / total), weight_decay=config.weight_decay)
    return optax.chain(optax.clip_by_global_norm(config.clip), adamw) if config.clip else adamw


def train(net: Transformer, points, weights, key, config: Config, validation=None):
    """``(net, losses)``: ``net`` trained on ``points (rows, 2L)`` with ``weights (rows,)``
    (module docstring) and ``losses (epochs,)`` the mean validation token loss after each epoch
    (``None`` without ``validation``), the returned ``net`` being the best epoch's."""
    vocab = net.head.out_features
    w = weights.astype(DTYPE)
    live = w > 0
    x = jnp.where(live[:, None], jnp.clip(points, 0, vocab - 1), 0).astype(jnp.int32)
    rows, size = x.shape[0], config.batch
    n = jnp.sum(live).astype(jnp.int32)
    scale = w * n.astype(DTYPE) / jnp.maximum(jnp.sum(w), jnp.finfo(DTYPE).tiny)
    n_batches = (n + size - 1) // size
    steps = -(-rows // size)
    params, static = eqx.partition(net, eqx.is_array)
    params, unravel = ravel_pytree(params)
    opt = optimizer(config, jnp.maximum(config.epochs * n_batches, 1).astype(DTYPE))

    def loss(p, idx, valid):
        nll = -jnp.mean(token_log_prob(eqx.combine(unravel(p), static), x[idx]), axis=-1)
        return jnp.sum(jnp.where(valid, scale[idx] * nll, 0.0)) / size

    grad = jax.grad(loss)

    def epoch(carry, k):
        p, state = carry[:2]
        u = jax.random.uniform(k, (rows,), DTYPE)
        order = jnp.argsort(jnp.where(live, u, 2.0))  # live rows first, uniformly permuted
        order = jnp.concatenate([order, jnp.zeros((steps * size - rows,), order.dtype)])

        def update(c, j):
            p, state = c
            idx = jax.lax.dynamic_slice(order, (j * size,), (size,))
            g = grad(p, idx, j * size + jnp.arange(size) < n)
            updates, state = opt.update(g, state, p)
            return optax.apply_updates(p, updates), state

        def step(c, j):  # a no-op past the live minibatches
            new = update(c, j)
            return jax.tree.map(lambda a, b: jnp.where(j < n_batches, a, b), new, c), None

        p, state = jax.lax.scan(step, (p, state), jnp.arange(steps))[0]
        if validation is None:
            return (p, state), None
        best, best_loss = carry[2:]
        v = -jnp.mean(token_log_prob(eqx.combine(unravel(p), static), validation))
        better = v < best_loss
        best = jnp.where(better, p, best)
        return (p, state, best, jnp.where(better, v, best_loss)), v

    carry = (params, opt.init(params))
    if validation is not None:
        validation = jnp.asarray(validation, jnp.int32)
        carry += (params, jnp.asarray(jnp.inf, DTYPE))
    carry, losses = jax.lax.scan(epoch, carry, jax.random.split(key, config.epochs))
    return eqx.combine(unravel(carry[0] if validation is None else carry[2]), static), losses


class Params(NamedTuple):
    """A fitted transformer (a pytree of arrays: ``eqx.filter`` of the networks).

    Attributes:
      network: the fitted :class:`Transformer`'s arrays.
      reference: the trial's fit-1 network's arrays (the paper's "generation 0" model, which
        scores every later generation's text); fit 1 takes its own, later fits copy it.
      fits: ``()`` int32, the fits of the chain so far (0 in the chain's placeholder for D0
        given as data, which is how fit 1 knows it is fit 1).
    """

    network: Transformer
    reference: Transformer
    fits: jax.Array

    def reference_model(self) -> Params:
        """The trial's fit-1 model (its network as the model's)."""
        return self._replace(network=self.reference)


def _tokens(name: str, value, vocab: int, width: int | None) -> np.ndarray:
    """``value`` as a 2-D int32 array of tokens in ``[0, vocab)`` (``width`` columns)."""
    a = np.asarray(value)
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must be a 2-D integer array, got shape {a.shape} and dtype "
                        f"{a.dtype}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must hold at least one row of at least one token, got shape "
                         f"{a.shape}")
    if width is not None and a.shape[1] != width:
        raise ValueError(f"{name} must have {width} columns (2L, L = the prompts' length), got "
                         f"shape {a.shape}")
    if a.min() < 0 or a.max() >= vocab:
        raise ValueError(f"{name} must hold tokens in [0, {vocab - 1}] (vocab = {vocab}), got "
                         f"values in [{a.min()}, {a.max()}]")
    return a.astype(np.int32)


def model(vocab, prompts, config: Config | None = None, *, validation=None, decode="beam",
          beams=5, temperature=1.0, top_k=None, penalty=1.0) -> LanguageModel:
    """The transformer family (module docstring) on ``vocab`` tokens, continuing ``prompts
    (N, L)``; its params are :class:`Params` (``fit(points, weights, *, key, previous)``).

    Args:
      vocab: ``V ≥ 2``.
      prompts: the original prompts, ``(N, L)`` int tokens in ``[0, V)``: the first halves of
        the real points.
      config: :class:`Config` (default: the CPU-sized one).
      validation: real validation points ``(Nv, 2L)`` for the best checkpoint, or ``None``.
      decode: ``"beam"`` (the paper) or ``"sample"``.
      beams: beams of the beam search, in ``[1, 64]``.
      temperature: sampling temperature ``τ > 0``.
      top_k: sample among the ``k`` most likely tokens, ``k`` in ``[1, V]``, or ``None``.
      penalty: repetition penalty ``ρ ≥ 1`` (1: none), for either decoder.

    The same arguments (arrays by content) return the same object: compiled chains are cached
    on its family.
    """
    vocab = _validate.integer("vocab", vocab, minimum=2, maximum=1 << 24)
    prompts = _tokens("prompts", prompts, vocab, None)
    config = check(config)
    if validation is not None:
        validation = engine.Content(_tokens("validation", validation, vocab,
                                            2 * prompts.shape[1]))
    decode = _validate.choice("decode", decode, DECODERS)
    beams = _validate.integer("beams", beams, minimum=1, maximum=64)
    temperature = _validate.real("temperature", temperature, minimum=0.0, strict_minimum=True)
    if top_k is not None:
        top_k = _validate.integer("top_k", top_k, minimum=1, maximum=vocab)
    penalty = _validate.real("penalty", penalty, minimum=1.0)
    return _model(vocab, engine.Content(prompts), config, validation, decode, beams, temperature,
                  top_k, penalty)


@functools.lru_cache(maxsize=32)
def _model(vocab, prompts, config, validation, decode, beams, temperature, top_k,
           penalty) -> LanguageModel:
    block = prompts.array.shape[1]
    init, static = initializer(vocab, block, config)
    real_val = None if validation is None else validation.array

    def fit(points, weights, *, key, previous: Params | None = None) -> Params:
        k_init, k_train = jax.random.split(key)
        net, _ = train(eqx.combine(init(k_init), static), points, weights, k_train, config,
                       real_val)
        arrays = eqx.filter(net, eqx.is_array)
        return Params(arrays, *carry_reference(arrays, previous))

    def log_prob(params: Params, points):
        return token_log_prob(eqx.combine(params.network, static),
                              jnp.asarray(points, jnp.int32))

    def next_logprobs(params: Params, tokens, t):
        net = eqx.combine(params.network, static)
        h = jax.lax.dynamic_index_in_dim(net.hidden(tokens), t - 1, keepdims=False)
        return jax.nn.log_softmax(net.head(h))

    def generate(key, params, chosen):
        if decode == "beam":
            one = lambda k, p: decoding.beam(next_logprobs, params, p, block, beams=beams,
                                             penalty=penalty)
        else:
            one = lambda k, p: decoding.sample(k, next_logprobs, params, p, block,
                                               temperature=temperature, top_k=top_k,
                                               penalty=penalty)
        return jax.vmap(one)(jax.random.split(key, chosen.shape[0]), chosen)

    name = (f"transformer {config.layers}x{config.width} h{config.heads} L={block} "
            f"V={vocab} {decode}")
    family = Family(continuation_sampler(prompts.array, generate), fit, name=name)
    return LanguageModel(family, log_prob, vocab, block)


def parameters(vocab: int, block: int, config: Config | None = None) -> int:
    """The number of trained parameters of the network (for reports)."""
    config = check(config)
    template = eqx.filter_eval_shape(lambda k: build(k, vocab, block, config),
                                     jax.random.key(0))
    leaves = jax.tree.leaves(template, is_leaf=lambda a: isinstance(a, jax.ShapeDtypeStruct))
    return sum(math.prod(a.shape) for a in leaves if isinstance(a, jax.ShapeDtypeStruct))

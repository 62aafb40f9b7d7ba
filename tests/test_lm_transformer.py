"""collapse_theory.lm.transformer: the transformer family learns a deterministic rule, its
log-probabilities are normalised and causal, zero-weight points are absent, the best epoch on
the validation points is kept, and fits are reproducible, vmappable and chainable.

The rule: ``x_{i+1} = (x_i + 1) mod V`` (V = 8, L = 4), so a point is fixed by its first token
and there are only V distinct points; the real points are 64 of them with random starts.  The
rule has entropy 0: a model that learnt it puts probability → 1 on the next token, and we ask
for a mean continuation loss below 0.05 nats/token (probability > 0.95 on the right token;
the uniform model's loss is log 8 = 2.08).  One tiny configuration (1 layer, width 16, 2
heads) and one compiled fit are shared by most tests.  The file takes ~60 s of CPU (125 s wall
at load ~7 on 2 shared cores), nearly all of it compiling: the fit (plain, padded, vmapped and
with recorded losses), two decoders and the chain's two steps (50 s of it)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_theory import chain, lm
from collapse_theory.lm import transformer

V, L = 8, 4
TINY = transformer.Config(layers=1, width=16, heads=2, epochs=30, batch=16, lr=1e-2)
START = np.random.default_rng(0).integers(0, V, 64)
POINTS = ((START[:, None] + np.arange(2 * L)) % V).astype(np.int32)
EVERY = ((np.arange(V)[:, None] + np.arange(2 * L)) % V).astype(np.int32)  # all V points
#: Validation points of another rule (+2): training on +1 makes them less likely, so the best
#: epoch on them is an early one.
OTHER = ((np.arange(V)[:, None] + 2 * np.arange(2 * L)) % V).astype(np.int32)


@pytest.fixture(scope="module")
def trained():
    m = transformer.model(V, POINTS[:, :L], TINY, validation=EVERY)
    fit = jax.jit(lambda x, w, key: m.family.fit(x, w, key=key))
    return (m._replace(log_prob=jax.jit(m.log_prob)), fit,
            fit(jnp.asarray(POINTS), jnp.ones(64), jax.random.key(0)))


def test_learns_the_rule_and_beam_search_continues_it(trained):
    m, _, params = trained
    loss = -float(jnp.mean(m.log_prob(params, EVERY)))
    assert loss < 0.05, loss
    sample = jax.jit(m.family.sample, static_argnums=2)
    out = np.asarray(sample(jax.random.key(1), params, 64))
    assert out.shape == (64, 2 * L) and out.dtype == np.int32
    np.testing.assert_array_equal(out[:, L:], (out[:, L - 1:L] + 1 + np.arange(L)) % V)
    np.testing.assert_array_equal(np.sort(out[:, 0]), np.sort(START))  # every prompt once


def test_sampling_top_1_is_greedy(trained):
    m, _, params = trained
    greedy = transformer.model(V, POINTS[:, :L], TINY, validation=EVERY, decode="sample",
                               top_k=1, temperature=0.7)
    out = np.asarray(jax.jit(greedy.family.sample, static_argnums=2)(jax.random.key(2),
                                                                     params, 16))
    np.testing.assert_array_equal(out[:, L:], (out[:, L - 1:L] + 1 + np.arange(L)) % V)


def test_log_prob_is_normalised_and_causal(trained):
    m, _, params = trained
    point = POINTS[:1]
    # Every value w of token L + t: log Q(w | x_{<L+t}) is column t of log_prob.
    variants = np.repeat(point, V * L, axis=0).reshape(L, V, 2 * L)
    for t in range(L):
        variants[t, :, L + t] = np.arange(V)
    lp = np.asarray(m.log_prob(params, variants.reshape(-1, 2 * L))).reshape(L, V, L)
    total = jax.scipy.special.logsumexp(lp[np.arange(L), :, np.arange(L)], axis=-1)
    np.testing.assert_allclose(total, 0.0, atol=1e-5)
    # Changing token L + t changes no earlier column (bit for bit: masked scores weigh 0).
    for t in range(L):
        np.testing.assert_array_equal(lp[t, :, :t], np.broadcast_to(lp[t, :1, :t], (V, t)))


def test_zero_weight_points_are_absent(trained):
    m, fit, params = trained
    junk = np.random.default_rng(1).integers(0, V, (20, 2 * L)).astype(np.int32)
    padded = fit(jnp.asarray(np.concatenate([POINTS, junk])),
                 jnp.concatenate([jnp.ones(64), jnp.zeros(20)]), jax.random.key(0))
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(padded)):
        np.testing.assert_array_equal(a, b)


def test_same_key_same_fit_other_key_other_fit(trained):
    m, fit, params = trained
    again = fit(jnp.asarray(POINTS), jnp.ones(64), jax.random.key(0))
    other = fit(jnp.asarray(POINTS), jnp.ones(64), jax.random.key(1))
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(jax.tree.leaves(params),
                                                        jax.tree.leaves(other)))


def test_best_epoch_on_validation_is_kept():
    """The returned network's validation loss is the least of the epochs' (recorded in the
    scan), and that least is not the last epoch's: the best epoch, not the last, is kept."""
    config = transformer.Config(layers=1, width=16, heads=2, epochs=8, batch=16, lr=1e-2)
    init, static = transformer.initializer(V, L, config)
    net = eqx.combine(init(jax.random.key(3)), static)
    best, losses = eqx.filter_jit(lambda net: transformer.train(
        net, jnp.asarray(POINTS), jnp.ones(64), jax.random.key(4), config, OTHER))(net)
    losses = np.asarray(losses)
    assert losses.shape == (8,) and np.argmin(losses) < config.epochs - 1, losses  # premise
    val = -float(jnp.mean(eqx.filter_jit(transformer.token_log_prob)(best, OTHER)))
    np.testing.assert_allclose(val, losses.min(), rtol=1e-5)
    assert val < losses[-1]


def test_vmapped_fits_match_single_fits(trained):
    m, fit, _ = trained
    keys = jax.random.split(jax.random.key(5), 3)
    x, w = jnp.asarray(POINTS), jnp.ones(64)
    many = jax.jit(jax.vmap(fit, in_axes=(None, None, 0)))(x, w, keys)
    for i in range(3):
        one = fit(x, w, keys[i])
        # Not bit for bit: the vmapped network's matmuls are batched dots (another float32
        # summation order), and 120 Adam steps amplify that rounding where gradients are ~0
        # (measured: parameters differ by up to 6e-3); the fitted models' log-probabilities
        # agree to ~1e-7 (measured), checked here to 1e-3.
        lp_one = m.log_prob(one, EVERY)
        lp_many = m.log_prob(jax.tree.map(lambda a: a[i], many), EVERY)
        np.testing.assert_allclose(lp_many, lp_one, atol=1e-3)


def test_chain_runs_and_is_reproducible():
    model = transformer.model(V, POINTS[:16, :L], transformer.Config(
        layers=1, width=16, heads=2, epochs=10, batch=16, lr=1e-2))
    run = lambda: chain.simulate(jax.random.key(6), model.family, sample_size=16,
                                 generations=2, trials=3, real=POINTS[:16])
    a, b = run(), run()
    assert list(a.generation) == [0, 1, 2]
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        assert x.shape[:2] == (3, 3)
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.params.fits[:, 1:], [[1, 2]] * 3)
    # Fit 2 carries fit 1's network as the trial's reference (the paper's generation-0 model).
    for net1, ref2 in zip(jax.tree.leaves(a.params.network), jax.tree.leaves(a.params.reference)):
        np.testing.assert_array_equal(ref2[:, 2], net1[:, 1])
        np.testing.assert_array_equal(ref2[:, 1], net1[:, 1])
    params2 = jax.tree.map(lambda p: p[:, 2], a.params)
    assert np.isfinite(np.asarray(jax.vmap(model.log_prob, (0, None))(params2, EVERY))).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(vocab=1), "vocab must be >= 2"),
    (dict(prompts=POINTS[:, :L].astype(float)), "prompts must be a 2-D integer array"),
    (dict(prompts=POINTS[:, :L] + V), r"prompts must hold tokens in \[0, 7\]"),
    (dict(validation=POINTS[:, :L]), "validation must have 8 columns"),
    (dict(decode="greedy"), "decode"),
    (dict(beams=0), "beams must be >= 1"),
    (dict(temperature=0.0), "temperature"),
    (dict(top_k=V + 1), "top_k must be <= 8"),
    (dict(penalty=0.5), "penalty must be >= 1"),
    (dict(config=transformer.Config(width=10, heads=4)), "config.width must be a multiple"),
    (dict(config=transformer.Config(warmup=1.0)), r"config.warmup must be in \[0, 1\)"),
    (dict(config=transformer.Config(epochs=0)), "config.epochs must be >= 1"),
    (dict(config=transformer.Config(lr=-1.0)), "config.lr"),
    (dict(config=dict(layers=1)), "config must be a collapse_theory.lm.transformer.Config"),
])
def test_bad_input_names_the_argument(kwargs, match):
    args = dict(vocab=V, prompts=POINTS[:, :L]) | kwargs
    with pytest.raises((TypeError, ValueError), match=match):
        transformer.model(**args)


def test_same_arguments_same_family():
    a = transformer.model(V, POINTS[:, :L].copy(), TINY, validation=EVERY.copy())
    b = transformer.model(V, POINTS[:, :L], TINY, validation=EVERY)
    c = transformer.model(V, POINTS[:, :L] ^ 1, TINY, validation=EVERY)
    assert a is b and a is not c
    assert isinstance(a, lm.LanguageModel) and (a.vocab, a.block) == (V, L)

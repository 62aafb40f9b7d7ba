r"""Property tests of a researcher's own estimator: a shrinkage estimator of a Gaussian variance.

The estimator is ``σ̂² = S/(M + c)`` with ``S = Σ (x − x̄)²`` (``c = −1`` unbiased, ``c = 0`` the
MLE, ``c = 1`` the multiple of ``S`` with the least mean squared error), written as a
``ct.Family`` and tested with :mod:`collapse_theory.testing`.  Every statistical test spends the
share of the session's false-fail budget that the pytest plugin gives it (``ct_false_fail_rate``):
half on the claim and half on its negative control, which is sized (``trials_needed``) to be
missed with probability at most that half: a true claim fails the test with probability at most
the share.  The tutorial ``docs/testing.md`` derives every closed form.

Run: ``python -m pytest -q -p no:cacheprovider -n 0 examples/test_shrinkage.py`` (add
``--ct-vary-seed 20`` for the observed false-fail rates); ``python examples/test_shrinkage.py``
prints the collapse-rate table of the tutorial.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special, stats

import collapse_theory as ct
from collapse_theory import discrete
from collapse_theory import testing as T
from collapse_theory.testing import strategies as cts

# --- the estimator ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)  # the same c gives the same family: compiled chains are reused
def shrinkage(c: float, shrink_mean: bool = False) -> ct.Family:
    """``σ̂² = S/(M + c)``, ``M = Σ w`` (a zero weight is an absent point).  ``shrink_mean``
    also shrinks the mean, ``μ̂ = M x̄/(M + c)`` (the negative control of the martingale test)."""

    def sample(key, params, n):
        return params["mu"] + jnp.exp(params["log_var"] / 2) * jax.random.normal(key, (n,))

    def fit(x, w):
        m = jnp.sum(w)
        mu = jnp.sum(w * x) / m
        s = jnp.sum(w * (x - mu) ** 2)
        return {"mu": mu * m / (m + c) if shrink_mean else mu, "log_var": jnp.log(s / (m + c))}

    return ct.Family(sample, fit, name=f"S/(M{c:+g})")


@functools.lru_cache(maxsize=64)
def batched_fit(c: float):
    """``shrinkage(c).fit`` over samples ``(N, M)``, compiled once per ``c`` and shape."""
    return jax.jit(jax.vmap(shrinkage(c).fit))


C = 1.0
SHRINK = shrinkage(C)
M, G, TRIALS = 10, 16, 2000  # one chain shape for the chain tests: it compiles once
P0 = {"mu": 1.0, "log_var": 0.0}  # D0 = N(1, 1)


def log_var(params):  # statistics at module level: the compiled chain is cached on them
    return params["log_var"]


def mean(params):
    return params["mu"]


def drift(m, c):
    """``E log σ̂² − log σ²`` of one fit: ``ψ((M−1)/2) + log(2/(M+c))`` (S/σ² ~ χ²_{M−1})."""
    return special.digamma((m - 1) / 2) + np.log(2 / (m + c))


def sd_log_var(m):
    """Standard deviation of ``log σ̂²`` of one fit: ``√ψ'((M−1)/2)``."""
    return np.sqrt(special.polygamma(1, (m - 1) / 2))


def jensen(m, c):
    """The wrong closed form ``log E σ̂²/σ² = log((M−1)/(M+c))`` (negative controls)."""
    return np.log((m - 1) / (m + c))


def detects(gap, *, alpha, available=TRIALS, **design):
    """Fail unless ``available`` trials catch the control's ``gap`` except with probability
    ``alpha`` (so the test's false-fail rate is at most ``2 alpha``, its budget share)."""
    need = T.trials_needed(gap, false_fail_rate=alpha, false_pass_rate=alpha, **design)
    assert need <= available, \
        f"{need} trials needed to detect {gap:.3g} at rate {alpha:.3g}; raise TRIALS"


@functools.lru_cache(maxsize=8)
def chain_log_var(seed: int):
    """``log σ̂²_g`` of ``TRIALS`` replace chains, at the generations ``record="log"`` keeps:
    the same chain as ``assert_closed_form`` below runs (one compilation for both)."""
    res = ct.simulate(jax.random.key(seed), SHRINK, P0, sample_size=M, generations=G,
                      trials=TRIALS, record="log", observe=log_var)
    return np.asarray(res.generation), np.asarray(res.params, np.float64)


# --- properties of one fit ----------------------------------------------------------------------

WIDTH = 16  # one padded shape: the fit compiles once


def zero_weights_are_absent(fit):
    """Hypothesis property: the fit of ``live`` points padded with zero-weight junk equals the
    float64 fit of those points alone, up to float32 rounding (``1e-5 Σx²``) and underflow
    (a square below the smallest normal float32 is flushed to 0: ``WIDTH · tiny``)."""
    fit = jax.jit(fit)

    @settings(cts.SETTINGS, max_examples=50, report_multiple_bugs=False)
    @given(x=arrays(np.float32, WIDTH, elements=st.floats(-1e3, 1e3, width=32)),
           live=st.integers(2, WIDTH))
    def prop(x, live):
        w = (np.arange(WIDTH) < live).astype(np.float32)
        got = fit(x, w)
        xs = x[:live].astype(np.float64)
        s = np.sum((xs - xs.mean()) ** 2)
        assert abs(float(got["mu"]) - xs.mean()) <= 1e-5 * np.abs(xs).max() + 1e-30
        tol = 1e-5 * np.sum(xs ** 2) + WIDTH * np.finfo(np.float32).tiny
        assert abs(np.exp(float(got["log_var"])) * (live + C) - s) <= tol

    prop()


def naive_fit(x, w):
    """The estimator written with ``jnp.mean``/``jnp.var``: it counts zero-weight rows (the
    padding of every policy but replace, subsamples, pools) as data."""
    return {"mu": jnp.mean(x), "log_var": jnp.log(jnp.var(x) * x.size / (x.size + C))}


def test_zero_weights_are_absent_points():
    zero_weights_are_absent(SHRINK.fit)
    with pytest.raises(AssertionError):  # control: Hypothesis finds a counterexample
        zero_weights_are_absent(naive_fit)


EXAMPLES = 8
# Derandomised, no deadline (cts.SETTINGS), and no shrinking: a statistical failure is a random
# event, and replaying smaller examples would spend more of the budget.  ct_seed is the same for
# every example, so the function-scoped fixture is safe.
STATISTICAL = settings(cts.SETTINGS, max_examples=EXAMPLES,
                       phases=[Phase.explicit, Phase.generate],
                       suppress_health_check=[*cts.SETTINGS.suppress_health_check,
                                              HealthCheck.function_scoped_fixture])


@STATISTICAL
@given(m=cts.sample_sizes(3, 30), c=st.floats(-1.0, 4.0), law=cts.gaussian_params(1),
       stream=st.integers(0, 2**32 - 1))
def test_mean_log_variance_of_one_fit(m, c, law, stream, ct_seed, ct_false_fail_rate):
    """``E log σ̂² = log σ² + ψ((M−1)/2) + log(2/(M+c))`` for every ``M``, ``c``, ``μ``, ``σ²``
    Hypothesis draws; control: Jensen's ``log E σ̂² = log σ² + log((M−1)/(M+c))``."""
    alpha = ct_false_fail_rate / (2 * EXAMPLES)  # claim + control in each of EXAMPLES draws
    gap = drift(m, c) - jensen(m, c)  # = ψ((M−1)/2) + log(2/(M−1)) < 0, whatever c
    n = T.trials_needed(abs(gap), false_fail_rate=alpha, false_pass_rate=alpha,
                        scale=sd_log_var(m))
    (mu,), ((var,),) = law
    rng = np.random.default_rng([ct_seed, stream])
    x = (mu + np.sqrt(var) * rng.standard_normal((n, m))).astype(np.float32)
    fits = batched_fit(c)(x, np.ones_like(x))  # jit(vmap(shrinkage(c).fit)), cached
    got = np.asarray(fits["log_var"], np.float64)
    T.assert_mean(got, np.log(var) + drift(m, c), false_fail_rate=alpha)
    with pytest.raises(T.StatisticalAssertionError):
        T.assert_mean(got, np.log(var) + jensen(m, c), false_fail_rate=alpha)


# --- laws of the chain --------------------------------------------------------------------------


def test_law_of_the_first_fit(ct_seed, ct_false_fail_rate):
    """``(M + c) σ̂²_1/σ²_0 ~ χ²_{M−1}`` (KS); control: ``χ²_M``, the law with a known mean."""
    alpha = ct_false_fail_rate / 2
    grid = np.linspace(0, 100, 100_001)
    gap = np.max(np.abs(stats.chi2(M - 1).cdf(grid) - stats.chi2(M).cdf(grid)))  # 0.0955
    detects(gap, alpha=alpha)
    gens, lv = chain_log_var(ct_seed)
    scaled = (M + C) * np.exp(lv[:, gens == 1])
    T.assert_law(scaled, cdf=stats.chi2(M - 1).cdf, false_fail_rate=alpha)
    with pytest.raises(T.StatisticalAssertionError):  # χ²_M: the law if μ were known
        T.assert_law(scaled, cdf=stats.chi2(M).cdf, false_fail_rate=alpha)


def test_law_after_g_generations(ct_seed, ct_false_fail_rate):
    """``log σ̂²_G − log σ²_0`` is a sum of ``G`` i.i.d. ``log(χ²_{M−1}/(M+c))``: the chain has
    the law of numpy's product of χ² draws (two-sample KS); control: the same with ``c = 0``."""
    alpha = ct_false_fail_rate / 2
    shift = G * np.log((M + C) / M)  # c = 1 vs c = 0 after G fits; both laws ≈ normal, SD:
    gap = 2 * stats.norm.cdf(shift / (2 * np.sqrt(G) * sd_log_var(M))) - 1  # sup|F − F'|
    detects(gap, alpha=alpha, available=TRIALS // 2)  # two samples of N: N/2 effective
    gens, lv = chain_log_var(ct_seed)
    rng = np.random.default_rng([ct_seed, 1])
    chi2 = np.log(rng.chisquare(M - 1, (TRIALS, G))).sum(axis=1)
    T.assert_same_law(lv[:, gens == G], chi2 - G * np.log(M + C), false_fail_rate=alpha)
    with pytest.raises(T.StatisticalAssertionError):
        T.assert_same_law(lv[:, gens == G], chi2 - G * np.log(M), false_fail_rate=alpha)


# --- the collapse properties --------------------------------------------------------------------


def test_closed_form_of_the_log_variance(ct_seed, ct_false_fail_rate):
    """``E log σ̂²_g = log σ²_0 + g (ψ((M−1)/2) + log(2/(M+c)))`` at every recorded ``g``;
    control: Jensen's ``g log((M−1)/(M+c))``."""
    alpha = ct_false_fail_rate / 2
    common = dict(key=jax.random.key(ct_seed), sample_size=M, generations=G, trials=TRIALS,
                  false_fail_rate=alpha)
    recorded = int(np.sum(chain_log_var(ct_seed)[0] >= 1))  # Bonferroni over generations
    detects(abs(drift(M, C) - jensen(M, C)), alpha=alpha, scale=sd_log_var(M),
            components=recorded)  # g = 1 is the hardest: the gap grows like g, the SD like √g
    T.assert_closed_form(SHRINK, P0, log_var, lambda g: g * drift(M, C), **common)
    with pytest.raises(T.StatisticalAssertionError):
        T.assert_closed_form(SHRINK, P0, log_var, lambda g: g * jensen(M, C), **common)


def test_mean_is_a_martingale(ct_seed, ct_false_fail_rate):
    """``E μ̂_g = μ_0`` (x̄ is unbiased); control: ``μ̂ = M x̄/(M+c)`` shrinks the mean too,
    ``E μ̂_g = μ_0 (M/(M+c))^g``."""
    alpha = ct_false_fail_rate / 2
    common = dict(key=jax.random.key(ct_seed), sample_size=M, generations=G, trials=TRIALS,
                  false_fail_rate=alpha)
    recorded = int(np.sum(chain_log_var(ct_seed)[0] >= 1))
    detects(P0["mu"] * C / (M + C), alpha=alpha, scale=1 / np.sqrt(M), components=recorded)
    T.assert_martingale(SHRINK, P0, mean, **common)
    with pytest.raises(T.StatisticalAssertionError):
        T.assert_martingale(shrinkage(C, shrink_mean=True), P0, mean, **common)


LONG = 50


def test_fresh_data_stops_the_collapse(ct_seed, ct_false_fail_rate):
    """Under replace ``log σ̂²`` drifts by ``δ = ψ((M−1)/2) + log(2/(M+c)) ≈ −0.316`` per
    generation for ever.  With 10 % fresh data it settles, so its drift over ``G`` generations
    is ``L/G``: the claim is that over 50 generations it is under a tenth of ``|δ|``
    (``collapse_rate``'s interval); control: replace's interval is not."""
    alpha = ct_false_fail_rate / 2
    common = dict(key=jax.random.key(ct_seed), sample_size=M, generations=LONG, trials=TRIALS,
                  false_fail_rate=alpha)
    tenth = drift(M, C) / 10
    fresh = T.collapse_rate(SHRINK, P0, log_var, policy="fresh:0.1", **common)
    fresh.assert_within(low=tenth)
    replace = T.collapse_rate(SHRINK, P0, log_var, **common)
    with pytest.raises(T.StatisticalAssertionError):  # control: replace collapses at full rate
        replace.assert_within(low=tenth)


def test_extinct_categories_never_return():
    """Support is absorbing for the unsmoothed categorical fit under replace (not a statistical
    claim: it must hold on every chain; add-α smoothing, ``pseudocount=0.5``, fails it)."""
    p0 = discrete.initial(np.full(5, 0.2))

    def support(params):
        return jnp.sum(params.counts > 0)

    T.assert_absorbing(discrete.family(5, method="samples"), p0, support,
                       key=jax.random.key(0), sample_size=6, generations=30, trials=64)


def test_same_key_same_chains():
    """Trial ``i`` depends only on ``(key, i)``, whatever ``trials`` and ``chunk_size`` (1999
    pads a chunk; chunks of 1000 split the trials).  With the chain tests' statistic, record
    and trials the reference run reuses their compiled chain; chunks of 1000 compile once."""
    T.assert_reproducible(SHRINK, P0, key=jax.random.key(0), sample_size=M, generations=G,
                          trials=(1999, TRIALS), chunk_sizes=(None, 1000), record="log",
                          observe=log_var)


def main(seed=0):
    """The collapse-rate table of the tutorial: drift of log σ̂² per generation."""
    for policy in ("replace", "fresh:0.1"):
        for g in (25, 50, 200):
            r = T.collapse_rate(SHRINK, P0, log_var, key=jax.random.key(seed), sample_size=M,
                                generations=g, trials=TRIALS, policy=policy)
            print(f"{policy:>9} G = {g:3d}: drift {r.drift:+.4f} ± {r.stderr:.4f} "
                  f"[{r.low:+.4f}, {r.high:+.4f}], G·drift {g * r.drift:+.3f}")


if __name__ == "__main__":
    main()

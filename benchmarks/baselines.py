"""Baselines a researcher would write by hand, to time the package against.

* ``*_paper``: the literal process of the paper, one chain in a Python loop: draw ``M``
  points, refit, repeat.
* ``*_numpy``: the best vectorised numpy: every trial at once, one Python iteration per
  generation, exact sufficient statistics (``χ²`` and a normal for the 1-D Gaussian,
  ``Generator.multinomial`` for the discrete chain).
* ``*_jax``: the same chains in JAX on ``jax.random``'s own samplers (``loggamma``,
  ``multinomial``), one ``jit(vmap(scan))``; ``sampler="package"`` swaps in
  :mod:`collapse_theory.samplers` with everything else unchanged.

Every function returns the final state so that nothing is optimised away; the 1-D Gaussian
chains carry ``log σ²`` (σ² underflows after a few thousand generations at ``M = 100``).
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from collapse_theory import samplers


def alternated(fns: dict, repeats: int = 3, warm: bool = True) -> dict:
    """Seconds of each of ``fns``' calls (waited for): one untimed call of each (compiles;
    skipped with ``warm=False``, when the caller made it), then ``repeats`` rounds calling
    each once in turn, so that a slow spell of a shared machine falls on every implementation
    of a round alike.  ``{name: [seconds per round]}``."""
    for fn in fns.values() if warm else ():
        jax.block_until_ready(fn())
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - t0)
    return times


def save(report: str, out: str | None) -> None:
    """Write a script's Markdown ``report`` to the file ``out`` (its ``--out``), if given."""
    if out:
        with open(out, "w") as fh:
            fh.write(report)


def ratio(times: dict, num: str, den: str) -> tuple[float, float, float]:
    """Median, min and max over the rounds of :func:`alternated` of ``times[num] /
    times[den]`` within a round (how many times faster ``den`` runs)."""
    r = np.asarray(times[num]) / np.asarray(times[den])
    return float(np.median(r)), float(r.min()), float(r.max())


def gaussian_paper(rng: np.random.Generator, m: int, generations: int):
    """One 1-D chain: sample ``m`` points from the fit, refit mean and unbiased variance."""
    mu, sigma = 0.0, 1.0
    for _ in range(generations):
        x = rng.normal(mu, sigma, m)
        mu, sigma = x.mean(), x.std(ddof=1)
    return mu, sigma


def gaussian_numpy(rng: np.random.Generator, m: int, generations: int, trials: int):
    """All trials at once: ``μ += σ z/√M``, ``log σ² += log χ²_{M−1} − log(M−1)``."""
    mu = np.zeros(trials)
    log_var = np.zeros(trials)
    for _ in range(generations):
        mu += np.exp(0.5 * log_var) * rng.standard_normal(trials) / math.sqrt(m)
        log_var += np.log(rng.chisquare(m - 1, trials)) - math.log(m - 1)
    return mu, log_var


def gaussian_jax(m: int, generations: int, trials: int, sampler: str = "jax"):
    """A jitted ``key -> (μ, log σ²)`` of ``trials`` 1-D chains (``sampler``: jax or package)."""
    dtype = jnp.asarray(0.0).dtype

    def log_chi2(key, dof):
        if sampler == "jax":
            return math.log(2.0) + jax.random.loggamma(key, 0.5 * dof, dtype=dtype)
        return samplers.log_chisquare(key, dof, dtype=dtype)

    def chain(key):
        def step(state, g):
            mu, log_var = state
            k_z, k_chi = jax.random.split(jax.random.fold_in(key, g))
            mu = mu + jnp.exp(0.5 * log_var) * jax.random.normal(k_z, (), dtype) / math.sqrt(m)
            log_var = log_var + log_chi2(k_chi, jnp.asarray(m - 1.0, dtype)) - math.log(m - 1)
            return (mu, log_var), None

        zero = jnp.zeros((), dtype)
        return jax.lax.scan(step, (zero, zero), jnp.arange(generations, dtype=jnp.uint32))[0]

    keys = lambda key: jax.vmap(lambda i: jax.random.fold_in(key, i))(
        jnp.arange(trials, dtype=jnp.uint32))
    return jax.jit(lambda key: jax.vmap(chain)(keys(key)))


def gaussian_subsample_loop(rng: np.random.Generator, dim: int, m: int, generations: int):
    """One accumulate-subsample chain as Kazdan et al. (2024) run it, one trajectory per seed:
    the pool keeps every point so far; each fit takes ``m`` of them without replacement
    (``Generator.choice``) and fits the MLE mean and covariance; ``m`` new points join the pool.
    """
    pool = rng.standard_normal((m, dim))
    mu, cov = pool.mean(0), np.cov(pool, rowvar=False, bias=True)
    for _ in range(generations - 1):
        pool = np.concatenate([pool, rng.multivariate_normal(mu, cov, m)])
        x = pool[rng.choice(len(pool), m, replace=False)]
        mu, cov = x.mean(0), np.cov(x, rowvar=False, bias=True)
    return mu, cov


def discrete_paper(rng: np.random.Generator, probs: np.ndarray, m: int, generations: int):
    """One chain: ``c ~ Multinomial(M, q)``, ``q = c/M``."""
    q = probs
    for _ in range(generations):
        q = rng.multinomial(m, q) / m
    return q


def discrete_numpy(rng: np.random.Generator, probs: np.ndarray, m: int, generations: int,
                   trials: int, record: bool = False):
    """All trials at once with ``Generator.multinomial`` on a ``(trials, K)`` array of laws.

    ``record=True`` also stores every generation's counts as int32 into a ``(G + 1, T, K)``
    array (row 0: ``round(p_0 M)``) and returns it instead of the final law."""
    q = np.broadcast_to(probs, (trials, probs.size))
    rec = np.empty((generations + 1, trials, probs.size), np.int32) if record else None
    if record:
        rec[0] = np.round(q * m)
    for g in range(1, generations + 1):
        counts = rng.multinomial(m, q)
        q = counts / m
        if record:
            rec[g] = counts
    return rec if record else q


def discrete_jax(probs: np.ndarray, m: int, generations: int, trials: int, sampler: str = "jax"):
    """A jitted ``key -> q`` of ``trials`` discrete chains (``sampler``: jax or package).

    ``jax.random.multinomial`` returns float counts (a scan of float binomials).
    """
    dtype = jnp.asarray(0.0).dtype
    p0 = jnp.asarray(probs, dtype)

    def draw(key, q):
        if sampler == "jax":
            return jax.random.multinomial(key, m, q, dtype=dtype)
        return samplers.multinomial(key, m, q).astype(dtype)

    def chain(key):
        def step(q, g):
            return draw(jax.random.fold_in(key, g), q) / m, None

        return jax.lax.scan(step, p0, jnp.arange(generations, dtype=jnp.uint32))[0]

    keys = lambda key: jax.vmap(lambda i: jax.random.fold_in(key, i))(
        jnp.arange(trials, dtype=jnp.uint32))
    return jax.jit(lambda key: jax.vmap(chain)(keys(key)))


def gmm_paper(rng: np.random.Generator, m: int, generations: int, components: int = 2):
    """One GMM chain as the paper ran it: scikit-learn's ``GaussianMixture`` (full covariance,
    its defaults: k-means init, tol 1e-3, reg_covar 1e-6) refitted to ``m`` samples of the
    previous fit in a Python loop.  Generation 0 is ``mixture.paper_mixture()``.  scikit-learn
    is imported here so that ``run.py`` works without it.
    """
    from sklearn.mixture import GaussianMixture

    from collapse_theory import mixture

    d0 = mixture.paper_mixture()
    labels = rng.choice(components, size=m, p=np.asarray(d0.weights, np.float64))
    x = np.asarray(d0.means)[labels] + np.einsum(
        "nij,nj->ni", np.asarray(d0.chol)[labels], rng.standard_normal((m, 2)))
    gm = None
    for _ in range(generations):
        gm = GaussianMixture(components, covariance_type="full",
                             random_state=int(rng.integers(2 ** 31))).fit(x)
        x = gm.sample(m)[0]
    return gm.weights_, gm.means_, gm.covariances_

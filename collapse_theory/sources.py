"""Original ("real") data distributions D0 for the first fit.

Theorem 3.1 of Shumailov et al. (Nature 2024) allows any D0 with non-zero variance.  A named
source is a *standardised* one-dimensional law (mean 0, variance 1) drawn independently per
coordinate and mapped affinely, ``x = mean + chol(cov) ξ``, so that D0 has exactly the requested
mean and covariance.  Each source also knows its quantile function, which gives the 1-D
Wasserstein distance to a Gaussian in closed form up to one constant (see :attr:`RealData.kappa`).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, special, stats


@dataclasses.dataclass(frozen=True)
class RealData:
    """A standardised 1-D law ξ (E ξ = 0, E ξ² = 1), sampled i.i.d. per coordinate.

    Attributes:
      name: the spec it was built from, e.g. ``"student-t:5"``.
      sample: ``sample(key, shape, dtype) -> array`` of i.i.d. draws of ξ.
      dist: the law of ξ with scipy's ``cdf``, ``sf``, ``pdf`` and ``support`` methods.
    """

    name: str
    sample: Callable
    dist: object

    @property
    def is_gaussian(self) -> bool:
        return self.name == "gaussian"

    @functools.cached_property
    def kappa(self) -> float:
        r"""κ = ∫₀¹ F⁻¹(u) Φ⁻¹(u) du = E[ξ Φ⁻¹(F(ξ))] ∈ (0, 1], 1 only for the Gaussian.

        With it the 1-D distance from N(m, s²) to D0 = μ0 + σ0 ξ is
        ``W2² = (m − μ0)² + σ0² + s² − 2 s σ0 κ`` (quantile coupling; see ``metrics``).
        """
        if self.is_gaussian:
            return 1.0
        d = self.dist

        def integrand(x):  # x Φ⁻¹(F(x)) f(x), the score taken from the nearer tail
            tail = d.cdf(x) if x < 0 else d.sf(x)
            if tail <= 0.0:
                return 0.0
            score = special.ndtri(tail) if x < 0 else -special.ndtri(tail)
            return x * score * d.pdf(x)

        lo, hi = d.support()
        parts = [(max(lo, -np.inf), 0.0), (0.0, min(hi, np.inf))]
        return float(sum(integrate.quad(integrand, a, b, limit=200)[0]
                         for a, b in parts))


def _gaussian() -> RealData:
    return RealData("gaussian", lambda key, shape, dtype: jax.random.normal(key, shape, dtype),
                    stats.norm())


def _student_t(df: float = 5.0) -> RealData:
    if not df > 2:
        raise ValueError(f"student-t degrees of freedom must be > 2 (finite variance), got {df}")
    scale = float(np.sqrt((df - 2.0) / df))

    def sample(key, shape, dtype):
        return scale * jax.random.t(key, df, shape, dtype)

    return RealData(f"student-t:{df:g}", sample, stats.t(df, scale=scale))


def _uniform() -> RealData:
    r = float(np.sqrt(3.0))
    return RealData("uniform",
                    lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -r, r),
                    stats.uniform(-r, 2 * r))


def _laplace() -> RealData:
    b = float(np.sqrt(0.5))
    return RealData("laplace",
                    lambda key, shape, dtype: b * jax.random.laplace(key, shape, dtype),
                    stats.laplace(scale=b))


class _SymmetricMixture:
    """½ N(−δ, s²) + ½ N(δ, s²) with δ² + s² = 1 (the scipy-like methods ``kappa`` needs)."""

    def __init__(self, delta: float):
        self.parts = (stats.norm(-delta, np.sqrt(1.0 - delta ** 2)),
                      stats.norm(delta, np.sqrt(1.0 - delta ** 2)))

    def pdf(self, x):
        return 0.5 * (self.parts[0].pdf(x) + self.parts[1].pdf(x))

    def cdf(self, x):
        return 0.5 * (self.parts[0].cdf(x) + self.parts[1].cdf(x))

    def sf(self, x):
        return 0.5 * (self.parts[0].sf(x) + self.parts[1].sf(x))

    def support(self):
        return -np.inf, np.inf


def _mixture(delta: float = 0.9) -> RealData:
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"mixture separation delta must lie in [0, 1), got {delta}")
    s = float(np.sqrt(1.0 - delta ** 2))

    def sample(key, shape, dtype):
        k_sign, k_norm = jax.random.split(key)
        sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, shape), 1.0, -1.0).astype(dtype)
        return sign * delta + s * jax.random.normal(k_norm, shape, dtype)

    return RealData(f"mixture:{delta:g}", sample, _SymmetricMixture(delta))


_NAMED = {"gaussian": _gaussian, "student-t": _student_t, "uniform": _uniform,
          "laplace": _laplace, "mixture": _mixture}
NAMES = tuple(_NAMED)


def real_data(spec: str | RealData = "gaussian") -> RealData:
    """Build a source from ``"name"`` or ``"name:param"`` (the same object for the same spec).

    Names: ``gaussian``, ``student-t[:df]`` (df > 2, default 5), ``uniform``, ``laplace``,
    ``mixture[:delta]`` (½N(−δ, 1−δ²) + ½N(δ, 1−δ²), 0 ≤ δ < 1, default 0.9).
    """
    if isinstance(spec, RealData):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"data must be a name or a RealData, got {type(spec).__name__}")
    return _named(spec)


@functools.lru_cache(maxsize=None)
def _named(spec: str) -> RealData:
    name, _, param = spec.partition(":")
    if name not in _NAMED:
        raise ValueError(f"data must be one of {', '.join(NAMES)} (optionally 'name:param'), got {spec!r}")
    if not param:
        return _NAMED[name]()
    if name in ("gaussian", "uniform", "laplace"):
        raise ValueError(f"data={spec!r}: {name} takes no parameter")
    try:
        value = float(param)
    except ValueError:
        raise ValueError(f"data={spec!r}: parameter {param!r} is not a number") from None
    return _NAMED[name](value)



def word_frequencies(lang: str = "en", top: int = 1000) -> tuple[tuple[str, ...], np.ndarray]:
    """The ``top`` most frequent words of ``lang`` and their probabilities, a real-language D0.

    Frequencies come from the ``wordfreq`` package (its ``best`` word list, shipped inside the
    wheel: nothing is downloaded), renormalised to sum to 1 over the ``top`` words:
    ``p_i = f_i / Σ_{j<top} f_j``, in float64 (read-only; the same objects for the same
    arguments).  Words are in descending frequency, ties (wordfreq rounds frequencies to
    centibels) broken by the word, so the order is deterministic.  English: ``top`` ≤ 321180.
    """
    if isinstance(top, bool) or not isinstance(top, (numbers.Integral, np.integer)):
        raise TypeError(f"top must be an integer, got {top!r} ({type(top).__name__})")
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a language code (str), got {type(lang).__name__}")
    return _word_frequencies(lang, int(top))


def word_count(lang: str = "en") -> int:
    """The number of words in the list of ``lang`` (the largest ``top``; English: 321180)."""
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a language code (str), got {type(lang).__name__}")
    return len(_ranked(lang))


@functools.lru_cache(maxsize=None)
def _ranked(lang: str) -> list[tuple[str, float]]:
    """The (word, frequency) list of ``lang``, descending, ties by word."""
    import wordfreq  # at first use: importing it takes about 0.13 s

    available = sorted(wordfreq.available_languages("best"))
    if lang not in available:
        raise ValueError(f"lang must be a language code of wordfreq's 'best' lists, one of "
                         f"{', '.join(available)}; got {lang!r}")
    freq = wordfreq.get_frequency_dict(lang, "best")
    return sorted(freq.items(), key=lambda item: (-item[1], item[0]))


@functools.lru_cache(maxsize=None)
def _word_frequencies(lang: str, top: int) -> tuple[tuple[str, ...], np.ndarray]:
    ranked = _ranked(lang)
    if not 1 <= top <= len(ranked):
        raise ValueError(f"top must be in [1, {len(ranked)}] (the words of {lang!r}), got {top}")
    ranked = ranked[:top]
    probs = np.array([f for _, f in ranked], np.float64)
    probs /= probs.sum()
    probs.setflags(write=False)
    return tuple(w for w, _ in ranked), probs

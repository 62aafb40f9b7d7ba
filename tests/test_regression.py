"""Linear regression on its own labels: closed forms in law, exact vs sample paths, validation.

z-tests of the mean error over i.i.d. trials (SE = s/√T, accepted at |z| < 5), KS tests at
p > 1e-3; each with a negative control that the same test rejects.  ``‖ŵ_n − w*‖²`` is a sum of
inverse-Wishart quadratic forms with finite variance for ``T − d − 3 > 0`` (here T = 20, d = 4).
"""

import functools

import jax
import numpy as np
import pytest
from scipy import stats

from collapse_theory import regression
from collapse_theory.testing import statistics
from collapse_theory.theory import policies as theory

T, D, G, TRIALS, NOISE = 20, 4, 12, 6000, 0.5


@functools.cache
def errors(policy, design, method="exact", key=0, trials=TRIALS):
    res = regression.simulate(jax.random.key(key), rows=T, dim=D, generations=G, trials=trials,
                              noise=NOISE, design=design, policy=policy, method=method,
                              record=[G])
    return np.asarray(res.error, np.float64).ravel()


def z_mean(x, expected):
    """z of the mean of i.i.d. trials, SE = s/√T (collapse_theory.testing.statistics)."""
    return statistics.z_mean(x, expected).statistic


@pytest.mark.parametrize("design", ["fresh", "fixed"])
def test_replace_error_grows_linearly(design):
    """E‖ŵ_n − w*‖² = σ² d n/(T − d − 1); control: the same sample against σ² d n/(T − d).

    The two differ by 0.1 against an error sd ≈ 1.33 (fixed design), so the control's z is
    0.1 √n/1.33: 12000 trials put it at ≈ 8.2 (rejected at 5 but for a 3.2-sd fluctuation);
    6000 gave ≈ 5.8, a control that fails one run in five."""
    x = errors("replace", design, trials=2 * TRIALS)
    assert abs(z_mean(x, theory.regression_error(G, T, D, NOISE)[G])) < 5
    assert abs(z_mean(x, NOISE * D * G / (T - D))) > 5


def test_accumulate_fixed_design_sum_inverse_squares():
    """Equal-weight accumulation on a fixed design: σ² d/(T − d − 1) Σ_{i≤n} 1/i² (≤ ·π²/6);
    control: the same sample against the harmonic sum Σ 1/i."""
    x = errors("accumulate", "fixed")
    expected = theory.regression_error(G, T, D, NOISE, policy="accumulate")[G]
    assert expected < NOISE * D / (T - D - 1) * np.pi**2 / 6
    assert abs(z_mean(x, expected)) < 5
    assert abs(z_mean(x, NOISE * D / (T - D - 1) * np.sum(1 / np.arange(1, G + 1)))) > 5


def test_accumulate_fresh_design_bounded_below_replace():
    """Fresh designs under accumulate: no closed form; the error stays below the fixed-design
    accumulate bound ·π²/6 and far below replace (checked on the mean, SE-aware)."""
    x = errors("accumulate", "fresh")
    bound = NOISE * D / (T - D - 1) * np.pi**2 / 6
    assert x.mean() + 5 * x.std(ddof=1) / np.sqrt(x.size) < bound
    assert x.mean() < 0.5 * errors("replace", "fresh").mean()


@pytest.mark.parametrize("policy, design", [("accumulate", "fresh"), ("accumulate", "fixed")])
def test_exact_matches_samples(policy, design):
    """KS: Bartlett sufficient statistics vs drawn designs; control: errors inflated by 20 %
    (the error is spread like a scaled χ²_d, so KS needs a 20 % scale change at 6000 trials)."""
    a = errors(policy, design, "exact", key=1)
    b = errors(policy, design, "samples", key=2)
    assert stats.ks_2samp(a, b).pvalue > 1e-3
    assert stats.ks_2samp(1.2 * a, b).pvalue < 1e-3


def test_validation_and_noiseless():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="rows must be >= 1"):
        regression.simulate(key, rows=0, dim=4, generations=2, trials=2)
    with pytest.raises(ValueError, match="policy"):
        regression.simulate(key, rows=20, dim=4, generations=2, trials=2, policy="fresh")
    with pytest.raises(ValueError, match="design='fixed' needs"):
        regression.simulate(key, rows=20, dim=4, generations=2, trials=2, design="fixed",
                            policy="fresh:0.5")
    with pytest.raises(ValueError, match="noise"):
        regression.simulate(key, rows=20, dim=4, generations=2, trials=2, noise=-1.0)
    res = regression.simulate(key, rows=20, dim=4, generations=3, trials=4, noise=0.0)
    np.testing.assert_allclose(np.asarray(res.error), 0.0, atol=1e-8)


def test_accumulate_subsample_between_accumulate_and_replace():
    """No closed form: the subsampled pool's error lies strictly between accumulate's and
    replace's (each gap > 5 SE of the difference of independent means); a control that swaps
    the policies fails the same ordering."""
    sub = errors("accumulate-subsample", "fresh")
    acc, rep = errors("accumulate", "fresh"), errors("replace", "fresh")

    def gap(a, b):  # z of mean(b) − mean(a), independent samples
        return (b.mean() - a.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)

    assert gap(acc, sub) > 5 and gap(sub, rep) > 5
    assert not gap(rep, sub) > 5

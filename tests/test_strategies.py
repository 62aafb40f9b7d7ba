"""collapse_theory.testing.strategies: every strategy's contract, its argument errors, and a
property test of the Gaussian chain under drawn policies that compiles once per policy name."""

import os
import re
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from collapse_theory import _validate, discrete, gaussian, policies
from collapse_theory.testing import strategies as S

#: Fast strategy contracts: many examples, still derandomised.
MANY = settings(S.SETTINGS, max_examples=200)


def condition_number(cov):
    eig = np.linalg.eigvalsh(cov)
    return eig[-1] / eig[0]


# ------------------------------------------------------------------------------------------
# The settings profile


def test_profile_is_registered_not_loaded():
    assert S.SETTINGS.derandomize and S.SETTINGS.deadline is None and S.SETTINGS.print_blob
    assert S.SETTINGS.database is None
    assert settings.get_profile(S.PROFILE) == S.SETTINGS
    # importing the module loads no profile: the default settings (whatever profile pytest or
    # Hypothesis chose, e.g. its "ci" profile under CI=true) are the same before and after
    code = ("from hypothesis import settings; before = repr(settings.default); "
            "import collapse_theory.testing.strategies; print(before == repr(settings.default))")
    for env in ({}, {"CI": "true"}):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env={**os.environ, **env})
        assert out.stdout.strip() == "True", env


# ------------------------------------------------------------------------------------------
# Probability vectors


@MANY
@given(S.probability_vectors())
def test_probability_vectors_are_laws(p):
    assert p.dtype == np.float64 and p.ndim == 1 and 2 <= p.size <= 20
    assert np.all(p >= 0) and np.any(p > 0)
    assert abs(p.sum() - 1.0) <= 1e-12
    np.testing.assert_array_equal(discrete.check_probs(p), p / p.sum())


@MANY
@given(S.probability_vectors(categories=7, zeros=False, near_degenerate=False))
def test_probability_vectors_without_zeros_are_positive(p):
    assert p.size == 7 and np.all(p > 0)


def _kind(p):
    """Which kind of vector ``p`` is, from its shape alone."""
    if p.max() == 1.0:
        return "delta"
    if p.max() > 1 - 1e-6:  # generic weights leave every entry >= 1e-6 of the largest
        return "near-degenerate"
    if np.any(p == 0):
        return "zeros"
    if p.size >= 3:  # Zipf: log p of the sorted entries is affine in log k, slope -s
        log_k, log_p = np.log(np.arange(1, p.size + 1)), np.log(np.sort(p)[::-1])
        slope, icpt = np.polyfit(log_k, log_p, 1)
        if slope <= -0.5 and np.allclose(icpt + slope * log_k, log_p, rtol=0, atol=1e-9):
            return "zipf permuted" if np.any(np.diff(p) > 0) else "zipf"
    return "generic"


def test_probability_vectors_draw_every_kind():
    kinds = set()

    @settings(S.SETTINGS, max_examples=300)
    @given(S.probability_vectors())
    def classify(p):
        kinds.add(_kind(p))

    classify()
    assert kinds == {"delta", "near-degenerate", "zeros", "zipf", "zipf permuted", "generic"}


# ------------------------------------------------------------------------------------------
# Gaussian parameters


@MANY
@given(S.gaussian_params(dim=(1, 5)))
def test_gaussian_params_are_spd_within_the_condition_range(params):
    mean, cov = params
    d = mean.shape[0]
    assert mean.dtype == cov.dtype == np.float64 and cov.shape == (d, d)
    assert np.all(np.abs(mean) <= 1e3)
    np.testing.assert_array_equal(cov, cov.T)
    _validate.spd_matrix("cov", cov, d)  # the package's own check
    assert 1 - 1e-9 <= condition_number(cov) <= 1e6 * (1 + 1e-6)


@MANY
@given(S.gaussian_params(dim=(2, 4), condition=(1e3, 1e9)))
def test_gaussian_params_reach_ill_conditioning(params):
    mean, cov = params
    _validate.spd_matrix("cov", cov, mean.shape[0])
    assert 1e3 * (1 - 1e-6) <= condition_number(cov) <= 1e9 * (1 + 1e-5)


# ------------------------------------------------------------------------------------------
# Sample sizes, schedules, policies


@MANY
@given(S.sample_sizes(minimum=3, maximum=17))
def test_sample_sizes_within_bounds(m):
    assert isinstance(m, int) and 3 <= m <= 17


@MANY
@given(st.data(), st.integers(0, 60), st.integers(1, 50), st.integers(0, 5000))
def test_schedules_within_bounds(data, generations, minimum, extra):
    maximum = minimum + extra
    m = data.draw(S.schedules(generations, minimum=minimum, maximum=maximum))
    assert m.dtype == np.int64 and m.shape == (generations,)
    assert np.all((m >= minimum) & (m <= maximum)) and np.all(np.diff(m) >= 0)
    np.testing.assert_array_equal(_validate.schedule("sample_size", m, generations, minimum=1), m)


def test_schedules_grow():
    m = find(S.schedules(20, minimum=2, maximum=10_000), lambda m: m[-1] >= 100 * m[0],
             settings=settings(S.SETTINGS, max_examples=2000))
    assert m[-1] <= 10_000


@MANY
@given(S.policies(names=("fresh", "fixed", "accumulate"), gamma=(0.1, 0.2), lam=(0, 3)))
def test_policies_parse(policy):
    pol = policies.parse(policy)
    assert pol.name in ("fresh", "fixed", "accumulate")
    assert pol.name != "fresh" or 0.1 <= pol.gamma <= 0.2
    assert pol.name != "fixed" or 0 <= pol.lam <= 3


@MANY
@given(S.policies())
def test_every_policy_name_parses(policy):
    assert policies.parse(policy).name in policies.POLICIES


# ------------------------------------------------------------------------------------------
# Chain configurations: valid for the family; fixed shapes keep every static argument


def _static(family, cfg, points):
    """What keys the compiled chain (chain_configs' docstring), given the config."""
    pol = policies.parse(cfg["policy"])
    m = policies.constant(cfg["rows"], cfg["generations"]) if family == "regression" \
        else cfg["sample_size"]
    sizes = policies.sizes(pol, m)
    shapes = (cfg["generations"], cfg["trials"], cfg.get("dim"), np.shape(cfg.get("probs")),
              pol.name, bool(sizes.synthetic.any()), bool(sizes.real.any()), cfg.get("rows"),
              cfg.get("method"))
    kde = (cfg.get("mean"), cfg.get("std")) if family == "kde" else ()  # the KDE's D0 is static
    return shapes + kde + ((tuple(m), str(pol)) if points else ())


@pytest.mark.parametrize("family, fixed_shapes, method", [
    *((family, fixed, None) for family in S.FAMILIES for fixed in (True, False)),
    ("gaussian", True, "samples"), ("regression", True, "samples")])
def test_chain_configs_are_valid(family, fixed_shapes, method):
    ranges = {} if fixed_shapes else dict(generations=(0, 6), trials=(1, 40),
                                          dim=1 if family == "kde" else (1, 4))
    statics = {}

    @settings(S.SETTINGS, max_examples=60)
    @given(S.chain_configs(family, fixed_shapes=fixed_shapes, method=method, **ranges))
    def check(cfg):
        g = cfg["generations"]
        pol = policies.parse(cfg["policy"])
        m = policies.constant(cfg["rows"], g) if family == "regression" else cfg["sample_size"]
        m = _validate.schedule("sample_size", m, g, minimum=2)
        policies.check_sizes(pol, m, 2)
        assert np.all(m <= 32) and policies.sizes(pol, m).pool.max(initial=0) <= S.MAX_SIZE
        if family == "gaussian":
            _validate.spd_matrix("cov", cfg["cov"], cfg["dim"])
            assert m.min(initial=cfg["dim"] + 1) >= cfg["dim"] + 1  # non-singular fits
        if family == "discrete":
            discrete.check_probs(cfg["probs"])
        if fixed_shapes:
            points = family == "kde" or pol.name == "accumulate-subsample" or method == "samples"
            static = _static(family, cfg, points)
            assert statics.setdefault(pol.name, static) == static

    check()


@pytest.mark.parametrize("call, param", [
    (lambda: S.probability_vectors(categories=0), "categories"),
    (lambda: S.probability_vectors(categories=(5, 2)), "categories"),
    (lambda: S.probability_vectors(categories=2.5), "categories"),
    (lambda: S.probability_vectors(zeros=1), "zeros"),
    (lambda: S.gaussian_params(dim=0), "dim"),
    (lambda: S.gaussian_params(condition=(0.5, 10)), "condition"),
    (lambda: S.gaussian_params(condition=(1, 1e13)), "condition"),
    (lambda: S.gaussian_params(dim=1, condition=(10, 100)), "condition"),
    (lambda: S.sample_sizes(minimum=0), "minimum"),
    (lambda: S.sample_sizes(5, 3), "maximum"),
    (lambda: S.sample_sizes(maximum=2**25), "maximum"),
    (lambda: S.schedules(-1), "generations"),
    (lambda: S.schedules(4, minimum=10, maximum=5), "maximum"),
    (lambda: S.policies(names=("replace", "bogus")), "names"),
    (lambda: S.policies(names="replace"), "names"),
    (lambda: S.policies(gamma=(0, 1.5)), "gamma"),
    (lambda: S.policies(lam=(-1, 1)), "lam"),
    (lambda: S.chain_configs("gmm"), "family"),
    (lambda: S.chain_configs(generations=(1, 4)), "generations"),
    (lambda: S.chain_configs("kde", dim=2), "dim"),
    (lambda: S.chain_configs(sample_size=1), "sample_size"),
    (lambda: S.chain_configs("discrete", generations=1000, sample_size=(2, 2**20)),
     "sample_size"),
    (lambda: S.chain_configs(policy_names=()), "policy_names"),
    (lambda: S.chain_configs("kde", method="exact"), "method"),
    (lambda: S.chain_configs(method="bogus"), "method"),
    (lambda: S.chain_configs(fixed_shapes="yes"), "fixed_shapes"),
])
def test_argument_errors_name_the_parameter(call, param):
    with pytest.raises((TypeError, ValueError), match=re.escape(param)):
        call()


# ------------------------------------------------------------------------------------------
# Property tests of chains built from the strategies


def test_gaussian_chain_property_compiles_once_per_policy_name(backend_compiles):
    """The issue's must-show: 50 examples of a Gaussian chain (d = 2, covariances up to
    condition 10⁶, drawn schedules and policies), each property checked, and an example whose
    policy name was seen before compiles nothing.  The wall time is printed, not asserted."""
    seen = []

    @settings(S.SETTINGS, max_examples=50)
    @given(S.chain_configs("gaussian", dim=2, generations=8, trials=32,
                           policy_names=("replace", "fresh", "accumulate-subsample")))
    def prop(cfg):
        before = count[0]
        res = gaussian.simulate(**cfg)
        log_det, mean = np.asarray(res.log_det), np.asarray(res.mean)
        unit = np.asarray(res.unit_chol)
        np.testing.assert_array_equal(np.asarray(res.generation), np.arange(9))
        assert log_det.shape == (32, 9) and mean.shape == (32, 9, 2)
        assert np.all(np.isfinite(log_det)) and np.all(np.isfinite(mean))  # M_g ≥ d + 1
        np.testing.assert_allclose(log_det[:, 0], np.linalg.slogdet(cfg["cov"])[1],
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(mean[:, 0], np.broadcast_to(cfg["mean"], (32, 2)),
                                   rtol=1e-6, atol=1e-37)
        np.testing.assert_allclose(np.diagonal(unit, axis1=-2, axis2=-1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(np.triu(unit, 1), 0.0)
        seen.append((policies.parse(cfg["policy"]).name, count[0] - before))

    with backend_compiles() as count:
        jax.jit(lambda x: x * 3 + 1)(np.arange(3.0))  # the counter sees a compilation
        assert count[0] == 1
        start = time.perf_counter()
        prop()
        wall = time.perf_counter() - start
    first, repeated = {}, []
    for name, n in seen:
        if name in first:
            repeated.append((name, n))
        else:
            first[name] = n
    print(f"\n{len(seen)} examples in {wall:.1f} s; compilations at each policy's first example "
          f"{first}, at the {len(repeated)} others {sum(n for _, n in repeated)}")
    assert len(seen) >= 50 and repeated  # names repeat: the check below is not vacuous
    assert all(n == 0 for _, n in repeated), f"a policy seen before recompiled: {repeated}"


def test_discrete_chain_property_counts_match_sizes():
    """Counts of every fit sum to the policy's ``N_g`` and a category absent from ``p_0`` is
    extinct from generation 0."""

    @settings(S.SETTINGS, max_examples=10)
    @given(S.chain_configs("discrete", dim=5, generations=6, trials=16,
                           policy_names=("accumulate-subsample",)))
    def prop(cfg):
        res = discrete.simulate(**cfg)
        fit = policies.sizes(policies.parse(cfg["policy"]), cfg["sample_size"]).fit
        counts = np.asarray(res.counts)
        assert np.all(counts >= 0)
        np.testing.assert_array_equal(counts.sum(-1), np.broadcast_to(fit, (16, 6)))
        extinct = np.asarray(res.extinction)
        assert np.all(extinct[:, cfg["probs"] == 0] == 0)
        assert np.all(extinct[:, cfg["probs"] > 0] != 0)

    prop()

"""Figures as a reader sees them: the exact laws overlaid on the figures, every figure function
takes ``progress``, and oversized figure arguments are refused (naming the parameter) before any
simulation runs."""

import inspect

import numpy as np
import pytest

from collapse_theory import figures
from collapse_theory.figures import _common, discrete, gaussian, gmm, kde, policies

FIGURES = [gaussian.drift_figure, policies.policies_figure, policies.schedule_figure,
           gmm.panel_figure, gmm.l2_figure, kde.kde_figure, discrete.tail_loss_figure,
           discrete.survival_figure, discrete.absorption_figure, gaussian.w2_figure,
           discrete.histogram_figure]


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.__name__)
def test_every_figure_takes_progress(figure):
    param = inspect.signature(figure).parameters["progress"]
    assert param.default is False and param.kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("figure, kwargs, message", [
    (gmm.panel_figure, dict(generations=(0, 50, 99_999_999)), "generations must be <= 100000"),
    (gmm.l2_figure, dict(generations=10**9), "generations must be <= 100000"),
    (gaussian.drift_figure, dict(generations=10**7), "generations must be <= 1000000"),
    (policies.policies_figure, dict(generations=10**7), "generations must be <= 1000000"),
    (policies.schedule_figure, dict(generations=10**7), "generations must be <= 1000000"),
    (kde.kde_figure, dict(generations=10**7), "generations must be <= 1000000"),
    (discrete.survival_figure, dict(generations=10**7), "generations must be <= 1000000"),
    (gaussian.w2_figure, dict(generations=10**7), "generations must be <= 1000000"),
    (discrete.histogram_figure, dict(generations=(0, 10**7)), "generations must be <= 1000000"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_oversized_generations_are_refused_before_any_work(tmp_path, figure, kwargs, message):
    out = tmp_path / "f.png"
    with pytest.raises(ValueError, match=message):
        figure(str(out), **kwargs)
    assert not out.exists()


@pytest.mark.parametrize("m, n, estimator", [(10, 1, "unbiased"), (10, 30, "mle"),
                                              (1000, 200, "unbiased")])
def test_exact_law_of_log_variance_matches_monte_carlo(m, n, estimator):
    """The Fourier-inverted law of log σ²_n (drawn on the drift and policies figures) against
    20 000 direct draws of Σ log(χ²_{M−1}/c): quantiles within a few Monte Carlo SEs."""
    rng = np.random.default_rng(0)
    c = m - 1 if estimator == "unbiased" else m
    draws = np.log(rng.chisquare(m - 1, size=(20_000, n)) / c).sum(1)
    x, cdf = _common.log_variance_law([n], m, estimator)
    q = np.array([0.1, 0.5, 0.9])
    exact = np.interp(q, cdf[0], x[0])
    se = np.std(draws) * 2.0 / np.sqrt(20_000)  # ≥ the SE of these sample quantiles
    np.testing.assert_allclose(exact, np.quantile(draws, q), atol=4 * se)
    gap = _common.std_gap_quantiles([n], m, q, estimator)[:, 0]
    gap_draws = np.abs(1 - np.exp(draws / 2))
    np.testing.assert_allclose(gap, np.quantile(gap_draws, q), rtol=0.03,
                               atol=4 * np.std(gap_draws) * 2.0 / np.sqrt(20_000))


def test_figures_package_exports():
    assert callable(figures.pyplot) and callable(figures.save)

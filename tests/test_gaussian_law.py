"""gaussian.simulate against the closed forms of theory.gaussian, in law (fixed seeds).

Every test is a z-test ``z = (estimate − closed form) / SE`` with the standard error estimated
from the same sample, accepted at ``|z| < 5``, or a Kolmogorov–Smirnov test accepted at
``p > 1e-3``.  Each has a negative control: a deliberately wrong variant (other estimator, sample
size off by 5 %, a 2 % variance inflation, the paper's approximation, a schedule shifted by one
generation) that the same test must reject.  Statistics are chosen to concentrate (log det,
E σ_n, squared mean deviations), never the heavy-tailed sample mean of σ²_n for long chains.
"""

import jax
import numpy as np
import pytest
from scipy import stats

from collapse_theory import gaussian
from collapse_theory.testing import statistics
from collapse_theory.theory import gaussian as theory

Z_MAX = 5.0  # two-sided; P(|N(0,1)| > 5) = 5.7e-7 per test under the null
KS_ALPHA = 1e-3

M = 20  # 1-D chains; the "off by 5 %" control uses M + 1
G = 30
VAR0, MEAN0 = 4.0, 1.0  # D0 = N(1, 2²)
M3, G3 = 10, 10  # d = 3 chains
COV3 = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
MEAN3 = np.array([1.0, -2.0, 0.5])
LOG_DET3, TRACE3 = float(np.linalg.slogdet(COV3)[1]), float(np.trace(COV3))
SCHEDULE = [3 + i * i for i in range(1, 11)]  # M_i = 3 + i²: 4, 7, 12, ..., 103


def z_mean(x, expected):
    """z of the sample mean: SE = s/√T (CLT; the samples are i.i.d. across trials)."""
    return statistics.z_mean(x, expected).statistic


def z_var(x, expected):
    """z of the sample variance s²: SE = √((m₄ − m₂²)/T), m₄ the sample 4th central moment.

    s² is, up to O(1/T), the mean of the i.i.d. (x_t − μ)², whose variance is μ₄ − σ⁴.
    """
    return statistics.z_variance(x, expected).statistic


def inflate(x, factor):
    """The same sample with its variance multiplied by ``factor`` (mean kept)."""
    x = np.asarray(x, np.float64)
    return x.mean() + np.sqrt(factor) * (x - x.mean())


def accept(z):
    print(f"accept z = {z:+.2f}")
    assert abs(z) < Z_MAX, f"closed form rejected: z = {z:.2f}"


def reject(z):
    print(f"control z = {z:+.2f}")
    assert abs(z) >= Z_MAX, f"negative control not rejected: z = {z:.2f}"


def run(seed, **kwargs):
    return gaussian.simulate(jax.random.key(seed), **kwargs)


@pytest.fixture(scope="module")
def unbiased_1d():
    return run(1, sample_size=M, generations=G, trials=100_000, mean=MEAN0, cov=VAR0)


@pytest.fixture(scope="module")
def mle_1d():
    return run(2, sample_size=M, generations=G, trials=50_000, mean=MEAN0, cov=VAR0,
               estimator="mle", record=[1, 5, G])


@pytest.fixture(scope="module", params=["unbiased", "mle"])
def chain_3d(request):
    seed = 3 if request.param == "unbiased" else 7  # independent draws for the two estimators
    r = run(seed, sample_size=M3, generations=G3, trials=20_000, dim=3, mean=MEAN3, cov=COV3,
            estimator=request.param, record=[G3])
    return request.param, r


def at(result, n):
    """Index of generation ``n`` in a result."""
    return int(np.flatnonzero(np.asarray(result.generation) == n)[0])


def log_det_at(result, n):
    return np.asarray(result.log_det[:, at(result, n)], np.float64)


def sq_dev_at(result, n, mean0):
    dev = np.asarray(result.mean[:, at(result, n)], np.float64) - mean0
    return np.sum(dev ** 2, axis=-1)


# ---------------------------------------------------------------- log det (1-D, unbiased and MLE)

@pytest.mark.parametrize("n", [5, G])
def test_expected_log_variance_unbiased(unbiased_1d, n):
    x = log_det_at(unbiased_1d, n)
    accept(z_mean(x, theory.expected_log_det(n, M, log_det0=np.log(VAR0))))
    # Control: the MLE closed form (differs by n log(M/(M−1)) = 0.26 at n = 5).
    reject(z_mean(x, theory.expected_log_det(n, M, estimator="mle", log_det0=np.log(VAR0))))


def test_var_log_variance_unbiased(unbiased_1d):
    x = log_det_at(unbiased_1d, G)
    accept(z_var(x, theory.var_log_det(G, M)))
    # Control: sample size off by 5 % (ψ₁(9.5) vs ψ₁(10): the variance differs by 5.5 %).
    reject(z_var(x, theory.var_log_det(G, M + 1)))


def test_log_det_increments_are_iid_with_the_one_fit_variance(unbiased_1d):
    """Increments log σ²_g − log σ²_{g−1}, 30 fits × 10⁵ trials: i.i.d. log(χ²_{M−1}/(M−1)).

    Independence across fits is what makes Var log σ²_n = n ψ₁((M−1)/2); that sum is tested at
    fixed n above, so pooling the increments here (SE as for i.i.d. draws) is justified.
    """
    inc = np.diff(np.asarray(unbiased_1d.log_det, np.float64), axis=1).ravel()
    accept(z_mean(inc, theory.expected_log_det(1, M)))
    accept(z_var(inc, theory.var_log_det(1, M)))
    # Control: a 2 % variance inflation of the simulated increments (SE of s² is 0.08 % here).
    reject(z_var(inflate(inc, 1.02), theory.var_log_det(1, M)))


@pytest.mark.parametrize("n", [1, 5, G])
def test_log_variance_mle(mle_1d, n):
    x = log_det_at(mle_1d, n)
    accept(z_mean(x, theory.expected_log_det(n, M, estimator="mle", log_det0=np.log(VAR0))))
    accept(z_var(x, theory.var_log_det(n, M)))
    # Control: simulating with the MLE must be rejected by the unbiased closed form.
    reject(z_mean(x, theory.expected_log_det(n, M, log_det0=np.log(VAR0))))


# --------------------------------------------------------------------------- log det (d = 3)

def test_log_det_3d(chain_3d):
    estimator, r = chain_3d
    other = "mle" if estimator == "unbiased" else "unbiased"
    x = log_det_at(r, G3)
    accept(z_mean(x, theory.expected_log_det(G3, M3, 3, estimator, log_det0=LOG_DET3)))
    accept(z_var(x, theory.var_log_det(G3, M3, 3)))
    # Controls: the other estimator's mean (shift 3 G log(M/(M−1)) = 3.2), and the variance for
    # M + 1 (Σ_j ψ₁((M−j)/2) drops by 13 %).
    reject(z_mean(x, theory.expected_log_det(G3, M3, 3, other, log_det0=LOG_DET3)))
    reject(z_var(x, theory.var_log_det(G3, M3 + 1, 3)))


def test_mean_sq_dev_3d(chain_3d):
    estimator, r = chain_3d
    other = "mle" if estimator == "unbiased" else "unbiased"
    x = sq_dev_at(r, G3, MEAN3)
    accept(z_mean(x, theory.expected_mean_sq_dev(G3, M3, 3, estimator, trace0=TRACE3)))
    # Control: the other estimator (n tr/M = 3.5 vs tr (1 − 0.9^10) = 2.28).
    reject(z_mean(x, theory.expected_mean_sq_dev(G3, M3, 3, other, trace0=TRACE3)))


# ------------------------------------------------------------------------ E σ_n, E|Δμ|², E W2²

@pytest.mark.parametrize("n", [5, G])
def test_expected_std(unbiased_1d, mle_1d, n):
    # σ_n = exp(log σ²_n / 2) has all moments: E σ_n² = σ_0² (unbiased), so the SE is finite.
    sd = np.exp(log_det_at(unbiased_1d, n) / 2)
    accept(z_mean(sd, theory.expected_std(n, M, var0=VAR0)))
    sd_mle = np.exp(log_det_at(mle_1d, n) / 2)
    accept(z_mean(sd_mle, theory.expected_std(n, M, "mle", var0=VAR0)))
    # Control: the MLE simulation against the unbiased closed form (ratio ((M−1)/M)^{n/2}).
    reject(z_mean(sd_mle, theory.expected_std(n, M, var0=VAR0)))


@pytest.mark.parametrize("n", [5, G])
def test_mean_sq_dev_1d(unbiased_1d, mle_1d, n):
    x = sq_dev_at(unbiased_1d, n, MEAN0)
    accept(z_mean(x, theory.expected_mean_sq_dev(n, M, trace0=VAR0)))
    accept(z_mean(sq_dev_at(mle_1d, n, MEAN0), theory.expected_mean_sq_dev(n, M, estimator="mle",
                                                                          trace0=VAR0)))
    # Controls: the MLE simulation against the unbiased form; sample size off by 5 % (n σ²/(M+1))
    # at n = 5 (at n = 30 the SE is 3× larger: (μ_n − μ_0)⁴ involves E σ_n⁴ ∝ (1 + 2/(M−1))^n).
    reject(z_mean(sq_dev_at(mle_1d, n, MEAN0), theory.expected_mean_sq_dev(n, M, trace0=VAR0)))
    if n == 5:
        reject(z_mean(x, theory.expected_mean_sq_dev(n, M + 1, trace0=VAR0)))


def w2_squared(result, n):
    """Per-trial W2²(N(μ_n, σ_n²), D0) = (μ_n − μ_0)² + (σ_n − σ_0)² (1-D quantile coupling)."""
    sd = np.exp(log_det_at(result, n) / 2)
    return sq_dev_at(result, n, MEAN0) + (sd - np.sqrt(VAR0)) ** 2


def test_expected_w2_squared(unbiased_1d, mle_1d):
    x = w2_squared(unbiased_1d, G)
    accept(z_mean(x, theory.expected_w2_squared(G, M, var0=VAR0)))
    accept(z_mean(w2_squared(mle_1d, G), theory.expected_w2_squared(G, M, "mle", var0=VAR0)))
    # Control: the MLE simulation against the unbiased closed form (1.37 σ² vs 2.15 σ²).
    reject(z_mean(w2_squared(mle_1d, G), theory.expected_w2_squared(G, M, var0=VAR0)))
    # The exact value respects the arXiv lower bound σ² n/M, which the sample mean exceeds too.
    assert x.mean() > theory.w2_lower_bound(G, M, trace0=VAR0)


# --------------------------------------------------------------------------------- schedule

@pytest.fixture(scope="module")
def scheduled():
    return run(4, sample_size=SCHEDULE, generations=len(SCHEDULE), trials=50_000, mean=MEAN0,
               cov=VAR0, record=[3, len(SCHEDULE)])


@pytest.mark.parametrize("n", [3, len(SCHEDULE)])
def test_schedule(scheduled, n):
    shifted = SCHEDULE[1:] + [SCHEDULE[-1]]  # control: fit i using M_{i+1} (an off-by-one bug)
    log_det = log_det_at(scheduled, n)
    sd = np.exp(log_det / 2)
    sq = sq_dev_at(scheduled, n, MEAN0)
    w2 = sq + (sd - np.sqrt(VAR0)) ** 2
    cases = [(log_det, lambda m: theory.expected_log_det(n, m, log_det0=np.log(VAR0)), z_mean),
             (log_det, lambda m: theory.var_log_det(n, m), z_var),
             (sd, lambda m: theory.expected_std(n, m, var0=VAR0), z_mean),
             (sq, lambda m: theory.expected_mean_sq_dev(n, m, trace0=VAR0), z_mean),
             (w2, lambda m: theory.expected_w2_squared(n, m, var0=VAR0), z_mean)]
    for x, closed, z in cases:
        accept(z(x, closed(SCHEDULE)))
        reject(z(x, closed(shifted)))
    if n == 3:
        # Control: the paper's (3/2) σ² Σ 1/M_i is 4.5 % below the exact E W2² at M = 4, 7, 12.
        reject(z_mean(w2, theory.paper_w2_squared(n, SCHEDULE, var0=VAR0)))


# --------------------------------------------------------------------------- non-Gaussian D0

@pytest.fixture(scope="module")
def laplace():
    # Laplace D0 (excess kurtosis 3, all moments finite, so s² and its sample SE are well behaved);
    # the first fit uses M real samples, later generations are Gaussian.
    return run(5, sample_size=M, generations=3, trials=100_000, mean=MEAN0, cov=VAR0,
               data="laplace")


def test_non_gaussian_first_fit(laplace):
    # E σ²_1 = σ_0² for the unbiased sample variance of any law with finite variance; its sampling
    # variance involves the kurtosis (Var s² = σ⁴ (2/(M−1) + κ_excess/M)), so the SE comes from
    # the sample.  Control: the MLE value σ_0² (M−1)/M (5 % low).
    log_var1 = log_det_at(laplace, 1)
    accept(z_mean(np.exp(log_var1), VAR0))
    reject(z_mean(np.exp(log_var1), theory.expected_variance_power(1, M, 1.0, "mle", var0=VAR0)))
    # The log-scale law is not distribution-free: E log s² ≈ log σ² − Var(s²)/(2σ⁴) is lower by
    # about κ_excess/(2M) = 0.075 than the Gaussian closed form, which must be rejected here (this
    # also checks that D0 really was non-Gaussian).
    reject(z_mean(log_var1, theory.expected_log_det(1, M, log_det0=np.log(VAR0))))
    # E(μ_n − μ_0)² = n σ_0²/M for any D0 (martingale increments with E σ²_{i−1} = σ_0²).
    for n in (1, 3):
        x = sq_dev_at(laplace, n, MEAN0)
        accept(z_mean(x, theory.expected_mean_sq_dev(n, M, trace0=VAR0)))
    # Control at n = 3: the MLE form σ_0² (1 − (1 − 1/M)³) is 4.9 % low.
    reject(z_mean(x, theory.expected_mean_sq_dev(3, M, estimator="mle", trace0=VAR0)))


# ------------------------------------------------------------------------ agreement in law

@pytest.fixture(scope="module")
def refit_samples():
    return run(6, sample_size=M, generations=5, trials=50_000, mean=MEAN0, cov=VAR0,
               method="samples", record=[1, 5])


def ks_accept(p):
    print(f"accept KS p = {p:.3g}")
    assert p > KS_ALPHA, f"same law rejected: p = {p:.3g}"


def ks_reject(p):
    print(f"control KS p = {p:.3g}")
    assert p < KS_ALPHA, f"negative control not rejected: p = {p:.3g}"


def test_first_fit_has_the_chi_square_law(unbiased_1d, refit_samples):
    # log σ²_1 = log σ_0² + log(χ²_{M−1}/(M−1)) exactly: one-sample KS for both methods.
    def cdf(c):
        return lambda x: stats.chi2.cdf(c * np.exp(x - np.log(VAR0)), M - 1)

    for r in (unbiased_1d, refit_samples):
        x = log_det_at(r, 1)
        ks_accept(stats.kstest(x, cdf(M - 1)).pvalue)
        # Control: the MLE law (log σ² shifted by log((M−1)/M) = −0.05, sd 0.32).
        ks_reject(stats.kstest(x, cdf(M)).pvalue)


def test_exact_and_refit_agree_in_law(unbiased_1d, mle_1d, refit_samples):
    # Two-sample KS at generation 5: the Bartlett sampler and the literal draw-and-refit chain.
    refit = log_det_at(refit_samples, 5)
    ks_accept(stats.ks_2samp(refit, log_det_at(unbiased_1d, 5)).pvalue)
    # Control: the MLE chain (log det shifted by 5 log(19/20) = −0.26, sd 0.75).
    ks_reject(stats.ks_2samp(refit, log_det_at(mle_1d, 5)).pvalue)

    def mean(r, n):
        return np.asarray(r.mean[:, at(r, n), 0])

    ks_accept(stats.ks_2samp(mean(refit_samples, 5), mean(unbiased_1d, 5)).pvalue)
    # Control: one generation off (Var μ_6 = 6σ²/M vs 5σ²/M: the sd is 9.5 % larger).
    ks_reject(stats.ks_2samp(mean(refit_samples, 5), mean(unbiased_1d, 6)).pvalue)


@pytest.mark.parametrize("m", [2, 3])
def test_smallest_sample_sizes_have_the_exact_one_fit_laws(m):
    """M = 2 (χ²_1: gamma shape ½ through Marsaglia–Tsang's boost) and M = 3 (shape 1, the most
    first-round rejections, so the redraw path matters): every fit's increment of log σ² has the
    law of log(χ²_{M−1}/(M−1)) and every mean step (μ_g − μ_{g−1}) √M / σ_{g−1} is N(0, 1).
    One-sample KS over 3 fits × 20 000 trials (fits are i.i.d. in the replace chain)."""
    r = run(10 + m, sample_size=m, generations=3, trials=20_000)
    log_var = np.asarray(r.log_det, np.float64)
    mean = np.asarray(r.mean[..., 0], np.float64)
    inc = np.diff(log_var, axis=1).ravel()
    step = (np.diff(mean, axis=1) * np.sqrt(m) / np.exp(0.5 * log_var[:, :-1])).ravel()

    def cdf(dof):  # P(log(χ²_dof/(M−1)) ≤ x)
        return lambda x: stats.chi2.cdf((m - 1) * np.exp(x), dof)

    ks_accept(stats.kstest(inc, cdf(m - 1)).pvalue)
    ks_accept(stats.kstest(step, "norm").pvalue)
    # Controls: one degree of freedom more; a mean step 5 % too wide (KS distance ≈ 0.012,
    # about 3× the 10⁻³ critical value 1.95/√60 000).
    ks_reject(stats.kstest(inc, cdf(m)).pvalue)
    ks_reject(stats.kstest(step, stats.norm(scale=1.05).cdf).pvalue)

r"""E log det Σ_n and Var log det Σ_n of the Gaussian refitting chain (docs/theory.md §3).

Result, with ``c_i = M_i − 1`` (unbiased) or ``M_i`` (MLE):

    E log det Σ_n   = log det Σ_0 + Σ_{i≤n} Σ_{j=1}^{d} [ψ((M_i − j)/2) + log(2/c_i)]
    Var log det Σ_n = Σ_{i≤n} Σ_{j=1}^{d} ψ₁((M_i − j)/2)            (both estimators)

Route: Mellin transform of χ² ⇒ E log χ² and Var log χ²; Bartlett ⇒ det of a Wishart is a
product of independent χ²; the chain multiplies independent Wishart factors ⇒ sums over fits.
Run: ``python proofs/gaussian_log_det.py``.
"""

import sympy as sp
from _common import assert_close, assert_equal, chi2_mellin

from collapse_theory.theory import gaussian as theory

nu = sp.symbols("nu", positive=True)
s = sp.symbols("s", real=True)

print("1. log of a χ²_ν variable")
# E X^s is the moment generating function of log X: E e^{s log X} = E X^s.  Its first derivative
# at s = 0 is E log X and the second derivative of its log (the cumulant generating function)
# is Var log X.
mellin = chi2_mellin(nu, s)
e_log_chi2 = sp.diff(mellin, s).subs(s, 0)
assert_equal(e_log_chi2, sp.polygamma(0, nu / 2) + sp.log(2), "E log χ²_ν = ψ(ν/2) + log 2")
var_log_chi2 = sp.diff(sp.log(mellin), s, 2).subs(s, 0)
assert_equal(var_log_chi2, sp.polygamma(1, nu / 2), "Var log χ²_ν = ψ₁(ν/2)")
second_moment = sp.diff(mellin, s, 2).subs(s, 0)
assert_equal(second_moment - e_log_chi2 ** 2, var_log_chi2, "… equal to E log² χ² − (E log χ²)²")

print("2. Bartlett decomposition of a Wishart matrix")
# Bartlett (1933); Anderson, "An Introduction to Multivariate Statistical Analysis", §7.2:
# W ~ Wishart_d(ν, I) is W = A Aᵀ with A lower triangular and independent entries,
# A_jj² ~ χ²_{ν−j+1}, A_jk ~ N(0, 1) (j > k).  Consistency check for d = 2: the first two
# moments of A Aᵀ are the Wishart ones, E W = ν I and Cov(W_ij, W_kl) = ν(δ_ik δ_jl + δ_il δ_jk).
a11, a21, a22 = sp.symbols("a11 a21 a22", real=True)
A = sp.Matrix([[a11, 0], [a21, a22]])
W = A * A.T


def moment(var, p):
    """E var^p for the independent Bartlett entries (χ moments from the Mellin transform)."""
    if var is a21:
        return 0 if p % 2 else sp.factorial2(p - 1)
    dof = nu if var is a11 else nu - 1
    return sp.gammasimp(mellin.subs({nu: dof, s: sp.Rational(p, 2)}))


def expect(expr):
    """E of a polynomial in the independent entries (expectation factorises over monomials)."""
    poly = sp.Poly(sp.expand(expr), a11, a21, a22)
    total = 0
    for powers, coeff in poly.terms():
        term = coeff
        for var, p in zip((a11, a21, a22), powers):
            term *= moment(var, p) if p else 1
        total += term
    return sp.simplify(total)


assert_equal(W.applyfunc(expect), nu * sp.eye(2), "E A Aᵀ = ν I")
entries = [(0, 0), (1, 0), (1, 1)]
for (i, j) in entries:
    for (k, l) in entries:
        cov = expect(W[i, j] * W[k, l]) - expect(W[i, j]) * expect(W[k, l])
        wishart = nu * (int(i == k and j == l) + int(i == l and j == k))
        assert_equal(cov, wishart, f"Cov(W{i+1}{j+1}, W{k+1}{l+1}) = {wishart}")
assert_equal(W.det(), a11 ** 2 * a22 ** 2, "det A Aᵀ = Π_j A_jj²")
# Hence det W = Π_{j=1}^{d} χ²_{ν−j+1} with independent factors; one fit has ν = M − 1, so the
# factors are χ²_{M−j}, j = 1..d.

print("3. one fit: Σ_i = L_{i−1} W_i L_{i−1}ᵀ / c_i, W_i ~ Wishart_d(M_i − 1, I) independent")
M, c, j, d = sp.symbols("M c j d", positive=True, integer=True)
# log det Σ_i − log det Σ_{i−1} = log det W_i − d log c_i = Σ_j log χ²_{M_i−j} − d log c_i.
step_mean = sp.Sum(e_log_chi2.subs(nu, M - j) - sp.log(c), (j, 1, d))
step_var = sp.Sum(var_log_chi2.subs(nu, M - j), (j, 1, d))
readme_step = sp.Sum(sp.polygamma(0, (M - j) / 2) + sp.log(2 / c), (j, 1, d))
assert_equal(step_mean.doit() - readme_step.doit(), 0,
             "E[log det Σ_i − log det Σ_{i−1}] = Σ_j [ψ((M_i − j)/2) + log(2/c_i)]")
print("  the increment's variance Σ_j ψ₁((M_i−j)/2) does not involve c_i: same for both estimators")
assert step_var.free_symbols == {M, d}

print("4. n fits: independent increments add up")
# log det Σ_n − log det Σ_0 = Σ_{i≤n} X_i with X_i = log det W_i − d log c_i independent (W_i is
# drawn afresh at fit i), so E and Var are sums over fits of the step-3 expressions with M → M_i.
# Constant M, checked for d = 1..4 (finite sums over j):
n, i = sp.symbols("n i", positive=True, integer=True)
for dim in range(1, 5):
    mean_step = readme_step.subs({c: M - 1, d: dim}).doit()
    var_step = step_var.subs(d, dim).doit()
    assert_equal(sp.summation(mean_step, (i, 1, n)),
                 n * sum(sp.polygamma(0, (M - jj) / 2) + sp.log(2 / (M - 1))
                         for jj in range(1, dim + 1)),
                 f"d={dim}: E log det Σ_n − log det Σ_0 = n Σ_j [ψ((M−j)/2) + log(2/(M−1))]")
    assert_equal(sp.summation(var_step, (i, 1, n)),
                 n * sum(sp.polygamma(1, (M - jj) / 2) for jj in range(1, dim + 1)),
                 f"d={dim}: Var log det Σ_n = n Σ_j ψ₁((M−j)/2)")
# Negative drift (Theorem 3.1's mechanism: log det Σ_n is a random walk drifting to −∞, so
# Σ_n → 0 a.s.): ψ(a) < log a for a > 0 and log(2/c) ≤ −log((M−1)/2), so each term is < 0.
# Checked numerically on the derived per-fit drift for d = 1 and 3, both estimators:
for dim in (1, 3):
    for est in ("unbiased", "mle"):
        drift = [theory.expected_log_det(1, m, dim, est) for m in range(dim + 1, 2001)]
        assert max(drift) < 0, (dim, est, max(drift))
print("  checked the drift per fit is negative for M = d+1..2000, d = 1, 3, both estimators")

print("5. the package agrees with the derived expressions")


def derived(n_, schedule, dim, estimator):
    """Evaluate the derived sums at a point (sympy → float)."""
    offset = 1 if estimator == "unbiased" else 0
    mean = sum(float(readme_step.subs({M: m, c: m - offset, d: dim}).doit().evalf(30))
               for m in schedule[:n_])
    var = sum(float(step_var.subs({M: m, d: dim}).doit().evalf(30)) for m in schedule[:n_])
    return mean, var


for n_, schedule, dim, est in [(3, [10] * 3, 1, "unbiased"), (4, [5, 9, 20, 100], 3, "unbiased"),
                                (2, [4, 7], 2, "mle"), (5, [2, 3, 50, 6, 1000], 1, "mle")]:
    mean, var = derived(n_, schedule, dim, est)
    assert_close(mean + 0.7, theory.expected_log_det(n_, schedule, dim, est, log_det0=0.7),
                 f"expected_log_det(n={n_}, M={schedule}, d={dim}, {est})")
    assert_close(var, theory.var_log_det(n_, schedule, dim),
                 f"var_log_det(n={n_}, M={schedule}, d={dim})")
print("done: gaussian_log_det")

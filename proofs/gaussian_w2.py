r"""Exact 1-D E W2² of the Gaussian chain, and the paper's (3/2) σ² Σ 1/M_i (docs/theory.md §3).

Result (1-D, Gaussian D0 = N(μ_0, σ_0²)):

    W2²(N(m₁, s₁²), N(m₂, s₂²)) = (m₁ − m₂)² + (s₁ − s₂)²
    E W2²_n = E(μ_n − μ_0)² + σ_0² + E σ_n² − 2 σ_0 E σ_n                    (both estimators)
            = σ_0² (n/M + 2 − 2 c(M)^n)            unbiased, constant M
            = 2 σ_0² (1 − c_mle(M)^n)               MLE, constant M (bounded by 2 σ_0²)
    c(M) = 1 − 1/(4M) − 7/(32 M²) + O(M⁻³)
    E W2²_n = (3/2) σ_0² Σ_{i≤n} 1/M_i + O(max_i M_i⁻²)   (the paper's Nature-SI approximation)

Run: ``python proofs/gaussian_w2.py``.
"""

import mpmath
import numpy as np
import sympy as sp
from _common import assert_close, assert_equal

from collapse_theory.theory import gaussian as theory

print("1. W2 between 1-D Gaussians from the quantile coupling")
# In 1-D the optimal coupling is the monotone one: W2²(P, Q) = ∫_0^1 (F⁻¹(u) − G⁻¹(u))² du
# (Villani, "Topics in Optimal Transportation", Thm 2.18).  For Gaussians F⁻¹(u) = m₁ + s₁ Φ⁻¹(u),
# so the integrand is (a + b Φ⁻¹(u))² with a = m₁ − m₂, b = s₁ − s₂.
z, a, b = sp.symbols("z a b", real=True)
u = sp.symbols("u", positive=True)
phi = sp.exp(-z ** 2 / 2) / sp.sqrt(2 * sp.pi)
Phi = (1 + sp.erf(z / sp.sqrt(2))) / 2
Phi_inv = sp.sqrt(2) * sp.erfinv(2 * u - 1)
assert_equal(Phi.subs(z, Phi_inv), u, "Φ(Φ⁻¹(u)) = u with Φ⁻¹(u) = √2 erfinv(2u − 1)")
assert_equal(sp.diff(Phi, z), phi, "dΦ/dz = φ, so u = Φ(z) maps du to φ(z) dz on (−∞, ∞)")
w2_sq = sp.integrate((a + b * z) ** 2 * phi, (z, -sp.oo, sp.oo))
assert_equal(w2_sq, a ** 2 + b ** 2, "∫_0^1 (a + b Φ⁻¹(u))² du = a² + b²")

print("2. expectation over the chain")
# W2²_n = (μ_n − μ_0)² + (σ_n − σ_0)²; expand and take E (linearity):
mu_dev2, var_n, std_n, sigma0 = sp.symbols("E_dmu2 E_var_n E_std_n sigma0", positive=True)
sig_n = sp.symbols("sigma_n", positive=True)
expanded = sp.expand((sig_n - sigma0) ** 2)
assert_equal(expanded, sig_n ** 2 - 2 * sigma0 * sig_n + sigma0 ** 2, "(σ_n − σ_0)² expanded")
e_w2 = mu_dev2 + sigma0 ** 2 + var_n - 2 * sigma0 * std_n
print("  E W2²_n = E(μ_n−μ_0)² + σ_0² + E σ_n² − 2 σ_0 E σ_n")

nu = sp.symbols("nu", positive=True)  # ν = M − 1 > 0
M = nu + 1
n = sp.symbols("n", positive=True, integer=True)
c_unb = sp.sqrt(2 / (M - 1)) * sp.gamma(M / 2) / sp.gamma((M - 1) / 2)  # gaussian_moments.py
c_mle = sp.sqrt(2 / M) * sp.gamma(M / 2) / sp.gamma((M - 1) / 2)
# Unbiased, constant M: E(μ_n−μ_0)² = nσ²/M (gaussian_schedules.py), E σ²_n = σ², E σ_n = σ c^n.
unbiased = e_w2.subs({mu_dev2: n * sigma0 ** 2 / M, var_n: sigma0 ** 2, std_n: sigma0 * c_unb ** n})
assert_equal(unbiased, sigma0 ** 2 * (n / M + 2 - 2 * c_unb ** n),
             "unbiased, constant M: E W2² = σ²(n/M + 2 − 2 c(M)^n)  (README §1)")
# MLE, constant M: E(μ_n−μ_0)² = σ²(1 − r^n), E σ²_n = σ² r^n with r = (M−1)/M, E σ_n = σ c_mle^n.
r = (M - 1) / M
mle = e_w2.subs({mu_dev2: sigma0 ** 2 * (1 - r ** n), var_n: sigma0 ** 2 * r ** n,
                 std_n: sigma0 * c_mle ** n})
assert_equal(mle, 2 * sigma0 ** 2 * (1 - c_mle ** n),
             "MLE, constant M: E W2² = 2σ²(1 − c_mle(M)^n)")

print("3. expansion of c(M) in 1/M")
eps = sp.symbols("epsilon", positive=True)  # ε = 1/M
log_c = sp.log(2 / (M - 1)) / 2 + sp.loggamma(M / 2) - sp.loggamma((M - 1) / 2)
log_c_eps = sp.series(log_c.subs(nu, 1 / eps - 1), eps, 0, 3).removeO()
assert_equal(log_c_eps, -eps / 4 - eps ** 2 / 4,
             "log c(M) = −1/(4M) − 1/(4M²) + O(M⁻³)  (Stirling)")
c_eps = sp.series(sp.exp(log_c_eps), eps, 0, 3).removeO()
assert_equal(c_eps, 1 - eps / 4 - sp.Rational(7, 32) * eps ** 2,
             "c(M) = 1 − 1/(4M) − 7/(32M²) + O(M⁻³)")

print("4. the paper's (3/2) Σ 1/M_i")
# Scale every 1/M_i = t e_i and expand in t: log Π_i c(M_i) = Σ_i log c(M_i) = −t Σ_i e_i/4 + O(t²),
# E σ_n² = σ² exactly (unbiased), so 2 − 2 Π c(M_i) = (t/2) Σ e_i + O(t²).  With the mean part
# σ² Σ 1/M_i this is (3/2) σ² Σ 1/M_i + O(t²).  The sum S = Σ e_i enters only through log Π c:
t, S, S2 = sp.symbols("t S S2", positive=True)  # S = Σ e_i, S2 = Σ e_i²
log_prod_c = -t * S / 4 - t ** 2 * S2 / 4
w2_schedule = sigma0 ** 2 * (t * S + 2 - 2 * sp.exp(log_prod_c))
first_order = sp.series(w2_schedule, t, 0, 2).removeO()
assert_equal(first_order, sp.Rational(3, 2) * sigma0 ** 2 * t * S,
             "E W2²_n = (3/2) σ² Σ 1/M_i + O(M⁻²)  (unbiased, any schedule)")
second = sp.series(sigma0 ** 2 * (n * eps + 2 - 2 * sp.exp(n * log_c_eps)), eps, 0, 3).removeO()
assert_equal(second, sigma0 ** 2 * (sp.Rational(3, 2) * n * eps + (n / 2 - n ** 2 / 16) * eps ** 2),
             "constant M: E W2² = σ²[3n/(2M) + (n/2 − n²/16)/M²] + O(M⁻³)")
print("  the paper's form is accurate while n ≪ M; paper/exact − 1 ≈ −(1/3 − n/24)/M")

print("5. lower bound (arXiv appendix)")
# W2² = (Δμ)² + (Δσ)² ≥ (Δμ)² (in d dimensions Gelbrich's W2² ≥ |Δμ|² + Bures² gives the same),
# so E W2²_n ≥ E(μ_n−μ_0)² = σ² Σ_{i≤n} 1/M_i under the unbiased mean.
grid_n = np.arange(0, 400, 7)
for m in (2, 5, 30):
    assert np.all(theory.expected_w2_squared(grid_n, m) >= theory.w2_lower_bound(grid_n, m) - 1e-15)
print("  checked expected_w2_squared ≥ w2_lower_bound for M = 2, 5, 30, n < 400")

print("6. the package agrees with the derived expressions")
mpmath.mp.dps = 30
unb_num = sp.lambdify((n, nu, sigma0), unbiased, "mpmath")
mle_num = sp.lambdify((n, nu, sigma0), mle, "mpmath")
for m, n_vals in [(10, [0, 1, 5, 40]), (2, [1, 3, 100]), (1000, [1, 10, 10 ** 4])]:
    n_vals = np.array(n_vals)
    assert_close([float(unb_num(k, m - 1, 1.5)) for k in n_vals],
                 theory.expected_w2_squared(n_vals, m, var0=2.25),
                 f"expected_w2_squared(n={n_vals.tolist()}, M={m})")
    assert_close([float(mle_num(k, m - 1, 1.5)) for k in n_vals],
                 theory.expected_w2_squared(n_vals, m, "mle", var0=2.25),
                 f"expected_w2_squared(n={n_vals.tolist()}, M={m}, mle)")
    assert_close(1.5 * 2.25 * n_vals / m, theory.paper_w2_squared(n_vals, m, var0=2.25),
                 f"paper_w2_squared(n={n_vals.tolist()}, M={m})")
    assert_close(1 - 1 / (4 * m) - 7 / (32 * m ** 2), theory.std_factor(m),
                 f"std_factor({m}) ≈ 1 − 1/(4M) − 7/(32M²)", rtol=0, atol=2.0 / m ** 3)
# Paper's approximation vs exact at n = 1, M = 1000: paper/exact − 1 ≈ −(1/3 − 1/24)/M + O(M⁻²).
rel = theory.paper_w2_squared(1, 1000) / theory.expected_w2_squared(1, 1000) - 1
assert abs(rel + (1 / 3 - 1 / 24) / 1000) < 1e-5, rel
print(f"  checked paper/exact − 1 = {rel:.3e} at n = 1, M = 1000 (≈ −(1/3 − 1/24)/M)")
print("done: gaussian_w2")

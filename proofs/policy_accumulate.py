r"""Accumulate (equal weights, fit n on N_n = M_1 + … + M_n points, batch 1 real): Gaussian MLE
variance, its limit, the discrete Gini–Simpson index, and OLS regression on a fixed design.

Results (``o = 1`` unbiased, ``0`` MLE; constant ``M`` where written):

    pooled scatter:   S = S_1 + S_2 + (n_1 n_2/n)(x̄_1 − x̄_2)²
    E σ²_n / σ²_0 = (M_1 − 1)/(M_1 − o) · Π_{2≤k≤n} (N_k − o − M_k/N_k)/(N_k − o)
                  = Π_{k≤n} (1 − 1/(M k²))                (MLE, N_k = kM)
                  → Γ(1 − x)^{-1}Γ(1 + x)^{-1} = sin(πx)/(πx),  x = 1/√M
    discrete:     E H_n / H_0 = Π_{k≤n} (1 − M_k/N_k²)
    regression, fixed design, accumulate:  ŵ_n − w* = Σ_{i≤n} E ε_i / i,
                  E‖ŵ_n − w*‖² = σ² d/(T − d − 1) Σ_{i≤n} 1/i²   (1-D: E 1/χ²_T = 1/(T − 2))

Run: ``python proofs/policy_accumulate.py``.
"""

import numpy as np
import sympy as sp
from _common import assert_close, assert_equal, chi2_density

from collapse_theory.theory import policies as theory

print("1. pooled scatter of two batches")
n1, n2 = sp.symbols("n1 n2", positive=True)
m1, m2 = sp.symbols("m1 m2", real=True)
pooled_mean = (n1 * m1 + n2 * m2) / (n1 + n2)
# Σ_all (x − x̄)² = Σ_1 (x − m1)² + n1 (m1 − x̄)² + (same for batch 2): the between term is
between = n1 * (m1 - pooled_mean) ** 2 + n2 * (m2 - pooled_mean) ** 2
assert_equal(between, n1 * n2 / (n1 + n2) * (m1 - m2) ** 2,
             "between-batch scatter = n1 n2/(n1 + n2) (m1 − m2)²")

print("2. one accumulate step in expectation (Gaussian)")
# Given fit k−1 (mean x̄ = pool mean, variance s²), batch k of M points has E W = s²(M − 1) and
# E (b − x̄)² = s²/M (b − x̄ ~ N(0, s²/M)), and the pool's scatter is S_{k−1} = s²(N − o).
s2, big_n, m, o = sp.symbols("s2 N M o", positive=True)
e_scatter = s2 * (big_n - o) + s2 * (m - 1) + (big_n * m / (big_n + m)) * s2 / m
n_new = big_n + m
factor = sp.simplify(e_scatter / (n_new - o) / s2)
assert_equal(factor, (n_new - o - m / n_new) / (n_new - o),
             "E σ²_k / E σ²_{k−1} = (N_k − o − M_k/N_k)/(N_k − o)")
k = sp.symbols("k", positive=True, integer=True)
assert_equal(factor.subs({o: 0, big_n: (k - 1) * m}), 1 - 1 / (m * k**2),
             "MLE, N_k = kM: factor 1 − 1/(M k²)")
# Batch 1 (empty pool): E S_1 = s²(M − 1), so the first factor is (M_1 − 1)/(M_1 − o): also
# 1 − 1/M at k = 1 for the MLE.
assert_equal((m - 1) / m, (1 - 1 / (m * k**2)).subs(k, 1), "k = 1: (M − 1)/M = 1 − 1/M")
for est, off in (("mle", 0), ("unbiased", 1)):
    sched = [7, 9, 12, 20, 33]
    nk = np.cumsum(sched)
    derived = [1.0, (sched[0] - 1) / (sched[0] - off)]
    for j in range(1, len(sched)):
        f = float(factor.subs({o: off, big_n: int(nk[j - 1]), m: sched[j]}))
        derived.append(derived[-1] * f)
    assert_close(derived, theory.accumulate_variance_factor(sched, len(sched), est),
                 f"theory.accumulate_variance_factor, {est}, schedule {sched}")

print("3. the limit: Euler's product for the sine")
x = sp.symbols("x", positive=True)
n = sp.symbols("n", positive=True, integer=True)
partial = sp.simplify(sp.product(1 - x**2 / k**2, (k, 1, n)))
# (1 − x²/k²) = (k − x)(k + x)/k², so the partial product is (1 − x)_n (1 + x)_n / n!² with the
# rising factorial (a)_n = Γ(a + n)/Γ(a):
assert_equal(partial, sp.rf(1 - x, n) * sp.rf(1 + x, n) / sp.factorial(n) ** 2,
             "Π_{k≤n}(1 − x²/k²) = (1−x)_n (1+x)_n / n!²")
assert_equal(sp.rf(1 - x, 5).rewrite(sp.gamma), sp.gamma(6 - x) / sp.gamma(1 - x),
             "(a)_n = Γ(a + n)/Γ(a)  (n = 5)")
# Γ(n+1−x)Γ(n+1+x)/n!² → 1 (log-convexity / Stirling: log ratio = x²/n + O(n^-2)), so the limit
# is 1/(Γ(1−x)Γ(1+x)) = sin(πx)/(πx) by the reflection formula Γ(1−x)Γ(x) = π/sin(πx).
stirling = sp.limit(sp.gamma(n + 1 - x) * sp.gamma(n + 1 + x) / sp.gamma(n + 1) ** 2, n, sp.oo)
assert stirling == 1, stirling
assert_equal(1 / (sp.gamma(1 - x) * sp.gamma(1 + x)), sp.sin(sp.pi * x) / (sp.pi * x),
             "lim = 1/(Γ(1−x)Γ(1+x)) = sin(πx)/(πx)")
for mm in (2, 10, 100):
    assert_close(float(sp.sin(sp.pi / sp.sqrt(mm)) / (sp.pi / sp.sqrt(mm))),
                 theory.accumulate_variance_limit(mm), f"theory.accumulate_variance_limit({mm})")
    far = theory.accumulate_variance_factor(mm, 200_000, "mle")[-1]
    # Tail: Π_{k>n}(1 − 1/(M k²)) = 1 − O(1/(M n)), so at n = 2·10⁵ the gap is below 1e-5.
    assert_close(theory.accumulate_variance_limit(mm), far, f"product at n = 2e5, M = {mm}",
                 rtol=1e-5)

print("4. discrete accumulate: E H_n")
# Pool of N points with q = C/N; batch c ~ Mult(m, q): E c_i = m q_i, E c_i² = m q_i(1 − q_i)
# + m² q_i².  K = 3 with q_3 = 1 − q_1 − q_2; H = 1 − Σ q².
q1, q2 = sp.symbols("q1 q2", positive=True)
qs = [q1, q2, 1 - q1 - q2]
e_sq = sum(((big_n * q) ** 2 + 2 * big_n * q * m * q + m * q * (1 - q) + (m * q) ** 2)
           for q in qs) / (big_n + m) ** 2
h_old = 1 - sum(q**2 for q in qs)
assert_equal(1 - e_sq, h_old * (1 - m / (big_n + m) ** 2), "E[H' | q] = H (1 − M_k/N_k²)")
sched = [3, 5, 8, 13]
nk = np.cumsum(sched)
assert_close(np.concatenate([[1.0], np.cumprod([1 - mm / nn**2 for mm, nn in zip(sched, nk)])]),
             theory.accumulate_gini_simpson_factor(sched, len(sched)),
             "theory.accumulate_gini_simpson_factor")

print("5. regression, fixed design, accumulate")
# 1-D design column x (g = xᵀx), batch k: u_k = xᵀ ε_k; equal-weight pooled OLS
# ŵ_n = Σ_k (g ŵ_{k−1} + u_k) / (n g).  Induction check for n ≤ 6 with w* = 0:
g = sp.symbols("g", positive=True)
u = sp.symbols("u1:7", real=True)
w = [sp.Integer(0)]
for j in range(1, 7):
    w.append(sp.simplify(sum(g * w[i - 1] + u[i - 1] for i in range(1, j + 1)) / (j * g)))
    assert_equal(w[j], sum(u[i - 1] / (i * g) for i in range(1, j + 1)),
                 f"ŵ_{j} − w* = Σ_{{i≤{j}}} u_i/(i g)")
# E ‖Σ u_i/(i g)‖² = σ² Σ 1/i² · E[1/g] (u_i | x ~ N(0, σ² g), independent); g ~ χ²_T:
t = sp.symbols("T", positive=True)
y = sp.symbols("y", positive=True)
inv_mean = sp.simplify(sp.integrate(chi2_density(y, t) / y, (y, 0, sp.oo), conds="none"))
assert_equal(inv_mean, 1 / (t - 2), "E 1/χ²_T = 1/(T − 2) = d/(T − d − 1) at d = 1")
assert_close(0.5 * 4 / (20 - 4 - 1) * np.concatenate([[0], np.cumsum(1 / np.arange(1, 9) ** 2)]),
             theory.regression_error(8, 20, 4, 0.5, policy="accumulate"),
             "theory.regression_error accumulate (inverse-Wishart mean tr = d/(T − d − 1))")
assert_close(0.5 * 4 / (20 - 4 - 1) * np.arange(9), theory.regression_error(8, 20, 4, 0.5),
             "theory.regression_error replace: σ² d n/(T − d − 1)")

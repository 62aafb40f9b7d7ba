r"""The mean's drift under a schedule M_1, M_2, ..., and when the error stays bounded (README §1–2).

Result, with ``c_i = M_i − 1`` (unbiased) or ``M_i`` (MLE), for any D0 with covariance Σ_0:

    E|μ_n − μ_0|² = tr Σ_0 Σ_{i≤n} (1/M_i) Π_{k<i} (M_k − 1)/c_k
                  = tr Σ_0 Σ_{i≤n} 1/M_i                   (unbiased)
                  = tr Σ_0 (1 − Π_{i≤n} (M_i − 1)/M_i)      (MLE: the sum telescopes)
    unbiased 1-D:  σ² Σ 1/M_i ≤ E W2²_n ≤ σ² (Σ 1/M_i + 2)  ⇒  bounded in n iff Σ_i 1/M_i < ∞
    MLE 1-D:       E W2²_n = 2σ² (1 − Π_{i≤n} c_mle(M_i)) ≤ 2σ²  for every schedule

Run: ``python proofs/gaussian_schedules.py``.
"""

import numpy as np
import sympy as sp
from _common import assert_close, assert_equal

from collapse_theory.theory import gaussian as theory

print("1. tower property for the mean")
# Fit i: μ_i − μ_{i−1} = x̄_i − μ_{i−1} is the mean of M_i points with conditional mean μ_{i−1}
# and covariance Σ_{i−1}, so given the past F_{i−1}:  E[μ_i − μ_{i−1} | F_{i−1}] = 0 and
# E[|μ_i − μ_{i−1}|² | F_{i−1}] = tr Σ_{i−1} / M_i.  The increments are martingale differences, so
# for k < i, E[(μ_k − μ_{k−1})·(μ_i − μ_{i−1})] = E[(μ_k − μ_{k−1})·E(μ_i − μ_{i−1} | F_{i−1})] = 0.
# This uses only the first two moments of each generation: it holds for any D0 (fit 1 on real
# data), since E Σ_1 = Σ_0 (M_1 − 1)/c_1 for the sample covariance of any law.
# Symbolically, 1-D, four fits: μ_4 − μ_0 = Σ_i D_i; after expanding the square, the cross
# terms have zero mean and E D_i² = E σ²_{i−1} / M_i.
N = 4
Ms = sp.symbols(f"M1:{N + 1}", positive=True)
cs = sp.symbols(f"c1:{N + 1}", positive=True)
D = sp.symbols(f"D1:{N + 1}", real=True)
sigma0 = sp.symbols("sigma0", positive=True)


def e_var(i):
    """E σ²_i = σ_0² Π_{k≤i} (M_k − 1)/c_k (gaussian_moments.py, k = 1)."""
    return sigma0 ** 2 * sp.prod([(Ms[k] - 1) / cs[k] for k in range(i)])


square = sp.expand(sum(D) ** 2)
expectation = square.subs({D[p] * D[q]: 0 for p in range(N) for q in range(N) if p != q})
expectation = expectation.subs({D[i] ** 2: e_var(i) / Ms[i] for i in range(N)})
general = sigma0 ** 2 * sum(sp.prod([(Ms[k] - 1) / cs[k] for k in range(i)]) / Ms[i]
                            for i in range(N))
assert_equal(expectation, general, "E(μ_4 − μ_0)² = σ² Σ_i (1/M_i) Π_{k<i} (M_k − 1)/c_k")

print("2. unbiased estimator: c_k = M_k − 1")
unbiased = general.subs({cs[k]: Ms[k] - 1 for k in range(N)})
assert_equal(unbiased, sigma0 ** 2 * sum(1 / m for m in Ms), "E(μ_n − μ_0)² = σ² Σ_i 1/M_i")
n, i, M = sp.symbols("n i M", positive=True, integer=True)
assert_equal(sp.summation(sigma0 ** 2 / M, (i, 1, n)), n * sigma0 ** 2 / M,
             "constant M: E(μ_n − μ_0)² = nσ²/M")

print("3. MLE: c_k = M_k, a telescoping sum")
mle = general.subs({cs[k]: Ms[k] for k in range(N)})
r = [(m - 1) / m for m in Ms]
# (1/M_i) Π_{k<i} r_k = Π_{k<i} r_k − Π_{k≤i} r_k because 1/M_i = 1 − r_i:
for j in range(N):
    assert_equal(sp.prod(r[:j]) / Ms[j], sp.prod(r[:j]) - sp.prod(r[:j + 1]),
                 f"term {j + 1}: (1/M_i) Π_(k<i) r_k = Π_(k<i) r_k − Π_(k≤i) r_k, i = {j + 1}")
assert_equal(mle, sigma0 ** 2 * (1 - sp.prod(r)), "E(μ_4 − μ_0)² = σ²(1 − Π_i (M_i − 1)/M_i)")
geometric = sp.summation(sigma0 ** 2 / M * ((M - 1) / M) ** (i - 1), (i, 1, n))
assert_equal(geometric, sigma0 ** 2 * (1 - ((M - 1) / M) ** n),
             "constant M: E(μ_n − μ_0)² = σ²(1 − ((M−1)/M)^n)  (README §2)")

print("4. bounded error iff Σ 1/M_i < ∞")
# Unbiased, 1-D: E W2²_n = σ² Σ_{i≤n} 1/M_i + 2σ²(1 − Π_{i≤n} c(M_i))  (gaussian_w2.py, E σ²_n = σ²)
# and 0 < c(M) = E √Q < √(E Q) = 1 (Jensen, Q non-degenerate), so the second term lies in [0, 2σ²]:
#   σ² Σ 1/M_i ≤ E W2²_n ≤ σ² Σ 1/M_i + 2σ²,  hence sup_n E W2²_n < ∞  iff  Σ_i 1/M_i < ∞.
c_values = np.array([theory.std_factor(m) for m in range(2, 5001)])
assert np.all((c_values > 0) & (c_values < 1))
print("  checked 0 < c(M) < 1 for M = 2..5000")
k = sp.symbols("k", positive=True, integer=True)
assert_equal(sp.Sum(1 / (k + 1) ** 2, (k, 1, sp.oo)).doit(), sp.pi ** 2 / 6 - 1,
             "M_i = (i+1)²: Σ 1/M_i = π²/6 − 1 (bounded)")
assert_equal(sp.Sum(1 / (2 * k ** 2), (k, 1, sp.oo)).doit(), sp.pi ** 2 / 12,
             "M_i = 2i²: Σ 1/M_i = π²/12 (bounded)")
assert sp.Sum(1 / (k + 1), (k, 1, sp.oo)).is_convergent() is sp.false
print("  proved  M_i = i + 1: Σ 1/M_i diverges (linear growth: unbounded error)")
assert sp.Sum(1 / ((k + 1) * sp.log(k + 1)), (k, 1, sp.oo)).is_convergent() is sp.false
print("  proved  M_i = (i+1) log(i+1): Σ 1/M_i diverges (superlinear is not enough)")
assert sp.Sum(1 / (k + 1) ** sp.Rational(3, 2), (k, 1, sp.oo)).is_convergent() is sp.true
print("  proved  M_i = (i+1)^(3/2): Σ 1/M_i converges")
# MLE, 1-D: the mean part σ²(1 − Π r_i) and E σ²_n = σ² Π r_i add up to σ², so
# E W2²_n = 2σ²(1 − Π c_mle(M_i)) ≤ 2σ² whatever the schedule (yet σ_n → 0: collapse persists).
prod_r, prod_c = sp.symbols("P_r P_c", positive=True)
mean_part, e_var_n, e_std_n = sigma0 ** 2 * (1 - prod_r), sigma0 ** 2 * prod_r, sigma0 * prod_c
e_w2_mle = mean_part + sigma0 ** 2 + e_var_n - 2 * sigma0 * e_std_n
assert_equal(e_w2_mle, 2 * sigma0 ** 2 * (1 - prod_c), "MLE: E W2²_n = 2σ²(1 − Π c_mle(M_i))")

print("5. the package agrees with the derived expressions")
schedule = np.array([2, 3, 7, 50, 11, 400, 5])
ns = np.arange(len(schedule) + 1)
cum_inv = np.concatenate([[0.0], np.cumsum(1.0 / schedule)])
cum_r = np.concatenate([[1.0], np.cumprod((schedule - 1.0) / schedule)])
assert_close(2.5 * cum_inv, theory.expected_mean_sq_dev(ns, schedule, trace0=2.5),
             "expected_mean_sq_dev(schedule, unbiased) = tr Σ_0 Σ 1/M_i")
assert_close(2.5 * (1 - cum_r),
             theory.expected_mean_sq_dev(ns, schedule, estimator="mle", trace0=2.5),
             "expected_mean_sq_dev(schedule, mle) = tr Σ_0 (1 − Π (M_i−1)/M_i)")
brute = [2.5 * sum(np.prod((schedule[:j] - 1.0) / schedule[:j]) / schedule[j] for j in range(m))
         for m in ns]
assert_close(brute, theory.expected_mean_sq_dev(ns, schedule, estimator="mle", trace0=2.5),
             "… equal to the untelescoped sum Σ (1/M_i) Π_{k<i} (M_k−1)/M_k", rtol=1e-13)
assert_close(2.5 * cum_inv, theory.w2_lower_bound(ns, schedule, trace0=2.5),
             "w2_lower_bound(schedule)")
exact = theory.expected_w2_squared(ns, schedule, var0=2.5)
assert np.all((exact >= 2.5 * cum_inv) & (exact <= 2.5 * (cum_inv + 2)))
print("  checked σ² Σ 1/M_i ≤ expected_w2_squared ≤ σ²(Σ 1/M_i + 2) on the schedule")
mle_c = np.concatenate([[1.0], np.cumprod([theory.std_factor(int(m), "mle") for m in schedule])])
assert_close(2 * 2.5 * (1 - mle_c), theory.expected_w2_squared(ns, schedule, "mle", var0=2.5),
             "expected_w2_squared(schedule, mle) = 2σ²(1 − Π c_mle(M_i))")
big = 10 ** 5
square_sched = 2 * np.arange(1, big + 1) ** 2
tail = theory.w2_lower_bound(big, square_sched)
assert abs(tail - np.pi ** 2 / 12) < 1.0 / big, tail  # Σ_{i>n} 1/(2i²) < 1/(2n)
print(f"  checked w2_lower_bound(n=10⁵, M_i = 2i²) = {tail:.8f} → π²/12 = {np.pi ** 2 / 12:.8f}")
print("done: gaussian_schedules")

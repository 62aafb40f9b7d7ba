r"""Moments of σ²_n and det Σ_n of the Gaussian refitting chain (docs/theory.md §3).

Result, with ``Q_i = χ²_{M_i−1}/c_i`` and ``c_i = M_i − 1`` (unbiased) or ``M_i`` (MLE):

    E σ_n^{2k} = σ_0^{2k} Π_{i≤n} E Q_i^k,  E Q^k = (2/c)^k Γ((M−1)/2 + k)/Γ((M−1)/2),  k > −(M−1)/2
    E σ_n     = σ_0 Π_{i≤n} c(M_i),          c(M) = √(2/(M−1)) Γ(M/2)/Γ((M−1)/2)   (unbiased)
    E det Σ_n = det Σ_0 Π_{i≤n} Π_{j=1}^{d} (M_i − j)/c_i

Route: the Mellin transform of χ²; independence of the fits (tower property); Bartlett for the
determinant.  Run: ``python proofs/gaussian_moments.py``.
"""

import mpmath
import numpy as np
import sympy as sp
from _common import assert_close, assert_equal, chi2_mellin

from collapse_theory.theory import gaussian as theory

# One fit: S/σ² ~ χ²_ν with ν = M − 1 > 0 degrees of freedom (M is written ν + 1 so that sympy
# knows M − 1 > 0).
nu, c = sp.symbols("nu c", positive=True)
k = sp.symbols("k", real=True)
M = nu + 1

print("1. one fit: E Q^k for Q = χ²_{M−1}/c")
e_chi2_k = chi2_mellin(nu, k)  # E (χ²_ν)^k, valid for k > −ν/2
e_q_k = e_chi2_k / c ** k
assert_equal(e_q_k, (2 / c) ** k * sp.gamma((M - 1) / 2 + k) / sp.gamma((M - 1) / 2),
             "E Q^k = (2/c)^k Γ((M−1)/2 + k)/Γ((M−1)/2)")
assert_equal(e_q_k.subs({k: 1, c: M - 1}), 1, "unbiased: E Q = 1 (E σ²_n constant)")
assert_equal(e_q_k.subs({k: 1, c: M}), (M - 1) / M, "MLE: E Q = (M−1)/M")
assert_equal(e_q_k.subs({k: 2, c: M - 1}), 1 + 2 / (M - 1),
             "unbiased: E Q² = 1 + 2/(M−1) (Var σ²_n grows like (1 + 2/(M−1))^n)")
c_M = sp.sqrt(2 / (M - 1)) * sp.gamma(M / 2) / sp.gamma((M - 1) / 2)
assert_equal(e_q_k.subs({k: sp.Rational(1, 2), c: M - 1}), c_M,
             "unbiased: E √Q = c(M) = √(2/(M−1)) Γ(M/2)/Γ((M−1)/2)")

print("2. n fits: σ²_i = σ²_{i−1} Q_i with Q_i independent of σ²_{i−1}")
# Tower property: E[σ_i^{2k}] = E[σ_{i−1}^{2k} E(Q_i^k | past)] = E[σ_{i−1}^{2k}] E Q_i^k.  By
# induction E σ_n^{2k} = σ_0^{2k} Π_{i≤n} E Q_i^k.  Symbolically for three fits with
# independent Q_1, Q_2, Q_3 (expectation of a product of independent factors factorises):
sigma0 = sp.symbols("sigma0", positive=True)
q = sp.symbols("q1:4", positive=True)
mk = sp.symbols("m1:4", positive=True)  # E Q_i^k
sigma2_3 = sigma0 ** 2 * q[0] * q[1] * q[2]
power = sp.expand_power_base(sigma2_3 ** k, force=True)
e_power = power.subs({q[i] ** k: mk[i] for i in range(3)})
assert_equal(e_power, sigma0 ** (2 * k) * mk[0] * mk[1] * mk[2],
             "E σ_3^{2k} = σ_0^{2k} Π_i E Q_i^k")
n = sp.symbols("n", positive=True, integer=True)
i = sp.symbols("i", positive=True, integer=True)
assert_equal(sp.product(c_M, (i, 1, n)), c_M ** n, "constant M: E σ_n = σ_0 c(M)^n")
assert_equal(sp.product(e_q_k.subs({k: 1, c: M}), (i, 1, n)), ((M - 1) / M) ** n,
             "MLE, constant M: E σ²_n = σ_0² ((M−1)/M)^n")

print("3. determinant: det S = det Σ Π_j χ²_{M−j} (Bartlett; see gaussian_log_det.py)")
for dim in range(1, 5):
    e_det_w = sp.prod([e_chi2_k.subs({nu: M - jj, k: 1}) for jj in range(1, dim + 1)])
    assert_equal(e_det_w, sp.prod([M - jj for jj in range(1, dim + 1)]),
                 f"d={dim}: E det Wishart_d(M−1, I) = Π_j (M − j)")
    e_det_step = e_det_w / c ** dim
    assert_equal(sp.product(e_det_step.subs(c, M), (i, 1, n)),
                 sp.prod([(M - jj) / M for jj in range(1, dim + 1)]) ** n,
                 f"d={dim}: MLE E det Σ_n = det Σ_0 [Π_j (M−j)/M]^n")
assert_equal((e_chi2_k.subs(k, 1) / c).subs(c, M - 1), 1, "d=1 unbiased: E det Σ_n = det Σ_0")

print("4. the package agrees with the derived expressions")


mpmath.mp.dps = 30
e_q_k_num = sp.lambdify((nu, c, k), e_q_k, "mpmath")  # the derived expression, 30 digits


def derived_power(schedule, kk, estimator):
    offset = 1 if estimator == "unbiased" else 0
    return float(mpmath.fprod(e_q_k_num(m - 1, m - offset, mpmath.mpf(kk)) for m in schedule))


for schedule, kk, est in [([10] * 4, 1, "unbiased"), ([10] * 4, 2, "unbiased"),
                          ([3, 8, 40], -0.3, "unbiased"), ([5, 6, 7, 200], 2.5, "mle"),
                          ([2, 2], 0.5, "mle"), ([1000, 10 ** 6], 3, "unbiased")]:
    value = theory.expected_variance_power(len(schedule), schedule, float(kk), est, var0=2.0)
    assert_close(2.0 ** float(kk) * derived_power(schedule, kk, est), value,
                 f"expected_variance_power(M={schedule}, k={kk}, {est})")
for schedule, est in [([10] * 6, "unbiased"), ([4, 9, 16, 25], "mle"), ([10 ** 5] * 3, "unbiased")]:
    assert_close(3.0 * derived_power(schedule, 0.5, est),
                 theory.expected_std(len(schedule), schedule, est, var0=9.0),
                 f"expected_std(M={schedule}, {est})")
    assert_close(float(sp.lambdify(nu, c_M, "mpmath")(schedule[0] - 1)),
                 theory.std_factor(schedule[0]),
                 f"std_factor({schedule[0]})")
for schedule, dim, est in [([10] * 3, 3, "mle"), ([5, 9, 20], 2, "unbiased"),
                          ([4, 5], 3, "unbiased")]:
    offset = 1 if est == "unbiased" else 0
    derived = np.prod([(m - jj) / (m - offset) for m in schedule for jj in range(1, dim + 1)])
    assert_close(1.5 * derived, theory.expected_det(len(schedule), schedule, dim, est, det0=1.5),
                 f"expected_det(M={schedule}, d={dim}, {est})")
print("done: gaussian_moments")

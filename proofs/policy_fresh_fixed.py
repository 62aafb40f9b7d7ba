r"""Fresh real data (γ) and a fixed real set plus λM synthetic points: recursions, fixed points,
no collapse.

Fresh (``R = round(γM)`` points of D0 = N(μ_0, 1), ``S = M − R`` of model ``n − 1``),
``v = E(μ − μ_0)²``, ``s = E σ²``, ``c = 1/(M − o)``:

    v' = (S/M)² v + (R + S s)/M²,      s' = c [R + S(s + v) − M v']

Fixed (real set of ``R`` points drawn once, mean r̄ and scatter S_R; ``L = round(λM)`` synthetic,
``N = R + L``, ``u = μ − r̄``, ``c = 1/(N − o)``):

    v' = (L/N)² (v + s/L),             s' = c [S_R + (L − 1)s + (R L/N)(v + s/L)]

Discrete fresh, ``F = E Σ q²``, ``F_0 = Σ p_0²``:

    F' = [R(1 − F_0) + S(1 − F) + R² F_0 + 2RS F_0 + S² F]/M²

All three are affine with a contraction (coefficient < 1), so they converge to their unique
fixed points: no collapse for ``R ≥ 1`` (fresh) and for every ``λ ≥ 0`` (fixed).

Run: ``python proofs/policy_fresh_fixed.py``.
"""

import numpy as np
import sympy as sp
from _common import assert_close, assert_equal

from collapse_theory.theory import policies as theory

R, S, M, L, N, c = sp.symbols("R S M L N c", positive=True)
u, sig2, v, s = sp.symbols("u sigma2 v s", positive=True)

print("1. fresh, Gaussian: one step in expectation")
# Given the state (μ = μ_0 + u, σ²): real batch mean b_r − μ_0 ~ N(0, 1/R), scatter E = R − 1;
# synthetic batch mean b_s − μ_0 ~ N(u, σ²/S), scatter E = σ²(S − 1); pooled over M = R + S.
e_mean_sq = (R + S * sig2 + S**2 * u**2) / M**2  # E(μ' − μ_0)² = E[(R(b_r−μ0) + S(b_s−μ0))/M]²
e_scatter = (R - 1) + sig2 * (S - 1) + (R * S / M) * (1 / R + sig2 / S + u**2)
rhs = R + S * (sig2 + u**2) - M * e_mean_sq  # Σ E(x − μ_0)² − M E(x̄ − μ_0)²
assert_equal((e_scatter - rhs).subs(M, R + S), 0,
             "E S' = (R−1) + (S−1)σ² + (RS/M) E(b_r − b_s)² = R + S(σ² + u²) − M E(μ'−μ_0)²")
assert_equal(e_mean_sq, (S / M) ** 2 * u**2 + (R + S * sig2) / M**2,
             "v' = (S/M)² v + (R + S s)/M²  (affine in (u², σ²): expectations pass through)")

print("2. fresh, Gaussian: the fixed point")
v_next = (S / M) ** 2 * v + (R + S * s) / M**2
s_next = c * (R + S * (s + v) - M * v_next)
sol = sp.solve([sp.Eq(v, v_next), sp.Eq(s, s_next)], [v, s], dict=True)[0]
for mm, gamma, est in ((10, 0.3, "mle"), (10, 0.3, "unbiased"), (50, 0.1, "mle"), (7, 1.0, "mle")):
    r = float(np.round(gamma * mm))
    sub = {R: r, S: mm - r, M: mm, c: 1 / (mm - (est == "unbiased"))}
    assert_close([float(sol[s].subs(sub)), float(sol[v].subs(sub))],
                 list(theory.fresh_gaussian_stationary(mm, gamma, est)),
                 f"theory.fresh_gaussian_stationary(M={mm}, γ={gamma}, {est})")
# Contraction: the recursion's matrix on (v, s) has spectral radius < 1 when R ≥ 1.
A = sp.Matrix([[(S / M) ** 2, S / M**2], [c * (S - M * (S / M) ** 2), c * (S - S / M)]])
for mm, r in ((10, 1), (10, 3), (100, 1)):
    eig = A.subs({R: r, S: mm - r, M: mm, c: sp.Rational(1, mm)}).eigenvals()
    assert max(abs(complex(e)) for e in eig) < 1
    print(f"  checked contraction at M={mm}, R={r}: spectral radius "
          f"{max(abs(complex(e)) for e in eig):.4f} < 1")

print("3. fixed real set + L synthetic, Gaussian")
e_u2 = (L / N) ** 2 * (u**2 + sig2 / L)
s_r = sp.symbols("S_R", positive=True)
e_scatter_fixed = s_r + sig2 * (L - 1) + (R * L / N) * (u**2 + sig2 / L)
v_next = (L / N) ** 2 * (v + s / L)
s_next = c * (s_r + (L - 1) * s + (R * L / N) * (v + s / L))
assert_equal(e_u2.subs({u**2: v, sig2: s}), v_next, "v' = (L/N)²(v + s/L)")
assert_equal(c * e_scatter_fixed.subs({u**2: v, sig2: s}), s_next,
             "s' = c[S_R + (L−1)s + (RL/N)(v + s/L)]")
sol = sp.solve([sp.Eq(v, v_next), sp.Eq(s, s_next)], [v, s], dict=True)[0]
s_star = sp.simplify(sol[s].subs({N: R + L, c: 1 / (R + L)}))
print(f"  MLE fixed point s* = {s_star}")
# s* is a ratio of polynomials in R, L, S_R with positive coefficients: s* > 0 for every L ≥ 0.
num, den = sp.fraction(sp.factor(s_star))
for poly in (sp.Poly(sp.expand(num), R, L, s_r), sp.Poly(sp.expand(den), R, L, s_r)):
    assert all(co > 0 for co in poly.coeffs()), poly
print("  proved  s* > 0 for every λ (numerator and denominator have positive coefficients)")
for mm, lam, est in ((10, 1.0, "mle"), (10, 0.5, "unbiased"), (20, 5.0, "mle")):
    l_ = float(np.round(lam * mm))
    sub = {R: mm, L: l_, N: mm + l_, c: 1 / (mm + l_ - (est == "unbiased")), s_r: mm - 1}
    assert_close(float(sol[s].subs(sub)), theory.fixed_gaussian_stationary(mm, lam, est),
                 f"theory.fixed_gaussian_stationary(M={mm}, λ={lam}, {est}) (E S_R = R − 1)")

print("4. fresh, discrete (K = 3)")
p1, p2, q1, q2 = sp.symbols("p1 p2 q1 q2", positive=True)
ps, qs = [p1, p2, 1 - p1 - p2], [q1, q2, 1 - q1 - q2]
# c_r ~ Mult(R, p_0), c_s ~ Mult(S, q) independent; E(c_r + c_s)_i² per category:
e_sq = sum(R * p * (1 - p) + R**2 * p**2 + 2 * R * S * p * q + S * q * (1 - q) + S**2 * q**2
           for p, q in zip(ps, qs)) / M**2
f0 = sum(p**2 for p in ps)
f = sum(q**2 for q in qs)
cross = sum(p * q for p, q in zip(ps, qs))
target = (R * (1 - f0) + S * (1 - f) + R**2 * f0 + 2 * R * S * cross + S**2 * f) / M**2
assert_equal(e_sq - target, 0, "E[Σ q'² | q] = [R(1−F_0) + S(1 − Σq²) + R²F_0 + 2RS Σp q + S² Σq²]/M²")
# E q_n = p_0 for every n (E q' = (R p_0 + S E q)/M), so E Σ p_0 q = F_0 and the map is affine in
# F with slope (S² − S)/M² < 1:
F, F0 = sp.symbols("F F0", positive=True)
f_next = (R * (1 - F0) + S * (1 - F) + R**2 * F0 + 2 * R * S * F0 + S**2 * F) / M**2
f_star = sp.solve(sp.Eq(F, f_next), F)[0]
assert_equal(f_star, (R * (1 - F0) + S + R**2 * F0 + 2 * R * S * F0) / (M**2 - S**2 + S),
             "F* = [R(1−F_0) + S + R²F_0 + 2RS F_0]/(M² − S² + S)")
p = np.array([0.5, 0.3, 0.2])
sub = {R: 2, S: 8, M: 10, F0: float(np.sum(p**2))}
assert_close(1 - float(f_star.subs(sub)), theory.fresh_gini_simpson_stationary(p, 10, 0.2),
             "theory.fresh_gini_simpson_stationary")

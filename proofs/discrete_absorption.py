r"""Absorption of the discrete resampling chain: fixation = p_0, Kimura and Littler times.

Results (haploid Wright–Fisher with M copies; X' ~ Bin(M, X/M) per category):

* fixation probability of a category is ``p_0`` (``X_n/M`` is a bounded martingale);
* exact times from the fundamental matrix ``N = (I − Q)^{-1}``: ``t = N 1``, ``E T² = (2N − I) t``,
  ``E[T 1_fix] = N h``; the time to one category of ``K`` is
  ``E T_fix = Σ_i E[T_i 1\{i fixes\}]`` (fixation by ``n`` is the disjoint union of
  ``{X_n^i = M}``);
* diffusion limit (generator ``L = (1/2M) Σ x_i(δ_ij − x_j) ∂_i ∂_j``): Kimura's
  ``t(p) = −2M[p ln p + (1−p) ln(1−p)]`` solves ``L t = −1``, ``t(0) = t(1) = 0``;
  ``u(p) = −2M (1−p) ln(1−p)`` solves ``L u = −p`` (the fixation-weighted time); Littler's
  ``f = −2M Σ_i (1 − x_i) ln(1 − x_i)`` solves ``L f = −1`` on the simplex, 0 at the vertices.
  They are approximations: the script prints their error against the exact chain.

Run: ``python proofs/discrete_absorption.py``.
"""

import numpy as np
import sympy as sp
from _common import assert_close, assert_equal, assert_zero

from collapse_theory.theory import discrete as theory

M, t = sp.symbols("M t", positive=True)
x, p = sp.symbols("x p", positive=True)

print("1. martingale ⇒ fixation probability p0")
# E[X' | X = x] = M · x/M = x (binomial mean, from the MGF).
mgf = (1 - x / M + x / M * sp.exp(t)) ** M
assert_equal(sp.diff(mgf, t).subs(t, 0), x, "E[X' | X = x] = x: X_n is a martingale")
# h(x) = P(absorbed at M | x) is the unique solution of h = P h with h(0) = 0, h(M) = 1
# (I − Q is invertible: every transient state reaches {0, M}).  h(x) = x/M satisfies it because
# Σ_y P(x, y) y/M = x/M; for any p, P(fix) = E h(X_1) = E X_1/M = p.
assert_equal(sp.diff(mgf, t).subs(t, 0) / M, x / M, "Σ_y P(x, y) h(y) = h(x) for h(y) = y/M")

print("2. diffusion limit: generator of the frequency x = X/M")
# In step 1 x was the count X; here y = X/M is the frequency.
y = sp.symbols("y", positive=True)
second = sp.diff(mgf, t, 2).subs(t, 0)
assert_equal(((second - x**2) / M**2).subs(x, y * M), y * (1 - y) / M,
             "E[(y' − y)² | y] = y(1 − y)/M (and E[y' − y | y] = 0, step 1)")
print("  ⇒ L = (x(1 − x)/(2M)) d²/dx²; multinomial: Cov(x'_i, x'_j) = x_i(δ_ij − x_j)/M")
kimura = -2 * M * (x * sp.log(x) + (1 - x) * sp.log(1 - x))
assert_equal(x * (1 - x) / (2 * M) * sp.diff(kimura, x, 2), -1,
             "t(p) = −2M[p ln p + (1 − p) ln(1 − p)] solves L t = −1  (Kimura)")
assert_zero(sp.limit(kimura, x, 0, "+") + sp.limit(kimura, x, 1, "-"), "t(0+) = t(1−) = 0")
# Uniqueness: two solutions differ by d with d'' = 0, i.e. d = C1 + C2 x, and d(0) = d(1) = 0.
c1, c2 = sp.symbols("C1 C2")
d = c1 + c2 * x
assert sp.solve([d.subs(x, 0), d.subs(x, 1)], [c1, c2]) == {c1: 0, c2: 0}
print("  proved  the only linear d with d(0) = d(1) = 0 is 0: Kimura's t is the solution")
u = -2 * M * (1 - x) * sp.log(1 - x)
assert_equal(x * (1 - x) / (2 * M) * sp.diff(u, x, 2), -x,
             "u = −2M(1 − x) ln(1 − x) solves L u = −x (time weighted by fixation)")
assert_zero(sp.limit(u, x, 0, "+") + sp.limit(u, x, 1, "-"), "u(0) = u(1) = 0")
assert_equal(u + u.subs(x, 1 - x), kimura, "u(p) + u(1 − p) = Kimura's t(p)  (K = 2)")

print("3. Littler: time to one category, K = 3")
xs = sp.symbols("x1:4", positive=True)
f = -2 * M * sum((1 - xi) * sp.log(1 - xi) for xi in xs)
gen = sum(xs[i] * ((1 if i == j else 0) - xs[j]) / (2 * M) * sp.diff(f, xs[i], xs[j])
          for i in range(3) for j in range(3))
# The diffusion lives on x1 + x2 + x3 = 1; on it L f = −(x1 + x2 + x3) = −1.
assert_equal(gen.subs(xs[2], 1 - xs[0] - xs[1]), -1, "L f = −1 on the simplex")
for v in range(3):
    vertex = {xs[i]: (1 if i == v else 0) for i in range(3)}
    assert_zero(sum(sp.limit((1 - xi) * sp.log(1 - xi), xi, vertex[xi], "-" if vertex[xi] else "+")
                    for xi in xs), f"f = 0 at vertex {v + 1}")
assert_equal(f.subs({xs[2]: 0, xs[1]: 1 - xs[0]}), kimura.subs(x, xs[0]),
             "on an edge (one category lost) f is Kimura's time")

print("4. numeric checks against collapse_theory.theory.discrete")
m = 40
assert_close([0.1, 0.35, 0.5, 0.025], theory.fixation_probability([0.1, 0.35, 0.5, 0.025], m),
             "fixation probability from N R_{·M} equals p0", rtol=1e-10)
mat = theory.transition_matrix(m).toarray()
q_t = mat[1:m, 1:m]
tt = np.linalg.solve(np.eye(m - 1) - q_t, np.ones(m - 1))
assert_close(tt[m // 2 - 1], theory.absorption_time_mean(0.5, m), "t = N 1 at x = M/2")
n_max = 6000
pmf = theory.absorption_time_pmf(0.3, m, n_max)
ns = np.arange(n_max + 1)
assert_close([1.0, ns @ pmf, ns**2 @ pmf - (ns @ pmf) ** 2],
             [pmf.sum(), theory.absorption_time_mean(0.3, m), theory.absorption_time_variance(0.3, m)],
             "pmf by propagation vs fundamental-matrix mean and variance", rtol=1e-9)
probs = np.array([0.5, 0.3, 0.2])
fpmf = theory.fixation_time_pmf(probs, m, n_max)
assert_close(ns @ fpmf, theory.fixation_time_mean(probs, m),
             "E T_fix = Σ_i E[T_i 1_fix] vs the propagated law of T_fix", rtol=1e-9)
assert_close(theory.fixation_time_mean([0.3, 0.7], m), theory.absorption_time_mean(0.3, m),
             "K = 2: time to one category = absorption time of either", rtol=1e-12)
print("  diffusion approximations against the exact chain (relative error = approx/exact − 1):")
for size in (20, 100, 200):
    for p0 in ([0.5, 0.5], [0.1, 0.9], [0.5, 0.3, 0.2], [0.25] * 4):
        cmp = theory.compare_diffusion(p0, size)
        print(f"    M = {size:3d}, p0 = {p0}: exact E T_fix = {cmp.exact_fixation:8.2f}, "
              f"Littler {cmp.littler:8.2f} ({cmp.littler_relative_error:+.2%}); "
              f"Kimura for category 1 {cmp.kimura_relative_error[0]:+.2%}")
        assert 0 < cmp.littler_relative_error < 0.1
print("discrete_absorption: all steps proved and checked")

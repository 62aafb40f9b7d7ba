r"""Moments of the discrete resampling chain (docs/theory.md §2; Wright–Fisher).

Results, with ``c ~ Multinomial(M, q)`` at each fit and ``q' = c/M``:

    E p_n = p_0,    E H_n = H_0 Π_{g≤n}(1 − 1/M_g),    Var p_n(i) = p(1−p)(1 − Π_{g≤n}(1 − 1/M_g)),
    P(c_i = 0) = (1 − q_i)^M,    E #{i : c_i > 0} = Σ_i [1 − (1 − q_i)^M],

and for the smoothed fit ``q' = a c/M + b`` (``a + K b = 1``):
``E q' = a E q + b``, ``E q'² = a²[(1 − 1/M) E q² + E q/M] + 2ab E q + b²``.

Route: binomial moments from the MGF (each c_i is Bin(M, q_i)); the tower property turns the
one-step identities into recursions over fits, whose solutions are checked by induction.
Run: ``python proofs/discrete_moments.py``.
"""

import numpy as np
import sympy as sp
from _common import assert_close, assert_equal, assert_zero

from collapse_theory.theory import discrete as theory

M, t = sp.symbols("M t", positive=True)
q, a, b = sp.symbols("q a b", real=True)

print("1. one fit: moments of c_i ~ Bin(M, q_i)")
# A multinomial's marginal count is binomial: c_i counts the draws that land in category i.
mgf = (1 - q + q * sp.exp(t)) ** M
m1 = sp.diff(mgf, t).subs(t, 0)
m2 = sp.diff(mgf, t, 2).subs(t, 0)
assert_equal(m1, M * q, "E c = M q")
assert_equal(m2, M * q * (1 - q) + M**2 * q**2, "E c² = M q(1 − q) + M² q²")
e_p = m1 / M
e_p2 = m2 / M**2
assert_equal(e_p, q, "E[q' | q] = q  (q' = c/M: the fitted probability is a martingale)")
assert_equal(e_p2, (1 - 1 / M) * q**2 + q / M, "E[q'² | q] = (1 − 1/M) q² + q/M")
assert_equal(e_p - e_p2, (1 - 1 / M) * (q - q**2),
             "E[q'(1 − q') | q] = (1 − 1/M) q(1 − q): heterozygosity shrinks by 1 − 1/M")

print("2. over fits (tower property)")
# h_n := E[p_n(1 − p_n)] obeys h_n = (1 − 1/M_n) h_{n−1} (step 1 and the tower property), so
# h_n = p0(1 − p0) Π_{g≤n}(1 − 1/M_g) for a schedule; for constant M solve the recurrence:
p0 = sp.symbols("p0", positive=True)
n = sp.symbols("n", integer=True, nonnegative=True)
hseq = sp.Function("h")
sol = sp.rsolve(hseq(n + 1) - (1 - 1 / M) * hseq(n), hseq(n), {hseq(0): p0 * (1 - p0)})
assert_equal(sol, p0 * (1 - p0) * (1 - 1 / M) ** n, "h_n = p0(1 − p0)(1 − 1/M)^n  (rsolve)")
Mg = sp.IndexedBase("M")
g = sp.symbols("g", integer=True)
prod = lambda k: sp.Product(1 - 1 / Mg[g], (g, 1, k))  # noqa: E731
h = lambda k: p0 * (1 - p0) * prod(k)  # noqa: E731
assert_zero((h(4) - (1 - 1 / Mg[4]) * h(3)).doit(), "schedule: h_4 = (1 − 1/M_4) h_3 for the product form")
# E p_n = p0 (martingale) and Var p_n = E p_n² − p0² = p0 − h_n − p0² = p0(1 − p0) − h_n.
var_n = p0 - h(n) - p0**2
assert_equal(var_n, p0 * (1 - p0) * (1 - prod(n)), "Var p_n = p0(1 − p0)(1 − Π(1 − 1/M_g))")
# H = 1 − Σ p_i² = Σ p_i(1 − p_i) when Σ p_i = 1, so E H_n = Σ_i h_n(i) = H_0 Π(1 − 1/M_g).
ps = sp.symbols("p1:4", positive=True)
H0 = 1 - sum(p**2 for p in ps)
assert_zero((sum(p * (1 - p) for p in ps) - H0).subs(ps[2], 1 - ps[0] - ps[1]),
            "Σ p_i(1 − p_i) = 1 − Σ p_i² when Σ p_i = 1")
print("  ⇒ E H_n = H_0 Π_{g≤n}(1 − 1/M_g) = H_0 (1 − 1/M)^n for constant M")

print("3. smoothed fit q' = a c/M + b (add-α then mix-ε)")
K, alpha, eps = sp.symbols("K alpha epsilon", positive=True)
a_s = (1 - eps) * M / (M + K * alpha)
b_s = (1 - eps) * alpha / (M + K * alpha) + eps / K
c = sp.symbols("c", nonnegative=True)
assert_equal(a_s * c / M + b_s, (1 - eps) * (c + alpha) / (M + K * alpha) + eps / K,
             "(1 − ε)(c + α)/(M + Kα) + ε/K = a c/M + b")
assert_equal(a_s + K * b_s, 1, "a + K b = 1 (the fit sums to 1)")
def expect(expr):
    """E[expr(c) | q] for a polynomial of degree ≤ 2 in c ~ Bin(M, q) (moments from step 1)."""
    coeffs = sp.Poly(sp.expand(expr), c).all_coeffs()[::-1]  # [c⁰, c¹, c²]
    return sum(k * m for k, m in zip(coeffs, (1, m1, m2)))


assert_equal(expect(a * c / M + b), a * q + b, "E[q' | q] = a q + b")
assert_equal(expect((a * c / M + b) ** 2), a**2 * ((1 - 1 / M) * q**2 + q / M) + 2 * a * b * q + b**2,
             "E[q'² | q] = a²[(1 − 1/M) q² + q/M] + 2ab q + b²")
assert_equal((b / (1 - a)).subs(a, 1 - K * b), 1 / K, "fixed point of E q' = a E q + b is 1/K")

print("4. one-step facts")
x = sp.symbols("x", integer=True, nonnegative=True)
pmf0 = (sp.binomial(M, x) * q**x * (1 - q) ** (M - x)).subs(x, 0)
assert_equal(pmf0, (1 - q) ** M, "P(c_i = 0) = (1 − q_i)^M")
print("  ⇒ E #{i : c_i > 0} = Σ_i P(c_i > 0) = Σ_i [1 − (1 − q_i)^M]  (linearity)")

print("5. numeric checks against collapse_theory.theory.discrete")
probs = np.array([0.5, 0.3, 0.15, 0.05])
sched = [7, 12, 30, 5, 100, 9]
fac = np.concatenate([[1.0], np.cumprod(1 - 1 / np.array(sched, float))])
assert_close((1 - np.sum(probs**2)) * fac, theory.expected_gini_simpson(probs, sched, 6),
             "E H_n (schedule)")
assert_close(np.outer(1 - fac, probs * (1 - probs)), theory.prob_variance(probs, sched, 6),
             "Var p_n (schedule)")
law = theory.count_law(0.3, 20, 9)
xs = np.arange(21) / 20
mom = theory.moments(np.array([0.3, 0.7]), 20, 9)
assert_close([0.3, 0.3 * 0.7 * (1 - (1 - 1 / 20) ** 9)], [law @ xs, law @ xs**2 - (law @ xs) ** 2],
             "mean and variance of the propagated count law, M = 20, n = 9", rtol=1e-10)
assert_close(mom.variance[9, 0], 0.3 * 0.7 * (1 - (1 - 1 / 20) ** 9), "moments() recursion, plain")
sm = theory.moments(probs, 25, 8, pseudocount=0.7, mix=0.1)
a_v, b_v = theory.smoothing(25, 4, 0.7, 0.1)
law = theory.count_law(probs, 25, 8, categories=4, pseudocount=0.7, mix=0.1)
qv = a_v * np.arange(26) / 25 + b_v
assert_close(law @ qv, sm.mean[8], "smoothed E q_8 from the propagated law", rtol=1e-10)
assert_close(law @ qv**2 - (law @ qv) ** 2, sm.variance[8], "smoothed Var q_8 from the law",
             rtol=1e-9)
assert_close((1 - 0.01) ** 300, theory.no_sample_probability(0.01, 300), "(1 − q)^M")
assert_close(np.sum(1 - (1 - probs) ** 3), theory.one_step_expected_support(probs, 3),
             "Σ[1 − (1 − p_i)^M]")
print("discrete_moments: all steps proved and checked")

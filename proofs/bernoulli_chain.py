r"""The Bernoulli MLE chain (Suresh et al., arXiv:2412.17646): moments and absorption.

Fit ``g`` draws ``M_g`` Bernoulli(p_{g−1}) outcomes; the MLE is their mean, ``X_g = M_g p_g ~
Bin(M_g, p_{g−1})`` (the K = 2 Wright–Fisher chain).  Results:

    replace:     E p_n = p_0,   E p_n(1 − p_n) = p_0(1 − p_0) Π_{g≤n}(1 − 1/M_g)
                 P(p_n ∈ {0, 1}) = P(X_n = 0) + P(X_n = M)  (exact binomial chain)
    accumulate:  E p_n = p_0,   E p_n(1 − p_n) = p_0(1 − p_0) Π_{k≤n}(1 − M_k/N_k²)

Route: binomial moments from the pgf; the tower property; absorption by propagating the exact
(rational) transition matrix for a small M and comparing with ``theory.counting``, which reuses
``theory.discrete``'s binomial-chain propagation.  Run: ``python proofs/bernoulli_chain.py``.
"""

import numpy as np
import sympy as sp
from _common import assert_close, assert_equal

from collapse_theory.theory import counting as theory

p, z = sp.symbols("p z", positive=True)
M, Mn, Nprev = sp.symbols("M M_n N_prev", positive=True)

print("1. binomial moments from the pgf G(z) = (1 − p + p z)^M")
pgf = (1 - p + p * z) ** M
m1 = sp.diff(pgf, z).subs(z, 1)
m2 = sp.diff(pgf, z, 2).subs(z, 1) + m1  # E X² = G''(1) + G'(1)
assert_equal(m1, M * p, "E X = M p")
assert_equal(m2, M * p * (1 - p) + M**2 * p**2, "E X² = M p(1 − p) + M² p²")

print("2. replace: one fit, then the tower property")
assert_equal(m1 / M, p, "E[p' | p] = p  (martingale: E p_n = p_0)")
assert_equal(m1 / M - m2 / M**2, p * (1 - p) * (1 - 1 / M),
             "E[p'(1 − p') | p] = (1 − 1/M) p(1 − p)")
# Tower property: h_n = E p_n(1 − p_n) = (1 − 1/M_n) h_{n−1}, h_0 = p_0(1 − p_0).
sched = [5, 7, 10, 3, 12]
derived = 0.21 * np.concatenate([[1.0], np.cumprod([1 - 1 / m for m in sched])])
assert_close(derived, theory.bernoulli_heterozygosity(0.3, sched, len(sched)),
             f"theory.bernoulli_heterozygosity, replace, p_0 = 0.3, schedule {sched}")
assert_close(0.21 - derived, theory.bernoulli_variance(0.3, sched, len(sched)),
             "theory.bernoulli_variance = p_0(1 − p_0) − h_n")
assert_close(np.full(6, 0.3), theory.bernoulli_mean(0.3, 10, 5), "theory.bernoulli_mean")

print("3. absorption: the exact binomial chain, in rationals (M = 4)")
m, gens, p0 = 4, 6, sp.Rational(3, 10)
T = sp.Matrix(m + 1, m + 1, lambda i, j: sp.binomial(m, j) * sp.Rational(i, m) ** j
              * (1 - sp.Rational(i, m)) ** (m - j))
assert_equal(T * sp.Matrix([j for j in range(m + 1)]), sp.Matrix(list(range(m + 1))),
             "T x = x: E[X' | X] = X, so the states 0 and M absorb and X/M is a martingale")
law = sp.Matrix([[sp.binomial(m, j) * p0**j * (1 - p0) ** (m - j) for j in range(m + 1)]])
exact = [0]
for _ in range(gens):
    exact.append(law[0] + law[m])
    law = law * T
assert_equal(exact[1], (1 - p0) ** m + p0**m, "P(X_1 ∈ {0, M}) = (1 − p_0)^M + p_0^M")
assert_close([float(e) for e in exact], theory.bernoulli_absorption(0.3, m, gens),
             f"theory.bernoulli_absorption vs the rational chain (M = {m}, n ≤ {gens})")

print("4. accumulate: q_n = (N_{n−1} q + X_n)/N_n, X_n ~ Bin(M_n, q)")
big = Nprev + Mn
e1 = (Nprev * p + m1.subs(M, Mn)) / big
e2 = (Nprev**2 * p**2 + 2 * Nprev * p * m1.subs(M, Mn) + m2.subs(M, Mn)) / big**2
assert_equal(e1, p, "E[q_n | F_{n−1}] = q_{n−1}")
assert_equal(e1 - e2, p * (1 - p) * (1 - Mn / big**2),
             "E[q_n(1 − q_n) | F_{n−1}] = (1 − M_n/N_n²) q(1 − q)")
nk = np.cumsum(sched)
derived = 0.21 * np.concatenate([[1.0], np.cumprod([1 - mm / nn**2 for mm, nn in zip(sched, nk)])])
assert_close(derived, theory.bernoulli_heterozygosity(0.3, sched, len(sched), "accumulate"),
             f"theory.bernoulli_heterozygosity, accumulate, schedule {sched}")

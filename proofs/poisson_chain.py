r"""The Poisson MLE chain (Suresh et al., arXiv:2412.17646): moments and extinction.

Fit ``g`` draws ``M_g`` points of ``Poisson(λ_{g−1})``; the MLE is their mean, so the total
``S_g = M_g λ_g ~ Poisson(M_g λ_{g−1})``.  Results:

    replace:     E λ_n = λ_0,   Var λ_n = λ_0 Σ_{g≤n} 1/M_g   (n λ_0/M)
                 P(λ_n = 0) = exp(M λ_0 (f_{n−1}(0) − 1)),  f(s) = e^{s−1}   (constant M)
                            = f_n(0)^{M λ_0}  when M λ_0 is an integer
    accumulate:  E λ_n = λ_0,   Var λ_n = λ_0 Σ_{k≤n} M_k/N_k²   ((λ_0/M) Σ 1/k² → π² λ_0/(6M))

Route: Poisson moments from the probability generating function; the tower property and the
law of total variance turn one fit into recursions over fits; with constant ``M``,
``S_g | S_{g−1} ~ Poisson(S_{g−1})`` is a Galton–Watson process with Poisson(1) offspring.
Run: ``python proofs/poisson_chain.py``.
"""

import numpy as np
import sympy as sp
from _common import assert_close, assert_equal
from scipy import stats

from collapse_theory.theory import counting as theory

mu, lam, z, x = sp.symbols("mu lambda z x", positive=True)
M, N, V = sp.symbols("M N V", positive=True)

print("1. Poisson moments from the pgf G(z) = exp(μ(z − 1))")
pgf = sp.exp(mu * (z - 1))
k = sp.symbols("k", integer=True, nonnegative=True)
assert_equal(sp.summation(sp.exp(-mu) * mu**k / sp.factorial(k) * z**k, (k, 0, sp.oo)), pgf,
             "Σ_k e^{−μ} μ^k/k! z^k = exp(μ(z − 1))")
m1 = sp.diff(pgf, z).subs(z, 1)
fact2 = sp.diff(pgf, z, 2).subs(z, 1)
assert_equal(m1, mu, "E S = G'(1) = μ")
assert_equal(fact2 + m1 - m1**2, mu, "Var S = G''(1) + G'(1) − G'(1)² = μ")

print("2. replace: one fit, then the tower property")
cond_mean = m1.subs(mu, M * lam) / M
cond_var = (fact2 + m1 - m1**2).subs(mu, M * lam) / M**2
assert_equal(cond_mean, lam, "E[λ' | λ] = λ  (martingale: E λ_n = λ_0)")
assert_equal(cond_var, lam / M, "Var[λ' | λ] = λ/M")
# Law of total variance: Var λ_n = E Var[λ_n | λ_{n−1}] + Var E[λ_n | λ_{n−1}]
#                               = λ_0/M_n + Var λ_{n−1},  Var λ_0 = 0.
n = sp.symbols("n", integer=True, positive=True)
lam0 = sp.symbols("lambda_0", positive=True)
v = lambda nn: nn * lam0 / M  # noqa: E731  (constant M)
assert_equal(v(n) - v(n - 1), lam0 / M, "V_n = n λ_0/M solves V_n = V_{n−1} + λ_0/M, V_0 = 0")
sched = [5, 7, 10, 3, 12]
derived = np.concatenate([[0.0], np.cumsum([2.0 / m for m in sched])])
assert_close(derived, theory.poisson_variance(2.0, sched, len(sched)),
             f"theory.poisson_variance, replace, λ_0 = 2, schedule {sched}")
assert_close(np.full(6, 2.0), theory.poisson_mean(2.0, 10, 5), "theory.poisson_mean")

print("3. extinction: a Galton–Watson process with Poisson(1) offspring (constant M)")
s = sp.symbols("s", integer=True, nonnegative=True)
# Given S_{g−1} = s, S_g ~ Poisson(M λ_{g−1}) = Poisson(s): its pgf is exp(s(z − 1)) = f(z)^s,
# the pgf of a sum of s independent Poisson(1) offspring counts.
f = sp.exp(z - 1)
assert_equal(pgf.subs(mu, s), f**s, "pgf of S_g given S_{g−1} = s is f(z)^s, f(z) = e^{z−1}")
# Hence P(S_n = 0 | S_1) = f_{n−1}(0)^{S_1} (f_k the k-fold iterate, f_0(0) = 0), and with
# S_1 ~ Poisson(M λ_0): P(S_n = 0) = E x^{S_1} at x = f_{n−1}(0) = G(x) with μ = M λ_0.
assert_equal(pgf.subs({mu: M * lam0, z: x}), sp.exp(M * lam0 * (x - 1)),
             "P(λ_n = 0) = exp(M λ_0 (f_{n−1}(0) − 1))")
m_int = sp.symbols("m", integer=True, positive=True)
assert_equal(sp.exp(m_int * (x - 1)), f.subs(z, x) ** m_int,
             "= f(f_{n−1}(0))^{Mλ_0} = f_n(0)^{Mλ_0} when Mλ_0 is an integer")
# Numerical check against the exact law of S_n, propagated on a truncated support.
m, l0, gens, top = 10, 0.5, 12, 200
law = stats.poisson.pmf(np.arange(top), m * l0)
trans = stats.poisson.pmf(np.arange(top)[None, :], np.arange(top)[:, None])  # row s: Pois(s)
exact = [0.0, law[0]]
for _ in range(gens - 1):
    law = law @ trans
    exact.append(law[0])
assert_close(exact, theory.poisson_extinction(l0, m, gens),
             f"theory.poisson_extinction vs the propagated law (M = {m}, λ_0 = {l0})", rtol=1e-10)
f5 = sp.Integer(0)
for _ in range(5):
    f5 = f.subs(z, f5)  # f_5(0) = f(f(f(f(f(0)))))
assert_close(float(f5) ** 5, exact[5], "M λ_0 = 5, n = 5: f_5(0)^5 (integer case)", rtol=1e-10)

print("4. accumulate: λ_n = (N_{n−1} λ_{n−1} + S_n)/N_n, S_n ~ Poisson(M_n λ_{n−1})")
Mn = sp.symbols("M_n", positive=True)
Nprev = sp.symbols("N_prev", positive=True)
big = Nprev + Mn
cond_mean = (Nprev * lam + m1.subs(mu, Mn * lam)) / big
cond_var = (fact2 + m1 - m1**2).subs(mu, Mn * lam) / big**2
assert_equal(cond_mean, lam, "E[λ_n | F_{n−1}] = λ_{n−1}  (still a martingale)")
assert_equal(cond_var, Mn * lam / big**2, "Var[λ_n | F_{n−1}] = M_n λ_{n−1}/N_n²")
# Total variance: V_n = V_{n−1} + λ_0 M_n/N_n²; constant M: N_k = kM gives λ_0/(M k²).
kk = sp.symbols("k", positive=True, integer=True)
assert_equal((Mn * lam0 / big**2).subs({Mn: M, Nprev: (kk - 1) * M}), lam0 / (M * kk**2),
             "constant M: the k-th increment is λ_0/(M k²)")
assert_equal(sp.summation(1 / kk**2, (kk, 1, sp.oo)), sp.pi**2 / 6,
             "Σ 1/k² = π²/6: Var λ_n → π² λ_0/(6M), bounded (no collapse)")
nk = np.cumsum(sched)
derived = np.concatenate([[0.0], np.cumsum([2.0 * mm / nn**2 for mm, nn in zip(sched, nk)])])
assert_close(derived, theory.poisson_variance(2.0, sched, len(sched), "accumulate"),
             f"theory.poisson_variance, accumulate, schedule {sched}")
assert_close([0.2 * sum(1 / j**2 for j in range(1, 21))],
             theory.poisson_variance(2.0, 10, 20, "accumulate")[-1:],
             "constant M = 10, n = 20: (λ_0/M) Σ 1/k²")

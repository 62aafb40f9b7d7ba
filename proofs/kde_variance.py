r"""The KDE refitting chain: the variance recursion under replace, accumulate and fresh:γ.

Model g is the Gaussian KDE on N centres with bandwidth h; s² is the centres' variance (divisor
N), V = s² + h² the model variance, d the centres' mean minus D0's mean (σ0² D0's variance).
A bandwidth with h² = κ s² + η (fixed h: κ = 0, η = h²; Scott h = c σ̂ N^{-1/5}, σ̂² = N s²/(N−1):
κ_N = c² N^{3/5}/(N − 1), η = 0) makes every expectation step linear.  Results:

    one draw from the KDE:  E y = x̄,  Var y = s² + h² = V
    replace:     E[s²'|·] = (M − 1)V/M,  E[d'²|·] = d² + V/M
                 fixed h: E V_n = M h² + (σ0² − M h²)((M − 1)/M)^n → M h²  (E s²_∞ = (M − 1)h²)
                 Scott:   E V_n = σ0² ρ^n,  ρ = (M − 1)/M + c² M^{-2/5} > 1 iff c² M^{3/5} > 1
    accumulate:  E[s²'|·] = [N s² + M(1 − 1/N')V]/N',  E[d'²|·] = d² + M V/N'²  (N' = N + M)
                 fixed h, N_k = kM: E s²_k = E s²_{k−1}(1 − 1/(M k²)) + h²(1/k − 1/(M k²)),
                 so E s²_n − h² H_n converges: logarithmic growth (H_n the harmonic number)
    fresh:γ:     E[M s²'|·] = (Rσ0² + S V)(M − 1)/M + (R S/M) d²,
                 E[d'²|·] = (Rσ0² + S V)/M² + (S/M)² d²    (R real, S synthetic, M = R + S)

    second moments (replace): E m2² = [(M−1)²μ4 + (M−1)(M²−2M+3)μ2²]/M³,
                 E m4 = [(M−1)(M²−3M+3)μ4 + 3(M−1)(2M−3)μ2²]/M³ for M i.i.d. draws, and the
                 KDE's μ4 = m4 + 6 s²h² + 3h⁴: (E s², E s⁴, E m4) is an exact linear recursion

In d dimensions every recursion is linear coordinate by coordinate, so it holds for the traces
(s² → tr S, V → tr V, d² → |d|²) with tr H = κ_N tr S + η_N (section 3).

Silverman's rule (min(σ̂, IQR/1.34)) is not quadratic in the centres: no exact recursion.

Run: ``python proofs/kde_variance.py``.
"""

import numpy as np
import sympy as sp
from _common import assert_close, assert_equal

from collapse_theory.theory import kde as theory

print("1. one draw from the KDE: y = x_J + h z, J uniform on N centres, z ~ N(0, 1)")
N = 5
xs = sp.symbols(f"x1:{N + 1}", real=True)
h, c = sp.symbols("h c", positive=True)
xbar = sum(xs) / N
s2 = sum((x - xbar) ** 2 for x in xs) / N
# E[y | J = j] = x_j and E[y² | J = j] = x_j² + h² (E z = 0, E z² = 1, z independent of J)
e_y = sum(xs) / N
e_y2 = sum(x**2 + h**2 for x in xs) / N
assert_equal(e_y, xbar, "E y = x̄ (the centres' mean)")
assert_equal(e_y2 - e_y**2, s2 + h**2, "Var y = s² + h² (divisor N: the KDE's variance)")

print("2. the sample variance (divisor M) of M i.i.d. draws with mean μ, variance V")
M, V, mu, d = sp.symbols("M V mu d", real=True)
# E y_i² = V + μ², E y_i y_j = μ² (i ≠ j):  E ȳ² = [M(V + μ²) + M(M − 1)μ²]/M²
e_ybar2 = (M * (V + mu**2) + M * (M - 1) * mu**2) / M**2
e_s2 = (M * (V + mu**2) - M * e_ybar2) / M
assert_equal(e_s2, (M - 1) * V / M, "E s²' = (M − 1)V/M")
assert_equal(e_ybar2 - mu**2, V / M, "Var ȳ = V/M: E[d'² | ·] = d² + V/M under replace")

print("3. bandwidths linear in s²")
n_pts = sp.symbols("N", positive=True)
sigma_hat2 = n_pts * sp.Symbol("s2") / (n_pts - 1)
scott_h2 = c**2 * sigma_hat2 * n_pts ** sp.Rational(-2, 5)
kappa = sp.simplify(scott_h2 / sp.Symbol("s2"))
assert_equal(kappa, c**2 * n_pts ** sp.Rational(3, 5) / (n_pts - 1),
             "Scott: h² = κ_N s², κ_N = c² N^{3/5}/(N − 1)")
for nn in (2, 7, 40):
    assert_close(float(kappa.subs({n_pts: nn, c: 1.3})), theory.kappa_eta("scott:1.3", nn)[0],
                 f"theory.kappa_eta('scott:1.3', {nn})")
assert_close([0.0, 0.49], theory.kappa_eta(0.7, 9), "theory.kappa_eta(0.7, N): (0, h²)")
# d dimensions: scipy's kernel covariance f² Σ̂ (Σ̂ = N S/(N − 1)) has tr H = f² N tr S/(N − 1);
# scikit-learn's h² I has tr H = d h², with f = N^{-1/(d+4)} (scott) or (N(d+2)/4)^{-1/(d+4)}.
dd = sp.symbols("d", positive=True, integer=True)
f_scott = c * n_pts ** (-1 / (dd + 4))
f_silv = c * (n_pts * (dd + 2) / 4) ** (-1 / (dd + 4))
for nn, dim in ((7, 1), (40, 3)):
    at = {n_pts: nn, c: 1.3, dd: dim}
    for rule, f in (("scott", f_scott), ("scipy-silverman", f_silv)):
        assert_close(float((f**2 * n_pts / (n_pts - 1)).subs(at)),
                     theory.kappa_eta(f"{rule}:1.3", nn, dim)[0],
                     f"theory.kappa_eta('{rule}:1.3', {nn}, dim={dim}): κ = f² N/(N − 1)")
        assert_close(float((dd * f**2).subs(at)),
                     theory.kappa_eta(f"sklearn-{rule.removeprefix('scipy-')}:1.3", nn, dim)[1],
                     f"theory.kappa_eta('sklearn-…:1.3', {nn}, dim={dim}): η = d f²")
assert_equal(sp.simplify(f_scott.subs(dd, 1) ** 2 * n_pts / (n_pts - 1) - kappa), 0,
             "in 1-D scipy's Scott factor gives the κ_N above")

print("4. replace: solve the recursions")
n = sp.symbols("n", integer=True, nonnegative=True)
sigma0 = sp.symbols("sigma0", positive=True)
Mp = sp.symbols("M", positive=True)
a = (Mp - 1) / Mp
Vf = sp.Function("V")
# fixed h: V_n = s²_n + h² = a V_{n−1} + h², V_0 = σ0²
sol = sp.rsolve(Vf(n) - a * Vf(n - 1) - h**2, Vf(n), {Vf(0): sigma0**2})
closed = Mp * h**2 + (sigma0**2 - Mp * h**2) * a**n
assert_equal(sol - closed, 0, "fixed h: E V_n = M h² + (σ0² − M h²)((M − 1)/M)^n")
s_star = sp.symbols("s_star")
fp = sp.solve(sp.Eq(s_star, a * (s_star + h**2)), s_star)[0]
assert_equal(fp, (Mp - 1) * h**2, "fixed point of E s²: (M − 1)h²  (E V_∞ = M h²)")
for m_, h_ in ((20, 0.3), (7, 1.5)):
    assert_close([float(closed.subs({Mp: m_, h: h_, sigma0: 1, n: k})) for k in range(13)],
                 theory.replace_fixed_variance(m_, h_, 12), f"theory.replace_fixed_variance M={m_}")
    assert_close(theory.moments(m_, 12, bandwidth=h_).variance,
                 theory.replace_fixed_variance(m_, h_, 12), f"theory.moments fixed h, M={m_}")
    assert_close([float(fp.subs({Mp: m_, h: h_})), m_ * h_**2],
                 theory.replace_fixed_point(m_, h_), f"theory.replace_fixed_point({m_}, {h_})")
# Scott: V_n = (1 + κ_M) s²_n = (1 + κ_M) a V_{n−1}
rho = sp.simplify((1 + kappa.subs(n_pts, Mp)) * a)
assert_equal(rho, (Mp - 1) / Mp + c**2 * Mp ** sp.Rational(-2, 5),
             "Scott: ρ = (1 + κ_M)(M − 1)/M = (M − 1)/M + c² M^{-2/5}")
sol = sp.rsolve(Vf(n) - rho * Vf(n - 1), Vf(n), {Vf(0): sigma0**2})
assert_equal(sol - sigma0**2 * rho**n, 0, "Scott: E V_n = σ0² ρ^n")
assert_equal((rho - 1) * Mp, c**2 * Mp ** sp.Rational(3, 5) - 1,
             "ρ > 1 iff c² M^{3/5} > 1 (always for c = 1, M ≥ 2): the variance explodes")
for m_, c_ in ((20, 1.0), (50, 0.5)):
    assert_close(float(rho.subs({Mp: m_, c: c_})), theory.scott_growth_factor(m_, c_),
                 f"theory.scott_growth_factor({m_}, {c_})")
    assert_close(theory.moments(m_, 15, bandwidth=f"scott:{c_}").variance,
                 float(rho.subs({Mp: m_, c: c_})) ** np.arange(16), f"theory.moments Scott M={m_}")

print("5. accumulate: pooling a batch of M draws into N centres")
Nn = sp.symbols("N", positive=True)
sp2 = sp.symbols("s2", nonnegative=True)
# pooled scatter = N s² + M s_b² + (N M/N')(b̄ − x̄)² (policy_accumulate.py, step 1); given the
# pool, E[M s_b²] = (M − 1)V and E(b̄ − x̄)² = V/M (step 2)
e_scatter = Nn * sp2 + (M - 1) * V + (Nn * M / (Nn + M)) * V / M
assert_equal(e_scatter / (Nn + M), (Nn * sp2 + M * (1 - 1 / (Nn + M)) * V) / (Nn + M),
             "E[s²' | ·] = [N s² + M(1 − 1/N')V]/N'")
# the new mean is x̄ + (M/N')(b̄ − x̄) with b̄ − x̄ centred given the past, variance V/M
assert_equal((M / (Nn + M)) ** 2 * V / M, M * V / (Nn + M) ** 2, "E[d'² | ·] = d² + M V/N'²")
assert_equal((e_scatter / (Nn + M)).subs(Nn, 0), (M - 1) * V / M,
             "N = 0 (fit 1 on the real batch): the replace step")
k = sp.symbols("k", positive=True, integer=True)
step = (e_scatter / (Nn + M)).subs({Nn: (k - 1) * M, V: sp2 + h**2})
assert_equal(step - (sp2 * (1 - 1 / (M * k**2)) + h**2 * (1 / k - 1 / (M * k**2))), 0,
             "fixed h, N_k = kM: E s²_k = E s²_{k−1}(1 − 1/(M k²)) + h²(1/k − 1/(M k²))")
# The homogeneous factors have a positive limit (Euler's sine product) and the forcing terms
# sum to h² H_n + O(1): E s²_n ~ h² log n, unbounded but logarithmic.  Numerically:
far = theory.moments(10, 20_000, bandwidth=0.5, policy="accumulate").centre_variance
harmonic = np.cumsum(1.0 / np.arange(1, 20_001))
gap = far[1:] - 0.25 * harmonic
assert abs(gap[-1] - gap[9_999]) < 1e-4, (gap[9_999], gap[-1])
print(f"  checked E s²_n − h² H_n converges (n = 10⁴: {gap[9_999]:.6f}, 2·10⁴: {gap[-1]:.6f})")

print("6. fresh: R points of D0 (mean 0, variance σ0²) and S draws of the KDE (mean d, var V)")
R, S = sp.symbols("R S", positive=True)
sum_e_y2 = R * sigma0**2 + S * (V + d**2)
e_sum2 = R * sigma0**2 + S * V + (S * d) ** 2  # Var Σy + (E Σy)²
e_scatter = sp.expand(sum_e_y2 - e_sum2 / (R + S))
assert_equal(e_scatter, (R * sigma0**2 + S * V) * (R + S - 1) / (R + S) + R * S / (R + S) * d**2,
             "E[M s²' | ·] = (Rσ0² + SV)(M − 1)/M + (RS/M) d²")
assert_equal(e_sum2 / (R + S) ** 2,
             (R * sigma0**2 + S * V) / (R + S) ** 2 + (S / (R + S)) ** 2 * d**2,
             "E[d'² | ·] = (Rσ0² + SV)/M² + (S/M)² d²")

print("7. theory.moments against the derived steps, iterated exactly (rationals)")


def iterate(policy, sched, h2=None, c2=None, gamma=None):
    """Exact iteration of the derived one-step expectations (h² = κ s² + η)."""
    s, v, dd = [sp.Integer(1)], [sp.Integer(1)], [sp.Integer(0)]
    pool = 0
    for g, m in enumerate(sched):
        m = sp.Integer(m)
        if policy == "replace":
            n_new = m
            s.append((m - 1) * v[-1] / m)
            dd.append(dd[-1] + v[-1] / m)
        elif policy == "accumulate":
            n_new = pool + m
            s.append((pool * s[-1] + m * (1 - sp.Integer(1) / n_new) * v[-1]) / n_new)
            dd.append(dd[-1] + m * v[-1] / n_new**2)
        else:
            n_new = m
            r = m if g == 0 else sp.Integer(round(gamma * int(m)))
            syn = m - r
            mix = r + syn * v[-1]
            s.append((mix * (m - 1) / m + r * syn / m * dd[-1]) / m)
            dd.append(mix / m**2 + (syn / m) ** 2 * dd[-1])
        pool = n_new
        kap = 0 if c2 is None else c2 * n_new ** sp.Rational(3, 5) / (n_new - 1)
        v.append((1 + kap) * s[-1] + (h2 or 0))
    return [np.array([float(x) for x in arr]) for arr in (s, v, dd)]


sched = [6, 9, 4, 12, 7, 30]
for pol, bw, kw in (("replace", 0.4, dict(h2=sp.Rational(4, 25))),
                    ("replace", "scott:0.8", dict(c2=sp.Rational(16, 25))),
                    ("accumulate", 0.4, dict(h2=sp.Rational(4, 25))),
                    ("accumulate", "scott", dict(c2=1)),
                    ("fresh:0.3", 0.4, dict(h2=sp.Rational(4, 25), gamma=0.3)),
                    ("fresh:0.5", "scott", dict(c2=1, gamma=0.5))):
    derived = iterate(pol.split(":")[0], sched, **kw)
    got = theory.moments(sched, len(sched), bandwidth=bw, policy=pol)
    for name, der, pkg in zip(("E s²", "E V", "E d²"), derived, got):
        assert_close(der, pkg, f"theory.moments {name}, {pol}, bandwidth {bw}, schedule {sched}")

print("8. second moments under replace: Var s²_n (exact z-test standard errors)")
mu2, mu3, mu4 = sp.symbols("mu2 mu3 mu4", real=True)


def expect(poly, xs_, moments):
    """E of a polynomial in i.i.d. variables: each monomial Π x_i^{k_i} → Π E x^{k_i}."""
    p = sp.Poly(sp.expand(poly), *xs_)
    return sp.expand(sum(coef * sp.prod([moments[k] for k in mon]) for mon, coef in p.terms()))


moments_ = {0: 1, 1: 0, 2: mu2, 3: mu3, 4: mu4}
Ms_ = sp.symbols("M", positive=True)
e_m2sq = ((Ms_ - 1) ** 2 * mu4 + (Ms_ - 1) * (Ms_**2 - 2 * Ms_ + 3) * mu2**2) / Ms_**3
e_m4 = ((Ms_ - 1) * (Ms_**2 - 3 * Ms_ + 3) * mu4 + 3 * (Ms_ - 1) * (2 * Ms_ - 3) * mu2**2) / Ms_**3
# M⁴ E m2² and M⁴ E m4 are polynomials of degree ≤ 4 in M (the number of index tuples with a
# given pattern of equalities is a polynomial in M): equal at 6 values of M, equal for all M.
for mm in range(2, 8):
    ys = sp.symbols(f"y1:{mm + 1}", real=True)
    ybar = sum(ys) / mm
    m2 = sum((y - ybar) ** 2 for y in ys) / mm
    m4 = sum((y - ybar) ** 4 for y in ys) / mm
    assert_equal(expect(m2**2, ys, moments_), e_m2sq.subs(Ms_, mm), f"E m2² at M = {mm}")
    assert_equal(expect(m4, ys, moments_), e_m4.subs(Ms_, mm), f"E m4 at M = {mm}")
for mm in (2, 9, 50):
    (c1, c2), (c3, c4) = theory.sample_moment_coefficients(mm)
    assert_close([float(e_m2sq.subs({Ms_: mm, mu4: 1, mu2: 0})),
                  float(e_m2sq.subs({Ms_: mm, mu4: 0, mu2: 1})),
                  float(e_m4.subs({Ms_: mm, mu4: 1, mu2: 0})),
                  float(e_m4.subs({Ms_: mm, mu4: 0, mu2: 1}))], [c1, c2, c3, c4],
                 f"theory.sample_moment_coefficients({mm})")
# The KDE's central moments: y − x̄ = (x_J − x̄) + h z, z ~ N(0, 1) independent (E z⁴ = 3)
cj, zz = sp.symbols("c_J z", real=True)
fourth = expect((cj + h * zz) ** 4, [zz], {0: 1, 1: 0, 2: 1, 3: 0, 4: 3})
assert_equal(fourth, cj**4 + 6 * cj**2 * h**2 + 3 * h**4,
             "E[(c + h z)⁴ | c] = c⁴ + 6c²h² + 3h⁴: μ4(KDE) = m4 + 6 s² h² + 3 h⁴")


def iterate2(sched, h2=None, c2=None, kurt=3):
    """Exact iteration of (E s², E s⁴, E m4) with the derived steps (h² = κ s² + η)."""
    a_, b_, c_ = [sp.Integer(1)], [sp.Integer(1)], [sp.sympify(kurt)]
    kap, et = sp.Integer(0), sp.Integer(0)
    for m in sched:
        m = sp.Integer(m)
        mu2_ = (1 + kap) * a_[-1] + et
        mu2sq = (1 + kap) ** 2 * b_[-1] + 2 * (1 + kap) * et * a_[-1] + et**2
        mu4_ = c_[-1] + 6 * (kap * b_[-1] + et * a_[-1]) + 3 * (kap**2 * b_[-1]
                                                                + 2 * kap * et * a_[-1] + et**2)
        a_.append((m - 1) / m * mu2_)
        b_.append(sp.expand(e_m2sq.subs(Ms_, m)).subs({mu4: mu4_, mu2**2: mu2sq}))
        c_.append(sp.expand(e_m4.subs(Ms_, m)).subs({mu4: mu4_, mu2**2: mu2sq}))
        kap = 0 if c2 is None else c2 * m ** sp.Rational(3, 5) / (m - 1)
        et = h2 or 0
    return [np.array([float(x) for x in arr]) for arr in (a_, b_, c_)]


for bw, kw in ((0.4, dict(h2=sp.Rational(4, 25))), ("scott:0.8", dict(c2=sp.Rational(16, 25))),
               (0.4, dict(h2=sp.Rational(4, 25), kurt=sp.Rational(9, 5)))):
    a_, b_, c_ = iterate2(sched, **kw)
    got = theory.replace_second_moments(sched, len(sched), bandwidth=bw,
                                        kurtosis0=float(kw.get("kurt", 3)))
    for name, der, pkg in zip(("E s²", "E s⁴", "E m4"), (a_, b_, c_), got):
        assert_close(der, pkg, f"theory.replace_second_moments {name}, bandwidth {bw}, "
                               f"D0 kurtosis {kw.get('kurt', 3)}")
    kappa_n = theory.kappa_eta(bw, sched)[0]
    scale = np.concatenate([[1.0], 1 + kappa_n])
    assert_close(scale**2 * (b_ - a_**2), got.variance_var, f"Var V_n = (1 + κ)² Var s²_n, {bw}")

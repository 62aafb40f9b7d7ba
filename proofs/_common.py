"""Helpers shared by the proof scripts: asserted steps and the χ² Mellin transform."""

from __future__ import annotations

import numpy as np
import sympy as sp


def assert_zero(expr, claim: str) -> None:
    """Assert that ``expr`` simplifies to 0 and report the step as proved."""
    residual = _reduce(expr)
    zero = residual.is_zero_matrix if isinstance(residual, sp.MatrixBase) else residual == 0
    assert zero, f"{claim}: residual {residual} is not 0"
    print(f"  proved  {claim}")


def _reduce(expr):
    """``simplify``, then ``expand_func`` (Γ(x+1)/Γ(x) = x) if needed; element-wise on matrices."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(_reduce)
    residual = sp.simplify(expr)
    return residual if residual == 0 else sp.simplify(sp.expand_func(residual))


def assert_equal(lhs, rhs, claim: str) -> None:
    """Assert ``lhs == rhs`` symbolically (``simplify(lhs - rhs) == 0``)."""
    assert_zero(lhs - rhs, claim)


def assert_close(derived, package, claim: str, rtol: float = 1e-12, atol: float = 0.0) -> None:
    """Assert that the package's value agrees numerically with the derived expression."""
    derived = np.asarray(derived, dtype=np.float64)
    package = np.asarray(package, dtype=np.float64)
    assert derived.shape == package.shape, f"{claim}: shapes {derived.shape} vs {package.shape}"
    assert np.allclose(package, derived, rtol=rtol, atol=atol), \
        f"{claim}: package {package} vs derived {derived}"
    print(f"  checked {claim}")


def chi2_density(x, nu):
    """The χ²_ν density ``x^{ν/2−1} e^{−x/2} / (2^{ν/2} Γ(ν/2))`` on ``x > 0``."""
    return x ** (nu / 2 - 1) * sp.exp(-x / 2) / (2 ** (nu / 2) * sp.gamma(nu / 2))


def chi2_mellin(nu, s):
    r"""Derive ``E X^s = 2^s Γ(ν/2 + s) / Γ(ν/2)`` for ``X ~ χ²_ν`` (``s > −ν/2``).

    ``∫_0^∞ x^{a−1} e^{−x/2} dx = 2^a Γ(a)`` with ``a = ν/2 + s > 0``, divided by the density's
    normaliser.  Returns the closed form after asserting both integrals.
    """
    x, a, nu_ = sp.symbols("x a nu_", positive=True)
    assert_equal(sp.integrate(chi2_density(x, nu_), (x, 0, sp.oo)), 1,
                 "the χ² density integrates to 1")
    kernel = sp.integrate(x ** (a - 1) * sp.exp(-x / 2), (x, 0, sp.oo))
    assert_equal(kernel, 2 ** a * sp.gamma(a), "∫ x^(a−1) e^(−x/2) dx = 2^a Γ(a)  (a > 0)")
    mellin = kernel.subs(a, nu_ / 2 + s) / (2 ** (nu_ / 2) * sp.gamma(nu_ / 2))
    closed = 2 ** s * sp.gamma(nu_ / 2 + s) / sp.gamma(nu_ / 2)
    assert_equal(mellin, closed, "E X^s = 2^s Γ(ν/2 + s)/Γ(ν/2)  (Mellin transform of χ²_ν)")
    return closed.subs(nu_, nu)

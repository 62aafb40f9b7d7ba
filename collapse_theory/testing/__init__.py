r"""Property-based and calibrated statistical testing of a researcher's own estimators.

Every assertion states the rate at which it fails when the claim is true (``false_fail_rate``),
raises :class:`StatisticalAssertionError` with the statistic, the p-value and the tolerance, and
comes with experiment design (:func:`trials_needed`).  The collapse properties run a user's
:class:`~collapse_theory.Family` through the package's engine and policies.  Hypothesis
strategies live in :mod:`collapse_theory.testing.strategies`; the pytest plugin
(the top-level module ``collapse_theory_pytest``, a pytest11 entry point) gives a session-wide false-fail budget and
``--ct-vary-seed``.  Tutorial: ``docs/testing.md``.
"""

from .assertions import (StatisticalAssertionError, assert_law, assert_mean, assert_same_law,
                         spending)
from .chains import (CollapseRate, assert_absorbing, assert_closed_form, assert_martingale,
                     assert_reproducible, collapse_rate)
from .design import detectable_discrepancy, trials_needed
from .statistics import Outcome

__all__ = ["CollapseRate", "Outcome", "StatisticalAssertionError", "assert_absorbing",
           "assert_closed_form", "assert_law", "assert_martingale", "assert_mean",
           "assert_reproducible", "assert_same_law", "collapse_rate", "detectable_discrepancy",
           "spending", "trials_needed"]

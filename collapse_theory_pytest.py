r"""pytest plugin of :mod:`collapse_theory.testing` (entry point ``collapse_theory``).

A top-level module, as Hypothesis ships its own plugin: loading it imports neither JAX nor
``collapse_theory``, so a pytest session pays nothing unless a test uses the package.

Fixtures:

* ``ct_seed``: the seed a statistical test draws its key from — ``--ct-seed`` (default 0), or
  each of ``N`` fresh seeds with ``--ct-vary-seed N``;
* ``ct_false_fail_rate``: this test's share of the session's false-fail budget
  ``--ct-budget`` (default 0.01), split equally over the collected tests that ask for it (a
  union bound: the whole session fails falsely with probability ``≤`` the budget).  A test
  that spends more than its share in calibrated assertions fails.

``--ct-vary-seed N`` reruns every test that uses ``ct_seed`` under ``N`` seeds drawn from
``--ct-seed`` (or from the operating system, printed in the header to rerun) and reports, per
test, the observed false-fail rate with its exact (Clopper–Pearson) 95% interval next to the
nominal rate the test spent — TFP's ``--vary_seed`` with the bookkeeping done.  The rates are
those of :mod:`collapse_theory.testing`'s assertions run by the test (``spending``).
"""

from __future__ import annotations

import re
import secrets
import sys

import pytest

_ASSERTIONS = "collapse_theory.testing.assertions"
_NOMINAL = "ct_nominal_rate"
_STAT_FAIL = "ct_statistical_failure"


def pytest_addoption(parser):
    group = parser.getgroup("collapse_theory", "calibrated statistical tests (collapse_theory)")
    group.addoption("--ct-seed", type=int, default=None,
                    help="seed of the ct_seed fixture (default 0), or the base of --ct-vary-seed")
    group.addoption("--ct-vary-seed", type=int, default=0, metavar="N",
                    help="rerun tests that use ct_seed under N fresh seeds and report the "
                         "observed false-fail rate against the nominal one")
    group.addoption("--ct-budget", type=float, default=0.01,
                    help="session-wide false-fail budget split over tests using "
                         "ct_false_fail_rate (default 0.01)")


def pytest_configure(config):
    runs = config.getoption("--ct-vary-seed")
    budget = config.getoption("--ct-budget")
    if runs < 0:
        raise pytest.UsageError(f"--ct-vary-seed must be >= 0, got {runs}")
    if not 0 < budget < 1:
        raise pytest.UsageError(f"--ct-budget must be in (0, 1), got {budget}")
    base = config.getoption("--ct-seed")
    worker = getattr(config, "workerinput", None)
    if worker is not None and "ct_seed_base" in worker:
        base = worker["ct_seed_base"]  # pytest-xdist: every worker collects the same seeds
    elif base is None:
        base = secrets.randbits(32) if runs else 0
    if not 0 <= base < 2 ** 32:
        raise pytest.UsageError(f"--ct-seed must be in [0, 2**32 - 1], got {base}")
    config._ct = _Session(base, runs, budget)  # noqa: SLF001 (pytest's own idiom)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), "collapse_theory-xdist")


class _Session:
    """Options and the per-test tallies of one pytest session."""

    def __init__(self, base: int, runs: int, budget: float):
        self.base, self.runs, self.budget = base, runs, budget
        self.share = budget

    def seeds(self) -> list[int]:
        if not self.runs:
            return [self.base]
        import numpy as np  # only with --ct-vary-seed

        state = np.random.SeedSequence(self.base).generate_state(self.runs)
        return [int(s) for s in state]


class _XdistHooks:
    """Hand the master's seed base to every worker (registered only with pytest-xdist)."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        node.workerinput["ct_seed_base"] = node.config._ct.base  # noqa: SLF001


def pytest_report_header(config):
    s = config._ct  # noqa: SLF001
    if s.runs:
        return (f"collapse_theory: --ct-vary-seed {s.runs} from --ct-seed {s.base} "
                f"(rerun with --ct-seed {s.base})")
    return None


def pytest_generate_tests(metafunc):
    s = metafunc.config._ct  # noqa: SLF001
    if s.runs and "ct_seed" in metafunc.fixturenames:
        metafunc.parametrize("ct_seed", s.seeds(), ids=[f"seed{i}" for i in range(s.runs)])


def pytest_collection_finish(session):
    s = session.config._ct  # noqa: SLF001
    users = sum("ct_false_fail_rate" in getattr(item, "fixturenames", ())
                for item in session.items)  # after -k/-m deselection
    per_seed = users // s.runs if s.runs else users
    s.share = s.budget / max(per_seed, 1)


@pytest.fixture
def ct_seed(request):
    """The seed of a statistical test (``--ct-seed``; one of ``--ct-vary-seed``'s seeds)."""
    return getattr(request, "param", request.config._ct.base)  # noqa: SLF001


@pytest.fixture
def ct_false_fail_rate(request):
    """This test's share of the session's false-fail budget (``--ct-budget``)."""
    return request.config._ct.share  # noqa: SLF001


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Total the rates the test's calibrated assertions spent; enforce its budget share.  Only
    when the test's module has imported the assertions (nothing to count otherwise)."""
    assertions = sys.modules.get(_ASSERTIONS)
    if assertions is None:
        return (yield)
    with assertions.spending() as ledger:
        try:
            result = yield
        except assertions.StatisticalAssertionError:
            item.user_properties.append((_STAT_FAIL, True))
            raise
        finally:
            item.user_properties.append((_NOMINAL, float(sum(ledger))))
    spent, share = float(sum(ledger)), item.config._ct.share  # noqa: SLF001
    if "ct_false_fail_rate" in item.fixturenames and spent > share * (1 + 1e-9):
        raise AssertionError(f"the test spent a false-fail rate of {spent:.3g} in calibrated "
                             f"assertions, more than its share {share:.3g} of --ct-budget")
    return result


#: Per test (seed removed from the node id): [runs, statistical failures, other failures,
#: nominal rate].  Filled from the call reports, which pytest-xdist sends to the master.
_TALLY: dict[str, list] = {}
_SEED_ID = re.compile(r"(?<=[\[-])seed\d+(-|(?=\]))")


def pytest_runtest_logreport(report):
    props = dict(report.user_properties)
    if report.when != "call" or _NOMINAL not in props or not _SEED_ID.search(report.nodeid):
        return
    name = _SEED_ID.sub("", report.nodeid).replace("[]", "").replace("-]", "]")
    t = _TALLY.setdefault(name, [0, 0, 0, 0.0])
    t[0] += 1
    t[1] += bool(props.get(_STAT_FAIL))
    t[2] += bool(report.failed and not props.get(_STAT_FAIL))
    t[3] = max(t[3], props[_NOMINAL])


def pytest_terminal_summary(terminalreporter, config):
    if not config._ct.runs or not _TALLY:  # noqa: SLF001
        return
    tr = terminalreporter
    tr.section("collapse_theory: observed false-fail rates (--ct-vary-seed)")
    for name, (runs, stat, other, nominal) in sorted(_TALLY.items()):
        lo, hi = _clopper_pearson(stat, runs)
        verdict = "consistent" if lo <= nominal else "ABOVE nominal"
        extra = f", {other} other failures" if other else ""
        tr.write_line(f"{name}: {stat}/{runs} statistical failures = {stat / runs:.3g} "
                      f"(95% CI [{lo:.3g}, {hi:.3g}]) vs nominal <= {nominal:.3g}: "
                      f"{verdict}{extra}")


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy import stats  # only for the --ct-vary-seed report

    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi

"""Choosing new sites: MCLP (greedy and exact), LSCP and p-median on a coverage matrix.

Every solver keeps the existing facilities as *required* sites, named by their ids, and
returns a :class:`SitingResult`.  Exact models are solved by HiGHS (``highspy``) under a
time limit; when the limit stops it, the best solution found is returned with its gap.

Modules
-------
result
    :class:`SitingResult`, :func:`covered_population` and the problem preparation
    shared by the solvers.
greedy
    :func:`mclp_greedy` and the greedy orderings of chosen sites.
exact
    :func:`mclp_exact` and :func:`lscp`, the HiGHS models.
pmedian
    :func:`p_median`.
curve
    :func:`coverage_curve` and :func:`fragility`.

Every public name is importable from here (``coverage.siting.mclp_exact``).
"""

from __future__ import annotations

from coverage.siting.curve import coverage_curve, fragility
from coverage.siting.exact import lscp, mclp_exact
from coverage.siting.greedy import mclp_greedy
from coverage.siting.pmedian import p_median
from coverage.siting.result import SitingResult, covered_population

__all__ = [
    "SitingResult",
    "coverage_curve",
    "covered_population",
    "fragility",
    "lscp",
    "mclp_exact",
    "mclp_greedy",
    "p_median",
]

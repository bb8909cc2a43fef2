"""Choosing new sites: MCLP (greedy and exact), LSCP and p-median on a coverage matrix.

Every solver keeps the existing facilities as *required* sites, named by their ids, and
returns a :class:`SitingResult` with its certificate: exact models are solved by HiGHS
(``highspy``) under a time limit, their objective is recomputed from the chosen sites, and
an answer is ``"optimal"`` only when it meets the bound proved; otherwise ``"feasible"``,
with its gap.

Modules
-------
result
    :class:`SitingResult`, :func:`covered_population` and the problem preparation
    shared by the solvers.
greedy
    :func:`mclp_greedy` and the greedy orderings of chosen sites.
local
    :func:`mclp_local_search`: the greedy answer improved by exchanges of one site.
lagrange
    The Lagrangian bound of the MCLP, and the candidates it rules out.
exact
    :func:`mclp_exact` (exchanges, Lagrangian bound, then HiGHS on what is left) and
    :func:`lscp`, the HiGHS models.
lexicographic
    :func:`most_then_fewest` (the most people with at most k sites, then the fewest sites
    that cover as many) and :func:`fewest_sites`.
pmedian
    :func:`p_median`.
curve
    :func:`coverage_curve` and :func:`fragility`.
budget
    :func:`mclp_budget` (the most people within a budget, HiGHS, certified),
    :func:`mclp_budget_greedy` (gain per euro, or the best single site), :func:`budget_curve`
    and :func:`candidate_costs`.

Every public name is importable from here (``coverage.siting.mclp_exact``).
"""

from __future__ import annotations

from coverage.siting.budget import BudgetResult, budget_curve, candidate_costs, mclp_budget, mclp_budget_greedy
from coverage.siting.curve import coverage_curve, fragility
from coverage.siting.exact import lscp, mclp_exact
from coverage.siting.greedy import mclp_greedy
from coverage.siting.lexicographic import fewest_sites, most_then_fewest
from coverage.siting.local import mclp_local_search
from coverage.siting.pmedian import p_median
from coverage.siting.result import SitingResult, covered_population

__all__ = [
    "BudgetResult",
    "SitingResult",
    "budget_curve",
    "candidate_costs",
    "coverage_curve",
    "covered_population",
    "fewest_sites",
    "fragility",
    "lscp",
    "mclp_budget",
    "mclp_budget_greedy",
    "mclp_exact",
    "mclp_greedy",
    "mclp_local_search",
    "most_then_fewest",
    "p_median",
]

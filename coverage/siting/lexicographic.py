"""The planner's question in two steps: the most people with at most k new sites, then the
fewest sites that cover as many.

"Complete the mesh to 125 structures" allows 40 new sites; when 21 already bring everyone
within 20 minutes, the answer a council can defend is 21, not the 26 or 27 some maximal
cover happens to use.  :func:`fewest_sites` solves the second step alone (the fewest new
sites that keep a given population within the threshold: a set-covering model with a
coverage target), and :func:`most_then_fewest` chains it after :func:`~coverage.siting.mclp_exact`.
Both carry the certificate of :mod:`coverage.siting.exact`: objectives recomputed from the
chosen sites, ``"optimal"`` only against a proven bound.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.siting.exact import _certify, _coverage_model, _solve_binary_program, mclp_exact
from coverage.siting.greedy import _greedy_order, _order_by_gain
from coverage.siting.result import SitingResult, _prepare

__all__ = ["fewest_sites", "most_then_fewest"]

logger = logging.getLogger("coverage.siting")


def fewest_sites(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    population_target: float,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    start_sites: Sequence[str] | None = None,
    time_limit_s: float = 60.0,
) -> SitingResult:
    """The fewest new sites that keep at least ``population_target`` people within
    ``threshold_min``, the ``required`` sites kept open.

    minimise ``sum_j x_j`` subject to ``y_i <= sum_j a_ij x_j``, ``sum_i w_i y_i >=
    target`` (less those the required sites cover), ``x`` binary, ``0 <= y <= 1``.
    ``start_sites`` (a feasible answer, e.g. an MCLP's) is the starting solution, else
    the greedy order cut where it reaches the target.  The result's ``objective_value``
    and ``bound`` count sites; its status is ``"optimal"`` only when the count meets the
    proven bound.  A target beyond everyone the sites can reach is ``"infeasible"``: no
    sites, and ``uncoverable`` lists the units no site reaches within the threshold.
    """
    start = time.perf_counter()
    problem = _prepare(matrix, population, threshold_min, required, candidates)
    weights = problem.weights
    before = float(weights[problem.covered0].sum())
    tolerance = 1e-9 * max(1.0, abs(population_target))
    need = population_target - before
    reachable = np.bincount(problem.cover.indices, minlength=len(weights)) > 0
    open_units = np.flatnonzero(~problem.covered0 & reachable)
    ceiling = before + float(weights[open_units].sum())
    if population_target > ceiling + tolerance:
        beyond = ~problem.covered0 & ~reachable
        logger.warning(
            "no set of candidates brings %s people within %g min: %s at most; %d units (%s people) "
            "are beyond every site, e.g. %s",
            f"{population_target:,.0f}",
            threshold_min,
            f"{ceiling:,.0f}",
            int(beyond.sum()),
            f"{weights[beyond].sum():,.0f}",
            ", ".join(map(str, matrix.unit_ids[beyond][:10])),
        )
        return SitingResult(
            solver="fewest-sites",
            threshold_min=float(threshold_min),
            required=problem.required_ids,
            sites=(),
            marginal=(),
            population_total=float(weights.sum()),
            population_covered_before=before,
            population_covered_after=before,
            objective_value=math.nan,
            bound=None,
            gap=None,
            status="infeasible",
            seconds=time.perf_counter() - start,
            uncoverable=tuple(str(u) for u in matrix.unit_ids[beyond]),
            solver_status=f"not run: {ceiling:,.0f} people at most can be within {threshold_min:g} min",
        )
    index = {str(c): j for j, c in enumerate(problem.candidate_ids)}
    if start_sites is not None:
        chosen = [index[str(s)] for s in start_sites]
    else:
        order, gains = _greedy_order(problem, len(problem.candidate_ids))
        reach = before + np.cumsum(gains)
        chosen = list(order[: int(np.searchsorted(reach, population_target - tolerance)) + 1])
    if sum(_order_by_gain(problem, chosen)[1]) < need - tolerance:
        raise InputDataError("the starting sites do not reach the population target")
    bound, solver_status = 0.0, "not needed: the required sites reach the target"
    if need <= tolerance:
        chosen = []  # no new site is needed (the greedy cut keeps at least one)
    else:
        model = _coverage_model(problem, open_units)
        picked, dual, solver_status = _solve_binary_program(  # last row: sum_g w_g y_g >= need
            n_x=model.n_x,
            n_y=model.n_y,
            cost=np.concatenate([np.ones(model.n_x), np.zeros(model.n_y)]),
            a=model.rows(sp.csr_array((1, model.n_x)), sp.csr_array(model.group_weight.reshape(1, -1))),
            row_lower=np.concatenate([np.full(model.n_y, -np.inf), [need - tolerance]]),
            row_upper=np.concatenate([np.zeros(model.n_y), [np.inf]]),
            maximize=False,
            start=model.start(chosen),
            time_limit_s=time_limit_s,
            mip_rel_gap=0.0,
            integral_y=True,  # see _solve_binary_program: continuous y gave a false proof here
        )
        solved = list(model.useful[picked])
        if 0 < len(solved) < len(chosen) and sum(_order_by_gain(problem, solved)[1]) >= need - tolerance:
            chosen = solved
        bound = math.ceil(dual - 1e-6) if math.isfinite(dual) else 1.0
    order, marginal = _order_by_gain(problem, chosen)  # also drops a site that adds nobody
    n = len(order)
    bound, status = _certify(float(n), bound, min(1.0, float(n)), maximize=False)
    return SitingResult(
        solver="fewest-sites",
        threshold_min=float(threshold_min),
        required=problem.required_ids,
        sites=tuple(str(s) for s in problem.candidate_ids[order]),
        marginal=tuple(marginal),
        population_total=float(weights.sum()),
        population_covered_before=before,
        population_covered_after=before + sum(marginal),
        objective_value=float(n),
        bound=float(bound),
        gap=max(0.0, (n - bound) / n) if n else 0.0,
        status=status,
        seconds=time.perf_counter() - start,
        solver_status=solver_status,
    )


def most_then_fewest(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    k: int,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    time_limit_s: float = 60.0,
) -> SitingResult:
    """The most people within ``threshold_min`` with at most ``k`` new sites, then the
    fewest new sites that cover as many (the planner's order of questions).

    The result is an exact MCLP answer (``solver`` ``"mclp-exact"``): among the answers
    that cover the most people, one with the fewest sites.  It carries the first step's
    coverage bound (``bound``, ``gap``) and the second step's bound on the number of sites
    (``sites_bound``); it is ``"optimal"`` only when both are met.
    """
    start = time.perf_counter()
    most = mclp_exact(
        matrix, population, threshold_min, k, required=required, candidates=candidates, time_limit_s=time_limit_s
    )
    if not most.sites:
        return replace(most, solver="mclp-exact", sites_bound=0.0)
    fewest = fewest_sites(
        matrix,
        population,
        threshold_min,
        most.population_covered_after,
        required=required,
        candidates=candidates,
        start_sites=most.sites,
        time_limit_s=time_limit_s,
    )
    # The coverage is the first step's (the second keeps at least as many people; it cannot
    # pass a valid bound), proven when the first step was; the count is the second step's.
    covered = fewest.population_covered_after
    bound = most.bound if most.bound is not None else covered
    proven = most.status == "optimal" and fewest.status == "optimal"
    return replace(
        fewest,
        solver="mclp-exact",
        objective_value=covered,
        bound=bound,
        gap=max(0.0, (bound - covered) / bound) if bound > 0 else 0.0,
        status="optimal" if proven else "feasible",
        seconds=time.perf_counter() - start,
        sites_requested=k,
        sites_bound=fewest.bound,
        solver_status=f"{most.solver_status}; then {fewest.solver_status}",
    )

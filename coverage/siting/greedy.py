"""Greedy maximal covering (MCLP), and the greedy orderings the other solvers share.

:func:`mclp_greedy` adds, k times, the site that covers most people not yet covered,
with lazy evaluation of the marginal gains (CELF).  The same greedy orders the sites an
exact solver chose, and gives the starting solutions of the exact models
(:mod:`coverage.siting.exact`).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from coverage.matrix import CoverageMatrix
from coverage.siting.result import SitingResult, _check_k, _prepare, _Problem, _row_units

__all__ = ["mclp_greedy"]

# One logger for the whole package, named as before the split into modules.
logger = logging.getLogger("coverage.siting")


def _greedy_order(problem: _Problem, k: int) -> tuple[list[int], list[float]]:
    """Lazy greedy (CELF): marginal gains only ever fall, so a stale gain that still
    tops the heap after being refreshed is the true best."""
    cover, w = problem.cover, problem.weights
    covered = problem.covered0.copy()
    free = np.where(covered, 0.0, w)
    gains = np.asarray(cover.astype(float) @ free).ravel()
    heap = [(-g, j) for j, g in enumerate(gains) if g > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    marginal: list[float] = []
    while heap and len(chosen) < k:
        _, j = heapq.heappop(heap)
        units = _row_units(cover, j)
        gain = float(w[units[~covered[units]]].sum())
        if heap and gain < -heap[0][0] - 1e-9:
            if gain > 0:
                heapq.heappush(heap, (-gain, j))
            continue
        if gain <= 0:
            continue  # this one adds no one now; a waiting one within 1e-9 of it still may
        chosen.append(j)
        marginal.append(gain)
        covered[units] = True
    return chosen, marginal


def _nothing_to_gain(problem: _Problem, threshold_min: float) -> None:
    logger.warning(
        "no candidate site reaches an inhabitant who is not already within %g min of a kept site; "
        "nothing to choose (raise the threshold or add candidates)",
        threshold_min,
    )


def mclp_greedy(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    k: int,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
) -> SitingResult:
    """Greedy maximal covering: add, k times, the site that covers most people not yet covered.

    Uses lazy evaluation of marginal gains: a refreshed gain no more than 1e-9 below the
    best one waiting is taken (float noise reorders nothing), and of equal gains the
    candidate listed first.  Stops early when no site adds anyone.  Within ``1 - 1/e`` of
    the optimum; compare with :func:`mclp_exact`.
    """
    start = time.perf_counter()
    problem = _prepare(matrix, population, threshold_min, required, candidates)
    _check_k(k, len(problem.candidate_ids))
    chosen, marginal = _greedy_order(problem, k)
    if 0 < len(chosen) < k:
        # debug: the plan's summary says it once ("21 new sites are enough; 40 were allowed")
        logger.debug("only %d of %d new sites add anyone within %g min", len(chosen), k, threshold_min)
    return _mclp_result(problem, "mclp-greedy", threshold_min, k, chosen, marginal, None, "heuristic", start)


def _mclp_result(
    problem: _Problem,
    solver: str,
    threshold_min: float,
    k: int,
    order: Sequence[int],
    marginal: Sequence[float],
    bound: float | None,
    status: str,
    start: float,
    *,
    solver_status: str = "none: greedy",
) -> SitingResult:
    """Result of an MCLP solver from the chosen sites in order and their gains."""
    before = float(problem.weights[problem.covered0].sum())
    after = before + sum(marginal)
    gap = None if bound is None else (max(0.0, (bound - after) / bound) if bound > 0 else 0.0)
    if k > 0 and not order:
        _nothing_to_gain(problem, threshold_min)
        status = "nothing to gain"
    return SitingResult(
        solver=solver,
        threshold_min=float(threshold_min),
        required=problem.required_ids,
        sites=tuple(str(s) for s in problem.candidate_ids[list(order)]),
        marginal=tuple(marginal),
        population_total=float(problem.weights.sum()),
        population_covered_before=before,
        population_covered_after=after,
        objective_value=after,
        bound=bound,
        gap=gap,
        status=status,
        seconds=time.perf_counter() - start,
        sites_requested=k,
        solver_status=solver_status,
    )


def _order_by_gain(problem: _Problem, chosen: Sequence[int]) -> tuple[list[int], list[float]]:
    """Chosen sites ordered greedily among themselves, with their marginal gains; sites
    that add nobody once the others are open are dropped (a solver may return them)."""
    sub = _Problem(
        cover=problem.cover[np.asarray(chosen, dtype=np.int64)],
        weights=problem.weights,
        covered0=problem.covered0,
        candidate_ids=problem.candidate_ids[np.asarray(chosen, dtype=np.int64)],
        required_ids=problem.required_ids,
    )
    order, marginal = _greedy_order(sub, len(chosen))
    return [chosen[i] for i in order], marginal


def _population_gains(problem: _Problem, order: Sequence[int]) -> list[float]:
    """Population newly covered by each site when opened in the given order."""
    covered = problem.covered0.copy()
    gains = []
    for j in order:
        units = _row_units(problem.cover, j)
        gains.append(float(problem.weights[units[~covered[units]]].sum()))
        covered[units] = True
    return gains

"""Local search for the maximal covering problem: vertex substitution with incremental gains.

Starting from a set of k sites (the greedy's), :func:`_improve_cover` replaces one chosen
site by one candidate whenever that covers more people, taking the best exchange at each
step, until none improves (a 1-swap local optimum, the *vertex substitution* of Teitz and
Bart).  The value of every exchange is read off three sparse products at once, in the way
Resende and Werneck made the p-median's interchange fast: with ``c_i`` the number of
chosen sites that reach unit ``i``,

- ``gain_j``: the people that candidate ``j`` reaches and no chosen site does (``c_i = 0``);
- ``loss_r``: the people that only chosen site ``r`` reaches (``c_i = 1``);
- ``extra_rj``: of those, the people ``j`` reaches too,

and exchanging ``r`` for ``j`` changes the coverage by ``gain_j - loss_r + extra_rj``.  A
step costs a few passes over the coverage matrix, not one evaluation per pair.

:func:`mclp_local_search` is the public solver (greedy, then this search); the exact solver
(:func:`~coverage.siting.exact.mclp_exact`) starts from the same answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.siting.greedy import _greedy_order, _mclp_result, _order_by_gain
from coverage.siting.result import SitingResult, _check_k, _prepare, _Problem

__all__ = ["mclp_local_search"]


def _improve_cover(
    problem: _Problem, chosen: Sequence[int], k: int, *, max_seconds: float = 60.0
) -> tuple[list[int], int, bool]:
    """Best-improvement exchanges (and additions while fewer than k sites) from ``chosen``.

    Returns the improved sites, the number of moves made, and whether they are a local
    optimum (False when ``max_seconds`` ran out first; each move only ever improves).
    """
    cover = sp.csr_array(problem.cover, dtype=float)
    cover_t = sp.csr_array(cover.T)
    free = np.where(problem.covered0, 0.0, problem.weights)
    sites = [int(j) for j in chosen]
    tolerance = 1e-9 * max(1.0, float(free.sum()))
    deadline = time.perf_counter() + max_seconds
    moves = 0
    while True:
        if time.perf_counter() > deadline:
            return sites, moves, False
        is_chosen = np.zeros(cover.shape[0], dtype=bool)
        is_chosen[sites] = True
        count = cover_t @ is_chosen.astype(float)
        gain = cover @ np.where(count == 0, free, 0.0)
        gain[is_chosen] = -np.inf
        if len(sites) < k:  # a free slot: the best addition, if it adds anyone
            j = int(np.argmax(gain))
            if gain[j] <= tolerance:
                return sites, moves, True
            sites.append(j)
            moves += 1
            continue
        if not sites:
            return sites, moves, True
        chosen_rows = cover[sites]
        only = np.where(count == 1, free, 0.0)
        loss = chosen_rows @ only
        extra = ((chosen_rows * only) @ cover_t).toarray()  # sites x candidates
        delta = gain[None, :] - loss[:, None] + extra
        best = np.unravel_index(int(np.argmax(delta)), delta.shape)
        r, j = int(best[0]), int(best[1])
        if delta[r, j] <= tolerance:
            return sites, moves, True
        sites[r] = int(j)
        moves += 1


def mclp_local_search(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    k: int,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    start_sites: Sequence[str] | None = None,
    max_seconds: float = 60.0,
) -> SitingResult:
    """Maximal covering by the greedy answer (or ``start_sites``) improved by exchanges.

    Each step makes the exchange of one chosen site for one candidate that covers the most
    people more, until no exchange covers more (a local optimum: no bound, status
    ``"heuristic"``) or ``max_seconds`` have passed (time runs out once the clock reads
    past the deadline).  An exchange, or an addition while fewer than k sites are chosen,
    is made only when it covers more than 1e-9 of the people the required sites leave out
    (and more than 1e-9 of a person), so float noise moves no site.  Never covers fewer
    people than its start.  See :func:`~coverage.siting.mclp_exact` for an answer with a proven gap.
    """
    start = time.perf_counter()
    problem = _prepare(matrix, population, threshold_min, required, candidates)
    _check_k(k, len(problem.candidate_ids))
    if start_sites is None:
        first, _ = _greedy_order(problem, k)
    else:
        position = {str(s): i for i, s in enumerate(problem.candidate_ids)}
        unknown = [str(s) for s in start_sites if str(s) not in position]
        if unknown or len(start_sites) > k:
            raise InputDataError(
                f"start_sites must be at most {k} of the candidate sites; not candidates: {unknown[:10]}"
            )
        first = [position[str(s)] for s in start_sites]
    improved, moves, local_optimum = _improve_cover(problem, first, k, max_seconds=max_seconds)
    reached = "a 1-swap local optimum" if local_optimum else f"the time limit of {max_seconds:g} s"
    begun = "greedy" if start_sites is None else "the start sites"

    order, marginal = _order_by_gain(problem, improved)
    return _mclp_result(
        problem,
        "mclp-swap",
        threshold_min,
        k,
        order,
        marginal,
        None,
        "heuristic",
        start,
        solver_status=f"none: {begun}, then {moves} moves to {reached}",
    )

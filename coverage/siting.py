"""Choosing new sites: MCLP (greedy and exact), LSCP and p-median on a coverage matrix.

Every solver keeps the existing facilities as *required* sites, named by their ids, and
returns a :class:`SitingResult`.  Exact models are solved by HiGHS (``highspy``) under a
time limit; when the limit stops it, the best solution found is returned with its gap.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, aligned_values

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

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SitingResult:
    """The sites a solver chose and what they achieve.

    Attributes
    ----------
    solver
        ``"mclp-greedy"``, ``"mclp-exact"``, ``"lscp-greedy"``, ``"lscp-exact"``,
        ``"pmedian-greedy"``.
    threshold_min
        The coverage threshold (None for p-median).
    required
        Ids of the sites kept open (the existing facilities).
    sites
        Ids of the new sites, in the order chosen (greedy) or by decreasing marginal
        gain (exact).
    marginal
        Gain of each new site when added in that order: population newly covered
        (MCLP, LSCP) or person-minutes saved (p-median).
    population_total
        Population of every unit in the matrix.
    population_covered_before, population_covered_after
        Population within the threshold of a required site, and of a required or new
        site (p-median: within the matrix's largest threshold).
    objective_value
        The solver's objective: population covered (MCLP), number of new sites
        (LSCP), population-weighted mean minutes (p-median).
    bound
        Best bound on the objective proven by the exact solver (None for heuristics).
    gap
        Relative gap between ``objective_value`` and ``bound`` (0: proven optimal;
        None: not known, as for heuristics).
    status
        ``"optimal"``, ``"time limit"``, ``"heuristic"``, or ``"nothing to gain"``.
    seconds
        Time taken by the solver.
    uncoverable
        Units that no site reaches within the threshold (LSCP), reported, not made
        infeasible.
    sites_requested
        The k asked for (None for LSCP).  Fewer sites are returned when the others
        would add nobody.
    """

    solver: str
    threshold_min: float | None
    required: tuple[str, ...]
    sites: tuple[str, ...]
    marginal: tuple[float, ...]
    population_total: float
    population_covered_before: float
    population_covered_after: float
    objective_value: float
    bound: float | None
    gap: float | None
    status: str
    seconds: float
    uncoverable: tuple[str, ...] = field(default=())
    sites_requested: int | None = None

    @property
    def population_newly_covered(self) -> float:
        return self.population_covered_after - self.population_covered_before

    @property
    def share_covered_before(self) -> float:
        return self.population_covered_before / self.population_total if self.population_total else math.nan

    @property
    def share_covered_after(self) -> float:
        return self.population_covered_after / self.population_total if self.population_total else math.nan

    def table(self) -> pd.DataFrame:
        """One row per new site: rank, id, marginal gain, cumulative population covered."""
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(self.sites) + 1),
                "site_id": list(self.sites),
                "marginal_gain": list(self.marginal),
                "solver": self.solver,
            }
        )


# ---------------------------------------------------------------- problem preparation


@dataclass(frozen=True)
class _Problem:
    cover: sp.csr_array  # candidates x units, bool, at the threshold
    weights: np.ndarray  # population per unit
    covered0: np.ndarray  # bool per unit: covered by a required site
    candidate_ids: np.ndarray
    required_ids: tuple[str, ...]


def _population(matrix: CoverageMatrix, population: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    return aligned_values(population, matrix.unit_ids, "population")


def _split_sites(
    matrix: CoverageMatrix, required: Sequence[str], candidates: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    required = [str(r) for r in required]
    req_rows = matrix.rows(required) if required else np.empty(0, dtype=np.int64)
    if candidates is None:
        cand_rows = np.setdiff1d(np.arange(len(matrix.site_ids)), req_rows)
    else:
        cand_rows = np.setdiff1d(matrix.rows([str(c) for c in candidates]), req_rows)
    if len(cand_rows) == 0:
        raise InputDataError("the candidate list is empty: there is no site to choose from")
    return req_rows, cand_rows


def _prepare(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    required: Sequence[str],
    candidates: Sequence[str] | None,
) -> _Problem:
    weights = _population(matrix, population)
    req_rows, cand_rows = _split_sites(matrix, required, candidates)
    cover_all = matrix.covers(threshold_min)
    covered0 = np.zeros(len(weights), dtype=bool)
    if len(req_rows):
        covered0[cover_all[req_rows].indices] = True
    return _Problem(
        cover=cover_all[cand_rows],
        weights=weights,
        covered0=covered0,
        candidate_ids=matrix.site_ids[cand_rows],
        required_ids=tuple(str(r) for r in required),
    )


def _row_units(cover: sp.csr_array, j: int) -> np.ndarray:
    return cover.indices[cover.indptr[j] : cover.indptr[j + 1]]


def _check_k(k: int, n_candidates: int) -> None:
    if k < 0:
        raise InputDataError(f"the number of new sites must be >= 0, got {k}")
    if k > n_candidates:
        raise InputDataError(
            f"{k} new sites requested but there are only {n_candidates} candidates; "
            "add candidates or ask for fewer sites"
        )


def covered_population(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    site_ids: Sequence[str],
) -> float:
    """Population within ``threshold_min`` of at least one of ``site_ids``."""
    weights = _population(matrix, population)
    if not len(site_ids):
        return 0.0
    rows = matrix.covers(threshold_min)[matrix.rows([str(s) for s in site_ids])]
    covered = np.zeros(len(weights), dtype=bool)
    covered[rows.indices] = True
    return float(weights[covered].sum())


# ---------------------------------------------------------------- MCLP


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
            break
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

    Uses lazy evaluation of marginal gains.  Stops early when no site adds anyone.
    Within ``1 - 1/e`` of the optimum; compare with :func:`mclp_exact`.
    """
    start = time.perf_counter()
    problem = _prepare(matrix, population, threshold_min, required, candidates)
    _check_k(k, len(problem.candidate_ids))
    chosen, marginal = _greedy_order(problem, k)
    if 0 < len(chosen) < k:
        logger.info("only %d of %d new sites add anyone within %g min", len(chosen), k, threshold_min)
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
    )


def _column_groups(cover: sp.csr_array, units: np.ndarray) -> tuple[sp.csc_array, np.ndarray]:
    """Units with the same set of covering candidates merged into one column.

    Returns the CSC ``candidates x groups`` and the group of each unit in ``units``.
    """
    sub = sp.csc_array(cover[:, units])
    keys: dict[bytes, int] = {}
    group = np.empty(len(units), dtype=np.int64)
    for c in range(len(units)):
        rows = sub.indices[sub.indptr[c] : sub.indptr[c + 1]]
        group[c] = keys.setdefault(np.sort(rows).tobytes(), len(keys))
    first = np.unique(group, return_index=True)[1]
    return sp.csc_array(sub[:, first]), group


def _highs(time_limit_s: float, mip_rel_gap: float) -> object:
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    return h


def _solve_binary_program(
    *,
    n_x: int,
    n_y: int,
    cost: np.ndarray,
    a: sp.csc_array,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    maximize: bool,
    start_x: np.ndarray | None,
    time_limit_s: float,
    mip_rel_gap: float,
) -> tuple[np.ndarray, float, float, str]:
    """Solve a model with binary x (first n_x columns) and y in [0, 1]; return x, value,
    bound, status."""
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_ = n_x + n_y
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_x + n_y)
    lp.col_upper_ = np.ones(n_x + n_y)
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_x + [highspy.HighsVarType.kContinuous] * n_y
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    h = _highs(time_limit_s, mip_rel_gap)
    h.passModel(lp)  # type: ignore[attr-defined]
    if start_x is not None:
        solution = highspy.HighsSolution()
        solution.col_value = list(start_x.astype(float)) + [0.0] * n_y
        h.setSolution(solution)  # type: ignore[attr-defined]
    h.run()  # type: ignore[attr-defined]
    status = h.getModelStatus()  # type: ignore[attr-defined]
    info = h.getInfo()  # type: ignore[attr-defined]
    values = np.asarray(h.getSolution().col_value)  # type: ignore[attr-defined]
    if status == highspy.HighsModelStatus.kOptimal:
        label = "optimal"
    elif status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt):
        label = "time limit"
    else:
        raise InputDataError(f"the solver stopped with status {h.modelStatusToString(status)}")  # type: ignore[attr-defined]
    if len(values) < n_x:  # no solution at all within the limit
        return np.zeros(n_x, dtype=bool), math.nan, float(info.mip_dual_bound), label
    return values[:n_x] > 0.5, float(info.objective_function_value), float(info.mip_dual_bound), label


def mclp_exact(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    k: int,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
) -> SitingResult:
    """Maximal covering location problem solved exactly (MILP, HiGHS).

    maximise ``sum_i w_i y_i`` subject to ``y_i <= sum_j a_ij x_j``, ``sum_j x_j <= k``,
    ``x`` binary, ``0 <= y <= 1``; units already covered by a required site, and units
    no candidate reaches, are constants and left out of the model; units reached by the
    same candidates are merged.  The greedy answer is the starting solution, so a time
    limit always returns at least that, with its gap to HiGHS's bound.
    """
    start = time.perf_counter()
    problem = _prepare(matrix, population, threshold_min, required, candidates)
    _check_k(k, len(problem.candidate_ids))
    before = float(problem.weights[problem.covered0].sum())
    greedy, _ = _greedy_order(problem, k)
    open_units = np.flatnonzero(
        ~problem.covered0 & (np.bincount(problem.cover.indices, minlength=len(problem.weights)) > 0)
    )
    status, bound = "optimal", before
    chosen: list[int] = list(greedy)
    if k > 0 and len(open_units) and greedy:
        groups, group_of = _column_groups(problem.cover, open_units)
        group_weight = np.bincount(group_of, weights=problem.weights[open_units])
        useful = np.flatnonzero(np.diff(sp.csr_array(groups).indptr) > 0)
        n_x, n_y = len(useful), groups.shape[1]
        if k >= n_x:
            chosen = list(useful)
        else:
            a_xy = sp.csc_array(groups[useful].astype(float)).T  # groups x useful candidates
            # rows: y_g - sum_j a_gj x_j <= 0 ; sum_j x_j <= k
            a = sp.vstack(
                [
                    sp.hstack([-a_xy, sp.identity(n_y, format="csr")]),
                    sp.hstack([sp.csr_array(np.ones((1, n_x))), sp.csr_array((1, n_y))]),
                ]
            ).tocsc()
            start_x = np.isin(useful, greedy)
            picked, _, dual, status = _solve_binary_program(
                n_x=n_x,
                n_y=n_y,
                cost=np.concatenate([np.zeros(n_x), group_weight]),
                a=a,
                row_lower=np.full(n_y + 1, -np.inf),
                row_upper=np.concatenate([np.zeros(n_y), [k]]),
                maximize=True,
                start_x=start_x,
                time_limit_s=time_limit_s,
                mip_rel_gap=mip_rel_gap,
            )
            chosen = list(useful[picked]) if picked.any() else list(greedy)
            # HiGHS may stop before it has a bound; everyone a candidate reaches is one.
            ceiling = before + float(problem.weights[open_units].sum())
            bound = min(before + dual, ceiling) if math.isfinite(dual) else ceiling
    order, marginal = _order_by_gain(problem, chosen)
    if status == "optimal":
        bound = before + sum(marginal)
    return _mclp_result(problem, "mclp-exact", threshold_min, k, order, marginal, bound, status, start)


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


# ---------------------------------------------------------------- LSCP


def lscp(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    exact: bool = True,
    time_limit_s: float = 60.0,
) -> SitingResult:
    """Fewest new sites so that every reachable inhabitant is within ``threshold_min``.

    Units that no site (required or candidate) reaches within the threshold are listed
    in ``uncoverable`` and left out, so the problem stays feasible.  ``exact`` solves the
    set-covering MILP with HiGHS, started from the greedy cover; otherwise the greedy
    cover is returned.
    """
    start = time.perf_counter()
    problem = _prepare(matrix, population, threshold_min, required, candidates)
    reachable = np.bincount(problem.cover.indices, minlength=len(problem.weights)) > 0
    uncoverable = ~problem.covered0 & ~reachable
    if uncoverable.any():
        logger.warning(
            "%d units (%.0f inhabitants) are beyond %g min of every site and cannot be covered: %s",
            int(uncoverable.sum()),
            problem.weights[uncoverable].sum(),
            threshold_min,
            ", ".join(map(str, matrix.unit_ids[uncoverable][:20])),
        )
    # Greedy set cover: weights of 1 per unit, so every open unit counts.
    unit_problem = _Problem(
        problem.cover,
        (~problem.covered0 & reachable).astype(float),
        problem.covered0,
        problem.candidate_ids,
        problem.required_ids,
    )
    greedy, _ = _greedy_order(unit_problem, len(problem.candidate_ids))
    chosen, status, bound = list(greedy), "heuristic", None
    open_units = np.flatnonzero(~problem.covered0 & reachable)
    if exact and len(open_units):
        groups, _ = _column_groups(problem.cover, open_units)
        n_x = groups.shape[0]
        picked, _, dual, status = _solve_binary_program(
            n_x=n_x,
            n_y=0,
            cost=np.ones(n_x),
            a=sp.csc_array(sp.csr_array(groups).T),
            row_lower=np.ones(groups.shape[1]),
            row_upper=np.full(groups.shape[1], np.inf),
            maximize=False,
            start_x=np.isin(np.arange(n_x), greedy),
            time_limit_s=time_limit_s,
            mip_rel_gap=0.0,
        )
        if picked.any():
            chosen = list(np.flatnonzero(picked))
        bound = math.ceil(dual - 1e-9) if math.isfinite(dual) else None
    elif exact:
        status, bound = "optimal", 0
    # Order (and drop useless sites) by units covered: a site may be needed only for
    # units of no population, which still must be covered; report population gains.
    order, _ = _order_by_gain(unit_problem, chosen)
    marginal = _population_gains(problem, order)
    before = float(problem.weights[problem.covered0].sum())
    after = before + sum(marginal)
    n = len(order)
    gap = None if bound is None else (max(0.0, (n - bound) / n) if n else 0.0)
    return SitingResult(
        solver="lscp-exact" if exact else "lscp-greedy",
        threshold_min=float(threshold_min),
        required=problem.required_ids,
        sites=tuple(str(s) for s in problem.candidate_ids[order]),
        marginal=tuple(marginal),
        population_total=float(problem.weights.sum()),
        population_covered_before=before,
        population_covered_after=after,
        objective_value=float(n),
        bound=float(bound) if bound is not None else None,
        gap=gap,
        status=status,
        seconds=time.perf_counter() - start,
        uncoverable=tuple(str(u) for u in matrix.unit_ids[uncoverable]),
    )


# ---------------------------------------------------------------- p-median


def p_median(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    current_minutes: Sequence[float] | np.ndarray | pd.Series,
    k: int,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    swap_passes: int = 2,
) -> SitingResult:
    """The k new sites that minimise the population-weighted mean minutes to the nearest site.

    ``current_minutes`` is each unit's time to its nearest existing facility (NaN where
    unreachable; those units are left out of the mean).  A new site serves a unit when it
    is nearer than that; pairs beyond the matrix's ``max_minutes`` are never nearer
    (so choose ``max_minutes`` above the times that matter).  Greedy on the savings
    (lazy: savings are submodular), then up to ``swap_passes`` passes of 1-swap
    improvement.
    """
    start = time.perf_counter()
    weights = _population(matrix, population)
    base = aligned_values(current_minutes, matrix.unit_ids, "current_minutes", allow_missing=True).copy()
    req_rows, cand_rows = _split_sites(matrix, required, candidates)
    minutes = matrix.minutes
    # Required sites can only lower the current times (they are the existing facilities).
    for r in req_rows:
        units = minutes.indices[minutes.indptr[r] : minutes.indptr[r + 1]]
        vals = minutes.data[minutes.indptr[r] : minutes.indptr[r + 1]]
        base[units] = np.fmin(base[units], vals)
    reach = ~np.isnan(base)
    w = np.where(reach, weights, 0.0)
    cand = sp.csr_array(minutes[cand_rows])
    _check_k(k, len(cand_rows))

    def total(current: np.ndarray) -> float:
        return float((w[reach] * current[reach]).sum())

    def savings(j: int, current: np.ndarray) -> float:
        units = cand.indices[cand.indptr[j] : cand.indptr[j + 1]]
        vals = cand.data[cand.indptr[j] : cand.indptr[j + 1]]
        return float((w[units] * np.maximum(0.0, np.nan_to_num(current[units], nan=0.0) - vals)).sum())

    def apply(sites: Sequence[int]) -> np.ndarray:
        current = base.copy()
        for j in sites:
            units = cand.indices[cand.indptr[j] : cand.indptr[j + 1]]
            vals = cand.data[cand.indptr[j] : cand.indptr[j + 1]]
            current[units] = np.fmin(current[units], vals)
        return current

    current = base.copy()
    heap = [(-savings(j, current), j) for j in range(len(cand_rows))]
    heap = [h for h in heap if h[0] < 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < k:
        _, j = heapq.heappop(heap)
        gain = savings(j, current)
        if heap and gain < -heap[0][0] - 1e-9:
            if gain > 0:
                heapq.heappush(heap, (-gain, j))
            continue
        if gain <= 0:
            break
        chosen.append(j)
        current = np.fmin(current, apply([j]))
    best = total(apply(chosen))
    # 1-swap: replace a chosen site by a candidate when that lowers the total.
    for _ in range(swap_passes):
        improved = False
        for pos in range(len(chosen)):
            others = chosen[:pos] + chosen[pos + 1 :]
            current_without = apply(others)
            options = [(savings(j, current_without), j) for j in range(len(cand_rows)) if j not in chosen]
            if not options:
                break
            gain, j = max(options)
            candidate_total = total(current_without) - gain
            if candidate_total < best - 1e-9:
                chosen[pos], best, improved = j, candidate_total, True
        if not improved:
            break
    # marginal savings in greedy order among the chosen
    ordered: list[int] = []
    marginal: list[float] = []
    current = base.copy()
    remaining = list(chosen)
    while remaining:
        gains = [savings(j, current) for j in remaining]
        i = int(np.argmax(gains))
        ordered.append(remaining.pop(i))
        marginal.append(gains[i])
        current = np.fmin(current, apply([ordered[-1]]))
    pop = float(w[reach].sum())
    max_t = matrix.max_minutes
    return SitingResult(
        solver="pmedian-greedy",
        threshold_min=None,
        required=tuple(str(r) for r in required),
        sites=tuple(str(s) for s in matrix.site_ids[cand_rows][ordered]),
        marginal=tuple(marginal),
        population_total=float(weights.sum()),
        population_covered_before=float(weights[reach & (base <= max_t)].sum()),
        population_covered_after=float(weights[reach & (current <= max_t)].sum()),
        objective_value=best / pop if pop else math.nan,
        bound=None,
        gap=None,
        status="heuristic",
        seconds=time.perf_counter() - start,
        sites_requested=k,
    )


# ---------------------------------------------------------------- curves and fragility


def coverage_curve(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    k_max: int,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    exact: bool = True,
    time_limit_s: float = 30.0,
) -> pd.DataFrame:
    """Population covered against the number of new sites, k = 0..k_max.

    Greedy values come from one greedy run (its prefixes); exact values from one MILP
    per k (each under ``time_limit_s``), with their gaps.
    """
    weights = _population(matrix, population)
    k_max = min(k_max, len(_split_sites(matrix, required, candidates)[1]))
    greedy = mclp_greedy(matrix, weights, threshold_min, k_max, required=required, candidates=candidates)
    total = float(weights.sum())
    covered = np.concatenate(
        [[greedy.population_covered_before], greedy.population_covered_before + np.cumsum(greedy.marginal)]
    )
    rows = []
    for k in range(k_max + 1):
        g = covered[min(k, len(covered) - 1)]
        row: dict[str, object] = {
            "k": k,
            "population_covered_greedy": g,
            "share_greedy": g / total if total else math.nan,
        }
        if exact:
            e = mclp_exact(
                matrix, weights, threshold_min, k, required=required, candidates=candidates, time_limit_s=time_limit_s
            )
            row.update(
                {
                    "population_covered_exact": e.population_covered_after,
                    "share_exact": e.share_covered_after,
                    "gap_exact": e.gap,
                    "status_exact": e.status,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def fragility(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    facility_ids: Sequence[str],
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """For each facility, the population that falls beyond each threshold if it closes.

    That is the population within the threshold of this facility and of no other.

    Returns
    -------
    pandas.DataFrame
        ``facility_id`` and, per threshold ``T``, ``population_lost_T``, sorted by the
        loss at the largest threshold, largest first.
    """
    weights = _population(matrix, population)
    ids = [str(f) for f in facility_ids]
    rows = matrix.rows(ids)
    table = pd.DataFrame({"facility_id": ids})
    for t in sorted(thresholds_min):
        cover = matrix.covers(t)[rows]
        count = np.bincount(cover.indices, minlength=len(weights))
        alone = count == 1
        lost = [float(weights[_row_units(cover, i)][alone[_row_units(cover, i)]].sum()) for i in range(len(ids))]
        table[f"population_lost_{t:g}"] = lost
    last = f"population_lost_{max(thresholds_min):g}"
    return table.sort_values(last, ascending=False, kind="stable").reset_index(drop=True)

"""Exact siting models solved by HiGHS (``highspy``): maximal covering (MCLP) and set covering (LSCP).

The MCLP is solved in four steps (:func:`_solve_mclp`): the greedy answer improved by
exchanges (:mod:`coverage.siting.local`); a Lagrangian bound in seconds, whose relaxed
answers are improved the same way (:mod:`coverage.siting.lagrange`); the candidates that
bound rules out are removed; then HiGHS solves what is left for the time remaining,
started from the best answer, passed whole (sites and coverage).  The LSCP goes to HiGHS
from the greedy cover.  Units covered by the same candidates are merged into one column
(the model pieces are in :mod:`coverage.siting.model`).

The solver's word is never taken: the objective is recomputed from the chosen sites on
the coverage matrix, the answer is never worse than the heuristic ones, and the status is
``"optimal"`` only when that recomputed objective meets the best proven bound (to a
relative 1e-9); otherwise ``"feasible"``, with the gap to that bound.  HiGHS's own status
is kept in ``SitingResult.solver_status``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.matrix import CoverageMatrix
from coverage.siting.greedy import _greedy_order, _mclp_result, _order_by_gain, _population_gains
from coverage.siting.lagrange import _lagrangian_bound, _set_cover_bound
from coverage.siting.local import _improve_cover
from coverage.siting.model import (
    _column_groups,
    _coverage_model,
    _CoverageModel,
    _dominated,
    _reduced_model,
)
from coverage.siting.result import SitingResult, _check_k, _prepare, _Problem

__all__ = ["lscp", "mclp_exact"]

# One logger for the whole package, named as before the split into modules.
logger = logging.getLogger("coverage.siting")


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
    start: np.ndarray | None,
    time_limit_s: float,
    mip_rel_gap: float,
    integral_y: bool = False,
    x_lower: np.ndarray | None = None,
    mip_lp_solver: str = "ipm",
) -> tuple[np.ndarray, float, str]:
    """Solve a model with binary x (first n_x columns) and y in [0, 1].

    ``start`` is a complete feasible solution (x and y): HiGHS values a start whose y are
    left at 0 at 0, and helps nothing with it.  With a start, presolve is off: HiGHS 1.16
    with presolve on has handed back the start itself, labelled optimal, on set-covering
    models (25 sites where 21 suffice on the regional data).  Returns the x HiGHS holds
    (all False if it has none), its dual bound (NaN if it has none) and HiGHS's own
    status; the caller recomputes the objective and decides what is proven.  Any other
    end than optimal or a limit (a solver error) returns no sites and no bound.
    ``integral_y`` makes y binary too: with a coverage target as a constraint (weights up
    to 10^5 in one row), HiGHS 1.16 proved 61 sites "optimal" with continuous y on the
    regional data where 59 suffice (CBC: 59); with binary y it finds 59.
    """
    import highspy

    shapes = {
        "cost": len(cost),
        "a's columns": a.shape[1],
        **({} if start is None else {"start": len(start)}),
        **({} if x_lower is None else {"x_lower": len(x_lower) + n_y}),
    }
    if set(shapes.values()) != {n_x + n_y} or not len(row_lower) == len(row_upper) == a.shape[0]:
        # HiGHS reads as many values as it has columns and rows and ignores the rest
        raise ValueError(
            f"model of {n_x} + {n_y} columns and {a.shape[0]} rows given {shapes}, "
            f"{len(row_lower)} row lower and {len(row_upper)} row upper bounds"
        )
    lp = highspy.HighsLp()
    lp.num_col_ = n_x + n_y
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = np.concatenate([np.zeros(n_x) if x_lower is None else x_lower, np.zeros(n_y)])
    lp.col_upper_ = np.ones(n_x + n_y)
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data.astype(float)
    y_type = highspy.HighsVarType.kInteger if integral_y else highspy.HighsVarType.kContinuous
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_x + [y_type] * n_y
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    h = _highs(time_limit_s, mip_rel_gap)
    if start is not None:
        h.setOptionValue("presolve", "off")  # type: ignore[attr-defined]
        # Measured: the root LP by interior point halved the gap reached in 60 s on a
        # 2,000 x 20,000 instance (dual simplex had not finished it); same times on the region.
        h.setOptionValue("mip_lp_solver", mip_lp_solver)  # type: ignore[attr-defined]
    h.passModel(lp)  # type: ignore[attr-defined]
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = list(np.asarray(start, dtype=float))
        h.setSolution(solution)  # type: ignore[attr-defined]
    h.run()  # type: ignore[attr-defined]
    status = h.getModelStatus()  # type: ignore[attr-defined]
    solver_status = f"HiGHS: {h.modelStatusToString(status)}"  # type: ignore[attr-defined]
    stopped = (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt)
    if status != highspy.HighsModelStatus.kOptimal and status not in stopped:
        # a failure of the solver is not a failure of the answer: the caller keeps its own
        logger.warning("HiGHS stopped with status %s; the heuristic answer is kept", solver_status)
        return np.zeros(n_x, dtype=bool), math.nan, solver_status
    info = h.getInfo()  # type: ignore[attr-defined]
    values = np.asarray(h.getSolution().col_value)  # type: ignore[attr-defined]
    dual = float(info.mip_dual_bound)
    if len(values) < n_x:  # no solution at all within the limit
        return np.zeros(n_x, dtype=bool), dual, solver_status
    return values[:n_x] > 0.5, dual, solver_status


def _certify(objective: float, bound: float, trivial: float, *, maximize: bool) -> tuple[float, str]:
    """The bound to report and our status, from the recomputed objective.

    ``"optimal"`` when the objective meets the bound, to a relative 1e-9 (a float sum of
    populations is not exact), and the bound reported is then the objective itself.
    A solver's bound on the wrong side of an answer known to
    be feasible is false: it is replaced by ``trivial``, the bound that needs no solver
    (everyone a candidate reaches; one site), which may still prove the answer.
    """
    tolerance = 1e-9 * max(1.0, abs(objective))
    if (bound < objective - tolerance) if maximize else (bound > objective + tolerance):
        logger.warning("the solver's bound %g contradicts the answer found (%g): not trusted", bound, objective)
        bound = trivial
    met = objective >= bound - tolerance if maximize else objective <= bound + tolerance
    # met within the tolerance: the bound is the objective (no gap of 1e-16 to report)
    return (objective, "optimal") if met else (bound, "feasible")


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
    """Maximal covering location problem solved exactly (MILP, HiGHS), with a proven gap.

    maximise ``sum_i w_i y_i`` subject to ``y_i <= sum_j a_ij x_j``, ``sum_j x_j <= k``,
    ``x`` binary, ``0 <= y <= 1``; units already covered by a required site, and units
    no candidate reaches, are constants and left out of the model; units reached by the
    same candidates are merged.  Before HiGHS, the greedy answer is improved by exchanges,
    a Lagrangian bound is computed (which may already prove the answer optimal) and the
    candidates it rules out are removed.  Under the time limit the answer is never worse
    than the greedy and exchange answers, and its gap is measured against the Lagrangian
    bound at least.  ``time_limit_s`` bounds the whole call (to a fraction of a second).
    """
    start = time.perf_counter()
    setup = _mclp_setup(matrix, population, threshold_min, required, candidates, k)
    return _mclp_solve(setup, k, deadline=start + time_limit_s, mip_rel_gap=mip_rel_gap, start=start)


@dataclass(frozen=True)
class _MclpSetup:
    """What the MCLP solves for every k share: the problem, the model of the units left to
    cover, the greedy order (its first k sites are the greedy answer with k)."""

    problem: _Problem
    threshold_min: float
    before: float  # people covered by the required sites
    ceiling: float  # everyone a site reaches: a bound that needs no solver
    model: _CoverageModel | None  # None when no one is left to cover
    greedy: list[int]


def _mclp_setup(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    required: Sequence[str],
    candidates: Sequence[str] | None,
    k_max: int,
) -> _MclpSetup:
    """The shared part of the MCLP with up to ``k_max`` new sites."""
    problem = _prepare(matrix, population, threshold_min, required, candidates)
    _check_k(k_max, len(problem.candidate_ids))
    before = float(problem.weights[problem.covered0].sum())
    greedy, _ = _greedy_order(problem, k_max)
    open_units = np.flatnonzero(
        ~problem.covered0 & (np.bincount(problem.cover.indices, minlength=len(problem.weights)) > 0)
    )
    ceiling = before + float(problem.weights[open_units].sum())
    model = _coverage_model(problem, open_units) if len(open_units) else None
    return _MclpSetup(problem, float(threshold_min), before, ceiling, model, greedy)


def _mclp_solve(
    setup: _MclpSetup,
    k: int,
    *,
    deadline: float,
    mip_rel_gap: float = 0.0,
    start: float | None = None,
    milp: bool = True,
) -> SitingResult:
    """The MCLP with at most ``k`` new sites (``k`` at most the setup's), until ``deadline``;
    without ``milp``, the exchanges and the Lagrangian bound only (no HiGHS)."""
    start = time.perf_counter() if start is None else start
    problem, model, before, ceiling = setup.problem, setup.model, setup.before, setup.ceiling
    greedy = setup.greedy[:k]
    bound, solver_status = before, "not needed: no one left to cover"
    chosen: list[int] = list(greedy)
    if k > 0 and model is not None and greedy:
        if k >= model.n_x:
            chosen, bound, solver_status = list(model.useful), ceiling, "not needed: every useful candidate fits"
        else:
            chosen, bound, solver_status = _solve_mclp(problem, model, k, greedy, deadline, mip_rel_gap, milp=milp)
            bound = min(before + bound, ceiling)
    order, marginal = _order_by_gain(problem, chosen)
    bound, status = _certify(before + sum(marginal), bound, ceiling, maximize=True)
    return _mclp_result(
        problem,
        "mclp-exact",
        setup.threshold_min,
        k,
        order,
        marginal,
        bound,
        status,
        start,
        solver_status=solver_status,
    )


def _covered(problem: _Problem, sites: Sequence[int]) -> float:
    """People newly covered by ``sites`` (beyond the required sites)."""
    covered = problem.covered0.copy()
    covered[problem.cover[np.asarray(sites, dtype=np.int64)].indices] = True
    return float(problem.weights[covered & ~problem.covered0].sum())


def _solve_mclp(
    problem: _Problem,
    model: _CoverageModel,
    k: int,
    greedy: list[int],
    deadline: float,
    mip_rel_gap: float,
    *,
    milp: bool = True,
) -> tuple[list[int], float, str]:
    """The best sites found and a proven bound on the people newly covered, in four steps.

    1. The greedy answer improved by exchanges (:mod:`coverage.siting.local`).
    2. The Lagrangian bound (:mod:`coverage.siting.lagrange`); its relaxed answers that
       covered most are improved by exchanges too, and the best answer is kept.
    3. If the bound is met, done.  Else the candidates Lagrangian fixing excludes are
       removed (and those it forces are fixed), and
    4. HiGHS solves what is left for the time remaining, started from the best answer
       (not without ``milp``: the Lagrangian bound is then the bound).
    """
    seconds_left = deadline - time.perf_counter()
    best, _, _ = _improve_cover(problem, greedy, k, max_seconds=max(0.1, 0.1 * seconds_left))
    value = _covered(problem, best)
    # the Lagrangian works on the model's groups: candidates are the model's columns
    column = {int(j): c for c, j in enumerate(model.useful)}
    everyone = float(model.group_weight.sum())
    if value >= everyone - 1e-9 * max(1.0, everyone):
        return best, everyone, "not needed: everyone a candidate reaches is covered"
    relaxed = _lagrangian_bound(
        sp.csr_array(model.a_xy),
        model.group_weight,
        k,
        value,
        max_seconds=max(0.1, 0.25 * (deadline - time.perf_counter())),
    )
    # exchanges from the relaxed answers that covered most (each may lead elsewhere)
    until = time.perf_counter() + 0.25 * max(0.0, deadline - time.perf_counter())
    for sites in relaxed.starts:
        if time.perf_counter() > until:
            break
        other, _, _ = _improve_cover(problem, list(model.useful[sites]), k, max_seconds=until - time.perf_counter())
        if _covered(problem, other) > value:
            best, value = other, _covered(problem, other)
    bound = relaxed.bound
    status = f"Lagrangian bound after {relaxed.iterations} subgradient steps"
    if value >= bound - 1e-9 * max(1.0, bound):
        return best, bound, status + " met"
    if not milp:
        return best, bound, status + "; HiGHS not run"
    out, forced, rest = relaxed.fixing(k, value)
    in_best = np.zeros(model.n_x, dtype=bool)
    in_best[[column[j] for j in best if j in column]] = True
    out &= ~in_best  # never exclude the incumbent's own sites (float rounding)
    forced &= in_best
    dominated = _dominated(model.a_xy, in_best) & ~out
    keep = np.flatnonzero(~out & ~dominated)
    reduced = _reduced_model(model, keep)
    lower = forced[keep].astype(float)
    picked, dual, solver_status = _solve_binary_program(  # last row: sum_j x_j <= k
        n_x=reduced.n_x,
        n_y=reduced.n_y,
        cost=np.concatenate([np.zeros(reduced.n_x), reduced.group_weight]),
        a=reduced.rows(sp.csr_array(np.ones((1, reduced.n_x))), sp.csr_array((1, reduced.n_y))),
        row_lower=np.full(reduced.n_y + 1, -np.inf),
        row_upper=np.concatenate([np.zeros(reduced.n_y), [k]]),
        maximize=True,
        start=reduced.start(best),
        time_limit_s=max(0.05, deadline - time.perf_counter()),
        mip_rel_gap=mip_rel_gap,
        x_lower=lower,
    )
    if 0 < picked.sum() <= k:  # the solver's sites, kept only if they do better
        solved = list(reduced.useful[picked])
        if _covered(problem, solved) > value:
            best = solved
    fixed = ""
    if out.any() or forced.any():
        fixed = f"; {int(out.sum())} candidates excluded and {int(forced.sum())} fixed by it"
    if dominated.any():
        fixed += f"; {int(dominated.sum())} dominated candidates left out"
    if math.isfinite(dual):
        bound = min(bound, max(dual, rest))
    return best, bound, f"{status}{fixed}; {solver_status}"


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
    chosen: list[int] = list(greedy)
    bound: float | None = None
    solver_status = "none: greedy cover"
    open_units = np.flatnonzero(~problem.covered0 & reachable)
    if exact and len(open_units):
        groups, _ = _column_groups(problem.cover, open_units)
        n_x = groups.shape[0]
        rows = sp.csc_array(sp.csr_array(groups).T)  # unit groups x candidates
        # a bound in seconds, whatever HiGHS manages in the time left
        early = _set_cover_bound(
            sp.csr_array(rows), len(chosen), max_seconds=max(0.1, 0.1 * time_limit_s), max_iterations=300
        )
        bound, solver_status = early, "Lagrangian bound met"
    if exact and len(open_units) and bound is not None and bound < len(chosen):
        picked, dual, solver_status = _solve_binary_program(
            n_x=n_x,
            n_y=0,
            cost=np.ones(n_x),
            a=rows,
            row_lower=np.ones(groups.shape[1]),
            row_upper=np.full(groups.shape[1], np.inf),
            maximize=False,
            start=np.isin(np.arange(n_x), greedy).astype(float),
            time_limit_s=time_limit_s,
            mip_rel_gap=0.0,
        )
        # the solver's sites, kept only if they cover every unit and are fewer than the greedy's
        if picked.any() and (rows @ picked.astype(float) >= 1).all() and picked.sum() < len(chosen):
            chosen = list(np.flatnonzero(picked))
        solver_status = f"Lagrangian bound {bound:g}; {solver_status}"
        bound = max(bound, math.ceil(dual - 1e-6) if math.isfinite(dual) else 1.0)
    if exact and not len(open_units):
        bound, solver_status = 0.0, "not needed: no one left to cover"
    # Order (and drop useless sites) by units covered: a site may be needed only for
    # units of no population, which still must be covered; report population gains.
    order, _ = _order_by_gain(unit_problem, chosen)
    marginal = _population_gains(problem, order)
    before = float(problem.weights[problem.covered0].sum())
    after = before + sum(marginal)
    n = len(order)
    gap, status = None, "heuristic"
    if bound is not None:
        bound, status = _certify(float(n), bound, min(1.0, float(n)), maximize=False)
        gap = max(0.0, (n - bound) / n) if n else 0.0
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
        solver_status=solver_status,
    )

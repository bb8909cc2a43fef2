"""Siting within a budget: the most people covered for at most a given sum of site costs.

:func:`candidate_costs` reads each candidate's cost (a column, or a cost per kind of site);
:func:`mclp_budget` solves the MCLP with a knapsack row (``sum_j c_j x_j <= budget``) in
place of the number of sites, by HiGHS started from :func:`mclp_budget_greedy` (people per
euro, against the best single site that fits); :func:`budget_curve` gives coverage against
the budget.  Existing (required) sites stay open at no cost.  Costs and budgets are counted
in whole cents (costs rounded to the nearest cent, a budget down to a cent): sums of costs
are exact integers, so no float tolerance enters the budget test and a spent cost is never
above the budget.  The certificate is that of :mod:`coverage.siting.exact`: people
recomputed from the chosen sites, never worse than the heuristic answer, ``"optimal"`` only
when that value meets the proven bound (to a relative 1e-9), else ``"feasible"`` with its
gap; HiGHS's sites are kept only if their cost, summed here, is within the budget.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.siting.curve import _agreeing, _with_exact_columns
from coverage.siting.exact import _certify, _covered, _solve_binary_program
from coverage.siting.greedy import _mclp_result, _order_by_gain, _population_gains
from coverage.siting.model import DOMINANCE_MAX_CANDIDATES, _coverage_model, _CoverageModel, _reduced_model
from coverage.siting.result import SitingResult, _population, _prepare, _Problem

__all__ = ["BudgetResult", "budget_curve", "candidate_costs", "mclp_budget", "mclp_budget_greedy"]

logger = logging.getLogger("coverage.siting")

#: Costs and budgets are counted in these units (cents), as exact integers.
CENTS_PER_EURO = 100
#: Above this cost (euros) a value is not the cost of a site (a unit error?); it also
#: keeps sums of costs in cents far within 64-bit integers.
MAX_COST_EUR = 1e12
#: Two gains (or gains per euro) within this relative difference are a tie.
_TIE = 1e-9


def _euros(values: pd.Series, what: str, ids: pd.Series) -> np.ndarray:
    """Finite non-negative numbers of euros, or one error naming ``what`` and the first ids."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    flags = values.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers > MAX_COST_EUR) | flags
    if bad.any():
        shown = ", ".join(f"{i} ({v!r})" for i, v in zip(ids[bad][:5], values[bad][:5], strict=True))
        raise InputDataError(
            f"{what} must hold a cost in euros from 0 to 10^12 (a plain number, e.g. 1500000) for every "
            f"candidate; {int(bad.sum())} do not: {shown}"
        )
    return numbers


def candidate_costs(
    candidates: pd.DataFrame,
    *,
    cost_column: str | None = None,
    kind_costs: Mapping[str, float] | None = None,
    kind_column: str = "kind",
    id_column: str = "candidate_id",
) -> pd.Series:
    """The cost of each candidate site, in euros.

    Parameters
    ----------
    candidates
        The candidate table (e.g. the candidate file as read).
    cost_column
        A column holding each site's cost in euros.
    kind_costs
        Or a cost per kind of site, read from ``kind_column``: e.g. ``{"new": 1_500_000,
        "extension": 400_000, "premises": 150_000}`` (the planner's names).  Every kind in
        the file must be priced (compared as text, outer spaces removed); others are ignored.
    kind_column, id_column
        The columns of the kind and of the candidate id.

    Returns
    -------
    pandas.Series
        ``cost_eur`` (float) indexed by candidate id (text).  A cost of 0 is allowed: a
        free site (premises lent by a commune), which every answer opens if it adds anyone.

    Raises
    ------
    InputDataError
        Neither or both ways given; a missing column; duplicate ids; a cost empty, not a
        number, infinite, negative, above 10^12 or true/false (the column and the first
        candidates named); a kind empty or not priced (named).
    """
    if (cost_column is None) == (kind_costs is None):
        raise InputDataError("give the candidates' costs as a cost column or as a cost per kind (one of the two)")
    for column in (id_column, cost_column if cost_column is not None else kind_column):
        if column not in candidates.columns:
            shown = ", ".join(map(str, candidates.columns[:15]))
            raise InputDataError(f"the candidate table has no column {column!r} (its columns: {shown})")
    ids = candidates[id_column].astype(str).reset_index(drop=True)
    if ids.duplicated().any():
        raise InputDataError(f"duplicate candidate ids in {id_column!r}: {ids[ids.duplicated()].unique()[:5].tolist()}")
    if cost_column is not None:
        values = _euros(candidates[cost_column].reset_index(drop=True), f"the cost column {cost_column!r}", ids)
    else:
        keys = pd.Series(list(kind_costs or {}), dtype=str)
        prices = _euros(pd.Series(list((kind_costs or {}).values()), dtype=object), "the cost per kind", keys)
        price = {k: v for k, v in zip(keys.str.strip(), prices, strict=True) if k}
        kinds = candidates[kind_column].reset_index(drop=True).astype("string").str.strip().fillna("")
        unknown = sorted(set(kinds) - set(price))  # an empty kind is '' (never priced: it names nothing)
        if unknown:
            raise InputDataError(
                f"the kind column {kind_column!r} holds kinds with no cost: {unknown[:10]} (candidates "
                f"{ids[kinds.isin(unknown).to_numpy()][:5].tolist()}); the costs given are for {sorted(price)}"
            )
        values = kinds.map(price).to_numpy(dtype=float)
    return pd.Series(values, index=pd.Index(ids, name=id_column), name="cost_eur", dtype=float)


def _aligned_cents(costs: pd.Series | Mapping[str, float], ids: np.ndarray) -> np.ndarray:
    """Each candidate's cost in whole cents (int64), from a Series or mapping by id."""
    series = pd.Series(costs, dtype=object) if not isinstance(costs, pd.Series) else costs
    series = series.set_axis(series.index.astype(str))
    if series.index.duplicated().any():
        raise InputDataError(f"the costs list candidates twice: {series.index[series.index.duplicated()][:5].tolist()}")
    missing = [str(i) for i in ids if i not in series.index]
    if missing:
        raise InputDataError(f"the costs have no value for {len(missing)} candidates: {missing[:10]}")
    euros = _euros(series.reindex(ids).reset_index(drop=True), "the candidate costs", pd.Series(ids))
    return np.round(euros * CENTS_PER_EURO).astype(np.int64)


def _budget_cents(budget: float) -> int:
    """The budget in whole cents, rounded down: ``n / 100`` as a float is never above ``budget``
    (``n / 100 <= budget`` as decimals, and rounding to a float keeps the order)."""
    value = float(budget)
    if not math.isfinite(value) or value < 0:
        raise InputDataError(f"the budget must be a finite number of euros >= 0, got {budget!r}")
    # the budget as written (0.29 * 100 is 28.999…), and beyond every sum of costs, all of them
    return min(math.floor(Decimal(repr(value)) * CENTS_PER_EURO), 2**62)


@dataclass(frozen=True)
class BudgetResult:
    """The sites chosen within a budget, and what they cost.

    Attributes
    ----------
    selection
        The sites and their certificate (:class:`~coverage.siting.result.SitingResult`;
        solver ``"mclp-budget-exact"`` or ``"mclp-budget-greedy"``, no ``sites_requested``).
    budget, spent
        The budget (rounded down to a cent) and the sum of the chosen sites' costs (never
        above it), in euros.
    site_costs
        The cost of each site of ``selection.sites``, in the same order.
    heuristic, heuristic_covered
        The heuristic answer (for the exact solver: HiGHS's start), ``"gain per euro"`` or
        ``"best single site"`` (:func:`mclp_budget_greedy`), and the people it covers.
    """

    selection: SitingResult
    budget: float
    spent: float
    site_costs: tuple[float, ...]
    heuristic: str
    heuristic_covered: float

    @property
    def budget_left(self) -> float:
        """What remains of the budget."""
        return self.budget - self.spent

    def table(self) -> pd.DataFrame:
        """One row per new site: rank, id, cost, marginal gain, cumulative cost and people covered."""
        table = self.selection.table()  # rank, site_id, marginal_gain, solver
        table.insert(2, "cost_eur", np.asarray(self.site_costs, dtype=float))
        table["cumulative_cost_eur"] = table["cost_eur"].cumsum()
        table["population_covered"] = self.selection.population_covered_before + table["marginal_gain"].cumsum()
        return table


@dataclass(frozen=True)
class _BudgetSetup:
    """What every budget shares: the problem (candidates sorted by id: their order in the
    matrix changes nothing), the costs in cents, the model of the units left."""

    problem: _Problem
    cents: np.ndarray
    threshold_min: float
    before: float
    model: _CoverageModel | None
    cover: sp.csr_array  # candidates x units, float


def _budget_setup(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    costs: pd.Series | Mapping[str, float],
    required: Sequence[str],
    candidates: Sequence[str] | None,
) -> _BudgetSetup:
    problem = _prepare(matrix, population, threshold_min, required, candidates)
    order = np.argsort(problem.candidate_ids.astype(str), kind="stable")
    problem = replace(problem, cover=sp.csr_array(problem.cover[order]), candidate_ids=problem.candidate_ids[order])
    cents = _aligned_cents(costs, problem.candidate_ids.astype(str))
    reached = np.bincount(problem.cover.indices, minlength=len(problem.weights)) > 0
    open_units = np.flatnonzero(~problem.covered0 & reached)
    model = _coverage_model(problem, open_units) if len(open_units) else None
    before = float(problem.weights[problem.covered0].sum())
    return _BudgetSetup(problem, cents, float(threshold_min), before, model, sp.csr_array(problem.cover, dtype=float))


def _first_best(values: np.ndarray, eligible: np.ndarray) -> int:
    """The first eligible position whose value is the largest, to a relative 1e-9 (-1: none)."""
    best = float(values[eligible].max()) if eligible.any() else math.nan
    return int(np.flatnonzero(eligible & (values >= best - _TIE * abs(best)))[0]) if eligible.any() else -1


def _free_then(setup: _BudgetSetup, budget_cents: int, *, by_ratio: bool) -> list[int]:
    """Free sites first (most people first), then either sites by people per euro while any
    fits (``by_ratio``) or the one paid site that adds most and fits."""
    problem, cents = setup.problem, setup.cents
    covered = problem.covered0.copy()
    chosen: list[int] = []
    taken = np.zeros(len(cents), dtype=bool)
    left, paid = budget_cents, False
    while True:
        gains = setup.cover @ np.where(covered, 0.0, problem.weights)
        eligible = ~taken & (gains > 0) & (cents <= left)
        free = eligible & (cents == 0)
        if free.any():
            j = _first_best(gains, free)
        elif by_ratio:  # every eligible site costs something here: free ones were all taken
            j = _first_best(gains / np.maximum(cents, 1), eligible)
        elif not paid:
            j, paid = _first_best(gains, eligible), True
        else:
            j = -1
        if j < 0:
            return chosen
        chosen.append(j)
        taken[j] = True
        left -= int(cents[j])
        covered[problem.cover.indices[problem.cover.indptr[j] : problem.cover.indptr[j + 1]]] = True


def _dominated(model: _CoverageModel, cents: np.ndarray, keep: list[int]) -> np.ndarray:
    """Candidates (columns) another one dominates: it reaches all their groups, for no more
    money (and, if alike in both, comes first).  Some answer as good does without them: put
    the other in their place.  The ``keep`` sites (the start) are never left out."""
    a, cost = sp.csc_array(model.a_xy, dtype=np.int64), cents[model.useful]
    if a.shape[1] > DOMINANCE_MAX_CANDIDATES:  # the product below grows as candidates squared
        return np.zeros(a.shape[1], dtype=bool)
    size, overlap = np.diff(a.indptr), sp.csr_array(a.T @ a)  # overlap[j, d]: groups both reach
    j = np.repeat(np.arange(a.shape[1]), np.diff(overlap.indptr))
    d = overlap.indices
    alike = (size[d] == size[j]) & (cost[d] == cost[j])
    by = (overlap.data == size[j]) & (d != j) & (cost[d] <= cost[j]) & (~alike | (d < j))
    out = np.zeros(a.shape[1], dtype=bool)
    out[j[by]] = True
    return out & ~np.isin(model.useful, keep)


def _solve_exact(
    setup: _BudgetSetup, budget_cents: int, best: list[int], deadline: float, mip_rel_gap: float
) -> tuple[list[int], float, float, str]:
    """The best sites found, a proven bound on the people newly covered, the bound that
    needs no solver (everyone a candidate within the budget reaches) and what was done."""
    problem, cents, model = setup.problem, setup.cents, setup.model
    fits = np.flatnonzero(cents[model.useful] <= budget_cents) if model is not None else np.empty(0, np.int64)
    if model is None or not len(fits):
        return best, 0.0, 0.0, "not needed: no candidate within the budget reaches anyone left"
    reduced = _reduced_model(model, fits)
    everyone = float(reduced.group_weight.sum())
    value = _covered(problem, best)
    if value >= everyone - _TIE * max(1.0, everyone):
        return best, everyone, everyone, "not needed: everyone a candidate within the budget reaches is covered"
    if int(cents[reduced.useful].sum()) <= budget_cents:
        return list(reduced.useful), everyone, everyone, "not needed: every useful candidate fits in the budget"
    # the knapsack row over the budget rounded down to a multiple of the costs' gcd (no answer
    # is lost): with costs in 50 k€ steps, 26.87 M€ is 26.85 M€, proven in about 10 s on the
    # regional data where 60 s did not suffice; > 0, as some useful candidate costs 0 < c <= budget
    step = int(np.gcd.reduce(cents[reduced.useful]))
    reduced = _reduced_model(reduced, np.flatnonzero(~_dominated(reduced, cents, best)))
    row = sp.csr_array(cents[reduced.useful].astype(float)[None, :] / (budget_cents // step * step))
    picked, dual, solver_status = _solve_binary_program(
        n_x=reduced.n_x,
        n_y=reduced.n_y,
        cost=np.concatenate([np.zeros(reduced.n_x), reduced.group_weight]),
        a=reduced.rows(row, sp.csr_array((1, reduced.n_y))),
        row_lower=np.full(reduced.n_y + 1, -np.inf),
        row_upper=np.concatenate([np.zeros(reduced.n_y), [1.0]]),
        maximize=True,
        start=reduced.start(best),
        time_limit_s=max(0.05, deadline - time.perf_counter()),
        mip_rel_gap=mip_rel_gap,
    )
    if picked.any():
        solved = [int(j) for j in reduced.useful[picked]]
        if int(cents[solved].sum()) > budget_cents:  # within HiGHS's tolerance, not within ours
            solver_status += "; its sites cost more than the budget and were not kept"
        elif _covered(problem, solved) > value:
            best = solved
    bound = min(everyone, dual) if math.isfinite(dual) else everyone
    return best, bound, everyone, solver_status


def _budget_result(
    setup: _BudgetSetup,
    solver: str,
    budget_cents: int,
    heuristic: tuple[list[int], str],
    start: float,
    *,
    exact: tuple[list[int], float, float, str] | None = None,
) -> BudgetResult:
    """The result from the sites chosen (``exact``: the sites, bound, trivial bound and solver
    status of :func:`_solve_exact`; else the heuristic's): people recomputed, then certified."""
    problem, before = setup.problem, setup.before
    chosen, bound, trivial, solver_status = exact or (heuristic[0], None, 0.0, "none: greedy")
    for j in sorted(chosen, key=lambda j: (-setup.cents[j], j)):  # sites that add nobody, dearest first
        if _covered(problem, [i for i in chosen if i != j]) == _covered(problem, chosen):
            chosen = [i for i in chosen if i != j]
    if bound is None:
        order, marginal = chosen, _population_gains(problem, chosen)
    else:
        order, marginal = _order_by_gain(problem, chosen)
    spent_cents = int(setup.cents[order].sum()) if order else 0
    if spent_cents > budget_cents:  # a bug, never an answer to report
        raise RuntimeError(f"the sites chosen cost {spent_cents / 100:.2f} €, above the budget")
    status = "heuristic"
    if bound is not None:
        bound, status = _certify(before + sum(marginal), before + bound, before + trivial, maximize=True)
    status = status if order else "nothing to gain"
    selection = _mclp_result(
        problem, solver, setup.threshold_min, 0, order, marginal, bound, status, start, solver_status=solver_status
    )
    return BudgetResult(
        selection=replace(selection, sites_requested=None),
        budget=budget_cents / CENTS_PER_EURO,
        spent=spent_cents / CENTS_PER_EURO,
        site_costs=tuple(float(c) / CENTS_PER_EURO for c in setup.cents[list(order)]),
        heuristic=heuristic[1],
        heuristic_covered=before + _covered(problem, heuristic[0]),
    )


def _answers(
    setup: _BudgetSetup, cents: int, start: float, limit: float | None, gap: float = 0.0, warn: bool = True
) -> tuple[BudgetResult, BudgetResult | None]:
    """The greedy answer within a budget of ``cents``, and with a time ``limit`` the exact one,
    until ``start + limit`` (``gap``: HiGHS's ``mip_rel_gap``); ``warn`` when no site is useful."""
    ratio, single = (_free_then(setup, cents, by_ratio=by) for by in (True, False))
    better = _covered(setup.problem, single) > _covered(setup.problem, ratio)  # a tie: the greedy's
    found = (single, "best single site") if better else (ratio, "gain per euro")
    greedy = _budget_result(setup, "mclp-budget-greedy", cents, found, start)
    if warn and not found[0]:
        logger.warning("no candidate within %.2f € adds anyone within %g min", cents / 100, setup.threshold_min)
    if limit is None:
        return greedy, None
    solved = _solve_exact(setup, cents, found[0], start + limit, gap)
    return greedy, _budget_result(setup, "mclp-budget-exact", cents, found, start, exact=solved)


# ----------------------------------------------------------------------------- solvers


def mclp_budget_greedy(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    costs: pd.Series | Mapping[str, float],
    budget: float,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
) -> BudgetResult:
    """The most people per euro: the greedy answer to the budgeted MCLP.

    Every free site (cost 0) that adds anyone, most people first; then, while one fits in
    what is left and adds anyone, the site adding most people per euro (one that no longer
    fits is passed over; a cheaper one may still be taken).  That answer is compared with
    the free sites plus the one paid site that adds most and fits, and the one covering
    more is returned (the greedy one on a tie); sites that add nobody once the others are
    open are then dropped, dearest first (from every answer here).  Alone, the greedy by ratio can be
    arbitrarily bad (a cheap site covering a few people per euro more than a dear one that
    covers everyone); with the comparison the answer newly covers at least (1 - 1/e)/2,
    about 0.32, of what the optimum does (Khuller, Moss and Naor, 1999; later analyses of
    this rule prove about 0.405).  Ties (to a relative 1e-9) go to the candidate whose id
    sorts first as text: the candidates' order in the matrix changes nothing.  ``costs``:
    euros by candidate id (:func:`candidate_costs`); required sites need none.
    """
    start = time.perf_counter()
    setup = _budget_setup(matrix, population, threshold_min, costs, required, candidates)
    return _answers(setup, _budget_cents(budget), start, None)[0]


def mclp_budget(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    costs: pd.Series | Mapping[str, float],
    budget: float,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
) -> BudgetResult:
    """The most people within ``threshold_min`` for at most ``budget`` euros of new sites.

    maximise ``sum_i w_i y_i`` subject to ``y_i <= sum_j a_ij x_j``, ``sum_j c_j x_j <=
    budget``, ``x`` binary, ``0 <= y <= 1``: the MCLP with a knapsack row in place of the
    number of sites.  The ``required`` (existing) sites stay open and cost nothing.  The
    model leaves out the units they cover, those no candidate reaches, the candidates above
    the budget and those another reaches beyond for no more money; it merges units reached
    alike and rounds the budget down to a multiple of the costs' gcd.  HiGHS solves it
    under ``time_limit_s`` from the :func:`mclp_budget_greedy` answer (sites and coverage);
    its sites are kept only if they cover more and cost, summed here in cents, no more than
    the budget.

    ``"optimal"`` only when the people covered, recomputed from the chosen sites, meet the
    proven bound (HiGHS's, else everyone a candidate within the budget reaches); else
    ``"feasible"`` with the gap.  Of answers covering as many, not always the cheapest.
    """
    start = time.perf_counter()
    setup = _budget_setup(matrix, population, threshold_min, costs, required, candidates)
    best = _answers(setup, _budget_cents(budget), start, time_limit_s, mip_rel_gap)[1]
    assert best is not None
    return best


def budget_curve(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    costs: pd.Series | Mapping[str, float],
    budgets: Sequence[float],
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    exact: bool = True,
    time_limit_s: float = 30.0,
) -> pd.DataFrame:
    """People covered against the budget: one row per budget, smallest first (duplicates once).

    ``budget_eur`` (rounded down to a cent); the :func:`mclp_budget_greedy` answer as found
    (not monotone: a larger budget may lead it astray): ``population_covered_greedy``,
    ``share_greedy``, ``spent_greedy``, ``sites_greedy``; with ``exact``, a
    :func:`mclp_budget` per budget (each under ``time_limit_s``, one model for all):
    ``population_covered_exact``, ``share_exact``, ``bound_exact``, ``gap_exact``,
    ``status_exact``, ``spent_exact``, ``sites_exact``, ``answer_budget_eur``.

    The exact values are made to agree across budgets, which only narrows the gaps: an
    answer within a budget is within any larger one, so the answer at a budget is the best
    found at it or below (exact or greedy), with that answer's spent cost and sites, and
    ``answer_budget_eur`` the budget whose solve found it; the most within a budget is at
    most the most within a larger one, so the bound is the smallest proven at it or above.
    ``status_exact`` is ``"optimal"`` only where the value meets that bound (to a relative
    1e-9); a bound below an answer found is not trusted: NaN.
    """
    weights = _population(matrix, population)
    steps = sorted({_budget_cents(b) for b in budgets})
    if not steps:
        raise InputDataError("no budget given for the budget curve")
    setup = _budget_setup(matrix, weights, threshold_min, costs, required, candidates)
    total = float(weights.sum())
    answers = [_answers(setup, b, time.perf_counter(), time_limit_s if exact else None, warn=False) for b in steps]
    table = pd.DataFrame({"budget_eur": [b / CENTS_PER_EURO for b in steps]})
    greedy = [g for g, _ in answers]
    table["population_covered_greedy"] = [g.selection.population_covered_after for g in greedy]
    table["share_greedy"] = table["population_covered_greedy"] / total if total else math.nan
    table["spent_greedy"] = [g.spent for g in greedy]
    table["sites_greedy"] = [len(g.selection.sites) for g in greedy]
    if not exact:
        return table
    exacts = [e for _, e in answers if e is not None]  # each never worse than the greedy at its budget
    best = np.array([e.selection.objective_value for e in exacts])
    carried = [exacts[int(np.flatnonzero(best[: i + 1] == np.max(best[: i + 1]))[-1])] for i in range(len(best))]
    bounds = [e.selection.bound if e.selection.bound is not None else math.inf for e in exacts]
    value, bound, met = _agreeing([a.selection.objective_value for a in carried], bounds, best)
    table = _with_exact_columns(table, value, bound, met, total)
    table["spent_exact"] = [a.spent for a in carried]
    table["sites_exact"] = [len(a.selection.sites) for a in carried]
    table["answer_budget_eur"] = [a.budget for a in carried]
    return table

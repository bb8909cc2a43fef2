"""Completing the mesh: candidate scores, optimal new sites, coverage curve and fragility.

:func:`plan_sites` works on a finished :class:`~coverage.analysis.GapAnalysis` (same
network, snapping and travel times) and returns a :class:`SitingPlan`; it reads and
writes no file.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.analysis import GapAnalysis
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, analysis_matrix
from coverage.numbers import is_number
from coverage.phasing import PhasedSites, Schedule, check_whole, phase_sites
from coverage.siting import (
    BudgetResult,
    SitingResult,
    budget_curve,
    coverage_curve,
    fragility,
    lscp,
    mclp_budget,
    mclp_greedy,
    most_then_fewest,
    p_median,
)
from coverage.siting.curve import with_known_answer

__all__ = ["DEFAULT_TIME_LIMIT_S", "SOLVERS", "SitingOptions", "SitingPlan", "plan_sites"]

logger = logging.getLogger(__name__)

SOLVERS = ("exact", "greedy", "lscp", "pmedian")
#: Seconds of each exact solve, unless said otherwise.
DEFAULT_TIME_LIMIT_S = 60.0


@dataclass(frozen=True, eq=False)
class SitingPlan:
    """New sites for a gap analysis, with what a planner needs to defend them.

    Attributes
    ----------
    threshold_min
        Coverage threshold of the selection.
    candidates
        Every candidate, ranked by the population it alone would newly cover within
        ``threshold_min``, with its score components (see :func:`plan_sites`).
    selection
        The chosen sites (the solver's result).
    greedy
        The greedy MCLP answer for the same k, to compare with an exact selection.
    selection_table
        One row per chosen site: rank, marginal gain, cumulative population and share,
        and the candidate's columns.
    curve
        Population covered against the number of new sites (greedy and exact).
    fragility
        For each existing facility, the population that falls beyond each threshold
        if it closes.
    matrix
        The coverage matrix (rows: candidates then existing facilities).
    timings
        Seconds per step.
    phasing
        With a schedule: the chosen sites opened year by year
        (:func:`~coverage.phasing.phase_sites`); the selection table then has their
        ``year``, ``opening_order`` and ``opening_date`` (1 January of the year).
    budget, budget_curve
        With a budget: the most people within it (:func:`~coverage.siting.mclp_budget`),
        and the people covered against budgets from 0 to it
        (:func:`~coverage.siting.budget_curve`).
    """

    threshold_min: float
    candidates: gpd.GeoDataFrame
    selection: SitingResult
    greedy: SitingResult
    selection_table: gpd.GeoDataFrame
    curve: pd.DataFrame
    fragility: pd.DataFrame
    matrix: CoverageMatrix
    timings: dict[str, float] = field(default_factory=dict)
    phasing: PhasedSites | None = None
    budget: BudgetResult | None = None
    budget_curve: pd.DataFrame | None = None


@dataclass(frozen=True)
class SitingOptions:
    """What to choose: the options of a siting run, one value from the command line to
    :func:`plan_sites`.

    Attributes
    ----------
    threshold_min
        Coverage threshold of the selection (the command line's default is 20 minutes:
        DREES counts a GP farther away as inaccessible).
    k, target_share, target_structures
        How many new sites, one of: their number; the share of the population to reach
        within the threshold (the fewest sites that reach it by the greedy order; the
        exact solver then optimises that many); or the total number of structures
        wanted, existing facilities on the network included.  Not needed by ``"lscp"``,
        which finds the fewest sites covering everyone reachable.
    solver
        ``"exact"`` (the most people with at most k sites, then the fewest sites that
        cover as many: :func:`~coverage.siting.most_then_fewest`, HiGHS), ``"greedy"``
        (MCLP), ``"lscp"`` or ``"pmedian"``.
    time_limit_s
        Time limit of each exact solve.
    curve_k_max
        Largest k of the coverage curve (default: the number of sites chosen).
    exact_curve
        Solve the exact MCLP for each k of the curve, beside the greedy values.
    curve_time_limit_s
        Time limit of each exact solve of the curve (default: ``time_limit_s``); a point
        not proven within it is reported ``"feasible"`` with its gap.
    schedule
        New sites opened each year, to phase the sites chosen: a
        :class:`~coverage.phasing.Schedule`, ``"2023:12,2024:12,2025:13"``, or
        ``"2023-2025"`` (the sites chosen spread evenly over those years).
    budget, site_cost
        A budget in euros: the most people covered by new sites whose costs fit in it,
        beside the selection.  The costs are the candidates' ``cost_eur`` column, else
        ``site_cost`` for every candidate.
    """

    threshold_min: float
    k: int | None = None
    target_share: float | None = None
    target_structures: int | None = None
    solver: str = "exact"
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    curve_k_max: int | None = None
    exact_curve: bool = True
    curve_time_limit_s: float | None = None
    schedule: Schedule | str | None = None
    budget: float | None = None
    site_cost: float | None = None

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise InputDataError(f"unknown solver {self.solver!r}; expected one of {', '.join(SOLVERS)}")
        given = sum(v is not None for v in (self.k, self.target_share, self.target_structures))
        if self.solver != "lscp" and given != 1:
            raise InputDataError(
                "give either the number of new sites (k), a target share of the population "
                "or a target number of structures, and only one of them"
            )
        if not (is_number(self.threshold_min) and self.threshold_min > 0):
            raise InputDataError(
                f"the siting threshold must be a positive number of minutes, got {self.threshold_min!r}"
            )
        if not (is_number(self.time_limit_s) and self.time_limit_s > 0):
            raise InputDataError(f"the time limit must be a positive number of seconds, got {self.time_limit_s!r}")
        limit = self.curve_time_limit_s
        if limit is not None and not (is_number(limit) and limit > 0):
            raise InputDataError(f"the curve's time limit must be a positive number of seconds, got {limit!r}")
        if self.target_share is not None and not (is_number(self.target_share) and 0 < self.target_share <= 1):
            raise InputDataError(f"the target share must be in (0, 1], got {self.target_share}")
        if isinstance(self.schedule, str):  # its syntax and whole counts, before the long computation
            check_whole(Schedule.parse(self.schedule, total=0))
        for name in ("budget", "site_cost"):
            value = getattr(self, name)
            if value is not None and not (is_number(value) and value >= 0):
                raise InputDataError(
                    f"the {name.replace('_', ' ')} must be a number of euros, 0 or more, got {value!r}"
                )


def plan_sites(
    analysis: GapAnalysis,
    candidates: gpd.GeoDataFrame,
    options: SitingOptions | None = None,
    /,
    *,
    workers: int | None = None,
    progress: bool = False,
    **settings: Any,
) -> SitingPlan:
    """Score candidates and choose new sites, keeping every existing facility open.

    Parameters
    ----------
    analysis
        The gap analysis of the same territory (its network, snapping parameters,
        facilities and units are reused).
    candidates
        Candidate points with ``candidate_id`` and ``name`` (see
        :mod:`coverage.candidates`); ids must differ from the facility ids.
    options, **settings
        What to choose: a :class:`SitingOptions`, or its fields as keywords
        (``threshold_min=20, k=25, solver="exact"``); keywords override ``options``.
    workers
        Processes for the coverage matrix and the exact points of the coverage curve
        (default: every core).
    progress
        Show progress bars (on a terminal only).

    Notes
    -----
    Score components of each candidate: ``newly_covered_<T>`` for each threshold T of the
    analysis and ``threshold_min`` (people within T of it and of no existing facility),
    ``served_current_minutes`` (their population-weighted mean minutes to the nearest
    existing facility today), ``minutes_to_nearest_existing`` (the candidate's own
    minutes to the nearest existing facility), ``access_minutes`` and ``snap_distance_m``.
    """
    opts = SitingOptions(**settings) if options is None else replace(options, **settings)
    threshold_min, k, target_share, solver = opts.threshold_min, opts.k, opts.target_share, opts.solver
    time_limit_s, curve_k_max = opts.time_limit_s, opts.curve_k_max
    if opts.target_structures is not None:
        existing = int((~analysis.facilities["beyond_max_snap"]).sum())
        k = max(0, opts.target_structures - existing)
        logger.info("%d structures wanted, %d exist on the network: %d new sites", opts.target_structures, existing, k)
    if len(candidates) == 0:
        raise InputDataError("the candidate list is empty: there is no site to choose from")
    config = analysis.config
    timings: dict[str, float] = {}
    cand = candidates.reset_index(drop=True).copy()
    cand["candidate_id"] = cand["candidate_id"].astype(str)
    if cand["candidate_id"].duplicated().any():
        raise InputDataError(
            f"duplicate candidate ids {cand.loc[cand['candidate_id'].duplicated(), 'candidate_id'].head(5).tolist()}"
        )
    facility_ids = analysis.facilities["facility_id"].astype(str)
    clash = sorted(set(cand["candidate_id"]) & set(facility_ids))
    if clash:
        raise InputDataError(f"candidate ids that are also facility ids: {clash[:10]}; rename them")

    t0 = time.perf_counter()
    thresholds = sorted({*config.thresholds_min, float(threshold_min)})
    matrix = analysis_matrix(
        analysis,
        cand,
        max(thresholds),
        id_column="candidate_id",
        new_first=True,
        what="candidates",
        workers=workers,
        progress=progress,
    )
    timings["coverage matrix"] = time.perf_counter() - t0

    population = analysis.units["population"].to_numpy(dtype=float)
    required = list(facility_ids)
    scored = _score(cand, matrix, analysis, population, thresholds, threshold_min, len(cand))
    t0 = time.perf_counter()
    if solver == "lscp":
        selection = lscp(matrix, population, threshold_min, required=required, time_limit_s=time_limit_s)
        k = len(selection.sites)
    else:
        if k is None:
            k = _sites_for_share(matrix, population, threshold_min, required, float(target_share))  # type: ignore[arg-type]
        if solver == "exact":
            # the planner's order: the most people with at most k sites, then the fewest that cover as many
            selection = most_then_fewest(
                matrix, population, threshold_min, k, required=required, time_limit_s=time_limit_s
            )
        elif solver == "greedy":
            selection = mclp_greedy(matrix, population, threshold_min, k, required=required)
        else:
            selection = p_median(
                matrix,
                population,
                analysis.units["minutes_to_nearest"].to_numpy(dtype=float),
                k,
                required=required,
                time_limit_s=time_limit_s,
            )
    greedy = mclp_greedy(matrix, population, threshold_min, k, required=required)
    timings["selection"] = time.perf_counter() - t0
    if selection.status == "feasible":
        logger.warning(
            "the %s solver did not prove its answer optimal within %.0f s (%s); best answer kept, gap %.2f %%",
            selection.solver,
            time_limit_s,
            selection.solver_status,
            100 * (selection.gap or 0),
        )
    t0 = time.perf_counter()
    curve = coverage_curve(
        matrix,
        population,
        threshold_min,
        curve_k_max if curve_k_max is not None else k,
        required=required,
        exact=opts.exact_curve,
        time_limit_s=time_limit_s if opts.curve_time_limit_s is None else opts.curve_time_limit_s,
        workers=workers,
    )
    timings["coverage curve"] = time.perf_counter() - t0
    if selection.solver == "mclp-exact" and opts.exact_curve and "population_covered_exact" in curve:
        # the selection is an answer with its sites, and its bound holds for every k up to the k asked
        curve = with_known_answer(
            curve,
            "k",
            len(selection.sites),
            float(k),
            selection.population_covered_after,
            selection.bound,
            selection.population_total,
        )
    phasing = None
    if opts.schedule is not None and selection.sites:
        t0 = time.perf_counter()
        schedule = opts.schedule
        if isinstance(schedule, str):
            schedule = Schedule.parse(schedule, total=len(selection.sites))
        phasing = phase_sites(
            matrix, population, threshold_min, selection.sites, schedule, required=required, time_limit_s=time_limit_s
        )
        timings["phasing"] = time.perf_counter() - t0
    budget = curve_of_budget = None
    if opts.budget is not None:
        t0 = time.perf_counter()
        costs = _costs(cand, opts.site_cost)
        settings = {"required": required, "candidates": list(cand["candidate_id"])}
        budget = mclp_budget(
            matrix, population, threshold_min, costs, opts.budget, **settings, time_limit_s=time_limit_s
        )
        curve_of_budget = budget_curve(
            matrix,
            population,
            threshold_min,
            costs,
            np.linspace(0.0, opts.budget, BUDGET_CURVE_POINTS).tolist(),
            **settings,
            exact=opts.exact_curve,
            time_limit_s=time_limit_s if opts.curve_time_limit_s is None else opts.curve_time_limit_s,
        )
        if opts.exact_curve:  # the budget's own answer, solved for longer, at every budget it fits in
            curve_of_budget = with_known_answer(
                curve_of_budget,
                "budget_eur",
                budget.spent,
                budget.budget,
                budget.selection.population_covered_after,
                budget.selection.bound,
                budget.selection.population_total,
                extra={"spent_exact": budget.spent, "sites_exact": len(budget.selection.sites)},
            )
        timings["budget"] = time.perf_counter() - t0
    frag = fragility(matrix, population, required, thresholds)
    frag = (
        analysis.facilities[["facility_id", "name", "type"]].astype({"facility_id": str}).merge(frag, on="facility_id")
    )
    frag = frag.sort_values(f"population_lost_{max(thresholds):g}", ascending=False, kind="stable").reset_index(
        drop=True
    )
    return SitingPlan(
        threshold_min=float(threshold_min),
        candidates=scored,
        selection=selection,
        greedy=greedy,
        selection_table=_selection_table(selection, scored, phasing),
        curve=curve,
        fragility=frag,
        matrix=matrix,
        timings=timings,
        phasing=phasing,
        budget=budget,
        budget_curve=curve_of_budget,
    )


#: Budgets of the budget curve: from 0 to the budget, evenly.
BUDGET_CURVE_POINTS = 11


def _costs(candidates: gpd.GeoDataFrame, site_cost: float | None) -> pd.Series:
    """Each candidate's cost: its ``cost_eur``, else ``site_cost``."""
    if "cost_eur" in candidates:
        return pd.Series(candidates["cost_eur"].to_numpy(dtype=float), index=candidates["candidate_id"].astype(str))
    if site_cost is None:
        raise InputDataError(
            "a budget needs the candidates' costs: a cost_eur column of the candidates, or a cost per site"
        )
    return pd.Series(float(site_cost), index=candidates["candidate_id"].astype(str))


def _sites_for_share(
    matrix: CoverageMatrix, population: np.ndarray, threshold_min: float, required: list[str], share: float
) -> int:
    greedy = mclp_greedy(matrix, population, threshold_min, len(matrix.site_ids) - len(required), required=required)
    total = greedy.population_total
    covered = greedy.population_covered_before + np.cumsum([0.0, *greedy.marginal])
    reached = np.flatnonzero(covered >= share * total - 1e-9)
    if len(reached) == 0:
        raise InputDataError(
            f"no set of candidates brings {share:.1%} of the population within {threshold_min:g} min "
            f"(at most {covered[-1] / total:.1%}); lower the target or add candidates"
        )
    return int(reached[0])


def _score(
    cand: gpd.GeoDataFrame,
    matrix: CoverageMatrix,
    analysis: GapAnalysis,
    population: np.ndarray,
    thresholds: list[float],
    threshold_min: float,
    n_cand: int,
) -> gpd.GeoDataFrame:
    out = cand.copy()
    current = analysis.units["minutes_to_nearest"].to_numpy(dtype=float)
    for t in thresholds:
        cover = matrix.covers(t)
        covered0 = np.zeros(len(population), dtype=bool)
        covered0[cover[n_cand:].indices] = True
        free = np.where(covered0, 0.0, population)
        out[f"newly_covered_{t:g}"] = np.asarray(cover[:n_cand].astype(float) @ free).ravel()
        if t == float(threshold_min):
            main = cover[:n_cand]
            served = []
            for j in range(n_cand):
                units = main.indices[main.indptr[j] : main.indptr[j + 1]]
                units = units[~covered0[units]]
                w = population[units]
                m = current[units]
                ok = ~np.isnan(m)
                served.append(float((w[ok] * m[ok]).sum() / w[ok].sum()) if w[ok].sum() > 0 else math.nan)
            out["served_current_minutes"] = served
    node_index = analysis.network.indices_of(out["node"])
    own = np.where(node_index >= 0, analysis.node_minutes[np.maximum(node_index, 0)], np.nan)
    out["minutes_to_nearest_existing"] = own + out["access_minutes"].to_numpy(dtype=float)
    key = f"newly_covered_{threshold_min:g}"
    out = out.sort_values([key, "candidate_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def _selection_table(
    selection: SitingResult, scored: gpd.GeoDataFrame, phasing: PhasedSites | None = None
) -> gpd.GeoDataFrame:
    info = scored.drop(columns="rank").set_index("candidate_id")
    rows = info.loc[list(selection.sites)].reset_index()
    table = gpd.GeoDataFrame(rows, geometry="geometry", crs=scored.crs)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.insert(2, "marginal_gain", list(selection.marginal))
    if selection.solver.startswith(("mclp", "lscp")):
        cumulative = selection.population_covered_before + np.cumsum(selection.marginal)
        table.insert(3, "population_covered", cumulative)
        table.insert(
            4, "share_covered", cumulative / selection.population_total if selection.population_total else np.nan
        )
    table["solver"] = selection.solver
    # the certificate of the whole selection, on every row, so that the table travels with it
    table["status"] = selection.status
    table["gap"] = selection.gap
    if phasing is not None:
        when = phasing.timeline.set_index("site_id")
        table["year"] = when.loc[table["candidate_id"], "year"].to_numpy()
        table["opening_order"] = when.loc[table["candidate_id"], "order"].to_numpy()
        # a date QGIS's temporal controller steps through: 1 January of a year label, else empty
        years = table["year"].astype(str)
        table["opening_date"] = pd.to_datetime(years.where(years.str.fullmatch(r"\d{4}")) + "-01-01", errors="coerce")
    return table

"""Sharing a pool of doctors out so that the most people get an accessible doctor with room.

:func:`allocate_pool_by_capacity` places teams of salaried GPs at candidate sites to
raise the number of people :func:`~coverage.capacity.assign_patients` can follow: a
greedy baseline (each team where it lets the most people more be followed), then an exact
MILP solved by HiGHS (integer teams per site and the flows of the transportation
problem), started from the greedy answer.  The answer is re-assigned by
:func:`~coverage.capacity.assign_patients`, whose people served (proven by its own cut)
must meet the best proven bound for the status ``"optimal"``; otherwise ``"feasible"``
with the gap.  :func:`compare_pool_allocations` judges allocations (e.g. that of
:func:`coverage.pool.allocate_pool`, by the APL line, and this one) by both criteria.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from coverage.accessibility import DEFAULT_BANDS, StepDecay, floating_catchment
from coverage.capacity import (
    _REL_TOL,
    DEFAULT_PATIENTS_PER_GP,
    CapacityAssignment,
    _arcs,
    _settings,
    assign_patients,
)
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, aligned_values

__all__ = ["CapacityPoolAllocation", "allocate_pool_by_capacity", "compare_pool_allocations"]


@dataclass(frozen=True, eq=False)
class CapacityPoolAllocation:
    """A pool of doctors shared out by :func:`allocate_pool_by_capacity`.

    Attributes
    ----------
    teams
        One row per site receiving doctors: ``site_id``, ``teams``, ``doctors_added``.
    doctors
        Doctors per site after the allocation (matrix row order).
    before, assignment
        :func:`~coverage.capacity.assign_patients` before and after the allocation.
    bound
        Proven upper bound on the people any allocation of the pool lets be followed
        (all units, counted or not, as the flow maximises them all).
    status, gap
        ``"optimal"`` when the people followed after the allocation meet ``bound``;
        otherwise ``"feasible"`` and the relative gap.
    greedy_doctors, greedy_served
        The greedy baseline's doctors per site and the people it lets be followed (all units).
    solver_status, seconds
        How the bound was reached (HiGHS's own status kept, not trusted), and the time.
    """

    teams: pd.DataFrame
    doctors: np.ndarray
    before: CapacityAssignment
    assignment: CapacityAssignment
    bound: float
    status: str
    gap: float
    greedy_doctors: np.ndarray
    greedy_served: float
    solver_status: str
    seconds: float

    @property
    def people_newly_served(self) -> float:
        """People of the counted units followed after the allocation and not before."""
        return self.assignment.people_served - self.before.people_served


def allocate_pool_by_capacity(
    matrix: CoverageMatrix,
    doctors: Sequence[float] | np.ndarray | pd.Series,
    population: Sequence[float] | np.ndarray | pd.Series,
    *,
    pool: float,
    team_size: float,
    sites: Sequence[str] | None = None,
    threshold_min: float,
    patients_per_gp: float = DEFAULT_PATIENTS_PER_GP,
    max_per_site: float | None = None,
    time_limit_s: float = 60.0,
    counted: Sequence[bool] | np.ndarray | None = None,
) -> CapacityPoolAllocation:
    """Place a pool of doctors in teams where they let the most people be followed.

    The pool is ``floor(pool / team_size)`` teams of ``team_size`` and, if it is not a
    multiple, one smaller team of the rest.  Objective: the people followed by a doctor
    with room within ``threshold_min`` (:func:`~coverage.capacity.assign_patients`, all
    units), as high as possible.

    Parameters
    ----------
    matrix, doctors, population, threshold_min, patients_per_gp, counted
        As for :func:`~coverage.capacity.assign_patients`.
    pool, team_size
        Doctors to share out, and doctors per team.
    sites
        Ids of the sites that may receive teams (default: every row of the matrix).
    max_per_site
        Most doctors one site may receive from the pool.
    time_limit_s
        Time HiGHS may take on the MILP.
    """
    start = time.perf_counter()
    if not (pool > 0 and team_size > 0 and math.isfinite(pool) and math.isfinite(team_size)):
        raise InputDataError(f"the pool ({pool}) and the team size ({team_size}) must be positive numbers")
    if max_per_site is not None and not max_per_site >= team_size:
        raise InputDataError(f"the most a site may receive ({max_per_site}) is less than one team ({team_size})")
    d, capacity, p, _ = _settings(matrix, doctors, population, threshold_min, patients_per_gp, counted)
    before = assign_patients(
        matrix, d, p, threshold_min=threshold_min, patients_per_gp=patients_per_gp, counted=counted
    )
    candidates = matrix.rows(list(sites)) if sites is not None else np.arange(len(d))
    candidates = np.unique(candidates)
    n_full = math.floor(pool / team_size + 1e-9)
    rest = float(pool - n_full * team_size)
    rest = rest if rest > 1e-9 * team_size else 0.0
    most = n_full if max_per_site is None else math.floor(max_per_site / team_size + 1e-9)
    team_sizes = [float(team_size)] * n_full + ([rest] if rest else [])
    site, unit, _ = _arcs(matrix, float(threshold_min))

    greedy = _greedy(site, unit, p, capacity, candidates, team_sizes, patients_per_gp, max_per_site)
    greedy_doctors = d.copy()
    np.add.at(greedy_doctors, greedy, [team_sizes[k] for k in range(len(greedy))])

    def assigned(per_site: np.ndarray) -> CapacityAssignment:
        return assign_patients(
            matrix, per_site, p, threshold_min=threshold_min, patients_per_gp=patients_per_gp, counted=counted
        )

    best = assigned(greedy_doctors)
    greedy_served = float(best.served.sum())
    # bounds that need no solver: the pool's room added to the cut before, and everyone a
    # site with doctors or a candidate reaches
    reach = np.zeros(len(d), dtype=bool)
    reach[candidates] = True
    reach |= capacity > 0
    reachable = float(p[np.unique(unit[reach[site]])].sum())
    bound = min(before.served_bound + pool * patients_per_gp, reachable)
    tol = _REL_TOL * max(1.0, float(p.sum()))
    solver_status = "not needed: the greedy answer meets the bound"
    if greedy_served < bound - tol:
        teams_milp, dual, solver_status = _milp(
            site,
            unit,
            p,
            capacity,
            candidates,
            n_full,
            rest,
            team_size,
            patients_per_gp,
            most,
            max_per_site,
            greedy_doctors - d,
            best,
            time_limit_s,
        )
        if teams_milp is not None:
            other = assigned(d + teams_milp)
            if float(other.served.sum()) > float(best.served.sum()) + tol:
                best = other
        if math.isfinite(dual):
            bound = min(bound, dual)
    served = float(best.served.sum())
    if served > bound + tol:  # a bound below an answer known feasible is false
        bound = min(before.served_bound + pool * patients_per_gp, reachable)
    optimal = served >= bound - tol
    added = best.doctors - d
    receiving = np.flatnonzero(added > 1e-12)
    teams = pd.DataFrame(
        {
            "site_id": matrix.site_ids[receiving],
            "teams": np.ceil(added[receiving] / team_size - 1e-9).astype(int),
            "doctors_added": added[receiving],
        }
    )
    return CapacityPoolAllocation(
        teams=teams,
        doctors=best.doctors,
        before=before,
        assignment=best,
        bound=served if optimal else bound,
        status="optimal" if optimal else "feasible",
        gap=0.0 if optimal else (bound - served) / max(bound, 1e-12),
        greedy_doctors=greedy_doctors,
        greedy_served=greedy_served,
        solver_status=solver_status,
        seconds=time.perf_counter() - start,
    )


def _greedy(
    site: np.ndarray,
    unit: np.ndarray,
    p: np.ndarray,
    capacity: np.ndarray,
    candidates: np.ndarray,
    team_sizes: list[float],
    patients_per_gp: float,
    max_per_site: float | None,
) -> list[int]:
    """Site of each team, in order: each where it lets the most people more be followed.

    Gains are increases of an integer max flow (people rounded to whole persons; the
    answer is re-assigned exactly afterwards) computed by SciPy; they only fall as teams
    are placed (the max flow is submodular in the sites' capacities), so a gain computed
    earlier bounds it now (lazy evaluation).  Ties (many sites fill a team when most
    people have no doctor with room): the site whose reach has the largest share of its
    people still without one, then the lowest row.
    """
    n_units, n_sites = len(p), len(capacity)
    people = np.floor(p + 0.5).astype(np.int64)
    keep = people[unit] > 0
    site, unit = site[keep], unit[keep]
    source, sink = n_units + n_sites, n_units + n_sites + 1
    big = int(people.sum()) + 1
    if big >= np.iinfo(np.int32).max // 2:
        raise InputDataError(f"{big} people: too many for the greedy's integer flows")
    tails = np.concatenate([np.full(n_units, source), unit, n_units + np.arange(n_sites)])
    heads = np.concatenate([np.arange(n_units), n_units + site, np.full(n_sites, sink)])
    fixed = np.concatenate([people, np.full(len(site), big)]).astype(np.int32)

    def flow(room: np.ndarray) -> tuple[int, np.ndarray]:
        """Integer max flow with these rooms, and the people followed per unit."""
        caps = np.concatenate([fixed, np.minimum(room, big).astype(np.int32)])
        graph = sp.csr_array((caps, (tails, heads)), shape=(sink + 1, sink + 1))
        result = maximum_flow(graph, source, sink, method="dinic")
        f = sp.csr_array(result.flow)
        lo, hi = f.indptr[source], f.indptr[source + 1]
        followed = np.zeros(n_units)
        np.add.at(followed, f.indices[lo:hi], np.maximum(f.data[lo:hi], 0))
        return int(result.flow_value), followed

    def left_near(followed: np.ndarray) -> np.ndarray:
        """Per site: the share of the people in reach left without a doctor with room."""
        near = np.bincount(site, weights=people[unit], minlength=n_sites)
        left = np.bincount(site, weights=(people - followed)[unit], minlength=n_sites)
        return np.divide(left, near, out=np.zeros(n_sites), where=near > 0)

    room = np.floor(capacity + 1e-9).astype(np.int64)
    current, followed = flow(room)
    share_left = left_near(followed)
    received = np.zeros(n_sites)
    chosen: list[int] = []
    first = math.floor(team_sizes[0] * patients_per_gp + 1e-9) if team_sizes else 0
    heap = [(-float(first), -share_left[k], int(k)) for k in candidates]
    heapq.heapify(heap)
    parked: list[tuple[float, float, int]] = []  # sites with no room for a full team, kept for the smaller one
    limit = math.inf if max_per_site is None else max_per_site
    for size in team_sizes:
        if size < team_sizes[0]:
            for entry in parked:
                heapq.heappush(heap, entry)
        extra = math.floor(size * patients_per_gp + 1e-9)
        placed = False
        while heap:
            top = heapq.heappop(heap)
            _, tie, k = top
            if received[k] + size > limit + 1e-9:
                parked.append(top)
                continue
            trial = room.copy()
            trial[k] += extra
            value, trial_followed = flow(trial)
            gain = value - current
            if not heap or gain >= -heap[0][0]:
                if gain <= 0:
                    return chosen
                room, current = trial, value
                received[k] += size
                chosen.append(k)
                # the tie-breaks move with the people now followed
                share_left = left_near(trial_followed)
                heap = [(b, -share_left[j], j) for b, _, j in heap]
                heapq.heapify(heap)
                heapq.heappush(heap, (-float(gain), -share_left[k], k))
                placed = True
                break
            heapq.heappush(heap, (-float(gain), tie, k))
        if not placed:
            break
    return chosen


def _milp(
    site: np.ndarray,
    unit: np.ndarray,
    p: np.ndarray,
    capacity: np.ndarray,
    candidates: np.ndarray,
    n_full: int,
    rest: float,
    team_size: float,
    patients_per_gp: float,
    most: int,
    max_per_site: float | None,
    start_added: np.ndarray,
    start: CapacityAssignment,
    time_limit_s: float,
) -> tuple[np.ndarray | None, float, str]:
    """The pool as a MILP: doctors added per site (None if HiGHS found none), HiGHS's dual
    bound on the people followed (NaN if none) and its status.

    Columns: full teams ``n_k`` (integers), the smaller team ``r_k`` (binary, when there is
    one), flows ``x_a`` per pair within the threshold.  Rows: each unit's people, each
    site's room (``sum x - team room * n - rest room * r <= room``), the number of teams,
    and each candidate's most doctors when a smaller team makes it a row.
    """
    import highspy

    keep = (p[unit] > 0) & ((capacity[site] > 0) | np.isin(site, candidates))
    site, unit = site[keep], unit[keep]
    n_units, n_sites, n_k, n_arcs = len(p), len(capacity), len(candidates), len(site)
    has_rest = rest > 0
    n_r = n_k if has_rest else 0
    pool_row = n_units + n_sites
    rows, cols, vals = [unit, n_units + site], [np.arange(n_arcs) + n_k + n_r] * 2, [np.ones(n_arcs)] * 2
    k_cols = np.arange(n_k)
    rows += [n_units + candidates, np.full(n_k, pool_row)]
    cols += [k_cols, k_cols]
    vals += [np.full(n_k, -team_size * patients_per_gp), np.ones(n_k)]
    n_rows = pool_row + 1
    row_upper = [p, capacity, [float(n_full)]]
    if has_rest:
        r_cols = n_k + k_cols
        rows += [n_units + candidates, np.full(n_k, n_rows)]
        cols += [r_cols, r_cols]
        vals += [np.full(n_k, -rest * patients_per_gp), np.ones(n_k)]
        row_upper.append([1.0])
        n_rows += 1
        if max_per_site is not None:
            rows += [n_rows + k_cols, n_rows + k_cols]
            cols += [k_cols, r_cols]
            vals += [np.full(n_k, team_size), np.full(n_k, rest)]
            row_upper.append(np.full(n_k, float(max_per_site)))
            n_rows += n_k
    n_cols = n_k + n_r + n_arcs
    a = sp.csc_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_cols))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = np.concatenate([np.zeros(n_k + n_r), np.ones(n_arcs)])
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.concatenate([np.full(n_k, float(min(most, n_full))), np.ones(n_r), np.full(n_arcs, np.inf)])
    lp.row_lower_ = np.full(n_rows, -np.inf)
    lp.row_upper_ = np.concatenate([np.asarray(u, dtype=float) for u in row_upper])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    lp.integrality_ = [highspy.HighsVarType.kInteger] * (n_k + n_r) + [highspy.HighsVarType.kContinuous] * n_arcs
    lp.sense_ = highspy.ObjSense.kMaximize
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.05)))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("presolve", "off")  # with a start: see coverage.siting.exact
    h.passModel(lp)
    # the whole start: teams (full ones, then the smaller one) and the greedy's flows
    added = start_added[candidates]
    r_start = np.zeros(n_r)
    if has_rest:
        fractional = np.flatnonzero(np.abs(added / team_size - np.round(added / team_size)) > 1e-9)
        r_start[fractional[:1]] = 1.0
    n_start = np.round((added - rest * (r_start if has_rest else 0.0)) / team_size)
    x_start = _flow_at(start.flows, site, unit)
    solution = highspy.HighsSolution()
    solution.col_value = list(np.concatenate([n_start, r_start, x_start]))
    h.setSolution(solution)
    h.run()
    status = h.getModelStatus()
    solver_status = f"HiGHS: {h.modelStatusToString(status)}"
    stopped = (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit)
    if status not in stopped:
        return None, math.nan, solver_status
    dual = float(h.getInfo().mip_dual_bound)
    values = np.asarray(h.getSolution().col_value, dtype=float)
    if len(values) < n_cols:
        return None, dual, solver_status
    per_site = np.zeros(n_sites)
    per_site[candidates] = np.round(values[:n_k]) * team_size
    if has_rest:
        per_site[candidates] += np.round(values[n_k : n_k + n_r]) * rest
    return per_site, dual, solver_status


def _flow_at(flows: sp.csr_array, site: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """The flow at each pair ``(site, unit)`` (0 where it carries none)."""
    n_units = flows.shape[1]
    stored = np.repeat(np.arange(flows.shape[0], dtype=np.int64), np.diff(flows.indptr)) * n_units + flows.indices
    order = np.argsort(stored, kind="stable")
    keys = site.astype(np.int64) * n_units + unit
    out = np.zeros(len(keys))
    if len(stored):
        pos = np.minimum(np.searchsorted(stored[order], keys), len(stored) - 1)
        hit = stored[order][pos] == keys
        out[hit] = flows.data[order][pos[hit]]
    return out


def compare_pool_allocations(
    matrix: CoverageMatrix,
    doctors: Sequence[float] | np.ndarray | pd.Series,
    population: Sequence[float] | np.ndarray | pd.Series,
    allocations: Mapping[str, Sequence[float] | np.ndarray],
    *,
    threshold_min: float,
    priority_line: float,
    patients_per_gp: float = DEFAULT_PATIENTS_PER_GP,
    demand: Sequence[float] | np.ndarray | pd.Series | None = None,
    decay: StepDecay | Callable[[np.ndarray], np.ndarray] = DEFAULT_BANDS,
    counted: Sequence[bool] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Allocations of a pool judged by the APL line and by the doctors' room.

    ``allocations`` maps a name to the doctors per site after it (e.g. the ``supply`` of
    :func:`coverage.pool.allocate_pool` and the ``doctors`` of
    :func:`allocate_pool_by_capacity`); ``doctors`` are those before.  ``priority_line``
    is in the floating catchment's unit (supply per unit of demand, as for
    :func:`~coverage.pool.allocate_pool`); ``demand`` defaults to the population.

    Returns
    -------
    pandas.DataFrame
        One row for the situation before, then one per allocation: ``allocation``,
        ``doctors_added``, ``sites_receiving``, ``people_above_line``, ``people_lifted``
        (above the line after and not before), ``people_served`` (by a doctor with room),
        ``people_newly_served`` and ``people_unmet``, over the counted units.
    """
    base = aligned_values(doctors, matrix.site_ids, "doctors", rows="sites")
    p = aligned_values(population, matrix.unit_ids, "population")
    weights = p if demand is None else demand
    mask = np.ones(len(p), dtype=bool) if counted is None else np.asarray(counted, dtype=bool)

    def judged(name: str, per_site: np.ndarray) -> dict[str, object]:
        access = floating_catchment(matrix, per_site, weights, decay).accessibility
        served = assign_patients(
            matrix, per_site, p, threshold_min=threshold_min, patients_per_gp=patients_per_gp, counted=mask
        )
        return {
            "allocation": name,
            "doctors_added": float((per_site - base).sum()),
            "sites_receiving": int((per_site - base > 1e-12).sum()),
            "above": access >= priority_line,
            "people_served": served.people_served,
            "people_unmet": served.people_unmet,
            "status": served.status,
        }

    rows = [judged("before", base)]
    for name, per_site in allocations.items():
        after = aligned_values(per_site, matrix.site_ids, f"doctors after {name!r}", rows="sites")
        if (after < base - 1e-9).any():
            raise InputDataError(f"allocation {name!r} has fewer doctors than before at some site")
        rows.append(judged(str(name), after))
    above0 = rows[0]["above"]
    assert isinstance(above0, np.ndarray)
    out = []
    for row in rows:
        above = row.pop("above")
        assert isinstance(above, np.ndarray)
        row["people_above_line"] = float(p[above & mask].sum())
        row["people_lifted"] = float(p[above & ~above0 & mask].sum())
        row["people_newly_served"] = float(row["people_served"]) - float(rows[0]["people_served"])  # type: ignore[arg-type]
        out.append(row)
    columns = [
        "allocation",
        "doctors_added",
        "sites_receiving",
        "people_above_line",
        "people_lifted",
        "people_served",
        "people_newly_served",
        "people_unmet",
        "status",
    ]
    return pd.DataFrame(out)[columns]

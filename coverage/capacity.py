"""Doctors' patient lists: who can have an accessible doctor with room, as a transportation problem.

A GP can be the *médecin traitant* of a limited number of patients.  With ``d_j`` doctors
at site ``j``, the site can follow ``c_j = d_j * patients_per_gp`` people; the people of
unit ``i`` (``p_i``) may be followed by any site within ``threshold_min`` minutes.
:func:`assign_patients` assigns them so that the most people are followed and, among the
assignments that follow that many, the person-minutes of the journeys are the fewest:

    stage 1   max  sum x_ij           s.t. sum_j x_ij <= p_i,  sum_i x_ij <= c_j,  x >= 0
    stage 2   min  sum t_ij x_ij      s.t. the same and  sum x_ij >= the stage-1 maximum

solved as two linear programs by HiGHS (the second warm-started from the first).  The
people left over are "without an accessible doctor with room".

The solver's word is not taken.  The flow is cleaned to satisfy every row exactly and its
people served are compared with the capacity of an s-t cut computed here from the residual
graph (max-flow = min-cut: no flow can exceed any cut, so meeting one proves the maximum);
its person-minutes are compared with a lower bound made here from HiGHS's duals, repaired
to be feasible (weak duality).  The status is ``"optimal"`` only when both bounds are met.
:func:`certify_flow` does the same for any flow (a test or another solver's).
:func:`coverage.capacity_study.unmet_by_area` sums the people left over by area.
Sharing a pool of doctors by this criterion is :mod:`coverage.capacity_pool`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, aligned_values
from coverage.numbers import is_number

__all__ = [
    "DEFAULT_PATIENTS_PER_GP",
    "CapacityAssignment",
    "assign_patients",
    "certify_flow",
]

#: Patients one GP follows as médecin traitant, by default: 960, the mean number of adult
#: patients who had declared a GP (excluding GPs with a particular mode of practice) as their
#: médecin traitant in 2021 (median 927; half of GPs between 600 and 1,300), from the
#: Assurance maladie's report "Charges et produits pour 2023" (July 2022), as reported by
#: Le Quotidien du médecin ("Prescriptions : 741 165 euros de remboursement moyen par
#: généraliste en 2021").  The figure counts adults only: applied to a population of all
#: ages it understates what a GP's list holds, so it is a cautious default; the Assurance
#: maladie's open data ("Patientèle médecin traitant moyenne des médecins généralistes", by
#: region and department, data.ameli.fr) gives the current and local values to set instead.
DEFAULT_PATIENTS_PER_GP = 960.0

# Relative tolerance of the proofs: a sum of fractional populations is not exact, and
# HiGHS meets its rows to 1e-9 (set below); a bound met to this share of the people counts.
_REL_TOL = 1e-7


@dataclass(frozen=True, eq=False)
class CapacityAssignment:
    """People assigned to doctors with room within ``threshold_min`` minutes.

    Attributes
    ----------
    unit_ids, site_ids
        Labels, as in the matrix.
    threshold_min, patients_per_gp
        The settings.
    population, counted
        People per unit, and whether the unit counts in the totals (the people around the
        territory compete for its doctors but count in no total).
    doctors, capacity
        Per site: doctors, and the people they can follow (``doctors * patients_per_gp``).
    flows
        CSR ``sites x units``: people of each unit followed at each site.
    flow_minutes
        Minutes of each stored flow (aligned with ``flows.data``).
    served, listed
        Column and row sums of ``flows``: people followed per unit, and on each site's
        lists (the ``load`` of :meth:`sites_table`).
    person_minutes
        Sum of people times minutes over the flows.
    served_bound
        Capacity of the s-t cut found in the residual graph: no assignment follows more
        people (all units).
    minutes_bound
        A lower bound on the person-minutes of any assignment that follows as many people
        (NaN when none is known).
    status
        ``"optimal"`` when ``served`` meets ``served_bound`` and ``person_minutes`` meets
        ``minutes_bound``; otherwise ``"feasible"``.
    solver_status, seconds
        What HiGHS said (kept, not trusted) and the time taken.
    """

    unit_ids: np.ndarray
    site_ids: np.ndarray
    threshold_min: float
    patients_per_gp: float
    population: np.ndarray
    counted: np.ndarray
    doctors: np.ndarray
    capacity: np.ndarray
    flows: sp.csr_array
    flow_minutes: np.ndarray
    served: np.ndarray
    listed: np.ndarray
    person_minutes: float
    served_bound: float
    minutes_bound: float
    status: str
    solver_status: str = ""
    seconds: float = 0.0

    @property
    def unserved(self) -> np.ndarray:
        """People of each unit without an accessible doctor with room."""
        return np.maximum(self.population - self.served, 0.0)

    @property
    def room(self) -> np.ndarray:
        """Places left on each site's lists."""
        return np.maximum(self.capacity - self.listed, 0.0)

    @property
    def people_served(self) -> float:
        """People followed, over the counted units."""
        return float(self.served[self.counted].sum())

    @property
    def people_unmet(self) -> float:
        """People without an accessible doctor with room, over the counted units."""
        return float(self.unserved[self.counted].sum())

    def units_table(self) -> pd.DataFrame:
        """One row per counted unit: ``unit_id``, ``population``, ``served``, ``unserved`` and
        ``mean_minutes`` (of the people served; NaN where nobody is)."""
        minutes = np.bincount(
            self.flows.indices, weights=self.flows.data * self.flow_minutes, minlength=len(self.unit_ids)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(self.served > 0, minutes / self.served, np.nan)
        table = pd.DataFrame(
            {
                "unit_id": self.unit_ids,
                "population": self.population,
                "served": self.served,
                "unserved": self.unserved,
                "mean_minutes": mean,
            }
        )
        return table[self.counted].reset_index(drop=True)

    def sites_table(self) -> pd.DataFrame:
        """One row per site: ``site_id``, ``doctors``, ``capacity``, ``load`` and ``room``."""
        return pd.DataFrame(
            {
                "site_id": self.site_ids,
                "doctors": self.doctors,
                "capacity": self.capacity,
                "load": self.listed,
                "room": self.room,
            }
        )


def _settings(
    matrix: CoverageMatrix,
    doctors: Sequence[float] | np.ndarray | pd.Series,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    patients_per_gp: float,
    counted: Sequence[bool] | np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Checked inputs: doctors, capacity per site, population and the counted mask per unit."""
    if not (is_number(patients_per_gp) and 0 < float(patients_per_gp) < math.inf):
        raise InputDataError(f"patients_per_gp must be a positive number, got {patients_per_gp!r}")
    if not (is_number(threshold_min) and 0 < float(threshold_min) <= matrix.max_minutes + 1e-9):
        raise InputDataError(
            f"threshold_min must be a positive number of minutes up to the matrix's {matrix.max_minutes:g}, "
            f"got {threshold_min!r}"
        )
    d = aligned_values(doctors, matrix.site_ids, "doctors", rows="sites")
    p = aligned_values(population, matrix.unit_ids, "population")
    if counted is None:
        mask = np.ones(len(p), dtype=bool)
    else:
        mask = np.asarray(counted, dtype=bool)
        if mask.shape != p.shape:
            raise InputDataError(f"counted: expected one value per unit ({len(p)}), got {mask.shape}")
    return d, d * float(patients_per_gp), p, mask


def _arcs(matrix: CoverageMatrix, threshold_min: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Site row, unit column and minutes of every pair within the threshold, row by row."""
    m = matrix.minutes
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    keep = m.data <= threshold_min
    return rows[keep], m.indices[keep].astype(np.int64), m.data[keep].astype(float)


def assign_patients(
    matrix: CoverageMatrix,
    doctors: Sequence[float] | np.ndarray | pd.Series,
    population: Sequence[float] | np.ndarray | pd.Series,
    *,
    threshold_min: float,
    patients_per_gp: float = DEFAULT_PATIENTS_PER_GP,
    counted: Sequence[bool] | np.ndarray | None = None,
) -> CapacityAssignment:
    """Follow the most people by a doctor with room within ``threshold_min``, then in the fewest person-minutes.

    Parameters
    ----------
    matrix
        Minutes from units to sites (built up to ``threshold_min`` at least).
    doctors
        GPs per site (a Series indexed by site id, or in row order); fractions (full-time
        equivalents) are allowed.
    population
        People per unit (a Series indexed by unit id, or in column order); fractions allowed.
    threshold_min
        Longest trip to one's doctor, in minutes.
    patients_per_gp
        People one GP follows (:data:`DEFAULT_PATIENTS_PER_GP`).
    counted
        Per unit (column order), whether it counts in the totals; default all.  Every unit
        competes for the doctors' room.

    Returns
    -------
    CapacityAssignment
        With ``status`` ``"optimal"`` only when our own bounds are met.
    """
    start = time.perf_counter()
    d, capacity, p, mask = _settings(matrix, doctors, population, threshold_min, patients_per_gp, counted)
    site, unit, minutes = _arcs(matrix, float(threshold_min))
    useful = (p[unit] > 0) & (capacity[site] > 0)
    site, unit, minutes = site[useful], unit[useful], minutes[useful]
    x, bound, solver_status = _solve(site, unit, minutes, p, capacity)
    flows = sp.csr_array((x, (site, unit)), shape=matrix.minutes.shape)
    return certify_flow(
        matrix,
        d,
        p,
        flows,
        threshold_min=threshold_min,
        patients_per_gp=patients_per_gp,
        counted=mask,
        minutes_bound=bound,
        solver_status=solver_status,
        start=start,
    )


def _solve(
    site: np.ndarray, unit: np.ndarray, minutes: np.ndarray, p: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, float, str]:
    """The two LPs: flow per arc (cleaned to meet every row), a lower bound on its
    person-minutes among flows as large (NaN if none), and HiGHS's statuses."""
    n_arcs, n_units = len(site), len(p)
    if n_arcs == 0:
        return np.zeros(0), 0.0, "not needed: no pair of people and room within the threshold"
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    h.setOptionValue("dual_feasibility_tolerance", 1e-9)
    lp = highspy.HighsLp()
    lp.num_col_ = n_arcs
    lp.num_row_ = n_units + len(c)
    lp.col_cost_ = np.ones(n_arcs)
    lp.col_lower_ = np.zeros(n_arcs)
    lp.col_upper_ = np.full(n_arcs, np.inf)
    lp.row_lower_ = np.full(lp.num_row_, -np.inf)
    lp.row_upper_ = np.concatenate([p, c])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * n_arcs + 1, 2, dtype=np.int64)
    lp.a_matrix_.index_ = np.column_stack([unit, n_units + site]).ravel()
    lp.a_matrix_.value_ = np.ones(2 * n_arcs)
    lp.sense_ = highspy.ObjSense.kMaximize
    h.passModel(lp)
    h.run()
    first = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return _clean(np.zeros(n_arcs), site, unit, p, c), math.nan, f"HiGHS max flow: {first}"
    most = float(h.getInfo().objective_function_value)
    # stage 2: as many people, fewest minutes; if HiGHS finds "as many" out of reach (its
    # rows hold to a tolerance), a hair fewer
    h.addRow(most, np.inf, n_arcs, np.arange(n_arcs, dtype=np.int32), np.ones(n_arcs))
    h.changeObjectiveSense(highspy.ObjSense.kMinimize)
    h.changeColsCost(n_arcs, np.arange(n_arcs, dtype=np.int32), minutes)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        h.changeRowBounds(len(p) + len(c), most - 1e-9 * max(1.0, most), np.inf)
        h.run()
    second = h.modelStatusToString(h.getModelStatus())
    solution = h.getSolution()
    x = _clean(np.asarray(solution.col_value, dtype=float), site, unit, p, c)
    status = f"HiGHS max flow: {first}; fewest minutes: {second}"
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return x, math.nan, status
    duals = np.asarray(solution.row_dual, dtype=float)
    bound = _minutes_bound(duals, site, unit, minutes, p, c, float(x.sum()))
    return x, bound, status


def _clean(x: np.ndarray, site: np.ndarray, unit: np.ndarray, p: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The flow made to meet every row exactly: negatives dropped, each unit's flows then each
    site's scaled down where their sum exceeds the row's bound (by the solver's tolerance)."""
    x = np.clip(np.nan_to_num(x, nan=0.0), 0.0, None)
    for ends, bounds in ((unit, p), (site, c)):
        sums = np.bincount(ends, weights=x, minlength=len(bounds))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(sums > bounds, bounds / sums, 1.0)
        x = x * np.minimum(scale[ends], 1.0)
    return x


def _minutes_bound(
    duals: np.ndarray,
    site: np.ndarray,
    unit: np.ndarray,
    minutes: np.ndarray,
    p: np.ndarray,
    c: np.ndarray,
    served: float,
) -> float:
    """A lower bound on the person-minutes of any flow of at least ``served`` people.

    Dual of stage 2: ``max p.a + c.b + served * g`` with ``a, b <= 0``, ``g >= 0`` and
    ``a_i + b_j + g <= t_ij`` on every arc.  HiGHS's duals are clipped to their signs and
    each ``a_i`` lowered until every arc of unit ``i`` holds, so the bound is valid whatever
    their accuracy (weak duality).
    """
    n_units = len(p)
    a = np.fmin(duals[:n_units], 0.0)  # a NaN dual is 0 (fmin ignores NaN), then lowered like any
    b = np.minimum(duals[n_units : n_units + len(c)], 0.0)
    g = max(float(duals[-1]), 0.0)
    slack = minutes - b[site] - g
    limit = np.full(n_units, np.inf)
    np.minimum.at(limit, unit, slack)
    a = np.minimum(a, limit)
    return float(p @ a + c @ b + served * g)


def certify_flow(
    matrix: CoverageMatrix,
    doctors: Sequence[float] | np.ndarray | pd.Series,
    population: Sequence[float] | np.ndarray | pd.Series,
    flows: sp.csr_array | sp.csr_matrix,
    *,
    threshold_min: float,
    patients_per_gp: float = DEFAULT_PATIENTS_PER_GP,
    counted: Sequence[bool] | np.ndarray | None = None,
    minutes_bound: float = math.nan,
    solver_status: str = "given",
    start: float | None = None,
) -> CapacityAssignment:
    """Check a flow (``sites x units``) and prove what it can: an assignment and its status.

    The flow must be finite and non-negative, on pairs within ``threshold_min`` only, and
    within every unit's people and every site's capacity (to a relative 1e-9): otherwise
    :class:`~coverage.errors.InputDataError` names the first row or column that is not.
    Its people served are compared with the cut of the residual graph: the units reachable
    from the source (those with people left, then through any pair to a site, and back
    from a site to the units it follows), ``A``, give the cut ``p(units not in A) +
    c(sites reached)``, an upper bound on every flow; when the flow is a maximum, the cut
    equals it.  ``minutes_bound`` (a proven lower bound on the person-minutes, e.g. from
    the duals of :func:`assign_patients`) is compared with the flow's person-minutes.
    """
    start = time.perf_counter() if start is None else start
    d, capacity, p, mask = _settings(matrix, doctors, population, threshold_min, patients_per_gp, counted)
    flows = sp.csr_array(flows, dtype=float)
    flows.sum_duplicates()
    if flows.shape != matrix.minutes.shape:
        raise InputDataError(f"the flow has shape {flows.shape}; the matrix is {matrix.minutes.shape} (sites x units)")
    flows.eliminate_zeros()
    if not np.isfinite(flows.data).all() or (flows.data < 0).any():
        raise InputDataError("the flow must hold finite non-negative numbers of people")
    rows = np.repeat(np.arange(flows.shape[0]), np.diff(flows.indptr))
    pair_minutes = _pair_minutes(matrix, rows, flows.indices)
    outside = ~(pair_minutes <= threshold_min)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise InputDataError(
            f"the flow assigns people of unit {matrix.unit_ids[flows.indices[k]]} to site "
            f"{matrix.site_ids[rows[k]]}, beyond {threshold_min:g} min"
        )
    served = np.bincount(flows.indices, weights=flows.data, minlength=flows.shape[1])
    load = np.bincount(rows, weights=flows.data, minlength=flows.shape[0])
    for what, ids, got, most in (("unit", matrix.unit_ids, served, p), ("site", matrix.site_ids, load, capacity)):
        over = got > most + 1e-9 * np.maximum(1.0, most)
        if over.any():
            k = int(np.flatnonzero(over)[0])
            raise InputDataError(f"the flow gives {what} {ids[k]} {got[k]:g} people, more than its {most[k]:g}")
    cut = _cut_capacity(matrix, float(threshold_min), flows, rows, served, p, capacity)
    total = float(served.sum())
    person_minutes = float(flows.data @ pair_minutes)
    tol = _REL_TOL * max(1.0, float(p.sum()))
    flow_proven = total >= cut - tol
    minutes_proven = math.isfinite(minutes_bound) and person_minutes <= minutes_bound + _REL_TOL * max(
        1.0, abs(minutes_bound)
    )
    result = CapacityAssignment(
        unit_ids=matrix.unit_ids,
        site_ids=matrix.site_ids,
        threshold_min=float(threshold_min),
        patients_per_gp=float(patients_per_gp),
        population=p,
        counted=mask,
        doctors=d,
        capacity=capacity,
        flows=flows,
        flow_minutes=pair_minutes,
        served=served,
        listed=load,
        person_minutes=person_minutes,
        served_bound=total if flow_proven else cut,
        minutes_bound=float(minutes_bound),
        status="optimal" if flow_proven and minutes_proven else "feasible",
        solver_status=solver_status,
        seconds=time.perf_counter() - start,
    )
    return result


def _pair_minutes(matrix: CoverageMatrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Minutes of the matrix at the pairs ``(rows, cols)``; NaN where the matrix stores none
    (an explicit 0 is a pair at 0 minutes, so the sparse matrix cannot be indexed directly)."""
    m = matrix.minutes
    n_units = m.shape[1]
    stored = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) * n_units + m.indices
    order = np.argsort(stored, kind="stable")
    keys = rows.astype(np.int64) * n_units + cols
    pos = np.minimum(np.searchsorted(stored[order], keys), max(len(stored) - 1, 0))
    out = np.full(len(keys), np.nan)
    if len(stored):
        hit = stored[order][pos] == keys
        out[hit] = m.data[order][pos[hit]]
    return out


def _cut_capacity(
    matrix: CoverageMatrix,
    threshold_min: float,
    flows: sp.csr_array,
    rows: np.ndarray,
    served: np.ndarray,
    p: np.ndarray,
    capacity: np.ndarray,
) -> float:
    """Capacity of the s-t cut given by the nodes the source reaches in the residual graph.

    Nodes: units, then sites, then the source.  Residual arcs: source -> unit with people
    left; unit -> site for every pair within the threshold (no limit on a pair); site ->
    unit where the site follows people of the unit.  With ``A`` the units reached, the
    sites reached are exactly the neighbours of ``A``, so ``p(units not in A) +
    c(sites reached)`` is the capacity of a cut: an upper bound on any flow.
    """
    n_sites, n_units = flows.shape
    eps_unit = 1e-12 * np.maximum(1.0, p)
    eps_site = 1e-12 * np.maximum(1.0, capacity)
    site, unit, _ = _arcs(matrix, threshold_min)
    carrying = flows.data > eps_site[rows]
    source = n_units + n_sites
    left = np.flatnonzero(p - served > eps_unit)
    heads = np.concatenate([n_units + site, flows.indices[carrying], left])
    tails = np.concatenate([unit, n_units + rows[carrying], np.full(len(left), source)])
    graph = sp.csr_array((np.ones(len(heads), dtype=np.int8), (tails, heads)), shape=(source + 1, source + 1))
    reached = np.zeros(source + 1, dtype=bool)
    reached[breadth_first_order(graph, source, directed=True, return_predecessors=False)] = True
    units_in, sites_in = reached[:n_units], reached[n_units:source]
    return float(p[~units_in].sum() + capacity[sites_in].sum())

"""The doctors' patient lists in an accessibility study: before and after a scenario, and
the pool shared out by this criterion beside the APL line's allocation.

:func:`study_capacity` is called by :func:`~coverage.access_study.study_access` when
``AccessSettings.capacity_minutes`` is set; it assigns the people to doctors with room
(:func:`~coverage.capacity.assign_patients`) with the doctors of today and of the
scenario, sums the people left over by area, and, with a pool, places the same pool by
the people it lets be followed (:func:`~coverage.capacity_pool.allocate_pool_by_capacity`)
and judges both allocations by both criteria
(:func:`~coverage.capacity_pool.compare_pool_allocations`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coverage.accessibility import StepDecay
from coverage.capacity import CapacityAssignment, assign_patients
from coverage.capacity_pool import CapacityPoolAllocation, allocate_pool_by_capacity, compare_pool_allocations
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.scenarios import Pool
from coverage.stats import AREA_LEVELS, NO_CODE, area_codes, common_names, report_missing_codes

__all__ = ["CapacityStudy", "study_capacity", "unmet_by_area"]

#: The names of the two allocations of the pool in the comparison table.
BY_APL, BY_CAPACITY = "APL line (allocate_pool)", "patient lists (allocate_pool_by_capacity)"


@dataclass(frozen=True, eq=False)
class CapacityStudy:
    """People without an accessible doctor with room, before and after a scenario.

    Attributes
    ----------
    before, after
        The assignments with today's doctors and with the scenario's (None: no scenario).
    by_area
        People without a doctor with room per area (commune, canton, EPCI, department),
        before and after (:func:`unmet_by_area`).
    pool
        The scenario's pool placed by this criterion instead of the APL line (None: no pool).
    comparison
        The situation before, the pool by the APL line and by this criterion, each judged
        by the people above the APL line and the people followed (None: no pool).
    """

    before: CapacityAssignment
    after: CapacityAssignment | None
    by_area: pd.DataFrame
    pool: CapacityPoolAllocation | None
    comparison: pd.DataFrame | None

    def summary(self) -> dict[str, Any]:
        """Key figures, for run.json."""
        out: dict[str, Any] = {
            "threshold_min": self.before.threshold_min,
            "patients_per_gp": self.before.patients_per_gp,
            "people_without_doctor_with_room_before": self.before.people_unmet,
            "status_before": self.before.status,
        }
        if self.after is not None:
            out["people_without_doctor_with_room_after"] = self.after.people_unmet
            out["status_after"] = self.after.status
        if self.pool is not None:
            out["pool_by_capacity"] = {
                "people_without_doctor_with_room": self.pool.assignment.people_unmet,
                "status": self.pool.status,
                "gap": self.pool.gap,
                "bound_people_followed": self.pool.bound,
                "solver_status": self.pool.solver_status,
            }
        return out


def study_capacity(
    matrix: CoverageMatrix,
    units: pd.DataFrame,
    people: pd.Series | np.ndarray,
    counted: np.ndarray,
    before: np.ndarray,
    after: np.ndarray | None,
    *,
    threshold_min: float,
    patients_per_gp: float,
    pool: Pool | None = None,
    pool_start: np.ndarray | None = None,
    pool_sites: Sequence[str] | None = None,
    priority_line: float = np.nan,
    decay: StepDecay | Callable[[np.ndarray], np.ndarray] | None = None,
    demand: np.ndarray | None = None,
) -> CapacityStudy:
    """Patient lists before and after a scenario (see the module's description).

    Parameters
    ----------
    matrix, people, counted
        The study's matrix (units around the territory after its own), the people of
        every column, and whether each counts in the totals.
    units
        The territory's units (``unit_id`` and the area columns), for the tables by area.
    before, after
        Doctors per site (matrix rows) today, and after the scenario (None: no scenario).
    pool, pool_start, pool_sites
        The scenario's pool, the doctors per site before it (after the additions) and the
        sites it may use, to place it again by this criterion.
    priority_line, decay, demand
        The floating catchment's line (supply per unit of demand), decay and demand, to
        judge both allocations by the APL line too.
    """

    def assigned(doctors: np.ndarray) -> CapacityAssignment:
        return assign_patients(
            matrix, doctors, people, threshold_min=threshold_min, patients_per_gp=patients_per_gp, counted=counted
        )

    first = assigned(before)
    second = assigned(after) if after is not None else None
    by_area = unmet_by_area(units, first, second)
    placed = comparison = None
    if pool is not None and pool_start is not None and after is not None:
        placed = allocate_pool_by_capacity(
            matrix,
            pool_start,
            people,
            pool=float(pool.supply),
            team_size=float(pool.team_size),
            sites=pool_sites,
            max_per_site=pool.max_per_site,
            threshold_min=threshold_min,
            patients_per_gp=patients_per_gp,
            counted=counted,
        )
        comparison = compare_pool_allocations(
            matrix,
            pool_start,
            people,
            {BY_APL: after, BY_CAPACITY: placed.doctors},
            threshold_min=threshold_min,
            priority_line=priority_line,
            patients_per_gp=patients_per_gp,
            demand=demand,
            **({} if decay is None else {"decay": decay}),
            counted=counted,
        )
    return CapacityStudy(before=first, after=second, by_area=by_area, pool=placed, comparison=comparison)


def unmet_by_area(
    units: pd.DataFrame,
    before: CapacityAssignment,
    after: CapacityAssignment | None = None,
    *,
    levels: Mapping[str, tuple[str, str | None]] = AREA_LEVELS,
) -> pd.DataFrame:
    """People without an accessible doctor with room, per area of each level, before and after.

    ``units`` gives ``unit_id`` and each level's id (and name) column (default: commune,
    canton, EPCI, department; absent levels are skipped).  Only the counted units of the
    assignments are summed.  Units without a code are one row of their own (``area_id``
    empty), with a warning, so that each level adds up to the total.

    Returns
    -------
    pandas.DataFrame
        ``level``, ``area_id``, ``area_name``, ``population``, ``unmet_before``,
        ``share_unmet_before`` and, with ``after``, ``unmet_after``,
        ``share_unmet_after`` and ``change`` (after - before).
    """
    if "unit_id" not in units:
        raise InputDataError("the units table has no unit_id column")
    frame = pd.DataFrame(
        {
            "unit_id": before.unit_ids[before.counted],
            "population": before.population[before.counted],
            "unmet_before": before.unserved[before.counted],
        }
    )
    columns = ["level", "area_id", "area_name", "population", "unmet_before", "share_unmet_before"]
    if after is not None:
        if not np.array_equal(after.unit_ids, before.unit_ids):
            raise InputDataError("the assignments before and after have different units")
        frame["unmet_after"] = after.unserved[before.counted]
        columns += ["unmet_after", "share_unmet_after", "change"]
    wanted = [c for pair in levels.values() for c in pair if c and c in units.columns and c != "unit_id"]
    admin = pd.DataFrame(units[wanted]).assign(unit_id=units["unit_id"].astype(str).to_numpy())
    frame = frame.merge(admin.drop_duplicates("unit_id"), on="unit_id", how="left")
    sums = [c for c in ("population", "unmet_before", "unmet_after") if c in frame]
    parts = []
    for level, (id_col, name_col) in levels.items():
        if id_col not in frame:
            continue
        codes = area_codes(frame[id_col])
        if codes.isna().all():
            continue
        report_missing_codes(codes, frame["unit_id"], level)
        key = codes.fillna(NO_CODE)
        agg = frame.groupby(key, sort=True)[sums].sum()
        names = common_names(key, frame[name_col]) if name_col and name_col in frame else {}
        table = agg.reset_index(names="area_id").assign(level=level)
        table["area_name"] = [f"(no {level} code)" if a == NO_CODE else names.get(a, "") for a in table["area_id"]]
        parts.append(table)
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        for when in ("before", "after"):
            if f"unmet_{when}" in out:
                out[f"share_unmet_{when}"] = np.where(
                    out["population"] > 0, out[f"unmet_{when}"] / out["population"], np.nan
                )
    if after is not None:
        out["change"] = out["unmet_after"] - out["unmet_before"]
    return out[columns]

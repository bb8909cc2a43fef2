"""Accessibility per inhabitant on a gap analysis, before and after a scenario.

:func:`study_access` takes a finished :class:`~coverage.analysis.GapAnalysis` (its
network, snapping and units), the facilities' supply and the population's demand, and
computes the floating-catchment accessibility (:mod:`coverage.accessibility`) before and
after a :class:`~coverage.scenarios.Scenario`: doctors added at named sites (existing
facilities, communes or points) and a pool of doctors shared out in teams across
candidate sites.  The result is an :class:`AccessStudy`.
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

from coverage.access_tables import areas_table, sites_table, units_table
from coverage.accessibility import (
    FloatingCatchment,
    age_weighted_demand,
    facility_supply,
    floating_catchment,
)
from coverage.analysis import GapAnalysis
from coverage.capacity_study import CapacityStudy, study_capacity
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, analysis_matrix
from coverage.phasing import Schedule
from coverage.phasing_pool import PhasedPool, phase_pool
from coverage.pool import PoolAllocation, allocate_pool
from coverage.scenarios import ABOVE, PRIORITY, AccessSettings, Scenario

__all__ = ["AccessStudy", "study_access"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class AccessStudy:
    """Accessibility before and after a scenario.

    Attributes
    ----------
    settings, scenario
        What was computed.
    sites
        One row per site of the matrix: existing facilities (``kind`` ``"facility"``)
        and new sites (additions and pool candidates), with ``supply_before``,
        ``supply_added``, ``supply_after``, ``supply_source`` (``stated``,
        ``default`` or ``new``), ``teams``, the network ``node`` and ``access_minutes``
        of the site; geometry in EPSG:4326.
    units
        One row per unit: ``population``, ``demand``, ``accessibility`` (baseline),
        ``accessibility_scenario``, ``change``, ``class``, ``class_scenario``, the
        minutes to the nearest facility and the administrative columns; the unit's
        polygon (``area``) kept when it has one.
    by_area
        Demand-weighted accessibility per commune, EPCI and department, before and
        after, with the population in priority zones.
    classes
        Population per class, before and after.
    allocation_steps
        The pool's teams in the order the greedy placed them (empty without a pool).
    baseline, result
        The floating-catchment results (``result`` is the baseline when the scenario is
        empty).
    matrix
        Minutes from units to sites up to the decay's last band (the units around the
        territory, if any, after its own).
    outside_population
        People around the territory whose demand competed for its sites (0: none given).
    pool_phasing
        With a pool and its schedule: the pool's teams year by year
        (:func:`~coverage.phasing_pool.phase_pool`).
    capacity
        With ``settings.capacity_minutes``: the doctors' patient lists before and after
        the scenario, and the pool placed by them (:mod:`coverage.capacity_study`).
    """

    settings: AccessSettings
    scenario: Scenario
    sites: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    by_area: pd.DataFrame
    classes: pd.DataFrame
    allocation_steps: pd.DataFrame
    baseline: FloatingCatchment
    result: FloatingCatchment
    matrix: CoverageMatrix
    timings: dict[str, float] = field(default_factory=dict)
    outside_population: float = 0.0
    pool_phasing: PhasedPool | None = None
    capacity: CapacityStudy | None = None

    def summary(self) -> dict[str, Any]:
        """Key figures, for run.json and the terminal."""
        s = self.settings
        pop = self.units["population"].to_numpy(dtype=float)
        classes = self.classes.set_index("class")
        added = self.sites["supply_added"].to_numpy(dtype=float)
        return {
            "scenario": self.scenario.name,
            "unit": s.unit_label,
            "priority_line": s.priority_line_value,
            "population_total": float(pop.sum()),
            "supply_total_before": float(self.baseline.supply.sum()),
            "supply_added": float(added.sum()),
            "supply_unused_before": self.baseline.unused_supply,
            "mean_accessibility_before": _mean(self.units["accessibility"], self.units["demand"]),
            "mean_accessibility_after": _mean(self.units["accessibility_scenario"], self.units["demand"]),
            "population_priority_before": float(classes.loc[PRIORITY, "population"]),
            "population_priority_after": float(classes.loc[PRIORITY, "population_scenario"]),
            "population_without_gp_in_reach_before": float(pop[self.baseline.accessibility <= 0].sum()),
            "population_without_gp_in_reach_after": float(pop[self.result.accessibility <= 0].sum()),
            "population_around_competing": self.outside_population,
            "sites_receiving": int((added > 0).sum()),
            "teams_placed": len(self.allocation_steps),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            **({"pool_phasing": self._phasing()} if self.pool_phasing is not None else {}),
            **({"patient_lists": self.capacity.summary()} if self.capacity is not None else {}),
        }

    def _phasing(self) -> dict[str, Any]:
        phased = self.pool_phasing
        assert phased is not None
        return {
            "schedule": phased.schedule.as_dict(),
            "people_above_person_years": phased.objective,
            "pool_order_person_years": phased.pool_objective,
            "exchanges": phased.exchanges,
            "status": phased.status,
        }


def _mean(values: pd.Series, weights: pd.Series) -> float:
    w = weights.to_numpy(dtype=float)
    return float((values.to_numpy(dtype=float) * w).sum() / w.sum()) if w.sum() > 0 else math.nan


def _demand(analysis: GapAnalysis, settings: AccessSettings, ages: pd.DataFrame | None) -> pd.Series:
    units = analysis.units
    if settings.age_weights:
        where = f"age table {settings.age_table}" if settings.age_table is not None else "units (age columns)"
        if ages is None and settings.age_table is not None:
            raise InputDataError(f"{where}: read it first (coverage.io.settings.read_age_table) and pass it as ages=")
        return age_weighted_demand(
            units,
            settings.age_weights,
            ages=ages,
            id_column=settings.age_id_column if ages is not None else "unit_id",
            where=where,
        )
    return pd.Series(
        units["population"].to_numpy(dtype=float),
        index=pd.Index(units["unit_id"].astype(str).to_numpy(), name="unit_id"),
        name="demand",
    )


def _new_sites(
    analysis: GapAnalysis, scenario: Scenario, facility_ids: set[str]
) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """New sites: the communes and points of additions, and the pool's commune candidates.

    Returns the sites (``site_id``, ``name``, ``source``, point) and, for each addition
    number, the id of its site.
    """
    units = analysis.units.assign(unit_id=analysis.units["unit_id"].astype(str)).to_crs("EPSG:4326")
    by_id = units.set_index("unit_id")
    rows: dict[str, dict[str, Any]] = {}
    of_addition: dict[int, str] = {}
    for n, add in enumerate(scenario.additions):
        if add.facility is not None:
            if add.facility not in facility_ids:
                raise InputDataError(
                    f"scenario {scenario.name!r}, {add.label}: no such facility on the input list "
                    f"(ids look like {sorted(facility_ids)[:3]})"
                )
            of_addition[n] = add.facility
        elif add.commune is not None:
            if add.commune not in by_id.index:
                raise InputDataError(
                    f"scenario {scenario.name!r}, addition {n + 1}: {add.commune!r} is neither a facility id "
                    f"(they look like {sorted(facility_ids)[:3]}) nor a population unit (commune) id "
                    f"(they look like {sorted(by_id.index.astype(str))[:3]})"
                )
            unit = by_id.loc[add.commune]
            rows.setdefault(
                add.commune,
                {
                    "site_id": add.commune,
                    "name": add.name or str(unit["name"]),
                    "source": "addition (commune)",
                    "geometry": unit.geometry,
                },
            )
            of_addition[n] = add.commune
        else:
            from shapely.geometry import Point

            site_id = f"new-{n + 1}"
            rows[site_id] = {
                "site_id": site_id,
                "name": add.name or site_id,
                "source": "addition (point)",
                "geometry": Point(float(add.lon), float(add.lat)),  # type: ignore[arg-type]
            }
            of_addition[n] = site_id
    pool = scenario.pool
    if pool is not None and "communes" in pool.candidates:
        excluded = set(pool.exclude)
        for unit_id, unit in by_id.iterrows():
            if unit_id not in excluded and unit_id not in rows and unit["population"] >= pool.min_population:
                rows[str(unit_id)] = {
                    "site_id": str(unit_id),
                    "name": str(unit["name"]),
                    "source": "pool candidate (town hall)",
                    "geometry": unit.geometry,
                }
    clash = sorted(set(rows) & facility_ids)
    if clash:
        raise InputDataError(f"unit ids that are also facility ids: {clash[:10]}; rename the facilities")
    frame = gpd.GeoDataFrame(
        list(rows.values()), columns=["site_id", "name", "source", "geometry"], geometry="geometry", crs="EPSG:4326"
    )
    return frame, of_addition


def study_access(
    analysis: GapAnalysis,
    settings: AccessSettings | None = None,
    scenario: Scenario | None = None,
    *,
    ages: pd.DataFrame | None = None,
    facilities_source: str = "facilities",
    workers: int | None = None,
    progress: bool = False,
    outside: gpd.GeoDataFrame | None = None,
) -> AccessStudy:
    """Accessibility of every unit before and after ``scenario``.

    Parameters
    ----------
    analysis
        The gap analysis of the territory: its facilities (with the supply column), units,
        network and snapping parameters are reused.
    settings
        How accessibility is measured (:class:`AccessSettings`).
    scenario
        Doctors to add and a pool to share out (default: none, the baseline only).
    ages
        Age table for age-weighted demand, when ``settings.age_weights`` is set and the
        age columns are neither in the units nor in ``settings.age_table``.
    facilities_source
        How errors and warnings about the supply column name the facilities (e.g.
        ``"facilities file path.csv"``).
    workers
        Processes for the minutes from units to sites.
    outside
        Population units around the territory (``unit_id``, ``population``, points; the
        age columns too with age weights), e.g. the grid cells within the road buffer:
        their demand competes for the sites' doctors (step 1 of the floating catchment,
        the usual correction of edge effects), but they get no accessibility, count in no
        table or figure, and the pool is shared out for the territory's people only.
        Doctors outside the territory are not known: near its border, the correction
        counts these people's demand on the territory's doctors only, and so lowers the
        border's accessibility more than their own doctors would.
    """
    settings = settings or AccessSettings()
    scenario = scenario or Scenario(name="baseline")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    facilities = analysis.facilities.assign(facility_id=analysis.facilities["facility_id"].astype(str))
    supply, source = facility_supply(
        facilities, settings.supply_column, default=settings.default_supply, where=facilities_source
    )
    off = facilities.loc[facilities["beyond_max_snap"].to_numpy(dtype=bool), "facility_id"]
    if len(off) and supply.loc[off.to_numpy()].sum() > 0:
        logger.warning(
            "%d facilities are off the network (beyond the maximum snap distance); their %g doctors reach nobody: %s",
            len(off),
            supply.loc[off.to_numpy()].sum(),
            ", ".join(off.head(10)),
        )
    pool_exclude = set(scenario.pool.exclude) if scenario.pool is not None else set()
    if unknown := sorted(pool_exclude - set(facilities["facility_id"]) - set(analysis.units["unit_id"].astype(str))):
        raise InputDataError(
            f"scenario {scenario.name!r}, pool exclude: {len(unknown)} ids are neither a facility nor a "
            f"population unit: {', '.join(unknown[:20])}"
        )
    demand = _demand(analysis, settings, ages)
    n_units = len(demand)
    outside = outside if outside is not None and len(outside) else None
    if outside is not None:
        demand = pd.concat([demand, _outside_demand(outside, settings, demand.attrs.get("standard"))])
    new, of_addition = _new_sites(analysis, scenario, set(facilities["facility_id"]))

    # minutes from units to every site, up to the decay's last band
    matrix = analysis_matrix(
        analysis,
        new,
        max(settings.decay.max_minutes, settings.capacity_minutes or 0.0),
        id_column="site_id",
        new_first=False,
        what="new sites",
        workers=workers,
        progress=progress,
        outside=outside,
    )
    site_ids = matrix.site_ids
    timings["matrix"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_fac = len(facilities)
    before = np.concatenate([supply.to_numpy(dtype=float), np.zeros(len(new))])
    baseline = floating_catchment(matrix, before, demand, settings.decay)
    after = before.copy()
    position = {s: i for i, s in enumerate(site_ids)}
    for n, add in enumerate(scenario.additions):
        after[position[of_addition[n]]] += float(add.supply)
    steps = pd.DataFrame(columns=["step", "site_id", "supply_added", "people_lifted", "shortfall_reduced"])
    teams = np.zeros(len(site_ids), dtype=int)
    people = analysis.units["population"].to_numpy(dtype=float)
    counted = np.arange(len(demand)) < n_units  # the territory's units, not those around it
    pool_phasing = None
    pool_start, eligible = after.copy(), None
    if scenario.pool is not None:
        pool = scenario.pool
        excluded = set(pool.exclude)
        kinds = {"facilities": slice(0, n_fac), "communes": slice(n_fac, None)}
        eligible = [
            str(site)
            for kind, rows in kinds.items()
            if kind in pool.candidates
            for site in site_ids[rows]
            if site not in excluded
        ]
        allocation: PoolAllocation = allocate_pool(
            matrix,
            after,
            demand,
            pool=float(pool.supply),
            team_size=float(pool.team_size),
            priority_line=settings.priority_line_value / settings.scale,
            decay=settings.decay,
            sites=eligible,
            people=np.concatenate([people, np.zeros(len(demand) - n_units)]),
            max_per_site=pool.max_per_site,
            counted=None if outside is None else counted,
        )
        if pool.schedule is not None:
            t1 = time.perf_counter()
            pool_phasing = phase_pool(
                matrix,
                after,
                demand,
                allocation.steps,
                Schedule.parse(pool.schedule, total=float(pool.supply)),
                priority_line=settings.priority_line_value / settings.scale,
                decay=settings.decay,
                people=np.concatenate([people, np.zeros(len(demand) - n_units)]),
                counted=counted,
            )
            timings["phasing of the pool"] = time.perf_counter() - t1
        after = allocation.supply
        steps = allocation.steps
        counts = steps["site_id"].map(position).value_counts()
        teams[counts.index.to_numpy(dtype=int)] = counts.to_numpy()
    result = floating_catchment(matrix, after, demand, settings.decay) if not scenario.is_empty else baseline
    timings["floating catchment and scenario"] = time.perf_counter() - t0
    capacity = None
    if settings.capacity_minutes is not None:
        t0 = time.perf_counter()
        # the people around the territory compete for its doctors' lists too (counted in no total)
        around = np.zeros(0) if outside is None else outside["population"].to_numpy(dtype=float)
        capacity = study_capacity(
            matrix,
            analysis.units,
            pd.Series(np.concatenate([people, around]), index=demand.index),
            counted,
            before,
            None if scenario.is_empty else after,
            threshold_min=float(settings.capacity_minutes),
            patients_per_gp=settings.patients_per_gp,
            pool=scenario.pool,
            pool_start=pool_start,
            pool_sites=eligible,
            priority_line=settings.priority_line_value / settings.scale,
            decay=settings.decay,
            demand=demand.to_numpy(dtype=float),
        )
        timings["patient lists"] = time.perf_counter() - t0
    baseline, result = _territory_only(baseline, n_units), _territory_only(result, n_units)

    sites = sites_table(facilities, new, supply, source, before, after, teams, of_addition, analysis.units)
    units = units_table(analysis, settings, baseline, result, people)
    by_area = areas_table(units, settings, sites)
    classes = pd.DataFrame(
        {
            "class": [PRIORITY, ABOVE],
            "population": [people[units["class"] == c].sum() for c in (PRIORITY, ABOVE)],
            "population_scenario": [people[units["class_scenario"] == c].sum() for c in (PRIORITY, ABOVE)],
        }
    )
    total = people.sum()
    classes["share"] = classes["population"] / total if total > 0 else np.nan
    classes["share_scenario"] = classes["population_scenario"] / total if total > 0 else np.nan
    if len(steps):
        steps = steps.merge(sites[["site_id", "name", "kind", "commune", "department"]], on="site_id", how="left")
        scale = settings.scale
        steps["shortfall_reduced"] = steps["shortfall_reduced"] * scale
    return AccessStudy(
        settings=settings,
        scenario=scenario,
        sites=sites,
        units=units,
        by_area=by_area,
        classes=classes,
        allocation_steps=steps.reset_index(drop=True),
        baseline=baseline,
        result=result,
        matrix=matrix,
        timings=timings,
        outside_population=0.0 if outside is None else float(outside["population"].sum()),
        pool_phasing=pool_phasing,
        capacity=capacity,
    )


def _outside_demand(outside: gpd.GeoDataFrame, settings: AccessSettings, standard: float | None) -> pd.Series:
    """The demand of the units around the territory, weighted by age as the territory's
    (against the territory's standardised inhabitant, ``standard``)."""
    where = "units around the territory"
    if "unit_id" not in outside or "population" not in outside:
        raise InputDataError(f"{where}: expected the columns unit_id and population")
    twice = outside["unit_id"].astype(str)
    if twice.duplicated().any():
        raise InputDataError(f"{where}: unit_id {twice[twice.duplicated()].iloc[0]!r} appears twice")
    if settings.age_weights:
        return age_weighted_demand(outside, settings.age_weights, where=where, standard=standard)
    values = pd.to_numeric(outside["population"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).all() or (values < 0).any():
        raise InputDataError(f"{where}: population must be a finite number, 0 or more, in every row")
    return pd.Series(values, index=pd.Index(outside["unit_id"].astype(str).to_numpy(), name="unit_id"), name="demand")


def _territory_only(catchment: FloatingCatchment, n_units: int) -> FloatingCatchment:
    """The result for the territory's units (the first ``n_units``); the sites' ratios
    keep the demand of every unit."""
    if len(catchment.unit_ids) == n_units:
        return catchment
    return replace(
        catchment,
        unit_ids=catchment.unit_ids[:n_units],
        accessibility=catchment.accessibility[:n_units],
        demand=catchment.demand[:n_units],
    )

"""Accessibility per inhabitant on a gap analysis, and the salaried-doctor scenarios.

:func:`study_access` takes a finished :class:`~coverage.analysis.GapAnalysis` (its
network, snapping and units), the facilities' supply and the population's demand, and
computes the floating-catchment accessibility (:mod:`coverage.accessibility`) before and
after a :class:`Scenario`: doctors added at named sites (existing facilities, communes or
points) and a pool of doctors shared out in teams across candidate sites.  A scenario can
be written in a TOML file (:func:`load_scenario`); see ``geodata/scenarios/``.

Units of the result (:class:`AccessSettings`): ``"consultations"`` gives consultations per
year per standardised inhabitant (supply in GP full-time equivalents times the
consultations of one FTE, 5,400 by default, the figure ARS documentation uses to turn an
APL in FTE into consultations), the unit of DREES's APL, whose priority-zone line is 2.5;
``"gps"`` gives GPs per ``per_inhabitants`` (100,000) inhabitants.
"""

from __future__ import annotations

import logging
import math
import time
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.accessibility import (
    DEFAULT_BANDS,
    ContinuousDecay,
    FloatingCatchment,
    PoolAllocation,
    StepDecay,
    age_weighted_demand,
    allocate_pool,
    facility_supply,
    floating_catchment,
    parse_bands,
)
from coverage.analysis import GapAnalysis
from coverage.candidates import attach_unit_areas
from coverage.errors import InputDataError, InputFileNotFoundError
from coverage.matrix import CoverageMatrix, coverage_matrix
from coverage.snapping import snap_points
from coverage.stats import AREA_LEVELS

__all__ = [
    "MEASURES",
    "AccessSettings",
    "AccessStudy",
    "Addition",
    "Pool",
    "Scenario",
    "load_scenario",
    "study_access",
]

logger = logging.getLogger(__name__)

MEASURES = ("consultations", "gps")
#: Candidate sets a pool may use: existing facilities, commune town halls, or both.
POOL_CANDIDATES = ("facilities", "communes", "facilities+communes")
PRIORITY, ABOVE = "priority", "above threshold"


@dataclass(frozen=True)
class AccessSettings:
    """How accessibility is measured.

    Attributes
    ----------
    decay
        Distance decay: steps (:data:`~coverage.accessibility.DEFAULT_BANDS`: 1 up to 10 min,
        2/3 up to 15, 1/3 up to 20, 0 beyond) or a
        :class:`~coverage.accessibility.ContinuousDecay`.
    measure
        ``"consultations"`` (per year per standardised inhabitant) or ``"gps"`` (GPs
        per ``per_inhabitants``).
    consultations_per_fte
        Consultations a year of one GP full-time equivalent.
    per_inhabitants
        Denominator of the ``"gps"`` measure.
    threshold
        Priority line in the measure's unit; default 2.5 consultations (DREES's line
        for priority zones), or its equivalent in GPs
        (``2.5 * per_inhabitants / consultations_per_fte``).
    supply_column
        Column of the facility input with the GPs (or FTE) of each facility.
    default_supply
        Supply of facilities whose cell is empty (default: median of the stated ones);
        always logged as a warning.
    age_weights
        Age column -> consumption weight; demand is then age-standardised
        (:func:`~coverage.accessibility.age_weighted_demand`).
    age_table, age_id_column
        File with the age columns, joined on ``age_id_column`` (default: the columns
        are in the units themselves).
    """

    decay: StepDecay | ContinuousDecay = DEFAULT_BANDS
    measure: str = "consultations"
    consultations_per_fte: float = 5400.0
    per_inhabitants: float = 100_000.0
    threshold: float | None = None
    supply_column: str = "n_gp"
    default_supply: float | None = None
    age_weights: dict[str, float] | None = None
    age_table: Path | None = None
    age_id_column: str = "code_insee"

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise InputDataError(f"unknown measure {self.measure!r}; expected one of {', '.join(MEASURES)}")
        for name in ("consultations_per_fte", "per_inhabitants"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise InputDataError(f"{name} must be a positive number, got {value!r}")
        if self.threshold is not None and not (isinstance(self.threshold, (int, float)) and self.threshold > 0):
            raise InputDataError(f"the accessibility threshold must be a positive number, got {self.threshold!r}")
        if self.default_supply is not None and not (
            isinstance(self.default_supply, (int, float)) and self.default_supply >= 0
        ):
            raise InputDataError(f"default_supply must be a non-negative number, got {self.default_supply!r}")

    @property
    def scale(self) -> float:
        """Factor from supply per unit of demand (GPs per person) to the measure."""
        return float(self.consultations_per_fte if self.measure == "consultations" else self.per_inhabitants)

    @property
    def threshold_value(self) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        if self.measure == "consultations":
            return 2.5
        return 2.5 * self.per_inhabitants / self.consultations_per_fte

    @property
    def unit_label(self) -> str:
        if self.measure == "consultations":
            return "consultations per year per standardised inhabitant"
        return f"GPs per {self.per_inhabitants:,.0f} inhabitants"

    def as_dict(self) -> dict[str, Any]:
        return {
            "decay": self.decay.describe(),
            "measure": self.measure,
            "unit": self.unit_label,
            "consultations_per_fte": self.consultations_per_fte,
            "per_inhabitants": self.per_inhabitants,
            "threshold": self.threshold_value,
            "supply_column": self.supply_column,
            "default_supply": self.default_supply,
            "age_weights": self.age_weights,
            "age_table": None if self.age_table is None else str(self.age_table),
            "age_id_column": self.age_id_column,
        }


@dataclass(frozen=True)
class Addition:
    """``supply`` doctors (GPs or FTE) added at one site: an existing ``facility`` (its
    id), a ``commune`` (a unit id: the site is the unit's point, its town hall), or a
    point ``lon``/``lat`` (EPSG:4326).  ``name`` labels a new site."""

    supply: float
    facility: str | None = None
    commune: str | None = None
    lon: float | None = None
    lat: float | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.supply, (int, float)) and self.supply > 0):
            raise InputDataError(f"an addition needs a positive number of doctors, got {self.supply!r}")
        given = [self.facility is not None, self.commune is not None, self.lon is not None or self.lat is not None]
        if sum(given) != 1:
            raise InputDataError("an addition needs exactly one place: facility, commune, or lon and lat")
        if given[2] and (self.lon is None or self.lat is None or abs(self.lon) > 180 or abs(self.lat) > 90):
            raise InputDataError(
                f"an addition at a point needs a longitude and a latitude, got ({self.lon}, {self.lat})"
            )

    @property
    def label(self) -> str:
        if self.facility is not None:
            return f"facility {self.facility}"
        if self.commune is not None:
            return f"commune {self.commune}"
        return f"point ({self.lon}, {self.lat})"


@dataclass(frozen=True)
class Pool:
    """A pool of ``supply`` doctors placed in teams of ``team_size`` by the greedy of
    :func:`~coverage.accessibility.allocate_pool`.

    ``candidates``: ``"facilities"``, ``"communes"`` (every unit's point, and the new
    sites of the scenario's additions) or ``"facilities+communes"``; ``exclude``: unit or
    facility ids left out; ``min_population``: a commune's town hall is a candidate only
    when the commune has at least this many inhabitants (a team of salaried GPs settles in
    a bourg rather than a hamlet; existing facilities and the sites of additions are kept
    whatever their commune's size);
    ``max_per_site``: most doctors one site may receive.
    """

    supply: float
    team_size: float = 1.0
    candidates: str = "facilities+communes"
    max_per_site: float | None = None
    exclude: tuple[str, ...] = ()
    min_population: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.supply, (int, float)) and self.supply > 0):
            raise InputDataError(f"the pool needs a positive number of doctors, got {self.supply!r}")
        if not (isinstance(self.team_size, (int, float)) and self.team_size > 0):
            raise InputDataError(f"the team size must be a positive number, got {self.team_size!r}")
        if self.candidates not in POOL_CANDIDATES:
            raise InputDataError(
                f"unknown pool candidates {self.candidates!r}; expected one of {', '.join(POOL_CANDIDATES)}"
            )
        if not (isinstance(self.min_population, (int, float)) and self.min_population >= 0):
            raise InputDataError(f"min_population must be a non-negative number, got {self.min_population!r}")
        if self.max_per_site is not None and not (
            isinstance(self.max_per_site, (int, float)) and self.max_per_site >= self.team_size
        ):
            raise InputDataError(
                f"max_per_site ({self.max_per_site!r}) must be a number at least the team size ({self.team_size})"
            )


@dataclass(frozen=True)
class Scenario:
    """Doctors added at named sites, then a pool shared out (either may be absent)."""

    name: str = "scenario"
    additions: tuple[Addition, ...] = ()
    pool: Pool | None = None

    @property
    def is_empty(self) -> bool:
        return not self.additions and self.pool is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "additions": [{k: v for k, v in vars(a).items() if v is not None} for a in self.additions],
            "pool": None if self.pool is None else {**vars(self.pool), "exclude": list(self.pool.exclude)},
        }


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputDataError(f"{where}: [{key}] must be a table, got {value!r}")
    return value


def _check_keys(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise InputDataError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")


def load_scenario(path: str | Path) -> tuple[AccessSettings, Scenario]:
    """Settings and scenario from a TOML file (every table optional)::

    [accessibility]               # AccessSettings; bands as [[minutes, weight], ...]
    bands = [[10, 1.0], [15, 0.67], [20, 0.33]]
    # or a continuous decay: decay = { shape = "gaussian", max_minutes = 20 }
    measure = "consultations"
    threshold = 2.5
    supply_column = "n_gp"
    default_supply = 2
    age_table = "ages.csv"        # relative to the TOML file
    age_id_column = "CODGEO"
    [accessibility.age_weights]
    P21_POP0014 = 2.9
    P21_POP75P = 7.1

    [scenario]
    name = "300 salaried GPs"
    [[scenario.add]]              # Addition: facility, commune, or lon/lat
    gps = 3
    commune = "36063"
    [scenario.pool]               # Pool
    gps = 300
    team_size = 3
    min_population = 1000         # town halls of communes of at least 1,000 inhabitants
    """
    path = Path(path)
    where = f"scenario file {path}"
    if not path.exists():
        raise InputFileNotFoundError(f"{where}: file not found")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{where}: not UTF-8 text; TOML files must be UTF-8 ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputDataError(f"{where}: not valid TOML ({exc})") from exc
    _check_keys(data, {"accessibility", "scenario"}, where)

    acc = dict(_table(data, "accessibility", where))
    known = {f.name for f in fields(AccessSettings)} | {"bands"}
    _check_keys(acc, known, f"{where}, [accessibility]")
    try:
        if "bands" in acc and "decay" in acc:
            raise InputDataError("give either bands or a continuous decay, not both")
        if "bands" in acc:
            acc["decay"] = parse_bands(acc.pop("bands"))
        elif "decay" in acc:
            decay = acc["decay"]
            if not isinstance(decay, dict) or set(decay) != {"shape", "max_minutes"}:
                raise InputDataError(f"decay must be a table with shape and max_minutes, got {decay!r}")
            acc["decay"] = ContinuousDecay(str(decay["shape"]), decay["max_minutes"])
        if "age_table" in acc:
            acc["age_table"] = (path.parent / str(acc["age_table"])).resolve()
        if "age_weights" in acc and not isinstance(acc["age_weights"], dict):
            raise InputDataError(f"age_weights must be a table of column = weight, got {acc['age_weights']!r}")
        settings = AccessSettings(**acc)
    except (InputDataError, TypeError) as exc:
        raise InputDataError(f"{where}, [accessibility]: {exc}") from exc

    sc = _table(data, "scenario", where)
    _check_keys(sc, {"name", "add", "pool"}, f"{where}, [scenario]")
    additions = []
    adds = sc.get("add", [])
    if not isinstance(adds, list):
        raise InputDataError(f"{where}: [[scenario.add]] must be an array of tables")
    for n, item in enumerate(adds, start=1):
        here = f"{where}, addition {n}"
        if not isinstance(item, dict):
            raise InputDataError(f"{here}: expected a table, got {item!r}")
        _check_keys(item, {"gps", "facility", "commune", "lon", "lat", "name"}, here)
        if "gps" not in item:
            raise InputDataError(f"{here}: say how many doctors with gps = N")
        args: dict[str, Any] = {k: (str(v) if k in {"facility", "commune", "name"} else v) for k, v in item.items()}
        try:
            additions.append(Addition(supply=args.pop("gps"), **args))
        except InputDataError as exc:
            raise InputDataError(f"{here}: {exc}") from exc
    pool = None
    if "pool" in sc:
        p = sc["pool"]
        if not isinstance(p, dict):
            raise InputDataError(f"{where}: [scenario.pool] must be a table")
        _check_keys(
            p,
            {"gps", "team_size", "candidates", "max_per_site", "exclude", "min_population"},
            f"{where}, [scenario.pool]",
        )
        if "gps" not in p:
            raise InputDataError(f"{where}, [scenario.pool]: say how many doctors with gps = N")
        try:
            pool = Pool(
                supply=p["gps"],
                team_size=p.get("team_size", 1.0),
                candidates=p.get("candidates", "facilities+communes"),
                max_per_site=p.get("max_per_site"),
                exclude=tuple(str(x) for x in p.get("exclude", [])),
                min_population=p.get("min_population", 0.0),
            )
        except InputDataError as exc:
            raise InputDataError(f"{where}, [scenario.pool]: {exc}") from exc
    return settings, Scenario(name=str(sc.get("name", path.stem)), additions=tuple(additions), pool=pool)


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
        Minutes from units to sites up to the decay's last band.
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

    def summary(self) -> dict[str, Any]:
        """Key figures, for run.json and the terminal."""
        s = self.settings
        pop = self.units["population"].to_numpy(dtype=float)
        classes = self.classes.set_index("class")
        added = self.sites["supply_added"].to_numpy(dtype=float)
        return {
            "scenario": self.scenario.name,
            "unit": s.unit_label,
            "threshold": s.threshold_value,
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
            "sites_receiving": int((added > 0).sum()),
            "teams_placed": len(self.allocation_steps),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _mean(values: pd.Series, weights: pd.Series) -> float:
    w = weights.to_numpy(dtype=float)
    return float((values.to_numpy(dtype=float) * w).sum() / w.sum()) if w.sum() > 0 else math.nan


def _demand(analysis: GapAnalysis, settings: AccessSettings, ages: pd.DataFrame | None) -> pd.Series:
    units = analysis.units
    if settings.age_weights:
        where = f"age table {settings.age_table}" if settings.age_table is not None else "units (age columns)"
        if ages is None and settings.age_table is not None:
            from coverage.io._common import read_csv

            ages = read_csv(Path(settings.age_table), "age table")
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
                raise InputDataError(f"scenario {scenario.name!r}, {add.label}: no population unit with this id")
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
    demand = _demand(analysis, settings, ages)
    new, of_addition = _new_sites(analysis, scenario, set(facilities["facility_id"]))

    # minutes from units to every site, up to the decay's last band
    fac_nodes = analysis.network.indices_of(facilities["node"])
    fac_access = np.where(fac_nodes >= 0, facilities["access_minutes"].to_numpy(dtype=float) * 60.0, 0.0)
    new_nodes = np.empty(0, dtype=np.int64)
    new_access = np.empty(0, dtype=float)
    if len(new):
        snap = snap_points(
            new,
            analysis.network,
            access_speed_kph=analysis.config.access_speed_kph,
            max_snap_m=analysis.config.max_snap_m,
            what="new sites",
            labels=pd.Index(new["site_id"]),
        )
        new_nodes, new_access = snap.node_index, np.nan_to_num(snap.access_seconds)
        new["access_minutes"] = snap.access_seconds / 60.0
        new["snap_distance_m"] = snap.snap_distance_m
        new["node"] = pd.array(snap.node, dtype=object)
    unit_nodes = analysis.network.indices_of(analysis.units["node"])
    unit_access = np.where(unit_nodes >= 0, analysis.units["access_minutes"].to_numpy(dtype=float) * 60.0, 0.0)
    site_ids = np.concatenate([facilities["facility_id"].to_numpy(), new["site_id"].to_numpy()]).astype(object)
    matrix = coverage_matrix(
        analysis.network,
        np.concatenate([fac_nodes, new_nodes]),
        np.concatenate([fac_access, new_access]),
        unit_nodes,
        unit_access,
        settings.decay.max_minutes,
        site_ids=site_ids,
        unit_ids=analysis.units["unit_id"].astype(str).to_numpy(),
        workers=workers,
        progress=progress,
    )
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
            threshold=settings.threshold_value / settings.scale,
            decay=settings.decay,
            sites=eligible,
            people=people,
            max_per_site=pool.max_per_site,
        )
        after = allocation.supply
        steps = allocation.steps
        counts = steps["site_id"].map(position).value_counts()
        teams[counts.index.to_numpy(dtype=int)] = counts.to_numpy()
    result = floating_catchment(matrix, after, demand, settings.decay) if not scenario.is_empty else baseline
    timings["floating catchment and scenario"] = time.perf_counter() - t0

    sites = _sites_table(facilities, new, supply, source, before, after, teams, of_addition, analysis.units)
    units = _units_table(analysis, settings, baseline, result, people)
    by_area = _by_area(units, settings)
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
    )


def _sites_table(
    facilities: gpd.GeoDataFrame,
    new: gpd.GeoDataFrame,
    supply: pd.Series,
    source: pd.Series,
    before: np.ndarray,
    after: np.ndarray,
    teams: np.ndarray,
    of_addition: dict[int, str],
    units: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    fac = pd.DataFrame(
        {
            "site_id": facilities["facility_id"].to_numpy(),
            "name": facilities["name"].astype(str).to_numpy(),
            "kind": "facility",
            "type": facilities["type"].astype(str).to_numpy(),
            "commune": facilities["code_insee"].astype("string").to_numpy() if "code_insee" in facilities else pd.NA,
            "supply_source": source.to_numpy(),
            "node": facilities["node"].to_numpy(dtype=object),
            "access_minutes": facilities["access_minutes"].to_numpy(dtype=float),
        }
    )
    fresh = pd.DataFrame(
        {
            "site_id": new["site_id"].to_numpy(),
            "name": new["name"].astype(str).to_numpy(),
            "kind": "new site",
            "type": new["source"].to_numpy(),
            "commune": [
                s if str(src).endswith(("(commune)", "(town hall)")) else pd.NA
                for s, src in zip(new["site_id"], new["source"], strict=True)
            ],
            "supply_source": "new",
            "node": new["node"].to_numpy(dtype=object) if len(new) else np.empty(0, dtype=object),
            "access_minutes": new["access_minutes"].to_numpy(dtype=float) if len(new) else np.empty(0),
        }
    )
    table = pd.concat([fac, fresh], ignore_index=True)
    added_by: dict[str, list[str]] = {}
    for n, site in of_addition.items():
        added_by.setdefault(site, []).append(f"addition {n + 1}")
    table["supply_before"] = before
    table["supply_added"] = after - before
    table["supply_after"] = after
    table["teams"] = teams
    pooled = [[f"pool ({t} team{'s' if t > 1 else ''})"] if t else [] for t in teams]
    table["added_by"] = [", ".join(added_by.get(s, []) + p) for s, p in zip(table["site_id"], pooled, strict=True)]
    geometry = list(facilities.geometry.to_crs("EPSG:4326")) + list(new.geometry)
    out = gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")
    # commune name and department: from the commune code where known, else the unit
    # area holding the site
    placed = attach_unit_areas(out[["geometry"]], units)
    code = out["commune"].astype("string").fillna(placed["commune"].astype("string"))
    lookup = pd.DataFrame()
    if "commune" in units:
        lookup = pd.DataFrame(units.drop(columns=[c for c in ("geometry", "area") if c in units]))
        lookup = lookup.assign(commune=lookup["commune"].astype("string")).dropna(subset=["commune"])
        lookup = lookup.drop_duplicates("commune").set_index("commune")
    out["commune"] = code
    for col in ("commune_name", "department"):
        from_code = lookup[col].reindex(code.to_numpy()).to_numpy() if col in lookup else pd.NA
        out[col] = pd.Series(from_code, index=out.index, dtype="string").fillna(placed[col].astype("string"))
    return out


def _units_table(
    analysis: GapAnalysis,
    settings: AccessSettings,
    baseline: FloatingCatchment,
    result: FloatingCatchment,
    people: np.ndarray,
) -> gpd.GeoDataFrame:
    units = analysis.units
    scale, threshold = settings.scale, settings.threshold_value
    a0 = baseline.accessibility * scale
    a1 = result.accessibility * scale
    keep = [
        c
        for c in ("unit_id", "name", "commune", "commune_name", "epci", "epci_name", "department", "department_name")
        if c in units.columns
    ]
    table = pd.DataFrame(units[keep]).assign(unit_id=units["unit_id"].astype(str))
    table["population"] = people
    table["demand"] = baseline.demand
    table["minutes_to_nearest"] = units["minutes_to_nearest"].to_numpy(dtype=float)
    table["accessibility"] = a0
    table["accessibility_scenario"] = a1
    table["change"] = a1 - a0
    table["class"] = np.where(a0 < threshold, PRIORITY, ABOVE)
    table["class_scenario"] = np.where(a1 < threshold, PRIORITY, ABOVE)
    out = gpd.GeoDataFrame(table, geometry=units.geometry.to_numpy(), crs=units.crs)
    if "area" in units:
        out["area"] = gpd.GeoSeries(units["area"].to_numpy(), crs=units.crs)
    return out


def _by_area(units: pd.DataFrame, settings: AccessSettings) -> pd.DataFrame:
    rows = []
    frame = pd.DataFrame(units.drop(columns=[c for c in ("geometry", "area") if c in units.columns]))
    frame["_d0"] = frame["demand"] * frame["accessibility"]
    frame["_d1"] = frame["demand"] * frame["accessibility_scenario"]
    frame["_p0"] = np.where(frame["class"] == PRIORITY, frame["population"], 0.0)
    frame["_p1"] = np.where(frame["class_scenario"] == PRIORITY, frame["population"], 0.0)
    for level, (id_col, name_col) in AREA_LEVELS.items():
        if id_col not in frame or frame[id_col].isna().all():
            continue
        key = frame[id_col].astype("string")
        grouped = frame.groupby(key, sort=True)
        agg = grouped[["population", "demand", "_d0", "_d1", "_p0", "_p1"]].sum()
        names = grouped[name_col].first() if name_col and name_col in frame else pd.Series(pd.NA, index=agg.index)
        with np.errstate(divide="ignore", invalid="ignore"):
            a0 = np.where(agg["demand"] > 0, agg["_d0"] / agg["demand"], np.nan)
            a1 = np.where(agg["demand"] > 0, agg["_d1"] / agg["demand"], np.nan)
        rows.append(
            pd.DataFrame(
                {
                    "level": level,
                    "area_id": agg.index.astype(str),
                    "area_name": names.reindex(agg.index).to_numpy(),
                    "population": agg["population"].to_numpy(),
                    "demand": agg["demand"].to_numpy(),
                    "accessibility": a0,
                    "accessibility_scenario": a1,
                    "change": a1 - a0,
                    "population_priority": agg["_p0"].to_numpy(),
                    "population_priority_scenario": agg["_p1"].to_numpy(),
                }
            )
        )
    columns = [
        "level",
        "area_id",
        "area_name",
        "population",
        "demand",
        "accessibility",
        "accessibility_scenario",
        "change",
        "population_priority",
        "population_priority_scenario",
    ]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def with_overrides(settings: AccessSettings, **overrides: Any) -> AccessSettings:
    """A copy of ``settings`` with the overrides that are not None."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

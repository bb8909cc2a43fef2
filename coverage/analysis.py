"""The gap analysis: from a road graph, facilities and population to coverage figures.

:func:`analyse` runs every step on inputs already in memory and returns a
:class:`GapAnalysis`; it reads and writes no file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from coverage.background import Forked, can_fork
from coverage.config import AnalysisConfig
from coverage.errors import InputDataError, NoFacilityReachableError
from coverage.isochrones import isochrones as build_isochrones
from coverage.network import RoutingNetwork, compile_network, largest_strong_component
from coverage.road_edges import RoadEdges
from coverage.shapes import unions_by_key
from coverage.snapping import snap_points
from coverage.stats import coverage_by_area, coverage_summary
from coverage.traveltime import NearestFacility, nearest_facility, unit_travel_times

__all__ = [
    "GapAnalysis",
    "analyse",
    "facility_isochrones",
    "isochrones_beside",
    "prepare_network",
    "with_isochrones_from",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class GapAnalysis:
    """Everything a gap analysis computed.

    Attributes
    ----------
    config
        The parameters used.
    network
        The routable network (largest strongly connected component), compiled.
    units
        Population units with ``node``, ``access_minutes``, ``minutes_to_nearest``,
        ``nearest_facility``, ``nearest_facility_type``, ``snap_distance_m`` and
        ``beyond_max_snap``; geometry in EPSG:4326.
    facilities
        Facilities with ``node``, ``access_minutes``, ``snap_distance_m``,
        ``beyond_max_snap`` and ``shares_node_with`` (the ids of the other facilities
        snapped to the same network node, ``;``-joined, empty for most); geometry in
        EPSG:4326.
    summary
        Coverage per threshold (see :func:`coverage.stats.coverage_summary`).
    by_area
        The same per commune, EPCI and department.
    catchments
        One row per facility that is nearest to some unit: the units it serves.
        Facilities that share a network node share one catchment, under the one with
        the shortest access leg (then the smallest id); its ``shared_with`` lists the
        others.  Ties never depend on the order of the rows.
    isochrones
        One polygon per facility and threshold (empty frame when switched off).
    node_minutes
        Minutes from every network node to its nearest facility (NaN unreachable).
    timings
        Seconds spent in each step.
    """

    config: AnalysisConfig
    network: RoutingNetwork
    units: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    summary: pd.DataFrame
    by_area: pd.DataFrame
    catchments: gpd.GeoDataFrame
    isochrones: gpd.GeoDataFrame
    node_minutes: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)

    def uncovered(self, threshold_min: float | None = None) -> gpd.GeoDataFrame:
        """Units beyond ``threshold_min`` (the smallest threshold by default) or unreachable."""
        t = min(self.config.thresholds_min) if threshold_min is None else float(threshold_min)
        minutes = self.units["minutes_to_nearest"]
        return self.units[minutes.isna() | (minutes > t)]


@contextmanager
def _step(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start
    logger.info("%s: %.2f s", name, timings[name])


def prepare_network(graph: nx.MultiDiGraph | RoadEdges, *, metric_crs: str) -> RoutingNetwork:
    """Largest strongly connected component of the graph, compiled for searches."""
    if isinstance(graph, RoadEdges):
        return compile_network(graph.largest_strong_component(), metric_crs=metric_crs)
    return compile_network(largest_strong_component(graph), metric_crs=metric_crs)


def _check_table(
    frame: gpd.GeoDataFrame, what: str, id_column: str, required: set[str], *, empty_ok: bool = False
) -> None:
    missing = required - set(frame.columns)
    if missing:
        raise InputDataError(f"{what}: missing columns {sorted(missing)}")
    if len(frame) == 0 and not empty_ok:
        raise InputDataError(f"{what}: the table is empty")
    duplicated = frame[id_column].duplicated()
    if duplicated.any():
        raise InputDataError(f"{what}: duplicate {id_column} {frame.loc[duplicated, id_column].head(5).tolist()}")


def _check_units(units: gpd.GeoDataFrame) -> None:
    _check_table(units, "population units", "unit_id", {"unit_id", "name", "population"})
    pop = pd.to_numeric(units["population"], errors="coerce")
    if pop.isna().any() or (pop < 0).any():
        bad = units.loc[pop.isna() | (pop < 0), "unit_id"].head(5).tolist()
        raise InputDataError(f"population units: population must be a non-negative number (units {bad})")


def analyse(
    graph: nx.MultiDiGraph | RoadEdges | RoutingNetwork,
    facilities: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    config: AnalysisConfig | None = None,
    *,
    progress: bool = False,
    workers: int | None = None,
) -> GapAnalysis:
    """Run the gap analysis.

    Parameters
    ----------
    graph
        Road graph with ``travel_time`` on its edges, or the arrays of a line layer
        (:func:`coverage.io.roads.read_road_edges`), reduced here to its largest
        strongly connected component; or a network already compiled.
    facilities
        ``facility_id``, ``name``, ``type`` and point geometry (any CRS).  It may be
        empty (a territory with no known facility, sited from scratch): then nobody is
        covered.
    units
        Population units: ``unit_id``, ``name``, ``population``, point geometry and
        optionally ``area`` (polygons) and the administrative columns ``commune``,
        ``commune_name``, ``epci``, ``epci_name``, ``department``, ``department_name``.
    config
        Parameters; the defaults of :class:`AnalysisConfig` when None.
    progress
        Show progress bars on long steps (on a terminal only).
    workers
        Processes drawing the isochrones (default: every core; 1: none forked).
    """
    config = config or AnalysisConfig()
    _check_table(facilities, "facilities", "facility_id", {"facility_id", "name", "type"}, empty_ok=True)
    _check_units(units)
    # ids are text in every output, whatever type the caller gave them
    facilities = facilities.assign(facility_id=facilities["facility_id"].astype(str))
    units = units.assign(unit_id=units["unit_id"].astype(str))
    timings: dict[str, float] = {}
    with _step(timings, "network"):
        network = graph if isinstance(graph, RoutingNetwork) else prepare_network(graph, metric_crs=config.metric_crs)
    with _step(timings, "snapping"):
        fac_snap = snap_points(
            facilities,
            network,
            access_speed_kph=config.access_speed_kph,
            max_snap_m=config.max_snap_m,
            what="facilities",
            labels=pd.Index(facilities["facility_id"]),
        )
        unit_snap = snap_points(
            units,
            network,
            access_speed_kph=config.access_speed_kph,
            max_snap_m=config.max_snap_m,
            what="population units",
            labels=pd.Index(units["unit_id"]),
        )
    on_network = fac_snap.snapped
    if len(facilities) and not on_network.any():
        raise NoFacilityReachableError(
            f"none of the {len(facilities)} facilities is within {config.max_snap_m:.0f} m of the road "
            "network; do the facilities and the network cover the same territory and CRS?"
        )
    if not unit_snap.snapped.any():
        raise InputDataError(
            f"none of the {len(units)} population units is within {config.max_snap_m:.0f} m of the road "
            "network; do the population and the network cover the same territory and CRS?"
        )
    fac_ids = facilities["facility_id"].to_numpy()[on_network]
    fac_nodes = fac_snap.node_index[on_network]
    fac_access = fac_snap.access_seconds[on_network]
    doors, shared_with = _doors(fac_ids, fac_nodes, fac_access)
    with _step(timings, "nearest facility"):
        if len(doors):
            nearest: NearestFacility = nearest_facility(network, fac_nodes[doors], fac_access[doors])
        else:  # no facility at all (siting from scratch): nobody reaches one
            logger.warning("no facility is given: every inhabitant counts as beyond every threshold")
            nearest = NearestFacility(np.full(network.n_nodes, np.nan), np.full(network.n_nodes, -1, dtype=np.int64))
        times = unit_travel_times(unit_snap, nearest, fac_ids[doors])
    fac_type = dict(zip(facilities["facility_id"], facilities["type"].astype(str), strict=True))
    out_units = units.drop(columns=[c for c in times.columns if c in units.columns]).reset_index(drop=True)
    out_units = pd.concat([out_units, times], axis=1)
    out_units["nearest_facility_type"] = out_units["nearest_facility"].map(fac_type)
    out_units = gpd.GeoDataFrame(out_units, geometry="geometry", crs=units.crs).to_crs("EPSG:4326")
    if "area" in units:
        area_crs = getattr(units["area"], "crs", None) or units.crs
        out_units["area"] = gpd.GeoSeries(out_units["area"].to_numpy(), crs=area_crs).to_crs("EPSG:4326")

    out_fac = facilities.reset_index(drop=True).copy()
    out_fac["node"] = pd.array(fac_snap.node, dtype=object)
    out_fac["access_minutes"] = fac_snap.access_seconds / 60.0
    out_fac["snap_distance_m"] = fac_snap.snap_distance_m
    out_fac["beyond_max_snap"] = fac_snap.beyond_max_snap
    out_fac["shares_node_with"] = [shared_with.get(i, "") for i in out_fac["facility_id"]]
    out_fac = out_fac.to_crs("EPSG:4326")

    if not any(c in out_units.columns and out_units[c].notna().any() for c in ("commune", "epci", "department")):
        logger.warning(
            "the population units carry no commune, EPCI or department: the tables by area are empty "
            "(give the commune table, --communes with --commune-polygons, to fill them)"
        )
    with _step(timings, "statistics"):
        summary = coverage_summary(out_units["minutes_to_nearest"], out_units["population"], config.thresholds_min)
        by_area = coverage_by_area(out_units, config.thresholds_min)
    with _step(timings, "catchments"):
        catchments = _catchments(out_units, out_fac, shared_with)
    iso = gpd.GeoDataFrame(
        columns=["facility_id", "threshold_min", "area_km2", "name", "type"],
        geometry=gpd.GeoSeries([], crs=network.metric_crs),
    )
    result = GapAnalysis(
        config=config,
        network=network,
        units=out_units,
        facilities=out_fac,
        summary=summary,
        by_area=by_area,
        catchments=catchments,
        isochrones=iso,
        node_minutes=nearest.seconds / 60.0,
        timings=timings,
    )
    if config.isochrones:
        with _step(timings, "isochrones"):
            result = replace(result, isochrones=facility_isochrones(result, progress=progress, workers=workers))
    return result


def facility_isochrones(result: GapAnalysis, *, progress: bool = False, workers: int | None = None) -> gpd.GeoDataFrame:
    """The isochrones of the facilities on the network, at the thresholds of ``result.config``.

    One polygon per facility and threshold (:func:`coverage.isochrones.isochrones`), in the
    network's metric CRS, with the facility's ``name`` and ``type``; what :func:`analyse`
    puts in ``isochrones`` when its config asks for them.
    """
    facilities = result.facilities[~result.facilities["beyond_max_snap"].astype(bool)]
    iso = build_isochrones(
        result.network,
        result.network.indices_of(facilities["node"]),
        facilities["access_minutes"].to_numpy(dtype=float) * 60.0,
        facilities["facility_id"].astype(str).tolist(),
        result.config.thresholds_min,
        buffer_m=result.config.isochrone_buffer_m,
        progress=progress,
        workers=workers,
    )
    iso = iso.merge(facilities[["facility_id", "name", "type"]], on="facility_id", how="left")
    return gpd.GeoDataFrame(iso, geometry="geometry", crs=result.network.metric_crs)


def isochrones_beside(result: GapAnalysis, *, workers: int | None = None) -> Forked | None:
    """Start drawing the isochrones ``result.config`` asks for in a forked process, so that
    this one goes on (siting, comparison); None where the config asks for none or the
    system cannot fork.  :func:`with_isochrones_from` collects them."""
    if not result.config.isochrones or not can_fork():
        return None
    return Forked(_timed_isochrones, result, workers, what="drawing the isochrones", daemon=False)


def _timed_isochrones(result: GapAnalysis, workers: int | None) -> tuple[gpd.GeoDataFrame, float]:
    start = time.perf_counter()
    return facility_isochrones(result, workers=workers), time.perf_counter() - start


def with_isochrones_from(result: GapAnalysis, job: Forked | None) -> GapAnalysis:
    """``result`` with the isochrones the job drew (and their time under ``timings``)."""
    if job is None:
        return result
    iso, seconds = job.result()
    logger.info("isochrones: %.2f s (drawn beside the rest)", seconds)
    return replace(result, isochrones=iso, timings={**result.timings, "isochrones": seconds})


def _doors(ids: np.ndarray, nodes: np.ndarray, access_s: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """One search source per network node, chosen by a key that ignores row order.

    Facilities snapped to the same node would otherwise tie, and the search would give
    every unit to whichever came first in the file.  Of the facilities at one node the
    one with the shortest access leg (then the smallest ``facility_id``, compared as
    text: ``"10"`` before ``"9"``) is kept as the node's door; the others share its
    catchment.

    Returns the positions of the doors, sorted by ``facility_id`` so that the search
    itself sees the same order whatever the file's, and for every facility that shares
    a node the ``;``-joined ids of the others at that node.
    """
    frame = pd.DataFrame({"id": ids.astype(str), "node": nodes, "access": access_s, "pos": np.arange(len(ids))})
    frame = frame.sort_values(["node", "access", "id"], kind="stable")
    doors = frame.drop_duplicates("node", keep="first").sort_values("id", kind="stable")["pos"].to_numpy()
    shared: dict[str, str] = {}
    for _, group in frame.groupby("node", sort=False):
        if len(group) > 1:
            members = sorted(group["id"])
            for member in members:
                shared[member] = ";".join(m for m in members if m != member)
    if shared:
        logger.warning(
            "%d facilities share a road-network node with another (%s); each group shares one catchment, "
            "listed under the facility with the shortest access leg (facilities: column shares_node_with; "
            "catchments: column shared_with)",
            len(shared),
            ", ".join(sorted(shared)[:10]) + (" ..." if len(shared) > 10 else ""),
        )
    return doors, shared


def _catchments(
    units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, shared_with: dict[str, str] | None = None
) -> gpd.GeoDataFrame:
    """Units grouped by their nearest facility; geometry = union of their areas (or points).

    ``shared_with`` (from :func:`_doors`) names, for the facility whose node several
    facilities share, the others, which reach the same units: the column
    ``shared_with`` of the catchment lists them.
    """
    served = units[units["nearest_facility"].notna()]
    if "area" in served and not served["area"].isna().any():
        shapes = gpd.GeoSeries(served["area"], crs=units.crs)
    else:
        shapes = served.geometry
    frame = gpd.GeoDataFrame(
        {
            "facility_id": served["nearest_facility"].to_numpy(),
            "population": served["population"].to_numpy(dtype=float),
            "weighted": (served["population"] * served["minutes_to_nearest"]).to_numpy(dtype=float),
            "minutes": served["minutes_to_nearest"].to_numpy(dtype=float),
        },
        geometry=shapes.to_numpy(),
        crs=units.crs,
    )
    grouped = (
        frame.drop(columns="geometry")
        .groupby("facility_id")
        .agg({"population": "sum", "weighted": "sum", "minutes": ["count", "max"]})
    )
    grouped.columns = [c if isinstance(c, str) else "_".join(c) for c in grouped.columns]
    keys, unions = unions_by_key(frame.geometry.to_numpy(), frame["facility_id"].to_numpy(dtype=str))
    grouped["geometry"] = gpd.GeoSeries(unions, index=pd.Index(keys, name="facility_id"), crs=units.crs)
    grouped = grouped.rename(
        columns={
            "population_sum": "population",
            "weighted_sum": "weighted",
            "minutes_count": "n_units",
            "minutes_max": "max_minutes",
        }
    )
    pop = grouped["population"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        grouped["mean_minutes"] = np.where(pop > 0, grouped["weighted"].to_numpy(dtype=float) / pop, np.nan)
    grouped = grouped.drop(columns="weighted").reset_index()
    info = facilities[["facility_id", "name", "type"]]
    grouped = grouped.merge(info, on="facility_id", how="left")
    grouped["shared_with"] = [(shared_with or {}).get(i, "") for i in grouped["facility_id"]]
    columns = [
        "facility_id",
        "name",
        "type",
        "n_units",
        "population",
        "mean_minutes",
        "max_minutes",
        "shared_with",
        "geometry",
    ]
    return gpd.GeoDataFrame(grouped[columns], geometry="geometry", crs=units.crs)

"""Any territory of metropolitan France, read from the national files of the data folder.

:func:`parse_territory` reads ``france``, ``region:53``, ``departments:18,36`` or
``epci:200000000``; :func:`load_territory_inputs` reads, for that territory, the
communes of the COG 2026 (population, EPCI, town halls checked against their polygons),
the department polygons (dissolved from the communes'), the Travel Mapping roads within
a buffer around it (all of them for France) and the facilities: the planner's own file,
else the compiled regional list's facilities that lie within the buffer, which may be
none (siting then starts from scratch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage.config import DEFAULT_METRIC_CRS
from coverage.errors import InputDataError
from coverage.io.admin import read_communes
from coverage.io.facilities import read_facilities
from coverage.io.population import population_from_communes, with_area_names
from coverage.io.regional import RegionalInputs, read_travel_mapping
from coverage.io.settings import load_speed_profile, resolve_data_dir
from coverage.numbers import is_number
from coverage.shapes import union_of_tiles
from coverage.speeds import SpeedProfile

__all__ = ["NATIONAL_FILES", "TERRITORY_KINDS", "Territory", "load_territory_inputs", "parse_territory"]

logger = logging.getLogger(__name__)

#: Files of the data folder read for a territory, relative to it.
NATIONAL_FILES = {
    "roads": "roads/travelmapping_fra_routes.gpkg",
    "communes": "admin/france_communes_cog2026.csv",
    "commune_polygons": "admin/france_communes_polygons_datafrance.gpkg",
    "facilities": "facilities/cvl_primary_care_facilities_compiled.csv",
    "facility_additions": "facilities/cvl_facilities_additions_turn2.csv",
}

#: What ``--territory`` accepts before the colon (``france`` takes no codes).
TERRITORY_KINDS = ("france", "region", "departments", "epci")
_ALIASES = {"regions": "region", "department": "departments", "departement": "departments", "epcis": "epci"}

#: Strongly connected pieces of the road network kept besides the largest: at least this
#: many nodes (Corsica, 1,808 nodes, is its own piece of the national network).
MIN_COMPONENT_NODES = 1_000


@dataclass(frozen=True)
class Territory:
    """A territory of metropolitan France: ``kind`` (one of :data:`TERRITORY_KINDS`) and
    the INSEE codes (regions, departments) or SIREN numbers (EPCI) it is made of."""

    kind: str
    codes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.kind if self.kind == "france" else f"{self.kind}:{','.join(self.codes)}"


def parse_territory(text: str | Territory) -> Territory:
    """``"france"``, ``"region:53"``, ``"departments:18,36"``, ``"epci:200000000"``."""
    if isinstance(text, Territory):
        return text
    if not isinstance(text, str) or not text.strip():
        raise InputDataError(f"territory {text!r}: expected e.g. france, region:53, departments:18,36 or epci:SIREN")
    kind, _, rest = text.strip().partition(":")
    kind = _ALIASES.get(kind.strip().lower(), kind.strip().lower())
    codes = tuple(c.strip().upper() for c in rest.split(",") if c.strip())
    if kind not in TERRITORY_KINDS:
        raise InputDataError(
            f"territory {text!r}: unknown kind {kind!r}; expected one of {', '.join(TERRITORY_KINDS)} "
            "(e.g. region:53, departments:18,36)"
        )
    if kind == "france" and codes:
        raise InputDataError(f"territory {text!r}: 'france' takes no codes (metropolitan France, Corsica included)")
    if kind != "france" and not codes:
        raise InputDataError(f"territory {text!r}: give the codes after the colon, e.g. {kind}:{_EXAMPLE[kind]}")
    if len(set(codes)) != len(codes):
        raise InputDataError(f"territory {text!r}: a code is given twice")
    return Territory(kind, codes)


_EXAMPLE = {"region": "53", "departments": "18,36", "epci": "200000000"}


def _reference(name: str) -> pd.DataFrame:
    with (files("coverage.reference") / name).open(encoding="utf-8") as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False)


def metropolitan_departments() -> pd.DataFrame:
    """The 96 departments of metropolitan France: ``department``, ``name``, ``region``."""
    table = _reference("departements.csv")
    table = table[table["zone"] == "metro"]
    return table.rename(columns={"code": "department", "nom": "name"})[["department", "name", "region"]]


def _departments_of(territory: Territory, table: pd.DataFrame) -> list[str]:
    """The departments whose communes are read (all those of the territory, or holding it)."""
    if territory.kind == "france":
        return table["department"].tolist()
    if territory.kind == "region":
        regions = _reference("regions.csv")
        known = set(regions.loc[regions["zone"] == "metro", "code"])
        wrong = [c for c in territory.codes if c not in known]
        if wrong:
            raise InputDataError(
                f"territory {territory}: {', '.join(wrong)} is not a region of metropolitan France; "
                f"its regions are {', '.join(sorted(known))}"
            )
        return table.loc[table["region"].isin(territory.codes), "department"].tolist()
    if territory.kind == "departments":
        codes = [c.zfill(2) if c.isdigit() else c for c in territory.codes]
        wrong = [c for c in codes if c not in set(table["department"])]
        if wrong:
            raise InputDataError(
                f"territory {territory}: {', '.join(wrong)} is not a department of metropolitan France "
                "(01 to 95, 2A and 2B)"
            )
        return codes
    return table["department"].tolist()  # an EPCI may straddle departments: all are read, then chosen


def _territory_communes(territory: Territory, communes: gpd.GeoDataFrame, departments: list[str]) -> gpd.GeoDataFrame:
    if territory.kind == "epci":
        wrong = [c for c in territory.codes if c not in set(communes["epci"].dropna())]
        if wrong:
            raise InputDataError(
                f"territory {territory}: no commune of metropolitan France has EPCI {', '.join(wrong)}"
            )
        return communes[communes["epci"].isin(territory.codes).to_numpy(bool)].reset_index(drop=True)
    return communes[communes["department"].isin(departments).to_numpy(bool)].reset_index(drop=True)


def _placeable(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communes with a town hall or a polygon; the others (no point at all in the
    national files) are left out, named in one warning with the people they hold."""
    town = gpd.GeoSeries(communes["town_hall"])
    nowhere = ((town.isna() | town.is_empty) & (communes.geometry.isna() | communes.geometry.is_empty)).to_numpy()
    if nowhere.any():
        left = communes[nowhere]
        logger.warning(
            "%d communes have neither a town hall nor a polygon in the national files and are left out "
            "(%s inhabitants): %s",
            len(left),
            f"{left['population'].sum():,.0f}",
            ", ".join(f"{c} {n}" for c, n in zip(left["code_insee"], left["name"], strict=True)),
        )
    return communes[~nowhere].reset_index(drop=True)


def _department_polygons(communes: gpd.GeoDataFrame, names: pd.DataFrame, metric_crs: str) -> gpd.GeoDataFrame:
    """One polygon per department, the union of its communes' polygons (in EPSG:4326)."""
    metric = communes.to_crs(metric_crs)
    rows = []
    for code, group in metric.groupby("department", sort=True):
        parts = group.geometry[group.geometry.notna() & ~group.geometry.is_empty].to_numpy()
        rows.append((code, union_of_tiles(parts) if len(parts) else None))
    frame = gpd.GeoDataFrame(
        {"department": [r[0] for r in rows]}, geometry=gpd.GeoSeries([r[1] for r in rows], crs=metric_crs)
    )
    frame = frame.merge(names[["department", "name"]], on="department", how="left")
    frame = frame[["department", "name", "geometry"]].to_crs("EPSG:4326")
    invalid = ~frame.geometry.is_valid & frame.geometry.notna()  # a sliver folded by the reprojection
    if invalid.any():
        frame.loc[invalid, "geometry"] = shapely.make_valid(frame.geometry[invalid].to_numpy())
    return frame


def load_territory_inputs(
    territory: str | Territory,
    data_dir: str | Path | None = None,
    *,
    profile: SpeedProfile | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    keep_status: tuple[str, ...] = ("open",),
    road_buffer_m: float = 30_000.0,
    max_edge_length_m: float = 500.0,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> RegionalInputs:
    """Read the inputs of a gap analysis of any territory of metropolitan France.

    Parameters
    ----------
    territory
        ``"france"`` (metropolitan France, Corsica included), ``"region:53"``,
        ``"departments:18,36"``, ``"epci:SIREN,..."`` (see :func:`parse_territory`), or a
        :class:`Territory`.
    data_dir
        The data folder (see :func:`~coverage.io.settings.resolve_data_dir`).
    facilities
        The facilities (e.g. :func:`~coverage.io.facilities.read_facilities` of a FINESS
        extraction).  None: the data folder's compiled list (Centre-Val de Loire only),
        status in ``keep_status``, those within ``road_buffer_m`` of the territory; there
        may be none, and then nobody is covered and siting starts from scratch.
    road_buffer_m
        Roads (and facilities) kept within this many metres of the territory, so that a
        drive that leaves it and comes back is counted (30 km).  For France every road
        of the national file is read.
    max_edge_length_m, metric_crs, profile
        As for :func:`~coverage.io.regional.load_regional_inputs`.

    Returns
    -------
    RegionalInputs
        Units are the territory's communes at their town halls (the town halls more
        than 1 km outside their commune replaced by a point inside it; the communes
        without one at their centroid).  The road network keeps every strongly
        connected piece of at least :data:`MIN_COMPONENT_NODES` nodes (Corsica).
    """
    spec = parse_territory(territory)
    if not (is_number(road_buffer_m) and float(road_buffer_m) >= 0):  # type: ignore[arg-type]
        raise InputDataError(f"road buffer: expected metres, 0 or more, got {road_buffer_m!r}")
    root = resolve_data_dir(data_dir)
    paths = {key: root / rel for key, rel in NATIONAL_FILES.items()}
    if facilities is not None:
        del paths["facilities"], paths["facility_additions"]
    names = metropolitan_departments()
    read_departments = _departments_of(spec, names)
    communes = read_communes(
        paths["communes"],
        polygons=paths["commune_polygons"],
        polygons_layer="communes",
        departments=read_departments,
        metric_crs=metric_crs,
    )
    communes = _placeable(_territory_communes(spec, communes, read_departments))
    departments = _department_polygons(communes, names, metric_crs)
    profile = profile or load_speed_profile()
    area = None  # France: every road and every facility of the file
    within: dict[str, object] = {}
    if spec.kind != "france":
        metric = communes.geometry.to_crs(metric_crs)
        territory_shape = union_of_tiles(metric[metric.notna() & ~metric.is_empty].to_numpy())
        area = shapely.buffer(territory_shape, float(road_buffer_m))
        within = {"within": territory_shape, "within_crs": metric_crs, "buffer_m": road_buffer_m}
    roads = read_travel_mapping(paths["roads"], profile, max_edge_length_m, metric_crs, **within)
    roads = replace(roads, min_piece_nodes=MIN_COMPONENT_NODES)
    shipped = facilities is None
    if facilities is None:
        facilities = read_facilities([paths["facilities"], paths["facility_additions"]], keep_status=keep_status)
    if area is not None:
        facilities = _near(facilities, area, metric_crs)
    if facilities.empty:
        logger.warning(
            "territory %s: no facility %s within %.0f km; nobody is covered, and siting starts from scratch%s",
            spec,
            "of the shipped list (Centre-Val de Loire only)" if shipped else "of the file given",
            road_buffer_m / 1000,
            "; give a FINESS extraction for real figures" if shipped else "",
        )
    units = with_area_names(population_from_communes(communes, metric_crs=metric_crs), departments)
    logger.info(
        "territory %s: %d communes, %s inhabitants, %d facilities, %d road nodes",
        spec,
        len(units),
        f"{units['population'].sum():,.0f}",
        len(facilities),
        roads.number_of_nodes(),
    )
    return RegionalInputs(
        roads=roads,
        facilities=facilities,
        units=units,
        communes=communes,
        departments=departments,
        paths=paths,
        profile=profile,
        town_halls=units,
    )


def _near(facilities: gpd.GeoDataFrame, area: shapely.Geometry, metric_crs: str) -> gpd.GeoDataFrame:
    """The facilities inside ``area`` (the territory and its buffer, in ``metric_crs``)."""
    if facilities.empty:
        return facilities
    points = facilities.geometry.to_crs(metric_crs).to_numpy()
    shapely.prepare(area)
    inside = shapely.covers(area, points) & ~shapely.is_missing(points)
    return facilities[np.asarray(inside, dtype=bool)].reset_index(drop=True)

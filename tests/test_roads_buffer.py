"""Roads of a territory and of a band around it (``RoadLayer.within`` / ``buffer_m``).

The small layer below is drawn by hand in Lambert-93 around a 10 km square territory;
each line's distance to the square is worked out in the comments, and the lines kept for
a buffer are those at that distance or less.  The national Travel Mapping file is checked
against an independent selection (shapely polygon buffers on the whole file, read without
any filter) and its drive times against the regional file's with NetworkX.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely.geometry import LineString, box

import coverage as cov
from coverage.io.roads import DEFAULT_TERRITORY_BUFFER_M, RoadLayer, read_road_lines, read_roads, territory_area

L93 = "EPSG:2154"
X0, Y0 = 600_000.0, 6_700_000.0  # south-west corner of the territory (in Centre-Val de Loire)


def km(x: float, y: float) -> tuple[float, float]:
    """Lambert-93 point x, y km east and north of the territory's south-west corner."""
    return (X0 + 1000.0 * x, Y0 + 1000.0 * y)


#: The territory: the square 0-10 km x 0-10 km.
SQUARE = box(*km(0, 0), *km(10, 10))

#: root -> (system, vertices in km).  Distances to the square, by hand:
LINES: dict[str, tuple[str, list[tuple[float, float]]]] = {
    "inside": ("fracvld28", [(2, 2), (8, 2)]),  # inside: 0
    "cross": ("fracvld28", [(5, 5), (20, 5)]),  # crosses the east edge: 0, 10 km of it outside
    "touch": ("fracvld28", [(10, 1), (11, 1)]),  # starts on the east edge: 0
    "leave": ("fracvld28", [(3, 8), (3, 12)]),  # north edge crossed: 0
    "detour": ("fracvld28", [(3, 12), (7, 12)]),  # outside, 2 km north of the edge: 2000
    "back": ("fracvld28", [(7, 12), (7, 8)]),  # back inside: 0
    "ring": ("fracvld28", [(13, 0), (13, 10)]),  # outside, 3 km east: 3000
    "corner_near": ("fracvld28", [(13, 13.9), (13.5, 13.9)]),  # from corner (10, 10): hypot(3000, 3900)
    "corner_far": ("fracvld28", [(13, 14.1), (13.5, 14.1)]),  # hypot(3000, 4100)
    "out": ("fracvld28", [(17, 0), (25, 0)]),  # 7 km east of the corner (10, 0): 7000
    "e_road": ("eure", [(2, 3), (8, 3)]),  # inside, but an E-road: never routed
    "tourist": ("fratr", [(2, 4), (8, 4)]),  # inside, but a tourist route: never routed
    "far": ("chemin", [(100, 100), (101, 100)]),  # hypot(90, 90) km; a class no profile knows
}
DISTANCE_M = {
    "inside": 0.0,
    "cross": 0.0,
    "touch": 0.0,
    "leave": 0.0,
    "back": 0.0,
    "detour": 2000.0,
    "ring": 3000.0,
    "corner_near": math.hypot(3000.0, 3900.0),  # 4,920.4 m
    "corner_far": math.hypot(3000.0, 4100.0),  # 5,080.4 m
    "out": 7000.0,
    "far": math.hypot(90_000.0, 90_000.0),  # 127,279 m
}
NOT_ROUTED = {"e_road", "tourist"}  # excluded by the built-in profile


def expected_roots(buffer_m: float) -> set[str]:
    return {root for root, d in DISTANCE_M.items() if d <= buffer_m}


@pytest.fixture
def profile() -> cov.SpeedProfile:
    return cov.load_speed_profile()


@pytest.fixture
def roads_gpkg(tmp_path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"root": list(LINES), "system": [system for system, _ in LINES.values()]},
        geometry=[LineString([km(x, y) for x, y in vertices]) for _, vertices in LINES.values()],
        crs=L93,
    )
    path = tmp_path / "roads.gpkg"
    frame.to_file(path, layer="routes", engine="pyogrio")
    return path


def layer_near(profile: cov.SpeedProfile, **options: object) -> RoadLayer:
    return RoadLayer(
        profile=profile,
        class_column="system",
        layer="routes",
        name_column="root",
        max_edge_length_m=None,
        **options,  # type: ignore[arg-type]
    )


def routed_roots(graph: nx.MultiDiGraph) -> set[str]:
    return {name for _, _, name in graph.edges(data="name")}


def node_at(graph: nx.MultiDiGraph, xy: tuple[float, float]) -> int:
    found = [n for n, d in graph.nodes(data=True) if (d["x"], d["y"]) == xy]
    assert len(found) == 1, xy
    return found[0]


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


# ------------------------------------------------------------------ the lines kept


@pytest.mark.parametrize(
    "buffer_m",
    [
        0.0,
        1999.0,
        2000.0,  # 'detour' lies exactly 2000 m away: kept
        2999.999,
        3000.0,
        math.hypot(3000, 3900) - 0.5,
        math.hypot(3000, 3900) + 0.5,  # a polygonal buffer of this width misses 'corner_near' (about 21 m short)
        math.hypot(3000, 4100) - 0.5,
        math.hypot(3000, 4100) + 0.5,
        6999.0,
        7000.0,
        DEFAULT_TERRITORY_BUFFER_M,
    ],
)
def test_lines_at_most_buffer_m_from_the_area_are_routed(
    roads_gpkg: Path, profile: cov.SpeedProfile, buffer_m: float
) -> None:
    graph = read_road_lines(roads_gpkg, layer_near(profile, within=gpd.GeoSeries([SQUARE], crs=L93), buffer_m=buffer_m))
    assert routed_roots(graph) == expected_roots(buffer_m)


def test_the_default_buffer_is_30_km_and_far_lines_are_never_classified(
    roads_gpkg: Path, profile: cov.SpeedProfile
) -> None:
    # Every line but 'far' lies within 30 km; 'far' has a class the profile does not
    # know, which is an error only when the line is read.
    graph = read_road_lines(roads_gpkg, layer_near(profile, within=gpd.GeoSeries([SQUARE], crs=L93)))
    assert routed_roots(graph) == set(LINES) - NOT_ROUTED - {"far"}
    with pytest.raises(cov.UnknownRoadClassError, match="chemin"):
        read_road_lines(roads_gpkg, layer_near(profile))


def test_a_line_crossing_the_edge_is_kept_whole(roads_gpkg: Path, profile: cov.SpeedProfile) -> None:
    graph = read_road_lines(roads_gpkg, layer_near(profile, within=gpd.GeoSeries([SQUARE], crs=L93), buffer_m=0.0))
    assert routed_roots(graph) == {"inside", "cross", "touch", "leave", "back"}
    # 'cross' runs from (5, 5) to (20, 5) km: its far end, 10 km outside, is a node, and
    # its edges add up to 15 km each way.
    assert graph.has_edge(node_at(graph, km(5, 5)), node_at(graph, km(20, 5)))
    lengths = [d["length"] for _, _, d in graph.edges(data=True) if d["name"] == "cross"]
    assert sum(lengths) == pytest.approx(2 * 15_000.0)


def test_a_route_that_leaves_the_area_and_comes_back_is_used(roads_gpkg: Path, profile: cov.SpeedProfile) -> None:
    area = gpd.GeoSeries([SQUARE], crs=L93)
    a, b = km(3, 8), km(7, 8)  # both inside; joined only by leave -> detour -> back
    cut = read_road_lines(roads_gpkg, layer_near(profile, within=area, buffer_m=0.0))
    with pytest.raises(nx.NetworkXNoPath):
        nx.shortest_path_length(cut, node_at(cut, a), node_at(cut, b), weight="length")
    graph = read_road_lines(roads_gpkg, layer_near(profile, within=area, buffer_m=5000.0))
    # 4 km north, 4 km east, 4 km south, on D-roads ('secondary', 65 km/h)
    assert nx.shortest_path_length(graph, node_at(graph, a), node_at(graph, b), weight="length") == pytest.approx(
        12_000.0
    )
    assert nx.shortest_path_length(graph, node_at(graph, a), node_at(graph, b), weight="travel_time") == pytest.approx(
        12_000.0 / (65 / 3.6)
    )


def test_profile_excludes_the_duplicating_e_roads_and_tourist_routes(profile: cov.SpeedProfile) -> None:
    # shared/data/README.md, section 13: E-roads run on A/N roads and fratr on D-roads
    assert profile.classify("eure") == "exclude"
    assert profile.classify("fratr") == "exclude"
    assert profile.classify("fracvld28") == "secondary"


def test_source_row_is_the_feature_id_of_the_file(roads_gpkg: Path, profile: cov.SpeedProfile) -> None:
    fids = pyogrio.read_dataframe(roads_gpkg, layer="routes", read_geometry=False, fid_as_index=True)
    fid_of = dict(zip(fids["root"], fids.index, strict=True))
    graph = read_road_lines(roads_gpkg, layer_near(profile, within=gpd.GeoSeries([SQUARE], crs=L93), buffer_m=3000.0))
    rows = {(d["name"], d["source_row"]) for _, _, d in graph.edges(data=True)}
    assert rows == {(root, int(fid_of[root])) for root in expected_roots(3000.0)}


# ------------------------------------------------------------------ the area's CRS and form


def square_in_degrees() -> gpd.GeoSeries:
    """The square in EPSG:4326, with a vertex every 100 m so that its edges stay straight
    in Lambert-93 once projected back."""
    return gpd.GeoSeries([shapely.segmentize(SQUARE, 100.0)], crs=L93).to_crs("EPSG:4326")


@pytest.mark.parametrize("buffer_m", [math.hypot(3000, 3900) - 0.5, math.hypot(3000, 3900) + 0.5, 5000.0, 7000.0])
def test_an_area_in_degrees_is_buffered_in_metres(roads_gpkg: Path, profile: cov.SpeedProfile, buffer_m: float) -> None:
    degrees = square_in_degrees()
    by_series = read_road_lines(roads_gpkg, layer_near(profile, within=degrees, buffer_m=buffer_m))
    assert routed_roots(by_series) == expected_roots(buffer_m)
    by_geometry = read_road_lines(
        roads_gpkg, layer_near(profile, within=degrees.iloc[0], within_crs="EPSG:4326", buffer_m=buffer_m)
    )
    assert routed_roots(by_geometry) == expected_roots(buffer_m)


def test_an_area_drawn_in_degrees_follows_its_parallels(tmp_path: Path, profile: cov.SpeedProfile) -> None:
    """A box of 2° x 0.5° (lon 0-2, lat 47-47.5): its edges are parallels, which in
    Lambert-93 are arcs about the cone's apex, to the north.  The straight chord between
    two corners runs north of the arc, by about 0.47 km midway (the sagitta of a 150 km
    chord on a radius of about 6,000 km: 150² / 8 / 6,000), so a line 0.001° (111 m)
    north of the box lies inside the chord polygon, and one 111 m inside the box, at its
    southern edge, outside it."""
    lines = gpd.GeoDataFrame(
        {"root": ["north_out", "south_in"], "system": ["fracvld28", "fracvld28"]},
        geometry=[LineString([(0.99, 47.501), (1.01, 47.501)]), LineString([(0.99, 47.001), (1.01, 47.001)])],
        crs="EPSG:4326",
    )
    path = tmp_path / "parallels.gpkg"
    lines.to_file(path, layer="routes", engine="pyogrio")
    area = gpd.GeoSeries([box(0.0, 47.0, 2.0, 47.5)], crs="EPSG:4326")
    graph = read_road_lines(path, layer_near(profile, within=area, buffer_m=0.0))
    assert routed_roots(graph) == {"south_in"}
    assert territory_area(area, 0.0).iloc[0].contains(lines.to_crs(L93).geometry.iloc[1])


def test_several_polygons_make_one_area(roads_gpkg: Path, profile: cov.SpeedProfile) -> None:
    # two halves of the square, as commune polygons would be, in degrees
    halves = gpd.GeoDataFrame(
        {"code": ["west", "east"]},
        geometry=[
            shapely.segmentize(box(*km(0, 0), *km(5, 10)), 100.0),
            shapely.segmentize(box(*km(5, 0), *km(10, 10)), 100.0),
        ],
        crs=L93,
    ).to_crs("EPSG:4326")
    graph = read_road_lines(roads_gpkg, layer_near(profile, within=halves, buffer_m=3000.0))
    assert routed_roots(graph) == expected_roots(3000.0)


def test_a_bare_geometry_is_read_in_the_metric_crs(roads_gpkg: Path, profile: cov.SpeedProfile) -> None:
    graph = read_road_lines(roads_gpkg, layer_near(profile, within=SQUARE, buffer_m=2000.0))
    assert routed_roots(graph) == expected_roots(2000.0)


def test_the_layer_is_a_value_and_keywords_override_it(roads_gpkg: Path, profile: cov.SpeedProfile) -> None:
    layer = layer_near(profile, within=square_in_degrees(), buffer_m=3000.0)
    assert layer.within_crs == "EPSG:4326"
    assert replace(layer) == layer
    assert routed_roots(read_road_lines(roads_gpkg, layer, buffer_m=0.0)) == expected_roots(0.0)
    assert routed_roots(read_roads(roads_gpkg, layer)) == expected_roots(3000.0)
    # without the area the whole layer is read, 'far' and its unknown class included
    whole = replace(layer, within=None, buffer_m=None)
    assert whole.within_crs is None
    with pytest.raises(cov.UnknownRoadClassError):
        read_road_lines(roads_gpkg, whole)


def test_territory_area_is_the_buffered_polygon_in_metres() -> None:
    plain = territory_area(gpd.GeoSeries([SQUARE], crs=L93), 0.0)
    assert plain.crs == L93 and len(plain) == 1
    assert plain.iloc[0].area == pytest.approx(100e6)
    band = territory_area(square_in_degrees(), 5000.0)
    assert band.crs == L93
    # square + four 10 x 5 km strips + four quarter discs of 5 km
    exact = 100e6 + 4 * 10e3 * 5e3 + math.pi * 5e3**2
    assert exact * (1 - 5e-3) < band.iloc[0].area <= exact
    # The 32-gon drawn for each corner reaches 5000 * cos(pi / 32) = 4,975.9 m in every direction.
    assert band.iloc[0].contains(shapely.Point(km(13, 13.9)))  # 4,920 m from the corner
    assert band.iloc[0].contains(shapely.Point(km(14.99, 5)))  # 4,990 m east of the edge
    assert not band.iloc[0].contains(shapely.Point(km(15.01, 5)))  # 5,010 m


# ------------------------------------------------------------------ bad input: one line


@pytest.mark.parametrize("bad", [-1.0, -0.001, float("nan"), float("inf"), -float("inf"), True, "30000", [30000]])
def test_a_bad_buffer_is_refused_in_one_line(roads_gpkg: Path, profile: cov.SpeedProfile, bad: object) -> None:
    area = gpd.GeoSeries([SQUARE], crs=L93)
    with pytest.raises(cov.InputDataError) as exc:
        layer_near(profile, within=area, buffer_m=bad)
    assert one_line(exc).startswith("road layer: buffer_m = ") and "0 or more" in str(exc.value)
    with pytest.raises(cov.InputDataError) as exc:
        read_road_lines(roads_gpkg, layer_near(profile, within=area), buffer_m=bad)
    assert "buffer_m" in one_line(exc)
    with pytest.raises(cov.InputDataError) as exc:
        territory_area(area, bad)  # type: ignore[arg-type]
    assert one_line(exc).startswith("territory_area: buffer_m = ")


def test_a_buffer_without_an_area_is_refused(profile: cov.SpeedProfile) -> None:
    with pytest.raises(cov.InputDataError) as exc:
        layer_near(profile, buffer_m=30_000.0)
    assert "without an area" in one_line(exc)


@pytest.mark.parametrize(
    ("within", "within_crs", "expected"),
    [
        (gpd.GeoSeries([SQUARE]), None, "has no CRS"),
        (gpd.GeoSeries([], crs=L93), None, "the area is empty"),
        (gpd.GeoSeries([None, shapely.Polygon()], crs=L93), None, "the area is empty"),
        ("Centre-Val de Loire", None, "got str"),
        (SQUARE, "EPSG:999999", "not known to PROJ"),
        (gpd.GeoSeries([SQUARE], crs=L93), "EPSG:4326", "differs from the CRS"),
        (shapely.Point(math.inf, 0), None, "not finite"),
        (gpd.GeoSeries([SQUARE], crs="EPSG:4326"), None, "not longitudes and latitudes"),
    ],
)
def test_a_bad_area_is_refused_in_one_line(
    profile: cov.SpeedProfile, within: object, within_crs: str | None, expected: str
) -> None:
    with pytest.raises(cov.InputDataError) as exc:
        layer_near(profile, within=within, within_crs=within_crs)
    message = one_line(exc)
    assert message.startswith("road layer: within") and expected in message


def test_a_metric_crs_in_degrees_is_refused_for_the_buffer(profile: cov.SpeedProfile) -> None:
    with pytest.raises(cov.InputDataError) as exc:
        layer_near(profile, within=square_in_degrees(), metric_crs="EPSG:4326")
    assert "metric_crs" in one_line(exc) and "degrees" in str(exc.value)
    with pytest.raises(cov.InputDataError) as exc:
        territory_area(square_in_degrees(), metric_crs="EPSG:4326")
    assert "metric_crs" in one_line(exc)


def test_an_area_away_from_every_line_is_named_in_one_line(roads_gpkg: Path, profile: cov.SpeedProfile) -> None:
    # a square of Aquitaine, 300 km from the roads
    layer = layer_near(profile, within=gpd.GeoSeries([box(0, 45, 0.01, 45.01)], crs="EPSG:4326"))
    with pytest.raises(cov.InputDataError) as exc:
        read_road_lines(roads_gpkg, layer)
    message = one_line(exc)
    assert str(roads_gpkg) in message and "no line within 30,000 m of the area" in message


def test_a_missing_layer_is_named(roads_gpkg: Path, profile: cov.SpeedProfile) -> None:
    layer = replace(layer_near(profile, within=SQUARE), layer="roads")
    with pytest.raises(cov.InputDataError) as exc:
        read_road_lines(roads_gpkg, layer)
    assert "no layer 'roads'" in one_line(exc)


def test_within_applies_to_line_layers_only(tmp_path: Path, profile: cov.SpeedProfile) -> None:
    graphml = tmp_path / "network.graphml"
    graphml.write_text("<graphml/>", encoding="utf-8")
    with pytest.raises(cov.InputDataError) as exc:
        read_roads(graphml, layer_near(profile, within=SQUARE))
    assert "line layers" in one_line(exc)


# ------------------------------------------------------------------ the national file around Centre-Val de Loire

NATIONAL = "roads/travelmapping_fra_routes.gpkg"
REGIONAL = "roads/travelmapping_fra_cvl_routes.gpkg"
COMMUNES = "admin/cvl_communes_polygons_datafrance.gpkg"
#: Regions that border Centre-Val de Loire (data README, section 13, folder names).
NEIGHBOURS = {"FRA-IDF", "FRA-BFC", "FRA-ARA", "FRA-NAQ", "FRA-PDL", "FRA-NOR"}
#: Town halls near the border (INSEE codes), and the county each pair runs along.
BORDER_PAIRS = [
    ("28140", "28015"),  # Épernon - Auneau-Bleury-Saint-Symphorien (Eure-et-Loir, by Yvelines)
    ("28007", "28037"),  # Anet - Bérou-la-Mulotière (Eure-et-Loir, by Yvelines and Eure)
    ("18012", "18125"),  # Argenvières - Léré (Cher, along the Loire and Nièvre)
    ("18242", "18075"),  # Sancoins - Cours-les-Barres (Cher, by Nièvre)
    ("45127", "45191"),  # Dordives - Le Malesherbois (Loiret, by Seine-et-Marne and Essonne)
]
#: Saint-Jean-Pierre-Fixte (Perche): its roads in the regional file join the rest only
#: through Orne and Sarthe, cut at the border.
ENCLAVE_PAIR = ("28342", "28401")  # Saint-Jean-Pierre-Fixte - Vaupillon


def regional_layer(profile: cov.SpeedProfile, **options: object) -> RoadLayer:
    return RoadLayer(profile=profile, class_column="system", layer="routes", name_column="root", **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cvl_roads(data_dir: Path) -> dict[str, object]:
    """The regional graph and the national one within 30 km of the CVL communes, with
    the times taken (printed with -s)."""
    profile = cov.load_speed_profile()
    communes = gpd.read_file(data_dir / COMMUNES, layer="communes", engine="pyogrio")
    started = time.perf_counter()
    regional = read_road_lines(data_dir / REGIONAL, regional_layer(profile))
    regional_s = time.perf_counter() - started
    started = time.perf_counter()
    national = read_road_lines(data_dir / NATIONAL, regional_layer(profile, within=communes))
    national_s = time.perf_counter() - started
    print(
        f"\nregional file: {regional.number_of_nodes():,} nodes, {regional.number_of_edges():,} edges, "
        f"{len(routed_roots(regional)):,} routes, {regional_s:.1f} s"
        f"\nnational file within 30 km: {national.number_of_nodes():,} nodes, {national.number_of_edges():,} edges, "
        f"{len(routed_roots(national)):,} routes, {national_s:.1f} s"
    )
    return {"regional": regional, "national": national, "communes": communes}


def national_routes(data_dir: Path) -> gpd.GeoDataFrame:
    """Every route of the national file in Lambert-93, read whole and without any filter."""
    return pyogrio.read_dataframe(data_dir / NATIONAL, layer="routes", columns=["root", "system", "region"]).to_crs(L93)


@pytest.mark.regional
def test_the_buffer_keeps_every_regional_route(data_dir: Path, cvl_roads: dict) -> None:
    routes = pyogrio.read_dataframe(
        data_dir / REGIONAL, layer="routes", columns=["root", "system"], read_geometry=False
    )
    # the data README: drop the E-roads (eure) and tourist routes (fratr) before routing
    regional_roots = set(routes.loc[~routes["system"].isin({"eure", "fratr"}), "root"])
    assert routed_roots(cvl_roads["regional"]) == regional_roots
    assert regional_roots <= routed_roots(cvl_roads["national"])


@pytest.mark.regional
def test_the_buffer_matches_an_independent_selection(data_dir: Path, cvl_roads: dict) -> None:
    """Polygon buffers drawn finely (64 segments a quarter circle: within 2.3 m of the true
    30 km) 10 m inside and outside 30 km bracket the routes that must and may be kept."""
    routes = national_routes(data_dir)
    territory = cvl_roads["communes"].to_crs(L93).union_all()
    lines = routes.geometry.to_numpy()
    must = shapely.intersects(shapely.buffer(territory, 29_990.0, quad_segs=64), lines)
    may = shapely.intersects(shapely.buffer(territory, 30_010.0, quad_segs=64), lines)
    routable = ~routes["system"].isin({"eure", "fratr"}).to_numpy()
    kept = routed_roots(cvl_roads["national"])
    assert set(routes.loc[must & routable, "root"]) <= kept <= set(routes.loc[may & routable, "root"])
    by_region = routes.loc[routes["root"].isin(kept), "region"].value_counts()
    print("\nroutes kept by region:", by_region.to_dict())
    assert set(by_region.index) >= NEIGHBOURS
    assert set(by_region.index) <= NEIGHBOURS | {"FRA-CVL"}  # Corsica, Brittany... lie farther


@pytest.mark.regional
def test_the_buffered_graph_holds_the_regional_one_and_more(cvl_roads: dict) -> None:
    regional, national = cvl_roads["regional"], cvl_roads["national"]
    assert national.number_of_nodes() > regional.number_of_nodes()
    assert national.number_of_edges() > regional.number_of_edges()

    def edges(graph: nx.MultiDiGraph) -> set[tuple[float, float, float, float, float]]:
        xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
        return {(*xy[u], *xy[v], round(t, 6)) for u, v, t in graph.edges(data="travel_time")}

    # same coordinates, same edges and times: the regional graph is part of the buffered one
    assert edges(regional) <= edges(national)


def town_hall_nodes(cvl_roads: dict, data_dir: Path, codes: list[str]) -> dict[str, tuple[object, object]]:
    """Each town hall's nearest node of the regional graph (a k-d tree in Lambert-93), and
    the node at the same coordinates in the buffered graph."""
    regional, national = cvl_roads["regional"], cvl_roads["national"]
    halls = gpd.read_file(data_dir / COMMUNES, layer="mairies", engine="pyogrio").to_crs(L93).set_index("code_insee")
    ids = list(regional.nodes)
    to_l93 = Transformer.from_crs("EPSG:4326", L93, always_xy=True)
    x, y = to_l93.transform([regional.nodes[n]["x"] for n in ids], [regional.nodes[n]["y"] for n in ids])
    tree = cKDTree(np.column_stack([x, y]))
    by_xy = {(d["x"], d["y"]): n for n, d in national.nodes(data=True)}
    out = {}
    for code in codes:
        point = halls.geometry[code]
        distance, i = tree.query([point.x, point.y])
        assert distance < 500, code  # the town hall is on a road
        node = ids[int(i)]
        out[code] = (node, by_xy[(regional.nodes[node]["x"], regional.nodes[node]["y"])])
    return out


@pytest.mark.regional
def test_drive_times_near_the_border_only_shrink(cvl_roads: dict, data_dir: Path) -> None:
    codes = sorted({c for pair in [*BORDER_PAIRS, ENCLAVE_PAIR] for c in pair})
    nodes = town_hall_nodes(cvl_roads, data_dir, codes)
    regional, national = cvl_roads["regional"], cvl_roads["national"]
    shorter = 0
    for a, b in BORDER_PAIRS:
        before = nx.shortest_path_length(regional, nodes[a][0], nodes[b][0], weight="travel_time")
        after = nx.shortest_path_length(national, nodes[a][1], nodes[b][1], weight="travel_time")
        print(f"\n{a} -> {b}: {before / 60:.2f} min on the regional network, {after / 60:.2f} min with 30 km around")
        assert after <= before + 1e-6
        shorter += after < before - 60
    assert shorter >= 1  # somewhere the way through the neighbour saves more than a minute
    a, b = ENCLAVE_PAIR
    with pytest.raises(nx.NetworkXNoPath):
        nx.shortest_path_length(regional, nodes[a][0], nodes[b][0], weight="travel_time")
    assert nx.has_path(national, nodes[a][1], nodes[b][1])

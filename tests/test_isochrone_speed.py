"""The isochrones drawn threshold on threshold (each band built on the one before) against
bands drawn directly, threshold by threshold, with shapely and NetworkX: within the
documented ``(SIMPLIFY_RATIO + ROAD_SIMPLIFY_RATIO + 0.02) * buffer_m`` of them."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import LOCAL_CRS, make_graph
from shapely.ops import substring

from coverage.analysis import compile_network
from coverage.isochrones import ROAD_SIMPLIFY_RATIO, SIMPLIFY_RATIO, isochrones, reached_edges

BUFFER_M = 500.0
TOLERANCE = BUFFER_M * (SIMPLIFY_RATIO + ROAD_SIMPLIFY_RATIO + 0.02)


def _farthest(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """How far a point of either area lies from the other: the points of each outline
    (one every 5 m) outside the other area, and the largest circle in either difference
    (a hole filled in one and not in the other)."""
    far = 0.0
    for one, other in ((a, b), (b, a)):
        xy = shapely.get_coordinates(shapely.segmentize(shapely.boundary(one), 5.0))
        outside = xy[~shapely.contains_xy(other, xy[:, 0], xy[:, 1])]
        if len(outside):
            far = max(far, float(shapely.distance(shapely.points(outside), other.boundary).max()))
        parts = [p for p in shapely.get_parts(shapely.difference(one, other)) if p.area > 1.0]
        if parts:
            far = max(far, float(shapely.length(shapely.maximum_inscribed_circle(parts, tolerance=0.5)).max()))
    return far


def _direct_band(graph: nx.MultiDiGraph, node: str, access_s: float, limit_s: float) -> shapely.Geometry:
    """The exact band of one threshold, from NetworkX times and shapely cuts, fine arcs."""
    to_facility = nx.single_source_dijkstra_path_length(graph.reverse(), node, weight="travel_time")
    pieces = []
    for u, v, data in graph.edges(data=True):
        if v not in to_facility or to_facility[v] + access_s > limit_s:
            continue
        spare = limit_s - to_facility[v] - access_s
        line = data.get("geometry") or shapely.LineString([graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in (u, v))
        fraction = min(1.0, spare / data["travel_time"])
        if fraction > 0:
            pieces.append(substring(line, line.length * (1.0 - fraction), line.length))
    if not pieces:
        return shapely.Polygon()
    return shapely.union_all([shapely.buffer(p, BUFFER_M, quad_segs=32) for p in pieces])


def _town() -> nx.MultiDiGraph:
    """A 6 x 6 grid of streets 700 m apart with uneven times, one street bent (a
    three-point geometry), and a one-way loop drawn on two different lines."""
    rng = np.random.default_rng(3)
    nodes = {f"{i},{j}": (700.0 * i, 700.0 * j) for i in range(6) for j in range(6)}
    edges = []
    for i in range(6):
        for j in range(6):
            if i < 5:
                edges.append((f"{i},{j}", f"{i + 1},{j}", float(rng.uniform(40, 160))))
            if j < 5:
                edges.append((f"{i},{j}", f"{i},{j + 1}", float(rng.uniform(40, 160))))
    graph = make_graph(nodes, edges)
    bent = shapely.LineString([(0.0, 0.0), (350.0, 300.0), (700.0, 0.0)])
    graph.edges["0,0", "1,0", 0]["geometry"] = bent
    graph.edges["1,0", "0,0", 0]["geometry"] = shapely.reverse(bent)
    # a divided road: out along the straight line, back along a detour 900 m south
    nodes["far"] = (5600.0, 0.0)
    graph.add_node("far", x=5600.0, y=0.0)
    # (three points each way, so that only the points tell the two lines apart)
    out = shapely.LineString([(3500, 0), (4550, 0), (5600, 0)])
    graph.add_edge("5,0", "far", length=2100.0, travel_time=150.0, geometry=out)
    graph.add_edge(
        "far",
        "5,0",
        length=3600.0,
        travel_time=150.0,
        geometry=shapely.LineString([(5600, 0), (4900, -900), (3500, 0)]),
    )
    return graph


@pytest.mark.parametrize(("node", "access_s"), [("2,3", 0.0), ("5,0", 30.0), ("0,0", 420.0)])
def test_each_threshold_is_within_the_tolerance_of_its_band_drawn_directly(node: str, access_s: float) -> None:
    graph = _town()
    network = compile_network(graph, metric_crs=LOCAL_CRS)
    thresholds = [5.0, 8.0, 12.0]
    frame = isochrones(
        network, np.array([network.index_of(node)]), np.array([access_s]), ["f"], thresholds, buffer_m=BUFFER_M
    )
    assert frame["threshold_min"].tolist() == thresholds
    for minutes, shape in zip(thresholds, frame.geometry, strict=True):
        exact = _direct_band(graph, node, access_s, minutes * 60.0)
        if exact.is_empty:  # an access leg of 7 minutes: nothing within 5
            assert (node, minutes) == ("0,0", 5.0) and shape.is_empty
            continue
        assert _farthest(shape, exact) <= TOLERANCE, (node, minutes)
        # and the areas agree to the width of the tolerance along the outline
        assert abs(shape.area - exact.area) <= TOLERANCE * exact.length


def test_both_lines_of_a_divided_road_are_drawn_though_they_join_the_same_nodes() -> None:
    graph = _town()
    network = compile_network(graph, metric_crs=LOCAL_CRS)
    frame = isochrones(network, np.array([network.index_of("5,0")]), np.array([0.0]), ["f"], [5.5], buffer_m=BUFFER_M)
    # within 330 s both are reached whole (150 s back along the detour, 150 + 150 s out):
    # the detour's lowest point and a point 450 m north of the road out (750 m from far,
    # more than 1 km from the detour and from the grid) are in
    shape = frame.geometry.iloc[0]
    assert shape.contains(shapely.Point(4900.0, -900.0 - BUFFER_M + TOLERANCE))
    assert shape.contains(shapely.Point(5000.0, BUFFER_M - TOLERANCE))


def _straight_road() -> tuple[nx.MultiDiGraph, dict[str, tuple[float, float]]]:
    # a -- 3 km, 300 s -- b -- 3 km, 300 s -- c, eastwards
    nodes = {"a": (0.0, 0.0), "b": (3000.0, 0.0), "c": (6000.0, 0.0)}
    return make_graph(nodes, [("a", "b", 300.0), ("b", "c", 300.0)]), nodes


@pytest.mark.parametrize(
    ("thresholds_s", "reach_m"),
    [
        # b -> a cut at 1 km, then 2.5 km (still cut, longer)
        ((100.0, 250.0), (1000.0, 2500.0)),
        # b -> a cut at 2 km, then whole, and c -> b cut at 1 km (4 km from a)
        ((200.0, 400.0), (2000.0, 4000.0)),
        # nothing at 1 s? a little: b -> a cut 10 m from a; then whole, c -> b whole
        ((1.0, 600.0), (10.0, 6000.0)),
    ],
)
def test_an_edge_cut_at_one_threshold_is_cut_further_along_at_the_next(
    thresholds_s: tuple[float, float], reach_m: tuple[float, float]
) -> None:
    graph, _ = _straight_road()
    network = compile_network(graph, metric_crs=LOCAL_CRS)
    minutes = [t / 60.0 for t in thresholds_s]
    frame = isochrones(network, np.array([network.index_of("a")]), np.array([0.0]), ["f"], minutes, buffer_m=BUFFER_M)
    for reach, shape in zip(reach_m, frame.geometry, strict=True):
        # the band of the road from a to ``reach`` m east: a stadium, 1 km wide
        x0, y0, x1, y1 = shape.bounds
        expected = (-BUFFER_M, -BUFFER_M, reach + BUFFER_M, BUFFER_M)
        assert np.allclose((x0, y0, x1, y1), expected, atol=TOLERANCE), (shape.bounds, expected)
        stadium = shapely.buffer(shapely.LineString([(0, 0), (reach, 0)]), BUFFER_M, quad_segs=64)
        assert _farthest(shape, stadium) <= TOLERANCE


def test_a_facility_with_nothing_within_the_first_threshold_gets_an_empty_polygon_then_its_bands() -> None:
    graph, _ = _straight_road()
    network = compile_network(graph, metric_crs=LOCAL_CRS)
    # an access leg of 11 minutes: nothing within 10, 9 minutes of road within 20 (5.4 km
    # from a, b -> a whole and c -> b cut at 2.4 km), everything within 30
    frame = isochrones(
        network, np.array([network.index_of("a")]), np.array([660.0]), ["f"], [10, 20, 30], buffer_m=BUFFER_M
    )
    empty, twenty, thirty = frame.geometry
    assert empty.is_empty and frame["area_km2"].iloc[0] == 0.0
    for reach, shape in ((5400.0, twenty), (6000.0, thirty)):
        stadium = shapely.buffer(shapely.LineString([(0, 0), (reach, 0)]), BUFFER_M, quad_segs=64)
        assert _farthest(shape, stadium) <= TOLERANCE
        # a stadium's area: the rectangle and one disk
        assert shape.area == pytest.approx(reach * 2 * BUFFER_M + np.pi * BUFFER_M**2, rel=0.01)


def test_reached_edges_cuts_a_bent_edge_where_the_time_runs_out() -> None:
    graph = _town()
    network = compile_network(graph, metric_crs=LOCAL_CRS)
    seconds = np.full(network.n_nodes, np.inf)
    seconds[network.index_of("0,0")] = 0.0
    travel = graph.edges["1,0", "0,0", 0]["travel_time"]
    # a quarter of the edge's time: its last quarter, on the bent line from (1,0) to (0,0)
    pieces = reached_edges(network, seconds, travel / 4)
    back = shapely.LineString([(700.0, 0.0), (350.0, 300.0), (0.0, 0.0)])
    # the last quarter of a line whose two halves are 461 m long each: 230.5 m from (0, 0)
    # along the segment from (350, 300)
    half = np.hypot(350.0, 300.0)
    end = (350.0 * 0.5, 300.0 * 0.5)
    expected = shapely.LineString([end, (0.0, 0.0)])
    cut = [p for p in pieces if shapely.equals_exact(shapely.get_point(p, -1), shapely.Point(0, 0), 1e-6)]
    # the two edges ending at (0, 0) each give a quarter: (1,0) -> (0,0) and (0,1) -> (0,0)
    assert len(cut) == 2
    bent = min(cut, key=lambda p: shapely.hausdorff_distance(p, back))
    assert bent.length == pytest.approx(half / 2)
    assert shapely.hausdorff_distance(bent, expected) < 1e-6

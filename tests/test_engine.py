"""Travel times, snapping, catchments, statistics and isochrones on tiny hand-built networks.

Every expected value below is added up by hand from the edge times of the drawing.

    F (0,1000)
    ^ \\ 30 s one-way F->B
    |  \\
    60 s one-way A->F
    |    v
    A ---60--- B ---120 (and a parallel 200)--- C ---60--- D
    (0,0)      |(1000,0)                      (2000,0)   (3000,0)
              300
               |
               E (1000,-1000)

Facilities: "fa" exactly at A (no access leg), "fd" 100 m north of D (access leg
100 m at 30 km/h = 12 s).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import LOCAL_CRS, facilities_at, make_graph, units_at

import coverage as cov
from coverage.analysis import GapAnalysis
from coverage.isochrones import isochrones
from coverage.network import RoutingNetwork, compile_network, largest_strong_component
from coverage.snapping import snap_points
from coverage.stats import coverage_by_area
from coverage.traveltime import bounded_times_to_facilities, nearest_facility

NODES = {"A": (0, 0), "B": (1000, 0), "C": (2000, 0), "D": (3000, 0), "E": (1000, -1000), "F": (0, 1000)}


def drawing() -> nx.MultiDiGraph:
    graph = make_graph(NODES, [("A", "B", 60), ("B", "C", 120), ("C", "D", 60), ("B", "E", 300)])
    graph.add_edge("B", "C", length=1000, travel_time=200)  # slower parallel edge
    graph.add_edge("C", "B", length=1000, travel_time=200)
    graph.add_edge("A", "F", length=1000, travel_time=60)  # one-way
    graph.add_edge("F", "B", length=1414, travel_time=30)  # one-way
    return graph


FACILITIES = facilities_at({"fa": (0, 0), "fd": (3000, 100)})
CONFIG = cov.AnalysisConfig(thresholds_min=(1, 2, 5, 10), access_speed_kph=30, max_snap_m=500)


@pytest.fixture(scope="module")
def network() -> RoutingNetwork:
    return compile_network(drawing(), metric_crs="EPSG:2154")


def test_compile_keeps_fastest_parallel_edge_not_the_sum(network: RoutingNetwork) -> None:
    b, c = network.index_of("B"), network.index_of("C")
    assert network.matrix[b, c] == 120
    assert network.matrix[c, b] == 120
    # the NetworkX conversion adds parallel edges up, which is why it is not used
    wrong = nx.to_scipy_sparse_array(drawing(), nodelist=list(network.node_ids), weight="travel_time")
    assert wrong[b, c] == 320


def test_nearest_facility_times_by_hand(network: RoutingNetwork) -> None:
    fa, fd = network.index_of("A"), network.index_of("D")
    result = nearest_facility(network, np.array([fa, fd]), np.array([0.0, 12.0]))
    expected = {
        "A": (0, 0),  # at fa
        "B": (60, 0),  # B->A
        "C": (72, 1),  # C->D 60 + access 12 (via A: 180)
        "D": (12, 1),  # access leg only
        "E": (360, 0),  # E->B->A 300+60 (via D: 300+120+60+12=492)
        "F": (90, 0),  # F->B->A 30+60: A->F is one-way, so not 60
    }
    for node, (seconds, facility) in expected.items():
        i = network.index_of(node)
        assert result.seconds[i] == pytest.approx(seconds), node
        assert result.facility[i] == facility, node


def test_unreachable_nodes_get_nan_and_no_facility() -> None:
    graph = make_graph({"A": (0, 0), "B": (1000, 0), "X": (5000, 0), "Y": (6000, 0)}, [("A", "B", 60), ("X", "Y", 60)])
    network = compile_network(graph)
    result = nearest_facility(network, np.array([network.index_of("A")]))
    assert math.isnan(result.seconds[network.index_of("X")])
    assert result.facility[network.index_of("X")] == -1
    assert result.seconds[network.index_of("B")] == 60


def test_snapping_access_leg_and_limit(network: RoutingNetwork) -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    pts = gpd.GeoSeries([Point(1000, 50), Point(2000, 0), Point(9000, 0)], crs=LOCAL_CRS)
    snap = snap_points(pts, network, access_speed_kph=36, max_snap_m=1000)
    assert list(snap.node[:2]) == ["B", "C"]
    assert snap.snap_distance_m[0] == pytest.approx(50)
    assert snap.access_seconds[0] == pytest.approx(5.0)  # 50 m at 10 m/s
    assert snap.access_seconds[1] == 0
    assert snap.beyond_max_snap.tolist() == [False, False, True]
    assert snap.node[2] is None and snap.node_index[2] == -1
    assert snap.snap_distance_m[2] == pytest.approx(6000)
    assert math.isnan(snap.access_seconds[2])


def test_snapping_reprojects_points() -> None:
    graph = make_graph({"A": (0, 0), "B": (1000, 0)}, [("A", "B", 60)])
    network = compile_network(graph)
    wgs84 = units_at({"u": (0, 0)}, [1]).to_crs("EPSG:4326")
    snap = snap_points(wgs84, network, access_speed_kph=30, max_snap_m=10)
    assert snap.node[0] == "A"
    assert snap.snap_distance_m[0] < 0.01


def analysis() -> GapAnalysis:
    units = units_at(
        {"uB": (1000, 0), "uC": (2000, 0), "uE": (1000, -1000), "far": (10000, 10000), "uF": (0, 1100)},
        [100, 200, 300, 50, 10],
    )
    return cov.analyse(drawing(), FACILITIES, units, CONFIG)


def test_analysis_unit_minutes_by_hand() -> None:
    result = analysis()
    units = result.units.set_index("unit_id")
    assert units.loc["uB", "minutes_to_nearest"] == pytest.approx(1.0)
    assert units.loc["uC", "minutes_to_nearest"] == pytest.approx(72 / 60)
    assert units.loc["uE", "minutes_to_nearest"] == pytest.approx(6.0)
    # uF is 100 m from F: 12 s of access leg, then F->B->A 90 s
    assert units.loc["uF", "access_minutes"] == pytest.approx(12 / 60)
    assert units.loc["uF", "minutes_to_nearest"] == pytest.approx(102 / 60)
    assert units.loc["uB", "nearest_facility"] == "fa"
    assert units.loc["uC", "nearest_facility"] == "fd"
    assert units.loc["uC", "nearest_facility_type"] == "msp"
    assert math.isnan(units.loc["far", "minutes_to_nearest"])
    assert pd.isna(units.loc["far", "nearest_facility"])
    assert bool(units.loc["far", "beyond_max_snap"])
    fac = result.facilities.set_index("facility_id")
    assert fac.loc["fd", "access_minutes"] == pytest.approx(12 / 60)
    assert fac.loc["fd", "node"] == "D"


def test_summary_by_hand() -> None:
    summary = analysis().summary.set_index("threshold_min")
    # minutes: uB 1.0, uC 1.2, uE 6.0, uF 1.7, far unreachable; populations 100/200/300/10/50
    assert summary.loc[1.0, "population_covered"] == 100  # 1.0 <= 1 counts as covered
    assert summary.loc[1.0, "population_uncovered"] == 510
    assert summary.loc[2.0, "population_covered"] == 310
    assert summary.loc[5.0, "population_covered"] == 310
    assert summary.loc[10.0, "population_covered"] == 610
    assert (summary["population_unreachable"] == 50).all()
    assert (summary["population_total"] == 660).all()
    assert summary.loc[10.0, "share_covered"] == pytest.approx(610 / 660)


def test_catchments_group_units_by_nearest_facility() -> None:
    catchments = analysis().catchments.set_index("facility_id")
    assert catchments.loc["fa", "population"] == 100 + 300 + 10
    assert catchments.loc["fa", "n_units"] == 3
    assert catchments.loc["fd", "population"] == 200
    assert catchments.loc["fa", "max_minutes"] == pytest.approx(6.0)
    assert catchments.loc["fa", "mean_minutes"] == pytest.approx((100 * 1 + 300 * 6 + 10 * 102 / 60) / 410)


def test_coverage_by_area_levels() -> None:
    units = units_at({"a": (0, 0), "b": (1, 0), "c": (2, 0)}, [10, 20, 30])
    units["minutes_to_nearest"] = [5.0, 25.0, np.nan]
    units["department"] = ["18", "18", "36"]
    units["department_name"] = ["Cher", "Cher", "Indre"]
    table = coverage_by_area(units, [10, 30])
    cher = table[(table.area_id == "18") & (table.threshold_min == 10)].iloc[0]
    assert (cher.population_covered, cher.population_uncovered, cher.population_unreachable) == (10, 20, 0)
    assert cher.mean_minutes == pytest.approx((10 * 5 + 20 * 25) / 30)
    assert cher.area_name == "Cher"
    indre = table[(table.area_id == "36") & (table.threshold_min == 30)].iloc[0]
    assert indre.population_unreachable == 30 and math.isnan(indre.share_covered) is False
    assert indre.share_covered == 0
    assert set(table.level) == {"department"}  # no commune/epci columns -> levels skipped


def test_isochrone_follows_the_road_and_cuts_where_time_runs_out() -> None:
    # An L-shaped road: A (facility) -> B east 1000 m in 60 s, B -> C north 1000 m in 60 s.
    graph = make_graph({"A": (0, 0), "B": (1000, 0), "C": (1000, 1000)}, [("A", "B", 60), ("B", "C", 60)])
    network = compile_network(graph, metric_crs=LOCAL_CRS)  # geometry in the test CRS
    iso = isochrones(network, np.array([network.index_of("A")]), np.array([0.0]), ["fa"], [0.5, 1.5], buffer_m=100)
    half = iso[iso.threshold_min == 0.5].geometry.iloc[0]
    # 30 s reach 500 m along A-B: a 500 m band of half-width 100 m with rounded ends
    assert half.contains(cov.snapping.gpd.points_from_xy([450], [0])[0])
    assert not half.contains(cov.snapping.gpd.points_from_xy([650], [0])[0])
    # simplification trims the round ends, never the straight sides
    assert 500 * 200 < half.area < 500 * 200 + math.pi * 100**2
    whole = iso[iso.threshold_min == 1.5].geometry.iloc[0]
    # 90 s: all of A-B and half of B-C; the corner opposite B is not inside (no convex hull)
    assert whole.contains(cov.snapping.gpd.points_from_xy([1000], [450])[0])
    assert not whole.contains(cov.snapping.gpd.points_from_xy([1000], [650])[0])
    assert not whole.contains(cov.snapping.gpd.points_from_xy([400], [400])[0])


def test_isochrones_include_facility_access_leg() -> None:
    graph = make_graph({"A": (0, 0), "B": (1000, 0)}, [("A", "B", 60)])
    network = compile_network(graph, metric_crs=LOCAL_CRS)
    iso = isochrones(network, np.array([0]), np.array([30.0]), ["f"], [0.25, 1.0], buffer_m=50)
    assert iso[iso.threshold_min == 0.25].geometry.iloc[0].is_empty  # 30 s of access > 15 s budget
    one = iso[iso.threshold_min == 1.0].geometry.iloc[0]  # 30 s left: 500 m of the 1000 m edge
    assert one.contains(cov.snapping.gpd.points_from_xy([450], [0])[0])
    assert not one.contains(cov.snapping.gpd.points_from_xy([600], [0])[0])


def test_isochrones_in_worker_processes_are_the_same_polygons(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten facilities along a line of 40 nodes, drawn here and by two forked processes
    (the small-case guards lowered so that they fork): the same polygons, in the same
    order, and each facility's own (a facility's polygon contains its node)."""
    import coverage.isochrones as iso_module

    nodes = {f"n{i}": (i * 500.0, (i % 3) * 200.0) for i in range(40)}
    graph = make_graph(nodes, [(f"n{i}", f"n{i + 1}", 30) for i in range(39)])
    network = compile_network(graph, metric_crs=LOCAL_CRS)
    at = np.array([network.index_of(f"n{i}") for i in range(0, 40, 4)])
    args = (network, at, np.zeros(len(at)), [f"f{i}" for i in range(len(at))], [1.0, 2.0])
    here = isochrones(*args, buffer_m=100, workers=1)
    monkeypatch.setattr(iso_module, "_MIN_FACILITIES_PER_WORKER", 1)
    monkeypatch.setattr(iso_module, "_MIN_NODES_FOR_WORKERS", 1)
    monkeypatch.setattr(iso_module, "_CHUNK", 3)
    forked: list[int] = []
    real_pool = iso_module.ProcessPoolExecutor
    monkeypatch.setattr(iso_module, "ProcessPoolExecutor", lambda n, **kw: forked.append(n) or real_pool(n, **kw))
    there = isochrones(*args, buffer_m=100, workers=2)
    assert forked == [2]
    assert there["facility_id"].tolist() == here["facility_id"].tolist() == [f"f{i}" for i in range(10) for _ in "ab"]
    assert there["threshold_min"].tolist() == here["threshold_min"].tolist() == [1.0, 2.0] * 10
    assert all(a.equals_exact(b, 0.0) for a, b in zip(here.geometry, there.geometry, strict=True))
    for row, i in zip(there.itertuples(), np.repeat(np.arange(0, 40, 4), 2), strict=True):
        assert row.geometry.contains(cov.snapping.gpd.points_from_xy([nodes[f"n{i}"][0]], [nodes[f"n{i}"][1]])[0])


def test_bounded_searches_agree_with_the_full_search(network: RoutingNetwork) -> None:
    nodes = np.array([network.index_of("A"), network.index_of("D")])
    access = np.array([0.0, 12.0])
    found = {
        pos: dict(zip(n.tolist(), t.tolist(), strict=True))
        for pos, n, t in bounded_times_to_facilities(network, nodes, access, 100)
    }
    assert found[0] == {network.index_of("A"): 0, network.index_of("B"): 60, network.index_of("F"): 90}
    assert found[1] == {network.index_of("D"): 12, network.index_of("C"): 72}


def test_largest_strong_component_drops_one_way_dead_ends() -> None:
    graph = make_graph({"A": (0, 0), "B": (1, 0), "C": (2, 0)}, [("A", "B", 1), ("B", "C", 1)])
    graph.add_node("Z", x=3.0, y=0.0)
    graph.add_edge("C", "Z", length=1, travel_time=1)  # Z can be reached but not left
    kept = largest_strong_component(graph)
    assert set(kept.nodes) == {"A", "B", "C"}
    assert graph.has_node("Z")  # the input is not modified


def test_integer_ids_come_out_as_text_in_every_output() -> None:
    graph = make_graph({"A": (0, 0), "B": (1000, 0)}, [("A", "B", 60)])
    facilities = facilities_at({"x": (0, 0)}).assign(facility_id=[7])
    units = units_at({"u": (1000, 0)}, [5]).assign(unit_id=[42])
    result = cov.analyse(graph, facilities, units, cov.AnalysisConfig(thresholds_min=(2,)))
    assert result.units["unit_id"].tolist() == ["42"]
    assert result.units["nearest_facility"].tolist() == ["7"]
    assert result.catchments["facility_id"].tolist() == ["7"]
    assert result.catchments["name"].tolist() == ["x"]
    assert result.isochrones["name"].tolist() == ["x"]  # joined back to the facility

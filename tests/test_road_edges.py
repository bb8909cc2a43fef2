"""The road network as arrays: built from lines by hand, and against NetworkX."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString

from coverage import AnalysisConfig, analyse
from coverage.network import compile_network, largest_strong_component
from coverage.outputs.graphml import write_graphml
from coverage.road_edges import RoadEdges, edges_from_lines
from coverage.speeds import SpeedProfile

#: Lambert-93 coordinates in the middle of France; the layers are drawn from there.
X0, Y0 = 600_000.0, 6_700_000.0
PROFILE = SpeedProfile(speeds_kph={"fast": 90.0, "slow": 36.0}, classes=(("drop", "exclude"),))


def layer() -> gpd.GeoDataFrame:
    """Metres in EPSG:2154 from (X0, Y0).  Row 'a': 0,0 -> 1200,0 (cut into 3 pieces of 400 m), two-way.
    Row 'b': the same segment the other way (its cut points are the same two nodes), one-way.
    Row 'c': a MultiLineString, 1200,0 -> 1200,300 and a lone part 5000,0 -> 5100,0, named
    with text XML must escape.  Row 'd': a class the profile drops."""
    frame = gpd.GeoDataFrame(
        {
            "cls": ["fast", "slow", "slow", "drop"],
            "oneway": [None, "yes", "no", None],
            "route": ["A & <1>", None, "C\x07", "D"],
        },
        geometry=[
            LineString([(0, 0), (1200, 0)]),
            LineString([(1200, 0), (0, 0)]),
            MultiLineString([[(1200, 0), (1200, 300)], [(5000, 0), (5100, 0)]]),
            LineString([(0, 0), (0, 900)]),
        ],
        index=["a", "b", "c", "d"],
        crs="EPSG:2154",
    )
    return frame.set_geometry(frame.translate(X0, Y0))


#: The directed edges of layer(), worked out by hand (see the first test): row c's two
#: segments kept whole, two-way; row a's pieces, each followed by its reverse; row b's
#: pieces, one-way, along it.
EDGES_BY_HAND = [(1, 2), (2, 1), (3, 4), (4, 3), (0, 5), (5, 0), (5, 6), (6, 5), (6, 1), (1, 6), (1, 6), (6, 5), (5, 0)]


def build(**options: object) -> RoadEdges:
    kw: dict = {"class_column": "cls", "profile": PROFILE, "oneway_column": "oneway", "name_column": "route"}
    return edges_from_lines(layer(), metric_crs="EPSG:2154", **(kw | options))


def test_segments_are_cut_into_shared_nodes_by_hand() -> None:
    roads = build()
    # vertices sorted by coordinates: (0,0) 0, (1200,0) 1, (1200,300) 2, (5000,0) 3, (5100,0) 4;
    # then the cut points of 0-1 at 400 and 800 m, shared by rows a and b
    assert (roads.node_x - X0).tolist() == [0, 1200, 1200, 5000, 5100, 400, 800]
    assert (roads.node_y - Y0).tolist() == [0, 0, 300, 0, 0, 0, 0]
    pairs = list(zip(roads.edge_u.tolist(), roads.edge_v.tolist(), strict=True))
    # segments kept whole first (row c's two parts, two-way), then the pieces of the cut ones
    assert pairs == EDGES_BY_HAND
    assert roads.length.tolist() == [300, 300, 100, 100] + [400] * 9
    # 400 m at 90 km/h = 16 s; at 36 km/h: 40 s; 300 m at 36 km/h: 30 s
    assert roads.travel_time.tolist() == pytest.approx([30, 30, 10, 10] + [16] * 6 + [40] * 3)
    assert [roads.row_source[r] for r in roads.edge_row] == ["c"] * 4 + ["a"] * 6 + ["b"] * 3
    assert roads.row_name.tolist() == ["A & <1>", None, "C\x07"]
    # the parallel edges 1 -> 6 (rows a and b) get keys 0 and 1, as NetworkX numbers them
    assert roads.edge_keys().tolist() == [0] * 10 + [1, 1, 1]


def test_networkx_graph_has_the_attributes_and_order_of_a_hand_built_one() -> None:
    graph = build().to_networkx()
    assert graph.graph == {"crs": "EPSG:2154", "name": "road layer", "simplified": False}
    assert graph.nodes[5] == {"x": X0 + 400.0, "y": Y0}
    assert graph.edges[6, 1, 0] == {
        "length": 400.0,
        "speed_kph": 90.0,
        "travel_time": 16.0,
        "highway": "fast",
        "road_class": "fast",
        "source_row": "a",
        "name": "A & <1>",
    }
    assert "name" not in graph.edges[1, 6, 1]  # row b has no name
    hand = nx.MultiDiGraph()
    hand.add_nodes_from(range(7))
    for a, b in EDGES_BY_HAND:
        hand.add_edge(a, b)
    assert list(graph.edges(keys=True)) == list(hand.edges(keys=True))


def test_no_cut_without_a_maximum_length() -> None:
    roads = build(max_edge_length_m=None)
    assert roads.number_of_nodes() == 5
    assert sorted(roads.length.tolist()) == [100, 100, 300, 300, 1200, 1200, 1200]


def random_roads(seed: int) -> RoadEdges:
    """A multigraph with parallel edges, loops and several components."""
    rng = np.random.default_rng(seed)
    n, m = 30, 90
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    rows = rng.integers(0, 4, m)
    names = np.empty(4, dtype=object)
    names[:] = ['x "1"', None, "y\x01", "z"]
    return RoadEdges(
        crs="EPSG:2154",
        name="random <net>",
        node_id=np.arange(n) * 10,
        node_x=rng.uniform(600000, 610000, n),
        node_y=rng.uniform(6600000, 6610000, n),
        edge_u=u,
        edge_v=v,
        length=rng.uniform(1, 500, m),
        speed_kph=np.full(m, 50.0),
        travel_time=rng.uniform(1, 60, m),
        edge_row=rows,
        row_highway=np.array(["a", "b", "c", "d"], dtype=object),
        row_class=np.array(["A", "B", "C", "D"], dtype=object),
        row_source=np.array([0, 1, "two", 3], dtype=object),
        row_name=names,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order_keys_and_component_agree_with_networkx(seed: int) -> None:
    roads = random_roads(seed)
    graph = roads.to_networkx()
    order = roads.networkx_order()
    ids = roads.node_id
    listed = [
        (ids[a], ids[b], k)
        for a, b, k in zip(roads.edge_u[order], roads.edge_v[order], roads.edge_keys()[order], strict=True)
    ]
    assert listed == list(graph.edges(keys=True))
    component = roads.largest_strong_component()
    biggest = max(nx.strongly_connected_components(graph), key=len)
    assert set(component.node_id.tolist()) == biggest
    assert list(component.to_networkx().edges(keys=True, data=True)) == list(
        largest_strong_component(graph).edges(keys=True, data=True)
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_graphml_from_the_arrays_is_the_graphs(tmp_path: Path, seed: int) -> None:
    roads = random_roads(seed).largest_strong_component()
    write_graphml(roads, tmp_path / "a.graphml")
    write_graphml(roads.to_networkx(), tmp_path / "b.graphml")
    assert (tmp_path / "a.graphml").read_text("utf-8") == (tmp_path / "b.graphml").read_text("utf-8")
    back = nx.read_graphml(tmp_path / "a.graphml")
    assert back.graph["name"] == "random <net>"
    assert "y\ufffd" in {d.get("name") for _, _, d in back.edges(data=True)}


def test_compiled_from_the_arrays_or_the_graph_alike() -> None:
    roads = random_roads(3).largest_strong_component()
    a, b = compile_network(roads), compile_network(roads.to_networkx())
    assert a.node_ids.tolist() == b.node_ids.tolist()
    assert (a.matrix != b.matrix).nnz == 0
    assert a.edge_key.tolist() == b.edge_key.tolist()
    assert a.graph.number_of_edges() == roads.number_of_edges()


def test_analysis_takes_the_arrays() -> None:
    roads = edges_from_lines(
        gpd.GeoDataFrame({"cls": ["slow"]}, geometry=[LineString([(X0, Y0), (X0 + 3600, Y0)])], crs="EPSG:2154"),
        class_column="cls",
        profile=PROFILE,
        metric_crs="EPSG:2154",
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["f"], "name": ["F"], "type": ["msp"]}, geometry=gpd.points_from_xy([X0], [Y0]), crs="EPSG:2154"
    )
    units = gpd.GeoDataFrame(
        {"unit_id": ["u"], "name": ["U"], "population": [10]},
        geometry=gpd.points_from_xy([X0 + 3600], [Y0]),
        crs="EPSG:2154",
    )
    result = analyse(roads, facilities, units, AnalysisConfig(isochrones=False, metric_crs="EPSG:2154"))
    # 3.6 km at 36 km/h: 6 minutes
    assert result.units["minutes_to_nearest"].iloc[0] == pytest.approx(6.0)
    assert result.network.source is not None and result.network.graph.number_of_nodes() == 9

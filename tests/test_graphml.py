"""The GraphML writer against OSMnx's own (:func:`osmnx.save_graphml`), read back by NetworkX and OSMnx."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import osmnx as ox
import pytest

from coverage.outputs.files import save_graphml
from coverage.outputs.graphml import write_graphml


def tricky_graph() -> nx.MultiDiGraph:
    """Multi-edges (keys 0 and 1), a node and an edge with no attribute, text that XML must
    escape, non-ASCII names, None, booleans, lists and numbers (OSMnx reads back only
    whole-number node ids and edge keys)."""
    graph = nx.MultiDiGraph(crs="EPSG:2154", name='roads <"A&B"> \u00e9t\u00e9', simplified=False)
    graph.add_node(10, x=1.5, y=-2.25, street_count=3)
    graph.add_node(2, x=1e-7, y=float("inf"))
    graph.add_node(3)  # no attribute
    graph.add_edge(10, 2, key=0, length=12.0, name="Rue de l'\u00c9glise & <gare>", oneway=True)
    graph.add_edge(10, 2, key=1, length=13.5, name=None, ref=["D1", "D2"])
    graph.add_edge(2, 3, key=0)  # no attribute
    graph.add_edge(3, 10, key=0, length=7, name="line\r\nfeed\ttab", highway="primary")
    return graph


def read_both(path_a: Path, path_b: Path) -> None:
    for reader in (lambda p: nx.read_graphml(p, force_multigraph=True), ox.load_graphml):
        a, b = reader(path_a), reader(path_b)
        assert a.graph == b.graph
        assert list(a.nodes(data=True)) == list(b.nodes(data=True))
        assert list(a.edges(keys=True, data=True)) == list(b.edges(keys=True, data=True))


def test_the_file_reads_back_as_osmnx_writes_it(tmp_path: Path) -> None:
    graph = tricky_graph()
    ox.save_graphml(graph, tmp_path / "osmnx.graphml")
    write_graphml(graph, tmp_path / "ours.graphml")
    read_both(tmp_path / "osmnx.graphml", tmp_path / "ours.graphml")
    back = nx.read_graphml(tmp_path / "ours.graphml", force_multigraph=True)
    # by hand: every value is its str(), keys and ids as strings, text unescaped on reading
    assert {k: back.graph[k] for k in ("crs", "name", "simplified")} == {
        "crs": "EPSG:2154",
        "name": 'roads <"A&B"> \u00e9t\u00e9',
        "simplified": "False",
    }
    assert back.nodes["10"] == {"x": "1.5", "y": "-2.25", "street_count": "3"}
    assert back.nodes["3"] == {}
    assert back.edges["10", "2", 1] == {"length": "13.5", "name": "None", "ref": "['D1', 'D2']"}
    assert back.edges["3", "10", 0]["name"] == "line\r\nfeed\ttab"
    assert back.edges["2", "3", 0] == {}
    assert graph.nodes[10]["x"] == 1.5  # the graph itself is left as it was


def test_characters_xml_cannot_hold_are_replaced(tmp_path: Path) -> None:
    """A name with a control character (a badly decoded file): OSMnx's writer fails on it;
    ours writes U+FFFD in its place, and the rest of the name as it was."""
    graph = nx.MultiDiGraph(crs="EPSG:2154")
    graph.add_edge(1, 2, name="Route\x01 du \x0bmoulin\ufffe")
    with pytest.raises(ValueError):
        ox.save_graphml(graph, tmp_path / "osmnx.graphml")
    save_graphml(graph, tmp_path / "ours.graphml")
    back = nx.read_graphml(tmp_path / "ours.graphml", force_multigraph=True)
    assert back.edges["1", "2", 0]["name"] == "Route\ufffd du \ufffdmoulin\ufffd"


def test_text_ids_and_keys_are_escaped(tmp_path: Path) -> None:
    graph = nx.MultiDiGraph()
    graph.add_edge("n'1 & <2>", '"3"', key="k&1", w=1)
    write_graphml(graph, tmp_path / "g.graphml")
    back = nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True)
    assert list(back.edges(keys=True, data=True)) == [("n'1 & <2>", '"3"', "k&1", {"w": "1"})]


def test_a_plain_directed_graph_has_no_edge_ids(tmp_path: Path) -> None:
    graph = nx.DiGraph()
    graph.add_edge("a", "b", w=2.5)
    write_graphml(graph, tmp_path / "g.graphml")  # type: ignore[arg-type]
    text = (tmp_path / "g.graphml").read_text("utf-8")
    assert '<edge source="a" target="b">' in text and 'edgedefault="directed"' in text
    back = nx.read_graphml(tmp_path / "g.graphml")
    assert not back.is_multigraph() and back.edges["a", "b"] == {"w": "2.5"}

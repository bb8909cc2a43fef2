"""Invariants on random networks, with NetworkX as the independent reference."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
from conftest import LOCAL_CRS
from hypothesis import given, settings
from hypothesis import strategies as st

from coverage.network import compile_network
from coverage.stats import coverage_summary
from coverage.traveltime import nearest_facility


@st.composite
def road_networks(draw: st.DrawFn) -> tuple[nx.MultiDiGraph, list[int], list[float]]:
    """A random directed multigraph with facilities and access legs."""
    n = draw(st.integers(2, 25))
    graph = nx.MultiDiGraph(crs=LOCAL_CRS)
    for i in range(n):
        graph.add_node(i, x=float(i * 100), y=float((i * 37) % 11 * 100))
    n_edges = draw(st.integers(1, 4 * n))
    for _ in range(n_edges):
        u = draw(st.integers(0, n - 1))
        v = draw(st.integers(0, n - 1))
        t = draw(st.floats(0, 600, allow_nan=False))
        graph.add_edge(u, v, length=100.0, travel_time=t)
    k = draw(st.integers(1, min(n, 5)))
    facilities = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
    access = draw(st.lists(st.floats(0, 120, allow_nan=False), min_size=k, max_size=k))
    return graph, facilities, access


def networkx_reference(graph: nx.MultiDiGraph, facilities: list[int], access: list[float]) -> dict[int, float]:
    """Time from every node to its nearest facility: NetworkX on the reversed graph
    from a virtual source joined to each facility by its access leg."""
    reverse = nx.DiGraph()
    reverse.add_nodes_from(graph.nodes)
    for u, v, t in graph.edges(data="travel_time"):
        if u != v and (not reverse.has_edge(v, u) or reverse[v][u]["w"] > t):
            reverse.add_edge(v, u, w=t)
    source = "virtual"
    for f, a in zip(facilities, access, strict=True):
        if not reverse.has_edge(source, f) or reverse[source][f]["w"] > a:
            reverse.add_edge(source, f, w=a)
    lengths = nx.single_source_dijkstra_path_length(reverse, source, weight="w")
    return {n: d for n, d in lengths.items() if n != source}


@settings(max_examples=150, deadline=None)
@given(road_networks())
def test_nearest_facility_matches_networkx(case: tuple[nx.MultiDiGraph, list[int], list[float]]) -> None:
    graph, facilities, access = case
    network = compile_network(graph)
    idx = np.array([network.index_of(f) for f in facilities])
    result = nearest_facility(network, idx, np.array(access))
    expected = networkx_reference(graph, facilities, access)
    for node in graph.nodes:
        i = network.index_of(node)
        if node in expected:
            assert math.isclose(result.seconds[i], expected[node], rel_tol=1e-9, abs_tol=1e-9)
            f = result.facility[i]
            # the facility named is one that achieves the time
            alone = networkx_reference(graph, [facilities[f]], [access[f]])
            assert math.isclose(alone[node], expected[node], rel_tol=1e-9, abs_tol=1e-9)
        else:
            assert math.isnan(result.seconds[i]) and result.facility[i] == -1


@settings(max_examples=100, deadline=None)
@given(road_networks(), st.integers(0, 24), st.floats(0, 120, allow_nan=False))
def test_adding_a_facility_never_lengthens_a_trip(
    case: tuple[nx.MultiDiGraph, list[int], list[float]], extra: int, extra_access: float
) -> None:
    graph, facilities, access = case
    network = compile_network(graph)
    extra = extra % network.n_nodes
    idx = np.array([network.index_of(f) for f in facilities])
    before = nearest_facility(network, idx, np.array(access)).seconds
    after = nearest_facility(network, np.append(idx, extra), np.append(access, extra_access)).seconds
    reached = ~np.isnan(before)
    assert np.all(after[reached] <= before[reached] + 1e-9)
    assert np.all(~np.isnan(after[reached]))


minutes_lists = st.lists(st.one_of(st.floats(0, 120, allow_nan=False), st.just(math.nan)), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(minutes_lists, st.data())
def test_coverage_grows_with_threshold_and_parts_add_up(minutes: list[float], data: st.DataObject) -> None:
    population = data.draw(st.lists(st.floats(0, 1e5, allow_nan=False), min_size=len(minutes), max_size=len(minutes)))
    thresholds = data.draw(st.lists(st.floats(0.5, 100, allow_nan=False), min_size=1, max_size=6, unique=True))
    summary = coverage_summary(minutes, population, thresholds)
    total = sum(population)
    covered = summary["population_covered"].to_numpy()
    assert np.all(np.diff(covered) >= -1e-6 * max(total, 1))  # sorted by threshold, never falls
    parts = summary["population_covered"] + summary["population_uncovered"] + summary["population_unreachable"]
    assert np.allclose(parts, total, rtol=1e-9, atol=1e-6)
    assert np.allclose(summary["population_total"], total)
    # the unreachable part does not depend on the threshold
    assert summary["population_unreachable"].nunique() == 1

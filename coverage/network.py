"""Routable road networks: graphs in OSMnx conventions and their compiled form.

Graphs are NetworkX ``MultiDiGraph`` objects as OSMnx makes them: node attributes ``x``
and ``y`` in the graph's CRS, edge attributes ``length`` (metres) and ``travel_time``
(seconds), graph attribute ``crs``.  :func:`compile_network` turns one into a
:class:`RoutingNetwork` (a node index and a SciPy CSR matrix of travel times) once, and
every search runs on that.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from scipy.sparse.csgraph import connected_components

from coverage.config import DEFAULT_METRIC_CRS
from coverage.crs import check_scale
from coverage.errors import InputDataError, UnknownRoadClassError
from coverage.road_edges import RoadEdges, edges_from_lines
from coverage.speeds import EXCLUDE, SpeedProfile, parse_maxspeed, unknown_classes_message

__all__ = [
    "DEFAULT_METRIC_CRS",
    "RoutingNetwork",
    "add_travel_times",
    "compile_network",
    "graph_from_lines",
    "largest_strong_component",
]

logger = logging.getLogger(__name__)


def graph_from_lines(
    lines: gpd.GeoDataFrame,
    *,
    class_column: str,
    profile: SpeedProfile,
    oneway_column: str | None = None,
    name_column: str | None = None,
    max_edge_length_m: float | None = 500.0,
    metric_crs: str = DEFAULT_METRIC_CRS,
    source: str = "road layer",
) -> nx.MultiDiGraph:
    """Build a drivable graph from a line layer with a road-class column.

    Consecutive vertices of each line become edges; lines meet where they share a
    vertex with exactly the same coordinates.  Edges are two-way unless
    ``oneway_column`` holds a true value for the line (then only in digitising order).

    Parameters
    ----------
    lines
        LineString/MultiLineString layer with a CRS.
    class_column
        Column with the road class; classified through ``profile``.
    profile
        Speeds per class.  Unknown classes raise :class:`UnknownRoadClassError`
        unless the profile has a ``default_kph``, in which case they are logged.
    oneway_column
        Optional column whose true values (``1``, ``yes``, ``true``, ``True``) mark
        lines drivable only in their digitising direction.
    name_column
        Optional column copied to the edges as ``name``.
    max_edge_length_m
        Segments longer than this are split into equal edges with nodes between, so
        that points are snapped to a node near them.  ``None`` keeps the vertices only.
    metric_crs
        CRS in which lengths are measured.
    source
        Name of the input, used in messages.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes with ``x``/``y`` in the layer's CRS; edges with ``length`` (m),
        ``speed_kph``, ``travel_time`` (s), ``highway`` (the profile class),
        ``road_class`` (the raw value) and ``source_row``.
    """
    return edges_from_lines(
        lines,
        class_column=class_column,
        profile=profile,
        oneway_column=oneway_column,
        name_column=name_column,
        max_edge_length_m=max_edge_length_m,
        metric_crs=metric_crs,
        source=source,
    ).to_networkx()


def add_travel_times(graph: nx.MultiDiGraph, profile: SpeedProfile, *, source: str = "road network") -> nx.MultiDiGraph:
    """Set ``speed_kph`` and ``travel_time`` on every edge of an OSM-style graph, in place.

    The speed is the edge's ``maxspeed`` where tagged (implicit values such as
    ``FR:urban`` through the profile), else the profile's speed for its ``highway``
    class (the first one when OSMnx merged several: time an unsimplified graph and
    merge after, as :func:`coverage.io.roads.simplify_with_times` does).  Edges of a
    class the profile excludes get no time, whatever their limit (the readers drop
    them).  Edges whose class the profile does not know raise
    :class:`UnknownRoadClassError`, unless the profile has a default speed.  ``length``
    must be set (OSMnx sets it).
    """
    unknown: dict[str, int] = {}
    for _, _, data in graph.edges(data=True):
        if "length" not in data:
            raise InputDataError(f"{source}: an edge has no 'length' attribute (metres expected)")
        highway = data.get("highway")
        if isinstance(highway, list | tuple):
            highway = highway[0] if highway else None
        cls = profile.classify(highway)
        if cls == EXCLUDE:
            continue  # excluded by the profile: no time, whatever its limit
        kph = parse_maxspeed(data.get("maxspeed"), profile.maxspeed_implicit)
        if kph is None:
            kph = profile.speed_of(cls)
            if cls is None:
                key = "<empty>" if highway is None else str(highway)
                unknown[key] = unknown.get(key, 0) + 1
        if kph is None:
            continue
        data["speed_kph"] = float(kph)
        data["travel_time"] = float(data["length"]) / (kph / 3.6)
    if unknown:
        message = unknown_classes_message(unknown, f"{source}, edge attribute 'highway'", profile)
        if profile.default_kph is None:
            raise UnknownRoadClassError(message, unknown)
        logger.warning("%s; they are given %s km/h", message, profile.default_kph)
    return graph


def largest_strong_component(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Sub-graph (copy) of the largest strongly connected component."""
    nodes = list(graph.nodes)
    if not nodes:
        raise InputDataError("the road network has no nodes")
    index = {n: i for i, n in enumerate(nodes)}
    pairs = np.array([(index[a], index[b]) for a, b in graph.edges()], dtype=np.int64).reshape(-1, 2)
    adjacency = sp.csr_array(
        (np.ones(len(pairs), dtype=bool), (pairs[:, 0], pairs[:, 1])), shape=(len(nodes), len(nodes))
    )
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    biggest = np.bincount(labels).argmax()
    out = [n for n, lab in zip(nodes, labels, strict=True) if lab != biggest]
    if out:
        logger.info(
            "kept the largest strongly connected component: %d of %d nodes (%d dropped)",
            len(nodes) - len(out),
            len(nodes),
            len(out),
        )
    # a copy less the other nodes: a third faster than copying the component's sub-graph view,
    # with the same node and edge order
    component = graph.copy()
    component.remove_nodes_from(out)
    return component


@dataclass(frozen=True, eq=False)
class RoutingNetwork:
    """A road graph compiled for searches.

    Attributes
    ----------
    source
        What it was compiled from: a NetworkX graph, or the arrays of a line layer
        (:class:`~coverage.road_edges.RoadEdges`), kept for export and edge geometry.
    node_ids
        Graph node id of each matrix index.
    matrix
        CSR matrix ``n x n`` of travel times in seconds, ``matrix[i, j]`` the fastest
        of the parallel edges ``i -> j``.  Explicit zeros are zero-second edges.
    edge_u, edge_v, edge_time, edge_key
        The edges kept in ``matrix`` (one per ordered node pair), as index arrays.
    x_m, y_m
        Node coordinates in ``metric_crs``.
    metric_crs
        CRS of ``x_m``/``y_m``.
    """

    source: nx.MultiDiGraph | RoadEdges
    node_ids: np.ndarray
    matrix: sp.csr_array
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_time: np.ndarray
    edge_key: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    metric_crs: str
    _index: dict[object, int] = field(repr=False, default_factory=dict)

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The NetworkX graph it was compiled from (made from the arrays on first use)."""
        return self.source.to_networkx() if isinstance(self.source, RoadEdges) else self.source

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    def index_of(self, node: object) -> int:
        """Matrix index of a graph node id."""
        return self._index[node]

    def indices_of(self, nodes: Iterable[object]) -> np.ndarray:
        """Matrix indices of graph node ids; ``-1`` for a missing one (None or NaN)."""
        return np.array([-1 if pd.isna(n) else self._index[n] for n in nodes], dtype=np.int64)

    @cached_property
    def reverse_matrix(self) -> sp.csr_array:
        """Transposed matrix in CSR form: searches on it give times *to* the sources."""
        return sp.csr_array(self.matrix.T)

    @cached_property
    def edge_geometries(self) -> np.ndarray:
        """Shapely LineString of each kept edge, in ``metric_crs``, oriented u -> v."""
        out = np.empty(len(self.edge_u), dtype=object)
        straight = []
        if isinstance(self.source, RoadEdges):  # the edges of a line layer are straight
            straight = list(range(len(self.edge_u)))
        else:
            to_metric = Transformer.from_crs(self.source.graph["crs"], self.metric_crs, always_xy=True)
            for i, (a, b, k) in enumerate(zip(self.edge_u, self.edge_v, self.edge_key, strict=True)):
                geom = self.source.edges[self.node_ids[a], self.node_ids[b], k].get("geometry")
                if geom is None:
                    straight.append(i)
                else:
                    x, y = to_metric.transform(*np.asarray(geom.coords).T)
                    out[i] = shapely.linestrings(np.column_stack([x, y]))
        s = np.asarray(straight, dtype=np.int64)
        if len(s):
            ua, vb = self.edge_u[s], self.edge_v[s]
            xy = np.stack(
                [np.column_stack([self.x_m[ua], self.y_m[ua]]), np.column_stack([self.x_m[vb], self.y_m[vb]])],
                axis=1,
            )
            out[s] = shapely.linestrings(xy)
        return out

    def nodes_gdf(self) -> gpd.GeoDataFrame:
        """Nodes as points in ``metric_crs``, indexed by matrix index."""
        return gpd.GeoDataFrame(
            {"node": self.node_ids},
            geometry=gpd.points_from_xy(self.x_m, self.y_m),
            crs=self.metric_crs,
        )


def _morton_codes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Z-order code of each point, from coordinates scaled to 16 bits per axis."""

    def spread(values: np.ndarray) -> np.ndarray:
        span = values.max() - values.min()
        v = ((values - values.min()) / (span if span > 0 else 1.0) * 65535).astype(np.uint64)
        for shift, mask in (
            (16, 0x0000FFFF0000FFFF),
            (8, 0x00FF00FF00FF00FF),
            (4, 0x0F0F0F0F0F0F0F0F),
            (2, 0x3333333333333333),
            (1, 0x5555555555555555),
        ):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    return spread(x) | (spread(y) << np.uint64(1))


def compile_network(
    graph: nx.MultiDiGraph | RoadEdges, *, metric_crs: str = DEFAULT_METRIC_CRS, weight: str = "travel_time"
) -> RoutingNetwork:
    """Compile a graph into a :class:`RoutingNetwork` (CSR of the fastest parallel edge).

    ``graph`` is a NetworkX graph or the arrays of a line layer
    (:class:`~coverage.road_edges.RoadEdges`, whose ``weight`` is always its travel
    time).  ``networkx.to_scipy_sparse_array`` adds parallel edges together, which is
    wrong for shortest paths; this keeps the minimum.  Self-loops are dropped.
    """
    if isinstance(graph, RoadEdges):
        if graph.number_of_nodes() == 0:
            raise InputDataError("the road graph has no nodes")
        node_ids = np.empty(graph.number_of_nodes(), dtype=object)
        node_ids[:] = graph.node_id.tolist()
        return _compiled(
            graph,
            node_ids,
            (graph.node_x, graph.node_y),
            (graph.edge_u, graph.edge_v, graph.travel_time.astype(float), graph.edge_keys()),
            graph.crs,
            metric_crs,
            weight="travel_time",
        )
    if "crs" not in graph.graph:
        raise InputDataError("the road graph has no 'crs' graph attribute (OSMnx conventions expected)")
    node_ids = np.array(list(graph.nodes), dtype=object)
    n = len(node_ids)
    if n == 0:
        raise InputDataError("the road graph has no nodes")
    graph_position = {node: i for i, node in enumerate(node_ids)}
    try:
        x = np.fromiter((d["x"] for _, d in graph.nodes(data=True)), float, n)
        y = np.fromiter((d["y"] for _, d in graph.nodes(data=True)), float, n)
    except KeyError as exc:
        raise InputDataError("a node of the road graph has no 'x' or 'y' attribute") from exc
    m = graph.number_of_edges()
    u = np.empty(m, dtype=np.int64)
    v = np.empty(m, dtype=np.int64)
    w = np.empty(m, dtype=float)
    keys = np.empty(m, dtype=object)
    missing = 0
    for i, (a, b, k, t) in enumerate(graph.edges(keys=True, data=weight)):
        u[i] = graph_position[a]
        v[i] = graph_position[b]
        keys[i] = k
        if t is None:
            missing += 1
            w[i] = np.nan
        else:
            w[i] = t
    if missing:
        raise InputDataError(f"{missing} edges of the road graph have no {weight!r} attribute")
    return _compiled(graph, node_ids, (x, y), (u, v, w, keys), graph.graph["crs"], metric_crs, weight=weight)


def _compiled(
    source: nx.MultiDiGraph | RoadEdges,
    node_ids: np.ndarray,
    xy: tuple[np.ndarray, np.ndarray],
    edges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    crs: str,
    metric_crs: str,
    *,
    weight: str,
) -> RoutingNetwork:
    """The network of nodes (ids and coordinates in ``crs``) and edges (ends, times, keys)."""
    (x, y), (u, v, w, keys) = xy, edges
    n = len(node_ids)
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputDataError(f"the road graph has negative or non-finite {weight!r} values")
    keep = u != v
    u, v, w, keys = u[keep], v[keep], w[keep], keys[keep]
    check_scale(metric_crs, x, y, crs)
    to_metric = Transformer.from_crs(CRS.from_user_input(crs), metric_crs, always_xy=True)
    x_m, y_m = (np.asarray(c, dtype=float) for c in to_metric.transform(x, y))
    # Number nodes along a space-filling curve: neighbours on the ground get nearby
    # indices, so a search touches memory in order.  Real networks come in arbitrary id
    # order, which makes the same search about 30 % slower.
    order = np.argsort(_morton_codes(x_m, y_m), kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    node_ids, x_m, y_m = node_ids[order], x_m[order], y_m[order]
    index = {node: i for i, node in enumerate(node_ids)}
    u, v = rank[u], rank[v]
    # Fastest of the parallel edges: sort by pair then time, keep the first of each pair.
    order = np.lexsort((w, v, u))
    u, v, w, keys = u[order], v[order], w[order], keys[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, w, keys = u[first], v[first], w[first], keys[first]
    # Rows are sorted by u then v, so the CSR arrays can be written directly; this keeps
    # explicit zeros (zero-second edges) that a COO conversion could drop.
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, u + 1, 1)
    np.cumsum(indptr, out=indptr)
    matrix = sp.csr_array((w, v.astype(np.int32), indptr.astype(np.int32)), shape=(n, n))
    return RoutingNetwork(
        source=source,
        node_ids=node_ids,
        matrix=matrix,
        edge_u=u,
        edge_v=v,
        edge_time=w,
        edge_key=keys,
        x_m=x_m,
        y_m=y_m,
        metric_crs=metric_crs,
        _index=index,
    )

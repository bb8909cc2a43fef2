"""Routable road networks: graphs in OSMnx conventions and their compiled form.

Graphs are NetworkX ``MultiDiGraph`` objects as OSMnx makes them: node attributes ``x``
and ``y`` in the graph's CRS, edge attributes ``length`` (metres) and ``travel_time``
(seconds), graph attribute ``crs``.  :func:`compile_network` turns one into a
:class:`RoutingNetwork` (a node index and a SciPy CSR matrix of travel times) once, and
every search runs on that.
"""

from __future__ import annotations

import logging
import math
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

from coverage.columns import find_column
from coverage.config import DEFAULT_METRIC_CRS
from coverage.crs import check_scale
from coverage.errors import InputDataError, UnknownRoadClassError
from coverage.speeds import EXCLUDE, SpeedProfile, count_values, parse_maxspeed, unknown_classes_message

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
    if lines.crs is None:
        raise InputDataError(f"{source}: the layer has no CRS; expected one (e.g. EPSG:4326)")
    if len(lines) == 0:
        raise InputDataError(f"{source}: the layer has no lines")
    columns = [str(c) for c in lines.columns if c != lines.geometry.name]
    class_column = find_column(columns, class_column, where=source)
    oneway_column = find_column(columns, oneway_column, where=source) if oneway_column else None
    name_column = find_column(columns, name_column, where=source) if name_column else None
    geom_types = set(lines.geom_type.dropna().unique())
    if not geom_types <= {"LineString", "MultiLineString"}:
        raise InputDataError(f"{source}: expected LineString or MultiLineString geometries, found {sorted(geom_types)}")

    raw_classes = lines[class_column]
    classes = [profile.classify(v) for v in raw_classes]
    unknown = count_values(v for v, c in zip(raw_classes, classes, strict=True) if c is None)
    if unknown:
        message = unknown_classes_message(unknown, f"{source}, column {class_column!r}", profile)
        if profile.default_kph is None:
            raise UnknownRoadClassError(message, unknown)
        logger.warning("%s; they are given %s km/h", message, profile.default_kph)
    speeds = np.array([np.nan if c == EXCLUDE else profile.speed_of(c) for c in classes], dtype=float)
    keep = ~np.isnan(speeds) & ~lines.geometry.is_empty.to_numpy() & lines.geometry.notna().to_numpy()
    n_excluded = int(sum(c == EXCLUDE for c in classes))
    if n_excluded:
        logger.info("%s: %d lines excluded by the speed profile", source, n_excluded)
    kept = lines.loc[keep]
    if len(kept) == 0:
        raise InputDataError(f"{source}: no drivable line left after classification")

    geoms = kept.geometry.to_numpy()
    # Each part of a MultiLineString is its own sequence of vertices.
    parts, part_row = shapely.get_parts(geoms, return_index=True)
    coords, vertex_part = shapely.get_coordinates(parts, return_index=True)
    same_part = vertex_part[1:] == vertex_part[:-1]
    seg_start = np.flatnonzero(same_part)
    seg_part = vertex_part[seg_start]
    seg_row = part_row[seg_part]  # position in `kept`

    unique_xy, vertex_node = np.unique(coords, axis=0, return_inverse=True)
    vertex_node = vertex_node.ravel()
    check_scale(metric_crs, unique_xy[:, 0], unique_xy[:, 1], lines.crs, what=f"{source}: metric CRS")
    to_metric = Transformer.from_crs(lines.crs, metric_crs, always_xy=True)
    mx, my = to_metric.transform(unique_xy[:, 0], unique_xy[:, 1])
    u = vertex_node[seg_start]
    v = vertex_node[seg_start + 1]
    not_loop = u != v
    u, v, seg_row = u[not_loop], v[not_loop], seg_row[not_loop]
    length = np.hypot(mx[v] - mx[u], my[v] - my[u])

    node_x = list(unique_xy[:, 0])
    node_y = list(unique_xy[:, 1])
    # Split long segments into equal pieces with new nodes between.
    if max_edge_length_m is not None:
        if max_edge_length_m <= 0:
            raise InputDataError(f"max_edge_length_m must be positive, got {max_edge_length_m}")
        pieces = np.maximum(1, np.ceil(length / max_edge_length_m).astype(np.int64))
    else:
        pieces = np.ones(len(u), dtype=np.int64)
    edge_u: list[int] = []
    edge_v: list[int] = []
    edge_row: list[int] = []
    edge_len: list[float] = []
    next_node = len(unique_xy)
    simple = pieces == 1
    edge_u.extend(u[simple].tolist())
    edge_v.extend(v[simple].tolist())
    edge_row.extend(seg_row[simple].tolist())
    edge_len.extend(length[simple].tolist())
    # Split points of one segment are shared by every line over that segment, in either
    # direction (overlapping routes): placed from the lower vertex id, they are one node
    # each, so a point between never snaps by the order of the file's rows to one of two
    # twin nodes.  Lines that merely cross still meet only at a shared vertex.
    split_node: dict[tuple[int, int, int, int], int] = {}
    for i in np.flatnonzero(~simple):
        k = int(pieces[i])
        a, b = int(u[i]), int(v[i])
        lo, hi = min(a, b), max(a, b)
        inner = []
        for j in range(1, k):
            key = (lo, hi, k, j)
            if key not in split_node:
                t = j / k
                split_node[key] = next_node
                node_x.append(unique_xy[lo, 0] + t * (unique_xy[hi, 0] - unique_xy[lo, 0]))
                node_y.append(unique_xy[lo, 1] + t * (unique_xy[hi, 1] - unique_xy[lo, 1]))
                next_node += 1
            inner.append(split_node[key])
        ids = [a, *(inner if a == lo else inner[::-1]), b]
        edge_u.extend(ids[:-1])
        edge_v.extend(ids[1:])
        edge_row.extend([int(seg_row[i])] * k)
        edge_len.extend([float(length[i]) / k] * k)

    row_speed = speeds[keep]
    row_class = np.asarray(classes, dtype=object)[keep]
    row_raw = kept[class_column].astype(str).to_numpy()
    row_index = kept.index.to_numpy()
    row_oneway = kept[oneway_column].map(_truthy).to_numpy() if oneway_column else np.zeros(len(kept), dtype=bool)
    row_name = kept[name_column].to_numpy() if name_column else None

    graph = nx.MultiDiGraph(crs=lines.crs.to_string(), name=source, simplified=False)
    graph.add_nodes_from(
        (i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(zip(node_x, node_y, strict=True))
    )

    def edge_attrs(r: int, length_m: float) -> dict[str, object]:
        kph = float(row_speed[r])
        attrs: dict[str, object] = {
            "length": length_m,
            "speed_kph": kph,
            "travel_time": length_m / (kph / 3.6),
            "highway": row_class[r] if row_class[r] is not None else "unknown",
            "road_class": row_raw[r],
            "source_row": int(row_index[r]) if np.issubdtype(type(row_index[r]), np.integer) else str(row_index[r]),
        }
        if row_name is not None and pd.notna(row_name[r]):
            attrs["name"] = str(row_name[r])
        return attrs

    edges = []
    for a, b, r, length_m in zip(edge_u, edge_v, edge_row, edge_len, strict=True):
        attrs = edge_attrs(r, length_m)
        edges.append((a, b, attrs))
        if not row_oneway[r]:
            edges.append((b, a, dict(attrs)))
    graph.add_edges_from(edges)
    logger.info(
        "%s: %d lines -> graph of %d nodes and %d directed edges",
        source,
        len(kept),
        graph.number_of_nodes(),
        graph.number_of_edges(),
    )
    return graph


def _truthy(value: object) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip().lower() in {"1", "yes", "true", "y", "oui"}


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
    graph
        The NetworkX graph it was compiled from (kept for export and edge geometry).
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

    graph: nx.MultiDiGraph
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
        to_metric = Transformer.from_crs(self.graph.graph["crs"], self.metric_crs, always_xy=True)
        out = np.empty(len(self.edge_u), dtype=object)
        straight = []
        for i, (a, b, k) in enumerate(zip(self.edge_u, self.edge_v, self.edge_key, strict=True)):
            geom = self.graph.edges[self.node_ids[a], self.node_ids[b], k].get("geometry")
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
    graph: nx.MultiDiGraph, *, metric_crs: str = DEFAULT_METRIC_CRS, weight: str = "travel_time"
) -> RoutingNetwork:
    """Compile a graph into a :class:`RoutingNetwork` (CSR of the fastest parallel edge).

    ``networkx.to_scipy_sparse_array`` adds parallel edges together, which is wrong
    for shortest paths; this keeps the minimum.  Self-loops are dropped.
    """
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
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputDataError(f"the road graph has negative or non-finite {weight!r} values")
    keep = u != v
    u, v, w, keys = u[keep], v[keep], w[keep], keys[keep]
    check_scale(metric_crs, x, y, graph.graph["crs"])
    to_metric = Transformer.from_crs(CRS.from_user_input(graph.graph["crs"]), metric_crs, always_xy=True)
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
        graph=graph,
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

"""A road network as arrays: the graph a classified line layer gives, without NetworkX.

:func:`edges_from_lines` turns a line layer into a :class:`RoadEdges`: node coordinates
and one row per directed edge (its ends, length, speed, time, class, source row and
name), in the order NetworkX would hold them.  It is what
:func:`coverage.network.graph_from_lines` builds, before the NetworkX graph:
:meth:`RoadEdges.to_networkx` makes that graph, and
:func:`coverage.network.compile_network` compiles either.  On the region's buffered
network (121,000 nodes) the arrays take a tenth of the time and memory of the graph,
whose dictionaries the searches never read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import Transformer
from scipy.sparse.csgraph import connected_components

from coverage.columns import find_column
from coverage.crs import check_scale
from coverage.errors import InputDataError, UnknownRoadClassError
from coverage.speeds import EXCLUDE, SpeedProfile, count_values, unknown_classes_message

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx

__all__ = ["RoadEdges", "edges_from_lines"]

logger = logging.getLogger(__name__)

#: Edge attributes in the order every edge holds them (``name`` last, where known).
EDGE_ATTRIBUTES = ("length", "speed_kph", "travel_time", "highway", "road_class", "source_row")


@dataclass(frozen=True, eq=False)
class RoadEdges:
    """A directed road multigraph as arrays (nodes numbered 0.. in the full layer).

    Attributes
    ----------
    crs, name
        CRS of the node coordinates, and the name of the source (for messages).
    node_id, node_x, node_y
        Node ids (as NetworkX numbers them) and coordinates in ``crs``.
    edge_u, edge_v
        Positions, in the node arrays, of each directed edge's ends; a two-way line gives
        an edge each way, the reverse right after the forward one.
    length, speed_kph, travel_time
        Metres, km/h and seconds of each edge.
    edge_row
        Position of each edge's line in the ``row_*`` arrays.
    row_highway, row_class, row_source, row_name
        Per line: the profile's class, the raw class text, the source row (the layer's
        index value) and the name (None where the layer has no name column or the name
        is missing).
    min_piece_nodes
        Strongly connected pieces of at least this many nodes are kept beside the largest
        by :meth:`largest_strong_component` (0: the largest only), e.g. an island's roads.
    """

    crs: str
    name: str
    node_id: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    length: np.ndarray
    speed_kph: np.ndarray
    travel_time: np.ndarray
    edge_row: np.ndarray
    row_highway: np.ndarray
    row_class: np.ndarray
    row_source: np.ndarray
    row_name: np.ndarray
    min_piece_nodes: int = 0

    def number_of_nodes(self) -> int:
        return len(self.node_id)

    def number_of_edges(self) -> int:
        return len(self.edge_u)

    def edge_keys(self) -> np.ndarray:
        """Key of each edge among the parallel edges of its (u, v) pair: 0, 1, ... in order."""
        pair = self.edge_u * np.int64(len(self.node_id)) + self.edge_v
        order = np.argsort(pair, kind="stable")
        sorted_pair = pair[order]
        start = np.flatnonzero(np.r_[True, sorted_pair[1:] != sorted_pair[:-1]])
        run = np.repeat(start, np.diff(np.r_[start, len(pair)]))
        keys = np.empty(len(pair), dtype=np.int64)
        keys[order] = np.arange(len(pair)) - run
        return keys

    def networkx_order(self) -> np.ndarray:
        """Edge positions in the order ``MultiDiGraph.edges`` lists them.

        NetworkX lists the edges by source node (in node order), then by target in the
        order each (source, target) pair was first added, then by key.
        """
        pair = self.edge_u * np.int64(len(self.node_id)) + self.edge_v
        _, inverse = np.unique(pair, return_inverse=True)
        first = np.full(inverse.max() + 1 if len(pair) else 0, len(pair), dtype=np.int64)
        np.minimum.at(first, inverse, np.arange(len(pair)))
        return np.lexsort((np.arange(len(pair)), first[inverse], self.edge_u))

    def edge_attributes(self, i: int) -> dict[str, object]:
        """The NetworkX attributes of edge ``i`` (as :func:`graph_from_lines` sets them)."""
        r = self.edge_row[i]
        attrs: dict[str, object] = {
            "length": float(self.length[i]),
            "speed_kph": float(self.speed_kph[i]),
            "travel_time": float(self.travel_time[i]),
            "highway": self.row_highway[r],
            "road_class": self.row_class[r],
            "source_row": self.row_source[r],
        }
        if self.row_name[r] is not None:
            attrs["name"] = self.row_name[r]
        return attrs

    def to_networkx(self) -> nx.MultiDiGraph:
        """The graph as a NetworkX ``MultiDiGraph`` in OSMnx conventions."""
        import networkx as nx

        graph = nx.MultiDiGraph(crs=self.crs, name=self.name, simplified=False)
        graph.add_nodes_from(
            (node, {"x": x, "y": y})
            for node, x, y in zip(self.node_id.tolist(), self.node_x.tolist(), self.node_y.tolist(), strict=True)
        )
        ids = self.node_id.tolist()
        graph.add_edges_from(
            (ids[a], ids[b], self.edge_attributes(i))
            for i, (a, b) in enumerate(zip(self.edge_u.tolist(), self.edge_v.tolist(), strict=True))
        )
        return graph

    def largest_strong_component(self) -> RoadEdges:
        """The nodes of the largest strongly connected component (and of every other one of
        at least :attr:`min_piece_nodes` nodes) and the edges between them."""
        n = len(self.node_id)
        if n == 0:
            raise InputDataError("the road network has no nodes")
        adjacency = sp.csr_array((np.ones(len(self.edge_u), dtype=bool), (self.edge_u, self.edge_v)), shape=(n, n))
        _, labels = connected_components(adjacency, directed=True, connection="strong")
        sizes = np.bincount(labels)
        keep = labels == sizes.argmax()
        if self.min_piece_nodes > 0:
            keep |= sizes[labels] >= self.min_piece_nodes
        if keep.all():
            return self
        pieces = int(np.unique(labels[keep]).size)
        logger.info(
            "kept the largest strongly connected component%s: %d of %d nodes (%d dropped)",
            f" and {pieces - 1} more of {self.min_piece_nodes} nodes or more" if pieces > 1 else "",
            int(keep.sum()),
            n,
            int(n - keep.sum()),
        )
        new_position = np.cumsum(keep) - 1
        edges = keep[self.edge_u] & keep[self.edge_v]
        return replace(
            self,
            node_id=self.node_id[keep],
            node_x=self.node_x[keep],
            node_y=self.node_y[keep],
            edge_u=new_position[self.edge_u[edges]],
            edge_v=new_position[self.edge_v[edges]],
            length=self.length[edges],
            speed_kph=self.speed_kph[edges],
            travel_time=self.travel_time[edges],
            edge_row=self.edge_row[edges],
        )


def edges_from_lines(
    lines: gpd.GeoDataFrame,
    *,
    class_column: str,
    profile: SpeedProfile,
    oneway_column: str | None = None,
    name_column: str | None = None,
    max_edge_length_m: float | None = 500.0,
    metric_crs: str,
    source: str = "road layer",
) -> RoadEdges:
    """The drivable network of a line layer, as arrays.

    See :func:`coverage.network.graph_from_lines` for the parameters and the rules.
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
    if max_edge_length_m is not None and not max_edge_length_m > 0:
        raise InputDataError(f"max_edge_length_m must be positive, got {max_edge_length_m}")

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

    # Each part of a MultiLineString is its own sequence of vertices.
    parts, part_row = shapely.get_parts(kept.geometry.to_numpy(), return_index=True)
    coords, vertex_part = shapely.get_coordinates(parts, return_index=True)
    seg_start = np.flatnonzero(vertex_part[1:] == vertex_part[:-1])
    seg_row = part_row[vertex_part[seg_start]]  # position in `kept`
    unique_xy, vertex_node = np.unique(coords, axis=0, return_inverse=True)
    vertex_node = vertex_node.ravel()
    check_scale(metric_crs, unique_xy[:, 0], unique_xy[:, 1], lines.crs, what=f"{source}: metric CRS")
    mx, my = Transformer.from_crs(lines.crs, metric_crs, always_xy=True).transform(unique_xy[:, 0], unique_xy[:, 1])
    u, v = vertex_node[seg_start], vertex_node[seg_start + 1]
    not_loop = u != v
    u, v, seg_row = u[not_loop], v[not_loop], seg_row[not_loop]
    length = np.hypot(mx[v] - mx[u], my[v] - my[u])
    if max_edge_length_m is not None:
        pieces = np.maximum(1, np.ceil(length / max_edge_length_m).astype(np.int64))
    else:
        pieces = np.ones(len(u), dtype=np.int64)
    node_xy, (edge_u, edge_v, edge_seg) = _split_segments(unique_xy, u, v, pieces)
    edge_len = length[edge_seg] / pieces[edge_seg]
    edge_row = seg_row[edge_seg]

    row_oneway = kept[oneway_column].map(_truthy).to_numpy(bool) if oneway_column else np.zeros(len(kept), bool)
    # each edge, followed by its reverse where the line is two-way
    two_way = ~row_oneway[edge_row]
    take = np.repeat(np.arange(len(edge_u)), np.where(two_way, 2, 1))
    backward = np.zeros(len(take), dtype=bool)
    backward[np.cumsum(np.where(two_way, 2, 1))[two_way] - 1] = True
    final_u = np.where(backward, edge_v[take], edge_u[take])
    final_v = np.where(backward, edge_u[take], edge_v[take])
    kph = speeds[keep][edge_row[take]]
    lengths = edge_len[take]

    row_source = _objects(int(i) if np.issubdtype(type(i), np.integer) else str(i) for i in kept.index.to_numpy())
    if name_column:
        row_name = _objects(str(n) if pd.notna(n) else None for n in kept[name_column])
    else:
        row_name = np.full(len(kept), None, dtype=object)
    row_highway = _objects(c if c is not None else "unknown" for c in np.asarray(classes, dtype=object)[keep])
    edges = RoadEdges(
        crs=lines.crs.to_string(),
        name=source,
        node_id=np.arange(len(node_xy), dtype=np.int64),
        node_x=node_xy[:, 0],
        node_y=node_xy[:, 1],
        edge_u=final_u,
        edge_v=final_v,
        length=lengths,
        speed_kph=kph,
        travel_time=lengths / (kph / 3.6),
        edge_row=edge_row[take],
        row_highway=row_highway,
        row_class=kept[class_column].astype(str).to_numpy(dtype=object),
        row_source=row_source,
        row_name=row_name,
    )
    logger.info(
        "%s: %d lines -> graph of %d nodes and %d directed edges",
        source,
        len(kept),
        edges.number_of_nodes(),
        edges.number_of_edges(),
    )
    return edges


def _split_segments(
    xy: np.ndarray, u: np.ndarray, v: np.ndarray, pieces: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Nodes and edges after cutting each segment into ``pieces`` equal edges.

    Returns the node coordinates (the vertices ``xy``, then the new nodes) and, per
    edge, its ends and the segment it comes from: first the segments left whole, in
    order, then the pieces of each cut segment from ``u`` to ``v``.  The points of a cut
    are shared by every segment between the same two vertices in the same number of
    pieces, in either direction (overlapping routes): placed from the lower vertex id,
    they are one node each, numbered in the order of their first segment, so a point
    between never snaps, by the order of the file's rows, to one of two twin nodes.
    """
    simple = np.flatnonzero(pieces == 1)
    cut = np.flatnonzero(pieces > 1)
    lo, hi, k = np.minimum(u[cut], v[cut]), np.maximum(u[cut], v[cut]), pieces[cut]
    triples = np.column_stack([lo, hi, k])
    _, first, inverse = np.unique(triples, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    # blocks of k - 1 new nodes per distinct (lo, hi, k), in the order of first appearance
    by_appearance = np.argsort(first, kind="stable")
    block_sizes = k[first[by_appearance]] - 1
    block_start = np.empty(len(first), dtype=np.int64)
    block_start[by_appearance] = len(xy) + np.cumsum(block_sizes) - block_sizes
    owner = first[by_appearance]  # a segment of each block, in block order
    rep = np.repeat(np.arange(len(owner)), block_sizes)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(block_sizes) - block_sizes, block_sizes) + 1
    t = (j / k[owner][rep])[:, None]
    new_xy = xy[lo[owner][rep]] + t * (xy[hi[owner][rep]] - xy[lo[owner][rep]])
    # edges of each cut segment: k pieces along u -> v
    n_edges = k
    seg = np.repeat(np.arange(len(cut)), n_edges)
    step = np.arange(len(seg)) - np.repeat(np.cumsum(n_edges) - n_edges, n_edges)  # 0 .. k-1
    kk = k[seg]
    forward = u[cut][seg] == lo[seg]
    start = block_start[inverse[seg]]

    def point(p: np.ndarray) -> np.ndarray:
        """Node id of point p (0 .. k) along the segment from u to v."""
        along_lo = np.where(forward, p, kk - p)  # position counted from the lower vertex
        inner = start + along_lo - 1
        out = np.where(along_lo == 0, lo[seg], np.where(along_lo == kk, hi[seg], inner))
        return out

    cut_u, cut_v = point(step), point(step + 1)
    edge_u = np.concatenate([u[simple], cut_u])
    edge_v = np.concatenate([v[simple], cut_v])
    edge_seg = np.concatenate([simple, cut[seg]])
    return np.vstack([xy, new_xy]) if len(new_xy) else xy.copy(), (edge_u, edge_v, edge_seg)


def _objects(values: Iterable[object]) -> np.ndarray:
    """A one-dimensional object array of the values, whatever they are."""
    items = list(values)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _truthy(value: object) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip().lower() in {"1", "yes", "true", "y", "oui"}

"""Isochrone polygons: the area from which a facility is reached within T minutes.

Built from the road edges reached: an edge whose far end reaches the facility within
T is kept whole, or cut where the time runs out; the kept pieces are buffered and
merged.  No convex hull is ever taken, so a polygon follows the roads.

The thresholds of a facility are drawn from the shortest up, each from the one before:
what is reached within 10 minutes is reached within 20 (an edge cut at 10 minutes is only
cut further along, or kept whole, at 20), so the band of 20 minutes is the band of 10
(kept unsimplified) merged with the bands of the pieces not already kept whole.  Only
the polygons returned are simplified, once each, so the tolerance does not add up.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import types
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from tqdm.auto import tqdm

from coverage.network import RoutingNetwork
from coverage.traveltime import bounded_times_to_facilities

__all__ = ["ROAD_SIMPLIFY_RATIO", "SIMPLIFY_RATIO", "isochrones", "reached_edges"]

#: Polygons are simplified with a tolerance of this fraction of the buffer (25 m for
#: 500 m), which keeps files and maps light.
SIMPLIFY_RATIO = 0.05
#: The roads reached are simplified with this fraction of the buffer (10 m for 500 m)
#: before they are buffered: 10-20 % less time on the region.  With :data:`SIMPLIFY_RATIO` and the
#: round ends drawn with 4 segments per quarter (chords within 2 % of the buffer), outlines
#: lie within ``(SIMPLIFY_RATIO + ROAD_SIMPLIFY_RATIO + 0.02) * buffer_m`` of the exact band.
ROAD_SIMPLIFY_RATIO = 0.02
#: Facilities per task of the worker processes.
_CHUNK = 4
#: Below this many facilities per worker, or nodes in the network, no process is forked
#: (starting them costs more than the polygons of a small case).
_MIN_FACILITIES_PER_WORKER = 8
_MIN_NODES_FOR_WORKERS = 5_000
#: What the worker processes need, set before they are forked (inherited, not pickled).
_STATE: dict[str, Any] = {}


def reached_edges(network: RoutingNetwork, seconds: np.ndarray, limit_s: float) -> np.ndarray:
    """Pieces of the edges from which the target is reached within ``limit_s``.

    ``seconds`` holds each node's time to the target (inf or NaN where not reached).
    Returns LineStrings in the network's metric CRS.
    """
    idx, fraction = _reached(network, seconds, limit_s)
    return _pieces(network, idx, fraction)


def _reached(network: RoutingNetwork, seconds: np.ndarray, limit_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Edges from whose start the target is reached within ``limit_s``, and the fraction
    of each (its end part, 1 where whole) from which it is."""
    t_v = seconds[network.edge_v]
    idx = np.flatnonzero(np.isfinite(t_v) & (t_v <= limit_s))
    spare = limit_s - t_v[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(network.edge_time[idx] > 0, spare / network.edge_time[idx], 1.0)
    # An edge whose far end is reached with no time to spare contributes nothing.
    keep = fraction > 0
    return idx[keep], np.minimum(fraction[keep], 1.0)


def _pieces(network: RoutingNetwork, idx: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """The edges ``idx``, each cut to the ``fraction`` of its length at its far end."""
    geoms = network.edge_geometries[idx].copy()
    partial = np.flatnonzero(fraction < 1.0)
    if len(partial):
        geoms[partial] = _line_ends(geoms[partial], fraction[partial])
    return geoms


def _line_ends(lines: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """The last ``fraction`` (0 < fraction < 1) of each line's length, as a LineString
    (what ``shapely.ops.substring`` cuts, for many lines at once)."""
    xy, line = shapely.get_coordinates(lines, return_index=True)
    step = np.zeros(len(xy))
    same = line[1:] == line[:-1]
    step[1:] = np.where(same, np.hypot(*(xy[1:] - xy[:-1]).T), 0.0)
    along = np.cumsum(step)
    first = np.flatnonzero(np.r_[True, ~same])
    along -= np.repeat(along[first], np.diff(np.r_[first, len(xy)]))  # distance from each line's start
    start = shapely.length(lines) * (1.0 - fraction)
    last = np.r_[first[1:] - 1, len(xy) - 1]
    kept = along > start[line]
    kept[last] = True  # the far end, whatever the rounding
    cut = shapely.get_coordinates(shapely.line_interpolate_point(lines, start))
    out_xy = np.concatenate([cut, xy[kept]])
    out_line = np.concatenate([np.arange(len(lines)), line[kept]])
    order = np.argsort(out_line, kind="stable")
    return shapely.linestrings(out_xy[order], indices=out_line[order])


def _twins(network: RoutingNetwork) -> np.ndarray:
    """For each edge, the edge of the opposite direction with the same geometry (-1 if none):
    both directions of a two-way road give the same piece, drawn once."""
    u, v = network.edge_u.astype(np.int64), network.edge_v.astype(np.int64)
    twin = np.full(len(u), -1, dtype=np.int64)
    if len(u) == 0:
        return twin
    key, order = u * network.n_nodes + v, np.argsort(u * network.n_nodes + v)
    other = order[np.minimum(np.searchsorted(key, v * network.n_nodes + u, sorter=order), len(u) - 1)]
    found = np.flatnonzero(key[other] == v * network.n_nodes + u)
    geoms = network.edge_geometries
    count = shapely.get_num_coordinates(geoms)
    found = found[count[found] == count[other[found]]]
    # the points of one, last first, against those of the other
    xy, line = shapely.get_coordinates(geoms[found], return_index=True)
    xy_other = shapely.get_coordinates(geoms[other[found]])
    start = np.r_[0, np.cumsum(count[found])[:-1]]
    backwards = 2 * start[line] + count[found][line] - 1 - np.arange(len(xy))
    close = np.all(np.abs(xy - xy_other[backwards]) <= 1e-6, axis=1)
    same = np.ones(len(found), dtype=bool)
    same[line[~close]] = False
    twin[found[same]] = other[found[same]]
    return twin


def _bands(
    network: RoutingNetwork, twins: np.ndarray, seconds: np.ndarray, thresholds_s: Sequence[float], buffer_m: float
) -> list[shapely.Geometry]:
    """The simplified band of each threshold (ascending), each built on the one before.

    An edge kept whole at one threshold (or its twin) is in the band of the next ones
    already; only the other pieces are buffered and merged with it.
    """
    whole_before = np.zeros(len(twins), dtype=bool)
    whole_now = np.zeros(len(twins), dtype=bool)
    band: shapely.Geometry | None = None
    out = []
    for limit_s in thresholds_s:
        idx, fraction = _reached(network, seconds, limit_s)
        whole = fraction >= 1.0
        twin = twins[idx]
        has_twin = twin >= 0
        twin = np.where(has_twin, twin, idx)
        whole_now[idx[whole]] = True
        done = whole_before[idx] | (whole & has_twin & whole_before[twin])
        # of two whole twins, the lower index is drawn
        repeated = whole & has_twin & (twin < idx) & whole_now[twin]
        new = ~done & ~repeated
        if new.any():
            more = _union(_pieces(network, idx[new], fraction[new]), buffer_m)
            band = more if band is None else shapely.union(band, more)
        whole_before |= whole_now
        out.append(shapely.Polygon() if band is None else shapely.simplify(band, buffer_m * SIMPLIFY_RATIO))
    return out


def _union(pieces: np.ndarray, buffer_m: float) -> shapely.Geometry:
    """Union of the bands of width ``2 * buffer_m`` around the pieces, not simplified.

    Chains of pieces are merged into long lines first, and the union of one buffer per
    line is taken (cascaded), which is far faster than buffering one MultiLineString.
    The lines are simplified first (:data:`ROAD_SIMPLIFY_RATIO`).
    """
    lines = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(pieces)))
    lines = shapely.simplify(lines, buffer_m * ROAD_SIMPLIFY_RATIO)
    return shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=4))


def isochrones(
    network: RoutingNetwork,
    node_index: np.ndarray,
    access_s: np.ndarray,
    facility_ids: Sequence[str],
    thresholds_min: Sequence[float],
    *,
    buffer_m: float = 500.0,
    progress: bool = False,
    workers: int | None = None,
) -> gpd.GeoDataFrame:
    """One polygon per facility and threshold, in the network's metric CRS.

    Parameters
    ----------
    network
        Compiled network.
    node_index, access_s
        Matrix index of each facility's node and its access leg in seconds.
    facility_ids
        Ids written in the ``facility_id`` column.
    thresholds_min
        Thresholds in minutes.
    buffer_m
        Half-width of the band drawn around the roads reached; roads and outlines are
        simplified, so that an outline lies within ``buffer_m * (SIMPLIFY_RATIO +
        ROAD_SIMPLIFY_RATIO + 0.02)`` of the exact band.
    progress
        Show a progress bar (on a terminal only).
    workers
        Processes drawing the polygons, a few facilities each (default: every core; 1: in
        this process; small cases are drawn here whatever it says).  The same polygons
        in the same order either way.
    """
    thresholds = sorted(float(t) for t in thresholds_min)
    node_index, access_s = np.asarray(node_index), np.asarray(access_s, dtype=float)
    chunks = [np.arange(a, min(a + _CHUNK, len(node_index))) for a in range(0, len(node_index), _CHUNK)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(node_index) // _MIN_FACILITIES_PER_WORKER))
    if network.n_nodes < _MIN_NODES_FOR_WORKERS:
        workers = 1
    # built once here (the geometries are a cached property), inherited by the workers
    twins = _twins(network) if len(node_index) else np.empty(0, dtype=np.int64)
    _STATE.update(
        network=network, twins=twins, node_index=node_index, access_s=access_s, thresholds=thresholds, buffer_m=buffer_m
    )
    shapes: dict[int, list[shapely.Geometry]] = {}
    bar = tqdm(total=len(node_index), desc="isochrones", unit="facility", disable=not progress or None)
    try:
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                _collect(pool.map(_chunk_shapes, chunks), shapes, bar)
        else:
            _collect(map(_chunk_shapes, chunks), shapes, bar)
    finally:
        bar.close()
        _STATE.clear()
    records = [
        {"facility_id": facility_ids[pos], "threshold_min": t, "geometry": shape}
        for pos in range(len(node_index))
        for t, shape in zip(thresholds, shapes[pos], strict=True)
    ]
    frame = gpd.GeoDataFrame(records, columns=["facility_id", "threshold_min", "geometry"], crs=network.metric_crs)
    frame["area_km2"] = frame.geometry.area / 1e6
    return frame


def _chunk_shapes(positions: np.ndarray) -> list[tuple[int, list[shapely.Geometry]]]:
    """The polygons of the facilities at ``positions``, one per threshold (in a worker)."""
    state = _STATE
    network: RoutingNetwork = state["network"]
    seconds = np.full(network.n_nodes, np.inf)
    out = []
    searches = bounded_times_to_facilities(
        network, state["node_index"][positions], state["access_s"][positions], state["thresholds"][-1] * 60.0
    )
    limits_s = [t * 60.0 for t in state["thresholds"]]
    for pos, nodes, times in searches:
        seconds[nodes] = times
        out.append((int(positions[pos]), _bands(network, state["twins"], seconds, limits_s, state["buffer_m"])))
        seconds[nodes] = np.inf
    return out


def _collect(
    results: Iterable[list[tuple[int, list[shapely.Geometry]]]], shapes: dict[int, list[shapely.Geometry]], bar: Any
) -> None:
    for chunk in results:
        for pos, polygons in chunk:
            shapes[pos] = polygons
        bar.update(len(chunk))


class _CallableModule(types.ModuleType):
    """Before 0.2, ``coverage.isochrones`` was this function; the module now has the name,
    so calling the module still works, for one release, with a DeprecationWarning."""

    def __call__(self, *args: Any, **kwargs: Any) -> gpd.GeoDataFrame:
        warnings.warn(
            "coverage.isochrones(...) moved to coverage.isochrones.isochrones(...); import it from there "
            "(calling the module goes in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return isochrones(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

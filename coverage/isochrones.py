"""Isochrone polygons: the area from which a facility is reached within T minutes.

Built from the road edges reached: an edge whose far end reaches the facility within
T is kept whole, or cut where the time runs out; the kept pieces are buffered and
merged.  No convex hull is ever taken, so a polygon follows the roads.
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
from shapely.ops import substring
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
    t_v = seconds[network.edge_v]
    reach = np.isfinite(t_v) & (t_v <= limit_s)
    idx = np.flatnonzero(reach)
    spare = limit_s - t_v[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(network.edge_time[idx] > 0, spare / network.edge_time[idx], 1.0)
    # An edge whose far end is reached with no time to spare contributes nothing.
    idx, fraction = idx[fraction > 0], fraction[fraction > 0]
    if len(idx) == 0:
        return np.empty(0, dtype=object)
    geoms = network.edge_geometries[idx].copy()
    partial = np.flatnonzero(fraction < 1.0)
    for i in partial:
        line = geoms[i]
        length = line.length
        geoms[i] = substring(line, length * (1.0 - fraction[i]), length)
    return geoms


def _band(pieces: np.ndarray, buffer_m: float) -> shapely.Geometry:
    """Union of the bands of width ``2 * buffer_m`` around the pieces.

    Both directions of a two-way road give the same piece: duplicates are dropped and
    chains of pieces merged into long lines first, and the union of one buffer per
    line is taken (cascaded), which is far faster than buffering one MultiLineString.
    The lines are simplified first (:data:`ROAD_SIMPLIFY_RATIO`), the outline after
    (:data:`SIMPLIFY_RATIO`).
    """
    _, first = np.unique(shapely.to_wkb(shapely.normalize(pieces)), return_index=True)
    lines = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(pieces[np.sort(first)])))
    lines = shapely.simplify(lines, buffer_m * ROAD_SIMPLIFY_RATIO)
    shape = shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=4))
    return shapely.simplify(shape, buffer_m * SIMPLIFY_RATIO)


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
    if len(node_index):
        _ = network.edge_geometries  # built once here (a cached property), inherited by the workers
    _STATE.update(network=network, node_index=node_index, access_s=access_s, thresholds=thresholds, buffer_m=buffer_m)
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
    for pos, nodes, times in searches:
        seconds[nodes] = times
        shapes = []
        for t in state["thresholds"]:
            pieces = reached_edges(network, seconds, t * 60.0)
            shapes.append(_band(pieces, state["buffer_m"]) if len(pieces) else shapely.Polygon())
        out.append((int(positions[pos]), shapes))
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

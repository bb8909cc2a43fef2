"""Travel times to facilities on a compiled network (SciPy's compiled Dijkstra).

People drive *to* facilities, so every search runs on the reversed network from the
facilities outwards.  A facility's own access leg (from its node to its door) is an
edge from a virtual node to the facility's node; one multi-source search from the
virtual nodes gives every node its time to the nearest facility *and* which facility
that is, in a single pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from coverage.errors import InputDataError, NoFacilityReachableError
from coverage.network import RoutingNetwork
from coverage.snapping import Snapping

__all__ = [
    "NearestFacility",
    "bounded_times_to_facilities",
    "nearest_facility",
    "unit_travel_times",
]

logger = logging.getLogger(__name__)

# Dense rows of one bounded-search call are kept under this many bytes.
_BOUNDED_CHUNK_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class NearestFacility:
    """For each network node, the time to its nearest facility.

    Attributes
    ----------
    seconds
        Shortest time from the node to a facility's door (facility access leg
        included), NaN where no facility can be reached.
    facility
        Position (in the facility list given to :func:`nearest_facility`) of that
        facility, ``-1`` where none can be reached.
    """

    seconds: np.ndarray
    facility: np.ndarray


def _with_virtual_sources(reverse: sp.csr_array, node_index: np.ndarray, access_s: np.ndarray) -> sp.csr_array:
    """Reverse matrix plus one virtual row per facility: virtual -> facility node."""
    n = reverse.shape[0]
    k = len(node_index)
    indptr = np.concatenate([reverse.indptr, reverse.indptr[-1] + np.arange(1, k + 1, dtype=reverse.indptr.dtype)])
    indices = np.concatenate([reverse.indices, node_index.astype(reverse.indices.dtype)])
    data = np.concatenate([reverse.data, access_s.astype(float)])
    return sp.csr_array((data, indices, indptr), shape=(n + k, n + k))


def _check_facility_inputs(network: RoutingNetwork, node_index: np.ndarray, access_s: np.ndarray) -> None:
    if node_index.shape != access_s.shape:
        raise ValueError("facility node indices and access times must have the same length")
    if len(node_index) == 0:
        raise NoFacilityReachableError("no facility is on the road network: nothing to search from")
    if node_index.min() < 0 or node_index.max() >= network.n_nodes:
        raise ValueError("facility node indices must be matrix indices of the network")
    if not np.all(np.isfinite(access_s)) or np.any(access_s < 0):
        raise InputDataError("facility access times must be finite and non-negative")


def nearest_facility(
    network: RoutingNetwork, node_index: np.ndarray, access_s: np.ndarray | None = None
) -> NearestFacility:
    """Time from every node to its nearest facility, by one multi-source search.

    Parameters
    ----------
    network
        Compiled network.
    node_index
        Matrix index of each facility's node (facilities not on the network must be
        left out by the caller).
    access_s
        Access leg of each facility in seconds (zeros if None).
    """
    node_index = np.asarray(node_index, dtype=np.int64)
    access_s = np.zeros(len(node_index)) if access_s is None else np.asarray(access_s, dtype=float)
    _check_facility_inputs(network, node_index, access_s)
    n = network.n_nodes
    graph = _with_virtual_sources(network.reverse_matrix, node_index, access_s)
    virtual = np.arange(n, n + len(node_index))
    dist, _, sources = dijkstra(graph, directed=True, indices=virtual, min_only=True, return_predecessors=True)
    seconds = dist[:n]
    facility = sources[:n].astype(np.int64) - n
    unreachable = ~np.isfinite(seconds)
    seconds = np.where(unreachable, np.nan, seconds)
    facility[unreachable] = -1
    return NearestFacility(seconds=seconds, facility=facility)


def unit_travel_times(
    snapping: Snapping, nearest: NearestFacility, facility_ids: pd.Index | np.ndarray
) -> pd.DataFrame:
    """Minutes from each snapped point to its nearest facility.

    ``minutes_to_nearest`` = the point's access leg + the network time from its node
    to the facility's node + the facility's access leg.  Points not snapped, or whose
    node reaches no facility, get NaN and no facility.

    Returns
    -------
    pandas.DataFrame
        One row per point, in order: ``node``, ``access_minutes``,
        ``minutes_to_nearest``, ``nearest_facility``, ``snap_distance_m``,
        ``beyond_max_snap``.
    """
    facility_ids = np.asarray(facility_ids, dtype=object)
    idx = snapping.node_index
    on = idx >= 0
    network_s = np.full(len(idx), np.nan)
    fac = np.full(len(idx), -1, dtype=np.int64)
    network_s[on] = nearest.seconds[idx[on]]
    fac[on] = nearest.facility[idx[on]]
    total_s = snapping.access_seconds + network_s
    nearest_id = np.full(len(idx), None, dtype=object)
    nearest_id[fac >= 0] = facility_ids[fac[fac >= 0]]
    return pd.DataFrame(
        {
            "node": pd.array(snapping.node, dtype=object),
            "access_minutes": snapping.access_seconds / 60.0,
            "minutes_to_nearest": total_s / 60.0,
            "nearest_facility": pd.array(nearest_id, dtype=object),
            "snap_distance_m": snapping.snap_distance_m,
            "beyond_max_snap": snapping.beyond_max_snap,
        }
    )


def bounded_times_to_facilities(
    network: RoutingNetwork,
    node_index: np.ndarray,
    access_s: np.ndarray,
    limit_s: float,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield, for each facility, the nodes that reach it within ``limit_s``.

    Searches run on the reversed network in chunks of facilities (one compiled call
    per chunk, each search stopped at the limit).  Yields ``(position, nodes,
    seconds)`` with the facility's position in the input, the matrix indices of the
    nodes that reach it within the limit and their times (access leg included).
    """
    node_index = np.asarray(node_index, dtype=np.int64)
    access_s = np.asarray(access_s, dtype=float)
    _check_facility_inputs(network, node_index, access_s)
    n = network.n_nodes
    chunk = int(max(1, min(64, _BOUNDED_CHUNK_BYTES // (8 * n))))
    reverse = network.reverse_matrix
    for start in range(0, len(node_index), chunk):
        stop = min(start + chunk, len(node_index))
        limit = float(limit_s - access_s[start:stop].min())
        if limit < 0:
            for pos in range(start, stop):
                yield pos, np.empty(0, dtype=np.int64), np.empty(0)
            continue
        dist = dijkstra(reverse, directed=True, indices=node_index[start:stop], limit=limit)
        dist = np.atleast_2d(dist)
        for row, pos in enumerate(range(start, stop)):
            seconds = dist[row] + access_s[pos]
            nodes = np.flatnonzero(seconds <= limit_s)
            yield pos, nodes, seconds[nodes]

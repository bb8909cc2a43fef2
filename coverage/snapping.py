"""Snapping points (population units, facilities) to the nodes of a routing network.

Each point joins its nearest node by a straight *access leg* driven at a configurable
access speed; the leg's time is added to every travel time from or to that point.
Points farther than ``max_snap_m`` from any node are flagged and left unsnapped: they
are reported as unreachable, never silently joined to a distant road.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from coverage.errors import InputDataError
from coverage.network import RoutingNetwork

__all__ = ["Snapping", "snap_points"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapping:
    """Where each point joins the network.

    Attributes are aligned with the input points, in their order.

    Attributes
    ----------
    node_index
        Matrix index of the nearest node, ``-1`` where the point is beyond the limit.
    node
        Graph node id of that node (None where beyond the limit).
    snap_distance_m
        Straight-line distance to the nearest node, metres (set for every point).
    access_seconds
        Time of the access leg, NaN where beyond the limit.
    beyond_max_snap
        True where the nearest node is farther than the limit.
    """

    node_index: np.ndarray
    node: np.ndarray
    snap_distance_m: np.ndarray
    access_seconds: np.ndarray
    beyond_max_snap: np.ndarray

    @property
    def snapped(self) -> np.ndarray:
        return ~self.beyond_max_snap


def snap_points(
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    network: RoutingNetwork,
    *,
    access_speed_kph: float,
    max_snap_m: float,
    what: str = "points",
    labels: pd.Index | None = None,
) -> Snapping:
    """Snap points to their nearest network node.

    Parameters
    ----------
    points
        Point geometries with a CRS.
    network
        Compiled network; distances are measured in its metric CRS.
    access_speed_kph
        Speed of the straight access leg.
    max_snap_m
        Points farther than this from every node are flagged, not snapped.
    what
        Name of the points in messages (``"facilities"``).
    labels
        Identifiers of the points, named in the warning about flagged points.
    """
    if not access_speed_kph > 0:
        raise InputDataError(f"access speed must be positive, got {access_speed_kph} km/h")
    if not max_snap_m >= 0:
        raise InputDataError(f"maximum snap distance must be >= 0, got {max_snap_m} m")
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is None:
        raise InputDataError(f"{what}: no CRS; expected one (e.g. EPSG:4326)")
    if len(geoms) == 0:
        empty = np.empty(0)
        return Snapping(empty.astype(np.int64), empty.astype(object), empty, empty, empty.astype(bool))
    if not (geoms.geom_type == "Point").all():
        raise InputDataError(f"{what}: expected point geometries, found {sorted(set(geoms.geom_type))}")
    projected = geoms.to_crs(network.metric_crs)
    xy = np.column_stack([projected.x.to_numpy(), projected.y.to_numpy()])
    tree = cKDTree(np.column_stack([network.x_m, network.y_m]))
    distance, index = tree.query(xy, k=1)
    beyond = distance > max_snap_m
    index = np.where(beyond, -1, index).astype(np.int64)
    access = np.where(beyond, np.nan, distance / (access_speed_kph / 3.6))
    nodes = np.array([network.node_ids[i] if i >= 0 else None for i in index], dtype=object)
    if beyond.any():
        names = labels if labels is not None else pd.RangeIndex(len(geoms))
        listed = ", ".join(f"{names[i]} ({distance[i] / 1000:.1f} km)" for i in np.flatnonzero(beyond)[:20])
        more = "" if beyond.sum() <= 20 else f" and {beyond.sum() - 20} more"
        logger.warning(
            "%d %s are more than %.0f m from the road network and are left unsnapped (counted unreachable): %s%s",
            int(beyond.sum()),
            what,
            max_snap_m,
            listed,
            more,
        )
    return Snapping(
        node_index=index,
        node=nodes,
        snap_distance_m=distance,
        access_seconds=access,
        beyond_max_snap=beyond,
    )

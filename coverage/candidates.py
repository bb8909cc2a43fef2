"""Candidate sites for new facilities: town halls, network nodes in uncovered areas, or a list.

Every function returns a point GeoDataFrame with ``candidate_id``, ``name``, ``commune``,
``commune_name``, ``epci``, ``epci_name``, ``department`` and ``source``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.errors import InputDataError
from coverage.network import RoutingNetwork

__all__ = [
    "CANDIDATE_COLUMNS",
    "attach_unit_areas",
    "candidates_from_network",
    "candidates_from_points",
    "candidates_from_units",
    "communes_with_facility",
    "exclude_candidates",
]

logger = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ["candidate_id", "name", "commune", "commune_name", "epci", "epci_name", "department", "source"]


def _admin(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame:
        return frame[column].astype("string")
    return pd.Series(pd.array([pd.NA] * len(frame), dtype="string"), index=frame.index)


def candidates_from_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One candidate per population unit, at the unit's point (a commune's town hall).

    The candidate id is the unit id (the INSEE code for communes).
    """
    if len(units) == 0:
        raise InputDataError("no population unit to make candidates from")
    frame = gpd.GeoDataFrame(
        {
            "candidate_id": units["unit_id"].astype(str).to_numpy(),
            "name": units["name"].astype(str).to_numpy(),
            "commune": _admin(units, "commune").to_numpy(),
            "commune_name": _admin(units, "commune_name").to_numpy(),
            "epci": _admin(units, "epci").to_numpy(),
            "epci_name": _admin(units, "epci_name").to_numpy(),
            "department": _admin(units, "department").to_numpy(),
            "source": "town hall",
        },
        geometry=units.geometry.to_numpy(),
        crs=units.crs,
    )
    return frame


def candidates_from_network(
    network: RoutingNetwork,
    node_minutes: np.ndarray,
    threshold_min: float,
    *,
    spacing_m: float = 2000.0,
    units: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Network nodes in uncovered areas, one per square of ``spacing_m``.

    A node is in an uncovered area when its time to the nearest facility is above
    ``threshold_min`` (or unknown).  In each square of the grid the node nearest the
    square's centre is kept.  When ``units`` (with ``area`` polygons) are given, each
    candidate takes the administrative columns of the unit whose area holds it.
    """
    if not spacing_m > 0:
        raise InputDataError(f"candidate spacing must be positive, got {spacing_m} m")
    minutes = np.asarray(node_minutes, dtype=float)
    far = np.flatnonzero(np.isnan(minutes) | (minutes > threshold_min))
    if len(far) == 0:
        raise InputDataError(f"every network node is within {threshold_min:g} min of a facility: no uncovered area")
    x, y = network.x_m[far], network.y_m[far]
    cx, cy = np.floor(x / spacing_m), np.floor(y / spacing_m)
    centre_distance = np.hypot(x - (cx + 0.5) * spacing_m, y - (cy + 0.5) * spacing_m)
    cells = pd.DataFrame({"cx": cx, "cy": cy, "d": centre_distance, "node": far})
    picked = cells.sort_values("d", kind="stable").drop_duplicates(["cx", "cy"]).sort_values("node")["node"].to_numpy()
    ids = [f"node-{network.node_ids[i]}" for i in picked]
    frame = gpd.GeoDataFrame(
        {"candidate_id": ids, "name": ids, "source": f"network node beyond {threshold_min:g} min"},
        geometry=gpd.points_from_xy(network.x_m[picked], network.y_m[picked]),
        crs=network.metric_crs,
    ).to_crs("EPSG:4326")
    frame = attach_unit_areas(frame, units)
    logger.info("%d network-node candidates in uncovered areas (spacing %.0f m)", len(frame), spacing_m)
    return frame[[*CANDIDATE_COLUMNS, "geometry"]]


def attach_unit_areas(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Copy of ``points`` with the administrative columns of the unit whose ``area`` holds
    each point (empty where no area holds it, or the units have no areas)."""
    out = points.copy()
    for col in CANDIDATE_COLUMNS[2:7]:
        out[col] = pd.array([pd.NA] * len(out), dtype="string")
    if units is None or "area" not in units or units["area"].isna().all():
        return out
    areas = gpd.GeoDataFrame(
        {col: _admin(units, col) for col in CANDIDATE_COLUMNS[2:7]},
        geometry=gpd.GeoSeries(units["area"], crs=units.crs).to_numpy(),
        crs=units.crs,
    ).to_crs(points.crs)
    joined = gpd.sjoin(points[[points.geometry.name]], areas, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    for col in CANDIDATE_COLUMNS[2:7]:
        out[col] = joined[col].astype("string").to_numpy()
    return out


def candidates_from_points(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """A planner's own candidate list (``candidate_id``, ``name``, points), with the
    administrative columns of the unit area each lies in."""
    missing = {"candidate_id", "name"} - set(points.columns)
    if missing:
        raise InputDataError(f"candidate list: missing columns {sorted(missing)}")
    if len(points) == 0:
        raise InputDataError("the candidate list is empty: there is no site to choose from")
    frame = gpd.GeoDataFrame(
        {
            "candidate_id": points["candidate_id"].astype(str).to_numpy(),
            "name": points["name"].astype(str).to_numpy(),
            "source": "candidate list",
        },
        geometry=points.geometry.to_numpy(),
        crs=points.crs,
    )
    frame = attach_unit_areas(frame, units)
    return frame[[*CANDIDATE_COLUMNS, "geometry"]]


def communes_with_facility(facilities: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> set[str]:
    """INSEE codes of the communes that host a facility: the facilities' ``code_insee``
    column where present, else the commune area each facility lies in."""
    if "code_insee" in facilities:
        return {str(c).zfill(5) for c in facilities["code_insee"].dropna()}
    located = attach_unit_areas(facilities[[facilities.geometry.name]], units)
    return {str(c) for c in located["commune"].dropna()}


def exclude_candidates(
    candidates: gpd.GeoDataFrame,
    *,
    communes: Iterable[str] = (),
    ids: Iterable[str] = (),
    known: Iterable[str] | None = None,
    what: str = "excluded codes",
) -> gpd.GeoDataFrame:
    """Candidates without those in the given communes or with the given ids (logged).

    A code that is neither a candidate's commune nor a candidate id is an error when
    it is not in ``known`` either (e.g. the territory's commune codes: a commune
    without a candidate is fine, a typo is not); without ``known`` it is a warning.
    ``what`` names the codes in messages (e.g. ``"--exclude-codes"``).
    """
    communes, ids = {str(c) for c in communes}, {str(i) for i in ids}
    commune_codes = (
        candidates["commune"].astype("string")
        if "commune" in candidates
        else pd.Series(pd.NA, index=candidates.index, dtype="string")
    )
    candidate_ids = candidates["candidate_id"].astype(str)
    drop = commune_codes.isin(communes).fillna(False).to_numpy(dtype=bool) | candidate_ids.isin(ids).to_numpy()
    matched = set(commune_codes.dropna()) | set(candidate_ids)
    unmatched = sorted((communes | ids) - matched)
    if unmatched:
        if known is None:
            logger.warning("%s: %d codes match no candidate: %s", what, len(unmatched), ", ".join(unmatched[:20]))
        else:
            unknown = sorted(set(unmatched) - {str(k) for k in known})
            if unknown:
                raise InputDataError(
                    f"{what}: {len(unknown)} codes are neither a commune of the territory nor a candidate id: "
                    f"{', '.join(unknown[:20])} (commune codes look like {sorted(str(k) for k in known)[:3]}, "
                    f"candidate ids like {sorted(candidate_ids)[:3]})"
                )
    if drop.any():
        logger.info("%d candidates excluded", int(drop.sum()))
    return candidates[~drop].reset_index(drop=True)

"""Readers of facilities (MSP, centres de santé...); each returns a point GeoDataFrame.

Every reader returns the columns ``facility_id`` (text, unique), ``name``, ``type``,
the input's other columns, and point geometries with a CRS.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.columns import find_column
from coverage.errors import InputDataError
from coverage.io._common import (
    check_finite_coordinates,
    check_unique_ids,
    existing,
    is_table,
    read_csv,
    read_vector,
    row_label,
    to_numbers,
)
from coverage.io.finess import FINESS_CATEGORIES, finess_columns, looks_like_finess, read_finess

__all__ = ["FACILITY_FORMATS", "FINESS_CATEGORIES", "read_candidates", "read_facilities", "read_finess"]

logger = logging.getLogger(__name__)

FACILITY_FORMATS = ("auto", "finess", "points")


def read_facilities(
    path: str | Path | Sequence[str | Path],
    *,
    layer: str | None = None,
    id_column: str = "facility_id",
    name_column: str | None = "name",
    type_column: str | None = "type",
    x_column: str | None = None,
    y_column: str | None = None,
    crs: str | None = None,
    status_column: str | None = "status",
    keep_status: Sequence[str] | None = ("open",),
    format: str = "auto",
    categories: Sequence[str] = tuple(FINESS_CATEGORIES),
    departments: Sequence[str] | None = None,
    supply_column: str | None = None,
    default_supply: float | None = None,
) -> gpd.GeoDataFrame:
    """Facilities from a point layer, a CSV with coordinate columns, or the FINESS extraction.

    Parameters
    ----------
    path
        A vector file (points), a CSV (UTF-8, Windows-1252 or Latin-1), or the FINESS
        public extraction; or several such files, read with the same options and put
        together (in the first file's CRS), an id found in two files being an error that
        names both.
    format
        ``"points"`` (a point layer or a CSV), ``"finess"`` (:func:`read_finess`, with
        ``categories`` and ``departments``; the other options do not apply), or
        ``"auto"`` (default): FINESS when the file's first line starts with ``finess;``
        or ``structureet;``, or is a header holding ``nofinesset``, ``coordxet`` and
        ``coordyet``; points otherwise.
    layer
        Layer of a multi-layer file.
    id_column, name_column, type_column
        Columns copied to ``facility_id``, ``name`` and ``type`` (matched
        case-insensitively); the name and type columns are optional (None) but an error
        when named and absent.  When the default ``"name"``/``"type"`` is absent, the
        id (resp. ``"facility"``) stands in, with a warning.
    x_column, y_column
        For a CSV: coordinate columns; by default ``lon``/``lat`` (also
        ``longitude``/``latitude``), else ``x``/``y``.
    crs
        For a CSV: CRS of the coordinates; EPSG:4326 for lon/lat by default.  Needed
        for x/y columns.
    status_column, keep_status
        Where the status column exists, keep only rows whose status is in
        ``keep_status`` (``open`` by default, as in the regional list); None keeps all.
    supply_column, default_supply
        The column of GPs (or full-time equivalents) that the accessibility study will
        read (:func:`coverage.accessibility.facility_supply`); None (default) checks
        nothing.  Found case-insensitively and copied under this name.  Where the file
        has no such column (the FINESS extraction has none): with a ``default_supply``
        the column is added empty, so that every facility takes the default (with the
        study's usual warning); without one it is an error that lists the file's own
        columns.

    Errors name the file and the row: the line of a CSV (the header is line 1), the
    feature number of a layer.  Coordinates must be finite numbers.
    """
    if format not in FACILITY_FORMATS:
        raise InputDataError(f"unknown facilities format {format!r}; expected one of {', '.join(FACILITY_FORMATS)}")
    if not isinstance(path, str | Path):
        options = {k: v for k, v in locals().items() if k not in {"path", "options"}}
        return _several_files([Path(p) for p in path], options)
    path = existing(path, "facilities file")
    if format == "finess" or (format == "auto" and looks_like_finess(path)):
        facilities = read_finess(path, categories=categories, departments=departments)
        own = finess_columns(path)
        return _with_supply(facilities, own, supply_column, default_supply, where=f"FINESS file {path}")
    where = f"facilities file {path}"
    table = is_table(path)
    if table:
        frame = read_csv(path, "facilities file")
        frame = _points_from_table(frame, where, x_column, y_column, crs)
    else:
        frame = read_vector(path, "facilities file", layer).reset_index(drop=True)
        geom_types = set(frame.geom_type.dropna())
        if not geom_types <= {"Point"}:
            raise InputDataError(f"{where}: expected point geometries, found {sorted(geom_types)}")
        check_finite_coordinates(frame.geometry, where=where)
    if len(frame) == 0:
        raise InputDataError(f"{where}: no facility (the table is empty)")
    columns = [c for c in frame.columns if c != "geometry"]
    id_col = find_column(columns, id_column, where=where)
    # the index is the file line (CSV) or the feature number (layer), for messages
    ids = frame[id_col].astype("string").str.strip() if not table else frame[id_col].str.strip()
    check_unique_ids(ids, where=where, column=id_col, csv=table)  # type: ignore[arg-type]
    name_col = _optional_column(columns, name_column, where, default="name")
    type_col = _optional_column(columns, type_column, where, default="type")
    status_col = find_column(columns, status_column, where=where, required=False) if status_column else None
    used = {id_col, name_col, type_col}
    others = {(f"input_{c}" if c in {"facility_id", "name", "type"} else c): frame[c] for c in columns if c not in used}
    out = pd.DataFrame(
        {
            "facility_id": ids.astype(str),
            "name": frame[name_col].astype(str) if name_col else ids.astype(str),
            "type": frame[type_col].astype(str) if type_col else "facility",
            **others,
        }
    )
    out = gpd.GeoDataFrame(out, geometry=frame.geometry, crs=frame.crs)
    if status_col is not None and keep_status is not None:
        status = frame[status_col].astype(str).str.strip()
        keep = status.isin(set(keep_status)).to_numpy()
        dropped = status[~keep].value_counts()
        if len(dropped):
            logger.info(
                "%s: kept %d facilities with %s %s; left out %s",
                where,
                int(keep.sum()),
                status_col,
                list(keep_status),
                ", ".join(f"{n} {s!r}" for s, n in dropped.items()),
            )
        out = out[keep]
        if out.empty:
            raise InputDataError(
                f"{where}: no facility has {status_col!r} in {list(keep_status)}; values are {sorted(status.unique())}"
            )
    empty_geom = out.geometry.isna() | out.geometry.is_empty
    if empty_geom.any():
        first = int(np.flatnonzero(empty_geom.to_numpy())[0])
        raise InputDataError(
            f"{where}, {row_label(out, first, csv=table)}: facility {out['facility_id'].iloc[first]!r} has no location"
        )
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs).reset_index(drop=True)
    return _with_supply(out, columns, supply_column, default_supply, where=where)


def _several_files(paths: list[Path], options: dict[str, Any]) -> gpd.GeoDataFrame:
    """The facilities of each file, read with the same options, one after the other."""
    if not paths:
        raise InputDataError("no facilities file given")
    frames = [read_facilities(p, **options) for p in paths]
    if len(frames) == 1:
        return frames[0]
    seen: dict[str, Path] = {}
    for p, frame in zip(paths, frames, strict=True):
        for fid in frame["facility_id"]:
            if fid in seen:
                raise InputDataError(f"facility id {fid!r} is in two facilities files: {seen[fid]} and {p}")
            seen[fid] = p
    crs = frames[0].crs
    joined = pd.concat([f.to_crs(crs) for f in frames], ignore_index=True)
    logger.info(
        "facilities: %s from %d files", " + ".join(str(len(f)) for f in frames) + f" = {len(joined)}", len(frames)
    )
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=crs)


def _with_supply(
    facilities: gpd.GeoDataFrame,
    own_columns: list[str],
    supply_column: str | None,
    default_supply: float | None,
    *,
    where: str,
) -> gpd.GeoDataFrame:
    """The facilities with ``supply_column`` present (see :func:`read_facilities`)."""
    if supply_column is None:
        return facilities
    found = find_column(own_columns, supply_column, where=where, required=False)
    if found is not None:
        if found != supply_column:
            facilities[supply_column] = facilities[found]
        return facilities
    if default_supply is None:
        raise InputDataError(
            f"{where}: no supply column {supply_column!r}; columns are {own_columns}. "
            "Name the column that holds the GPs, or give a default supply for every facility"
        )
    logger.info("%s: no supply column %r; every facility takes the default supply", where, supply_column)
    facilities[supply_column] = pd.Series(pd.NA, index=facilities.index, dtype="string")
    return facilities


def _optional_column(columns: list[str], wanted: str | None, where: str, default: str) -> str | None:
    if wanted is None:
        return None
    found = find_column(columns, wanted, where=where, required=wanted != default)
    if found is None:
        logger.warning("%s: no column %r; using a stand-in", where, wanted)
    return found


def _points_from_table(
    frame: pd.DataFrame, where: str, x_column: str | None, y_column: str | None, crs: str | None
) -> gpd.GeoDataFrame:
    columns = list(frame.columns)
    if (x_column is None) != (y_column is None):
        raise InputDataError(f"{where}: give both the x and the y column, or neither")
    if x_column is None:
        lon = find_column(columns, ["lon", "longitude", "lng"], where=where, required=False)
        lat = find_column(columns, ["lat", "latitude"], where=where, required=False)
        if lon and lat:
            x_column, y_column, crs = lon, lat, crs or "EPSG:4326"
        else:
            x_column = find_column(columns, ["x"], where=f"{where} (no lon/lat columns either)")
            y_column = find_column(columns, ["y"], where=where)
    else:
        x_column = find_column(columns, x_column, where=where)
        y_column = find_column(columns, y_column, where=where)  # type: ignore[arg-type]
    if crs is None:
        raise InputDataError(f"{where}: coordinates in columns {x_column!r}/{y_column!r} need a CRS (--facilities-crs)")
    x = to_numbers(frame[x_column], where=where, column=x_column, csv=True, allow_negative=True)
    y = to_numbers(frame[y_column], where=where, column=y_column, csv=True, allow_negative=True)
    if crs.upper() in {"EPSG:4326", "WGS84"}:
        bad = (x.abs() > 180) | (y.abs() > 90)
        if bad.any():
            p = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputDataError(
                f"{where}, {row_label(x, p, csv=True)}: ({x.iloc[p]}, {y.iloc[p]}) is not a longitude/latitude; "
                "give the CRS of projected coordinates"
            )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs=crs)


def read_candidates(
    path: str | Path, *, layer: str | None = None, id_column: str = "candidate_id", name_column: str | None = "name"
) -> gpd.GeoDataFrame:
    """A planner's own candidate sites (vacant buildings, volunteering communes): a point
    layer or a CSV with coordinates, read as :func:`read_facilities` reads facilities, with
    ``candidate_id`` and ``name`` (see :func:`coverage.candidates.candidates_from_points`)."""
    points = read_facilities(
        path,
        format="points",
        layer=layer,
        id_column=id_column,
        name_column=name_column,
        type_column=None,
        status_column=None,
        keep_status=None,
    )
    return points.rename(columns={"facility_id": "candidate_id"})

"""Readers of administrative units: communes (INSEE code, population, EPCI), departments."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.columns import find_column
from coverage.errors import InputDataError
from coverage.io._common import (
    check_unique_ids,
    existing,
    is_table,
    read_csv,
    read_vector,
    to_numbers,
)

__all__ = ["COMMUNE_COLUMNS", "read_communes", "read_departments"]

logger = logging.getLogger(__name__)

#: Columns of the commune table returned by :func:`read_communes`.
COMMUNE_COLUMNS = ["code_insee", "name", "population", "department", "epci", "epci_name"]


def read_communes(
    table: str | Path,
    *,
    polygons: str | Path | None = None,
    polygons_layer: str | None = None,
    town_halls: str | Path | None = None,
    town_halls_layer: str | None = None,
    code_column: str = "code_insee",
    name_column: str = "nom",
    population_column: str = "population",
) -> gpd.GeoDataFrame:
    """INSEE commune table (code, population, EPCI) with polygons and town halls.

    Parameters
    ----------
    table
        CSV (or layer) with one row per commune: INSEE code, name, population and,
        when present, ``departement``, ``epci_siren``, ``epci_nom``.  Where a ``type``
        column exists (COG lists), only ``commune-actuelle`` rows are kept.
    polygons, polygons_layer
        Commune polygons with a ``code_insee`` (or ``code``) column; joined on the code.
    town_halls, town_halls_layer
        Town-hall points with a ``code_insee`` (or ``code``) column.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code_insee``, ``name``, ``population``, ``department``, ``epci``,
        ``epci_name``, ``town_hall`` (points, may be missing) and the polygon
        ``geometry`` (EPSG:4326; empty when no polygons were given).  Codes of the table
        that the polygon or town-hall files do not know are logged (a COG year mismatch).
    """
    path = existing(table, "commune table")
    where = f"commune table {path}"
    csv = is_table(path)
    frame = (
        read_csv(path, "commune table")
        if csv
        else pd.DataFrame(read_vector(path, "commune table").drop(columns="geometry"))
    )
    columns = list(frame.columns)
    type_col = find_column(columns, "type", where=where, required=False)
    if type_col is not None and (frame[type_col] == "commune-actuelle").any():
        frame = frame[frame[type_col] == "commune-actuelle"].reset_index(drop=True)
    if frame.empty:
        raise InputDataError(f"{where}: no commune")
    code_col = find_column(columns, [code_column, "code", "codgeo", "com"], where=where)
    name_col = find_column(columns, [name_column, "name", "libelle", "libgeo"], where=where)
    pop_col = find_column(columns, [population_column, "pmun", "pop"], where=where)
    codes = frame[code_col].astype(str).str.strip().str.zfill(5)
    check_unique_ids(codes, where=where, column=code_col, csv=csv)
    dep_col = find_column(columns, ["departement", "department", "dep"], where=where, required=False)
    epci_col = find_column(columns, ["epci_siren", "epci", "siren_epci"], where=where, required=False)
    epci_name_col = find_column(columns, ["epci_nom", "epci_name", "lib_epci"], where=where, required=False)
    out = pd.DataFrame(
        {
            "code_insee": codes,
            "name": frame[name_col].astype(str),
            "population": to_numbers(frame[pop_col], where=where, column=pop_col, csv=csv),
            "department": frame[dep_col].astype(str) if dep_col else _department_of(codes),
            "epci": frame[epci_col].astype("string") if epci_col else pd.array([pd.NA] * len(frame), dtype="string"),
            "epci_name": frame[epci_name_col].astype("string")
            if epci_name_col
            else pd.array([pd.NA] * len(frame), dtype="string"),
        }
    )
    geometry = gpd.GeoSeries([None] * len(out), crs="EPSG:4326")
    if polygons is not None:
        poly = _layer_by_code(polygons, polygons_layer, "commune polygons")
        _report_mismatch(out["code_insee"], poly.index, f"commune polygons {polygons}")
        geometry = poly.geometry.to_crs("EPSG:4326").reindex(out["code_insee"]).set_axis(out.index)
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs="EPSG:4326"), crs="EPSG:4326")
    town = gpd.GeoSeries([None] * len(out), crs="EPSG:4326")
    if town_halls is not None:
        th = _layer_by_code(town_halls, town_halls_layer, "town halls")
        _report_mismatch(out["code_insee"], th.index, f"town halls {town_halls}")
        town = th.geometry.to_crs("EPSG:4326").reindex(out["code_insee"]).set_axis(out.index)
    result["town_hall"] = gpd.GeoSeries(town, crs="EPSG:4326")
    return result


def _department_of(codes: pd.Series) -> pd.Series:
    """Department of INSEE codes: 3 characters overseas (97x), else 2 (including 2A/2B)."""
    return codes.str[:3].where(codes.str.startswith("97"), codes.str[:2])


def _layer_by_code(path: str | Path, layer: str | None, what: str) -> gpd.GeoDataFrame:
    path = existing(path, what)
    frame = read_vector(path, what, layer)
    code = find_column(list(frame.columns), ["code_insee", "code", "insee_com", "codgeo"], where=f"{what} {path}")
    frame = frame.assign(**{"_code": frame[code].astype(str).str.strip().str.zfill(5)})
    dup = frame["_code"].duplicated(keep=False).to_numpy()
    if dup.any():
        listed = ", ".join(f"{frame['_code'].iloc[i]!r} (feature {frame.index[i]})" for i in np.flatnonzero(dup)[:10])
        raise InputDataError(f"{what} {path}: duplicate codes in column {code!r}: {listed}")
    return frame.set_index("_code")


def _report_mismatch(codes: pd.Series, other: pd.Index, where: str) -> None:
    missing = sorted(set(codes) - set(other))
    if missing:
        logger.warning(
            "%s: %d commune codes of the table are absent (a different COG year?): %s",
            where,
            len(missing),
            ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else ""),
        )


def read_departments(
    path: str | Path, *, layer: str | None = None, code_column: str = "code", name_column: str = "nom"
) -> gpd.GeoDataFrame:
    """Department polygons with ``department`` (code) and ``name`` columns."""
    path = existing(path, "departments file")
    frame = read_vector(path, "departments file", layer)
    where = f"departments file {path}"
    code = find_column(list(frame.columns), [code_column, "code_insee", "insee_dep"], where=where)
    name = find_column(list(frame.columns), [name_column, "name", "nom_dep"], where=where)
    return gpd.GeoDataFrame(
        {"department": frame[code].astype(str), "name": frame[name].astype(str)},
        geometry=frame.geometry,
        crs=frame.crs,
    )

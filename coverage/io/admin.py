"""Readers of administrative units: communes (INSEE code, population, EPCI), departments."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.columns import find_column
from coverage.config import DEFAULT_METRIC_CRS
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

__all__ = ["COMMUNE_COLUMNS", "TOWN_HALL_TOLERANCE_M", "department_codes", "read_communes", "read_departments"]

logger = logging.getLogger(__name__)

#: Columns of the commune table returned by :func:`read_communes`.
COMMUNE_COLUMNS = ["code_insee", "name", "population", "department", "epci", "epci_name"]

#: How far (m) a town-hall point may lie outside its commune's polygon before it is taken
#: for a geocoding error and replaced by a point inside the polygon.  1 km: the polygons
#: are often simplified, which moves their edge by a few hundred metres, while the
#: geocoding errors of the regional data put points 1 to 40 km away.
TOWN_HALL_TOLERANCE_M = 1000.0

# Names of the columns of the usual commune tables: COG lists (Etalab's
# decoupage-administratif, INSEE's v_commune), INSEE's legal populations (COM, Commune,
# PMUN), its historical and comparator tables (CODGEO, LIBGEO, PMUN2023, P21_POP).
_CODE_COLUMNS = ["code", "codgeo", "com", "code_commune", "insee_com", "depcom"]
_NAME_COLUMNS = ["name", "libelle", "libgeo", "commune", "nom_commune", "nom de la commune", "lib_com", "nccenr"]
_POPULATION_COLUMNS = ["pmun", "population municipale", "pop", "ptot"]
_POPULATION_PATTERNS = [re.compile(r"^pmun(\d{4})$", re.I), re.compile(r"^p(\d\d)_pop$", re.I)]
_DEPARTMENT_COLUMNS = ["departement", "department", "dep", "code_departement", "code_dep"]
# Rows kept where a type column exists: current communes, not delegated or associated ones.
_TYPE_COLUMNS = ["type", "typecom"]
_CURRENT_COMMUNE = {"commune-actuelle", "COM"}


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
    town_hall_tolerance_m: float | None = TOWN_HALL_TOLERANCE_M,
    town_hall_columns: tuple[str, str] = ("mairie_lon", "mairie_lat"),
    departments: Collection[str] | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """INSEE commune table (code, population, EPCI) with polygons and town halls.

    Parameters
    ----------
    table
        CSV (or layer) with one row per commune: INSEE code, name, population and,
        when present, ``departement``, ``epci_siren``, ``epci_nom``.  Where a ``type``
        (or ``TYPECOM``) column exists (COG lists), only ``commune-actuelle`` (``COM``)
        rows are kept.  The columns of INSEE's own tables are recognised without being
        named: ``COM``/``CODGEO`` for the code, ``Commune``/``LIBGEO``/``LIBELLE`` for
        the name, ``PMUN`` (else the latest ``PMUNyyyy`` or ``Pyy_POP``) for the
        population, ``DEP`` for the department.
    polygons, polygons_layer
        Commune polygons with a ``code_insee`` (or ``code``) column; joined on the code.
    town_halls, town_halls_layer
        Town-hall points with a ``code_insee`` (or ``code``) column.
    town_hall_columns
        Longitude and latitude columns (EPSG:4326) of the table that give the town halls
        when no ``town_halls`` file is given (the national commune table has them);
        empty cells are communes without a town hall.
    departments
        Keep only the communes of these department codes (``"18"``, ``"2A"``, ``"974"``),
        before any value is read: the rest of the table is never checked.
    town_hall_tolerance_m
        With both polygons and town halls: a town-hall point more than this many metres
        outside its own commune's polygon (measured in ``metric_crs``) is taken for a
        geocoding error and replaced by a point inside the polygon (its centroid where
        that lies inside, else a representative point), with one warning that counts
        them and names the farthest.  Default :data:`TOWN_HALL_TOLERANCE_M` (1 km);
        None keeps every point.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code_insee``, ``name``, ``population``, ``department``, ``epci``,
        ``epci_name``, ``town_hall`` (points, may be missing) and the polygon
        ``geometry`` (EPSG:4326; empty when no polygons were given).  Codes of the table
        that the polygon or town-hall files do not know are logged (a COG year mismatch).
        Errors about a row of a CSV name its line in the file.
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
    type_col = find_column(columns, _TYPE_COLUMNS, where=where, required=False)
    if type_col is not None:
        current = frame[type_col].astype("string").str.strip().isin(_CURRENT_COMMUNE).fillna(False).to_numpy(bool)
        if current.any():
            # the index keeps each row's line in the file, for the messages below
            frame = frame[current]
    if frame.empty:
        raise InputDataError(f"{where}: no commune")
    code_col = find_column(columns, [code_column, *_CODE_COLUMNS], where=where)
    dep_col = find_column(columns, _DEPARTMENT_COLUMNS, where=where, required=False)
    if departments is not None:
        all_codes = frame[code_col].astype("string").str.strip().str.zfill(5)
        of = department_codes(frame[dep_col]) if dep_col else _department_of(all_codes)
        frame = frame[of.isin(set(departments)).fillna(False).to_numpy(bool)]
        if frame.empty:
            raise InputDataError(f"{where}: no commune in the departments {', '.join(sorted(departments))}")
    name_col = find_column(columns, [name_column, *_NAME_COLUMNS], where=where)
    population_names = [population_column, *_POPULATION_COLUMNS]
    pop_col = (
        find_column(columns, population_names, where=where, required=False)
        or _latest_population_column(columns)
        or find_column(columns, population_names, where=where)  # the error, naming the columns
    )
    codes = frame[code_col].astype("string").str.strip().str.zfill(5)
    check_unique_ids(codes, where=where, column=code_col, csv=csv)  # type: ignore[arg-type]
    codes = codes.astype(str)
    epci_col = find_column(columns, ["epci_siren", "epci", "siren_epci"], where=where, required=False)
    epci_name_col = find_column(columns, ["epci_nom", "epci_name", "lib_epci"], where=where, required=False)
    out = pd.DataFrame(
        {
            "code_insee": codes,
            "name": frame[name_col].astype(str),
            "population": to_numbers(frame[pop_col], where=where, column=pop_col, csv=csv),
            "department": department_codes(frame[dep_col]) if dep_col else _department_of(codes),
            "epci": frame[epci_col].astype("string") if epci_col else pd.array([pd.NA] * len(frame), dtype="string"),
            "epci_name": frame[epci_name_col].astype("string")
            if epci_name_col
            else pd.array([pd.NA] * len(frame), dtype="string"),
        }
    ).reset_index(drop=True)
    geometry = gpd.GeoSeries([None] * len(out), crs="EPSG:4326")
    if polygons is not None:
        poly = _layer_by_code(polygons, polygons_layer, "commune polygons")
        _report_mismatch(out["code_insee"], poly.index, f"commune polygons {polygons}")
        geometry = poly.geometry.to_crs("EPSG:4326").reindex(out["code_insee"]).set_axis(out.index)
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs="EPSG:4326"), crs="EPSG:4326")
    town = gpd.GeoSeries([None] * len(out), crs="EPSG:4326")
    town_where = None
    if town_halls is not None:
        th = _layer_by_code(town_halls, town_halls_layer, "town halls")
        _report_mismatch(out["code_insee"], th.index, f"town halls {town_halls}")
        town = th.geometry.to_crs("EPSG:4326").reindex(out["code_insee"]).set_axis(out.index)
        town_where = f"town halls {town_halls}"
    elif set(town_hall_columns) <= set(columns):
        town = _points_of_columns(frame, town_hall_columns, where=where, csv=csv).set_axis(out.index)
        town_where = f"{where} (columns {', '.join(town_hall_columns)})"
    if town_where is not None and polygons is not None and town_hall_tolerance_m is not None:
        town = _town_halls_inside(
            result, gpd.GeoSeries(town, crs="EPSG:4326"), town_hall_tolerance_m, metric_crs, town_where
        )
    result["town_hall"] = gpd.GeoSeries(town, crs="EPSG:4326")
    return result


def _points_of_columns(frame: pd.DataFrame, names: tuple[str, str], *, where: str, csv: bool) -> gpd.GeoSeries:
    """Points of longitude/latitude columns; a row with both cells empty has no point."""
    lon = to_numbers(frame[names[0]], where=where, column=names[0], csv=csv, allow_negative=True, allow_missing=True)
    lat = to_numbers(frame[names[1]], where=where, column=names[1], csv=csv, allow_negative=True, allow_missing=True)
    lon, lat = lon.to_numpy(), lat.to_numpy()
    half = np.isnan(lon) != np.isnan(lat)
    bad = ~np.isnan(lon) & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
    for wrong, what in ((half, "one of the two coordinates is empty"), (bad, "not a longitude and latitude")):
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise InputDataError(
                f"{where}, {row_label(frame[names[0]], i, csv=csv)}: town hall "
                f"({names[0]}, {names[1]}) = ({lon[i]}, {lat[i]}): {what}; "
                "expected degrees (EPSG:4326), or both cells empty"
            )
    points = gpd.points_from_xy(lon, lat, crs="EPSG:4326")
    points[np.isnan(lon)] = None
    return gpd.GeoSeries(points, crs="EPSG:4326")


def _latest_population_column(columns: list[str]) -> str | None:
    """``PMUN2023`` or ``P21_POP``-like columns: the one of the latest year, if any."""
    dated = []
    for column in columns:
        for pattern in _POPULATION_PATTERNS:
            match = pattern.match(column.strip())
            if match:
                year = int(match.group(1))
                dated.append((year + 2000 if year < 100 else year, column))
    if not dated:
        return None
    year, column = max(dated)
    logger.info("population column: %r (the latest of %d dated columns)", column, len(dated))
    return column


def _town_halls_inside(
    communes: gpd.GeoDataFrame, town: gpd.GeoSeries, tolerance_m: float, metric_crs: str, where: str
) -> gpd.GeoSeries:
    """Town halls, with those farther than ``tolerance_m`` outside their commune's
    polygon replaced by a point inside it (see :func:`read_communes`)."""
    polygons = communes.geometry
    both = (town.notna() & ~town.is_empty & polygons.notna() & ~polygons.is_empty).to_numpy()
    if not both.any():
        return town
    metric_poly = polygons[both].to_crs(metric_crs)
    distance = pd.Series(np.nan, index=town.index)
    distance[both] = metric_poly.distance(town[both].to_crs(metric_crs)).to_numpy()
    far = (distance > tolerance_m).to_numpy()
    if not far.any():
        return town
    inside = metric_poly[far[both]]
    centroid = inside.centroid
    point = centroid.where(inside.contains(centroid), inside.representative_point())
    moved = town.copy()
    moved[far] = point.to_crs(town.crs).to_numpy()
    order = distance[far].sort_values(ascending=False)
    worst = ", ".join(
        f"{communes['code_insee'].iloc[i]} {communes['name'].iloc[i]} ({d / 1000:.1f} km)"
        for i, d in zip(town.index.get_indexer(order.index[:5]), order.iloc[:5], strict=True)
    )
    logger.warning(
        "%s: %d town-hall points lie more than %g km outside their commune's polygon (a geocoding error?) "
        "and are replaced by a point inside it; the farthest: %s",
        where,
        int(far.sum()),
        tolerance_m / 1000,
        worst + (", ..." if far.sum() > 5 else ""),
    )
    return moved


def department_codes(values: pd.Series) -> pd.Series:
    """Department codes as INSEE writes them: ``"01"`` for a ``1`` a spreadsheet left,
    ``"2A"`` upper-cased, surrounding spaces removed."""
    text = values.astype("string").str.strip().str.upper()
    short = text.str.fullmatch(r"\d").fillna(False).to_numpy(bool)
    return text.where(~short, text.str.zfill(2))


def _department_of(codes: pd.Series) -> pd.Series:
    """Department of INSEE codes: 3 characters overseas (97x), else 2 (including 2A/2B)."""
    return codes.str[:3].where(codes.str.startswith("97"), codes.str[:2])


def _layer_by_code(path: str | Path, layer: str | None, what: str) -> gpd.GeoDataFrame:
    path = existing(path, what)
    frame = read_vector(path, what, layer)
    check_finite_coordinates(frame.geometry, where=f"{what} {path}")
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
    """Department polygons with ``department`` (code, as :func:`department_codes` writes
    it) and ``name`` columns.

    The code is also found as ``code_insee``, ``insee_dep``, ``dep`` or
    ``code_departement``; the name as ``name``, ``nom_dep``, ``libelle`` or
    ``nom_departement``.
    """
    path = existing(path, "departments file")
    frame = read_vector(path, "departments file", layer)
    where = f"departments file {path}"
    columns = [c for c in frame.columns if c != frame.geometry.name]
    code = find_column(columns, [code_column, "code_insee", "insee_dep", "dep", "code_departement"], where=where)
    name = find_column(columns, [name_column, "name", "nom_dep", "libelle", "nom_departement"], where=where)
    codes = department_codes(frame[code])
    return gpd.GeoDataFrame(
        {"department": codes.astype(str), "name": frame[name].astype(str)},
        geometry=frame.geometry,
        crs=frame.crs,
    )

"""Population units: where people live and how many.

Every function returns a GeoDataFrame of *units* with the columns ``unit_id`` (text,
unique), ``name``, ``population`` (non-negative numbers), the administrative columns
``commune``, ``department``, ``epci``, ``epci_name`` (possibly empty), point
``geometry`` (where the unit is placed) and ``area`` (its polygon, possibly empty).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

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
from coverage.io.admin import department_codes, read_communes

__all__ = [
    "POPULATION_FORMATS",
    "UNIT_COLUMNS",
    "attach_communes",
    "population_from_communes",
    "read_filosofi",
    "read_population",
    "read_population_layer",
    "with_area_names",
]

logger = logging.getLogger(__name__)

UNIT_COLUMNS = ["unit_id", "name", "population", "commune", "department", "epci", "epci_name"]
_ADMIN = ["commune", "department", "epci", "epci_name"]
# Cell ids of the INSEE grids: CRS3035RES200mN2029800E4252400 (south-west corner).
_CELL_ID = re.compile(r"^CRS(\d+)RES(\d+)mN(\d+)E(\d+)$")
_CELL_ID_COLUMNS = ["idcar_200m", "idcar_1km", "idinspire", "idcar_nat", "id_carr200m", "id_carr1km", "id"]


def population_from_communes(
    communes: gpd.GeoDataFrame, *, placement: str = "town_hall", metric_crs: str = DEFAULT_METRIC_CRS
) -> gpd.GeoDataFrame:
    """One unit per commune, placed at its town hall or at its polygon's centroid.

    Parameters
    ----------
    communes
        As returned by :func:`coverage.io.admin.read_communes`.
    placement
        ``"town_hall"``: the town-hall point, or the centroid where a commune has
        none (logged); ``"centroid"``: the polygon's centroid (in ``metric_crs``).
    """
    if placement not in {"town_hall", "centroid"}:
        raise ValueError(f"placement must be 'town_hall' or 'centroid', got {placement!r}")
    polygons = communes.geometry
    has_polygon = polygons.notna() & ~polygons.is_empty
    centroid = gpd.GeoSeries([None] * len(communes), index=communes.index, crs=communes.crs)
    if has_polygon.any():
        centroid[has_polygon] = polygons[has_polygon].to_crs(metric_crs).centroid.to_crs(communes.crs)
    if placement == "town_hall" and "town_hall" in communes:
        town = gpd.GeoSeries(communes["town_hall"], crs=communes.crs)
        no_town = town.isna() | town.is_empty
        if no_town.any():
            logger.info(
                "%d communes have no town-hall point and are placed at their centroid: %s",
                int(no_town.sum()),
                ", ".join(communes.loc[no_town, "code_insee"].head(20)),
            )
        point = town.where(~no_town, centroid)
    else:
        point = centroid
    unplaced = point.isna() | point.is_empty
    if unplaced.any():
        raise InputDataError(
            f"{int(unplaced.sum())} communes have neither a town-hall point nor a polygon, "
            f"so they cannot be placed: {communes.loc[unplaced, 'code_insee'].head(10).tolist()}"
        )
    units = gpd.GeoDataFrame(
        {
            "unit_id": communes["code_insee"].to_numpy(),
            "name": communes["name"].to_numpy(),
            "population": communes["population"].to_numpy(dtype=float),
            "commune": communes["code_insee"].to_numpy(),
            "department": communes["department"].to_numpy(),
            "epci": communes["epci"].to_numpy(),
            "epci_name": communes["epci_name"].to_numpy(),
        },
        geometry=gpd.GeoSeries(point.to_numpy(), crs=communes.crs),
        crs=communes.crs,
    )
    units["area"] = gpd.GeoSeries(polygons.to_numpy(), crs=communes.crs)
    return units


def read_filosofi(
    path: str | Path, *, population_column: str = "ind", id_column: str | None = None
) -> gpd.GeoDataFrame:
    """Units of an INSEE Filosofi grid CSV (200 m or 1 km cells), of any vintage.

    Columns are matched case-insensitively (``idcar_200m``, ``Idcar_200m``,
    ``IdINSPIRE``... and ``ind``, ``Ind``).  The cell id encodes the CRS (EPSG:3035),
    the resolution and the south-west corner; each unit is placed at its cell's
    centre and keeps the cell square as ``area``.
    """
    path = existing(path, "Filosofi grid")
    where = f"Filosofi grid {path}"
    frame = read_csv(path, "Filosofi grid")
    if frame.empty:
        raise InputDataError(f"{where}: no cell")
    columns = list(frame.columns)
    id_col = find_column(columns, [id_column] if id_column else _CELL_ID_COLUMNS, where=where)
    pop_col = find_column(columns, [population_column, "ind_c", "pop"], where=where)
    ids = frame[id_col].astype(str).str.strip()
    check_unique_ids(ids, where=where, column=id_col, csv=True)
    parsed = ids.str.extract(_CELL_ID)
    bad = parsed[0].isna().to_numpy()
    if bad.any():
        p = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{where}, {row_label(ids, p, csv=True)}: cell id {ids.iloc[p]!r} in column {id_col!r} is not of the "
            "form CRS3035RES200mN<north>E<east>"
        )
    epsg = parsed[0].unique()
    if len(epsg) != 1:
        raise InputDataError(f"{where}: cells in several CRS {sorted(epsg)}; expected one")
    res = parsed[1].astype(float).to_numpy()
    north = parsed[2].astype(float).to_numpy()
    east = parsed[3].astype(float).to_numpy()
    population = to_numbers(frame[pop_col], where=where, column=pop_col, csv=True)
    crs = f"EPSG:{epsg[0]}"
    area = shapely.box(east, north, east + res, north + res)
    units = gpd.GeoDataFrame(
        {
            "unit_id": ids.to_numpy(),
            "name": ids.to_numpy(),
            "population": population.to_numpy(),
            **{c: pd.array([pd.NA] * len(ids), dtype="string") for c in _ADMIN},
        },
        geometry=gpd.points_from_xy(east + res / 2, north + res / 2),
        crs=crs,
    )
    units["area"] = gpd.GeoSeries(area, crs=crs)
    return units


def read_population_layer(
    path: str | Path,
    *,
    population_column: str,
    id_column: str,
    name_column: str | None = None,
    layer: str | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Units of any point or polygon layer with a population column.

    Polygons are placed at their centroid (computed in ``metric_crs``) and kept as
    ``area``.
    """
    path = existing(path, "population layer")
    where = f"population layer {path}"
    if is_table(path):
        raise InputDataError(f"{where}: a CSV has no geometry; use a vector layer, or the commune or Filosofi readers")
    frame = read_vector(path, "population layer", layer).reset_index(drop=True)
    if frame.empty:
        raise InputDataError(f"{where}: the layer is empty")
    columns = [c for c in frame.columns if c != "geometry"]
    id_col = find_column(columns, id_column, where=where)
    pop_col = find_column(columns, population_column, where=where)
    name_col = find_column(columns, name_column, where=where) if name_column else None
    ids = frame[id_col].astype("string").str.strip()
    check_unique_ids(ids, where=where, column=id_col, csv=False)  # type: ignore[arg-type]
    population = to_numbers(frame[pop_col].astype("string"), where=where, column=pop_col, csv=False)
    check_finite_coordinates(frame.geometry, where=where)
    kinds = set(frame.geom_type.dropna())
    if kinds <= {"Point"}:
        points, area = frame.geometry, gpd.GeoSeries([None] * len(frame), crs=frame.crs)
    elif kinds <= {"Polygon", "MultiPolygon"}:
        points, area = frame.geometry.to_crs(metric_crs).centroid.to_crs(frame.crs), frame.geometry
    else:
        raise InputDataError(f"{where}: expected points or polygons, found {sorted(kinds)}")
    missing = points.isna() | points.is_empty
    if missing.any():
        raise InputDataError(f"{where}, feature {int(np.flatnonzero(missing.to_numpy())[0])}: empty geometry")
    admin = {
        c: (frame[c].astype("string") if c in frame.columns else pd.array([pd.NA] * len(frame), dtype="string"))
        for c in _ADMIN
    }
    units = gpd.GeoDataFrame(
        {
            "unit_id": ids.astype(str).to_numpy(),
            "name": frame[name_col].astype(str).to_numpy() if name_col else ids.astype(str).to_numpy(),
            "population": population.to_numpy(),
            **admin,
        },
        geometry=gpd.GeoSeries(points.to_numpy(), crs=frame.crs),
        crs=frame.crs,
    )
    units["area"] = gpd.GeoSeries(area.to_numpy(), crs=frame.crs)
    return units


def attach_communes(units: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fill the empty administrative columns of units from the commune their point lies in.

    Points outside every commune polygon keep empty columns and are logged.
    """
    if communes.geometry.isna().all():
        raise InputDataError("attaching units to communes needs commune polygons")
    need = units["commune"].isna().to_numpy()
    if not need.any():
        return units
    pts = gpd.GeoDataFrame(geometry=units.geometry[need].to_crs(communes.crs))
    joined = gpd.sjoin(
        pts, communes[["code_insee", "department", "epci", "epci_name", "geometry"]], how="left", predicate="within"
    )
    joined = joined[~joined.index.duplicated(keep="first")]
    out = units.copy()
    idx = units.index[need]
    out.loc[idx, "commune"] = joined["code_insee"].to_numpy()
    for col in ("department", "epci", "epci_name"):
        out.loc[idx, col] = joined[col].to_numpy()
    outside = int(joined["code_insee"].isna().sum())
    if outside:
        logger.warning("%d population units lie outside every commune polygon; their commune is left empty", outside)
    return out


#: Formats :func:`read_population` reads.
POPULATION_FORMATS = ("communes", "filosofi", "layer")


def read_population(
    path: str | Path,
    *,
    format: str = "communes",
    population_column: str | None = None,
    id_column: str = "code_insee",
    name_column: str | None = None,
    layer: str | None = None,
    placement: str = "town_hall",
    commune_polygons: str | Path | None = None,
    commune_polygons_layer: str | None = None,
    town_halls: str | Path | None = None,
    town_halls_layer: str | None = None,
    communes: str | Path | None = None,
    departments: gpd.GeoDataFrame | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Population units of any of the three formats, with their area names.

    Parameters
    ----------
    format
        ``"communes"``: an INSEE commune table (:func:`coverage.io.admin.read_communes`)
        placed at ``town_halls`` or the centroids of ``commune_polygons``
        (``placement``); ``"filosofi"``: an INSEE grid CSV (:func:`read_filosofi`);
        ``"layer"``: any point or polygon layer (:func:`read_population_layer`).
    population_column
        Default ``population`` (``ind`` for Filosofi).
    communes, commune_polygons
        For grid and layer units: the commune table and polygons that give each unit its
        commune, EPCI and department (:func:`attach_communes`).
    departments
        Department polygons (:func:`coverage.io.admin.read_departments`) naming the
        units' departments (``department_name``) and giving a department to units
        that have none (:func:`with_area_names`).
    metric_crs
        CRS of the centroids, and of the distances between town halls and their
        commune's polygon (:func:`coverage.io.admin.read_communes`).

    Every unit also gets ``commune_name`` (its commune's name, else its own).
    """
    if format not in POPULATION_FORMATS:
        raise InputDataError(f"unknown population format {format!r}; expected one of {', '.join(POPULATION_FORMATS)}")
    if format == "communes":
        table = read_communes(
            path,
            polygons=commune_polygons,
            polygons_layer=commune_polygons_layer,
            town_halls=town_halls,
            town_halls_layer=town_halls_layer,
            code_column=id_column,
            population_column=population_column or "population",
            name_column=name_column or "nom",
            metric_crs=metric_crs,
        )
        units = population_from_communes(table, placement=placement, metric_crs=metric_crs)
    else:
        if format == "filosofi":
            units = read_filosofi(path, population_column=population_column or "ind")
        else:
            units = read_population_layer(
                path,
                population_column=population_column or "population",
                id_column=id_column,
                name_column=name_column,
                layer=layer,
                metric_crs=metric_crs,
            )
        if communes is not None and commune_polygons is not None:
            table = read_communes(communes, polygons=commune_polygons, polygons_layer=commune_polygons_layer)
            units = attach_communes(units, table)
            names = dict(zip(table["code_insee"], table["name"], strict=True))
            units["commune_name"] = units["commune"].map(names)
    return with_area_names(units, departments)


def with_area_names(units: gpd.GeoDataFrame, departments: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """``commune_name`` (the unit's own name where no commune gave one) and, with
    ``departments``, ``department_name``: the names the tables and maps show.

    With ``departments`` (:func:`coverage.io.admin.read_departments`), units without a
    department code (grid or layer units not attached to communes) take the code of the
    department polygon their point lies in; codes are compared as INSEE writes them
    (``"01"``, ``"2A"``), and codes the departments file does not know are logged and
    left without a name.
    """
    if "commune_name" not in units:
        units["commune_name"] = units["name"]
    if departments is None:
        return units
    if "department" not in units:
        units["department"] = pd.array([pd.NA] * len(units), dtype="string")
    codes = department_codes(units["department"])
    missing = codes.isna().to_numpy() | (codes.fillna("") == "").to_numpy()
    has_polygons = departments.geometry.notna() & ~departments.geometry.is_empty
    if missing.any() and has_polygons.any():
        points = gpd.GeoDataFrame(geometry=units.geometry[missing].to_crs(departments.crs))
        joined = gpd.sjoin(
            points, departments.loc[has_polygons, ["department", "geometry"]], how="left", predicate="within"
        )
        joined = joined[~joined.index.duplicated(keep="first")]
        codes[missing] = joined["department"].reindex(points.index).to_numpy()
        found = int(joined["department"].notna().sum())
        if found:
            logger.info("%d units without a department code take that of the department they lie in", found)
    units["department"] = codes
    table = departments.assign(department=department_codes(departments["department"]))
    names = dict(zip(table["department"], table["name"], strict=True))
    units["department_name"] = codes.map(names)
    unknown = sorted(set(codes.dropna()) - set(names))
    if unknown:
        logger.warning(
            "%d department codes of the units are not in the departments file and have no name: %s",
            len(unknown),
            ", ".join(unknown[:20]),
        )
    return units

"""Areas a planner works with (cantons, a CPTS, a bassin de vie...) and the communes in each.

:func:`read_areas` reads a polygon layer with a code and a name; :func:`communes_in_areas`
gives each commune the area that holds the largest part of its surface (a spatial join
by area, not by a point, so that a commune is never put in an area it barely touches),
and reports in one warning the communes that straddle a border: no area holds
:data:`STRADDLE_SHARE` of them.  :func:`with_areas` adds the area's code and name to
population units, from the area their point lies in (a commune split between cantons,
as the large towns are, has its grid cells in each), else from their commune: one more
level of every area table.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage.columns import find_column
from coverage.errors import InputDataError
from coverage.io._common import check_finite_coordinates, check_unique_ids, existing, read_vector

__all__ = ["OVERLAP_SHARE", "STRADDLE_SHARE", "communes_in_areas", "read_areas", "with_areas", "with_planner_areas"]

logger = logging.getLogger(__name__)

#: A commune straddles a border when no area holds this share of its surface.  Contours
#: of different sources and simplifications differ by a few hundred metres along a
#: border, a few per cent of a commune's surface: smaller overlaps are drawing noise.
STRADDLE_SHARE = 0.9


def read_areas(
    path: str | Path,
    *,
    level: str,
    layer: str | None = None,
    code_column: str = "code",
    name_column: str | None = "nom",
) -> gpd.GeoDataFrame:
    """A polygon layer as areas of ``level``: columns ``code``, ``name`` and the polygons.

    The code is also found as ``code_insee``, ``insee`` or ``id``; the name as ``name``,
    ``libelle`` or ``nom``.  Codes must be unique; geometries must be polygons with
    finite coordinates, in a layer with a CRS.
    """
    path = existing(path, f"{level} layer")
    where = f"{level} layer {path}"
    frame = read_vector(path, f"{level} layer", layer)
    check_finite_coordinates(frame.geometry, where=where)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    code = find_column(columns, [code_column, "code_insee", "insee", "id"], where=where)
    names = [name_column, "name", "libelle", "nom"] if name_column else ["name", "libelle", "nom"]
    name = next((c for c in names if c in columns), None)
    kinds = set(frame.geometry.dropna().geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputDataError(f"{where}: expected polygons, found {sorted(kinds)}")
    codes = frame[code].astype("string").str.strip()
    check_unique_ids(codes.mask(codes == ""), where=where, column=code, csv=False)
    out = gpd.GeoDataFrame(
        {"code": codes.astype(str).to_numpy(), "name": (frame[name] if name else codes).astype(str).to_numpy()},
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
    )
    empty = out.geometry.isna() | out.geometry.is_empty
    if empty.any():
        logger.warning("%s: %d areas have no polygon and hold no one: %s", where, int(empty.sum()), _first(out[empty]))
        out = out[~empty].reset_index(drop=True)
    _warn_overlaps(out, where)
    return out


#: Two areas overlap when their common part exceeds this share of the smaller one (contours
#: of one source drawn a few metres apart along a shared border are not an overlap).
OVERLAP_SHARE = 0.01


def _first(areas: pd.DataFrame, n: int = 10) -> str:
    return ", ".join(areas["code"].head(n)) + (" ..." if len(areas) > n else "")


def _warn_overlaps(areas: gpd.GeoDataFrame, where: str) -> None:
    """One warning naming the areas that overlap: a point in two of them counts in one only."""
    shapes = areas.geometry.to_numpy()
    left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if not len(left):
        return
    common = shapely.area(shapely.intersection(shapes[left], shapes[right]))
    smaller = np.minimum(shapely.area(shapes[left]), shapely.area(shapes[right]))
    over = common > OVERLAP_SHARE * smaller
    if over.any():
        codes = areas["code"].to_numpy()
        listed = ", ".join(f"{codes[a]} and {codes[b]}" for a, b in zip(left[over][:10], right[over][:10], strict=True))
        logger.warning(
            "%s: %d pairs of areas overlap (a unit in both counts in one of them only): %s%s",
            where,
            int(over.sum()),
            listed,
            " ..." if over.sum() > 10 else "",
        )


def communes_in_areas(
    communes: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *, level: str, metric_crs: str
) -> pd.DataFrame:
    """The area of each commune: the one that holds the largest part of its surface.

    ``communes``: ``code_insee`` and polygons (:func:`coverage.io.admin.read_communes`);
    ``areas``: :func:`read_areas`.  Returns, indexed by commune code, ``level``,
    ``<level>_name`` and ``<level>_share`` (the part of the commune's surface in that
    area).  Communes without a polygon or outside every area get no area (NA); the
    communes that straddle a border (share under :data:`STRADDLE_SHARE`) are named in
    one warning.
    """
    polygons = communes[communes.geometry.notna() & ~communes.geometry.is_empty]
    mine = polygons.geometry.to_crs(metric_crs).to_numpy()
    theirs = areas.geometry.to_crs(metric_crs).to_numpy()
    tree = shapely.STRtree(theirs)
    commune_pos, area_pos = tree.query(mine, predicate="intersects")
    shared = shapely.area(shapely.intersection(mine[commune_pos], theirs[area_pos]))
    surface = shapely.area(mine)
    pairs = pd.DataFrame({"commune": commune_pos, "area": area_pos, "share": shared / surface[commune_pos]})
    best = pairs.sort_values(["commune", "share", "area"], ascending=[True, False, True], kind="stable")
    best = best.drop_duplicates("commune").set_index("commune")
    chosen = best["area"].to_numpy()
    found = pd.DataFrame(
        {
            level: pd.array(areas["code"].to_numpy()[chosen], dtype="string"),
            f"{level}_name": pd.array(areas["name"].to_numpy()[chosen], dtype="string"),
            f"{level}_share": best["share"].to_numpy(dtype=float),
        },
        index=polygons["code_insee"].astype(str).to_numpy()[best.index.to_numpy()],
    )
    out = found.reindex(pd.Index(communes["code_insee"].astype(str), name="code_insee"))
    straddle = out[out[f"{level}_share"] < STRADDLE_SHARE]
    if len(straddle):
        shown = straddle.head(10)
        listed = ", ".join(
            f"{c} ({s:.0%} in {a})" for c, s, a in zip(shown.index, shown[f"{level}_share"], shown[level], strict=True)
        )
        logger.warning(
            "%d communes straddle a %s border (no %s holds %.0f %% of them); each is counted in the one "
            "that holds most of it: %s%s",
            len(straddle),
            level,
            level,
            100 * STRADDLE_SHARE,
            listed,
            " ..." if len(straddle) > 10 else "",
        )
    outside = out[level].isna()
    if outside.any():
        logger.warning(
            "%d communes lie in no %s (or have no polygon): %s",
            int(outside.sum()),
            level,
            ", ".join(out.index[outside][:10]),
        )
    return out


def with_areas(
    units: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, assigned: pd.DataFrame, *, level: str
) -> gpd.GeoDataFrame:
    """``units`` with ``level`` and ``<level>_name``.

    A unit that is a commune (its ``unit_id`` is its ``commune``) takes its commune's area
    in ``assigned`` (:func:`communes_in_areas`: the area holding most of its surface, as
    the straddling warning says), else the area its point lies in.  Any other unit (a grid
    cell) takes the area its point lies in, else, for a point outside every polygon
    (contours of different sources part along the borders), its commune's.  NA where
    neither gives one."""
    points = gpd.GeoDataFrame(geometry=units.geometry.to_crs(areas.crs).to_numpy(), crs=areas.crs)
    joined = gpd.sjoin(points, areas[["code", "name", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")].reindex(points.index)
    code = pd.Series(pd.array(joined["code"].to_numpy(), dtype="string"), index=units.index)
    name = pd.Series(pd.array(joined["name"].to_numpy(), dtype="string"), index=units.index)
    if "commune" in units:
        communes = units["commune"].astype("string")
        by_commune = assigned.reindex(communes.fillna("").to_numpy())
        their = pd.Series(by_commune[level].to_numpy(), index=units.index, dtype="string")
        their_name = pd.Series(by_commune[f"{level}_name"].to_numpy(), index=units.index, dtype="string")
        whole = (communes == units["unit_id"].astype("string")).fillna(False) if "unit_id" in units else False
        first = whole & their.notna()  # communes: their largest share first
        code, name = code.mask(first, their).fillna(their), name.mask(first, their_name).fillna(their_name)
    out = units.copy()
    out[level] = code
    out[f"{level}_name"] = name
    return out


def with_planner_areas(
    units: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    *,
    communes: gpd.GeoDataFrame | None = None,
    metric_crs: str = "EPSG:2154",
) -> gpd.GeoDataFrame:
    """``units`` with the planner's own areas (:func:`read_areas`) as the ``zone`` level
    (``zone``, ``zone_name``): one more level of every area table.  A unit takes the area
    its point lies in; with the ``communes`` (code and polygons), a point outside every
    area takes the area holding most of its commune.  Units in no area get none (NA), and
    are counted as one row "no zone code" of each table, with a warning."""
    empty = pd.DataFrame({"zone": pd.array([], dtype="string"), "zone_name": pd.array([], dtype="string")})
    assigned = empty if communes is None else communes_in_areas(communes, areas, level="zone", metric_crs=metric_crs)
    return with_areas(units, areas, assigned, level="zone")

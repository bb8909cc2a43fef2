"""Population on a tiled grid: the Eurostat census grid in its GridViz Parquet tiles.

The tiling (``pygridmap``'s, used by Eurostat's GridViz) stores a grid of square cells of
``resolutionGeo`` metres as tiles of ``tileSizeCell`` x ``tileSizeCell`` cells, one
Parquet file per tile at ``<folder>/<i>/<j>.parquet``, with an ``info.json`` beside the
tile folders.  A row holds a populated cell: its column ``x`` and row ``y`` inside the
tile, and its counts.  The south-west corner of the cell is

    X = origin_x + (i * tileSizeCell + x) * resolutionGeo
    Y = origin_y + (j * tileSizeCell + y) * resolutionGeo

in the grid's CRS (EPSG:3035 for the European grids; their ``info.json`` leaves ``crs``
empty).  Only the tiles that meet the area asked for are read.

:func:`read_grid_tiles` returns one unit per cell, in the unit columns of
:mod:`coverage.io.population`, plus the age bands of the census grid when present
(:data:`GRID_AGE_COLUMNS`); :func:`population_from_grid` keeps the cells whose centre lies
in a commune and gives each its commune, EPCI and department.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from coverage.config import DEFAULT_METRIC_CRS
from coverage.errors import InputDataError, InputFileNotFoundError
from coverage.io.population import UNIT_COLUMNS
from coverage.io.territory import _checked_buffer
from coverage.numbers import is_number

__all__ = ["GRID_AGE_COLUMNS", "GridTiling", "population_from_grid", "read_grid_tiles", "read_tiling"]

logger = logging.getLogger(__name__)

#: Age bands of the Eurostat census 2021 grid: persons under 15, 15 to 64, 65 and over.
GRID_AGE_COLUMNS = ("Y_LT15", "Y_1564", "Y_GE65")
#: The CRS of the European grids when ``info.json`` names none (ETRS89-LAEA).
GRID_DEFAULT_CRS = "EPSG:3035"
_ADMIN = ["commune", "department", "epci", "epci_name"]


class GridTiling:
    """The tiling parameters of one resolution folder (its ``info.json``)."""

    def __init__(self, folder: Path, resolution: float, tile_size: int, origin: tuple[float, float], crs: str) -> None:
        self.folder = folder
        self.resolution = resolution
        self.tile_size = tile_size
        self.origin = origin
        self.crs = crs

    @property
    def tile_span(self) -> float:
        """Side of a tile, in the grid's units."""
        return self.resolution * self.tile_size

    def tiles(self) -> list[tuple[int, int, Path]]:
        """Every tile file of the folder: (i, j, path), sorted."""
        found = []
        for sub in self.folder.iterdir():
            if not (sub.is_dir() and _is_int(sub.name)):
                continue
            for file in sub.glob("*.parquet"):
                if _is_int(file.stem):
                    found.append((int(sub.name), int(file.stem), file))
        return sorted(found)

    def tiles_meeting(self, bounds: tuple[float, float, float, float]) -> list[tuple[int, int, Path]]:
        """The tile files whose square meets ``bounds`` (in the grid's CRS)."""
        xmin, ymin, xmax, ymax = bounds
        ox, oy = self.origin
        span = self.tile_span
        i0, i1 = math.floor((xmin - ox) / span), math.floor((xmax - ox) / span)
        j0, j1 = math.floor((ymin - oy) / span), math.floor((ymax - oy) / span)
        return [(i, j, p) for i, j, p in self.tiles() if i0 <= i <= i1 and j0 <= j <= j1]


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def read_tiling(folder: str | Path, *, crs: str | None = None) -> GridTiling:
    """The tiling of ``folder``: a resolution folder holding ``info.json``, or a folder
    holding exactly one such resolution folder (``.../1000``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileNotFoundError(f"population grid {folder}: folder not found")
    if not (folder / "info.json").is_file():
        inner = sorted(p for p in folder.iterdir() if (p / "info.json").is_file())
        if len(inner) != 1:
            names = [p.name for p in inner]
            raise InputDataError(
                f"population grid {folder}: expected a folder of tiles with an info.json"
                + (f"; it holds several resolutions {names}: give one of them" if names else "")
            )
        folder = inner[0]
    where = f"population grid {folder / 'info.json'}"
    try:
        info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{where}: not readable as JSON ({exc})") from exc
    if not isinstance(info, dict):
        raise InputDataError(f"{where}: expected a JSON object")
    resolution = _positive(info.get("resolutionGeo"), "resolutionGeo", where)
    tile_size = _positive(info.get("tileSizeCell"), "tileSizeCell", where)
    if tile_size != int(tile_size):
        raise InputDataError(f"{where}: tileSizeCell must be a whole number, got {info.get('tileSizeCell')!r}")
    origin = info.get("originPoint", {"x": 0, "y": 0})
    if not isinstance(origin, dict):
        raise InputDataError(f"{where}: originPoint must be an object with x and y, got {origin!r}")
    ox, oy = (_finite(origin.get(key), f"originPoint.{key}", where) for key in ("x", "y"))
    named = str(info.get("crs") or "").strip()
    chosen = crs or (f"EPSG:{named}" if named.isdigit() else named) or GRID_DEFAULT_CRS
    if not (crs or named):
        logger.info("%s names no CRS: the grid is taken to be %s (the European grids' CRS)", where, chosen)
    try:
        parsed = pyproj.CRS.from_user_input(chosen)
    except pyproj.exceptions.CRSError as exc:
        raise InputDataError(f"{where}: unknown CRS {chosen!r}") from exc
    if not parsed.is_projected:
        raise InputDataError(f"{where}: the grid's CRS {chosen} is not projected; expected square cells in metres")
    return GridTiling(folder, resolution, int(tile_size), (ox, oy), chosen)


def _finite(value: object, name: str, where: str) -> float:
    if not is_number(value):
        raise InputDataError(f"{where}: {name} must be a finite number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _positive(value: object, name: str, where: str) -> float:
    number = _finite(value, name, where)
    if number <= 0:
        raise InputDataError(f"{where}: {name} must be positive, got {value!r}")
    return number


def read_grid_tiles(
    folder: str | Path,
    *,
    area: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    buffer_m: float = 0.0,
    population_column: str = "T",
    age_columns: Sequence[str] | None = GRID_AGE_COLUMNS,
    crs: str | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Population units of a tiled grid, one per populated cell.

    Parameters
    ----------
    folder
        The tiling's resolution folder (with ``info.json``), or the folder holding it.
    area
        Polygons (with a CRS): only the tiles that meet them, widened by ``buffer_m``
        metres (in ``metric_crs``), are read, and only the cells whose centre lies in the
        widened area are kept.  Without it, every tile of the folder is read.
    population_column
        Column of the population count (``T`` in the census grid).
    age_columns
        Columns of counts by age band kept on the units (default: the census grid's three
        bands).  When the default bands are missing from the tiles, the units carry no
        ages (logged); bands given explicitly must be present.  ``None``: no ages.
    crs
        The grid's CRS when ``info.json`` names none (default EPSG:3035).

    Errors name the tile file and the row (counted from 1).  Each unit is placed at its
    cell's centre, keeps the cell square as ``area``, and is
    named by its INSPIRE-style cell id (``CRS3035RES1000mN2029000E4252000``, south-west
    corner, as INSEE names its grid cells).
    """
    tiling = read_tiling(folder, crs=crs)
    buffer_m = _checked_buffer(buffer_m, "population grid: buffer_m")
    shape = None
    if area is not None:
        if area.crs is None:
            raise InputDataError("population grid: the area has no CRS")
        polygons = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        widened = polygons.to_crs(metric_crs)
        if buffer_m > 0:
            widened = widened.buffer(buffer_m)
        shape = shapely.union_all(widened.to_crs(tiling.crs).to_numpy())
        tiles = tiling.tiles_meeting(shape.bounds)
    else:
        tiles = tiling.tiles()
    if not tiles:
        raise InputDataError(
            f"population grid {tiling.folder}: no tile file <i>/<j>.parquet"
            + (" meets the area" if area is not None else "")
        )
    frames = [_read_tile(tiling, i, j, path, population_column, age_columns) for i, j, path in tiles]
    cells = pd.concat(frames, ignore_index=True)
    ages = [c for c in (age_columns or ()) if c in cells.columns]
    res = tiling.resolution
    centre_x, centre_y = cells["east"].to_numpy() + res / 2, cells["north"].to_numpy() + res / 2
    if shape is not None:
        inside = shapely.contains_xy(shape, centre_x, centre_y)
        cells, centre_x, centre_y = cells[inside].reset_index(drop=True), centre_x[inside], centre_y[inside]
    epsg = pyproj.CRS.from_user_input(tiling.crs).to_epsg()
    prefix = f"CRS{epsg}RES{res:g}m" if epsg else f"RES{res:g}m"
    ids = [f"{prefix}N{n:.0f}E{e:.0f}" for n, e in zip(cells["north"], cells["east"], strict=True)]
    units = gpd.GeoDataFrame(
        {
            "unit_id": ids,
            "name": ids,
            "population": cells["population"].to_numpy(dtype=float),
            **{c: pd.array([pd.NA] * len(cells), dtype="string") for c in _ADMIN},
            **{c: cells[c].to_numpy(dtype=float) for c in ages},
        },
        geometry=gpd.points_from_xy(centre_x, centre_y),
        crs=tiling.crs,
    )
    east, north = cells["east"].to_numpy(), cells["north"].to_numpy()
    units["area"] = gpd.GeoSeries(shapely.box(east, north, east + res, north + res), crs=tiling.crs)
    logger.info(
        "%d grid cells of %g m (%s people) from %d tiles of %s",
        len(units),
        res,
        f"{units['population'].sum():,.0f}",
        len(tiles),
        tiling.folder,
    )
    return units


def _read_tile(
    tiling: GridTiling, i: int, j: int, path: Path, population_column: str, age_columns: Sequence[str] | None
) -> pd.DataFrame:
    import pyarrow.parquet as pq

    where = f"population grid tile {path}"
    try:
        names = pq.read_schema(path).names
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...
        raise InputDataError(f"{where}: not a readable Parquet file ({exc})") from exc
    missing = [c for c in ("x", "y", population_column) if c not in names]
    if missing:
        raise InputDataError(f"{where}: no column {missing}; columns are {names}")
    ages = list(age_columns or ())
    absent = [c for c in ages if c not in names]
    if absent and tuple(ages) != GRID_AGE_COLUMNS:
        raise InputDataError(f"{where}: no age column {absent}; columns are {names}")
    if absent:
        logger.info("%s has no age bands %s: the units carry no ages", where, absent)
        ages = []
    table = pq.read_table(path, columns=["x", "y", population_column, *ages]).to_pandas()
    ts = tiling.tile_size
    for column in ("x", "y"):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | (values >= ts)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"{where}, row {row + 1}: {column} = {_shown(table[column].iloc[row])}; "
                f"expected a whole number from 0 to {ts - 1}"
            )
    for column in (population_column, *ages):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"{where}, row {row + 1}: {column} = {_shown(table[column].iloc[row])}; expected a count of 0 or more"
            )
    duplicated = table.duplicated(subset=["x", "y"])
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        x, y = _shown(table["x"].iloc[row]), _shown(table["y"].iloc[row])
        raise InputDataError(f"{where}, row {row + 1}: cell x={x}, y={y} twice")
    ox, oy = tiling.origin
    res = tiling.resolution
    out = pd.DataFrame(
        {
            "east": ox + (i * ts + table["x"].to_numpy(dtype=float)) * res,
            "north": oy + (j * ts + table["y"].to_numpy(dtype=float)) * res,
            "population": table[population_column].to_numpy(dtype=float),
        }
    )
    for column in ages:
        out[column] = table[column].to_numpy(dtype=float)
    return out


def _shown(value: object) -> str:
    """A cell value as the file holds it (a NumPy scalar shown as a plain number)."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)


def _commune_polygons(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communes that have a polygon; none is an error (the grid needs them)."""
    has_polygon = communes.geometry.notna() & ~communes.geometry.is_empty
    if not has_polygon.any():
        raise InputDataError("the population grid needs commune polygons to know which cells are in the territory")
    return communes.loc[has_polygon]


def population_from_grid(
    folder: str | Path,
    communes: gpd.GeoDataFrame,
    *,
    age_columns: Sequence[str] | None = GRID_AGE_COLUMNS,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """The grid cells whose centre lies in one of ``communes``' polygons, each with that
    commune's code, name, EPCI and department (a 1 km cell that straddles a border counts
    wholly in the commune of its centre).  Only the tiles that meet the communes are read.

    ``communes`` as returned by :func:`coverage.io.admin.read_communes` with polygons.
    """
    polygons = _commune_polygons(communes)
    # the tiles and cells near the communes: their bounding box in metres, with vertices every
    # kilometre (a box's edges bend when reprojected to the grid's CRS) and a 1 km margin
    bounds = polygons.geometry.to_crs(metric_crs).total_bounds
    box = gpd.GeoSeries([shapely.segmentize(shapely.box(*bounds), 1000.0)], crs=metric_crs)
    cells = read_grid_tiles(folder, area=box, buffer_m=1000.0, age_columns=age_columns, metric_crs=metric_crs)
    points = gpd.GeoDataFrame(geometry=cells.geometry.to_crs(communes.crs))
    columns = ["code_insee", "name", "department", "epci", "epci_name", "geometry"]
    joined = gpd.sjoin(points, polygons[columns], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")].reindex(points.index)
    inside = joined["code_insee"].notna().to_numpy()
    units = cells.loc[inside].reset_index(drop=True)
    matched = joined.loc[inside].reset_index(drop=True)
    units["commune"] = matched["code_insee"].astype("string").to_numpy()
    for column in ("department", "epci", "epci_name"):
        units[column] = matched[column].astype("string").to_numpy()
    units["commune_name"] = matched["name"].astype(str).to_numpy()
    without = sorted(set(polygons["code_insee"]) - set(units["commune"]))
    if without:
        logger.info(
            "%d communes contain no populated cell centre (their people are counted in a neighbour's cell): %s",
            len(without),
            ", ".join(without[:20]),
        )
    logger.info(
        "%d grid cells (%s people) have their centre in the %d communes",
        len(units),
        f"{units['population'].sum():,.0f}",
        len(polygons),
    )
    return units[[*UNIT_COLUMNS, *[c for c in units.columns if c not in UNIT_COLUMNS]]]


def population_around(
    folder: str | Path,
    communes: gpd.GeoDataFrame,
    buffer_m: float,
    *,
    age_columns: Sequence[str] | None = GRID_AGE_COLUMNS,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """The grid cells around a territory: centre within ``buffer_m`` metres of
    ``communes``' polygons, in none of them (the people just outside, who also use the
    territory's doctors).  Their ``unit_id`` is the cell code; they carry no commune.

    ``communes`` as for :func:`population_from_grid`.
    """
    if not (is_number(buffer_m) and float(buffer_m) > 0):  # type: ignore[arg-type]
        raise InputDataError(f"the band around the territory must be a positive number of metres, got {buffer_m!r}")
    territory = gpd.GeoSeries([_commune_polygons(communes).geometry.to_crs(metric_crs).union_all()], crs=metric_crs)
    cells = read_grid_tiles(
        folder, area=territory, buffer_m=float(buffer_m), age_columns=age_columns, metric_crs=metric_crs
    )
    centres = cells.geometry.to_crs(metric_crs)
    outside = ~centres.within(territory.iloc[0]).to_numpy()
    around = cells.loc[outside].reset_index(drop=True)
    logger.info(
        "%d grid cells (%s people) lie within %s m around the territory",
        len(around),
        f"{around['population'].sum():,.0f}",
        f"{float(buffer_m):,.0f}",
    )
    return around

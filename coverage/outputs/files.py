"""Files: the tables (CSV and one Excel workbook), GeoPackage layers and GraphML of a run.

Every CSV a run writes goes through :func:`write_csv` and the workbook through
:func:`write_workbook`: text that a spreadsheet would run as a formula is neutralised in
both.  The output folder itself (checks, staging, replacement) is
:mod:`coverage.outputs.folder`; :func:`coverage.outputs.write.write_analysis` writes a
whole run with the pieces here.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import errno
import fractions
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from coverage.outputs.folder import RUN_FILE, TOOL, atomic_output_dir, check_output_dir
from coverage.stats import AREA_COLUMNS

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.capacity_study import CapacityStudy
    from coverage.planning import SitingPlan
    from coverage.road_edges import RoadEdges

__all__ = [
    "FORMULA_STARTS",
    "RUN_FILE",
    "TOOL",
    "WORKBOOK",
    "access_tables",
    "atomic_output_dir",
    "check_output_dir",
    "neutralise_formula",
    "plan_tables",
    "save_graphml",
    "spreadsheet_safe",
    "uncovered_layer",
    "with_lonlat",
    "write_access_layers",
    "write_csv",
    "write_layer",
    "write_plan_layers",
    "write_workbook",
]

logger = logging.getLogger(__name__)


#: First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: The workbook written beside the CSV tables: the same tables, one sheet each.
WORKBOOK = "tables.xlsx"
#: Rows of an Excel sheet, the header included.
EXCEL_MAX_ROWS = 1_048_576
_SHEET_TITLE_MAX = 31


def neutralise_formula(value: object) -> object:
    """A text that a spreadsheet would run as a formula, prefixed with ``'``; anything else as it is.

    OWASP's rule for CSV injection: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab
    or a carriage return (``=HYPERLINK(...)``, DDE payloads) is shown as text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _is_text(column: pd.Series) -> bool:
    return column.dtype == object or isinstance(column.dtype, pd.StringDtype | pd.CategoricalDtype)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot run as formulas.

    Only text is changed (:func:`neutralise_formula`): numeric columns, negative numbers
    included, stay numbers.
    """
    out = frame.copy(deep=False)
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if _is_text(column):
            out.isetitem(i, column.map(neutralise_formula))
    out.columns = pd.Index([neutralise_formula(c) for c in out.columns], dtype=object)
    return out


class _CsvFloat(float):
    """A float the CSV writer leaves unquoted, printed to 10 significant digits."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"{self:.10g}"

    __repr__ = __str__


class _CsvMissing(int):
    """A missing number: an empty cell, unquoted (pandas would write NaN as a quoted ``""``)."""

    __slots__ = ()

    def __str__(self) -> str:
        return ""

    __repr__ = __str__


_MISSING = _CsvMissing()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A table as UTF-8 CSV, no index; every CSV a run writes goes through here.

    Text cells are quoted (so that a ``;`` inside a name cannot start a cell when Excel
    splits the line on its list separator) and neutralised (:func:`spreadsheet_safe`);
    numbers are written unquoted, floats to 10 significant digits, missing numbers as
    empty cells.
    """
    table = spreadsheet_safe(frame)
    for i in range(table.shape[1]):
        column = table.iloc[:, i]
        if pd.api.types.is_float_dtype(column.dtype):
            values = column.to_numpy(dtype=float, na_value=np.nan).tolist()
            cells = [_MISSING if v != v else _CsvFloat(v) for v in values]
            table.isetitem(i, pd.Series(cells, index=table.index, dtype=object))
    table.to_csv(path, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)


def _sheet_title(name: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of ``[]:*?/\\``, unique in the workbook."""
    title = re.sub(r"[\\[\]:*?/]", "_", name)[:_SHEET_TITLE_MAX] or "table"
    n = 1
    while title.lower() in used:
        n += 1
        title = f"{title[: _SHEET_TITLE_MAX - len(str(n)) - 1]}_{n}"
    used.add(title.lower())
    return title


def _plain(value: object) -> object:
    """One cell for :func:`~coverage.outputs.workbook.write_xlsx`: ``str``, ``int``, ``float``,
    ``bool``, a date, time or duration, or ``None`` (an empty cell: missing or not finite)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | decimal.Decimal | fractions.Fraction):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, bytes):
        return neutralise_formula(value.decode("utf-8"))
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, pd.Timedelta):
        return value.to_pytimedelta()
    if isinstance(value, datetime.date | datetime.time | datetime.timedelta):
        return value
    raise ValueError(f"Cannot convert {value!r} to Excel")


def _cell_values(column: pd.Series) -> list[object]:
    """The cells of a column as plain Python values (:func:`_plain`), missing and
    non-finite numbers ``None`` (empty cells)."""
    if pd.api.types.is_float_dtype(column.dtype):
        numbers = column.to_numpy(dtype=float, na_value=np.nan)
        cells = numbers.astype(object)
        cells[~np.isfinite(numbers)] = None
        return cells.tolist()
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype=object, na_value=None).tolist()
        if all(type(v) in (int, bool) or v is None for v in values):
            return values
        return [_plain(v) for v in values]
    values = column.astype(object).where(column.notna(), None).tolist()
    if all(type(v) is str or v is None for v in values):  # a text column: nothing to convert
        return values
    return [_plain(v) for v in values]


def write_workbook(tables: Mapping[str, pd.DataFrame], path: Path) -> None:
    """The tables as one Excel workbook, one sheet per table, in the order given.

    Numbers are numbers and text is text, neutralised as in the CSVs
    (:func:`spreadsheet_safe`), so no cell is a formula; missing and non-finite numbers
    are empty cells, control characters U+FFFD.  A sheet is named after its table (31
    characters at most); a table longer than a sheet is left out with a warning (its CSV
    has it all).  A full disk is an :class:`OSError` naming the file, as for every other
    file.  The file format itself is :mod:`coverage.outputs.workbook`.
    """
    from coverage.outputs.workbook import write_xlsx

    kept: dict[str, pd.DataFrame] = {}
    used: set[str] = set()
    for name, frame in tables.items():
        if len(frame) >= EXCEL_MAX_ROWS:
            logger.warning(
                "table %s has %d rows, more than an Excel sheet holds: left out of %s", name, len(frame), path.name
            )
            continue
        kept[_sheet_title(name, used)] = frame

    def sheets() -> Iterator[tuple[str, list[list[object]]]]:
        for title, frame in kept.items():
            safe = spreadsheet_safe(frame)
            yield title, [[str(safe.columns[i]), *_cell_values(safe.iloc[:, i])] for i in range(safe.shape[1])]
        if not kept:
            yield "empty", []

    try:
        write_xlsx(path, sheets())
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _geo_for_layer(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """A copy with one geometry column, in ``crs``, and plain column types for GDAL."""
    out = frame.copy()
    for col in list(out.columns):
        if col != out.geometry.name and isinstance(out[col], gpd.GeoSeries):
            out = out.drop(columns=col)
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return out.to_crs(crs)


def write_layer(
    frame: gpd.GeoDataFrame, gpkg: Path, layer: str, crs: str, *, promote_to_multi: bool | None = None
) -> None:
    """One layer of a GeoPackage, in ``crs``, with plain column types.

    A full disk is an :class:`OSError` (``ENOSPC``) naming the file, as for every other
    file; GDAL reports it in its own words and exception types.
    """
    from pyogrio.errors import DataLayerError, DataSourceError, FeatureError, FieldError

    layer_frame = _geo_for_layer(frame, crs)
    try:
        layer_frame.to_file(gpkg, layer=layer, engine="pyogrio", promote_to_multi=promote_to_multi)
    except (DataLayerError, DataSourceError, FeatureError, FieldError) as exc:
        if "disk is full" in str(exc) or "No space left" in str(exc):
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (layer {layer})", str(gpkg)) from exc
        raise


def save_graphml(graph: nx.MultiDiGraph | RoadEdges, path: str | Path) -> None:
    """Write the graph (or the arrays of a line layer) as GraphML that OSMnx and NetworkX
    read back (the file :func:`osmnx.save_graphml` writes, see :mod:`coverage.outputs.graphml`)."""
    from coverage.outputs.graphml import write_graphml

    write_graphml(graph, path)


def with_lonlat(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The table of a point layer, geometry replaced by ``lon``/``lat`` (EPSG:4326, 7 decimals)."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    lonlat = frame.geometry.to_crs("EPSG:4326")
    table["lon"] = lonlat.x.round(7).to_numpy()
    table["lat"] = lonlat.y.round(7).to_numpy()
    return table


def plan_tables(plan: SitingPlan) -> dict[str, pd.DataFrame]:
    """The tables of a siting plan, by file name without ``.csv``; points with ``lon``/``lat``."""
    tables = {
        "candidates": with_lonlat(plan.candidates),
        "selection": with_lonlat(plan.selection_table),
        "coverage_curve": plan.curve,
        "fragility": plan.fragility,
    }
    if plan.phasing is not None:
        tables["phasing"] = plan.phasing.timeline
        tables["phasing_by_year"] = plan.phasing.by_year
    if plan.budget is not None:
        tables["budget_selection"] = with_lonlat(_budget_sites(plan))
        if plan.budget_curve is not None:
            tables["budget_curve"] = plan.budget_curve
    return tables


def _budget_sites(plan: SitingPlan) -> gpd.GeoDataFrame:
    """The sites chosen within the budget, with their cost, and the candidates' columns and points."""
    assert plan.budget is not None
    chosen = plan.budget.table().rename(columns={"site_id": "candidate_id"})
    info = plan.candidates.drop(columns=["rank"]).drop_duplicates("candidate_id")
    extra = [c for c in info.columns if c not in chosen.columns or c == "candidate_id"]
    table = chosen.merge(info[extra], on="candidate_id", how="left")
    table["status"] = plan.budget.selection.status
    table["gap"] = plan.budget.selection.gap
    return gpd.GeoDataFrame(table, geometry="geometry", crs=plan.candidates.crs)


def write_plan_layers(plan: SitingPlan, folder: Path, crs: str) -> None:
    """The ``sites`` layer of ``coverage.gpkg`` (when the plan chose any), and ``budget_sites``
    (with a budget)."""
    if len(plan.selection_table):
        write_layer(plan.selection_table, folder / "coverage.gpkg", "sites", crs)
    if plan.budget is not None and plan.budget.selection.sites:
        write_layer(_budget_sites(plan), folder / "coverage.gpkg", "budget_sites", crs)


def _sites_with_supply(study: AccessStudy) -> gpd.GeoDataFrame:
    sites = study.sites
    return sites[(sites["supply_before"] > 0) | (sites["supply_after"] > 0)]


def _unit_table(study: AccessStudy) -> pd.DataFrame:
    units = study.units
    return pd.DataFrame(units.drop(columns=[c for c in ("geometry", "area") if c in units.columns]))


def access_tables(study: AccessStudy) -> dict[str, pd.DataFrame]:
    """The tables of an accessibility study, by file name without ``.csv``.

    ``allocation_steps`` only with a pool; ``accessibility_sites``: every site with doctors
    before or after, with ``lon``/``lat``.
    """
    tables = {
        "accessibility": _unit_table(study),
        "accessibility_by_area": study.by_area,
        "accessibility_classes": study.classes,
        "accessibility_sites": with_lonlat(_sites_with_supply(study)),
    }
    if study.scenario.pool is not None:
        tables["allocation_steps"] = study.allocation_steps
    if study.pool_phasing is not None:
        tables["pool_phasing"] = study.pool_phasing.timeline
        tables["pool_phasing_by_year"] = study.pool_phasing.by_year
    if study.capacity is not None:
        tables.update(capacity_tables(study.capacity))
    return tables


def capacity_tables(capacity: CapacityStudy) -> dict[str, pd.DataFrame]:
    """The patient lists' tables: per unit and per area (before and after), per site, and
    the pool's two allocations compared."""
    units = capacity.before.units_table().rename(
        columns={"served": "served_before", "unserved": "unserved_before", "mean_minutes": "mean_minutes_before"}
    )
    sites = capacity.before.sites_table().rename(columns=lambda c: c if c == "site_id" else f"{c}_before")
    if capacity.after is not None:
        after = capacity.after.units_table().drop(columns="population")
        units = units.merge(after.rename(columns=lambda c: c if c == "unit_id" else f"{c}_after"), on="unit_id")
        later = capacity.after.sites_table()
        sites = sites.merge(later.rename(columns=lambda c: c if c == "site_id" else f"{c}_after"), on="site_id")
    tables = {"patient_lists": units, "patient_lists_by_area": capacity.by_area, "patient_lists_sites": sites}
    if capacity.comparison is not None:
        tables["pool_allocations_compared"] = capacity.comparison
    return tables


def write_access_layers(study: AccessStudy, folder: Path, crs: str) -> None:
    """The ``accessibility`` (polygons where every unit has one, else points), ``accessibility_sites``
    and, with patient lists, ``patient_lists`` layers."""
    units = study.units
    layer = gpd.GeoDataFrame(_unit_table(study), geometry=_polygons_or_points(units).to_numpy(), crs=units.crs)
    gpkg = folder / "coverage.gpkg"
    write_layer(layer, gpkg, "accessibility", crs, promote_to_multi=True)
    sites = _sites_with_supply(study)
    if len(sites):
        write_layer(sites, gpkg, "accessibility_sites", crs)
    if study.capacity is not None:
        # the units' people without a doctor with room, with their areas, on the same shapes
        lists = capacity_tables(study.capacity)["patient_lists"]
        areas = pd.DataFrame(units[["unit_id", *[c for c in AREA_COLUMNS if c in units.columns]]])
        table = areas.assign(unit_id=areas["unit_id"].astype(str)).merge(lists, on="unit_id", how="left")
        shapes = _polygons_or_points(units).to_numpy()
        write_layer(
            gpd.GeoDataFrame(table, geometry=shapes, crs=units.crs), gpkg, "patient_lists", crs, promote_to_multi=True
        )


def uncovered_layer(result: GapAnalysis) -> gpd.GeoDataFrame:
    """Units beyond the smallest threshold or unreachable, with one flag per threshold.

    Geometry: the unit's polygon where every such unit has one, else its point.
    """
    units = result.uncovered()
    minutes = units["minutes_to_nearest"]
    cols = ["unit_id", "name", "population", "minutes_to_nearest", "nearest_facility"]
    cols += [c for c in AREA_COLUMNS if c in units.columns]
    frame = pd.DataFrame(units[cols])
    for t in result.config.thresholds_min:
        frame[f"beyond_{t:g}min"] = (minutes.isna() | (minutes > t)).to_numpy()
    frame["unreachable"] = minutes.isna().to_numpy()
    geometry = _polygons_or_points(units)
    return gpd.GeoDataFrame(frame, geometry=geometry.to_numpy(), crs=units.crs)


def _polygons_or_points(units: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The units' polygons (``area``) where every unit has one, else their points."""
    if "area" in units and len(units) and not units["area"].isna().any():
        return gpd.GeoSeries(units["area"], crs=units.crs)
    return units.geometry

"""Writing a whole run: every table, layer, figure, page and the run record, in one folder.

:func:`write_analysis` is the one writer a caller needs: it writes into a staging folder
(:func:`~coverage.outputs.folder.atomic_output_dir`) and moves it into place only when
every file is written.  :func:`write_outputs` writes the same files into a folder the
caller already staged (the command line stages it before the computation).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from coverage.background import Forked, can_fork
from coverage.outputs.files import (
    WORKBOOK,
    access_tables,
    plan_tables,
    save_graphml,
    uncovered_layer,
    with_lonlat,
    write_access_layers,
    write_csv,
    write_layer,
    write_plan_layers,
    write_workbook,
)
from coverage.outputs.folder import RUN_FILE, STAGING_MARKER, atomic_output_dir, files_below
from coverage.outputs.qgis_styles import add_layer_styles
from coverage.outputs.report import figure_pngs, write_report
from coverage.outputs.summaries import record_json, run_record
from coverage.outputs.webmap import gap_map
from coverage.stats import AREA_COLUMNS

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan
    from coverage.unit_comparison import UnitComparison

__all__ = ["write_analysis", "write_outputs"]

logger = logging.getLogger(__name__)

#: From this many population units on, the map and the network file are written by a
#: forked process beside this one (below, starting it costs more than it saves).
_MIN_UNITS_FOR_A_SIDE_PROCESS = 1000
#: What that process needs, set before it is forked (inherited, not pickled).
_SIDE: dict[str, Any] = {}


def write_analysis(
    result: GapAnalysis,
    out_dir: str | Path,
    *,
    run_info: Mapping[str, Any] | None = None,
    map: bool = False,
    plan: SitingPlan | None = None,
    report: bool = False,
    departments: gpd.GeoDataFrame | None = None,
    access: AccessStudy | None = None,
    comparison: UnitComparison | None = None,
) -> Path:
    """Write every output of a :class:`~coverage.analysis.GapAnalysis` into ``out_dir``.

    The files are those of :func:`write_outputs`, written into a staging folder that
    replaces ``out_dir`` once all are written.  ``out_dir`` may be absent, empty or a
    previous output of this tool holding only the files that run wrote; anything else
    raises :class:`~coverage.errors.OutputExistsError` before a file is written, and
    leaves ``out_dir`` as it was (see :func:`~coverage.outputs.folder.check_output_dir`).
    """
    with atomic_output_dir(out_dir) as staging:
        write_outputs(
            result,
            staging,
            run_info=run_info,
            map=map,
            plan=plan,
            report=report,
            departments=departments,
            access=access,
            comparison=comparison,
        )
    logger.info("outputs written to %s", out_dir)
    return Path(out_dir)


def write_outputs(
    result: GapAnalysis,
    folder: Path,
    *,
    run_info: Mapping[str, Any] | None = None,
    map: bool = False,
    plan: SitingPlan | None = None,
    report: bool = False,
    departments: gpd.GeoDataFrame | None = None,
    access: AccessStudy | None = None,
    comparison: UnitComparison | None = None,
) -> list[str]:
    """Write every output of a run into ``folder``, an existing empty (staging) folder; the files written.

    Whatever ``folder`` holds at the end is listed in its ``run.json`` as written by the run.

    Files: ``population_access.csv``, ``facilities.csv``, ``coverage_summary.csv``,
    ``coverage_by_area.csv``, ``tables.xlsx`` (every CSV table of the run, one sheet
    each), ``coverage.gpkg`` (layers ``population_access``, ``facilities``,
    ``catchments``, ``isochrones``, ``uncovered``, in the analysis' metric CRS),
    ``network.graphml`` (networks of up to :data:`MAX_GRAPHML_NODES` nodes), ``map.html`` (with ``map``: the offline page of
    :func:`~coverage.outputs.webmap.gap_map`, with the plan, departments and study) and
    ``run.json`` (parameters, inputs, timings, ``run_info`` on top, and the list of the
    files written, which is what a later run may replace).  With a ``plan``:
    ``candidates.csv``, ``selection.csv``, ``coverage_curve.csv``, ``fragility.csv`` and a
    ``sites`` layer.  With ``report``: ``report.html`` (one self-contained page: key
    figures, tables, figures and the parameters of the run) and ``figures/*.png``.  With
    an ``access`` study: ``accessibility.csv`` (per unit, baseline and scenario),
    ``accessibility_by_area.csv``, ``accessibility_classes.csv``,
    ``accessibility_sites.csv`` (every site with doctors before or after),
    ``allocation_steps.csv`` (the pool's teams in order, with a pool) and the layers
    ``accessibility`` (unit polygons where every unit has one, else points) and
    ``accessibility_sites``.  With a ``comparison`` of two placements of the people
    (:func:`coverage.unit_comparison.compare_units`): ``units_comparison.csv`` (share
    within each threshold both ways), ``communes_comparison.csv`` (the communes with the
    longest mean drive either way) and a section of the report.

    In the CSV tables and the workbook, text that a spreadsheet would run as a formula
    starts with ``'`` (:func:`~coverage.outputs.files.spreadsheet_safe`).

    From 1,000 units on, ``map.html`` and ``network.graphml`` are written by a forked
    process while this one writes the rest (where the system can fork); what it raises
    is raised here, with its traceback as a note.
    """
    crs = result.config.metric_crs
    units = result.units
    # The page and the network file, the slowest outputs that need nothing of the others,
    # are written by a forked process while this one writes the rest.
    _SIDE.update(result=result, folder=folder, map=map, plan=plan, departments=departments, access=access)
    side = None
    try:
        if len(units) >= _MIN_UNITS_FOR_A_SIDE_PROCESS and can_fork():
            side = _SideProcess()
        else:
            _side_files()
        _main_files(result, folder, crs, plan, access, comparison)
        info = run_record(result, plan=plan, access=access, run_info=run_info)
        if report:
            pngs = figure_pngs(result, plan=plan, departments=departments, access=access)
            (folder / "figures").mkdir()
            for name, png in pngs.items():
                (folder / "figures" / f"{name}.png").write_bytes(png)
            write_report(
                result,
                folder,
                plan=plan,
                run_info=info,
                figures=pngs,
                departments=departments,
                access=access,
                comparison=comparison,
            )
        if side is not None:
            side.wait()
    finally:
        _SIDE.clear()
        if side is not None:
            side.stop()
    # run.json last, with the list of what the run wrote: a later run replaces these files only
    written = sorted({*files_below(folder), RUN_FILE} - {STAGING_MARKER})
    (folder / RUN_FILE).write_text(record_json({**info, "files": written}), "utf-8")
    return written


#: Largest network written as ``network.graphml`` (the region with its 30 km buffer has
#: 121,289 nodes, about 95 MB; France's 771,000 would be 600 MB that no planner opens).
MAX_GRAPHML_NODES = 250_000


def _side_files() -> None:
    """``network.graphml`` and, if asked, ``map.html`` (the run's values are in ``_SIDE``)."""
    state = _SIDE
    result, folder = state["result"], state["folder"]
    if result.network.n_nodes <= MAX_GRAPHML_NODES:
        save_graphml(result.network.source, folder / "network.graphml")
    else:
        logger.warning(
            "network.graphml is not written: %s nodes (over %s; all of France is about 600 MB of GraphML); "
            "export it from Python with coverage.outputs.files.save_graphml if needed",
            f"{result.network.n_nodes:,}",
            f"{MAX_GRAPHML_NODES:,}",
        )
    if state["map"]:
        page = gap_map(
            result, plan=state["plan"], departments=state["departments"], offline=True, access=state["access"]
        )
        page.save(str(folder / "map.html"))


class _SideProcess(Forked):
    """:func:`_side_files` in a forked process; :meth:`wait` raises here what it raised there."""

    def __init__(self) -> None:
        super().__init__(_side_files, what="writing map.html and network.graphml")

    def wait(self) -> None:
        try:
            self.result()
        except RuntimeError as error:
            if "ended without a word" in str(error):
                raise RuntimeError(f"{error}; the output folder is not complete") from None
            raise


def _main_files(
    result: GapAnalysis,
    folder: Path,
    crs: str,
    plan: SitingPlan | None,
    access: AccessStudy | None,
    comparison: UnitComparison | None,
) -> None:
    """The tables (CSV and workbook) and the GeoPackage layers."""
    units = result.units
    access_columns = [
        "unit_id",
        "name",
        "population",
        "node",
        "access_minutes",
        "minutes_to_nearest",
        "nearest_facility",
        "snap_distance_m",
        "nearest_facility_type",
        "beyond_max_snap",
    ]
    admin = [c for c in AREA_COLUMNS if c in units.columns]
    facility_columns = ["facility_id", "name", "type", "node", "access_minutes", "snap_distance_m", "beyond_max_snap"]
    facilities = result.facilities
    facilities_table = with_lonlat(facilities)
    facilities_table = facilities_table[
        facility_columns + [c for c in facilities_table.columns if c not in facility_columns]
    ]

    tables: dict[str, pd.DataFrame] = {
        "coverage_summary": result.summary,
        "coverage_by_area": result.by_area,
        "population_access": pd.DataFrame(units[access_columns + admin]),
        "facilities": facilities_table,
    }
    if plan is not None:
        tables.update(plan_tables(plan))
    if access is not None:
        tables.update(access_tables(access))
    if comparison is not None:
        tables["units_comparison"] = comparison.shares
        tables["communes_comparison"] = comparison.communes
    for name, table in tables.items():
        write_csv(table, folder / f"{name}.csv")
    write_workbook(tables, folder / WORKBOOK)

    gpkg = folder / "coverage.gpkg"
    unit_layer = units[access_columns + [c for c in units.columns if c not in access_columns and c != "area"]]
    write_layer(gpd.GeoDataFrame(unit_layer, geometry="geometry", crs=units.crs), gpkg, "population_access", crs)
    write_layer(facilities, gpkg, "facilities", crs)
    write_layer(result.catchments, gpkg, "catchments", crs, promote_to_multi=True)
    if len(result.isochrones):
        write_layer(result.isochrones, gpkg, "isochrones", crs, promote_to_multi=True)
    write_layer(uncovered_layer(result), gpkg, "uncovered", crs, promote_to_multi=True)
    if plan is not None:
        write_plan_layers(plan, folder, crs)
    if access is not None:
        write_access_layers(access, folder, crs)
    # last: the QGIS styles of every layer written above
    add_layer_styles(gpkg, thresholds=result.config.thresholds_min)

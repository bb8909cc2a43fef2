"""Writing a whole run: every table, layer, figure, page and the run record, in one folder.

:func:`write_analysis` is the one writer a caller needs: it writes into a temporary folder
(:func:`~coverage.outputs.files.atomic_output_dir`) and moves it into place only when
every file is written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from coverage.outputs.files import (
    RUN_FILE,
    atomic_output_dir,
    save_graphml,
    uncovered_layer,
    with_lonlat,
    write_access_tables,
    write_csv,
    write_layer,
    write_plan_tables,
)
from coverage.outputs.report import figure_pngs, write_report
from coverage.outputs.summaries import run_record
from coverage.outputs.webmap import gap_map

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = ["write_analysis"]

logger = logging.getLogger(__name__)


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
) -> Path:
    """Write every output of a :class:`~coverage.analysis.GapAnalysis` into ``out_dir``.

    Files: ``population_access.csv``, ``facilities.csv``, ``coverage_summary.csv``,
    ``coverage_by_area.csv``, ``coverage.gpkg`` (layers ``population_access``,
    ``facilities``, ``catchments``, ``isochrones``, ``uncovered``, in the analysis'
    metric CRS), ``network.graphml``, ``map.html`` (with ``map``: the offline page of
    :func:`~coverage.outputs.webmap.gap_map`, with the plan, departments and study) and
    ``run.json`` (parameters, inputs, timings, and ``run_info`` on top).  With a ``plan``: ``candidates.csv``,
    ``selection.csv``, ``coverage_curve.csv``, ``fragility.csv`` and a ``sites`` layer.
    With ``report``: ``report.html`` (one self-contained page: key figures, tables,
    figures and the parameters of the run) and ``figures/*.png``.  With an ``access``
    study: ``accessibility.csv`` (per unit, baseline and scenario),
    ``accessibility_by_area.csv``, ``accessibility_classes.csv``,
    ``accessibility_sites.csv`` (every site with doctors before or after),
    ``allocation_steps.csv`` (the pool's teams in order, with a pool) and the layers
    ``accessibility`` (unit polygons where every unit has one, else points) and
    ``accessibility_sites``.
    """
    crs = result.config.metric_crs
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
    admin = [c for c in ("commune", "epci", "department") if c in units.columns]
    facility_columns = ["facility_id", "name", "type", "node", "access_minutes", "snap_distance_m", "beyond_max_snap"]
    facilities = result.facilities
    facilities_table = with_lonlat(facilities)
    facilities_table = facilities_table[
        facility_columns + [c for c in facilities_table.columns if c not in facility_columns]
    ]

    with atomic_output_dir(out_dir) as tmp:
        write_csv(pd.DataFrame(units[access_columns + admin]), tmp / "population_access.csv")
        write_csv(facilities_table, tmp / "facilities.csv")
        write_csv(result.summary, tmp / "coverage_summary.csv")
        write_csv(result.by_area, tmp / "coverage_by_area.csv")

        gpkg = tmp / "coverage.gpkg"
        unit_layer = units[access_columns + [c for c in units.columns if c not in access_columns and c != "area"]]
        write_layer(gpd.GeoDataFrame(unit_layer, geometry="geometry", crs=units.crs), gpkg, "population_access", crs)
        write_layer(facilities, gpkg, "facilities", crs)
        write_layer(result.catchments, gpkg, "catchments", crs, promote_to_multi=True)
        if len(result.isochrones):
            write_layer(result.isochrones, gpkg, "isochrones", crs, promote_to_multi=True)
        write_layer(uncovered_layer(result), gpkg, "uncovered", crs, promote_to_multi=True)

        if plan is not None:
            write_plan_tables(plan, tmp, crs)
        if access is not None:
            write_access_tables(access, tmp, crs)
        save_graphml(result.network.graph, tmp / "network.graphml")
        if map:
            gap_map(result, plan=plan, departments=departments, offline=True, access=access).save(str(tmp / "map.html"))
        info = run_record(result, plan=plan, access=access, run_info=run_info)
        (tmp / RUN_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str), "utf-8")
        if report:
            pngs = figure_pngs(result, plan=plan, departments=departments)
            (tmp / "figures").mkdir()
            for name, png in pngs.items():
                (tmp / "figures" / f"{name}.png").write_bytes(png)
            write_report(result, tmp, plan=plan, run_info=info, figures=pngs, departments=departments, access=access)
    logger.info("outputs written to %s", out_dir)
    return Path(out_dir)

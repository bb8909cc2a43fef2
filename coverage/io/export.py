"""Writing the outputs of a gap analysis, completely or not at all.

Files are written into a hidden temporary folder beside the target and moved into
place only when all of them are written.  An existing target is replaced only when it
holds a previous run of this tool (a ``run.json`` that says so); anything else is left
untouched and reported.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.errors import OutputExistsError

if TYPE_CHECKING:
    import folium

    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan
    from coverage.scenarios import AccessStudy

__all__ = ["RUN_FILE", "atomic_output_dir", "check_output_dir", "write_analysis"]

logger = logging.getLogger(__name__)

#: Marker file of an output folder written by this tool.
RUN_FILE = "run.json"
_TOOL = "coverage"


def _is_previous_output(path: Path) -> bool:
    try:
        return json.loads((path / RUN_FILE).read_text("utf-8")).get("tool") == _TOOL
    except (OSError, ValueError, AttributeError):
        return False


def check_output_dir(target: str | Path) -> None:
    """Raise :class:`OutputExistsError` unless ``target`` may receive a run's outputs:
    it is absent, empty, or holds a previous output of this tool."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not _is_previous_output(target))):
        raise OutputExistsError(
            f"output folder {target} exists and is not a previous output of this tool "
            f"(no {RUN_FILE}); choose another folder or empty it"
        )


@contextmanager
def atomic_output_dir(target: str | Path):  # type: ignore[no-untyped-def]
    """Yield a temporary folder; on success it replaces ``target`` in one move.

    Raises :class:`OutputExistsError` before any work if ``target`` exists, is not
    empty and is not a previous output of this tool.  On any error the temporary folder
    is removed and ``target`` is left as it was.
    """
    target = Path(target)
    check_output_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the output folder should not be
    try:
        yield tmp
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}-{time.time_ns()}"
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except OSError:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, float_format="%.10g", encoding="utf-8")


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


def write_analysis(
    result: GapAnalysis,
    out_dir: str | Path,
    *,
    run_info: Mapping[str, Any] | None = None,
    map_builder: Callable[[GapAnalysis], folium.Map] | None = None,
    plan: SitingPlan | None = None,
    report: bool = False,
    departments: gpd.GeoDataFrame | None = None,
    access: AccessStudy | None = None,
) -> Path:
    """Write every output of a :class:`~coverage.analysis.GapAnalysis` into ``out_dir``.

    Files: ``population_access.csv``, ``facilities.csv``, ``coverage_summary.csv``,
    ``coverage_by_area.csv``, ``coverage.gpkg`` (layers ``population_access``,
    ``facilities``, ``catchments``, ``isochrones``, ``uncovered``, in the analysis'
    metric CRS), ``network.graphml``, ``map.html`` (when ``map_builder`` is given) and
    ``run.json`` (parameters, inputs, timings).  With a ``plan``: ``candidates.csv``,
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
    from coverage.io.roads import save_graphml

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
    facilities_table = _with_lonlat(facilities)
    facilities_table = facilities_table[
        facility_columns + [c for c in facilities_table.columns if c not in facility_columns]
    ]

    with atomic_output_dir(out_dir) as tmp:
        _csv(pd.DataFrame(units[access_columns + admin]), tmp / "population_access.csv")
        _csv(facilities_table, tmp / "facilities.csv")
        _csv(result.summary, tmp / "coverage_summary.csv")
        _csv(result.by_area, tmp / "coverage_by_area.csv")

        gpkg = tmp / "coverage.gpkg"
        unit_layer = units[access_columns + [c for c in units.columns if c not in access_columns and c != "area"]]
        _geo_for_layer(gpd.GeoDataFrame(unit_layer, geometry="geometry", crs=units.crs), crs).to_file(
            gpkg, layer="population_access", engine="pyogrio"
        )
        _geo_for_layer(facilities, crs).to_file(gpkg, layer="facilities", engine="pyogrio")
        _geo_for_layer(result.catchments, crs).to_file(
            gpkg, layer="catchments", engine="pyogrio", promote_to_multi=True
        )
        if len(result.isochrones):
            _geo_for_layer(result.isochrones, crs).to_file(
                gpkg, layer="isochrones", engine="pyogrio", promote_to_multi=True
            )
        _geo_for_layer(uncovered_layer(result), crs).to_file(
            gpkg, layer="uncovered", engine="pyogrio", promote_to_multi=True
        )

        if plan is not None:
            _write_plan(plan, tmp, crs)
        if access is not None:
            _write_access(access, tmp, crs)
        save_graphml(result.network.graph, tmp / "network.graphml")
        if map_builder is not None:
            map_builder(result).save(str(tmp / "map.html"))
        info = {
            "tool": _TOOL,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": result.config.as_dict(),
            "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
            "network": {"nodes": result.network.n_nodes, "edges": int(result.network.matrix.nnz)},
            "summary": result.summary.to_dict(orient="records"),
            **({"siting": plan_summary(plan)} if plan is not None else {}),
            **(
                {
                    "accessibility": {
                        "settings": access.settings.as_dict(),
                        "scenario": access.scenario.as_dict(),
                        "summary": access.summary(),
                    }
                }
                if access is not None
                else {}
            ),
            **dict(run_info or {}),
        }
        (tmp / RUN_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str), "utf-8")
        if report:
            from coverage.report import figure_pngs, write_report

            pngs = figure_pngs(result, plan=plan, departments=departments)
            (tmp / "figures").mkdir()
            for name, png in pngs.items():
                (tmp / "figures" / f"{name}.png").write_bytes(png)
            write_report(result, tmp, plan=plan, run_info=info, figures=pngs, departments=departments, access=access)
    logger.info("outputs written to %s", out_dir)
    return Path(out_dir)


def _with_lonlat(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    lonlat = frame.geometry.to_crs("EPSG:4326")
    table["lon"] = lonlat.x.round(7).to_numpy()
    table["lat"] = lonlat.y.round(7).to_numpy()
    return table


def _write_plan(plan: SitingPlan, folder: Path, crs: str) -> None:
    _csv(_with_lonlat(plan.candidates), folder / "candidates.csv")
    _csv(_with_lonlat(plan.selection_table), folder / "selection.csv")
    _csv(plan.curve, folder / "coverage_curve.csv")
    _csv(plan.fragility, folder / "fragility.csv")
    if len(plan.selection_table):
        _geo_for_layer(plan.selection_table, crs).to_file(folder / "coverage.gpkg", layer="sites", engine="pyogrio")


def _write_access(study: AccessStudy, folder: Path, crs: str) -> None:
    units = study.units
    table = pd.DataFrame(units.drop(columns=[c for c in ("geometry", "area") if c in units.columns]))
    _csv(table, folder / "accessibility.csv")
    _csv(study.by_area, folder / "accessibility_by_area.csv")
    _csv(study.classes, folder / "accessibility_classes.csv")
    sites = study.sites[(study.sites["supply_before"] > 0) | (study.sites["supply_after"] > 0)]
    _csv(_with_lonlat(sites), folder / "accessibility_sites.csv")
    if study.scenario.pool is not None:
        _csv(study.allocation_steps, folder / "allocation_steps.csv")
    if "area" in units and len(units) and not units["area"].isna().any():
        geometry = gpd.GeoSeries(units["area"], crs=units.crs)
    else:
        geometry = units.geometry
    layer = gpd.GeoDataFrame(table, geometry=geometry.to_numpy(), crs=units.crs)
    gpkg = folder / "coverage.gpkg"
    _geo_for_layer(layer, crs).to_file(gpkg, layer="accessibility", engine="pyogrio", promote_to_multi=True)
    if len(sites):
        _geo_for_layer(sites, crs).to_file(gpkg, layer="accessibility_sites", engine="pyogrio")


def plan_summary(plan: SitingPlan) -> dict[str, Any]:
    """Key figures of a siting plan, for run.json and the terminal summary."""
    s, g = plan.selection, plan.greedy
    return {
        "threshold_min": plan.threshold_min,
        "solver": s.solver,
        "status": s.status,
        "new_sites": len(s.sites),
        "sites_requested": s.sites_requested,
        "required_sites": len(s.required),
        "population_total": s.population_total,
        "population_covered_before": s.population_covered_before,
        "population_covered_after": s.population_covered_after,
        "objective_value": s.objective_value,
        "bound": s.bound,
        "gap": s.gap,
        "seconds": round(s.seconds, 3),
        "greedy_population_covered_after": g.population_covered_after,
        "uncoverable_units": list(s.uncoverable),
        "timings_s": {k: round(v, 3) for k, v in plan.timings.items()},
    }


def uncovered_layer(result: GapAnalysis) -> gpd.GeoDataFrame:
    """Units beyond the smallest threshold or unreachable, with one flag per threshold.

    Geometry: the unit's polygon where every such unit has one, else its point.
    """
    units = result.uncovered()
    minutes = units["minutes_to_nearest"]
    cols = ["unit_id", "name", "population", "minutes_to_nearest", "nearest_facility"]
    cols += [c for c in ("commune", "epci", "epci_name", "department") if c in units.columns]
    frame = pd.DataFrame(units[cols])
    for t in result.config.thresholds_min:
        frame[f"beyond_{t:g}min"] = (minutes.isna() | (minutes > t)).to_numpy()
    frame["unreachable"] = minutes.isna().to_numpy()
    if "area" in units and len(units) and not units["area"].isna().any():
        geometry = gpd.GeoSeries(units["area"], crs=units.crs)
    else:
        geometry = units.geometry
    return gpd.GeoDataFrame(frame, geometry=geometry.to_numpy(), crs=units.crs)

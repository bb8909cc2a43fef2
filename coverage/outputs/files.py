"""Files: the atomic output folder, and the tables, GeoPackage layers and GraphML of a run.

Files are written into a hidden temporary folder beside the target and moved into
place only when all of them are written.  An existing target is replaced only when it
holds a previous run of this tool (a ``run.json`` that says so); anything else is left
untouched and reported.  :func:`coverage.outputs.write.write_analysis` writes a whole
run with the pieces here.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from coverage.errors import OutputExistsError

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = [
    "RUN_FILE",
    "TOOL",
    "atomic_output_dir",
    "check_output_dir",
    "save_graphml",
    "uncovered_layer",
    "with_lonlat",
    "write_access_tables",
    "write_csv",
    "write_layer",
    "write_plan_tables",
]

logger = logging.getLogger(__name__)

#: Marker file of an output folder written by this tool.
RUN_FILE = "run.json"
TOOL = "coverage"


def _is_previous_output(path: Path) -> bool:
    try:
        return json.loads((path / RUN_FILE).read_text("utf-8")).get("tool") == TOOL
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


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A table as UTF-8 CSV, floats to 10 significant digits, no index."""
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


def write_layer(
    frame: gpd.GeoDataFrame, gpkg: Path, layer: str, crs: str, *, promote_to_multi: bool | None = None
) -> None:
    """One layer of a GeoPackage, in ``crs``, with plain column types."""
    _geo_for_layer(frame, crs).to_file(gpkg, layer=layer, engine="pyogrio", promote_to_multi=promote_to_multi)


def save_graphml(graph: nx.MultiDiGraph, path: str | Path) -> None:
    """Write the graph as GraphML that OSMnx and NetworkX read back."""
    import osmnx as ox

    ox.save_graphml(graph, path)


def with_lonlat(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The table of a point layer, geometry replaced by ``lon``/``lat`` (EPSG:4326, 7 decimals)."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    lonlat = frame.geometry.to_crs("EPSG:4326")
    table["lon"] = lonlat.x.round(7).to_numpy()
    table["lat"] = lonlat.y.round(7).to_numpy()
    return table


def write_plan_tables(plan: SitingPlan, folder: Path, crs: str) -> None:
    write_csv(with_lonlat(plan.candidates), folder / "candidates.csv")
    write_csv(with_lonlat(plan.selection_table), folder / "selection.csv")
    write_csv(plan.curve, folder / "coverage_curve.csv")
    write_csv(plan.fragility, folder / "fragility.csv")
    if len(plan.selection_table):
        write_layer(plan.selection_table, folder / "coverage.gpkg", "sites", crs)


def write_access_tables(study: AccessStudy, folder: Path, crs: str) -> None:
    units = study.units
    table = pd.DataFrame(units.drop(columns=[c for c in ("geometry", "area") if c in units.columns]))
    write_csv(table, folder / "accessibility.csv")
    write_csv(study.by_area, folder / "accessibility_by_area.csv")
    write_csv(study.classes, folder / "accessibility_classes.csv")
    sites = study.sites[(study.sites["supply_before"] > 0) | (study.sites["supply_after"] > 0)]
    write_csv(with_lonlat(sites), folder / "accessibility_sites.csv")
    if study.scenario.pool is not None:
        write_csv(study.allocation_steps, folder / "allocation_steps.csv")
    geometry = _polygons_or_points(units)
    layer = gpd.GeoDataFrame(table, geometry=geometry.to_numpy(), crs=units.crs)
    gpkg = folder / "coverage.gpkg"
    write_layer(layer, gpkg, "accessibility", crs, promote_to_multi=True)
    if len(sites):
        write_layer(sites, gpkg, "accessibility_sites", crs)


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
    geometry = _polygons_or_points(units)
    return gpd.GeoDataFrame(frame, geometry=geometry.to_numpy(), crs=units.crs)


def _polygons_or_points(units: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The units' polygons (``area``) where every unit has one, else their points."""
    if "area" in units and len(units) and not units["area"].isna().any():
        return gpd.GeoSeries(units["area"], crs=units.crs)
    return units.geometry

"""The tables of an accessibility study: its sites, its units, and its areas.

Built by :func:`coverage.access_study.study_access` from the floating-catchment results.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.accessibility import (
    FloatingCatchment,
)
from coverage.analysis import GapAnalysis
from coverage.candidates import attach_unit_areas
from coverage.scenarios import ABOVE, PRIORITY, AccessSettings
from coverage.stats import AREA_COLUMNS, AREA_LEVELS, NO_CODE, area_codes, common_names, report_missing_codes

__all__ = ["DENSITY_COLUMNS", "areas_table", "site_areas", "sites_table", "units_table"]


def sites_table(
    facilities: gpd.GeoDataFrame,
    new: gpd.GeoDataFrame,
    supply: pd.Series,
    source: pd.Series,
    before: np.ndarray,
    after: np.ndarray,
    teams: np.ndarray,
    of_addition: dict[int, str],
    units: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    fac = pd.DataFrame(
        {
            "site_id": facilities["facility_id"].to_numpy(),
            "name": facilities["name"].astype(str).to_numpy(),
            "kind": "facility",
            "type": facilities["type"].astype(str).to_numpy(),
            "commune": facilities["code_insee"].astype("string").to_numpy() if "code_insee" in facilities else pd.NA,
            "supply_source": source.to_numpy(),
            "node": facilities["node"].to_numpy(dtype=object),
            "access_minutes": facilities["access_minutes"].to_numpy(dtype=float),
        }
    )
    fresh = pd.DataFrame(
        {
            "site_id": new["site_id"].to_numpy(),
            "name": new["name"].astype(str).to_numpy(),
            "kind": "new site",
            "type": new["source"].to_numpy(),
            "commune": [
                s if str(src).endswith(("(commune)", "(town hall)")) else pd.NA
                for s, src in zip(new["site_id"], new["source"], strict=True)
            ],
            "supply_source": "new",
            "node": new["node"].to_numpy(dtype=object) if len(new) else np.empty(0, dtype=object),
            "access_minutes": new["access_minutes"].to_numpy(dtype=float) if len(new) else np.empty(0),
        }
    )
    table = pd.concat([fac, fresh], ignore_index=True)
    added_by: dict[str, list[str]] = {}
    for n, site in of_addition.items():
        added_by.setdefault(site, []).append(f"addition {n + 1}")
    table["supply_before"] = before
    table["supply_added"] = after - before
    table["supply_after"] = after
    table["teams"] = teams
    pooled = [[f"pool ({t} team{'s' if t > 1 else ''})"] if t else [] for t in teams]
    table["added_by"] = [", ".join(added_by.get(s, []) + p) for s, p in zip(table["site_id"], pooled, strict=True)]
    geometry = list(facilities.geometry.to_crs("EPSG:4326")) + list(new.geometry)
    out = gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")
    # commune name and department: from the commune code where known, else the unit
    # area holding the site
    placed = attach_unit_areas(out[["geometry"]], units)
    code = out["commune"].astype("string").fillna(placed["commune"].astype("string"))
    lookup = pd.DataFrame()
    if "commune" in units:
        lookup = pd.DataFrame(units.drop(columns=[c for c in ("geometry", "area") if c in units]))
        lookup = lookup.assign(commune=lookup["commune"].astype("string")).dropna(subset=["commune"])
        lookup = lookup.drop_duplicates("commune").set_index("commune")
    out["commune"] = code
    for col in ("commune_name", "department", "department_name"):
        if col == "department_name" and col not in lookup and col not in placed:
            continue
        from_code = lookup[col].reindex(code.to_numpy()).to_numpy() if col in lookup else pd.NA
        value = pd.Series(from_code, index=out.index, dtype="string")
        out[col] = value.fillna(placed[col].astype("string")) if col in placed else value
    return out


def units_table(
    analysis: GapAnalysis,
    settings: AccessSettings,
    baseline: FloatingCatchment,
    result: FloatingCatchment,
    people: np.ndarray,
) -> gpd.GeoDataFrame:
    units = analysis.units
    scale, line = settings.scale, settings.priority_line_value
    a0 = baseline.accessibility * scale
    a1 = result.accessibility * scale
    keep = [c for c in ("unit_id", "name", *AREA_COLUMNS) if c in units.columns]
    table = pd.DataFrame(units[keep]).assign(unit_id=units["unit_id"].astype(str))
    table["population"] = people
    table["demand"] = baseline.demand
    table["minutes_to_nearest"] = units["minutes_to_nearest"].to_numpy(dtype=float)
    table["accessibility"] = a0
    table["accessibility_scenario"] = a1
    table["change"] = a1 - a0
    table["class"] = np.where(a0 < line, PRIORITY, ABOVE)
    table["class_scenario"] = np.where(a1 < line, PRIORITY, ABOVE)
    out = gpd.GeoDataFrame(table, geometry=units.geometry.to_numpy(), crs=units.crs)
    if "area" in units:
        out["area"] = gpd.GeoSeries(units["area"].to_numpy(), crs=units.crs)
    return out


def site_areas(sites: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> pd.DataFrame:
    """The area codes of each site, one column per level the units have.

    A site whose ``commune`` code is known takes the areas of the unit of that commune
    whose ``area`` holds it, else those of the commune's most populous unit (a facility's
    point drawn just across a border stays in its own commune's canton); a site without
    a commune takes the areas of the unit whose ``area`` holds it, else of the nearest
    unit (its point)."""
    columns = [id_col for id_col, _ in AREA_LEVELS.values() if id_col in units.columns]
    out = pd.DataFrame(index=sites.index, columns=columns, dtype="string")
    if not columns or not len(sites):
        return out
    points = gpd.GeoDataFrame(geometry=sites.geometry.to_crs(units.crs).to_numpy(), crs=units.crs, index=sites.index)
    codes = pd.DataFrame({c: units[c].astype("string").to_numpy() for c in columns})
    if "area" in units and units["area"].notna().any():
        areas = gpd.GeoDataFrame(codes, geometry=gpd.GeoSeries(units["area"].to_numpy(), crs=units.crs), crs=units.crs)
        held = gpd.sjoin(points, areas[areas.geometry.notna()], how="left", predicate="within")
        held = held[~held.index.duplicated(keep="first")]
        out[columns] = held[columns].astype("string").reindex(sites.index)
    if "commune" in columns and "commune" in sites:
        stated = sites["commune"].astype("string")
        largest = codes.assign(_people=units["population"].to_numpy(dtype=float) if "population" in units else 0.0)
        largest = largest.sort_values("_people", ascending=False, kind="stable").dropna(subset=["commune"])
        by_commune = largest.drop_duplicates("commune").set_index("commune")
        other = stated.notna() & (out["commune"] != stated).fillna(True) & stated.isin(by_commune.index)
        if other.any():
            found = by_commune.reindex(stated[other].to_numpy())
            out.loc[other, columns] = pd.DataFrame(
                {c: stated[other].to_numpy() if c == "commune" else found[c].to_numpy() for c in columns},
                index=out.index[other],
            ).astype("string")
    missing = out[columns].isna().all(axis=1)
    if missing.any():
        centres = gpd.GeoDataFrame(codes, geometry=units.geometry.to_numpy(), crs=units.crs)
        metric = centres.estimate_utm_crs() if centres.crs.is_geographic else centres.crs  # nearest in metres
        near = gpd.sjoin_nearest(points[missing].to_crs(metric), centres.to_crs(metric), how="left")
        near = near[~near.index.duplicated(keep="first")]
        out.loc[missing, columns] = near[columns].astype("string").to_numpy()
    return out


def areas_table(units: pd.DataFrame, settings: AccessSettings, sites: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Demand-weighted accessibility per area of each level, before and after, the people
    in priority zones and, with the ``sites``, the medical density: GPs (or FTE) of the
    sites in the area per 10,000 inhabitants, before and after (``supply_known`` False
    where a facility's supply is the default, not stated in the file)."""
    rows = []
    where = site_areas(sites, units) if sites is not None else None  # type: ignore[arg-type]
    frame = pd.DataFrame(units.drop(columns=[c for c in ("geometry", "area") if c in units.columns]))
    frame["_d0"] = frame["demand"] * frame["accessibility"]
    frame["_d1"] = frame["demand"] * frame["accessibility_scenario"]
    frame["_p0"] = np.where(frame["class"] == PRIORITY, frame["population"], 0.0)
    frame["_p1"] = np.where(frame["class_scenario"] == PRIORITY, frame["population"], 0.0)
    for level, (id_col, name_col) in AREA_LEVELS.items():
        if id_col not in frame:
            continue
        codes = area_codes(frame[id_col])
        if codes.isna().all():
            continue
        report_missing_codes(codes, frame.get("unit_id"), level)
        key = codes.fillna(NO_CODE)
        grouped = frame.groupby(key, sort=True)
        agg = grouped[["population", "demand", "_d0", "_d1", "_p0", "_p1"]].sum()
        named = bool(name_col and name_col in frame)
        names = pd.Series(common_names(key, frame[name_col])).reindex(agg.index) if named else agg["population"] * pd.NA
        names = names.where(names.index != NO_CODE, f"(no {level} code)")
        with np.errstate(divide="ignore", invalid="ignore"):
            a0 = np.where(agg["demand"] > 0, agg["_d0"] / agg["demand"], np.nan)
            a1 = np.where(agg["demand"] > 0, agg["_d1"] / agg["demand"], np.nan)
        density = _density(sites, where, id_col, agg) if sites is not None and where is not None else {}
        rows.append(
            pd.DataFrame(
                {
                    **density,
                    "level": level,
                    "area_id": agg.index.astype(str),
                    "area_name": names.reindex(agg.index).to_numpy(),
                    "population": agg["population"].to_numpy(),
                    "demand": agg["demand"].to_numpy(),
                    "accessibility": a0,
                    "accessibility_scenario": a1,
                    "change": a1 - a0,
                    "population_priority": agg["_p0"].to_numpy(),
                    "population_priority_scenario": agg["_p1"].to_numpy(),
                }
            )
        )
    columns = [
        "level",
        "area_id",
        "area_name",
        "population",
        "demand",
        "accessibility",
        "accessibility_scenario",
        "change",
        "population_priority",
        "population_priority_scenario",
    ]
    if sites is not None:
        columns += list(DENSITY_COLUMNS)
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


#: The medical density's columns of the area table.
DENSITY_COLUMNS = ("gps_before", "gps_after", "gps_per_10000_before", "gps_per_10000_after", "supply_known")


def _density(sites: gpd.GeoDataFrame, where: pd.DataFrame, id_col: str, agg: pd.DataFrame) -> dict[str, object]:
    """GPs per 10,000 inhabitants of each area (the rows of ``agg``), before and after."""
    if id_col not in where:
        return {c: np.nan for c in DENSITY_COLUMNS}
    key = where[id_col].fillna(NO_CODE)
    frame = pd.DataFrame(
        {
            "key": key.to_numpy(),
            "before": sites["supply_before"].to_numpy(dtype=float),
            "after": sites["supply_after"].to_numpy(dtype=float),
            "default": (sites["supply_source"] == "default").to_numpy(),
        }
    )
    summed = frame.groupby("key")[["before", "after", "default"]].sum().reindex(agg.index, fill_value=0)
    population = agg["population"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(population > 0, 10_000.0 / population, np.nan)
    return {
        "gps_before": summed["before"].to_numpy(),
        "gps_after": summed["after"].to_numpy(),
        "gps_per_10000_before": summed["before"].to_numpy() * per,
        "gps_per_10000_after": summed["after"].to_numpy() * per,
        "supply_known": summed["default"].to_numpy() == 0,
    }

"""Coverage statistics: who is within T minutes of a facility, in all and by area."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "NO_CODE",
    "SUMMARY_COLUMNS",
    "area_codes",
    "common_name",
    "common_names",
    "coverage_by_area",
    "coverage_summary",
    "report_missing_codes",
]

logger = logging.getLogger(__name__)

#: ``area_id`` of the row that gathers the units of a level without an area code (its
#: ``area_name`` says which level), so that the areas of every level add up to the total.
NO_CODE = ""

SUMMARY_COLUMNS = [
    "threshold_min",
    "population_total",
    "population_covered",
    "population_uncovered",
    "population_unreachable",
    "share_covered",
]

#: Default area levels: level name -> (id column, name column) of the units table.
AREA_LEVELS: Mapping[str, tuple[str, str | None]] = {
    "commune": ("commune", "commune_name"),
    "canton": ("canton", "canton_name"),
    "epci": ("epci", "epci_name"),
    "department": ("department", "department_name"),
    # the planner's own areas (coverage.io.areas.with_planner_areas), called AnalysisConfig.zone_label
    "zone": ("zone", "zone_name"),
}
#: The units' columns of those levels, code then name, in order: what the tables carry.
AREA_COLUMNS: tuple[str, ...] = tuple(c for pair in AREA_LEVELS.values() for c in pair if c)


def _counts(minutes: np.ndarray, population: np.ndarray, threshold: float) -> dict[str, float]:
    reachable = ~np.isnan(minutes)
    covered = reachable & (minutes <= threshold)
    total = float(population.sum())
    n_covered = float(population[covered].sum())
    return {
        "threshold_min": threshold,
        "population_total": total,
        "population_covered": n_covered,
        "population_uncovered": float(population[reachable & ~covered].sum()),
        "population_unreachable": float(population[~reachable].sum()),
        "share_covered": n_covered / total if total > 0 else np.nan,
    }


def area_codes(values: pd.Series) -> pd.Series:
    """Area codes as text, the same whatever the file's types: surrounding spaces dropped,
    a whole number read as a float (``18.0``, from a column with an empty cell) written
    ``18``, empty cells NA.  Leading zeros are kept (``"01"`` is not ``"1"``)."""

    def one(value: object) -> object:
        if value is None or value is pd.NA:
            return pd.NA
        if isinstance(value, float | np.floating):
            if np.isnan(value):
                return pd.NA
            if float(value).is_integer():
                return str(int(value))
        text = str(value).strip()
        return text if text else pd.NA

    return pd.Series([one(v) for v in values], index=values.index, dtype="string")


def report_missing_codes(codes: pd.Series, unit_ids: pd.Series | None, level: str) -> None:
    """One warning naming the units of ``level`` without an area code (they go in the
    level's :data:`NO_CODE` row)."""
    missing = codes.isna().to_numpy()
    if missing.any() and not missing.all():
        ids = [] if unit_ids is None else [str(i) for i in unit_ids.to_numpy()[missing][:10]]
        logger.warning(
            "%d units have no %s code; they are counted in a row of their own (area_id empty): %s%s",
            int(missing.sum()),
            level,
            ", ".join(ids),
            " ..." if missing.sum() > 10 else "",
        )


def common_name(names: pd.Series) -> str:
    """The name of an area from its units' names, whatever their order: the most
    frequent non-empty one (ties: the first in alphabetical order), else empty."""
    given = names[names.fillna("").str.strip() != ""]
    if given.empty:
        return ""
    counts = given.value_counts()
    return str(min(counts.index[counts == counts.max()]))


def common_names(ids: pd.Series, names: pd.Series) -> dict[object, str]:
    """:func:`common_name` of every area at once: ``ids`` and ``names`` are the units'
    area ids and names (aligned); returns area id -> name ("" where no unit names it).
    One sort of the (area, name) counts instead of one pass per area."""
    names = names.astype("string")
    given = (names.fillna("").str.strip() != "").to_numpy()
    frame = pd.DataFrame({"id": ids.to_numpy()[given], "name": names.to_numpy()[given]})
    counts = frame.groupby(["id", "name"], sort=False).size().reset_index(name="n")
    # most frequent first, then the first name in alphabetical (code point) order
    counts["key"] = [str(v) for v in counts["name"]]
    counts = counts.sort_values(["n", "key"], ascending=[False, True], kind="stable")
    best = counts.drop_duplicates("id", keep="first")
    found = dict(zip(best["id"], best["key"], strict=True))
    return {area: found.get(area, "") for area in pd.unique(ids.to_numpy())}


def coverage_summary(
    minutes: Sequence[float] | pd.Series, population: Sequence[float] | pd.Series, thresholds: Sequence[float]
) -> pd.DataFrame:
    """Population within each threshold.

    A unit is *covered* when its minutes to the nearest facility are <= the threshold,
    *uncovered* when they are larger, *unreachable* when they are missing (NaN).
    ``covered + uncovered + unreachable = total`` for every threshold.
    """
    m = np.asarray(minutes, dtype=float)
    p = np.asarray(population, dtype=float)
    if m.shape != p.shape:
        raise ValueError("minutes and population must have the same length")
    return pd.DataFrame([_counts(m, p, float(t)) for t in sorted(thresholds)], columns=SUMMARY_COLUMNS)


def coverage_by_area(
    units: pd.DataFrame,
    thresholds: Sequence[float],
    *,
    levels: Mapping[str, tuple[str, str | None]] = AREA_LEVELS,
) -> pd.DataFrame:
    """The summary for each area of each level (communes, EPCI, departments).

    ``units`` needs ``minutes_to_nearest``, ``population`` and, for each level, its id
    column (levels whose id column is absent or empty are skipped).  Adds the
    population-weighted mean minutes of the reachable population of each area.  Codes
    are read by :func:`area_codes`; units without a code in a level that has codes are
    counted in one row of their own (``area_id`` :data:`NO_CODE`, ``area_name`` "(no
    <level> code)"), with a warning naming them, so that every level adds up to the total.

    Returns
    -------
    pandas.DataFrame
        ``level``, ``area_id``, ``area_name``, ``n_units``, ``mean_minutes`` and the
        summary columns, one row per area and threshold.
    """
    rows = []
    minutes = units["minutes_to_nearest"].to_numpy(dtype=float)
    population = units["population"].to_numpy(dtype=float)
    for level, (id_col, name_col) in levels.items():
        if id_col not in units:
            continue
        codes = area_codes(units[id_col])
        if codes.isna().all():
            continue
        report_missing_codes(codes, units.get("unit_id"), level)
        ids = codes.fillna(NO_CODE)
        names = units[name_col].astype("string").fillna("") if name_col and name_col in units else ids
        names = names.where(ids != NO_CODE, f"(no {level} code)")
        area_names = common_names(ids, names)
        for area_id, positions in ids.groupby(ids, sort=True).indices.items():
            m, p = minutes[positions], population[positions]
            reach = ~np.isnan(m)
            weight = p[reach].sum()
            mean = float((m[reach] * p[reach]).sum() / weight) if weight > 0 else np.nan
            for t in sorted(thresholds):
                rows.append(
                    {
                        "level": level,
                        "area_id": area_id,
                        "area_name": area_names[area_id],
                        "n_units": len(positions),
                        "mean_minutes": mean,
                        **_counts(m, p, float(t)),
                    }
                )
    columns = ["level", "area_id", "area_name", "n_units", "mean_minutes", *SUMMARY_COLUMNS]
    return pd.DataFrame(rows, columns=columns)

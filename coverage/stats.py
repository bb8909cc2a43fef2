"""Coverage statistics: who is within T minutes of a facility, in all and by area."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["SUMMARY_COLUMNS", "coverage_by_area", "coverage_summary"]

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
    "epci": ("epci", "epci_name"),
    "department": ("department", "department_name"),
}


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
    population-weighted mean minutes of the reachable population of each area.

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
        if id_col not in units or units[id_col].isna().all():
            continue
        ids = units[id_col].astype("string").fillna("")
        names = units[name_col].astype("string").fillna("") if name_col and name_col in units else ids
        for area_id, positions in ids.groupby(ids, sort=True).indices.items():
            if area_id == "":
                continue
            m, p = minutes[positions], population[positions]
            reach = ~np.isnan(m)
            weight = p[reach].sum()
            mean = float((m[reach] * p[reach]).sum() / weight) if weight > 0 else np.nan
            for t in sorted(thresholds):
                rows.append(
                    {
                        "level": level,
                        "area_id": area_id,
                        "area_name": names.iloc[positions[0]],
                        "n_units": len(positions),
                        "mean_minutes": mean,
                        **_counts(m, p, float(t)),
                    }
                )
    columns = ["level", "area_id", "area_name", "n_units", "mean_minutes", *SUMMARY_COLUMNS]
    return pd.DataFrame(rows, columns=columns)

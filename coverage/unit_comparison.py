"""How the figures of a territory change with where its people are placed: the same
facilities and network, two sets of population units (the communes at their town halls,
and a population grid).

:func:`compare_units` takes the two gap analyses and returns a :class:`UnitComparison`:
the share of the population within each threshold under each placement, and the communes
with the longest mean drive under either.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from coverage.analysis import GapAnalysis
from coverage.errors import InputDataError

__all__ = ["UnitComparison", "compare_units"]


@dataclass(frozen=True)
class UnitComparison:
    """Two placements of the same people, side by side.

    Attributes
    ----------
    names
        The two placements, as in the column names (e.g. ``("town_halls", "grid")``).
    shares
        One row per threshold: ``threshold_min``, ``population_<name>`` and
        ``share_covered_<name>`` for each, and ``difference_points`` (second minus first,
        in percentage points).
    communes
        The communes among the ``n_worst`` longest population-weighted mean drives under
        either placement: ``commune``, ``commune_name``, ``mean_minutes_<name>`` and
        ``rank_<name>`` (1: the longest) for each, sorted by the second placement's rank.
    """

    names: tuple[str, str]
    shares: pd.DataFrame
    communes: pd.DataFrame


def compare_units(
    first: GapAnalysis, second: GapAnalysis, *, names: tuple[str, str] = ("town_halls", "grid"), n_worst: int = 10
) -> UnitComparison:
    """Compare two gap analyses of one territory with different population units.

    Both must have the same thresholds; their shares are those of their own summaries,
    and the communes' mean minutes those of their ``by_area`` tables (level ``commune``).
    """
    a_name, b_name = names
    if a_name == b_name:
        raise InputDataError(f"the two placements need two names, got {names}")
    if tuple(first.config.thresholds_min) != tuple(second.config.thresholds_min):
        raise InputDataError(
            f"the analyses have different thresholds: {list(first.config.thresholds_min)} and "
            f"{list(second.config.thresholds_min)}"
        )
    if not (isinstance(n_worst, int) and n_worst > 0):
        raise InputDataError(f"n_worst must be a positive whole number, got {n_worst!r}")
    shares = pd.DataFrame({"threshold_min": first.summary["threshold_min"].to_numpy(dtype=float)})
    for name, analysis in ((a_name, first), (b_name, second)):
        summary = analysis.summary.set_index("threshold_min")
        shares[f"population_{name}"] = summary["population_total"].reindex(shares["threshold_min"]).to_numpy()
        shares[f"share_covered_{name}"] = summary["share_covered"].reindex(shares["threshold_min"]).to_numpy()
    shares["difference_points"] = 100.0 * (shares[f"share_covered_{b_name}"] - shares[f"share_covered_{a_name}"])
    tables = []
    for name, analysis in ((a_name, first), (b_name, second)):
        areas = analysis.by_area
        rows = areas[areas["level"] == "commune"].drop_duplicates("area_id")
        table = pd.DataFrame(
            {
                "commune": rows["area_id"].astype(str).to_numpy(),
                f"name_{name}": rows["area_name"].to_numpy(),
                f"mean_minutes_{name}": rows["mean_minutes"].to_numpy(dtype=float),
            }
        )
        longest_first = table[f"mean_minutes_{name}"].rank(ascending=False, method="first", na_option="keep")
        table[f"rank_{name}"] = longest_first.astype("Int64")
        tables.append(table)
    both = tables[0].merge(tables[1], on="commune", how="outer")
    both["commune_name"] = both[f"name_{b_name}"].fillna(both[f"name_{a_name}"])
    worst = (both[f"rank_{a_name}"] <= n_worst).fillna(False) | (both[f"rank_{b_name}"] <= n_worst).fillna(False)
    communes = both.loc[
        worst,
        [
            "commune",
            "commune_name",
            f"mean_minutes_{a_name}",
            f"rank_{a_name}",
            f"mean_minutes_{b_name}",
            f"rank_{b_name}",
        ],
    ]
    communes = communes.sort_values([f"rank_{b_name}", f"rank_{a_name}"], kind="stable", na_position="last")
    return UnitComparison(names=(a_name, b_name), shares=shares, communes=communes.reset_index(drop=True))

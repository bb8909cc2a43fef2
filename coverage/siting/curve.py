"""Coverage against the number of new sites, and the fragility of the existing facilities.

:func:`coverage_curve` runs the MCLP solvers for k = 0..k_max; :func:`fragility` gives,
for each facility, the population that falls beyond each threshold if it closes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from coverage.matrix import CoverageMatrix
from coverage.siting.exact import mclp_exact
from coverage.siting.greedy import mclp_greedy
from coverage.siting.result import _population, _row_units, _split_sites

__all__ = ["coverage_curve", "fragility"]


def coverage_curve(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    k_max: int,
    *,
    required: Sequence[str] = (),
    candidates: Sequence[str] | None = None,
    exact: bool = True,
    time_limit_s: float = 30.0,
) -> pd.DataFrame:
    """Population covered against the number of new sites, k = 0..k_max.

    Greedy values come from one greedy run (its prefixes); exact values from one MILP
    per k (each under ``time_limit_s``), with their gaps.
    """
    weights = _population(matrix, population)
    k_max = min(k_max, len(_split_sites(matrix, required, candidates)[1]))
    greedy = mclp_greedy(matrix, weights, threshold_min, k_max, required=required, candidates=candidates)
    total = float(weights.sum())
    covered = np.concatenate(
        [[greedy.population_covered_before], greedy.population_covered_before + np.cumsum(greedy.marginal)]
    )
    rows = []
    for k in range(k_max + 1):
        g = covered[min(k, len(covered) - 1)]
        row: dict[str, object] = {
            "k": k,
            "population_covered_greedy": g,
            "share_greedy": g / total if total else math.nan,
        }
        if exact:
            e = mclp_exact(
                matrix, weights, threshold_min, k, required=required, candidates=candidates, time_limit_s=time_limit_s
            )
            row.update(
                {
                    "population_covered_exact": e.population_covered_after,
                    "share_exact": e.share_covered_after,
                    "gap_exact": e.gap,
                    "status_exact": e.status,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def fragility(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    facility_ids: Sequence[str],
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """For each facility, the population that falls beyond each threshold if it closes.

    That is the population within the threshold of this facility and of no other.

    Returns
    -------
    pandas.DataFrame
        ``facility_id`` and, per threshold ``T``, ``population_lost_T``, sorted by the
        loss at the largest threshold, largest first.
    """
    weights = _population(matrix, population)
    ids = [str(f) for f in facility_ids]
    rows = matrix.rows(ids)
    table = pd.DataFrame({"facility_id": ids})
    for t in sorted(thresholds_min):
        cover = matrix.covers(t)[rows]
        count = np.bincount(cover.indices, minlength=len(weights))
        alone = count == 1
        lost = [float(weights[_row_units(cover, i)][alone[_row_units(cover, i)]].sum()) for i in range(len(ids))]
        table[f"population_lost_{t:g}"] = lost
    last = f"population_lost_{max(thresholds_min):g}"
    return table.sort_values(last, ascending=False, kind="stable").reset_index(drop=True)

"""Coverage against the number of new sites, and the fragility of the existing facilities.

:func:`coverage_curve` runs the MCLP solvers for k = 0..k_max (in several processes if
asked); :func:`fragility` gives, for each facility, the population that falls beyond each
threshold if it closes.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from coverage.matrix import CoverageMatrix
from coverage.siting.exact import _mclp_setup, _mclp_solve
from coverage.siting.greedy import mclp_greedy
from coverage.siting.result import _population, _row_units, _split_sites

__all__ = ["coverage_curve", "fragility", "with_known_answer"]

logger = logging.getLogger("coverage.siting")

#: Below this many entries in the matrix, the exact points are solved in this process
#: (starting workers costs more than the solves of a small case).
_MIN_ENTRIES_FOR_WORKERS = 20_000
#: Points whose time limit is shorter are solved without HiGHS (exchanges and the
#: Lagrangian bound only): its root LP on the regional model takes longer than that
#: (0.3-0.7 s measured) and cannot be stopped, so it would only overrun the limit.
HIGHS_MIN_SECONDS = 1.0
#: The problem of the exact points, set before the workers are forked (inherited, not pickled).
_STATE: dict[str, Any] = {}


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
    workers: int | None = 1,
) -> pd.DataFrame:
    """Population covered against the number of new sites, k = 0..k_max.

    Greedy values come from one greedy run (its prefixes); exact values from one MCLP
    per k (as :func:`~coverage.siting.exact.mclp_exact` solves it, each under
    ``time_limit_s``; the problem, its model and the greedy order are made once; under
    :data:`HIGHS_MIN_SECONDS`, without HiGHS: the exchanges and the Lagrangian bound), in
    ``workers`` processes (default 1: in this one; None: every core; forked, where the
    system can; small cases stay in this one), with the same values either way.

    The exact values are then made to agree across k, which can only narrow the gaps:
    an answer with fewer sites, plus any other site, is an answer with k sites, so the
    value at k is raised to the best at any smaller k (and to the greedy value at k); and
    the best possible with k sites is at most the best with more, so the bound at k is
    lowered to the smallest bound at any larger k.  ``bound_exact`` holds that bound,
    ``gap_exact`` is ``(bound - value) / bound``, and ``status_exact`` is ``"optimal"``
    only where the value meets the bound (to a relative 1e-9), else ``"feasible"``.
    """
    weights = _population(matrix, population)
    k_max = min(k_max, len(_split_sites(matrix, required, candidates)[1]))
    greedy = mclp_greedy(matrix, weights, threshold_min, k_max, required=required, candidates=candidates)
    total = float(weights.sum())
    covered = np.concatenate(
        [[greedy.population_covered_before], greedy.population_covered_before + np.cumsum(greedy.marginal)]
    )
    g = covered[np.minimum(np.arange(k_max + 1), len(covered) - 1)]
    table = pd.DataFrame({"k": np.arange(k_max + 1), "population_covered_greedy": g})
    table["share_greedy"] = g / total if total else math.nan
    if not exact:
        return table
    ks = list(range(k_max + 1))
    n = max(1, min((os.cpu_count() or 1) if workers is None else workers, len(ks)))
    # the problem, the model and the greedy order are made once, for every k
    _STATE.update(
        setup=_mclp_setup(matrix, weights, threshold_min, required, candidates, k_max), time_limit_s=time_limit_s
    )
    try:
        small = matrix.minutes.nnz < _MIN_ENTRIES_FOR_WORKERS
        if n > 1 and not small and "fork" in multiprocessing.get_all_start_methods() and _stop_highs_threads():
            # the big k first: they take longest
            with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
                found = dict(zip(ks[::-1], pool.map(_exact_point, ks[::-1]), strict=True))
            points = [found[k] for k in ks]
        else:
            points = [_exact_point(k) for k in ks]
    finally:
        _STATE.clear()
    value, bound, met = _agreeing([p[0] for p in points], [p[1] for p in points], g)
    return _with_exact_columns(table, value, bound, met, total)


def _with_exact_columns(
    table: pd.DataFrame, value: np.ndarray, bound: np.ndarray, met: np.ndarray, total: float
) -> pd.DataFrame:
    """A curve's exact columns: the people covered, their share, the bound, the gap and the status."""
    table["population_covered_exact"] = value
    table["share_exact"] = value / total if total else math.nan
    table["bound_exact"] = bound
    with np.errstate(invalid="ignore", divide="ignore"):
        table["gap_exact"] = np.where(bound > 0, (bound - value) / bound, np.where(np.isnan(bound), np.nan, 0.0))
    table["status_exact"] = np.where(met, "optimal", "feasible")
    return table


def _agreeing(
    values: Sequence[float] | np.ndarray, bounds: Sequence[float] | np.ndarray, greedy: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values and bounds for k = 0, 1, ... made to agree across k.

    The value at k becomes the best value at any k' <= k (greedy values included), the
    bound at k the smallest bound at any k' >= k.  Where the value meets the bound (to a
    relative 1e-9) it is proven optimal and the bound is set to the value.  A bound
    below a value known to be reached is false (a solver's error): it is not trusted,
    and NaN is reported in its place.  Returns value, bound, met.
    """
    value = np.maximum.accumulate(np.maximum(np.asarray(values, dtype=float), np.asarray(greedy, dtype=float)))
    bound = np.minimum.accumulate(np.asarray(bounds, dtype=float)[::-1])[::-1]
    tolerance = 1e-9 * np.maximum(1.0, np.abs(value))
    false = value > bound + tolerance
    if false.any():
        logger.warning(
            "coverage curve: the bounds at k = %s lie below answers found; not trusted",
            ", ".join(map(str, np.flatnonzero(false)[:10])),
        )
    met = ~false & (value >= bound - tolerance)
    return value, np.where(met, value, np.where(false, np.nan, bound)), met


def _stop_highs_threads() -> bool:
    """Stop HiGHS's worker threads, so that forked processes can start their own; False
    if this HiGHS cannot.  A process forked while they run inherits their state without
    the threads, and its first MILP waits for them for ever (measured with HiGHS 1.16)."""
    import highspy

    reset = getattr(highspy.Highs, "resetGlobalScheduler", None)
    if reset is None:
        return False
    reset(True)
    return True


def _exact_point(k: int) -> tuple[float, float]:
    """The people covered with at most k new sites, and the proven bound on it (the
    problem is in ``_STATE``, inherited by forked workers rather than sent to them)."""
    limit = _STATE["time_limit_s"]
    e = _mclp_solve(_STATE["setup"], k, deadline=time.perf_counter() + limit, milp=limit >= HIGHS_MIN_SECONDS)
    return e.population_covered_after, float(e.population_covered_after if e.bound is None else e.bound)


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
    table = pd.DataFrame({"facility_id": pd.Series(ids, dtype=object)})
    for t in sorted(thresholds_min):
        cover = matrix.covers(t)[rows]
        count = np.bincount(cover.indices, minlength=len(weights))
        alone = count == 1
        lost = [float(weights[_row_units(cover, i)][alone[_row_units(cover, i)]].sum()) for i in range(len(ids))]
        table[f"population_lost_{t:g}"] = lost
    last = f"population_lost_{max(thresholds_min):g}"
    return table.sort_values(last, ascending=False, kind="stable").reset_index(drop=True)


def with_known_answer(
    curve: pd.DataFrame,
    key: str,
    fits_from: float,
    bounds_up_to: float,
    value: float,
    bound: float | None,
    population_total: float,
    *,
    extra: dict[str, float] | None = None,
) -> pd.DataFrame:
    """A curve's exact columns with an answer known beside it: its ``value`` is reached at
    every ``key`` from ``fits_from`` on (where it is better, ``extra`` columns take its
    values too), and its proven ``bound`` holds at every ``key`` up to ``bounds_up_to``.
    The status is then ``optimal`` where the value meets the bound, as in the curve."""
    out = curve.copy()
    keys = out[key].to_numpy(dtype=float)
    current = out["population_covered_exact"].to_numpy(dtype=float)
    better = (keys >= fits_from - 1e-9) & (value > current)
    out.loc[better, "population_covered_exact"] = value
    for column, number in (extra or {}).items():
        if column in out:
            out.loc[better, column] = number
    old_bound = out["bound_exact"].to_numpy(dtype=float)
    if bound is not None and math.isfinite(bound):
        lowered = (keys <= bounds_up_to + 1e-9) & ~(old_bound <= bound)
        out.loc[lowered, "bound_exact"] = bound
    v = out["population_covered_exact"].to_numpy(dtype=float)
    b = out["bound_exact"].to_numpy(dtype=float)
    met = v >= b - 1e-9 * np.maximum(1.0, np.abs(v))
    out["bound_exact"] = np.where(met, v, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["gap_exact"] = np.where(met, 0.0, np.where(b > 0, (b - v) / b, np.nan))
        out["share_exact"] = v / population_total if population_total > 0 else math.nan
    out["status_exact"] = np.where(met, "optimal", "feasible")
    return out

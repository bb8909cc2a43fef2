"""Phasing a pool of doctors: which teams arrive in which year.

:func:`~coverage.pool.allocate_pool` places the pool's teams one at a time; a schedule
(:class:`~coverage.phasing.Schedule`, doctors per year: the Region's 300 salaried GPs
over 8 years) says how many arrive each year.  :func:`phase_pool` cuts the pool's order
into years, then improves it by a local search: exchanging two teams of the same size
between years when that raises the people at or above the priority line, summed over
the years.  The teams and their sites do not change, only their years.

No bound is proven here (lifting people over a line is not a covering problem with a
known relaxation), so the answer is labelled ``"heuristic"``, with the pool's order as
the baseline beside it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coverage.accessibility import DEFAULT_BANDS, StepDecay, decay_weights
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.phasing import LATER, Schedule
from coverage.pool import baseline_and_people

__all__ = ["PhasedPool", "phase_pool"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PhasedPool:
    """The pool's teams year by year (:func:`phase_pool`).

    Attributes
    ----------
    timeline
        One row per team, in arrival order: ``year``, ``order``, ``site_id``, ``doctors``,
        ``people_lifted`` (brought to the priority line or above when it arrives) and
        ``people_above`` (everyone counted at or above the line once it is there).
    by_year
        One row per year: ``year``, ``doctors_added``, ``teams``, ``people_above`` at the
        end of the year in the order chosen and in the pool's order.
    objective, pool_objective
        People at or above the line at the end of each year, summed over the years, in
        the order chosen and in the pool's order.
    people_above_before
        People counted at or above the line before the pool.
    exchanges
        Exchanges of teams between years the local search made.
    status
        ``"heuristic"``: no bound is proven.
    """

    schedule: Schedule
    timeline: pd.DataFrame
    by_year: pd.DataFrame
    objective: float
    pool_objective: float
    people_above_before: float
    exchanges: int
    status: str
    seconds: float


def _team_years(sizes: np.ndarray, schedule: Schedule) -> np.ndarray:
    """The year of each team, in order: the year by which the schedule has hired all its
    doctors (``len(years)``: after the schedule)."""
    ends = np.cumsum(sizes)
    return np.searchsorted(schedule.cumulative, ends - 1e-9 * np.maximum(1.0, ends))


def phase_pool(
    matrix: CoverageMatrix,
    supply: Sequence[float] | np.ndarray | pd.Series,
    demand: Sequence[float] | np.ndarray | pd.Series,
    steps: pd.DataFrame,
    schedule: Schedule,
    *,
    priority_line: float,
    decay: StepDecay | Callable[[np.ndarray], np.ndarray] = DEFAULT_BANDS,
    people: Sequence[float] | np.ndarray | pd.Series | None = None,
    counted: Sequence[bool] | np.ndarray | None = None,
    time_limit_s: float = 10.0,
) -> PhasedPool:
    """Give each of the pool's teams a year, to keep the most people at or above the line.

    Parameters
    ----------
    matrix, supply, demand, decay, priority_line, people, counted
        As given to :func:`~coverage.pool.allocate_pool` (``supply``: before the pool).
    steps
        The pool's teams in order (``PoolAllocation.steps``: ``site_id``, ``supply_added``).
    schedule
        Doctors added each year; a team arrives in the year its last doctor is hired.
        Teams past the schedule's total are left for ``"later"``.

    The objective is ``sum_t sum_i p_i [A_it >= line]`` over the units counted, where
    ``A_it`` is the accessibility once the teams of years up to t are in place.  The
    local search repeats the best exchange of two teams of equal size, at different
    sites, in different years, until none raises the objective or ``time_limit_s`` passes.
    """
    start = time.perf_counter()
    if not (math.isfinite(priority_line) and priority_line > 0):
        raise InputDataError(f"the priority line must be a positive number, got {priority_line}")
    missing = {"site_id", "supply_added"} - set(steps.columns)
    if missing:
        raise InputDataError(f"the pool's steps lack the columns {sorted(missing)}")
    base, pop, _ = baseline_and_people(matrix, supply, demand, decay, people, counted)
    w = decay_weights(matrix, decay)
    weighted_demand = w @ base.demand
    sites = matrix.rows([str(s) for s in steps["site_id"]]) if len(steps) else np.empty(0, dtype=np.int64)
    sizes = steps["supply_added"].to_numpy(dtype=float)
    if not np.isfinite(sizes).all() or (sizes <= 0).any():
        raise InputDataError("the pool's teams must each add a positive, finite number of doctors")
    n_t = len(schedule.years)
    years = _team_years(sizes, schedule)
    # per site: its units and the accessibility one doctor there adds to each
    gain: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for j in np.unique(sites):
        lo, hi = w.indptr[j], w.indptr[j + 1]
        gain[int(j)] = (w.indices[lo:hi], w.data[lo:hi] / weighted_demand[j])
    acc = np.repeat(base.accessibility[:, None], n_t, axis=1)
    for j, size, t in zip(sites, sizes, years, strict=True):
        if t < n_t:
            units, g = gain[int(j)]
            acc[units, t:] += size * g[:, None]
    later = years >= n_t
    if later.any():
        logger.warning(
            "the schedule hires %g doctors and the pool placed %g: %d teams (%g doctors) arrive after %s",
            schedule.total,
            float(sizes.sum()),
            int(later.sum()),
            float(sizes[later].sum()),
            schedule.years[-1],
        )
    pool_yearly = _above(acc, pop, priority_line)
    exchanges = _local_search(acc, pop, priority_line, gain, sites, sizes, years, n_t, start + time_limit_s)
    yearly = _above(acc, pop, priority_line)
    timeline = _timeline(base.accessibility, pop, priority_line, gain, sites, sizes, years, schedule, matrix)
    by_year = pd.DataFrame(
        {
            "year": list(schedule.years),
            "doctors_added": [float(sizes[years == t].sum()) for t in range(n_t)],
            "teams": [int((years == t).sum()) for t in range(n_t)],
            "people_above": yearly,
            "people_above_pool_order": pool_yearly,
        }
    )
    return PhasedPool(
        schedule=schedule,
        timeline=timeline,
        by_year=by_year,
        objective=float(yearly.sum()),
        pool_objective=float(pool_yearly.sum()),
        people_above_before=float(pop[base.accessibility >= priority_line].sum()),
        exchanges=exchanges,
        status="heuristic",
        seconds=time.perf_counter() - start,
    )


def _above(acc: np.ndarray, pop: np.ndarray, line: float) -> np.ndarray:
    return np.asarray(pop @ (acc >= line), dtype=float)


def _local_search(
    acc: np.ndarray,
    pop: np.ndarray,
    line: float,
    gain: dict[int, tuple[np.ndarray, np.ndarray]],
    sites: np.ndarray,
    sizes: np.ndarray,
    years: np.ndarray,
    n_t: int,
    deadline: float,
) -> int:
    """Best-improvement exchanges of two teams between years; updates ``acc`` and
    ``years`` in place and returns the number of exchanges made."""
    made = 0
    while time.perf_counter() < deadline:
        # teams left for later count as year n_t: exchanging one with a scheduled team defers that one
        groups = sorted({(int(j), float(s), int(min(t, n_t))) for j, s, t in zip(sites, sizes, years, strict=True)})
        best, move = 1e-9 * max(1.0, float(pop.sum())), None
        for a, size_a, t1 in groups:
            if time.perf_counter() > deadline:
                break
            for b, size_b, t2 in groups:
                if not (t1 < t2 and a != b and size_a == size_b):
                    continue
                units, delta = _exchange(gain, a, b, size_a)
                before = acc[units, t1:t2]
                change = float(
                    pop[units] @ ((before + delta[:, None] >= line).astype(float) - (before >= line)).sum(axis=1)
                )
                if change > best:
                    best, move = change, (a, b, size_a, t1, t2, units, delta)
        if move is None:
            break
        a, b, size, t1, t2, units, delta = move
        acc[units, t1:t2] += delta[:, None]
        p = np.flatnonzero((sites == a) & (sizes == size) & (np.minimum(years, n_t) == t1))[0]
        q = np.flatnonzero((sites == b) & (sizes == size) & (np.minimum(years, n_t) == t2))[0]
        years[p], years[q] = t2, t1
        made += 1
    return made


def _exchange(
    gain: dict[int, tuple[np.ndarray, np.ndarray]], a: int, b: int, size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Units of sites a and b, and the accessibility change when a team moves from a to b."""
    ua, ga = gain[a]
    ub, gb = gain[b]
    units = np.union1d(ua, ub)
    delta = np.zeros(len(units))
    delta[np.searchsorted(units, ub)] += size * gb
    delta[np.searchsorted(units, ua)] -= size * ga
    return units, delta


def _timeline(
    acc0: np.ndarray,
    pop: np.ndarray,
    line: float,
    gain: dict[int, tuple[np.ndarray, np.ndarray]],
    sites: np.ndarray,
    sizes: np.ndarray,
    years: np.ndarray,
    schedule: Schedule,
    matrix: CoverageMatrix,
) -> pd.DataFrame:
    acc = acc0.copy()
    rows = []
    n_t = len(schedule.years)
    for position, i in enumerate(sorted(range(len(sites)), key=lambda i: (years[i], i)), start=1):
        units, g = gain[int(sites[i])]
        before = acc[units].copy()
        acc[units] += sizes[i] * g
        rows.append(
            {
                "year": schedule.years[years[i]] if years[i] < n_t else LATER,
                "order": position,
                "site_id": str(matrix.site_ids[sites[i]]),
                "doctors": float(sizes[i]),
                "people_lifted": float(pop[units] @ ((before < line) & (acc[units] >= line))),
                "people_above": float(pop[acc >= line].sum()),
            }
        )
    return pd.DataFrame(rows, columns=["year", "order", "site_id", "doctors", "people_lifted", "people_above"])

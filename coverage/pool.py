"""Sharing a pool of doctors out across sites, one team at a time, to lift the least served.

:func:`allocate_pool` places teams greedily where they bring the most people up to a
priority line of floating-catchment accessibility (:mod:`coverage.accessibility`),
updating the accessibility exactly after each team; :class:`PoolAllocation` holds the
steps and the supply and accessibility that result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coverage.accessibility import DEFAULT_BANDS, FloatingCatchment, StepDecay, decay_weights, floating_catchment
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, aligned_values

__all__ = ["PoolAllocation", "allocate_pool"]

# The warnings keep the logger they had when this was part of coverage.accessibility.
logger = logging.getLogger("coverage.accessibility")


@dataclass(frozen=True, eq=False)
class PoolAllocation:
    """A pool of doctors shared out in teams by :func:`allocate_pool`.

    Attributes
    ----------
    steps
        One row per team placed, in order: ``step``, ``site_id``, ``supply_added``,
        ``people_lifted`` (population brought to the priority line or above by this team),
        ``shortfall_reduced`` (fall of the demand-weighted shortfall below the
        priority line), ``people_above`` (population at or above the priority line after it).
    supply
        Supply per site after the allocation (in the matrix's site order).
    accessibility
        Accessibility per unit after the allocation.
    unallocated
        What is left of the pool when no site can help anyone below the priority line.
    """

    steps: pd.DataFrame
    supply: np.ndarray
    accessibility: np.ndarray
    unallocated: float


def baseline_and_people(
    matrix: CoverageMatrix,
    supply: Sequence[float] | np.ndarray | pd.Series,
    demand: Sequence[float] | np.ndarray | pd.Series,
    decay: StepDecay | Callable[[np.ndarray], np.ndarray],
    people: Sequence[float] | np.ndarray | pd.Series | None,
    counted: Sequence[bool] | np.ndarray | None,
) -> tuple[FloatingCatchment, np.ndarray, np.ndarray]:
    """The floating catchment before a pool, the people counted per unit (0 where not
    ``counted``; default: the demand) and the mask of the units counted."""
    base = floating_catchment(matrix, supply, demand, decay)
    d = base.demand
    pop = d if people is None else aligned_values(people, matrix.unit_ids, "people")
    mask = np.ones(d.shape, dtype=bool)
    if counted is not None:
        mask = np.asarray(counted, dtype=bool)
        if mask.shape != d.shape:
            raise InputDataError(f"counted: expected one value per unit ({len(d)}), got {mask.shape}")
    return base, np.where(mask, pop, 0.0), mask


def allocate_pool(
    matrix: CoverageMatrix,
    supply: Sequence[float] | np.ndarray | pd.Series,
    demand: Sequence[float] | np.ndarray | pd.Series,
    *,
    pool: float,
    team_size: float,
    priority_line: float,
    decay: StepDecay | Callable[[np.ndarray], np.ndarray] = DEFAULT_BANDS,
    sites: Sequence[str] | None = None,
    people: Sequence[float] | np.ndarray | pd.Series | None = None,
    max_per_site: float | None = None,
    counted: Sequence[bool] | np.ndarray | None = None,
) -> PoolAllocation:
    """Share a pool of doctors out across sites, one team at a time, greedily.

    Objective of each step: place the next team (``team_size``, the last one smaller if
    the pool is not a multiple) at the site that brings the most people from below
    ``priority_line`` to at or above it; ties, and steps where no team lifts anyone over the
    line, go to the site that most reduces the shortfall ``sum_i D_i max(0, priority_line -
    A_i)``, so that the pool keeps going to the least served.  The allocation stops when
    the pool is spent or no site reaches anyone below the priority line.

    Adding supply at site ``j`` changes its ratio only (step 1 of 2SFCA: the demand in its
    catchment does not move), so the gain of a team is exact and every unit in ``j``'s
    catchment gains ``team * W_ij / sum_k D_k W_kj``.

    Parameters
    ----------
    matrix, supply, demand, decay
        As for :func:`~coverage.accessibility.floating_catchment`; ``priority_line`` is in the same unit as its
        accessibility (supply per unit of demand).
    sites
        Ids of the sites that may receive teams (default: every row of the matrix).
    people
        Population per unit, counted for "people lifted" (default: the demand).
    max_per_site
        Most supply a site may receive from the pool.
    counted
        Per unit (column order), whether it counts in the objective (people lifted,
        shortfall, people above); default: all.  The others only add their demand to the
        sites' catchments (e.g. the people around the territory).
    """
    if not (pool > 0 and team_size > 0):
        raise InputDataError(f"the pool ({pool}) and the team size ({team_size}) must be positive")
    if not priority_line > 0:
        raise InputDataError(f"the priority line must be positive, got {priority_line}")
    if max_per_site is not None and not max_per_site >= team_size:
        raise InputDataError(f"the most a site may receive ({max_per_site}) is less than one team ({team_size})")
    base, pop, mask = baseline_and_people(matrix, supply, demand, decay, people, counted)
    d = base.demand
    d_counted = np.where(mask, d, 0.0)
    w = decay_weights(matrix, decay)
    weighted_demand = w @ d
    eligible = np.zeros(len(matrix.site_ids), dtype=bool)
    eligible[matrix.rows(list(sites)) if sites is not None else slice(None)] = True
    eligible &= weighted_demand > 0
    row_of = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
    share = np.divide(w.data, weighted_demand[row_of], out=np.zeros_like(w.data), where=weighted_demand[row_of] > 0)
    acc = base.accessibility.copy()
    new_supply = base.supply.copy()
    received = np.zeros(len(new_supply))
    left = float(pool)
    rows: list[dict[str, object]] = []
    n_sites = w.shape[0]
    while left > 1e-12:
        team = min(float(team_size), left)
        ok = eligible if max_per_site is None else eligible & (received + team <= max_per_site + 1e-9)
        if not ok.any():
            break
        before = acc[w.indices]
        after = before + team * share
        lifted = (before < priority_line) & (after >= priority_line)
        gain = np.bincount(row_of, weights=pop[w.indices] * lifted, minlength=n_sites)
        reduced = np.bincount(
            row_of,
            weights=d_counted[w.indices] * (np.minimum(after, priority_line) - np.minimum(before, priority_line)),
            minlength=n_sites,
        )
        gain[~ok], reduced[~ok] = -1.0, -1.0
        # lexicographic: people lifted, then shortfall reduced; lowest row on ties
        best = int(np.lexsort((np.arange(n_sites), -reduced, -gain))[0])
        if gain[best] <= 0 and reduced[best] <= 1e-15:
            break
        lo, hi = w.indptr[best], w.indptr[best + 1]
        acc[w.indices[lo:hi]] += team * share[lo:hi]
        new_supply[best] += team
        received[best] += team
        left -= team
        rows.append(
            {
                "step": len(rows) + 1,
                "site_id": matrix.site_ids[best],
                "supply_added": team,
                "people_lifted": float(gain[best]),
                "shortfall_reduced": float(reduced[best]),
                "people_above": float(pop[acc >= priority_line].sum()),
            }
        )
    if left > 1e-12:
        logger.warning(
            "%g of the pool of %g left unallocated: no eligible site reaches anyone below the line", left, pool
        )
    steps = pd.DataFrame(
        rows, columns=["step", "site_id", "supply_added", "people_lifted", "shortfall_reduced", "people_above"]
    )
    return PoolAllocation(steps=steps, supply=new_supply, accessibility=acc, unallocated=max(left, 0.0))

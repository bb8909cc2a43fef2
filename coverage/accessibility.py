"""Accessibility per inhabitant: two-step floating catchment (2SFCA) and its enhanced form.

Distance alone says who is far from a facility; a floating catchment also says who is
under-served because the facilities they reach are shared by many.  For each facility
``j`` with supply ``S_j`` (GPs, full-time equivalents, consultations...) and each unit
``i`` with demand ``D_i`` (population, optionally weighted by age):

    step 1   R_j = S_j / sum_i D_i W(t_ij)          (supply per person in j's catchment)
    step 2   A_i = sum_j R_j W(t_ij)                  (supply within reach of i, per person)

with ``W`` a distance decay of the door-to-door minutes ``t_ij``: one band (2SFCA) or
several (enhanced 2SFCA, E2SFCA), or any function.  When every facility has demand in
reach, ``sum_i D_i A_i = sum_j S_j``: supply is shared out, never created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, aligned_values

__all__ = [
    "DEFAULT_BANDS",
    "FloatingCatchment",
    "StepDecay",
    "accessibility_by_area",
    "floating_catchment",
    "priority_classes",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepDecay:
    """Weights by time band: ``((upper_minutes, weight), ...)`` in increasing order.

    A pair at ``t`` minutes gets the weight of the first band with ``t <= upper``; beyond
    the last band the weight is 0.  ``StepDecay(((20, 1.0),))`` is the plain 2SFCA with a
    20-minute catchment.
    """

    bands: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.bands:
            raise InputDataError("a step decay needs at least one (minutes, weight) band")
        uppers = [float(u) for u, _ in self.bands]
        if any(b <= a for a, b in pairwise(uppers)) or uppers[0] <= 0:
            raise InputDataError(f"band limits must be positive and increasing, got {uppers}")
        if any(not 0 <= float(w) <= 1 for _, w in self.bands):
            raise InputDataError(f"band weights must be between 0 and 1, got {[w for _, w in self.bands]}")

    @property
    def max_minutes(self) -> float:
        return float(self.bands[-1][0])

    def __call__(self, minutes: np.ndarray) -> np.ndarray:
        uppers = np.array([u for u, _ in self.bands], dtype=float)
        weights = np.array([w for _, w in self.bands] + [0.0], dtype=float)
        return weights[np.searchsorted(uppers, np.asarray(minutes, dtype=float), side="left")]


#: Default E2SFCA bands: full weight up to 10 minutes, 2/3 up to 15, 1/3 up to 20, nothing
#: beyond (the common step form: 1 up to 10 min, lower weights to 20, 0 beyond).  The DREES
#: APL's own bands depend on its vintage (the 2012 method used 1 / 0.3 / 0.1 at 5 / 10 / 15
#: minutes; the method revised in 2015 falls to zero at 20 minutes for GPs): to reproduce an
#: APL vintage, give its bands explicitly.
DEFAULT_BANDS = StepDecay(((10.0, 1.0), (15.0, 2.0 / 3.0), (20.0, 1.0 / 3.0)))


@dataclass(frozen=True, eq=False)
class FloatingCatchment:
    """Result of a floating-catchment computation.

    Attributes
    ----------
    unit_ids, site_ids
        Labels, as in the matrix.
    accessibility
        ``A_i`` per unit: supply within reach per unit of demand (0 where nothing is
        in reach).
    supply_ratio
        ``R_j`` per site: supply per unit of weighted demand in its catchment (NaN where
        no demand is in reach).
    supply, demand
        The inputs, aligned with the sites and units.
    unused_supply
        Supply of sites with no demand in reach (it reaches nobody).
    """

    unit_ids: np.ndarray
    site_ids: np.ndarray
    accessibility: np.ndarray
    supply_ratio: np.ndarray
    supply: np.ndarray
    demand: np.ndarray
    unused_supply: float

    def table(self, scale: float = 1.0) -> pd.DataFrame:
        """One row per unit: ``unit_id``, ``demand``, ``accessibility`` times ``scale``
        (e.g. 100,000 for GPs per 100,000 inhabitants)."""
        return pd.DataFrame(
            {"unit_id": self.unit_ids, "demand": self.demand, "accessibility": self.accessibility * scale}
        )


def floating_catchment(
    matrix: CoverageMatrix,
    supply: Sequence[float] | np.ndarray | pd.Series,
    demand: Sequence[float] | np.ndarray | pd.Series,
    decay: StepDecay | Callable[[np.ndarray], np.ndarray] = DEFAULT_BANDS,
) -> FloatingCatchment:
    """Two-step floating catchment on a coverage matrix of door-to-door minutes.

    Parameters
    ----------
    matrix
        Minutes from units to sites (rows: the facilities with supply).  Pairs absent
        from it (beyond its ``max_minutes``) have weight 0, so build it up to the
        decay's last band.
    supply
        ``S_j`` per site (a Series indexed by site id, or in row order).
    demand
        ``D_i`` per unit (a Series indexed by unit id, or in column order).
    decay
        :class:`StepDecay` (:data:`DEFAULT_BANDS` by default) or any function of minutes
        returning weights in [0, 1].
    """
    if isinstance(decay, StepDecay) and decay.max_minutes > matrix.max_minutes + 1e-9:
        raise InputDataError(
            f"the decay reaches {decay.max_minutes:g} min but the matrix stops at {matrix.max_minutes:g} min"
        )
    s = aligned_values(supply, matrix.site_ids, "supply", rows="sites")
    d = aligned_values(demand, matrix.unit_ids, "demand")
    minutes = matrix.minutes
    weights = np.asarray(decay(minutes.data), dtype=float)
    if weights.shape != minutes.data.shape or np.isnan(weights).any() or (weights < 0).any():
        raise InputDataError("the decay must return one non-negative weight per pair")
    w = sp.csr_array((weights, minutes.indices, minutes.indptr), shape=minutes.shape)
    weighted_demand = w @ d  # per site
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(weighted_demand > 0, s / weighted_demand, np.nan)
    unused = float(s[~(weighted_demand > 0)].sum())
    if unused > 0:
        lonely = matrix.site_ids[(weighted_demand <= 0) & (s > 0)]
        logger.warning(
            "%d sites (supply %g) have no demand in reach; their supply counts for nobody: %s",
            len(lonely),
            unused,
            ", ".join(map(str, lonely[:10])),
        )
    access = w.T @ np.nan_to_num(ratio, nan=0.0)
    return FloatingCatchment(
        unit_ids=matrix.unit_ids,
        site_ids=matrix.site_ids,
        accessibility=np.asarray(access, dtype=float),
        supply_ratio=ratio,
        supply=s,
        demand=d,
        unused_supply=unused,
    )


def accessibility_by_area(
    units: pd.DataFrame,
    result: FloatingCatchment,
    *,
    levels: Mapping[str, str] | None = None,
    scale: float = 1.0,
) -> pd.DataFrame:
    """Demand-weighted mean accessibility per commune, EPCI and department.

    ``units`` gives ``unit_id`` and the id column of each level (default ``commune``,
    ``epci``, ``department``); levels whose column is absent are skipped.  The mean of an
    area is ``sum D_i A_i / sum D_i`` over its units, so areas add up like the units.
    """
    levels = levels or {"commune": "commune", "epci": "epci", "department": "department"}
    frame = pd.DataFrame({"unit_id": result.unit_ids, "demand": result.demand, "a": result.accessibility})
    frame = frame.merge(units.assign(unit_id=units["unit_id"].astype(str)), on="unit_id", how="left")
    rows = []
    for level, column in levels.items():
        if column not in frame or frame[column].isna().all():
            continue
        grouped = frame.groupby(frame[column].astype(str), sort=True)
        for area_id, group in grouped:
            total = group["demand"].sum()
            mean = float((group["demand"] * group["a"]).sum() / total) if total > 0 else np.nan
            rows.append({"level": level, "area_id": area_id, "demand": total, "accessibility": mean * scale})
    return pd.DataFrame(rows, columns=["level", "area_id", "demand", "accessibility"])


def priority_classes(
    accessibility: Sequence[float] | np.ndarray,
    demand: Sequence[float] | np.ndarray,
    threshold: float,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Units below ``threshold`` are *priority* (as the APL's 2.5 consultations per year).

    Returns the class of each unit (``"priority"`` or ``"above threshold"``) and the demand
    in each class.
    """
    a = np.asarray(accessibility, dtype=float)
    d = np.asarray(demand, dtype=float)
    labels = np.where(a < threshold, "priority", "above threshold")
    table = pd.DataFrame(
        {
            "class": ["priority", "above threshold"],
            "demand": [float(d[labels == "priority"].sum()), float(d[labels == "above threshold"].sum())],
        }
    )
    table["share"] = table["demand"] / d.sum() if d.sum() > 0 else np.nan
    return labels, table

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

Also here: the inputs of the computation (supply per facility, age-weighted demand, time
bands) and its summaries (by area, priority classes).  Sharing a pool of doctors out with
these figures is :func:`coverage.pool.allocate_pool`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, aligned_values
from coverage.numbers import is_number
from coverage.stats import NO_CODE, area_codes, report_missing_codes

__all__ = [
    "DEFAULT_BANDS",
    "ContinuousDecay",
    "FloatingCatchment",
    "StepDecay",
    "accessibility_by_area",
    "age_weighted_demand",
    "decay_weights",
    "facility_supply",
    "floating_catchment",
    "parse_bands",
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
        if any(b <= a for a, b in pairwise(uppers)) or uppers[0] <= 0 or not all(map(math.isfinite, uppers)):
            raise InputDataError(f"band limits must be positive and increasing, got {uppers}")
        if any(not 0 <= float(w) <= 1 for _, w in self.bands):
            raise InputDataError(f"band weights must be between 0 and 1, got {[w for _, w in self.bands]}")

    @property
    def max_minutes(self) -> float:
        return float(self.bands[-1][0])

    def describe(self) -> dict[str, object]:
        return {"bands": [list(b) for b in self.bands]}

    def __call__(self, minutes: np.ndarray) -> np.ndarray:
        uppers = np.array([u for u, _ in self.bands], dtype=float)
        weights = np.array([w for _, w in self.bands] + [0.0], dtype=float)
        return weights[np.searchsorted(uppers, np.asarray(minutes, dtype=float), side="left")]


#: Continuous decay shapes of :class:`ContinuousDecay`.
DECAY_SHAPES = ("gaussian", "linear")


@dataclass(frozen=True)
class ContinuousDecay:
    """A weight that falls continuously from 1 at 0 minutes to 0 at ``max_minutes``.

    ``"linear"``: ``1 - t / T``.  ``"gaussian"`` (the kernel-density 2SFCA form):
    ``(exp(-t^2 / 2T^2) - exp(-1/2)) / (1 - exp(-1/2))``, flat near 0 and steepest half
    way.  Beyond ``max_minutes`` the weight is 0.
    """

    shape: str
    max_minutes: float

    def __post_init__(self) -> None:
        if self.shape not in DECAY_SHAPES:
            raise InputDataError(f"unknown decay shape {self.shape!r}; expected one of {', '.join(DECAY_SHAPES)}")
        if not (is_number(self.max_minutes) and self.max_minutes > 0):
            raise InputDataError(f"the decay's max_minutes must be a positive number, got {self.max_minutes!r}")

    def __call__(self, minutes: np.ndarray) -> np.ndarray:
        t = np.asarray(minutes, dtype=float) / float(self.max_minutes)
        if self.shape == "linear":
            w = 1.0 - t
        else:
            edge = np.exp(-0.5)
            w = (np.exp(-0.5 * t**2) - edge) / (1.0 - edge)
        return np.where(t <= 1.0, np.clip(w, 0.0, 1.0), 0.0)

    def describe(self) -> dict[str, object]:
        return {"shape": self.shape, "max_minutes": float(self.max_minutes)}


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
        :class:`StepDecay` (:data:`DEFAULT_BANDS` by default), :class:`ContinuousDecay`,
        or any function of minutes returning weights in [0, 1].
    """
    if isinstance(decay, (StepDecay, ContinuousDecay)) and decay.max_minutes > matrix.max_minutes + 1e-9:
        raise InputDataError(
            f"the decay reaches {decay.max_minutes:g} min but the matrix stops at {matrix.max_minutes:g} min"
        )
    s = aligned_values(supply, matrix.site_ids, "supply", rows="sites")
    d = aligned_values(demand, matrix.unit_ids, "demand")
    w = decay_weights(matrix, decay)
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


def decay_weights(matrix: CoverageMatrix, decay: StepDecay | Callable[[np.ndarray], np.ndarray]) -> sp.csr_array:
    """The decay weight of every stored pair of ``matrix`` (same sparsity), checked finite and >= 0."""
    minutes = matrix.minutes
    weights = np.asarray(decay(minutes.data), dtype=float)
    if weights.shape != minutes.data.shape or np.isnan(weights).any() or (weights < 0).any():
        raise InputDataError("the decay must return one non-negative weight per pair")
    return sp.csr_array((weights, minutes.indices, minutes.indptr), shape=minutes.shape)


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
    Units without a code are one row of their own (``area_id`` empty), with a warning.
    """
    levels = levels or {"commune": "commune", "canton": "canton", "epci": "epci", "department": "department"}
    frame = pd.DataFrame({"unit_id": result.unit_ids, "demand": result.demand, "a": result.accessibility})
    columns = [c for c in levels.values() if c in units.columns and c not in frame.columns]
    admin = pd.DataFrame(units[columns]).assign(unit_id=units["unit_id"].astype(str).to_numpy())
    frame = frame.merge(admin, on="unit_id", how="left")
    rows: list[dict[str, object]] = []
    for level, column in levels.items():
        if column not in frame:
            continue
        codes = area_codes(frame[column])
        if codes.isna().all():
            continue
        report_missing_codes(codes, frame["unit_id"], level)
        grouped = frame.groupby(codes.fillna(NO_CODE), sort=True)
        for area_id, group in grouped:
            total = group["demand"].sum()
            mean = float((group["demand"] * group["a"]).sum() / total) if total > 0 else np.nan
            rows.append({"level": level, "area_id": area_id, "demand": total, "accessibility": mean * scale})
    return pd.DataFrame(rows, columns=["level", "area_id", "demand", "accessibility"])


def priority_classes(
    accessibility: Sequence[float] | np.ndarray,
    demand: Sequence[float] | np.ndarray,
    priority_line: float,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Units below ``priority_line`` are *priority* (as the APL's 2.5 consultations per year).

    Returns the class of each unit (``"priority"`` or ``"above threshold"``) and the demand
    in each class.
    """
    a = np.asarray(accessibility, dtype=float)
    d = np.asarray(demand, dtype=float)
    labels = np.where(a < priority_line, "priority", "above threshold")
    table = pd.DataFrame(
        {
            "class": ["priority", "above threshold"],
            "demand": [float(d[labels == "priority"].sum()), float(d[labels == "above threshold"].sum())],
        }
    )
    table["share"] = table["demand"] / d.sum() if d.sum() > 0 else np.nan
    return labels, table


def parse_bands(bands: Sequence[Sequence[float]] | str) -> StepDecay:
    """A :class:`StepDecay` from ``[[10, 1], [15, 0.67], [20, 0.33]]`` or ``"10:1,15:0.67,20:0.33"``."""
    pairs: list[tuple[float, float]] = []
    if isinstance(bands, str):
        for part in bands.split(","):
            if not part.strip():
                continue
            minutes, sep, weight = part.partition(":")
            try:
                pairs.append((float(minutes), float(weight)))
            except ValueError:
                raise InputDataError(
                    f"time band {part.strip()!r}: expected minutes:weight, e.g. 10:1,15:0.67,20:0.33"
                ) from None
            if not sep:
                raise InputDataError(f"time band {part.strip()!r}: expected minutes:weight")
    else:
        for band in bands:
            if isinstance(band, (str, bytes)) or len(band) != 2:
                raise InputDataError(f"time band {band!r}: expected [minutes, weight]")
            try:
                pairs.append((float(band[0]), float(band[1])))
            except (TypeError, ValueError):
                raise InputDataError(f"time band {band!r}: expected two numbers [minutes, weight]") from None
    return StepDecay(tuple(pairs))


# Columns the gap analysis adds to the facilities: not the user's own, so not named as such.
_ANALYSIS_COLUMNS = frozenset(
    {"geometry", "node", "access_minutes", "snap_distance_m", "beyond_max_snap", "shares_node_with"}
)


def facility_supply(
    facilities: pd.DataFrame,
    column: str,
    *,
    default: float | None = None,
    where: str = "facilities",
) -> tuple[pd.Series, pd.Series]:
    """Supply per facility (GPs or full-time equivalents) from a column of the facility input.

    Empty cells take ``default``, with a warning that names how many facilities and which;
    when ``default`` is None it is the median of the stated values.  A missing column is
    a column of empty cells when a ``default`` is given (e.g. the FINESS extraction, which
    has no GP counts), else an error listing the file's own columns.  A cell that is not
    a finite non-negative number is an error naming the facility.  Returns the supply and, for each
    facility, ``"stated"`` or ``"default"`` (both Series indexed by ``facility_id``).
    """
    ids = facilities["facility_id"].astype(str)
    if column not in facilities.columns:
        own = [c for c in facilities.columns if c not in _ANALYSIS_COLUMNS]
        if default is None:
            raise InputDataError(
                f"{where}: no supply column {column!r} (columns: {own}); name the column that holds the GPs, "
                "or give a default supply for every facility"
            )
        logger.warning("%s: no supply column %r; every facility is given the default supply", where, column)
        facilities = facilities.assign(**{column: pd.NA})
    raw = facilities[column]
    text = raw.astype("string").str.strip()
    empty = raw.isna().to_numpy() | (text.fillna("") == "").to_numpy()
    values = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=float)
    bad = ~empty & ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{where}: facility {ids.iloc[first]!r}: {column} = {raw.iloc[first]!r} is not a non-negative number "
            f"({int(bad.sum())} such cells)"
        )
    if empty.any():
        if default is None:
            if empty.all():
                raise InputDataError(
                    f"{where}: the supply column {column!r} is empty for every facility; give a default supply"
                )
            default = float(np.median(values[~empty]))
            how = f"the median of the {int((~empty).sum())} stated values"
        else:
            how = "the default given"
        if not (math.isfinite(default) and default >= 0):
            raise InputDataError(f"the default supply must be a non-negative number, got {default}")
        missing = ids[empty].tolist()
        logger.warning(
            "%s: %d of %d facilities have no %r; each is given %g (%s). Accessibility figures rest on this guess: %s%s",
            where,
            len(missing),
            len(ids),
            column,
            default,
            how,
            ", ".join(missing[:10]),
            "..." if len(missing) > 10 else "",
        )
        values = np.where(empty, default, values)
    index = pd.Index(ids.to_numpy(), name="facility_id")
    return (
        pd.Series(values, index=index, name="supply"),
        pd.Series(np.where(empty, "default", "stated"), index=index, name="supply_source"),
    )


def age_weighted_demand(
    units: pd.DataFrame,
    weights: Mapping[str, float],
    *,
    ages: pd.DataFrame | None = None,
    id_column: str = "unit_id",
    where: str = "age table",
    standard: float | None = None,
) -> pd.Series:
    """Standardised demand: each unit's population weighted by its age-specific consumption.

    ``weights`` maps age columns (counts of people in an age group, in ``ages`` joined on
    ``id_column``, or in ``units`` itself when ``ages`` is None) to the consumption of
    that group (e.g. GP visits per person per year).  A unit's demand is its population
    times the mean weight of its own age structure, rescaled so that the total demand
    equals the total population: a "standardised inhabitant" consumes the territory's
    average.  Units absent from the age table, or with no one in the age columns, are an
    error naming them.  Returns a Series indexed by ``unit_id``, with the consumption of
    the standardised inhabitant in ``attrs["standard"]``.

    ``standard``: that consumption, given (e.g. the territory's, for people around it),
    instead of these units' average: demand is then ``population * mean weight / standard``.
    """
    if not weights:
        raise InputDataError(f"{where}: no age column given a weight")
    for column, weight in weights.items():
        if not (is_number(weight) and weight >= 0):
            raise InputDataError(f"{where}: weight of {column!r} must be a non-negative number, got {weight!r}")
    unit_ids = units["unit_id"].astype(str)
    if ages is None:
        table = pd.DataFrame(units).assign(_key=unit_ids.to_numpy())
    else:
        if id_column not in ages.columns:
            raise InputDataError(f"{where}: no id column {id_column!r}; columns are {list(ages.columns)}")
        table = ages.assign(_key=ages[id_column].astype(str).str.strip())
        duplicated = table["_key"].duplicated()
        if duplicated.any():
            raise InputDataError(f"{where}: {id_column} {table.loc[duplicated, '_key'].iloc[0]!r} appears twice")
        if not table["_key"].isin(set(unit_ids)).any():
            raise InputDataError(f"{where}: no value of {id_column!r} is a unit id (e.g. {unit_ids.iloc[0]!r})")
        table = table.set_index("_key").reindex(unit_ids.to_numpy()).reset_index(names="_key")
    missing = [c for c in weights if c not in table.columns]
    if missing:
        columns = [c for c in table.columns if c != "_key"]
        raise InputDataError(f"{where}: no age column {missing}; columns are {columns}")
    counts = np.column_stack([pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float) for c in weights])
    bad_rows = ~np.isfinite(counts).all(axis=1) | (counts < 0).any(axis=1) | (counts.sum(axis=1) <= 0)
    population = units["population"].to_numpy(dtype=float)
    bad_rows &= population > 0  # nobody to weigh: any structure will do
    if bad_rows.any():
        ids = unit_ids[bad_rows].tolist()
        raise InputDataError(
            f"{where}: {len(ids)} units have no usable age counts "
            f"(absent, empty, not finite, negative or all zero): {ids[:10]}"
        )
    w = np.array([float(v) for v in weights.values()])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_weight = np.where(counts.sum(axis=1) > 0, counts @ w / counts.sum(axis=1), 0.0)
    raw = population * mean_weight
    if standard is not None:
        if not (is_number(standard) and standard > 0):
            raise InputDataError(f"{where}: the standard consumption must be a positive number, got {standard!r}")
        demand = raw / float(standard)
    elif raw.sum() <= 0:
        raise InputDataError(f"{where}: the weighted demand is zero everywhere (all weights zero?)")
    else:
        demand = raw * population.sum() / raw.sum()
        standard = float(raw.sum() / population.sum())
    series = pd.Series(demand, index=pd.Index(unit_ids.to_numpy(), name="unit_id"), name="demand")
    series.attrs["standard"] = float(standard)
    return series

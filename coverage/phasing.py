"""Phasing: in which order to open the chosen sites, year by year.

A plan chooses where; a schedule says how many sites open each year (:class:`Schedule`,
from ``"2023:12,2024:12,2025:13"``, ``"2023-2025"`` or a number per year).
:func:`phase_sites` orders the sites so that the population covered, summed over the
years, is the highest: a multi-period covering problem.  The greedy order (each site
the one that covers most people not yet covered) is the baseline; HiGHS then solves the
multi-period model exactly, started from it, and the answer is certified as the siting
solvers' are: ``"optimal"`` only when the objective, recomputed from the years chosen on
the coverage matrix, meets a proven bound.

The objective counts the people newly covered (beyond the existing sites) at the end of
each year, summed over the years: person-years of new coverage.  The people covered by
the existing sites are the same in every order, so they are left out of it (and of its
gap).
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.siting.exact import _certify, _solve_binary_program
from coverage.siting.greedy import _greedy_order
from coverage.siting.model import _coverage_model
from coverage.siting.result import _prepare, _Problem, _row_units

__all__ = ["PhasedSites", "Schedule", "check_whole", "phase_sites"]

logger = logging.getLogger(__name__)

#: The label of the sites a schedule leaves for after its last year.
LATER = "later"


@dataclass(frozen=True)
class Schedule:
    """How many sites (or doctors) are added each year.

    Attributes
    ----------
    years
        The years' labels, in order (``"2023"``…).
    counts
        How many are added in each year (whole numbers for sites; doctors may be any
        positive number).
    """

    years: tuple[str, ...]
    counts: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.years or len(self.years) != len(self.counts):
            raise InputDataError(
                f"a schedule needs one count per year; got years {self.years} and counts {self.counts}"
            )
        if len(set(self.years)) != len(self.years):
            raise InputDataError(f"a year is listed twice in the schedule: {list(self.years)}")
        bad = [f"{y}:{c}" for y, c in zip(self.years, self.counts, strict=True) if not (math.isfinite(c) and c >= 0)]
        if bad:
            raise InputDataError(f"the schedule's counts must be finite numbers >= 0; got {', '.join(bad)}")
        if all(y.isdigit() for y in self.years) and any(int(a) >= int(b) for a, b in itertools.pairwise(self.years)):
            raise InputDataError(f"the schedule's years must follow each other in order; got {', '.join(self.years)}")

    @property
    def cumulative(self) -> np.ndarray:
        return np.cumsum(np.asarray(self.counts, dtype=float))

    @property
    def total(self) -> float:
        return float(sum(self.counts))

    @classmethod
    def parse(cls, text: str, total: float | None = None) -> Schedule:
        """A schedule from ``"2023:12,2024:12,2025:13"`` (counts per year), from
        ``"2023-2025"`` (``total`` spread as evenly as possible over those years, whole
        numbers, the earlier years taking one more while the remainder lasts), or from
        ``"2024+5"`` (5 a year from 2024 until ``total``: :meth:`per_year`)."""
        text = str(text).strip()
        steady = re.fullmatch(r"(\d{4})\s*\+\s*(\d+(?:\.\d+)?)", text)
        if steady:
            if total is None or not (math.isfinite(total) and total >= 0):
                raise InputDataError(f"the schedule {text!r} spreads a total, and none was given")
            return cls.per_year(float(steady.group(2)), int(steady.group(1)), total)
        span = re.fullmatch(r"(\d{4})\s*-\s*(\d{4})", text)
        if span:
            first, last = int(span.group(1)), int(span.group(2))
            if last < first:
                raise InputDataError(f"the schedule's years run backwards: {text!r}")
            if total is None or not (math.isfinite(total) and total >= 0):
                raise InputDataError(f"the schedule {text!r} spreads a total, and none was given")
            return cls.spread(round(total), [str(y) for y in range(first, last + 1)])
        years, counts = [], []
        for part in filter(None, (p.strip() for p in text.split(","))):
            year, sep, count = part.partition(":")
            try:
                value = float(count)
            except ValueError:
                value = math.nan
            if not sep or not year.strip() or not math.isfinite(value):
                raise InputDataError(
                    f"cannot read the schedule {text!r} at {part!r}: expected YEAR:COUNT,YEAR:COUNT,..., FIRST-LAST "
                    "or FIRST+COUNT"
                )
            years.append(year.strip())
            counts.append(value)
        if not years:
            raise InputDataError("the schedule is empty: expected YEAR:COUNT,YEAR:COUNT,..., FIRST-LAST or FIRST+COUNT")
        return cls(tuple(years), tuple(counts))

    @classmethod
    def spread(cls, total: int, years: Sequence[str]) -> Schedule:
        """``total`` whole items over ``years``, as evenly as possible, earlier years first."""
        n = len(years)
        if n == 0:
            raise InputDataError("a schedule needs at least one year")
        base, extra = divmod(int(total), n)
        return cls(tuple(years), tuple(float(base + (i < extra)) for i in range(n)))

    @classmethod
    def per_year(cls, per_year: float, first_year: int, total: float) -> Schedule:
        """``per_year`` each year from ``first_year`` until ``total`` is reached (the
        last year takes what is left)."""
        if not (math.isfinite(per_year) and per_year > 0):
            raise InputDataError(f"the number per year must be positive, got {per_year}")
        n = max(1, math.ceil(total / per_year - 1e-9))
        counts = [per_year] * (n - 1) + [total - per_year * (n - 1)]
        return cls(tuple(str(first_year + i) for i in range(n)), tuple(float(c) for c in counts))

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.years, self.counts, strict=True))


@dataclass(frozen=True, eq=False)
class PhasedSites:
    """The chosen sites opened year by year (:func:`phase_sites`).

    Attributes
    ----------
    timeline
        One row per site, in opening order: ``year``, ``order``, ``site_id``,
        ``newly_covered`` (people it brings within the threshold when it opens, the
        earlier sites open), ``covered`` and ``share_covered`` (everyone within the
        threshold once it is open, existing sites included).  Sites the schedule has no
        room for get the year ``"later"``.
    by_year
        One row per year: ``year``, ``sites_opened``, ``covered`` and ``share_covered``
        at the end of the year, in the order chosen and in the greedy order.
    objective, greedy_objective
        People newly covered at the end of each year, summed over the years, in the
        order chosen and in the greedy order.
    bound, gap, status
        The proven bound on the objective, the relative gap, and ``"optimal"``,
        ``"feasible"`` or ``"heuristic"`` (no exact solve), as for the siting solvers.
    solver_status
        What HiGHS said, or why it was not run: a record, not a proof.
    """

    threshold_min: float
    schedule: Schedule
    timeline: pd.DataFrame
    by_year: pd.DataFrame
    objective: float
    greedy_objective: float
    bound: float | None
    gap: float | None
    status: str
    solver_status: str
    population_total: float
    population_covered_before: float
    seconds: float


def check_whole(schedule: Schedule) -> None:
    """Refuse a schedule of sites with counts that are not whole numbers."""
    odd = [f"{y}:{c:g}" for y, c in zip(schedule.years, schedule.counts, strict=True) if c != int(c)]
    if odd:
        raise InputDataError(f"sites open whole: the schedule's counts must be whole numbers, got {', '.join(odd)}")


def _yearly_covered(problem: _Problem, opening: np.ndarray, n_years: int) -> np.ndarray:
    """People newly covered at the end of each year, from each site's opening year
    (index into the years; ``n_years`` or more: not open within the schedule)."""
    covered = problem.covered0.copy()
    out = np.zeros(n_years)
    for t in range(n_years):
        for j in np.flatnonzero(opening == t):
            covered[_row_units(problem.cover, int(j))] = True
        out[t] = float(problem.weights[covered & ~problem.covered0].sum())
    return out


def _opening_years(order: Sequence[int], n_sites: int, cumulative: np.ndarray) -> np.ndarray:
    """Opening year of each site when opened in ``order``, as many each year as the
    schedule allows (sites not in ``order``, and those past the schedule: ``len(years)``)."""
    years = np.full(n_sites, len(cumulative), dtype=np.int64)
    for position, j in enumerate(order):
        years[j] = int(np.searchsorted(cumulative, position + 1))  # the first year allowing position + 1 sites
    return years


def phase_sites(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    sites: Sequence[str],
    schedule: Schedule,
    *,
    required: Sequence[str] = (),
    exact: bool = True,
    time_limit_s: float = 30.0,
) -> PhasedSites:
    """Order the chosen ``sites`` over the years of ``schedule`` to cover the most people,
    summed over the years.

    The multi-period model (HiGHS): binary ``x_jt`` (site j open by the end of year t),
    ``x_jt <= x_j,t+1``, ``sum_j x_jt <=`` the sites the schedule allows by year t,
    ``0 <= y_gt <= sum_j a_gj x_jt`` for each group g of units reached by the same sites,
    maximise ``sum_t sum_g w_g y_gt``.  It starts from the greedy order, which is also the
    answer without ``exact``.  The objective is recomputed from the opening years, and
    the answer is ``"optimal"`` only when it meets the proven bound: HiGHS's dual bound,
    or the bound that needs no solver (each year, everyone the sites reach, and the sum of
    the best single gains it allows).  The required sites are open from the start.
    """
    start = time.perf_counter()
    check_whole(schedule)
    site_ids = [str(s) for s in sites]
    if len(set(site_ids)) != len(site_ids):
        raise InputDataError("a site is listed twice among the sites to phase")
    if not site_ids:
        raise InputDataError("there is no site to phase")
    problem = _prepare(matrix, population, threshold_min, required, site_ids)
    # _prepare puts the candidates in the matrix's order: phase in that order, report by id
    n, n_years = len(problem.candidate_ids), len(schedule.years)
    cumulative = np.minimum(schedule.cumulative, n)
    if schedule.total < n:
        logger.warning(
            "the schedule opens %g sites and %d were chosen: %d are left for after %s",
            schedule.total,
            n,
            n - int(schedule.total),
            schedule.years[-1],
        )
    greedy, _ = _greedy_order(problem, n)
    greedy += [j for j in range(n) if j not in set(greedy)]  # sites that add no one, last
    best_years = _opening_years(greedy, n, cumulative)
    greedy_yearly = _yearly_covered(problem, best_years, n_years)
    value = float(greedy_yearly.sum())
    everyone = float(problem.weights[~problem.covered0 & _reached(problem)].sum())
    gains = np.sort(np.asarray(problem.cover.astype(float) @ np.where(problem.covered0, 0.0, problem.weights)))[::-1]
    top = np.concatenate([[0.0], np.cumsum(gains)])
    trivial = float(sum(min(everyone, top[int(c)]) for c in cumulative))
    bound: float | None = None
    status, solver_status = "heuristic", "not run: greedy order only"
    if exact:
        bound, solver_status = trivial, "not needed: the greedy order meets the bound that needs no solver"
        if value < trivial - 1e-9 * max(1.0, trivial):
            years, dual, solver_status = _solve_phasing(problem, cumulative, greedy, start + time_limit_s)
            if years is not None:
                found = float(_yearly_covered(problem, years, n_years).sum())
                if found > value:
                    best_years, value = years, found
            if math.isfinite(dual):
                bound = min(trivial, dual)
        bound, status = _certify(value, bound, trivial, maximize=True)
    gap = None if bound is None else (max(0.0, (bound - value) / bound) if bound > 0 else 0.0)
    before = float(problem.weights[problem.covered0].sum())
    return PhasedSites(
        threshold_min=float(threshold_min),
        schedule=schedule,
        timeline=_timeline(problem, best_years, schedule, before),
        by_year=_by_year(problem, best_years, greedy_yearly, schedule, before),
        objective=value,
        greedy_objective=float(greedy_yearly.sum()),
        bound=bound,
        gap=gap,
        status=status,
        solver_status=solver_status,
        population_total=float(problem.weights.sum()),
        population_covered_before=before,
        seconds=time.perf_counter() - start,
    )


def _reached(problem: _Problem) -> np.ndarray:
    return np.bincount(problem.cover.indices, minlength=len(problem.weights)) > 0


def _solve_phasing(
    problem: _Problem, cumulative: np.ndarray, greedy: list[int], deadline: float
) -> tuple[np.ndarray | None, float, str]:
    """The multi-period model solved by HiGHS from the greedy order: the opening years it
    found (None if none), its dual bound (NaN if none) and its status."""
    open_units = np.flatnonzero(~problem.covered0 & _reached(problem))
    model = _coverage_model(problem, open_units)
    n_x, n_g, n_t = model.n_x, model.n_y, len(cumulative)
    eye_t = sp.identity(n_t, format="csr")
    link = sp.hstack([-sp.kron(eye_t, model.a_xy), sp.identity(n_g * n_t, format="csr")])
    count = sp.hstack([sp.kron(eye_t, np.ones((1, n_x))), sp.csr_array((n_t, n_g * n_t))])
    step = sp.csr_array(sp.eye(n_t - 1, n_t) - sp.eye(n_t - 1, n_t, k=1)) if n_t > 1 else sp.csr_array((0, n_t))
    monotone = sp.hstack([sp.kron(step, sp.identity(n_x)), sp.csr_array((step.shape[0] * n_x, n_g * n_t))])
    a = sp.csc_array(sp.vstack([link, count, monotone]))
    rows = a.shape[0]
    upper = np.concatenate([np.zeros(n_g * n_t), cumulative, np.zeros(step.shape[0] * n_x)])
    # a complete start: x_jt = 1 from the site's greedy year on, y = what those sites cover
    years = _opening_years(greedy, len(problem.candidate_ids), cumulative)
    x = np.concatenate([(years[model.useful] <= t).astype(float) for t in range(n_t)])
    y = np.minimum(1.0, sp.kron(eye_t, model.a_xy) @ x)
    picked, dual, status = _solve_binary_program(
        n_x=n_x * n_t,
        n_y=n_g * n_t,
        cost=np.concatenate([np.zeros(n_x * n_t), np.tile(model.group_weight, n_t)]),
        a=a,
        row_lower=np.full(rows, -np.inf),
        row_upper=upper,
        maximize=True,
        start=np.concatenate([x, y]),
        time_limit_s=max(0.05, deadline - time.perf_counter()),
        mip_rel_gap=0.0,
    )
    if not picked.any():
        return None, dual, status
    opened = picked.reshape(n_t, n_x)
    found = np.full(len(problem.candidate_ids), n_t, dtype=np.int64)
    first = np.where(opened.any(axis=0), opened.argmax(axis=0), n_t)
    found[model.useful] = first
    # our own check of the solver's answer: nested and within the schedule each year
    counts = np.array([(found <= t).sum() for t in range(n_t)])
    if (counts > cumulative + 1e-9).any():
        logger.warning("HiGHS's phasing opens more sites than the schedule allows; the greedy order is kept")
        return None, math.nan, status
    return _fill(found, cumulative), dual, status


def _fill(years: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """Sites left unopened (adding no one) put in the earliest years with room, so the
    schedule is followed as given; the objective does not change."""
    years = years.copy()
    n_t = len(cumulative)
    for j in np.flatnonzero(years >= n_t):
        counts = np.array([(years <= t).sum() for t in range(n_t)])
        room = np.flatnonzero(np.logical_and.accumulate((counts < cumulative - 1e-9)[::-1])[::-1])
        if len(room):  # the earliest year from which every later year has room too
            years[j] = int(room[0])
    return years


def _timeline(problem: _Problem, years: np.ndarray, schedule: Schedule, before: float) -> pd.DataFrame:
    n_t = len(schedule.years)
    covered = problem.covered0.copy()
    rows = []
    total = float(problem.weights.sum())
    order = sorted(range(len(years)), key=lambda j: (years[j], j))
    # within a year, the sites in the order of their gains (greedy among that year's sites)
    ordered: list[int] = []
    for t in range(n_t + 1):
        these = [j for j in order if years[j] == t]
        sub = _Problem(
            cover=problem.cover[np.asarray(these, dtype=np.int64)],
            weights=problem.weights,
            covered0=covered.copy(),
            candidate_ids=problem.candidate_ids[np.asarray(these, dtype=np.int64)],
            required_ids=problem.required_ids,
        )
        first, _ = _greedy_order(sub, len(these))
        ranked = [these[i] for i in first] + [j for i, j in enumerate(these) if i not in set(first)]
        for j in ranked:
            covered[_row_units(problem.cover, j)] = True
        ordered += ranked
    covered = problem.covered0.copy()
    now = before
    for position, j in enumerate(ordered, start=1):
        units = _row_units(problem.cover, j)
        gain = float(problem.weights[units[~covered[units]]].sum())
        covered[units] = True
        now += gain
        rows.append(
            {
                "year": schedule.years[years[j]] if years[j] < n_t else LATER,
                "order": position,
                "site_id": str(problem.candidate_ids[j]),
                "newly_covered": gain,
                "covered": now,
                "share_covered": now / total if total else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=["year", "order", "site_id", "newly_covered", "covered", "share_covered"])


def _by_year(
    problem: _Problem, years: np.ndarray, greedy_yearly: np.ndarray, schedule: Schedule, before: float
) -> pd.DataFrame:
    n_t = len(schedule.years)
    chosen = _yearly_covered(problem, years, n_t)
    total = float(problem.weights.sum())
    share = (lambda v: v / total) if total else (lambda v: v * math.nan)
    return pd.DataFrame(
        {
            "year": list(schedule.years),
            "sites_opened": [int((years == t).sum()) for t in range(n_t)],
            "covered": before + chosen,
            "share_covered": share(before + chosen),
            "covered_greedy_order": before + greedy_yearly,
            "share_covered_greedy_order": share(before + greedy_yearly),
        }
    )

"""The result every siting solver returns, and the problem they all start from.

:class:`SitingResult` holds the sites a solver chose and what they achieve.  The private
helpers here turn a coverage matrix, a population and the required (existing) and
candidate sites into the candidates-by-units coverage that the solvers work on, and
check the number of sites asked for.  :func:`covered_population` counts the population
within a threshold of a set of sites.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix, aligned_values

__all__ = ["SitingResult", "covered_population"]


@dataclass(frozen=True)
class SitingResult:
    """The sites a solver chose and what they achieve.

    Attributes
    ----------
    solver
        ``"mclp-greedy"``, ``"mclp-swap"`` (greedy, then exchanges), ``"mclp-exact"``,
        ``"mclp-budget-exact"``, ``"mclp-budget-greedy"`` (within a budget),
        ``"lscp-greedy"``, ``"lscp-exact"``, ``"pmedian-greedy"``.
    threshold_min
        The coverage threshold (None for p-median).
    required
        Ids of the sites kept open (the existing facilities).
    sites
        Ids of the new sites, in the order chosen (greedy) or by decreasing marginal
        gain (exact).
    marginal
        Gain of each new site when added in that order: population newly covered
        (MCLP, LSCP) or person-minutes saved (p-median).
    population_total
        Population of every unit in the matrix.
    population_covered_before, population_covered_after
        Population within the threshold of a required site, and of a required or new
        site (p-median: within the matrix's largest threshold).
    objective_value
        The solver's objective: population covered (MCLP), number of new sites
        (LSCP), population-weighted mean minutes (p-median).
    bound
        Best bound on the objective proven by the exact solver (None for heuristics).
    gap
        Relative gap between ``objective_value`` and ``bound`` (0: proven optimal;
        None: not known, as for heuristics).
    status
        Ours, never the solver's label: ``"optimal"`` when the objective, recomputed from
        the chosen sites on the coverage matrix, meets the proven ``bound``;
        ``"feasible"`` when an exact solver stopped (time limit) or could not prove it,
        with its ``gap``; ``"heuristic"`` for an answer with no bound (greedy);
        ``"nothing to gain"`` when no candidate covers anyone new; ``"infeasible"`` when
        no set of sites meets the target asked (:func:`~coverage.siting.fewest_sites`),
        with the units beyond every site in ``uncoverable``.
    seconds
        Time taken by the solver.
    uncoverable
        Units that no site reaches within the threshold.  The LSCP covers every other
        unit and reports these (its status is about the units it can cover); a
        fewest-sites target they make unreachable is ``"infeasible"``.
    sites_requested
        The k asked for (None for LSCP).  Fewer sites are returned when the others
        would add nobody.
    sites_bound
        When the answer is the fewest sites that reach a coverage (the second step of
        :func:`~coverage.siting.lexicographic.most_then_fewest`): the proven least number
        of new sites that reach it; None otherwise.
    solver_status
        What the solver itself said (``"HiGHS: Optimal"``, ``"HiGHS: Time limit
        reached"``), or why none was run; a record, not a proof.
    """

    solver: str
    threshold_min: float | None
    required: tuple[str, ...]
    sites: tuple[str, ...]
    marginal: tuple[float, ...]
    population_total: float
    population_covered_before: float
    population_covered_after: float
    objective_value: float
    bound: float | None
    gap: float | None
    status: str
    seconds: float
    uncoverable: tuple[str, ...] = field(default=())
    sites_requested: int | None = None
    solver_status: str = ""
    sites_bound: float | None = None

    @property
    def population_newly_covered(self) -> float:
        return self.population_covered_after - self.population_covered_before

    @property
    def share_covered_before(self) -> float:
        return self.population_covered_before / self.population_total if self.population_total else math.nan

    @property
    def share_covered_after(self) -> float:
        return self.population_covered_after / self.population_total if self.population_total else math.nan

    def table(self) -> pd.DataFrame:
        """One row per new site: rank, id, marginal gain, cumulative population covered."""
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(self.sites) + 1),
                "site_id": list(self.sites),
                "marginal_gain": list(self.marginal),
                "solver": self.solver,
            }
        )


# ---------------------------------------------------------------- problem preparation


@dataclass(frozen=True)
class _Problem:
    cover: sp.csr_array  # candidates x units, bool, at the threshold
    weights: np.ndarray  # population per unit
    covered0: np.ndarray  # bool per unit: covered by a required site
    candidate_ids: np.ndarray
    required_ids: tuple[str, ...]


def _population(matrix: CoverageMatrix, population: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    return aligned_values(population, matrix.unit_ids, "population")


def _split_sites(
    matrix: CoverageMatrix, required: Sequence[str], candidates: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    required = [str(r) for r in required]
    req_rows = matrix.rows(required) if required else np.empty(0, dtype=np.int64)
    if candidates is None:
        cand_rows = np.setdiff1d(np.arange(len(matrix.site_ids)), req_rows)
    else:
        cand_rows = np.setdiff1d(matrix.rows([str(c) for c in candidates]), req_rows)
    if len(cand_rows) == 0:
        raise InputDataError("the candidate list is empty: there is no site to choose from")
    return req_rows, cand_rows


def _prepare(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    required: Sequence[str],
    candidates: Sequence[str] | None,
) -> _Problem:
    weights = _population(matrix, population)
    req_rows, cand_rows = _split_sites(matrix, required, candidates)
    cover_all = matrix.covers(threshold_min)
    covered0 = np.zeros(len(weights), dtype=bool)
    if len(req_rows):
        covered0[cover_all[req_rows].indices] = True
    return _Problem(
        cover=cover_all[cand_rows],
        weights=weights,
        covered0=covered0,
        candidate_ids=matrix.site_ids[cand_rows],
        required_ids=tuple(str(r) for r in required),
    )


def _row_units(cover: sp.csr_array, j: int) -> np.ndarray:
    return cover.indices[cover.indptr[j] : cover.indptr[j + 1]]


def _check_k(k: int, n_candidates: int) -> None:
    if k < 0:
        raise InputDataError(f"the number of new sites must be >= 0, got {k}")
    if k > n_candidates:
        raise InputDataError(
            f"{k} new sites requested but there are only {n_candidates} candidates; "
            "add candidates or ask for fewer sites"
        )


def covered_population(
    matrix: CoverageMatrix,
    population: Sequence[float] | np.ndarray | pd.Series,
    threshold_min: float,
    site_ids: Sequence[str],
) -> float:
    """Population within ``threshold_min`` of at least one of ``site_ids``."""
    weights = _population(matrix, population)
    if not len(site_ids):
        return 0.0
    rows = matrix.covers(threshold_min)[matrix.rows([str(s) for s in site_ids])]
    covered = np.zeros(len(weights), dtype=bool)
    covered[rows.indices] = True
    return float(weights[covered].sum())

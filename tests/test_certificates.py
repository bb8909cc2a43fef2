"""An answer is called optimal only with a proof (issue 11, first part).

The exact solvers' status is ours: ``"optimal"`` only when the objective recomputed from
the chosen sites meets the bound the solver proved; the solver's own word is kept apart.
Cases where the easy answer is wrong (greedy beaten), brute force on small instances, an
independent MILP (PuLP + CBC) on larger ones, a solver that lies, and the regional case
that HiGHS got wrong (25 sites labelled optimal where 21 suffice).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
import scipy.sparse as sp

import coverage.siting.exact
from coverage.matrix import CoverageMatrix
from coverage.siting import (
    covered_population,
    fewest_sites,
    lscp,
    mclp_exact,
    mclp_greedy,
    most_then_fewest,
    p_median,
)

T = 5.0  # minutes; every stored pair below is at 1 minute, so "stored" means "covered"


def matrix_from_sets(cover: dict[str, set[int]], n_units: int) -> CoverageMatrix:
    """Sites covering the given unit numbers (at 1 minute), units ``u0``…"""
    dense = np.full((len(cover), n_units), np.inf)
    for row, units in enumerate(cover.values()):
        dense[row, sorted(units)] = 1.0
    rows, cols = np.nonzero(np.isfinite(dense))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[0]))]).astype(np.int64)
    return CoverageMatrix(
        site_ids=np.asarray(list(cover), dtype=object),
        unit_ids=np.asarray([f"u{i}" for i in range(n_units)], dtype=object),
        minutes=sp.csr_array((dense[rows, cols], cols.astype(np.int32), indptr), shape=dense.shape),
        max_minutes=10.0,
    )


# Six units.  A covers four of them, so greedy takes it first and then needs B and C for
# u4 and u5: three sites.  B and C alone cover all six: two suffice.
GREEDY_TRAP = {"A": {0, 1, 2, 3}, "B": {0, 1, 4}, "C": {2, 3, 5}}


def test_lscp_beats_the_greedy_cover_and_proves_it() -> None:
    matrix = matrix_from_sets(GREEDY_TRAP, 6)
    greedy = lscp(matrix, [1.0] * 6, T, exact=False)
    exact = lscp(matrix, [1.0] * 6, T)
    assert len(greedy.sites) == 3 and greedy.status == "heuristic"
    assert sorted(exact.sites) == ["B", "C"]
    assert exact.status == "optimal" and exact.bound == 2 and exact.gap == 0
    assert exact.population_covered_after == 6


def test_mclp_beats_greedy_and_proves_it() -> None:
    matrix = matrix_from_sets(GREEDY_TRAP, 6)
    greedy = mclp_greedy(matrix, [1.0] * 6, T, 2)
    exact = mclp_exact(matrix, [1.0] * 6, T, 2)
    assert greedy.population_covered_after == 5  # A, then B or C
    assert sorted(exact.sites) == ["B", "C"] and exact.population_covered_after == 6
    assert exact.status == "optimal" and exact.bound == pytest.approx(6) and exact.gap == 0


def test_required_sites_count_before_and_are_never_chosen() -> None:
    # an existing facility covering u4 and u5: now A alone completes the cover
    cover = {**GREEDY_TRAP, "kept": {4, 5}}
    matrix = matrix_from_sets(cover, 6)
    exact = lscp(matrix, [1.0] * 6, T, required=["kept"])
    assert exact.sites == ("A",) and exact.status == "optimal" and exact.bound == 1
    best = mclp_exact(matrix, [1.0] * 6, T, 1, required=["kept"])
    assert best.sites == ("A",) and best.population_covered_before == 2 and best.population_covered_after == 6


def brute_force_mclp(matrix: CoverageMatrix, weights: np.ndarray, k: int, required: Sequence[str]) -> float:
    sites = [s for s in matrix.site_ids if s not in required]
    return max(
        covered_population(matrix, weights, T, [*required, *combo]) for combo in itertools.combinations(sites, k)
    )


def brute_force_lscp(matrix: CoverageMatrix, required: Sequence[str]) -> int:
    """Fewest candidates covering every unit some site reaches."""
    ones = np.ones(len(matrix.unit_ids))
    reachable = covered_population(matrix, ones, T, list(matrix.site_ids))
    sites = [s for s in matrix.site_ids if s not in required]
    for n in range(len(sites) + 1):
        for combo in itertools.combinations(sites, n):
            if covered_population(matrix, ones, T, [*required, *combo]) == reachable:
                return n
    raise AssertionError("unreachable")


@pytest.mark.parametrize("seed", range(12))
def test_exact_solvers_equal_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_sites, n_units = 9, 14
    cover = {f"s{j}": set(np.flatnonzero(rng.random(n_units) < 0.25).tolist()) for j in range(n_sites)}
    matrix = matrix_from_sets(cover, n_units)
    weights = rng.integers(1, 50, n_units).astype(float)
    required = [f"s{j}" for j in range(seed % 3)]
    for k in (1, 2, 3):
        exact = mclp_exact(matrix, weights, T, k, required=required)
        assert exact.population_covered_after == pytest.approx(brute_force_mclp(matrix, weights, k, required))
        assert exact.status in ("optimal", "nothing to gain")
        assert exact.population_covered_after == pytest.approx(
            covered_population(matrix, weights, T, [*required, *exact.sites])
        )
    cover_all = lscp(matrix, weights, T, required=required)
    assert len(cover_all.sites) == brute_force_lscp(matrix, required)
    assert cover_all.status == "optimal"


def test_most_people_then_fewest_sites() -> None:
    matrix = matrix_from_sets(GREEDY_TRAP, 6)
    # three allowed, two cover everyone: the answer is two, proven
    answer = most_then_fewest(matrix, [1.0] * 6, T, 3)
    assert sorted(answer.sites) == ["B", "C"] and answer.population_covered_after == 6
    assert answer.status == "optimal" and answer.sites_bound == 2 and answer.sites_requested == 3
    # when not everyone can be reached: F alone covers what any two sites can (u2 is out of reach)
    partial = matrix_from_sets({"D": {0}, "E": {1}, "F": {0, 1}, "G": set()}, 3)
    answer = most_then_fewest(partial, [5.0, 7.0, 100.0], T, 2)
    assert answer.sites == ("F",) and answer.population_covered_after == 12 and answer.status == "optimal"


def test_a_target_beyond_reach_is_infeasible_and_names_the_units() -> None:
    # u2 (100 people) is beyond every site: at most 12 of 112 can be within T
    partial = matrix_from_sets({"D": {0}, "E": {1}, "F": {0, 1}, "G": set()}, 3)
    answer = fewest_sites(partial, [5.0, 7.0, 100.0], T, 13.0)
    assert answer.status == "infeasible" and answer.sites == () and answer.uncoverable == ("u2",)
    assert answer.population_covered_after == 0 and answer.gap is None
    reachable = fewest_sites(partial, [5.0, 7.0, 100.0], T, 12.0)
    assert reachable.status == "optimal" and reachable.sites == ("F",) and reachable.uncoverable == ()


def brute_force_fewest(matrix: CoverageMatrix, weights: np.ndarray, target: float, required: Sequence[str]) -> int:
    sites = [s for s in matrix.site_ids if s not in required]
    for n in range(len(sites) + 1):
        for combo in itertools.combinations(sites, n):
            if covered_population(matrix, weights, T, [*required, *combo]) >= target - 1e-9:
                return n
    raise AssertionError("target out of reach")


@pytest.mark.parametrize("seed", range(10))
def test_fewest_sites_equal_brute_force(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    n_sites, n_units = 9, 12
    cover = {f"s{j}": set(np.flatnonzero(rng.random(n_units) < 0.3).tolist()) for j in range(n_sites)}
    matrix = matrix_from_sets(cover, n_units)
    weights = rng.integers(1, 40, n_units).astype(float)
    required = [f"s{j}" for j in range(seed % 2)]
    for k in (1, 2, 3):
        best = brute_force_mclp(matrix, weights, k, required)
        answer = most_then_fewest(matrix, weights, T, k, required=required)
        assert answer.population_covered_after == pytest.approx(best)
        assert len(answer.sites) == brute_force_fewest(matrix, weights, best, required)
        assert answer.status in ("optimal", "nothing to gain")
    reachable = covered_population(matrix, weights, T, list(matrix.site_ids))
    target = 0.6 * reachable
    fewest = fewest_sites(matrix, weights, T, target, required=required)
    assert len(fewest.sites) == brute_force_fewest(matrix, weights, target, required)
    assert fewest.population_covered_after >= target and fewest.status == "optimal"


class LyingSolver:
    """Stands in for HiGHS: hands back the start it was given, says "Optimal", and
    proves a bound ``bound_shift`` better than that start (what HiGHS 1.16 did with
    presolve on: the start, with the true optimum as its bound).  With ``worse``, it hands
    back one site only and gives its objective as the bound."""

    def __init__(self, bound_shift: float, worse: bool = False) -> None:
        self.bound_shift = bound_shift
        self.worse = worse

    def __call__(
        self, *, n_x: int, cost: np.ndarray, start: np.ndarray, maximize: bool, **_: object
    ) -> tuple[np.ndarray, float, str]:
        x = np.asarray(start[:n_x]) > 0.5
        objective = float(cost @ start)
        if self.worse:
            x = np.zeros(n_x, dtype=bool)
            x[0] = True
            return x, 0.0 if maximize else 1.0, "HiGHS: Optimal"
        return x, objective + self.bound_shift if maximize else objective - self.bound_shift, "HiGHS: Optimal"


@pytest.fixture
def mip_alone(monkeypatch: pytest.MonkeyPatch, no_lagrangian_bound: None) -> None:
    """The exchanges and Lagrangian bounds switched off, so that the MIP step alone
    decides (they solve GREEDY_TRAP before the MIP is called)."""
    monkeypatch.setattr(
        coverage.siting.exact, "_improve_cover", lambda problem, chosen, k, **_: (list(chosen), 0, True)
    )
    monkeypatch.setattr(coverage.siting.exact, "_set_cover_bound", lambda *args, **kwargs: 0.0)


@pytest.mark.usefixtures("mip_alone")
def test_a_solver_that_returns_its_start_is_not_taken_at_its_word(monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = matrix_from_sets(GREEDY_TRAP, 6)
    monkeypatch.setattr(coverage.siting.exact, "_solve_binary_program", LyingSolver(bound_shift=1.0))
    cover_all = lscp(matrix, [1.0] * 6, T)
    assert len(cover_all.sites) == 3  # the greedy cover, handed back
    assert cover_all.solver_status.endswith("HiGHS: Optimal")
    assert cover_all.status == "feasible" and cover_all.bound == 2 and cover_all.gap == pytest.approx(1 / 3)
    best = mclp_exact(matrix, [1.0] * 6, T, 2)
    assert best.status == "feasible" and best.population_covered_after == 5
    assert best.bound is not None and best.bound > best.population_covered_after


@pytest.mark.usefixtures("mip_alone")
def test_an_answer_worse_than_greedy_is_never_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = matrix_from_sets(GREEDY_TRAP, 6)
    monkeypatch.setattr(coverage.siting.exact, "_solve_binary_program", LyingSolver(bound_shift=0.0, worse=True))
    greedy = mclp_greedy(matrix, [1.0] * 6, T, 2)
    best = mclp_exact(matrix, [1.0] * 6, T, 2)
    assert best.population_covered_after == greedy.population_covered_after == 5
    # a bound of 0 under an answer of 5 is false: replaced by everyone reachable (6), not met
    assert best.status == "feasible" and best.bound == 6
    cover_all = lscp(matrix, [1.0] * 6, T)
    assert len(cover_all.sites) == 3  # the liar's one site does not cover everyone: the greedy cover stays
    assert cover_all.status == "feasible" and cover_all.bound == 1


@pytest.mark.filterwarnings("ignore:Constructing LpVariable:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:PULP_CBC_CMD is deprecated:DeprecationWarning")
@pytest.mark.parametrize("seed", range(4))
def test_lscp_is_minimal_against_an_independent_milp(seed: int) -> None:
    pulp = pytest.importorskip("pulp")
    rng = np.random.default_rng(100 + seed)
    n_sites, n_units = 250, 900
    present = rng.random((n_sites, n_units)) < 0.012
    matrix = matrix_from_sets({f"s{j}": set(np.flatnonzero(present[j]).tolist()) for j in range(n_sites)}, n_units)
    required = [f"s{j}" for j in range(5)]
    ours = lscp(matrix, np.ones(n_units), T, required=required)

    reached = present.any(axis=0) & ~present[:5].any(axis=0)
    model = pulp.LpProblem("lscp", pulp.LpMinimize)
    x = {j: pulp.LpVariable(f"x{j}", cat="Binary") for j in range(5, n_sites)}
    model += pulp.lpSum(x.values())
    for i in np.flatnonzero(reached):
        model += pulp.lpSum(x[j] for j in np.flatnonzero(present[5:, i]) + 5) >= 1
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=60))
    assert pulp.LpStatus[model.status] == "Optimal"
    assert len(ours.sites) == round(pulp.value(model.objective))
    assert ours.status == "optimal"
    assert (
        covered_population(matrix, np.ones(n_units), T, [*required, *ours.sites])
        == reached.sum() + present[:5].any(axis=0).sum()
    )


@pytest.mark.regional
def test_regional_cover_is_the_proven_minimum(data_dir: object) -> None:
    """The case HiGHS got wrong: on the regional data, with the 85 listed facilities kept,
    22 new town-hall sites bring everyone within 20 minutes (25 were returned, labelled
    optimal, when the town halls stood where the table put them and 21 sufficed); within
    15 minutes, 62 (then 59; 70 were returned).  The minima were checked with PuLP + CBC
    on the same matrices (2026-12-01: 22 and 62 with the town halls moved into their
    communes, 21 and 59 without), and the curve of the exact MCLP reaches everyone at 22
    sites, not at 21."""
    import coverage as cov
    from coverage.candidates import candidates_from_units, communes_with_facility, exclude_candidates
    from coverage.planning import plan_sites

    inputs = cov.load_regional_inputs(data_dir)  # type: ignore[arg-type]
    result = cov.analyse(inputs.graph, inputs.facilities, inputs.units, cov.AnalysisConfig(isochrones=False))
    candidates = exclude_candidates(
        candidates_from_units(result.units), communes=communes_with_facility(result.facilities, result.units)
    )
    plan = plan_sites(result, candidates, threshold_min=20, solver="lscp", workers=1)
    s = plan.selection
    assert len(s.sites) == 22 and s.status == "optimal" and s.bound == 22 and s.gap == 0
    assert s.population_covered_after == s.population_total  # everyone is reachable within 20 min
    curve = plan.curve.set_index("k")
    assert curve.loc[21, "population_covered_exact"] < s.population_total  # 21 sites do not suffice
    assert curve.loc[21, "status_exact"] == "optimal"
    required = list(result.facilities["facility_id"].astype(str))
    population = result.units.set_index(result.units["unit_id"].astype(str))["population"]
    within_15 = lscp(plan.matrix, population, 15.0, required=required)
    assert len(within_15.sites) == 62 and within_15.status == "optimal"
    # the demo's question: at most 40 new sites (125 structures), the most people, then the
    # fewest sites: 21, not the 26 or 27 a maximal cover happens to use
    mesh = plan_sites(result, candidates, threshold_min=20, k=40, workers=1, exact_curve=False)
    assert len(mesh.selection.sites) == 22 and mesh.selection.sites_bound == 22
    assert mesh.selection.status == "optimal" and mesh.selection.population_covered_after == s.population_total
    # the p-median of 10 new sites, proven, and never worse than the greedy + exchanges start
    median = plan_sites(result, candidates, threshold_min=20, k=10, solver="pmedian", workers=1, exact_curve=False)
    start = p_median(
        plan.matrix, population, result.units["minutes_to_nearest"].to_numpy(), 10, required=required, exact=False
    )
    assert median.selection.status == "optimal" and median.selection.gap == 0
    assert median.selection.objective_value <= start.objective_value + 1e-9
    assert median.selection.bound == pytest.approx(median.selection.objective_value)


class FailingHighs:
    """A HiGHS that runs, then says it failed (a solve error)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def getModelStatus(self) -> object:  # noqa: N802 (HiGHS's name)
        import highspy

        return highspy.HighsModelStatus.kSolveError


@pytest.mark.usefixtures("mip_alone")
def test_a_solver_error_keeps_the_heuristic_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    real = coverage.siting.exact._highs
    monkeypatch.setattr(coverage.siting.exact, "_highs", lambda *args: FailingHighs(real(*args)))
    matrix = matrix_from_sets(GREEDY_TRAP, 6)
    best = mclp_exact(matrix, [1.0] * 6, T, 2)
    assert best.population_covered_after == 5 and best.status == "feasible"  # greedy's, no proof
    assert best.bound == 6 and "Solve error" in best.solver_status  # everyone reachable: no solver needed
    cover_all = lscp(matrix, [1.0] * 6, T)
    assert len(cover_all.sites) == 3 and cover_all.status == "feasible" and cover_all.bound == 1

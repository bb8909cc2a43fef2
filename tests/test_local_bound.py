"""Strong answers fast (issue 11, third part): exchanges after the greedy, and the
Lagrangian bound with the candidates it rules out.

Every expected value comes from brute force over all sets of sites (itertools) or from
an independent LP solve (``scipy.optimize.linprog``), never from the code under test.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import matrix_from_dense
from scipy.optimize import linprog

import coverage.siting.exact as exact_module
from coverage.errors import InputDataError
from coverage.siting import covered_population, mclp_exact, mclp_greedy, mclp_local_search
from coverage.siting.lagrange import _lagrangian_bound

T = 5.0


def random_case(seed: int, n_sites: int = 9, n_units: int = 40, density: float = 0.18) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    present = rng.random((n_sites, n_units)) < density
    weights = rng.integers(1, 60, n_units).astype(float)
    return present, weights


def brute_best(present: np.ndarray, weights: np.ndarray, k: int, sites: list[int] | None = None) -> float:
    """Most people covered by k of ``sites`` (default: every site)."""
    pool = range(present.shape[0]) if sites is None else sites
    best = 0.0
    for combo in itertools.combinations(pool, k):
        best = max(best, float(weights[present[list(combo)].any(axis=0)].sum()))
    return best


# Six units of weight 1.  Greedy takes A (four units) then B or C: 5.  B and C cover all six.
GREEDY_TRAP = np.array(
    [
        [1, 1, 1, 1, 0, 0],  # A
        [1, 1, 0, 0, 1, 0],  # B
        [0, 0, 1, 1, 0, 1],  # C
    ],
    dtype=bool,
)


def test_exchanges_escape_the_greedy_trap() -> None:
    matrix = matrix_from_dense(GREEDY_TRAP)
    greedy = mclp_greedy(matrix, [1.0] * 6, T, 2)
    swapped = mclp_local_search(matrix, [1.0] * 6, T, 2)
    assert greedy.population_covered_after == 5
    assert swapped.population_covered_after == 6 and sorted(swapped.sites) == ["s1", "s2"]
    assert swapped.solver == "mclp-swap" and swapped.status == "heuristic" and swapped.bound is None
    assert "local optimum" in swapped.solver_status


@pytest.mark.parametrize("seed", range(12))
def test_exchanges_end_at_a_local_optimum_never_below_their_start(seed: int) -> None:
    present, weights = random_case(seed)
    matrix = matrix_from_dense(present)
    required = ["s0"] if seed % 2 else []
    k = 3
    greedy = mclp_greedy(matrix, weights, T, k, required=required)
    result = mclp_local_search(matrix, weights, T, k, required=required)
    assert result.population_covered_after >= greedy.population_covered_after
    assert result.population_covered_after == pytest.approx(
        covered_population(matrix, weights, T, [*required, *result.sites])
    )
    # no exchange of one chosen site for one other candidate covers more (checked one by one)
    chosen = [int(s[1:]) for s in result.sites]
    others = [j for j in range(present.shape[0]) if j not in chosen and f"s{j}" not in required]
    fixed = present[[int(r[1:]) for r in required]].any(axis=0) if required else np.zeros(present.shape[1], bool)
    value = float(weights[fixed | present[chosen].any(axis=0)].sum())
    assert value == pytest.approx(result.population_covered_after)
    for position, j in itertools.product(range(len(chosen)), others):
        trial = [*chosen[:position], j, *chosen[position + 1 :]]
        assert float(weights[fixed | present[trial].any(axis=0)].sum()) <= value + 1e-9


def test_exchanges_from_given_start_sites_and_free_slots() -> None:
    matrix = matrix_from_dense(GREEDY_TRAP)
    # a start of one site with room for two: the free slot is filled, then exchanged
    result = mclp_local_search(matrix, [1.0] * 6, T, 2, start_sites=["s0"])
    assert result.population_covered_after == 6
    with pytest.raises(InputDataError, match="not candidates"):
        mclp_local_search(matrix, [1.0] * 6, T, 2, start_sites=["nowhere"])
    with pytest.raises(InputDataError, match="at most 1"):
        mclp_local_search(matrix, [1.0] * 6, T, 1, start_sites=["s1", "s2"])


def lp_relaxation(present: np.ndarray, weights: np.ndarray, k: int) -> float:
    """max sum w_i y_i, y_i <= sum_j a_ij x_j, sum x <= k, 0 <= x, y <= 1 (scipy's HiGHS LP)."""
    n, m = present.shape
    cost = np.concatenate([np.zeros(n), -weights])
    link = np.hstack([-present.T.astype(float), np.eye(m)])
    budget = np.concatenate([np.ones(n), np.zeros(m)])[None, :]
    res = linprog(cost, A_ub=np.vstack([link, budget]), b_ub=np.concatenate([np.zeros(m), [k]]), bounds=(0, 1))
    assert res.status == 0
    return float(-res.fun)


@pytest.mark.parametrize("seed", range(10))
def test_lagrangian_bound_lies_between_the_lp_bound_and_a_little_above_it(seed: int) -> None:
    present, weights = random_case(seed, n_sites=10, n_units=60)
    if seed % 2:  # fractional populations: no rounding of the bound
        weights = weights + np.random.default_rng(seed).random(len(weights))
    k = 3
    optimum = brute_best(present, weights, k)
    relaxed = _lagrangian_bound(sp.csr_array(present.T.astype(float)), weights, k, 0.0, max_iterations=3000)
    lp = lp_relaxation(present, weights, k)
    # any multipliers give a bound no lower than the LP's, which is no lower than the optimum;
    # with whole-number populations the bound is rounded down, to no less than the optimum
    floor_lp = math.floor(lp + 1e-9) if seed % 2 == 0 else lp
    assert relaxed.bound >= floor_lp - 1e-6 and floor_lp >= optimum - 1e-6
    if seed % 2 == 0:
        assert relaxed.bound == math.floor(relaxed.bound)
    assert relaxed.bound <= lp * 1.02  # the subgradient steps get close to the LP bound
    # the relaxed answer is a set of k sites, and its coverage is what it says
    assert len(relaxed.best_sites) == k
    assert relaxed.best_value == pytest.approx(float(weights[present[relaxed.best_sites].any(axis=0)].sum()))


@pytest.mark.parametrize("seed", range(25))
def test_candidates_ruled_out_cannot_beat_the_incumbent(seed: int) -> None:
    """Lagrangian fixing checked by brute force: every answer that uses a candidate it
    excludes (or leaves out one it forces) covers no more than the bound it reports for
    them, and that bound is below the incumbent."""
    present, weights = random_case(seed, n_sites=10, n_units=50, density=0.12)
    k = 3
    optimum = brute_best(present, weights, k)
    relaxed = _lagrangian_bound(sp.csr_array(present.T.astype(float)), weights, k, optimum, max_iterations=3000)
    out, forced, rest = relaxed.fixing(k, optimum)
    assert rest < optimum or not (out.any() or forced.any())
    for j in np.flatnonzero(out):
        others = [i for i in range(present.shape[0]) if i != j]
        with_j = max(
            float(weights[present[[j, *combo]].any(axis=0)].sum()) for combo in itertools.combinations(others, k - 1)
        )
        assert with_j <= rest + 1e-6 and with_j < optimum
    for j in np.flatnonzero(forced):
        without_j = brute_best(present, weights, k, [i for i in range(present.shape[0]) if i != j])
        assert without_j <= rest + 1e-6 and without_j < optimum


def test_fixing_happens_on_instances_with_clear_winners() -> None:
    """Not a vacuous check: on these instances the bound rules candidates out."""
    excluded = 0
    for seed in range(25):
        present, weights = random_case(seed, n_sites=10, n_units=50, density=0.12)
        optimum = brute_best(present, weights, 3)
        relaxed = _lagrangian_bound(sp.csr_array(present.T.astype(float)), weights, 3, optimum, max_iterations=3000)
        excluded += int(relaxed.fixing(3, optimum)[0].sum())
    assert excluded >= 25


@pytest.fixture(params=["with the Lagrangian bound", "HiGHS alone"])
def lagrangian(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both paths of the exact MCLP: the Lagrangian bound, fixing and dominance before
    HiGHS, or HiGHS alone on the whole model (the bound switched off)."""
    used = request.param == "with the Lagrangian bound"
    if not used:
        request.getfixturevalue("no_lagrangian_bound")
        monkeypatch.setattr(exact_module, "_dominated", lambda a, keep: np.zeros(a.shape[1], dtype=bool))
    return used


def test_exact_equals_brute_force_where_the_lp_bound_is_not_tight(lagrangian: bool) -> None:
    """Instances whose LP bound is above the optimum: the Lagrangian bound alone cannot
    prove the answer, so the reduced MIP must."""
    checked = 0
    reduced = 0
    for seed in range(40):
        present, weights = random_case(200 + seed, n_sites=12, n_units=70, density=0.15)
        k = 3
        optimum = brute_best(present, weights, k)
        if lp_relaxation(present, weights, k) <= optimum + 0.5:
            continue
        checked += 1
        result = mclp_exact(matrix_from_dense(present), weights, T, k)
        assert result.population_covered_after == pytest.approx(optimum)
        assert result.status == "optimal" and result.gap == 0 and result.bound == pytest.approx(optimum)
        assert "HiGHS" in result.solver_status
        assert ("Lagrangian bound after 0 " not in result.solver_status) == lagrangian
        reduced += "excluded" in result.solver_status or "dominated" in result.solver_status
    assert checked >= 8
    assert reduced >= 4 or not lagrangian  # the reductions happened, and the answers stayed optimal


def test_the_lagrangian_bound_alone_can_prove_an_answer() -> None:
    proven = 0
    for seed in range(40):
        present, weights = random_case(200 + seed, n_sites=12, n_units=70, density=0.15)
        if lp_relaxation(present, weights, 3) > brute_best(present, weights, 3) + 0.5:
            continue  # a tight LP bound: the Lagrangian bound (rounded down) can meet the optimum
        result = mclp_exact(matrix_from_dense(present), weights, T, 3)
        assert result.status == "optimal" and result.population_covered_after == brute_best(present, weights, 3)
        proven += result.solver_status.endswith(" met")
    assert proven >= 5


def test_a_time_limited_solve_is_never_below_the_exchanges(lagrangian: bool) -> None:
    present, weights = random_case(7, n_sites=200, n_units=3000, density=0.02)
    matrix = matrix_from_dense(present)
    swapped = mclp_local_search(matrix, weights, T, 15)
    result = mclp_exact(matrix, weights, T, 15, time_limit_s=0.5)
    assert result.population_covered_after >= swapped.population_covered_after - 1e-9
    assert result.bound is not None and result.bound >= result.population_covered_after
    # with the Lagrangian bound, a real one in any time: below "everyone a candidate reaches"
    reachable = float(weights[present.any(axis=0)].sum())
    assert result.bound < reachable or not lagrangian
    if result.status != "optimal":
        assert result.gap == pytest.approx((result.bound - result.population_covered_after) / result.bound)


@pytest.mark.parametrize("seed", range(15))
def test_dominated_candidates_are_never_needed(seed: int) -> None:
    """Each candidate left out reaches only units another candidate reaches (checked with
    Python sets), the first of equal candidates stays unless another reaches strictly
    more, and the best k of the others cover as many as the best k of all (brute force)."""
    from coverage.siting.exact import _dominated

    rng = np.random.default_rng(300 + seed)
    present = rng.random((10, 12)) < 0.25
    present[3] = present[5]  # two equal candidates
    present[7] = present[5] & (rng.random(12) < 0.5)  # one inside them
    weights = rng.integers(1, 50, 12).astype(float)
    dominated = _dominated(sp.csc_array(present.T.astype(float)), np.zeros(10, dtype=bool))
    sets = [set(np.flatnonzero(row)) for row in present]
    for j in np.flatnonzero(dominated):
        assert any(d != j and sets[j] <= sets[d] and (sets[j] < sets[d] or d < j) for d in range(10))
    # of the equal 3 and 5, one stays unless a third candidate reaches strictly more
    assert dominated[5] and (not dominated[3] or any(sets[5] < sets[d] for d in range(10)))
    assert dominated[7] or sets[7] == sets[5]
    kept = [j for j in range(10) if not dominated[j]]
    for k in (1, 2, 3):
        assert brute_best(present, weights, min(k, len(kept)), kept) == brute_best(present, weights, min(k, len(kept)))
    # a site of the best answer known is never left out
    assert not _dominated(sp.csc_array(present.T.astype(float)), np.arange(10) == 7)[7]


@pytest.mark.parametrize("seed", range(10))
def test_set_cover_bound_lies_between_the_lp_bound_and_the_optimum(seed: int) -> None:
    from coverage.siting.lagrange import _set_cover_bound

    rng = np.random.default_rng(400 + seed)
    rows = rng.random((40, 12)) < 0.2
    rows[np.arange(40), rng.integers(0, 12, 40)] = True  # every row coverable
    lp = linprog(np.ones(12), A_ub=-rows.astype(float), b_ub=-np.ones(40), bounds=(0, 1))
    optimum = next(
        n for n in range(13) for combo in itertools.combinations(range(12), n) if rows[:, list(combo)].any(axis=1).all()
    )
    bound = _set_cover_bound(sp.csr_array(rows.astype(float)), 12.0, max_iterations=1000)
    assert bound == math.floor(bound)
    assert math.ceil(lp.fun - 1e-9) - 1 <= bound <= optimum  # close to the LP bound, never above the optimum


def test_a_stopped_lscp_keeps_the_lagrangian_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS stopped with nothing (no sites, no bound): the greedy cover stays, and its
    gap is measured against the Lagrangian bound, not against one site."""
    from coverage.siting import lscp

    def stopped(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.zeros(int(kwargs["n_x"]), dtype=bool), math.nan, "HiGHS: Time limit reached"  # type: ignore[call-overload]

    monkeypatch.setattr(exact_module, "_solve_binary_program", stopped)
    # six disjoint pairs of units, each pair reached by its own two sites, plus s12 reaching
    # one unit of every pair.  Greedy takes s12 (6 units), then one site per pair: 7.  By
    # hand, each pair needs a site of its own: at least 6 (and 6 suffice).
    present = np.zeros((13, 12), dtype=bool)
    for pair in range(6):
        present[2 * pair, [2 * pair, 2 * pair + 1]] = True
        present[2 * pair + 1, [2 * pair, 2 * pair + 1]] = True
    present[12, ::2] = True
    result = lscp(matrix_from_dense(present), np.ones(12), T)
    assert len(result.sites) == 7 and result.bound == 6
    assert result.status == "feasible" and result.gap == pytest.approx(1 / 7)
    assert result.solver_status == "Lagrangian bound 6; HiGHS: Time limit reached"


def test_relaxed_answers_kept_as_starts_are_distinct_and_best_first() -> None:
    present, weights = random_case(11, n_sites=12, n_units=80, density=0.15)
    relaxed = _lagrangian_bound(sp.csr_array(present.T.astype(float)), weights, 3, 0.0, max_iterations=500)
    assert 2 <= len(relaxed.starts) <= 8
    values = [float(weights[present[list(s)].any(axis=0)].sum()) for s in relaxed.starts]
    assert values == sorted(values, reverse=True) and values[0] == relaxed.best_value
    assert len({tuple(sorted(s)) for s in relaxed.starts}) == len(relaxed.starts)
    assert all(len(set(s.tolist())) == 3 for s in relaxed.starts)

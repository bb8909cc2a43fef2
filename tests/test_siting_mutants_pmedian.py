"""Tests that kill the mutants cosmic-ray left alive in the p-median (coverage/siting/pmedian.py).

Expected values are worked out by hand on tiny instances (see each docstring) or by brute
force over all sets of sites (:func:`brute_mean`); none is read off the code's output.
"""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest
import scipy.sparse as sp

import coverage.siting.pmedian as pmedian_module
from coverage.matrix import CoverageMatrix
from coverage.siting import p_median

INF = np.inf


def matrix_of(dense: np.ndarray, max_minutes: float = 30.0) -> CoverageMatrix:
    """Sites ``s0``… x units ``u0``… from a dense table of minutes (inf: beyond the matrix)."""
    rows, cols = np.nonzero(np.isfinite(dense))
    minutes = sp.csr_array((dense[rows, cols], (rows, cols)), shape=dense.shape)
    minutes.sort_indices()
    return CoverageMatrix(
        site_ids=np.asarray([f"s{i}" for i in range(dense.shape[0])], dtype=object),
        unit_ids=np.asarray([f"u{i}" for i in range(dense.shape[1])], dtype=object),
        minutes=minutes,
        max_minutes=max_minutes,
    )


def brute_mean(dense: np.ndarray, weights: np.ndarray, current: np.ndarray, sites: list[int]) -> float:
    """Population-weighted mean of min(today, chosen sites) over the units reached today."""
    times = np.fmin.reduce(np.vstack([current, dense[sites]]), axis=0) if sites else current
    reach = ~np.isnan(current)
    return float((weights[reach] * times[reach]).sum() / weights[reach].sum())


def brute_best(dense: np.ndarray, weights: np.ndarray, current: np.ndarray, k: int) -> float:
    return min(brute_mean(dense, weights, current, list(c)) for c in itertools.combinations(range(len(dense)), k))


def spy(monkeypatch: pytest.MonkeyPatch, name: str, seen: list[dict[str, object]]) -> None:
    """Record the keyword arguments of each call of pmedian.<name>, then call it."""
    real = getattr(pmedian_module, name)

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pmedian_module, name, recording)


# Six candidates, five units (found by a random search where the exchanges matter; the
# expected optimum is brute force).  k = 3.
SIX_BY_FIVE = np.array(
    [
        [10.0, INF, INF, 8.0, INF],
        [INF, 5.0, 6.0, INF, INF],
        [INF, INF, 2.0, INF, 0.0],
        [INF, INF, INF, 0.0, 1.0],
        [3.0, INF, 11.0, INF, 10.0],
        [8.0, 10.0, 2.0, 9.0, INF],
    ]
)
SIX_BY_FIVE_WEIGHTS = np.array([4.0, 9.0, 9.0, 7.0, 9.0])
SIX_BY_FIVE_TODAY = np.array([11.0, 11.0, 13.0, 9.0, 7.0])


def test_the_exchanges_reach_the_optimum_past_sites_slower_elsewhere() -> None:
    """A candidate slower than the current answer for some units saves nothing there
    (not a negative saving): the exchanges reach the brute-force optimum."""
    best = brute_best(SIX_BY_FIVE, SIX_BY_FIVE_WEIGHTS, SIX_BY_FIVE_TODAY, 3)
    result = p_median(matrix_of(SIX_BY_FIVE), SIX_BY_FIVE_WEIGHTS, SIX_BY_FIVE_TODAY, 3, exact=False)
    assert result.objective_value == pytest.approx(best)
    assert result.objective_value == pytest.approx(
        brute_mean(SIX_BY_FIVE, SIX_BY_FIVE_WEIGHTS, SIX_BY_FIVE_TODAY, [int(s[1:]) for s in result.sites])
    )


def test_two_passes_of_exchanges_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most swap_passes (2) x k exchanges: 6 for k = 3."""
    seen: list[dict[str, object]] = []
    spy(monkeypatch, "_exchanges", seen)
    p_median(matrix_of(SIX_BY_FIVE), SIX_BY_FIVE_WEIGHTS, SIX_BY_FIVE_TODAY, 3, exact=False)
    assert [call["max_moves"] for call in seen] == [6]


def frozen_clock(monkeypatch: pytest.MonkeyPatch, at: float = 1000.0) -> None:
    monkeypatch.setattr(pmedian_module, "time", types.SimpleNamespace(perf_counter=lambda: at))


def weak_solver(dual: float) -> object:
    """A MIP solver that finds no sites and proves only ``dual`` person-minutes saved."""

    def solve(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.zeros(int(kwargs["n_x"]), dtype=bool), dual, "HiGHS: stub"  # type: ignore[call-overload]

    return solve


# Two units of 10 people, 10 min from today's facility.  m (s0) serves both at 4 min
# (saves 120 person-minutes), p (s1) serves u0 at 0 (saves 100), q (s2) serves u1 at 1
# (90).  With k = 2 the greedy takes m, then p (+40; q +30): minutes 0 and 4, mean 2
# (160 saved); the optimum {p, q} has minutes 0 and 1, mean 0.5 (190 saved).
HAND = np.array([[4.0, 4.0], [0.0, INF], [INF, 1.0]])
HAND_WEIGHTS = np.array([10.0, 10.0])
HAND_TODAY = np.array([10.0, 10.0])


def test_the_gap_is_on_the_mean_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Greedy only (no exchanges): {m, p}, 160 person-minutes saved, mean 40/20 = 2.  A
    solver that finds nothing but proves 180 saved at most (below the bound that needs no
    solver, 100 + 90 = 190): the mean is at least (200 - 180)/20 = 1, so the gap is
    (2 - 1)/2 = 1/2, not proven."""
    monkeypatch.setattr(pmedian_module, "_solve_binary_program", weak_solver(180.0))
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, 2, swap_passes=0)
    assert sorted(result.sites) == ["s0", "s1"] and result.objective_value == pytest.approx(2.0)
    assert result.status == "feasible" and result.bound == pytest.approx(1.0) and result.gap == pytest.approx(0.5)


def test_p_median_seconds_is_the_time_between_start_and_end(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_clock(monkeypatch)
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, 2)
    assert result.seconds == 0.0


def test_no_candidate_nearer_than_today_needs_no_solver() -> None:
    """Both candidates are exactly as near as today (5 min): none saves anyone."""
    dense = np.array([[5.0, INF], [INF, 5.0]])
    result = p_median(matrix_of(dense), [1.0, 1.0], [5.0, 5.0], 1)
    assert result.sites == () and result.objective_value == 5.0
    assert result.solver_status == "not needed: no candidate is nearer than today"
    assert result.status == "optimal"


def test_the_greedy_stops_when_the_next_site_saves_nothing() -> None:
    """s0 serves u0 at 1 min, s1 at 2 (today 10): after s0, s1 saves nothing, so with
    room for two only s0 is taken."""
    dense = np.array([[1.0], [2.0]])
    result = p_median(matrix_of(dense), [1.0], [10.0], 2, swap_passes=0, exact=False)
    assert result.sites == ("s0",) and result.objective_value == 1.0


def test_the_mip_start_sends_each_unit_to_its_best_start_site(monkeypatch: pytest.MonkeyPatch) -> None:
    """Greedy only: the start is {m, p}.  Pairs (site-major): m-u0 (60), m-u1 (60), p-u0
    (100), q-u1 (90); columns x_m, x_p, x_q, then one z per pair.  u0 goes to p (100 >
    60), u1 to m: start x = (1, 1, 0), z = (0, 1, 1, 0)."""
    seen: list[dict[str, object]] = []
    spy(monkeypatch, "_solve_binary_program", seen)
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, 2, swap_passes=0)
    assert np.asarray(seen[0]["start"]).tolist() == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    assert seen[0]["mip_rel_gap"] == 0.0 and seen[0]["time_limit_s"] == 60.0  # a proven optimum, a minute
    assert sorted(result.sites) == ["s1", "s2"] and result.status == "optimal"


def test_no_one_reached_today_gives_no_mean() -> None:
    """Every unit is unreached today (NaN): no mean, and nothing to solve."""
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, [np.nan, np.nan], 1)
    assert np.isnan(result.objective_value) and result.status == "heuristic" and result.bound is None


def random_pmedian(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A small random instance: minutes (inf: beyond), weights (some 0), today (some NaN), k."""
    rng = np.random.default_rng(seed)
    n_sites, n_units = int(rng.integers(4, 8)), int(rng.integers(4, 9))
    dense = np.where(rng.random((n_sites, n_units)) < 0.55, rng.integers(0, 12, (n_sites, n_units)), INF)
    weights = rng.integers(0, 6, n_units).astype(float) * (rng.random(n_units) < 0.85)
    today = rng.integers(3, 15, n_units).astype(float)
    today[rng.random(n_units) < 0.15] = np.nan
    return dense.astype(float), weights, today, int(rng.integers(2, 4))


@pytest.mark.parametrize("scale", [1.0, 0.2])
@pytest.mark.parametrize("seed", range(40))
def test_the_exchanges_end_at_a_one_swap_local_optimum(seed: int, scale: float) -> None:
    """From the last k candidates, the exchanges never raise the mean and end where no
    exchange of one chosen site for one candidate lowers it (every exchange tried by
    brute force); with whole weights and with weights of a person or less (scale 0.2)."""
    from coverage.siting.pmedian import _exchanges

    dense, weights, today, k = random_pmedian(seed)
    weights = weights * scale
    reach = ~np.isnan(today)
    if weights[reach].sum() == 0:
        pytest.skip("no one reached today")
    chosen = list(range(len(dense) - k, len(dense)))  # the last k candidates: many exchanges to make
    cand = sp.csr_array(matrix_of(dense).minutes)
    w = np.where(reach, weights, 0.0)
    sites = _exchanges(cand, w, today, list(chosen), max_moves=50)
    mean = brute_mean(dense, weights, today, sites)
    assert len(set(sites)) == len(sites) == len(chosen)
    assert mean <= brute_mean(dense, weights, today, chosen) + 1e-9
    for r in range(len(sites)):
        for j in set(range(len(dense))) - set(sites):
            other = [*sites[:r], j, *sites[r + 1 :]]
            assert brute_mean(dense, weights, today, other) >= mean - 1e-9, (sites, other)


def test_the_number_of_exchanges_is_named() -> None:
    from coverage.siting.pmedian import _exchanges

    cand = sp.csr_array(matrix_of(HAND).minutes)
    assert sorted(_exchanges(cand, HAND_WEIGHTS, HAND_TODAY, [0, 1], max_moves=5)) == [1, 2]
    with pytest.raises(TypeError):
        _exchanges(cand, HAND_WEIGHTS, HAND_TODAY, [0, 1], 5)  # type: ignore[misc]


def test_p_median_takes_its_options_by_keyword_only() -> None:
    matrix = matrix_of(HAND)
    result = p_median(matrix=matrix, population=HAND_WEIGHTS, current_minutes=HAND_TODAY, k=2)
    assert sorted(result.sites) == ["s1", "s2"]
    with pytest.raises(TypeError):
        p_median(matrix, HAND_WEIGHTS, HAND_TODAY, 2, ["s0"])  # type: ignore[misc]


def test_one_pass_of_exchanges_is_made() -> None:
    """swap_passes = 1 allows k = 2 exchanges: one (m for q) reaches {p, q}, mean 0.5."""
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, 2, swap_passes=1, exact=False)
    assert sorted(result.sites) == ["s1", "s2"] and result.objective_value == pytest.approx(0.5)


def test_a_site_saving_less_than_a_person_minute_is_taken() -> None:
    """u0 has half a person, 2 min from today's facility; s0 serves it at 1: it saves 0.5
    person-minutes, and is taken."""
    result = p_median(matrix_of(np.array([[1.0]])), [0.5], [2.0], 1, exact=False)
    assert result.sites == ("s0",) and result.objective_value == 1.0


def test_the_bound_that_needs_no_solver_is_the_k_best_sites_alone(caplog: pytest.LogCaptureFixture) -> None:
    """Three sites each serving its own unit, saving 30, 20 and 10 person-minutes; k = 2:
    the best is 30 + 20 = 50, exactly the bound of the two best alone, which proves it
    without any warning of a false bound."""
    dense = np.array([[0.0, INF, INF], [INF, 0.0, INF], [INF, INF, 0.0]])
    with caplog.at_level("WARNING", logger="coverage.siting"):
        result = p_median(matrix_of(dense), [3.0, 2.0, 1.0], [10.0, 10.0, 10.0], 2)
    assert sorted(result.sites) == ["s0", "s1"] and result.status == "optimal"
    assert result.bound == pytest.approx(10.0 / 6.0)  # (60 - 50) / 6
    assert not caplog.records


@pytest.mark.parametrize(("k", "solved"), [(0, False), (1, True)])
def test_the_mip_runs_for_any_k_above_zero(k: int, solved: bool) -> None:
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, k)
    assert ("HiGHS" in result.solver_status) == solved
    assert result.status == "optimal"


def test_an_exchange_saving_less_than_the_tolerance_is_not_made() -> None:
    """Two units of 1,000 people, 1,000 min from today's facility (2e6 person-minutes:
    the exchanges' tolerance is 1e-9 of that, 2e-3).  m serves both at 1 min, p u0 at 0,
    q u1 at 0.9999999.  Greedy: m, then p (+1,000; q +1e-4).  Exchanging m for q saves
    1,000 x 1e-7 = 1e-4 person-minutes: below the tolerance, so it is not made."""
    dense = np.array([[1.0, 1.0], [0.0, INF], [INF, 0.9999999]])
    result = p_median(matrix_of(dense, 2000.0), [1000.0, 1000.0], [1000.0, 1000.0], 2, exact=False)
    assert sorted(result.sites) == ["s0", "s1"]


def test_covered_counts_only_units_within_the_matrix_limit() -> None:
    """max_minutes 5: today every unit is 10 min away (none within 5).  With {p, q}, u0 is
    at 0 and u1 at 1 (20 people within 5 min); u2 (7 people), which no site serves, stays
    at 10, beyond."""
    dense = np.array([[4.0, 4.0, INF], [0.0, INF, INF], [INF, 1.0, INF]])
    result = p_median(matrix_of(dense, 5.0), [10.0, 10.0, 7.0], [10.0, 10.0, 10.0], 2)
    assert sorted(result.sites) == ["s1", "s2"]
    assert result.population_covered_before == 0.0 and result.population_covered_after == 20.0


def test_a_solver_answer_that_only_ties_does_not_replace_the_heuristic(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0 and s1 both serve u0 at 1 min (today 10): the greedy takes s0.  A solver that
    answers s1 (the same mean) does not replace it."""

    def other(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([False, True]), 9.0, "HiGHS: stub"

    monkeypatch.setattr(pmedian_module, "_solve_binary_program", other)
    result = p_median(matrix_of(np.array([[1.0], [1.0]])), [1.0], [10.0], 1)
    assert result.sites == ("s0",) and result.status == "optimal"


def test_more_than_256_sites_are_never_more_than_k() -> None:
    """300 candidates, each serving its own unit (saving 9, 8.99, ...): k = 257 sites."""
    n = 300
    dense = np.full((n, n), INF)
    np.fill_diagonal(dense, 1.0 + np.arange(n) / 100)
    result = p_median(matrix_of(dense), np.ones(n), np.full(n, 10.0), 257, swap_passes=0, exact=False)
    assert len(result.sites) == 257 and result.sites[:2] == ("s0", "s1")


def test_a_solver_answer_with_more_than_k_sites_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """k = 1 on HAND (greedy: m, mean 4); a solver that hands back all three sites (more
    than k) is not taken, and proves nothing beyond the one-site bound."""

    def every(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.ones(int(kwargs["n_x"]), dtype=bool), 190.0, "HiGHS: stub"  # type: ignore[call-overload]

    monkeypatch.setattr(pmedian_module, "_solve_binary_program", every)
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, 1)
    assert result.sites == ("s0",) and result.objective_value == pytest.approx(4.0)


def test_the_lazy_greedy_compares_a_refreshed_gain_with_the_best_waiting() -> None:
    """Four units of 1 person, 10 min from today's facility.  s0 serves u0, u1 at 0 (saves
    20), s1 u0 at 0 and u2 at 7 (13 alone), s2 u1 at 5 and u3 at 6 (9 alone), s3 u3 at 9
    (1).  After s0, s1 saves only 3 and s2 still 4: the greedy takes s2 (minutes 0, 0,
    10, 6: mean 4), the best pair by brute force."""
    dense = np.array([[0.0, 0.0, INF, INF], [0.0, INF, 7.0, INF], [INF, 5.0, INF, 6.0], [INF, INF, INF, 9.0]])
    ones, today = np.ones(4), np.full(4, 10.0)
    result = p_median(matrix_of(dense), ones, today, 2, swap_passes=0, exact=False)
    assert result.sites == ("s0", "s2") and result.objective_value == 4.0
    assert brute_best(dense, ones, today, 2) == 4.0


def test_a_proven_answer_has_no_gap_even_after_rounding() -> None:
    """One unit, 0.7 min today, 0.1 with s0: 0.7 - (0.7 - 0.1) is not 0.1 in floats, but
    the proven answer's gap is exactly 0."""
    result = p_median(matrix_of(np.array([[0.1]])), [1.0], [0.7], 1)
    assert result.status == "optimal" and result.gap == 0.0

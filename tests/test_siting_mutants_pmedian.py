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
from conftest import spy_calls

import coverage.siting.pmedian as pmedian_module
from coverage.errors import InputDataError
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
    spy_calls(monkeypatch, pmedian_module, name, seen)


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


def test_a_refreshed_gain_1e_9_below_the_next_key_is_taken() -> None:
    """The lazy greedy takes a refreshed site unless it saves more than 1e-9 less than the
    best one waiting (so float noise does not reorder it).  Today 10 min for all; u0 (4
    people) served by c at 0 and a at 9, u1 (1 person) by a at 9, u2 (x = 1 + 1e-9 people)
    by b at 9.  Keys: c 40, a 5, b x.  After c, a saves 1 exactly, and x - 1e-9 is 1 in
    floats: a is taken, not pushed back behind b (which would give {c, b})."""
    x = 1.0 + 1e-9
    assert x - 1e-9 == 1.0
    dense = np.array([[0.0, INF, INF], [9.0, 9.0, INF], [INF, INF, 9.0]])  # c, a, b
    result = p_median(matrix_of(dense), [4.0, 1.0, x], np.full(3, 10.0), 2, swap_passes=0, exact=False)
    assert result.sites == ("s0", "s1")


def test_an_exchange_saving_exactly_the_tolerance_is_not_made() -> None:
    """An exchange must save more than 1e-9 of today's person-minutes, and at least 1e-9
    person-minutes (a tolerance that keeps float noise from moving sites).  One unit of
    1e-9 people 2 min from today's facility (2e-18 person-minutes: the tolerance is then
    1e-9); s0 serves it at 2, s1 at 1.  Exchanging s0 for s1 saves 1e-9 x (2 - 1) = 1e-9,
    the tolerance exactly: not made."""
    cand = sp.csr_array(np.array([[2.0], [1.0]]))
    sites = pmedian_module._exchanges(cand, np.array([1e-9]), np.array([2.0]), [0], max_moves=1)
    assert sites == [0]
    # with 1.5e-9 people the saving (1.5e-9) is above it: made
    sites = pmedian_module._exchanges(cand, np.array([1.5e-9]), np.array([2.0]), [0], max_moves=1)
    assert sites == [1]


def test_a_proven_answer_has_no_gap_even_after_rounding() -> None:
    """One unit, 0.7 min today, 0.1 with s0: 0.7 - (0.7 - 0.1) is not 0.1 in floats, but
    the proven answer's gap is exactly 0."""
    result = p_median(matrix_of(np.array([[0.1]])), [1.0], [0.7], 1)
    assert result.status == "optimal" and result.gap == 0.0


def moving_clock(monkeypatch: pytest.MonkeyPatch, start: float, end: float) -> None:
    """The module's clock reads ``start`` at its first call and ``end`` after."""
    reads = iter([start])
    monkeypatch.setattr(pmedian_module, "time", types.SimpleNamespace(perf_counter=lambda: next(reads, end)))


def test_p_median_seconds_is_the_end_less_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock reads 5 s at the start and 12 s at the end: 7 s (not 12 mod 5 = 2)."""
    moving_clock(monkeypatch, 5.0, 12.0)
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, 2, exact=False)
    assert result.seconds == 7.0


def test_the_gap_is_on_the_mean_not_on_its_whole_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """HAND with a third unit u2 of 5 people, 10 min away, that no site serves: pop 25,
    total today 250.  Greedy only: {m, p}, 160 saved, 90 person-minutes left, mean 3.6.  A
    solver that proves 180 saved at most (the bound needing no solver is 190): the mean is
    at least (250 - 180)/25 = 2.8, the gap (3.6 - 2.8)/3.6 = 2/9 (not (3 - 2.8)/3)."""
    dense = np.array([[4.0, 4.0, INF], [0.0, INF, INF], [INF, 1.0, INF]])
    monkeypatch.setattr(pmedian_module, "_solve_binary_program", weak_solver(180.0))
    result = p_median(matrix_of(dense), [10.0, 10.0, 5.0], [10.0, 10.0, 10.0], 2, swap_passes=0)
    assert sorted(result.sites) == ["s0", "s1"] and result.objective_value == pytest.approx(3.6)
    assert result.status == "feasible" and result.bound == pytest.approx(2.8)
    assert result.gap == pytest.approx(2.0 / 9.0)


def test_a_solver_answer_worse_than_the_heuristic_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """k = 1 on HAND: the greedy takes m (saves 120: mean 80/20 = 4).  A solver that hands
    back p (saves 100: mean 5) and proves 120 at most is not followed: the answer stays m,
    proven (120 saved meets the bound 120)."""

    def worse(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([False, True, False]), 120.0, "HiGHS: stub"

    monkeypatch.setattr(pmedian_module, "_solve_binary_program", worse)
    result = p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, 1)
    assert result.sites == ("s0",) and result.objective_value == pytest.approx(4.0)
    assert result.status == "optimal"


def test_an_exchange_is_not_charged_for_a_unit_the_new_site_serves_beyond_its_fallback() -> None:
    """HAND (u0, u1: 10 people, 10 min today) with u2 (1 person, 10 min today) that m
    serves at 4, p at 5 and q at 50 (beyond today).  Alone m saves 60 + 60 + 6 = 126, p
    100 + 5, q 90; after m, p saves 40 and q 30: greedy {m, p}, 0 + 40 + 4 = 44
    person-minutes.  Exchanging m for q: u1 goes from 4 to 1 (-30), u2 falls back from 4
    to p's 5 (+1): 15 person-minutes, saving 29.  q being at 50 for u2 (beyond u2's
    fallback, 5) costs nothing more: the exchange is made.  Then no exchange saves
    (by hand: m back for q costs 29, m for p costs 39).  {p, q} is the best pair
    (brute force): mean 15/21."""
    dense = np.array([[4.0, 4.0, 4.0], [0.0, INF, 5.0], [INF, 1.0, 50.0]])
    weights, today = np.array([10.0, 10.0, 1.0]), np.full(3, 10.0)
    result = p_median(matrix_of(dense, 60.0), weights, today, 2, exact=False)
    assert result.sites == ("s1", "s2") and result.objective_value == pytest.approx(15.0 / 21.0)
    assert brute_best(dense, weights, today, 2) == pytest.approx(15.0 / 21.0)


@pytest.mark.parametrize(
    ("dense", "weights", "today"),
    [
        (np.array([[7.0]]), [1.0], [5.0]),  # slower than today: saves no one
        (np.array([[1.0, INF]]), [0.0, 1.0], [5.0, 5.0]),  # nearer only for a unit of no one
    ],
    ids=["slower-than-today", "nearer-for-no-one"],
)
def test_no_solver_when_no_candidate_saves_anyone(dense: np.ndarray, weights: list[float], today: list[float]) -> None:
    """s0 is either slower than today's 5 min for its only unit, or nearer (1 min) only
    for a unit of 0 people: no one saves anything, the answer (no site, mean 5) needs no
    solver."""
    result = p_median(matrix_of(dense), weights, today, 1)
    assert result.sites == () and result.objective_value == 5.0 and result.status == "optimal"
    assert result.solver_status == "not needed: no candidate is nearer than today"


# Four units of 1 person, 20 min from today's facility.  h (s0) serves all at 4 (saves
# 64); a (s1) u0, u1 at 0 (40), b (s2) u2, u3 at 0 (40), d (s3) u0, u2 at 0 and u1 at
# 3.5 (56.5).  Greedy, k = 3: h; then d saves 4 + 4 + 0.5 = 8.5 (a, b 8): d; then b 4
# (a 3.5): b.  Minutes 0, 3.5, 0, 0: mean 0.875, while {a, b} alone has everyone at 0.
TRAP = np.array([[4.0, 4.0, 4.0, 4.0], [0.0, 0.0, INF, INF], [INF, INF, 0.0, 0.0], [0.0, 3.5, 0.0, INF]])
TRAP_WEIGHTS = np.ones(4)
TRAP_TODAY = np.full(4, 20.0)


def test_a_solver_answer_of_fewer_than_k_sites_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """TRAP, k = 3, greedy only: {h, d, b}, mean 0.875.  A solver that hands back {a, b}
    (two sites, fewer than k; everyone at 0) and proves 80 saved: that answer is taken,
    proven optimal (80 saved, everything there was)."""
    greedy = p_median(matrix_of(TRAP), TRAP_WEIGHTS, TRAP_TODAY, 3, swap_passes=0, exact=False)
    assert greedy.sites == ("s0", "s3", "s2") and greedy.objective_value == 0.875

    def pair(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([False, True, True, False]), 80.0, "HiGHS: stub"

    monkeypatch.setattr(pmedian_module, "_solve_binary_program", pair)
    result = p_median(matrix_of(TRAP), TRAP_WEIGHTS, TRAP_TODAY, 3, swap_passes=0)
    assert sorted(result.sites) == ["s1", "s2"] and result.objective_value == 0.0
    assert result.status == "optimal"


def test_covered_counts_units_exactly_at_the_matrix_limit() -> None:
    """max_minutes 5: u0 (2 people) is 5 min away today, u1 (3) 10 min; s0 serves u1 at 5.
    Within 5 min: 2 people before, 5 after (both units at exactly 5)."""
    result = p_median(matrix_of(np.array([[INF, 5.0]]), 5.0), [2.0, 3.0], [5.0, 10.0], 1)
    assert result.sites == ("s0",)
    assert result.population_covered_before == 2.0 and result.population_covered_after == 5.0


def test_below_one_person_an_exchange_needs_to_save_one_billionth() -> None:
    """One unit of 1.5e-9 people, 2 min today (3e-9 person-minutes in all: the tolerance
    is 1e-9 x max(1, 3e-9) = 1e-9).  s0, chosen, is as near as today (2 min: serves no
    one better); s1 is at 1 min.  Exchanging s0 for s1 saves 1.5e-9 x 1 = 1.5e-9
    person-minutes, above 1e-9: it is made."""
    from coverage.siting.pmedian import _exchanges

    cand = sp.csr_array(matrix_of(np.array([[2.0], [1.0]])).minutes)
    assert _exchanges(cand, np.array([1.5e-9]), np.array([2.0]), [0], max_moves=1) == [1]


def test_the_pairs_are_frozen() -> None:
    """The pairs handed to the MIP cannot be changed on the way."""
    import dataclasses

    from coverage.siting.pmedian import _Pairs

    cand = sp.csr_array(matrix_of(HAND).minutes)
    pairs = _Pairs.of(cand, HAND_TODAY, HAND_WEIGHTS, np.array([True, True]))
    assert pairs.site.tolist() == [0, 0, 1, 2] and pairs.saving.tolist() == [60.0, 60.0, 100.0, 90.0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        pairs.n_units = 3  # type: ignore[misc]


def test_the_lazy_greedy_takes_a_waiting_site_half_a_person_minute_better() -> None:
    """Four units of 1 person, 10 min today.  s0 serves u0, u1 at 0 (saves 20), s1 u0 at 0
    and u2 at 7 (13 alone, 3 after s0), s2 u3 at 6.5 (3.5).  After s0 the refreshed 3 of
    s1 is half a person-minute below s2's 3.5: s2 is taken (minutes 0, 0, 10, 6.5: mean
    4.125, the best pair by brute force; with s1: 4.25)."""
    dense = np.array([[0.0, 0.0, INF, INF], [0.0, INF, 7.0, INF], [INF, INF, INF, 6.5]])
    ones, today = np.ones(4), np.full(4, 10.0)
    result = p_median(matrix_of(dense), ones, today, 2, swap_passes=0, exact=False)
    assert result.sites == ("s0", "s2") and result.objective_value == 4.125
    assert brute_best(dense, ones, today, 2) == 4.125


def test_a_refreshed_saving_below_one_person_minute_waits_its_turn() -> None:
    """u0 (1 person), u1 (0.5), u2 (0.8), all 10 min today.  s0 serves u0 at 0 (saves 10),
    s1 u0 at 1 and u1 at 9 (9.5 alone), s2 u2 at 9 (0.8).  After s0, s1 saves only 0.5:
    it waits behind s2 (0.8), then is taken third (k = 3): order s0, s2, s1."""
    dense = np.array([[0.0, INF, INF], [1.0, 9.0, INF], [INF, INF, 9.0]])
    result = p_median(matrix_of(dense), [1.0, 0.5, 0.8], np.full(3, 10.0), 3, swap_passes=0, exact=False)
    assert result.sites == ("s0", "s2", "s1") and result.marginal == (10.0, 0.8, 0.5)


def test_one_site_allows_swap_passes_exchanges(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most swap_passes (2) x k exchanges: 2 for k = 1."""
    seen: list[dict[str, object]] = []
    spy(monkeypatch, "_exchanges", seen)
    p_median(matrix_of(HAND), HAND_WEIGHTS, HAND_TODAY, 1, exact=False)
    assert [call["max_moves"] for call in seen] == [2]


def selection_partition(a: np.ndarray, kth: int, axis: int = -1) -> np.ndarray:
    """np.partition with only what numpy promises: the kth smallest in place, the smaller
    before it.  Like numpy's generic path for a small kth (``dumb_select``, taken without
    the AVX2 dispatch, e.g. under NPY_DISABLE_CPU_FEATURES=X86_V3): the first kth + 1
    minima are selected one by one (swapped to the front), the rest stay where they were."""
    out = np.array(a, dtype=float, copy=True)
    lanes = np.moveaxis(out, axis, -1)
    for index in np.ndindex(lanes.shape[:-1]):
        lane = lanes[index]
        for i in range(kth + 1):
            m = i + int(np.argmin(lane[i:]))
            lane[i], lane[m] = lane[m], lane[i]
    return out


class NumpyWithSelection:
    """numpy, with :func:`selection_partition` for ``partition``."""

    partition = staticmethod(selection_partition)

    def __getattr__(self, name: str) -> object:
        return getattr(np, name)


def test_the_second_nearest_time_needs_only_what_numpy_promises(monkeypatch: pytest.MonkeyPatch) -> None:
    """u0 (1 person, 5 min today), u1 (2 people, 11 min).  s0 serves u0 at 0, s1 both at 3,
    s2 u0 at 9 and u1 at 2.  Alone s1 and s2 save 18 (s1 first, by index), then s0 3 (s2
    only 2): greedy {s1, s0}, 0 + 6 = 6 person-minutes.  Exchanging s1 for s2 brings u1 to
    2: 4 person-minutes, mean 4/3, the best pair (brute force).  For u1 the times are s1's
    3, s0's none and today's 11: its second nearest is 11, which a partition that only
    selects the minimum would leave behind s0's none."""
    monkeypatch.setattr(pmedian_module, "np", NumpyWithSelection())
    dense = np.array([[0.0, INF], [3.0, 3.0], [9.0, 2.0]])
    weights, today = np.array([1.0, 2.0]), np.array([5.0, 11.0])
    result = p_median(matrix_of(dense), weights, today, 2, exact=False)
    assert result.sites == ("s2", "s0") and result.objective_value == pytest.approx(4.0 / 3.0)
    assert brute_best(dense, weights, today, 2) == pytest.approx(4.0 / 3.0)


def test_a_one_site_solver_answer_lower_in_floats_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """u0 (1 person) 0.7 min today, s0 serves it at 0; u1 (1 person) 0.9 min today, s1
    serves it at 0.2.  Both save 0.7 (0.9 - 0.2 is 0.7 in floats): the greedy takes s0,
    leaving 0 + 0.9 = 0.9 person-minutes.  With s1 they are 0.7 + 0.2, which rounds to
    0.8999999999999999: lower, so a solver that hands back s1 alone is followed."""
    assert 0.9 - 0.2 == 0.7 and 0.7 + 0.2 < 0.9  # the float facts the test stands on

    def other(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([False, True]), 0.7, "HiGHS: stub"

    monkeypatch.setattr(pmedian_module, "_solve_binary_program", other)
    dense = np.array([[0.0, INF], [INF, 0.2]])
    result = p_median(matrix_of(dense), [1.0, 1.0], [0.7, 0.9], 1)
    assert result.sites == ("s1",) and result.status == "optimal"


def test_the_greedy_goes_on_past_a_site_that_saves_nothing_any_more() -> None:
    """s0 and s1 save u0 (1 person, 2 -> 1 min), s2 saves u1 (5e-10 of a person, 2 -> 1); k =
    2, no exchanges.  The greedy takes s0; s1, refreshed, saves nothing, but s2, waiting
    within 1e-9 of it, still saves 5e-10 person-minutes: it is taken (mean 1 minute)."""
    d = np.array([[1.0, INF], [1.0, INF], [INF, 1.0]])
    result = p_median(matrix_of(d), [1.0, 5e-10], [2.0, 2.0], 2, exact=False, swap_passes=0)
    assert result.sites == ("s0", "s2")
    assert result.objective_value == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(
    ("population", "today", "message"),
    [
        ([1.0, np.inf], [2.0, 2.0], "population must be finite non-negative numbers"),
        ([1.0, 1.0], [2.0, -1.0], "current_minutes must be finite non-negative numbers; u1 has -1"),
        ([1.0, 1.0], [2.0, np.inf], "current_minutes must be finite non-negative numbers; u1 has inf"),
    ],
)
def test_infinite_people_and_negative_times_are_refused(
    population: list[float], today: list[float], message: str
) -> None:
    d = np.array([[1.0, INF], [INF, 1.0]])
    with pytest.raises(InputDataError, match=message):
        p_median(matrix_of(d), population, today, 1)


def test_an_unreachable_unit_today_is_allowed() -> None:
    """u1 has no facility today (NaN): it is left out of the mean, not refused."""
    d = np.array([[1.0, INF], [INF, 1.0]])
    result = p_median(matrix_of(d), [1.0, 1.0], [2.0, np.nan], 1)
    assert result.sites == ("s0",) and result.objective_value == 1.0

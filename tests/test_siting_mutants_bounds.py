"""Tests that kill the mutants the siting tests let live in the exchange local search
(coverage/siting/local.py) and the Lagrangian bounds (coverage/siting/lagrange.py).

Every expected value is worked out by hand on a tiny instance (see each docstring) or
by an independent method (brute force over the sets of sites); none is read off the
code's output.
"""

from __future__ import annotations

import dataclasses
import itertools
import types

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import matrix_from_dense

import coverage.siting.local as local_module
from coverage.errors import InputDataError
from coverage.siting import mclp_local_search
from coverage.siting.lagrange import _Lagrangian, _lagrangian_bound, _set_cover_bound

T = 5.0  # minutes

# Six units of weight 1.  A reaches u0-u3, B u0, u1, u4, C u2, u3, u5.  The greedy takes A
# (4 units), then B (one more unit; C ties and comes later): 5.  One exchange, A for C,
# covers all six.
GREEDY_TRAP = np.array(
    [
        [1, 1, 1, 1, 0, 0],  # s0 = A
        [1, 1, 0, 0, 1, 0],  # s1 = B
        [0, 0, 1, 1, 0, 1],  # s2 = C
    ],
    dtype=bool,
)


# ------------------------------------------------------------------ local.py


def test_the_number_of_moves_is_reported() -> None:
    """Greedy {A, B} (5), then one exchange A -> C (6): one move.  From the start {A} with
    k = 2: B is added (one move: 5 people), then A exchanged for C (a second move)."""
    matrix = matrix_from_dense(GREEDY_TRAP)
    result = mclp_local_search(matrix, [1.0] * 6, T, 2)
    assert result.solver_status == "none: greedy, then 1 moves to a 1-swap local optimum"
    started = mclp_local_search(matrix, [1.0] * 6, T, 2, start_sites=["s0"])
    assert started.solver_status == "none: the start sites, then 2 moves to a 1-swap local optimum"
    assert sorted(started.sites) == ["s1", "s2"]


def test_a_start_no_addition_improves_is_a_local_optimum() -> None:
    """s0 reaches u0 and u1, s1 only u0: from {s0} with room for two, adding s1 covers no
    one more, so the search stops at once, at a local optimum, after no move."""
    matrix = matrix_from_dense(np.array([[1, 1], [1, 0]], dtype=bool))
    result = mclp_local_search(matrix, [1.0, 1.0], T, 2, start_sites=["s0"])
    assert list(result.sites) == ["s0"] and result.population_covered_after == 2
    assert result.solver_status == "none: the start sites, then 0 moves to a 1-swap local optimum"


@pytest.mark.parametrize("weights", [[0.3, 0.1, 0.2], [30000.3, 10000.1, 20000.2]])
def test_an_exchange_of_equal_value_up_to_rounding_is_not_made(weights: list[float]) -> None:
    """u0 is reached by s0; u1 and u2 by s1; w_0 = w_1 + w_2, so both sites cover as many
    people: from {s0} the exchange s0 -> s1 gains nothing.  In floats w_1 + w_2 - w_0 is
    5.6e-17 (first case) or 3.6e-12 (second, a total of 60,000 people): rounding noise, so
    no move is made; a search that took it would report a move, and could go round in
    circles."""
    matrix = matrix_from_dense(np.array([[1, 0, 0], [0, 1, 1]], dtype=bool))
    result = mclp_local_search(matrix, weights, T, 1, start_sites=["s0"])
    assert list(result.sites) == ["s0"]
    assert result.solver_status == "none: the start sites, then 0 moves to a 1-swap local optimum"


def test_no_site_to_place_is_a_local_optimum_at_once() -> None:
    result = mclp_local_search(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 0)
    assert len(result.sites) == 0 and result.population_covered_after == 0
    assert result.solver_status == "none: greedy, then 0 moves to a 1-swap local optimum"


def test_as_many_start_sites_as_k_are_accepted() -> None:
    """{A, B} with k = 2 (5 people), then A -> C: 6."""
    result = mclp_local_search(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2, start_sites=["s0", "s1"])
    assert sorted(result.sites) == ["s1", "s2"] and result.population_covered_after == 6


def test_unknown_start_sites_are_named_ten_at_most() -> None:
    unknown = [f"n{i}" for i in range(11)]
    with pytest.raises(InputDataError, match="not candidates") as raised:
        mclp_local_search(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2, start_sites=unknown)
    assert str(unknown[:10]) in str(raised.value) and "'n10'" not in str(raised.value)


@pytest.mark.parametrize(("weights", "best"), [([1.0, 0.5, 1.2], "s2"), ([1.0, 1.0, 0.8], "s1")])
def test_people_the_required_sites_cover_count_for_nothing(weights: list[float], best: str) -> None:
    """Required s0 reaches u0; s1 reaches u0 and u1, so it adds w_1; s2 reaches u2, so it
    adds w_2.  The best one site is the one that adds more (by hand), from the greedy
    start or from the other one: u0 counts neither for nor against s1."""
    present = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    matrix = matrix_from_dense(present)
    for start in (None, ["s1"], ["s2"]):
        result = mclp_local_search(matrix, weights, T, 1, required=["s0"], start_sites=start)
        assert list(result.sites) == [best]
        assert result.population_covered_after == pytest.approx(weights[0] + max(weights[1], weights[2]))


def test_the_options_are_keyword_only() -> None:
    """required, candidates, start_sites and max_seconds are named, never positional."""
    with pytest.raises(TypeError):
        mclp_local_search(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2, ["s0"])  # type: ignore[misc]


def test_more_than_256_sites_are_never_more_than_k() -> None:
    """258 sites, each reaching a unit of its own, the last one lightest; k = 257: all but
    the last, exactly 257 sites (past 256, Python's ints are not shared objects)."""
    weights = np.full(258, 2.0)
    weights[-1] = 1.0
    result = mclp_local_search(matrix_from_dense(np.eye(258, dtype=bool)), weights, T, 257)
    assert len(result.sites) == 257 and "s257" not in result.sites
    assert result.population_covered_after == 514


class FakeClock:
    """``time.perf_counter`` for local.py that moves on ``step`` seconds at each reading."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now


@pytest.mark.parametrize(
    ("max_seconds", "covered", "status"),
    [
        # readings: 10 (start), 20 (deadline = 20 + max_seconds), then 30, 40, ... one per step
        (5.0, 5, "none: greedy, then 0 moves to the time limit of 5 s"),  # 30 > 25: stop at once
        (15.0, 6, "none: greedy, then 1 moves to the time limit of 15 s"),  # 30 <= 35: A -> C; 40 > 35
        (25.0, 6, "none: greedy, then 1 moves to a 1-swap local optimum"),  # 30, 40 <= 45: no 2nd move
    ],
)
def test_the_time_limit_stops_the_exchanges(
    monkeypatch: pytest.MonkeyPatch, max_seconds: float, covered: int, status: str
) -> None:
    """On the greedy trap (greedy {A, B} = 5, one exchange to 6), with a clock that moves
    on 10 s at each reading."""
    monkeypatch.setattr(local_module, "time", types.SimpleNamespace(perf_counter=FakeClock(10.0).perf_counter))
    result = mclp_local_search(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2, max_seconds=max_seconds)
    assert result.population_covered_after == covered
    assert result.solver_status == status


def test_the_default_time_limit_is_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_module, "time", types.SimpleNamespace(perf_counter=FakeClock(100.0).perf_counter))
    result = mclp_local_search(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2)
    assert result.solver_status == "none: greedy, then 0 moves to the time limit of 60 s"


# ------------------------------------------------------------------ lagrange.py: fixing


def lagrangian(costs: list[float], raw: float, *, whole: bool = False) -> _Lagrangian:
    return _Lagrangian(
        bound=raw,
        costs=np.asarray(costs, dtype=float),
        raw=raw,
        whole=whole,
        best_sites=np.arange(0),
        best_value=-np.inf,
        iterations=0,
    )


@pytest.mark.parametrize(
    ("incumbent", "out", "forced", "rest"),
    [
        # costs 5, 4, 3, 1 and L = 10, k = 2: the top two are s0, s1, c_(k) = 4, c_(k+1) = 3.
        # with j (j outside the top): 10 - 4 + c_j = 9 (s2), 7 (s3);
        # without j (j in the top):  10 - c_j + 3 = 8 (s0), 9 (s1).
        (9.5, [False, False, True, True], [True, True, False, False], 9.0),
        (9.0, [False, False, False, True], [True, False, False, False], 8.0),  # strictly below only
        (8.5, [False, False, False, True], [True, False, False, False], 8.0),
        (7.0, [False, False, False, False], [False, False, False, False], -np.inf),
    ],
)
def test_fixing_by_hand(incumbent: float, out: list[bool], forced: list[bool], rest: float) -> None:
    got_out, got_forced, got_rest = lagrangian([5.0, 4.0, 3.0, 1.0], 10.0).fixing(2, incumbent)
    assert got_out.tolist() == out
    assert got_forced.tolist() == forced
    assert got_rest == rest


def test_fixing_does_not_depend_on_the_order_of_the_candidates() -> None:
    """The same costs shuffled (1, 3, 5, 4): the same candidates, by their new positions."""
    out, forced, rest = lagrangian([1.0, 3.0, 5.0, 4.0], 10.0).fixing(2, 9.5)
    assert out.tolist() == [True, True, False, False]
    assert forced.tolist() == [False, False, True, True]
    assert rest == 9.0


def test_fixing_with_whole_weights_rounds_the_bounds_down() -> None:
    """L = 10.6 with whole-number weights: with j, 10.6 - 4 + c_j = 9.6 (s2), 7.6 (s3);
    without j, 10.6 - c_j + 3 = 8.6 (s0), 9.6 (s1); rounded down to 9, 7, 8, 9 (no answer
    covers 9.6 people).  Against 9.5, s2 and s1 are then ruled on too (9 < 9.5) and the rest
    is 9; unrounded, only s3 and s0 are, and the rest is 8.6."""
    out, forced, rest = lagrangian([5.0, 4.0, 3.0, 1.0], 10.6, whole=True).fixing(2, 9.5)
    assert out.tolist() == [False, False, True, True]
    assert forced.tolist() == [True, True, False, False]
    assert rest == 9.0
    unrounded = lagrangian([5.0, 4.0, 3.0, 1.0], 10.6).fixing(2, 9.5)
    assert unrounded[0].tolist() == [False, False, False, True]
    assert unrounded[1].tolist() == [True, False, False, False]
    assert unrounded[2] == pytest.approx(8.6)


def test_fixing_rounds_a_bound_just_below_a_whole_number_up_to_it() -> None:
    """L = 10 - 1e-12 (float noise below 10): with s2 the bound is 9 - 1e-12, which is 9
    people (whole weights), not 8; so against an incumbent of 9, s2 is not ruled out."""
    out, forced, rest = lagrangian([5.0, 4.0, 3.0, 1.0], 10.0 - 1e-12, whole=True).fixing(2, 9.0)
    assert out.tolist() == [False, False, False, True]
    assert forced.tolist() == [True, False, False, False]
    assert rest == 8.0


@pytest.mark.parametrize("k", [0, 4, 5])
def test_fixing_with_no_choice_rules_nothing(k: int) -> None:
    """k = 0 (no site) or k >= the number of candidates (all of them): nothing to fix."""
    out, forced, rest = lagrangian([5.0, 4.0, 3.0, 1.0], 10.0).fixing(k, 100.0)
    assert not out.any() and not forced.any()
    assert len(out) == len(forced) == 4
    assert rest == -np.inf


def test_fixing_with_ties_keeps_the_first_candidates_on_top() -> None:
    """Equal costs 3, 3, 3, L = 6, k = 1: s0 is the top (stable order); with s1 or s2 the
    bound is 6 - 3 + 3 = 6, without s0 it is 6 - 3 + 3 = 6: all below an incumbent of 7."""
    out, forced, rest = lagrangian([3.0, 3.0, 3.0], 6.0).fixing(1, 7.0)
    assert out.tolist() == [False, True, True]
    assert forced.tolist() == [True, False, False]
    assert rest == 6.0


# ------------------------------------------------------------------ lagrange.py: the bound


@pytest.mark.parametrize(("weights", "whole"), [([5.0, 3.0], True), ([5.5, 3.0], False)])
def test_lagrangian_bound_of_two_separate_units_by_hand(weights: list[float], whole: bool) -> None:
    """Two units, each reached by one candidate of its own, k = 1.  The multipliers start
    at w_g / (candidates reaching g) = w_g, so c = w and L = sum(w - lambda) + max c = w_0:
    the relaxed answer {s0} covers that many, so one step proves it."""
    relaxed = _lagrangian_bound(sp.csr_array(np.eye(2)), np.asarray(weights), 1, 0.0)
    assert relaxed.bound == weights[0] and relaxed.raw == weights[0]
    assert relaxed.whole == whole
    assert relaxed.costs.tolist() == weights
    assert relaxed.best_sites.tolist() == [0] and relaxed.best_value == weights[0]
    assert relaxed.iterations == 1
    assert [s.tolist() for s in relaxed.starts] == [[0]]


def test_lagrangian_bound_with_every_candidate_chosen() -> None:
    """k = 2 of two candidates: both are taken, L = sum(w) = 8, covered by the answer."""
    relaxed = _lagrangian_bound(sp.csr_array(np.eye(2)), np.array([5.0, 3.0]), 2, 0.0)
    assert relaxed.bound == 8.0 and relaxed.best_value == 8.0
    assert relaxed.best_sites.tolist() == [0, 1] and relaxed.iterations == 1


def test_lagrangian_bound_with_more_sites_than_candidates() -> None:
    """k = 3 of two candidates (the exact solver's reduced models can have fewer columns
    than k): both are taken, L = 8."""
    relaxed = _lagrangian_bound(sp.csr_array(np.eye(2)), np.array([5.0, 3.0]), 3, 0.0)
    assert relaxed.bound == 8.0 and relaxed.best_sites.tolist() == [0, 1]


def test_a_lagrangian_result_cannot_be_changed() -> None:
    relaxed = lagrangian([1.0], 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        relaxed.bound = 0.0  # type: ignore[misc]


# ------------------------------------------------------------------ lagrange.py: set cover


def brute_min_cover(rows: np.ndarray) -> int:
    n = rows.shape[1]
    return next(
        size
        for size in range(n + 1)
        for combo in itertools.combinations(range(n), size)
        if rows[:, list(combo)].any(axis=1).all()
    )


TRIANGLE = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=bool)  # candidate j covers rows j, j + 1


@pytest.mark.parametrize("upper", [2.0, 3.0, 7.0])
def test_set_cover_bound_on_a_triangle(upper: float) -> None:
    """Three rows, three candidates each covering two: the LP bound is 3/2 (x = 1/2 each),
    rounded up to 2, the optimum (brute force), whatever the known cover's size."""
    assert brute_min_cover(TRIANGLE) == 2
    assert _set_cover_bound(sp.csr_array(TRIANGLE.astype(float)), upper) == 2.0


@pytest.mark.parametrize("upper", [3.0, 10.0])
def test_set_cover_bound_of_disjoint_rows(upper: float) -> None:
    """Each of three rows has a candidate of its own: three sites are needed."""
    assert _set_cover_bound(sp.csr_array(np.eye(3)), upper) == 3.0


def test_set_cover_bound_without_steps_is_zero() -> None:
    assert _set_cover_bound(sp.csr_array(np.eye(3)), 3.0, max_iterations=0) == 0.0

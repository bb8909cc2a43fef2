"""Tests that kill the mutants the siting tests let live in the exchange local search
(coverage/siting/local.py) and the Lagrangian bounds (coverage/siting/lagrange.py).

Every expected value is worked out by hand on a tiny instance (see each docstring) or
by an independent method (brute force over the sets of sites); none is read off the
code's output.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import types

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import FakeClock, matrix_from_dense

import coverage.siting.lagrange as lagrange_module
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


def lagrangian(costs: list[float], raw: float, *, whole: bool = False, slack: float = 0.0) -> _Lagrangian:
    return _Lagrangian(
        bound=raw,
        costs=np.asarray(costs, dtype=float),
        raw=raw,
        whole=whole,
        best_sites=np.arange(0),
        best_value=-np.inf,
        iterations=0,
        slack=slack,
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
    """L = 10 - 1e-12 (float noise below 10, within a slack of 1e-9): with s2 the bound is
    9 - 1e-12, which is 9 people (whole weights), not 8; so against an incumbent of 9, s2 is
    not ruled out."""
    out, forced, rest = lagrangian([5.0, 4.0, 3.0, 1.0], 10.0 - 1e-12, whole=True, slack=1e-9).fixing(2, 9.0)
    assert out.tolist() == [False, False, False, True]
    assert forced.tolist() == [True, False, False, False]
    assert rest == 8.0


@pytest.mark.parametrize(
    ("slack", "out", "forced", "rest"),
    [
        # slack 0.3: 9.6 + 0.3, 7.6 + 0.3, 8.6 + 0.3, 9.6 + 0.3 round down to 9, 7, 8, 9
        (0.3, [False, False, True, True], [True, True, False, False], 9.0),
        # slack 0.5 (half a person or more): the bounds as computed, 9.6, 7.6, 8.6, 9.6
        (0.5, [False, False, False, True], [True, False, False, False], 8.6),
    ],
)
def test_fixing_rounds_only_while_the_slack_is_below_half_a_person(
    slack: float, out: list[bool], forced: list[bool], rest: float
) -> None:
    """L = 10.6, costs 5, 4, 3, 1, k = 2, incumbent 9.5, whole weights (the by-hand case
    above): rounding down after adding the slack, or not at all once the slack is half a
    person (it could then move a bound by a whole person)."""
    got = lagrangian([5.0, 4.0, 3.0, 1.0], 10.6, whole=True, slack=slack).fixing(2, 9.5)
    assert got[0].tolist() == out and got[1].tolist() == forced
    assert got[2] == pytest.approx(rest, abs=1e-12)


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


# ------------------------------------------------------------------ lagrange.py: the documented steps
#
# An independent, dense, plain-Python version of the two subgradient methods, written from
# their docstrings (and the relaxations they state), against which the code is checked on
# small random instances: same number of steps, same bound, same relaxed answers.


class TieError(Exception):
    """The k-th and (k+1)-th largest costs are equal: the relaxed answer is not unique."""


def documented_mclp_bound(
    present: list[list[bool]],
    weights: list[float],
    k: int,
    incumbent: float,
    *,
    window: int = 100,
    max_iterations: int = 2000,
) -> dict[str, object]:
    """The subgradient minimisation of L(lambda) = sum_g max(0, w_g - lambda_g) + (sum of the
    k largest c_j), c_j = sum of lambda_g over the groups g that j reaches, for ``present``
    (groups x candidates).

    - start: lambda_g = w_g / (number of candidates reaching g, at least 1);
    - each step: the k candidates of highest cost (the relaxed answer), L, and, when the
      weights are whole numbers, L plus its slack (1e-10 of the total weight, the sum of
      the multipliers and the costs of the relaxed answer) rounded down if that slack is
      below one half;
      the answer's coverage, the best answer, the distinct answers seen;
    - the best bound improves when it drops by more than 1e-9 of the total weight (at
      least 1e-9), or when it does not rise and L itself drops; after 20 steps in a row
      without improvement the step factor theta (from 1) is halved;
    - target: the larger of the incumbent and the best answer's coverage; stop when the
      best bound is within the same tolerance of it, when theta < 1e-5, or when the best
      bound moved down by less than a relative 1e-5 over the last ``window`` steps;
    - else Polyak's step: lambda -= theta (bound - target) / |s|^2 s, with s_g = (chosen
      candidates reaching g) - (1 if lambda_g < w_g, the derivative of max(0, w_g -
      lambda_g), else 0), kept within [0, w_g]; a zero s ends it.
    """
    groups, n = len(present), len(present[0])
    w = [float(x) for x in weights]
    total = sum(w)
    whole = all(x == round(x) for x in w) and total < 2.0**52
    tolerance = 1e-9 * max(1.0, total)
    lam = [w[g] / max(1, sum(present[g])) for g in range(groups)]

    def costs() -> list[float]:
        return [sum(lam[g] for g in range(groups) if present[g][j]) for j in range(n)]

    def relaxed_answer(c: list[float]) -> set[int]:
        if k >= n:
            return set(range(n))
        ranked = sorted(range(n), key=lambda j: -c[j])
        if abs(c[ranked[k - 1]] - c[ranked[k]]) <= 1e-12 * max(1.0, abs(c[ranked[k]])):
            raise TieError
        return set(ranked[:k])

    first_costs = costs()
    bound_best, raw_best, costs_best = math.inf, math.inf, first_costs
    sites_best: set[int] | None = None
    value_best = -math.inf
    theta, without_progress, steps = 1.0, 0, 0
    best_after: dict[int, float] = {}  # step -> best bound after it
    answers: list[tuple[set[int], float]] = []  # distinct relaxed answers, first seen first
    while steps < max_iterations:
        steps += 1
        c = costs()
        chosen = relaxed_answer(c)
        raw = sum(w[g] - lam[g] for g in range(groups)) + sum(c[j] for j in chosen)
        slack = 1e-10 * (total + sum(lam) + sum(c[j] for j in chosen))
        bound = float(math.floor(raw + slack)) if whole and slack < 0.5 else raw
        reaching = [sum(1 for j in chosen if present[g][j]) for g in range(groups)]
        value = sum(w[g] for g in range(groups) if reaching[g] > 0)
        if all(seen != chosen for seen, _ in answers):
            answers.append((chosen, value))
        if value > value_best:
            sites_best, value_best = chosen, value
        if bound < bound_best - tolerance or (bound <= bound_best and raw < raw_best):
            bound_best, raw_best, costs_best = bound, raw, c
            without_progress = 0
        else:
            without_progress += 1
            if without_progress == 20:
                theta, without_progress = theta / 2, 0
        target = max(incumbent, value_best)
        best_after[steps] = bound_best
        if bound_best <= target + tolerance or theta < 1e-5:
            break
        if steps > window and best_after[steps - window] - bound_best < 1e-5 * bound_best:
            break
        s = [reaching[g] - (1 if lam[g] < w[g] else 0) for g in range(groups)]
        norm = sum(x * x for x in s)
        if norm == 0:
            break
        length = theta * (bound - target) / norm
        lam = [min(w[g], max(0.0, lam[g] - length * s[g])) for g in range(groups)]
    if sites_best is None:
        sites_best = relaxed_answer(first_costs)
    ranked_answers = sorted(answers, key=lambda answer: -answer[1])  # stable: first seen first
    return {
        "bound": bound_best,
        "raw": raw_best,
        "costs": costs_best,
        "whole": whole,
        "best_sites": sorted(sites_best),
        "best_value": value_best,
        "iterations": steps,
        "starts": [sorted(sites) for sites, _ in ranked_answers[:8]],
    }


def documented_set_cover_bound(
    rows: list[list[bool]], upper: float, *, window: int = 100, max_iterations: int = 1000
) -> tuple[float, int]:
    """The bound of :func:`_set_cover_bound` and its number of steps: the subgradient
    maximisation of L(u) = sum_i u_i + sum_j min(0, 1 - sum of u_i over the rows j covers)
    from u_i = 1 / (candidates covering i); the best value improves when it rises by more
    than 1e-12; 20 steps in a row without improvement halve theta (from 1); stop when the
    best value rounded up (less 1e-9) reaches ``upper``, when theta < 1e-5, or when the
    best value rose by less than a relative 1e-5 over the last ``window`` steps; else
    u += theta (upper - L) / |s|^2 s, kept >= 0, with s_i = 1 - (candidates of negative
    reduced cost covering i); a zero s ends it.  The bound is the best value rounded up."""
    m, n = len(rows), len(rows[0])
    u = [1.0 / max(1, sum(rows[i])) for i in range(m)]
    best, theta, without_progress, steps = -math.inf, 1.0, 0, 0
    best_after: dict[int, float] = {}
    while steps < max_iterations:
        steps += 1
        reduced = [1.0 - sum(u[i] for i in range(m) if rows[i][j]) for j in range(n)]
        value = sum(u) + sum(min(r, 0.0) for r in reduced)
        if value > best + 1e-12:
            best, without_progress = value, 0
        else:
            without_progress += 1
            if without_progress == 20:
                theta, without_progress = theta / 2, 0
        best_after[steps] = best
        if math.ceil(best - 1e-9) >= upper or theta < 1e-5:
            break
        if steps > window and best - best_after[steps - window] < 1e-5 * abs(best):
            break
        s = [1 - sum(1 for j in range(n) if rows[i][j] and reduced[j] < 0) for i in range(m)]
        norm = sum(x * x for x in s)
        if norm == 0:
            break
        u = [max(0.0, u[i] + theta * (upper - value) / norm * s[i]) for i in range(m)]
    return (float(math.ceil(best - 1e-9)) if math.isfinite(best) else 0.0), steps


class CountingClock:
    """``time.perf_counter`` for lagrange.py: ``start``, then ``step`` seconds more at each
    reading; ``readings`` counts them (one for the deadline, then one per step)."""

    def __init__(self, start: float = 0.0, step: float = 0.0) -> None:
        self.now, self.step, self.readings = start - step, step, 0

    def perf_counter(self) -> float:
        self.readings += 1
        self.now += self.step
        return self.now


def use_clock(monkeypatch: pytest.MonkeyPatch, start: float = 0.0, step: float = 0.0) -> CountingClock:
    clock = CountingClock(start, step)
    monkeypatch.setattr(lagrange_module, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    return clock


def random_mclp(seed: int, family: str = "mixed") -> tuple[np.ndarray, np.ndarray, int]:
    """A small random instance (groups x candidates, weights, k) of one of five families:

    - mixed: 4-8 candidates, 6-12 groups (45 % of the pairs reached), 2 to n - 2 sites;
      whole weights (1 to 999, or about a million) for even seeds, real ones for odd seeds;
    - varied: 3-6 candidates, 3-8 groups, a density of 20 to 90 %, 1 to n - 2 sites (at
      least 1); whole weights of 1 to 20 for odd seeds (bounds below 256), real ones for
      even seeds;
    - huge: a mixed instance with real weights of 0.5 to 10 billion (a tolerance, 1e-9 of
      the total, of more than one person);
    - tiny: a varied instance with its weights divided by 100 (fewer than one person);
    - pairs: 5-9 candidates, a group for 70 % of the pairs of candidates, reached by both,
      whole weights of 1 to 5, k = 1 (L starts far above the optimum).
    """
    rng = np.random.default_rng(seed)
    if family in ("mixed", "huge"):
        n, groups = int(rng.integers(4, 9)), int(rng.integers(6, 13))
        present = rng.random((groups, n)) < 0.45
        if seed % 2 or family == "huge":
            weights = rng.uniform(0.5, 10.0, groups) * (1e9 if family == "huge" else 1.0)
        else:
            weights = rng.integers(1, 1000, groups).astype(float) + (1e6 if seed % 4 == 0 else 0.0)
        return present, weights, int(rng.integers(2, n - 1))
    if family == "pairs":
        n = int(rng.integers(5, 10))
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.7]
        present = np.zeros((len(pairs), n), dtype=bool)
        for row, (i, j) in enumerate(pairs):
            present[row, [i, j]] = True
        return present, rng.integers(1, 6, len(pairs)).astype(float), 1
    n, groups = int(rng.integers(3, 7)), int(rng.integers(3, 9))
    density = rng.uniform(0.2, 0.9)
    present = rng.random((groups, n)) < density
    weights = rng.integers(1, 21, groups).astype(float) if seed % 2 else rng.uniform(0.5, 10.0, groups)
    k = int(rng.integers(1, max(2, n - 1)))
    return present, weights / 100 if family == "tiny" else weights, k


def random_set_cover(seed: int) -> tuple[np.ndarray, float]:
    """3-8 candidates, 4-12 rows, each covered by at least one; a known cover of the
    minimum size (brute force) plus 0 to 2 sites, at most n."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 9)), int(rng.integers(4, 13))
    rows = rng.random((m, n)) < 0.35
    rows[np.arange(m), rng.integers(0, n, m)] = True
    return rows, float(min(n, brute_min_cover(rows) + int(rng.integers(0, 3))))


def brute_max_cover(present: np.ndarray, weights: np.ndarray, k: int) -> float:
    n = present.shape[1]
    return max(
        float(weights[present[:, list(combo)].any(axis=1)].sum()) for combo in itertools.combinations(range(n), k)
    )


# (family, seed, stall window, incumbent: 0 or the optimum) of random_mclp.  Only cases
# whose relaxed answers are unique at every step are used (the reference raises TieError
# otherwise); a few long runs whose costs come within 1e-8 of each other after hundreds of
# steps, where the two summation orders pick different answers, were left out as well
# (mixed seeds 13 and 36 without a stall window, tiny seed 274).  A window of 10**6 never
# ends a run: theta (after 17 halvings) or the step limit does.  They were picked so that
# between them every rule of the docstring is exercised: each stopping rule, the halving
# after 20 steps, a best bound that drops by less than the tolerance, or stays equal with
# a lower L (whole weights), a first bound at least twice the target, tolerances above one
# person (huge) and below (tiny).
MCLP_CASES = [
    ("mixed", 2, 10**6, True),
    ("mixed", 9, 100, True),
    ("mixed", 10, 100, True),
    ("mixed", 13, 10, True),
    ("mixed", 17, 100, False),
    ("mixed", 17, 10**6, False),
    ("mixed", 22, 100, False),
    ("mixed", 24, 10, True),
    ("mixed", 28, 100, False),
    ("mixed", 49, 10, False),
    ("mixed", 49, 100, False),
    ("mixed", 76, 10, False),
    ("mixed", 80, 100, False),
    ("mixed", 81, 100, False),
    ("mixed", 84, 10**6, False),
    ("mixed", 84, 10**6, True),
    ("mixed", 99, 100, False),
    ("huge", 4, 1, False),
    ("huge", 9, 100, False),
    ("huge", 30, 1, True),
    ("varied", 4, 100, True),
    ("varied", 5, 1, False),
    ("varied", 10, 100, False),
    ("varied", 16, 10, False),
    ("varied", 45, 1, True),
    ("varied", 107, 1, False),
    ("varied", 119, 1, False),
    ("varied", 119, 1, True),
    ("tiny", 17, 10, False),
    ("tiny", 46, 100, False),
    ("tiny", 46, 100, True),
    ("tiny", 119, 1, False),
    ("tiny", 119, 1, True),
    ("pairs", 151, 5, False),
    ("pairs", 151, 5, True),
    ("pairs", 154, 1, False),
]


@pytest.mark.parametrize(("family", "seed", "window", "with_optimum"), MCLP_CASES)
def test_lagrangian_bound_takes_the_documented_steps(
    monkeypatch: pytest.MonkeyPatch, family: str, seed: int, window: int, with_optimum: bool
) -> None:
    """The code and :func:`documented_mclp_bound` take as many steps (one clock reading
    each, and one for the deadline) and end with the same bound, L, costs, best relaxed
    answer and starts."""
    present, weights, k = random_mclp(seed, family)
    incumbent = brute_max_cover(present, weights, k) if with_optimum else 0.0
    clock = use_clock(monkeypatch)
    monkeypatch.setattr(lagrange_module, "STALL_WINDOW", window)
    got = _lagrangian_bound(sp.csr_array(present.astype(float)), weights, k, incumbent)
    expected = documented_mclp_bound(present.tolist(), weights.tolist(), k, incumbent, window=window)
    assert (got.iterations, clock.readings) == (expected["iterations"], expected["iterations"] + 1)
    assert got.whole == expected["whole"]
    if got.whole:
        assert got.bound == expected["bound"]
    assert got.bound == pytest.approx(expected["bound"], rel=1e-9)
    assert got.raw == pytest.approx(expected["raw"], rel=1e-9)
    assert got.costs.tolist() == pytest.approx(expected["costs"], rel=1e-9, abs=1e-9)
    assert got.best_value == pytest.approx(expected["best_value"], rel=1e-12)
    assert got.best_sites.tolist() == expected["best_sites"]
    assert [s.tolist() for s in got.starts] == expected["starts"]


# (seed, stall window) of random_set_cover; 10**6: no window (seeds 5 and 11 run to the
# limit of 1000 steps).
SET_COVER_CASES = [
    (0, 100),
    (2, 10),
    (5, 10**6),
    (7, 100),
    (11, 10**6),
    (19, 100),
    (21, 10),
    (30, 100),
    (33, 100),
    (33, 10**6),
    (37, 100),
    (53, 10**6),
    (58, 1),
    (63, 100),
    (74, 1),
    (85, 100),
    (106, 1),
    (109, 10),
    (113, 10**6),
]


@pytest.mark.parametrize(("seed", "window"), SET_COVER_CASES)
def test_set_cover_bound_takes_the_documented_steps(monkeypatch: pytest.MonkeyPatch, seed: int, window: int) -> None:
    """The code and :func:`documented_set_cover_bound` give the same bound after as many
    steps (clock readings less the deadline's)."""
    rows, upper = random_set_cover(seed)
    clock = use_clock(monkeypatch)
    monkeypatch.setattr(lagrange_module, "STALL_WINDOW", window)
    bound = _set_cover_bound(sp.csr_array(rows.astype(float)), upper)
    assert (bound, clock.readings - 1) == documented_set_cover_bound(rows.tolist(), upper, window=window)


# ------------------------------------------------------------------ lagrange.py: limits and rounding


@pytest.mark.parametrize(("max_seconds", "steps"), [(None, 9), (3.5, 3), (1.0, 0), (0.0, 0)])
def test_lagrangian_bound_stops_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, max_seconds: float | None, steps: int
) -> None:
    """A clock that reads 100 s, then one second more at each reading: the deadline is
    100 + max_seconds (10 s by default), and a step starts while the clock reads before
    it (101, 102, ...).  Seed 22 takes 123 steps without a deadline, so the deadline ends
    it: readings = the deadline's, one per step, and the one that found it past."""
    present, weights, k = random_mclp(22)
    clock = use_clock(monkeypatch, start=100.0, step=1.0)
    limit = {} if max_seconds is None else {"max_seconds": max_seconds}
    relaxed = _lagrangian_bound(sp.csr_array(present.astype(float)), weights, k, 0.0, **limit)
    assert (relaxed.iterations, clock.readings) == (steps, steps + 2)
    if steps == 0:  # no step: no bound, no relaxed answer
        assert relaxed.bound == np.inf and relaxed.best_value == -np.inf and relaxed.starts == ()


@pytest.mark.parametrize(("max_seconds", "steps"), [(None, 4), (2.5, 2), (1.0, 0)])
def test_set_cover_bound_stops_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, max_seconds: float | None, steps: int
) -> None:
    """The same clock (100 s, then one second more at each reading); the deadline is 100 +
    max_seconds, 5 s by default.  Seed 0 takes 111 steps without a deadline."""
    rows, upper = random_set_cover(0)
    clock = use_clock(monkeypatch, start=100.0, step=1.0)
    limit = {} if max_seconds is None else {"max_seconds": max_seconds}
    bound = _set_cover_bound(sp.csr_array(rows.astype(float)), upper, **limit)
    assert clock.readings == steps + 2
    assert bound == documented_set_cover_bound(rows.tolist(), upper, max_iterations=steps)[0]


def test_lagrangian_bound_stops_at_2000_steps_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 36 with the optimum as incumbent and no stall window (10**6) has neither met
    its target nor halved theta 17 times after 2000 steps: the default limit ends it there
    (one reading per step and the deadline's: the test of the limit comes first); allowed
    more steps, it goes on."""
    present, weights, k = random_mclp(36)
    optimum = brute_max_cover(present, weights, k)
    monkeypatch.setattr(lagrange_module, "STALL_WINDOW", 10**6)
    clock = use_clock(monkeypatch)
    a = sp.csr_array(present.astype(float))
    assert (_lagrangian_bound(a, weights, k, optimum).iterations, clock.readings) == (2000, 2001)
    assert _lagrangian_bound(a, weights, k, optimum, max_iterations=2100).iterations > 2000


def test_a_negative_step_limit_takes_no_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """max_iterations = -1 (or 0): no step, so no bound (0 for set cover) and the clock is
    read once, for the deadline."""
    clock = use_clock(monkeypatch)
    rows, upper = random_set_cover(0)
    assert _set_cover_bound(sp.csr_array(rows.astype(float)), upper, max_iterations=-1) == 0.0
    present, weights, k = random_mclp(22)
    relaxed = _lagrangian_bound(sp.csr_array(present.astype(float)), weights, k, 0.0, max_iterations=-1)
    assert relaxed.iterations == 0 and relaxed.bound == np.inf and clock.readings == 2


@pytest.mark.parametrize(
    ("weights", "whole"),
    [
        ([2.0**51, 1.0], True),  # a total below 2**52: whole numbers are exact
        ([2.0**51, 2.0**51], False),  # a total of 2**52: no longer rounded
        ([2.0**52, 2.0**52], False),  # 2**53
        ([5.3, 3.0], False),  # 5.3 is above its rounding: not whole
        ([4.7, 3.0], False),  # below
    ],
)
def test_lagrangian_bound_rounds_only_whole_weights_below_2_to_the_52(weights: list[float], whole: bool) -> None:
    """Two units with a candidate each, k = 1: one step proves w_0 (see the hand-worked
    case above); the result says whether the weights are whole.  The bound is w_0 exactly
    in every case: rounded with a slack far below one person for small weights, and left
    as computed for 2**51 (its slack, 1e-10 of the magnitudes summed, is about a million
    people: rounding after it would overstate the bound)."""
    relaxed = _lagrangian_bound(sp.csr_array(np.eye(2)), np.asarray(weights), 1, 0.0)
    assert relaxed.whole == whole
    assert relaxed.raw == weights[0] and relaxed.iterations == 1
    assert relaxed.bound == weights[0]


def test_a_whole_bound_is_not_rounded_below_an_answer_by_the_weight_of_an_unreached_group() -> None:
    """g0 (1 person) reached by all six candidates, g1 (16,777,217 people) by none; k = 1:
    any site covers 1 person, and L = 1 (lambda_1 = w_1 cancels g1; c_j = 1/6 each, and
    the 5/6 of g0 left out comes back).  In floats 16,777,218 - (16,777,217 + 1/6) + 1/6
    is about 1.2e-9 below 1: rounding down after a nudge of 1e-9 of L gave 0, a bound below
    the answer.  The slack counts the magnitudes summed: total, multipliers and the chosen cost, 3.4e-3 here), and the
    bound is 1."""
    present = np.array([[1.0] * 6, [0.0] * 6])
    relaxed = _lagrangian_bound(sp.csr_array(present), np.array([1.0, 16_777_217.0]), 1, 0.0)
    assert relaxed.raw < 1.0 and relaxed.raw == pytest.approx(1.0, abs=1e-8)
    assert relaxed.bound == relaxed.best_value == 1.0
    assert relaxed.slack == pytest.approx(1e-10 * (16_777_218 + (16_777_217 + 1 / 6) + 1 / 6), rel=1e-12)


def test_a_whole_bound_of_billions_is_not_rounded_up_by_people() -> None:
    """Two units of 3,000,000,000 and 3,000,000,001 people, a candidate each, k = 1: L =
    3,000,000,001 exactly, the answer.  A nudge of 1e-9 of L (3 people) rounded it to
    3,000,000,004; the slack (1e-10 of 6e9 + 6e9 + 3e9, 1.5 people, above one half)
    leaves it as computed."""
    relaxed = _lagrangian_bound(sp.csr_array(np.eye(2)), np.array([3e9 + 1, 3e9]), 1, 0.0)
    assert relaxed.bound == relaxed.raw == relaxed.best_value == 3e9 + 1


def test_a_whole_bound_one_rounding_below_the_answer_is_the_answer() -> None:
    """Three groups: g0 (60,000,000 people) reached by s0 only, g1 (100,000,000) by no
    candidate, g2 (50,000,002) by all three; k = 1.  The multipliers start at (6e7, 1e8,
    50,000,002 / 3), so c = (6e7 + 50,000,002 / 3, 50,000,002 / 3, same) and the relaxed
    answer {s0} covers g0 and g2: 110,000,002 people, which is also L (the 1e8 of g1 cancels,
    the third of g2 left out comes back with c_0).  In floats L comes out one rounding
    (1.5e-8) below; rounded down it is still 110,000,002 (after a slack of 1e-10 of the
    magnitudes summed, 0.04 people), and the answer is proved in one step."""
    present = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 1]], dtype=float)
    weights = np.array([60_000_000.0, 100_000_000.0, 50_000_002.0])
    relaxed = _lagrangian_bound(sp.csr_array(present), weights, 1, 0.0)
    assert relaxed.raw < 110_000_002 and relaxed.raw == pytest.approx(110_000_002, abs=1e-7)
    assert relaxed.bound == relaxed.best_value == 110_000_002
    assert relaxed.best_sites.tolist() == [0] and relaxed.iterations == 1


def test_a_bound_one_person_in_a_billion_above_the_answer_meets_it() -> None:
    """A billion people: g0 (200,000,010) reached by s0, g1 (2) by s1 and s2, and four
    groups of 199,999,997 reached by s3 ... s6 each; k = 1.  The multipliers start at
    (200,000,010, 1, 199,999,997, ...), so s0 leads (c_0 = 200,000,010), covers 200,000,010
    people (the optimum) and L = 1 (the unit of g1 left out) + 200,000,010: one person above
    it.  The tolerance is 1e-9 of the total, one person: met, in one step."""
    present = np.zeros((6, 7), dtype=float)
    present[0, 0] = present[1, 1] = present[1, 2] = 1.0
    for g in range(2, 6):
        present[g, g + 1] = 1.0
    weights = np.array([200_000_010.0, 2.0] + [199_999_997.0] * 4)
    assert weights.sum() == 1e9
    relaxed = _lagrangian_bound(sp.csr_array(present), weights, 1, 0.0)
    assert relaxed.iterations == 1
    assert relaxed.bound == relaxed.raw == 200_000_011 and relaxed.best_value == 200_000_010


def test_the_stall_window_needs_a_move_of_less_than_a_relative_1e_5(monkeypatch: pytest.MonkeyPatch) -> None:
    """g0 (99,999 people) reached by s0, g1 (4) by s1 and s2; k = 1; a stall window of one
    step.  Step 1: lambda = (99,999, 2), s0 leads, L = 2 + 99,999 = 100,001 (s0 covers 99,999);
    s = (1, -1), step (100,001 - 99,999) / 2 = 1.  Step 2: lambda = (99,998, 3), L = 1 + 1 +
    99,998 = 100,000: the bound moved by 1, exactly 1e-5 of 100,000 (in floats too), not
    less, so the steps go on; s = (0, -1), step 1.  Step 3: lambda = (99,998, 4), L = 99,999,
    the answer: proved."""
    monkeypatch.setattr(lagrange_module, "STALL_WINDOW", 1)
    present = np.array([[1, 0, 0], [0, 1, 1]], dtype=float)
    relaxed = _lagrangian_bound(sp.csr_array(present), np.array([99_999.0, 4.0]), 1, 0.0)
    assert 1e-5 * 100_000 == 1.0
    assert relaxed.iterations == 3 and relaxed.bound == relaxed.raw == relaxed.best_value == 99_999
    assert relaxed.costs.tolist() == [99_998.0, 4.0, 4.0]
    assert [s.tolist() for s in relaxed.starts] == [[0]]


def test_a_set_cover_value_rising_by_exactly_1e_12_is_no_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """One row covered by three candidates and a known cover of 1 + 2e-12 (so the bound, 1,
    never meets it), no stall window: the steps run until theta falls below 1e-5.  At step
    37 the value, 1, is the best so far (0.999999999999) plus 1e-12 exactly in floats: that
    is not progress (more than 1e-12 is needed), so it counts towards halving theta, and
    the run takes the 343 steps of the documented transcription (357 if it counted)."""
    clock = use_clock(monkeypatch)
    monkeypatch.setattr(lagrange_module, "STALL_WINDOW", 10**6)
    upper = 1.0 + 2e-12
    bound = _set_cover_bound(sp.csr_array(np.ones((1, 3))), upper)
    assert (bound, clock.readings - 1) == documented_set_cover_bound([[True] * 3], upper, window=10**6) == (1.0, 343)
    assert 0.999999999999 + 1e-12 == 1.0


def test_a_set_cover_bound_stuck_at_zero_has_not_stalled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four rows, both candidates cover all of them, a known cover of 2; a stall window of
    one step.  u starts at 1/2: both reduced costs are -1, L = 2 - 2 = 0, and the step
    (2 - 0) / 4 x (-1) takes u to 0, where L = 0 again: the best value (0) moved by 0, which
    is not less than 1e-5 x 0, so the steps go on (u = 1/2, 0, 1/2, ... until theta is halved,
    then L = 1).  The bound is 1, the minimum cover; the steps are those of the reference."""
    monkeypatch.setattr(lagrange_module, "STALL_WINDOW", 1)
    clock = use_clock(monkeypatch)
    rows = np.ones((4, 2), dtype=bool)
    assert brute_min_cover(rows) == 1
    bound = _set_cover_bound(sp.csr_array(rows.astype(float)), 2.0)
    assert (bound, clock.readings - 1) == documented_set_cover_bound(rows.tolist(), 2.0, window=1) == (1.0, 23)


def test_the_bounds_take_their_limits_by_keyword_only() -> None:
    """max_seconds and max_iterations are named, never positional."""
    with pytest.raises(TypeError):
        _lagrangian_bound(sp.csr_array(np.eye(2)), np.array([5.0, 3.0]), 1, 0.0, 10.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        _set_cover_bound(sp.csr_array(np.eye(3)), 3.0, 5.0)  # type: ignore[misc]

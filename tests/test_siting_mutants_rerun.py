"""Tests that kill the mutants a second cosmic-ray run left alive in the greedy
(coverage/siting/greedy.py), the exchanges (coverage/siting/local.py) and the fixing of
the Lagrangian bound (coverage/siting/lagrange.py).

Every expected value is worked out by hand on a tiny instance (see each docstring) or by
brute force over the sets of sites; none is read off the code's output.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import FakeClock, matrix_from_dense

import coverage.siting.local as local_module
from coverage.siting import mclp_greedy, mclp_local_search
from coverage.siting.lagrange import _Lagrangian, _lagrangian_bound, _top_k
from coverage.siting.result import _prepare

T = 5.0  # minutes (matrix_from_dense puts every present pair at 1 minute)


# ------------------------------------------------------------------ greedy.py


def test_the_greedy_does_not_take_a_refreshed_site_half_a_person_below_the_next() -> None:
    """s0 reaches u0 (20 people) and u1 (1), s1 reaches u1 and u2 (9.5), s2 reaches u3 (10);
    k = 2.  The greedy takes s0 (21), then the site that adds most: s1 adds 9.5 (u1 is
    taken), s2 adds 10, so s2: 31 people.  (s1's stale gain, 10.5, tops the heap; refreshed
    to 9.5 it is half a person below s2's 10, far more than the 1e-9 of float noise.)"""
    present = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=bool)
    result = mclp_greedy(matrix_from_dense(present), [20.0, 1.0, 9.5, 10.0], T, 2)
    assert result.sites == ("s0", "s2")
    assert result.marginal == (21.0, 10.0)
    assert result.population_covered_after == 31.0


def test_a_refreshed_gain_1e_9_below_the_next_key_is_taken() -> None:
    """The lazy greedy takes a refreshed site unless it adds more than 1e-9 less than the
    best key waiting, so that float noise does not reorder it (the rule p_median states for
    its own lazy greedy, and greedy.py's "a waiting one within 1e-9 of it").  s0 reaches
    u0 (4 people) and u3 (2), s1 u0 and u1 (1), s2 u2 (x = 1 + 1e-9); k = 2.  Keys: s0 6,
    s1 5, s2 x.  After s0, s1 adds 1 exactly, and x - 1e-9 is 1 in floats: s1 is taken (7
    people), not pushed back behind s2 (which would give {s0, s2})."""
    x = 1.0 + 1e-9
    assert x - 1e-9 == 1.0
    present = np.array([[1, 0, 0, 1], [1, 1, 0, 0], [0, 0, 1, 0]], dtype=bool)
    result = mclp_greedy(matrix_from_dense(present), [4.0, 1.0, x, 2.0], T, 2)
    assert result.sites == ("s0", "s1")
    assert result.marginal == (6.0, 1.0)


def test_on_equal_gains_the_greedy_takes_the_candidate_listed_first() -> None:
    """s0 is required and reaches u0 (1 person); s1 reaches u1 (5), s2 reaches u0 and u2
    (5); k = 1.  Both candidates add 5 people (u0 is already within reach of s0): a tie,
    which goes to the candidate listed first, s1 (as the exact solver's ordering and the
    Lagrangian fixing do).  The people of u0 count for nothing, not even in the greedy's
    first keys: there s2 would top s1 and be taken."""
    present = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1]], dtype=bool)
    result = mclp_greedy(matrix_from_dense(present), [1.0, 5.0, 5.0], T, 1, required=["s0"])
    assert result.sites == ("s1",)
    assert result.population_covered_after == 6.0


def test_a_prepared_problem_cannot_be_changed() -> None:
    """The problem the solvers share (its coverage, weights, required cover) is frozen:
    one solver cannot change it under another."""
    problem = _prepare(matrix_from_dense(np.eye(2, dtype=bool)), [1.0, 2.0], T, ["s0"], None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.weights = np.zeros(2)  # type: ignore[misc]
    assert problem.weights.tolist() == [1.0, 2.0]


# ------------------------------------------------------------------ local.py
#
# An exchange or an addition is made only when it covers more than its tolerance, 1e-9 of
# the people the required sites leave out (at least 1e-9 of a person), so that float noise
# moves no site (the rule p_median states for its exchanges).  Below, those people number
# less than one, so the tolerance is 1e-9 exactly.  w0 = 2**-40 and w0 + 1e-9 are exact in
# floats, and so is their difference.
W0 = 2.0**-40


def test_an_exchange_covering_exactly_the_tolerance_more_is_not_made() -> None:
    """s0 reaches u0 (w0), s1 u1 (w0 + 1e-9); from {s0}, k = 1, the exchange s0 -> s1
    covers exactly 1e-9 more: not made, no move."""
    assert (W0 + 1e-9) - W0 == 1e-9
    matrix = matrix_from_dense(np.eye(2, dtype=bool))
    result = mclp_local_search(matrix, [W0, W0 + 1e-9], T, 1, start_sites=["s0"])
    assert result.sites == ("s0",)
    assert result.solver_status == "none: the start sites, then 0 moves to a 1-swap local optimum"


def test_an_exchange_covering_a_little_more_than_the_tolerance_is_made() -> None:
    """As above with u1 = w0 + 1.5e-9 (people in all: less than one, so the tolerance is
    1e-9, not 1e-9 of the people nor 2e-9): the exchange s0 -> s1 is made."""
    matrix = matrix_from_dense(np.eye(2, dtype=bool))
    result = mclp_local_search(matrix, [W0, W0 + 1.5e-9], T, 1, start_sites=["s0"])
    assert result.sites == ("s1",)
    assert result.solver_status == "none: the start sites, then 1 moves to a 1-swap local optimum"


def test_the_tolerance_grows_with_the_people_left_out() -> None:
    """s0 reaches u0 (1 person), s1 u1 (1 + 1.5e-9): two people left out, so the tolerance
    is 1e-9 of them, 2e-9; from {s0}, k = 1, the exchange s0 -> s1 covers 1.5e-9 more
    (to a float rounding of 1e-16): not made."""
    matrix = matrix_from_dense(np.eye(2, dtype=bool))
    result = mclp_local_search(matrix, [1.0, 1.0 + 1.5e-9], T, 1, start_sites=["s0"])
    assert result.sites == ("s0",)
    assert result.solver_status == "none: the start sites, then 0 moves to a 1-swap local optimum"


@pytest.mark.parametrize(("extra", "sites", "moves"), [(1e-9, ("s0",), 0), (1.5e-9, ("s0", "s1"), 1)])
def test_an_addition_must_cover_more_than_the_tolerance(extra: float, sites: tuple[str, ...], moves: int) -> None:
    """s0 reaches u0 (half a person), s1 u1 (``extra``); from {s0} with room for two,
    adding s1 covers ``extra`` more: not made at exactly 1e-9, made at 1.5e-9."""
    matrix = matrix_from_dense(np.eye(2, dtype=bool))
    result = mclp_local_search(matrix, [0.5, extra], T, 2, start_sites=["s0"])
    assert result.sites == sites
    assert result.solver_status == f"none: the start sites, then {moves} moves to a 1-swap local optimum"


def test_a_clock_reading_exactly_the_deadline_is_still_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Greedy trap (s0 reaches u0-u3, s1 u0, u1, u4, s2 u2, u3, u5; greedy {s0, s1} = 5, one
    exchange s0 -> s2 to 6), a clock that moves on 10 s at each reading: 10 (start), 20
    (deadline = 20 + 10 = 30), then 30 before the first step: not past the deadline (time
    runs out only after it), so the exchange is made; 40 before the second: stop."""
    monkeypatch.setattr(local_module, "time", types.SimpleNamespace(perf_counter=FakeClock(10.0).perf_counter))
    trap = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]], dtype=bool)
    result = mclp_local_search(matrix_from_dense(trap), [1.0] * 6, T, 2, max_seconds=10.0)
    assert result.population_covered_after == 6
    assert result.solver_status == "none: greedy, then 1 moves to the time limit of 10 s"


# ------------------------------------------------------------------ lagrange.py


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [1, 10, 100, 500, 999])
def test_the_relaxed_answer_is_the_k_largest_costs(seed: int, k: int) -> None:
    """1000 distinct costs 0..999 in a shuffled order: the k largest are those >= 1000 - k
    (numpy's partition of a large array puts only its kth element in place: a partition
    around the first element leaves the next k - 1 anywhere)."""
    costs = np.random.default_rng(seed).permutation(1000).astype(float)
    assert sorted(_top_k(costs, k).tolist()) == [j for j in range(1000) if costs[j] >= 1000 - k]


def test_a_whole_bound_with_a_slack_of_more_than_one_person_is_left_as_computed() -> None:
    """Two units of 4,000,000,001 and 1,000,000,000 people, a candidate each, k = 1: the
    multipliers start at the weights, so c = w, the relaxed answer is {s0} and L =
    4,000,000,001 exactly, the answer (proved in one step).  The slack, 1e-10 of the
    magnitudes summed (5e9 + 5e9 + 4e9: 1.4 people), is not below half a person, so the
    bound is L as computed; rounded down after the slack it would be 4,000,000,002, one
    person above what any site covers."""
    relaxed = _lagrangian_bound(sp.csr_array(np.eye(2)), np.array([4e9 + 1, 1e9]), 1, 0.0)
    assert relaxed.slack == pytest.approx(1.4, rel=1e-9)
    assert relaxed.bound == relaxed.raw == relaxed.best_value == 4e9 + 1


def test_fixing_does_not_round_with_a_slack_above_half_a_person() -> None:
    """L = 10.6, costs 5, 4, 3, 1, k = 2, incumbent 9.5, whole weights and a slack of 0.7
    (more than half a person: rounding could move a bound by a whole person).  The bounds
    are taken as computed: with j, 10.6 - 4 + c_j = 9.6 (s2), 7.6 (s3); without j, 10.6 -
    c_j + 3 = 8.6 (s0), 9.6 (s1).  Below 9.5: s3 out, s0 forced, and the rest is 8.6
    (rounded down after the slack they would be 10, 8, 9, 10: a rest of 9)."""
    relaxed = _Lagrangian(
        bound=10.6,
        costs=np.array([5.0, 4.0, 3.0, 1.0]),
        raw=10.6,
        whole=True,
        best_sites=np.arange(0),
        best_value=-np.inf,
        iterations=0,
        slack=0.7,
    )
    out, forced, rest = relaxed.fixing(2, 9.5)
    assert out.tolist() == [False, False, False, True]
    assert forced.tolist() == [True, False, False, False]
    assert rest == pytest.approx(8.6, abs=1e-12)


def test_a_slack_of_exactly_half_a_person_does_not_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """g0 (1 person) reached by s0 and s1, g1 (1) by s2; k = 1; one step.  The multipliers
    start at 1/2, 1/2 and 1, so c = (1/2, 1/2, 1), the relaxed answer is {s2} and L = 2 -
    3/2 + 1 = 3/2.  The magnitudes summed are 2 + 3/2 + 1 = 9/2; with ROUNDING = 1/9 the
    slack is 1/2 exactly (in floats too): not below half a person, so the bound stays 3/2
    (rounded down after the slack it would be 2)."""
    import coverage.siting.lagrange as lagrange_module

    monkeypatch.setattr(lagrange_module, "ROUNDING", 1 / 9)
    assert 4.5 * (1 / 9) == 0.5
    present = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    relaxed = _lagrangian_bound(sp.csr_array(present), np.array([1.0, 1.0]), 1, 0.0, max_iterations=1)
    assert relaxed.whole and relaxed.slack == 0.5
    assert relaxed.bound == relaxed.raw == 1.5 and relaxed.best_value == 1.0

"""Tests that kill the mutants cosmic-ray left alive in the exact siting models
(coverage/siting/exact.py, coverage/siting/lexicographic.py) and in the Lagrangian bounds
they use (``_lagrangian_bound``, ``_set_cover_bound`` in coverage/siting/lagrange.py).

Every expected value is worked out by hand on a tiny instance (see each docstring) or by
brute force over all sets of sites; none is read off the code's output.  The time budget
is checked with a frozen clock (the module's ``time`` replaced), never against the wall.
"""

from __future__ import annotations

import dataclasses
import itertools
import types

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import lagrangian_stub, matrix_from_dense, spy_calls

import coverage.siting.exact as exact_module
import coverage.siting.lexicographic as lexicographic_module
from coverage.errors import InputDataError
from coverage.siting import fewest_sites, lscp, mclp_exact, most_then_fewest
from coverage.siting.exact import _certify
from coverage.siting.lagrange import _Lagrangian
from coverage.siting.result import SitingResult

T = 5.0  # minutes; every stored pair of matrix_from_dense is at 1 minute

# Six units of weight 1.  A reaches u0-u3, B u0, u1, u4, C u2, u3, u5.  The greedy takes A
# (4 units), then B (one more): 5.  B and C cover all six.
GREEDY_TRAP = np.array(
    [
        [1, 1, 1, 1, 0, 0],  # s0 = A
        [1, 1, 0, 0, 1, 0],  # s1 = B
        [0, 0, 1, 1, 0, 1],  # s2 = C
    ],
    dtype=bool,
)

# Weights 8, 7, 4, 9, 6, 8, 1, 4 on u0..u7; s0 reaches no one, s1 {u3}, s2 {u0, u3},
# s3 {u1, u2, u4, u5}, s4 {u3, u5}, s5 {u0, u1, u2, u5}.  With k = 2 the greedy takes s5
# (27), then s1 (9, tied with s2 and s4, listed first): 36.  No single exchange does
# better (s5 with s2 or s4: 36; s1 with s3: 34; s5 with s3: 33), but {s2, s3} covers
# 8 + 9 + 7 + 4 + 6 + 8 = 42, everyone a candidate reaches (u6 and u7 no one reaches).
TWO_SWAP = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0, 0],
        [1, 0, 0, 1, 0, 0, 0, 0],
        [0, 1, 1, 0, 1, 1, 0, 0],
        [0, 0, 0, 1, 0, 1, 0, 0],
        [1, 1, 1, 0, 0, 1, 0, 0],
    ],
    dtype=bool,
)
TWO_SWAP_WEIGHTS = np.array([8.0, 7.0, 4.0, 9.0, 6.0, 8.0, 1.0, 4.0])

# Six candidates, eight units of weight 1, k = 2: an instance where the Lagrangian bound
# is not met and HiGHS is called on the reduced model.
NEEDS_HIGHS = np.array(
    [
        [1, 0, 0, 0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 1, 1, 0, 1, 0, 1, 0],
        [0, 1, 0, 1, 1, 0, 1, 1],
        [0, 0, 0, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0, 0],
    ],
    dtype=bool,
)


def brute_best(present: np.ndarray, weights: np.ndarray, k: int) -> float:
    """Most people covered by any k sites (all subsets)."""
    return max(
        float(weights[present[list(combo)].any(axis=0)].sum())
        for combo in itertools.combinations(range(present.shape[0]), k)
    )


def frozen_clock(monkeypatch: pytest.MonkeyPatch, at: float = 1000.0, module: object = exact_module) -> None:
    """The module's clock stopped at ``at`` seconds: every budget it shares out is exact."""
    monkeypatch.setattr(module, "time", types.SimpleNamespace(perf_counter=lambda: at))


def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """exact.py's clock one second further at each reading: any budget of 0 s has passed."""
    monkeypatch.setattr(exact_module, "time", types.SimpleNamespace(perf_counter=itertools.count(1000.0, 1.0).__next__))


def spy(monkeypatch: pytest.MonkeyPatch, name: str, seen: list[dict[str, object]]) -> None:
    """Record the keyword arguments of each call of exact.<name>, then call it."""
    spy_calls(monkeypatch, exact_module, name, seen)


def no_solver(**kwargs: object) -> tuple[np.ndarray, float, str]:
    """A MIP solver that found nothing and proved nothing (no sites, no bound)."""
    return np.zeros(int(kwargs["n_x"]), dtype=bool), float("nan"), "HiGHS: stub"  # type: ignore[call-overload]


# ------------------------------------------------------------------ exact.py: MCLP


def test_the_two_swap_instance_is_what_its_comment_says() -> None:
    assert brute_best(TWO_SWAP, TWO_SWAP_WEIGHTS, 2) == 42.0
    assert brute_best(NEEDS_HIGHS, np.ones(8), 2) == 7.0


def test_the_relaxed_answers_lead_the_exchanges_past_a_local_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """On TWO_SWAP the greedy and its exchanges stop at 36; the Lagrangian relaxed answers
    are other starts, from which the exchanges reach 42.  With no MIP solver at all (a
    stub that finds nothing), 42 can only come from those starts, and it meets the bound
    (42, everyone reachable): optimal."""
    monkeypatch.setattr(exact_module, "_solve_binary_program", no_solver)
    result = mclp_exact(matrix_from_dense(TWO_SWAP), TWO_SWAP_WEIGHTS, T, 2)
    assert result.population_covered_after == 42.0
    assert sorted(result.sites) == ["s2", "s3"]
    assert result.status == "optimal"


@pytest.mark.usefixtures("no_lagrangian_bound")
def test_a_relaxed_answer_that_only_ties_does_not_replace_the_incumbent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three sites reaching one unit each (weight 1), k = 1: the greedy takes s0.  A
    Lagrangian result (stub) proving 1 with the relaxed answer s1: the exchanges from s1
    keep s1 (a tie), which does not replace s0; the bound is met."""

    def tie(a: object, *args: object, **kwargs: object) -> _Lagrangian:
        return _Lagrangian(
            bound=1.0,
            costs=np.zeros(3),
            raw=1.0,
            whole=True,
            best_sites=np.array([1]),
            best_value=1.0,
            iterations=2,
            starts=(np.array([1]),),
        )

    monkeypatch.setattr(exact_module, "_lagrangian_bound", tie)
    result = mclp_exact(matrix_from_dense(np.eye(3, dtype=bool)), [1.0, 1.0, 1.0], T, 1)
    assert result.sites == ("s0",)
    assert result.solver_status == "Lagrangian bound after 2 subgradient steps met"


@pytest.mark.usefixtures("no_lagrangian_bound")
def test_the_solver_answer_is_taken_when_it_covers_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """No exchanges (they hand back their start) and no Lagrangian bound: the best known
    answer is the greedy's (A, B: 5).  HiGHS finds B, C (6), which must replace it."""
    monkeypatch.setattr(exact_module, "_improve_cover", lambda problem, chosen, k, **_: (list(chosen), 0, True))
    result = mclp_exact(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2)
    assert sorted(result.sites) == ["s1", "s2"]
    assert result.population_covered_after == 6.0 and result.status == "optimal"


@pytest.mark.usefixtures("no_lagrangian_bound")
def test_a_one_site_answer_of_the_solver_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """k = 1 on GREEDY_TRAP, with exchanges that hand back C (3 people) whatever their
    start: HiGHS finds A (4 people), a single site, which replaces C."""
    monkeypatch.setattr(exact_module, "_improve_cover", lambda problem, chosen, k, **_: ([2], 0, True))
    result = mclp_exact(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 1)
    assert list(result.sites) == ["s0"] and result.population_covered_after == 4.0


@pytest.mark.usefixtures("no_lagrangian_bound")
def test_dominated_candidates_are_left_out_of_the_mip(monkeypatch: pytest.MonkeyPatch) -> None:
    """In NEEDS_HIGHS, s4 reaches {u3, u4}, inside s1's {u2, u3, u4, u5}; no other
    candidate's units lie inside another's.  Without the Lagrangian bound nothing is
    excluded by fixing, so HiGHS gets the 5 other candidates."""
    solve: list[dict[str, object]] = []
    spy(monkeypatch, "_solve_binary_program", solve)
    result = mclp_exact(matrix_from_dense(NEEDS_HIGHS), np.ones(8), T, 2)
    assert [call["n_x"] for call in solve] == [5]
    assert "; 1 dominated candidates left out" in result.solver_status
    assert result.population_covered_after == 7.0


@pytest.mark.usefixtures("no_lagrangian_bound")
def test_a_solver_answer_with_fewer_sites_than_k_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0 reaches u0 and u1, s1 only u0, s2 only u1; k = 2 (below the 3 useful candidates,
    so the solve is needed).  The exchanges hand back s1 (1 person); a solver that
    answers s0 alone (2 people, one site fewer than k) is taken."""
    monkeypatch.setattr(exact_module, "_improve_cover", lambda problem, chosen, k, **_: ([1], 0, True))

    def first_only(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.arange(int(kwargs["n_x"])) == 0, 2.0, "HiGHS: stub"  # type: ignore[call-overload]

    monkeypatch.setattr(exact_module, "_solve_binary_program", first_only)
    present = np.array([[1, 1], [1, 0], [0, 1]], dtype=bool)  # s2 (u1 only) is dominated
    result = mclp_exact(matrix_from_dense(present), [1.0, 1.0], T, 2)
    assert list(result.sites) == ["s0"] and result.population_covered_after == 2.0


def test_a_candidate_inside_a_later_one_is_dominated() -> None:
    """Candidate 0 reaches group 0, candidate 1 groups 0 and 1: 0 is dominated by the
    later 1 (not only by earlier ones); 1 is not."""
    from coverage.siting.exact import _dominated

    a = sp.csc_array(np.array([[1.0, 1.0], [0.0, 1.0]]))  # groups x candidates
    assert _dominated(a, np.zeros(2, dtype=bool)).tolist() == [True, False]


def test_dominance_is_tested_up_to_its_limit_of_candidates() -> None:
    """DOMINANCE_MAX_CANDIDATES (5000) candidates, each reaching its own group except the
    second, equal to the first: at the limit the test is still made, and finds it."""
    from coverage.siting.exact import _dominated

    n = 5000  # the documented limit
    groups = np.arange(n)
    groups[1] = 0
    a = sp.csc_array((np.ones(n), (groups, np.arange(n))), shape=(n, n))
    dominated = _dominated(a, np.zeros(n, dtype=bool))
    assert np.flatnonzero(dominated).tolist() == [1]
    over = sp.csc_array((np.ones(n + 1), (np.append(groups, 0), np.arange(n + 1))), shape=(n, n + 1))
    assert not _dominated(over, np.zeros(n + 1, dtype=bool)).any()  # above the limit: skipped


def budgets_on_a_stopped_clock(
    monkeypatch: pytest.MonkeyPatch, **options: float
) -> tuple[SitingResult, list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:
    """mclp_exact on NEEDS_HIGHS, k = 2, with exact.py's clock stopped at 1000 s: the result
    and the keyword arguments of each call of the exchanges, the Lagrangian bound and HiGHS."""
    frozen_clock(monkeypatch)
    improve: list[dict[str, object]] = []
    bound: list[dict[str, object]] = []
    solve: list[dict[str, object]] = []
    spy(monkeypatch, "_improve_cover", improve)
    spy(monkeypatch, "_lagrangian_bound", bound)
    spy(monkeypatch, "_solve_binary_program", solve)
    result = mclp_exact(matrix_from_dense(NEEDS_HIGHS), np.ones(8), T, 2, **options)  # type: ignore[arg-type]
    return result, improve, bound, solve


def test_the_time_limit_is_shared_out_from_the_start_of_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clock stopped at 1000 s, default limit 60 s: the deadline is 1060, 60 s remain at every
    step.  The exchanges from the greedy get a tenth (6 s), the Lagrangian bound a
    quarter (15 s), the exchanges from its relaxed answers the next quarter (until 1015:
    15 s each), HiGHS what remains (60 s)."""
    result, improve, bound, solve = budgets_on_a_stopped_clock(monkeypatch)  # the default limit
    assert result.population_covered_after == 7.0 and result.status == "optimal"
    assert improve[0]["max_seconds"] == pytest.approx(6.0)
    assert len(improve) > 1 and all(call["max_seconds"] == pytest.approx(15.0) for call in improve[1:])
    assert [call["max_seconds"] for call in bound] == [pytest.approx(15.0)]
    assert [call["time_limit_s"] for call in solve] == [pytest.approx(60.0)]
    assert [call["mip_rel_gap"] for call in solve] == [0.0]  # the default: a proven optimum


def test_no_time_left_skips_the_exchanges_from_the_relaxed_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit of 0 s on a clock that moves: once the Lagrangian bound is computed, the time
    for exchanges from its relaxed answers has passed, so only the greedy answer is
    improved (one call of the exchanges: TWO_SWAP's greedy is improved to 36 < 42, so
    the relaxed answers are reached and the bound computed)."""
    ticking_clock(monkeypatch)
    improve: list[dict[str, object]] = []
    bound: list[dict[str, object]] = []
    spy(monkeypatch, "_improve_cover", improve)
    spy(monkeypatch, "_lagrangian_bound", bound)
    monkeypatch.setattr(exact_module, "_solve_binary_program", no_solver)
    mclp_exact(matrix_from_dense(TWO_SWAP), TWO_SWAP_WEIGHTS, T, 2, time_limit_s=0.0)
    assert len(bound) == 1
    assert len(improve) == 1


def test_a_spent_time_limit_gives_each_relaxed_answer_no_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clock stopped at 1000 s, a limit of -4 s (already spent): the share left for the
    exchanges from the relaxed answers is 0 s, never negative, so each is still tried
    once for 0 s (the clock does not move, so the check `now > until` never stops them)."""
    frozen_clock(monkeypatch)
    improve: list[dict[str, object]] = []
    spy(monkeypatch, "_improve_cover", improve)
    monkeypatch.setattr(exact_module, "_solve_binary_program", no_solver)
    mclp_exact(matrix_from_dense(TWO_SWAP), TWO_SWAP_WEIGHTS, T, 2, time_limit_s=-4.0)
    assert improve[0]["max_seconds"] == 0.1  # the floor of the first exchanges
    assert len(improve) > 1 and all(call["max_seconds"] == 0.0 for call in improve[1:])


def test_no_one_left_to_cover_needs_no_model() -> None:
    """The required s0 covers u0 and u1: with k = 1 there is no one left to cover."""
    matrix = matrix_from_dense(np.array([[1, 1], [1, 0]], dtype=bool))
    result = mclp_exact(matrix, [1.0, 1.0], T, 1, required=["s0"])
    assert result.sites == () and result.population_covered_after == 2.0
    assert result.solver_status == "not needed: no one left to cover" and result.status == "nothing to gain"


def test_a_start_covers_the_groups_its_sites_reach() -> None:
    """Model over candidates 0 and 1 and three groups: 0 reaches g0 and g1, 1 reaches g1
    and g2.  The start from site 1 sets x = (0, 1) and y = (0, 1, 1); from both, y is 1
    (not 2) on g1."""
    from coverage.siting.exact import _CoverageModel

    a_xy = sp.csc_array(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))  # groups x candidates
    model = _CoverageModel(useful=np.array([0, 1]), a_xy=a_xy, group_weight=np.ones(3))
    assert model.start([1]).tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert model.start([0, 1]).tolist() == [1.0, 1.0, 1.0, 1.0, 1.0]


def test_the_binary_program_keeps_y_continuous_unless_asked() -> None:
    """maximise y subject to 2 y <= x, x binary: y = 1/2 when y is continuous (the
    default), 0 when y must be whole."""
    from coverage.siting.exact import _solve_binary_program

    def solve(**extra: object) -> tuple[np.ndarray, float, str]:
        return _solve_binary_program(
            n_x=1,
            n_y=1,
            cost=np.array([0.0, 1.0]),
            a=sp.csc_array(np.array([[-1.0, 2.0]])),
            row_lower=np.array([-np.inf]),
            row_upper=np.array([0.0]),
            maximize=True,
            start=None,
            time_limit_s=10.0,
            mip_rel_gap=0.0,
            **extra,  # type: ignore[arg-type]
        )

    x, dual, status = solve()
    assert x.tolist() == [True] and dual == pytest.approx(0.5) and status == "HiGHS: Optimal"
    assert solve(integral_y=True)[1] == pytest.approx(0.0)


@pytest.mark.parametrize("k", [2, 3])
def test_every_useful_candidate_fits_without_a_solve(k: int) -> None:
    """s0 reaches no one; s1 and s2 reach u0 and u1.  With k = 2 or 3 every useful
    candidate (two) fits: both are taken without any search, bound = everyone reachable (2)."""
    matrix = matrix_from_dense(np.array([[0, 0], [1, 0], [0, 1]], dtype=bool))
    result = mclp_exact(matrix, [1.0, 1.0], T, k)
    assert sorted(result.sites) == ["s1", "s2"]
    assert result.solver_status == "not needed: every useful candidate fits"
    assert result.status == "optimal" and result.bound == 2.0


@pytest.mark.parametrize(
    ("weight", "bound", "met"),
    [
        (0.125, 0.5 + 0.8e-9, True),
        (0.25, 1.0 + 1e-9, True),
        (0.25, 1.0 + 1.5e-9, False),
        (1000.0, 4000.0 + 2e-6, True),  # relative above one person: 2e-6 < 1e-9 x 4000
    ],
)
def test_a_bound_within_a_billionth_of_a_small_answer_is_met(
    monkeypatch: pytest.MonkeyPatch, weight: float, bound: float, met: bool
) -> None:
    """Populations of a person or less: the tolerance stays 1e-9 absolute.  On GREEDY_TRAP
    with k = 1, A covers 4 units: 0.5 (weights 1/8) or 1.0 (weights 1/4).  A Lagrangian
    bound 0.8e-9 above 0.5, or exactly 1e-9 x the bound above 1.0 (1 + 1e-9 - 1e-9 x
    (1 + 1e-9) is exactly 1.0 in floats), is met, with no MIP solve; 1.5e-9 above 1.0 is
    not (HiGHS then proves 1.0)."""

    monkeypatch.setattr(exact_module, "_lagrangian_bound", lagrangian_stub(bound, iterations=3))
    result = mclp_exact(matrix_from_dense(GREEDY_TRAP), [weight] * 6, T, 1)
    assert list(result.sites) == ["s0"] and result.population_covered_after == 4 * weight
    assert (result.solver_status == "Lagrangian bound after 3 subgradient steps met") == met
    assert result.status == "optimal"


def test_everyone_reached_up_to_the_tolerance_needs_no_bound() -> None:
    """s0 reaches u0 (1 person), s1 u1 (1e-9 of a person); k = 1.  s0 leaves out exactly
    the tolerance (1e-9 x everyone, and 1 + 1e-9 - that is exactly 1.0 in floats): that
    counts as everyone, with no Lagrangian bound."""
    matrix = matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool))
    result = mclp_exact(matrix, [1.0, 1e-9], T, 1)
    assert list(result.sites) == ["s0"]
    assert result.solver_status == "not needed: everyone a candidate reaches is covered"


@pytest.mark.parametrize("maximize", [True, False])
@pytest.mark.parametrize("side", [1.0, -1.0])
def test_a_bound_exactly_the_tolerance_away_is_met(maximize: bool, side: float) -> None:
    """The tolerance is inclusive on both sides: 1.0 against a bound 1e-9 away (1.0 -/+
    1e-9 +/- 1e-9 is exactly 1.0 in floats) is optimal; on the wrong side (a maximum's
    bound below the answer, a minimum's above) it is a rounding error, not a false bound
    to be replaced by the trivial one."""
    bound = 1.0 + side * 1e-9
    assert _certify(1.0, bound, 5.0 if maximize else 0.0, maximize=maximize) == (1.0, "optimal")


def test_certify_takes_the_sense_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        _certify(1.0, 1.0, 1.0, True)  # type: ignore[misc]


# ------------------------------------------------------------------ exact.py: LSCP


def test_a_false_set_cover_bound_is_replaced_by_one_site(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0 reaches u0 and u1, s1 reaches u2: two sites are needed (and the greedy finds
    them).  A bound of 5 sites above that cover of 2 is false; the bound that needs no
    solver is one site, which does not prove two: feasible, bound 1, gap 1/2."""
    monkeypatch.setattr(exact_module, "_set_cover_bound", lambda *args, **kwargs: 5.0)
    result = lscp(matrix_from_dense(np.array([[1, 1, 0], [0, 0, 1]], dtype=bool)), [1.0, 1.0, 1.0], T)
    assert sorted(result.sites) == ["s0", "s1"]
    assert result.status == "feasible" and result.bound == 1.0 and result.gap == pytest.approx(0.5)


@pytest.mark.parametrize("stated", [5.0, 2.0])
def test_a_set_cover_bound_at_the_greedy_count_needs_no_mip(monkeypatch: pytest.MonkeyPatch, stated: float) -> None:
    """A bound of 2 sites (the greedy's count) or of 5 is not below the greedy's 2: HiGHS
    is not called (a bound of 5 is then found false and replaced, see above)."""

    def never(**kwargs: object) -> object:
        raise AssertionError("HiGHS called")

    monkeypatch.setattr(exact_module, "_set_cover_bound", lambda *args, **kwargs: stated)
    monkeypatch.setattr(exact_module, "_solve_binary_program", never)
    result = lscp(matrix_from_dense(np.array([[1, 1, 0], [0, 0, 1]], dtype=bool)), [1.0, 1.0, 1.0], T)
    assert sorted(result.sites) == ["s0", "s1"]


def test_a_solver_cover_of_the_same_size_does_not_replace_the_greedy(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0 and s1 both reach u0 and u1: the greedy takes s0.  With a weak bound (0) HiGHS is
    called; a solver that answers s1 (one site too, no fewer) does not replace s0."""
    monkeypatch.setattr(exact_module, "_set_cover_bound", lambda *args, **kwargs: 0.0)

    def second(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([False, True]), 1.0, "HiGHS: stub"

    monkeypatch.setattr(exact_module, "_solve_binary_program", second)
    result = lscp(matrix_from_dense(np.array([[1, 1], [1, 1]], dtype=bool)), [1.0, 1.0], T)
    assert result.sites == ("s0",) and result.status == "optimal"


def test_lscp_shares_out_its_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default limit is a minute: a tenth of it for the Lagrangian bound (at most 300
    steps), the whole of it for HiGHS.  GREEDY_TRAP: greedy 3 sites, bound below it."""
    bound: list[dict[str, object]] = []
    solve: list[dict[str, object]] = []
    spy(monkeypatch, "_set_cover_bound", bound)
    spy(monkeypatch, "_solve_binary_program", solve)
    result = lscp(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T)
    assert sorted(result.sites) == ["s1", "s2"]
    assert [(call["max_seconds"], call["max_iterations"]) for call in bound] == [(pytest.approx(6.0), 300)]
    assert [call["time_limit_s"] for call in solve] == [60.0]
    assert [call["mip_rel_gap"] for call in solve] == [0.0]  # a proven minimum
    lscp(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, time_limit_s=0.5)
    assert bound[1]["max_seconds"] == 0.1  # a tenth, but never below 0.1 s


def test_lscp_with_no_one_left_to_cover_warns_of_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """The required s0 covers u0 and u1: no new site, bound 0, no warning."""
    matrix = matrix_from_dense(np.array([[1, 1], [1, 0]], dtype=bool))
    with caplog.at_level("WARNING", logger="coverage.siting"):
        result = lscp(matrix, [1.0, 1.0], T, required=["s0"])
    assert result.sites == () and result.bound == 0.0 and result.status == "optimal"
    assert result.gap == 0.0  # no site, nothing to prove: no gap (never negative)
    assert result.solver_status == "not needed: no one left to cover"
    assert not caplog.records


def test_lscp_names_twenty_uncoverable_units(caplog: pytest.LogCaptureFixture) -> None:
    """s0 reaches u0 only; u1..u21 (21 units) are beyond every site: the warning names the
    first twenty of them."""
    present = np.zeros((1, 22), dtype=bool)
    present[0, 0] = True
    with caplog.at_level("WARNING", logger="coverage.siting"):
        result = lscp(matrix_from_dense(present), [1.0] * 22, T)
    assert len(result.uncoverable) == 21
    (message,) = [r.getMessage() for r in caplog.records if "cannot be covered" in r.getMessage()]
    assert message.split(": ", 1)[1].split(", ") == [f"u{i}" for i in range(1, 21)]


def test_lscp_seconds_is_the_time_between_start_and_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stopped clock: no time passes, whatever the clock reads."""
    frozen_clock(monkeypatch, at=5000.0)
    result = lscp(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T)
    assert result.seconds == 0.0


# ------------------------------------------------------------------ lexicographic.py


def test_most_then_fewest_takes_its_options_by_keyword_only() -> None:
    """The data (matrix, population, threshold, k) can be named; the options cannot be
    passed by position."""
    matrix = matrix_from_dense(GREEDY_TRAP)
    result = most_then_fewest(matrix=matrix, population=[1.0] * 6, threshold_min=T, k=2)
    assert sorted(result.sites) == ["s1", "s2"]
    assert result.status == "optimal" and result.bound == 6.0 and result.gap == 0.0
    with pytest.raises(TypeError):
        most_then_fewest(matrix, [1.0] * 6, T, 2, ["s0"])  # type: ignore[misc]


def test_mclp_exact_takes_its_options_by_keyword_only() -> None:
    matrix = matrix_from_dense(GREEDY_TRAP)
    result = mclp_exact(matrix=matrix, population=[1.0] * 6, threshold_min=T, k=2)
    assert sorted(result.sites) == ["s1", "s2"]
    with pytest.raises(TypeError):
        mclp_exact(matrix, [1.0] * 6, T, 2, ["s0"])  # type: ignore[misc]


def test_most_then_fewest_seconds_is_the_time_between_start_and_end(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_clock(monkeypatch, at=5000.0, module=lexicographic_module)
    result = most_then_fewest(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2)
    assert result.seconds == 0.0


def test_start_sites_below_the_target_are_refused() -> None:
    """s0 reaches u0 only; the target is both units (2 people)."""
    matrix = matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool))
    with pytest.raises(InputDataError, match="do not reach the population target"):
        fewest_sites(matrix, [1.0, 1.0], T, 2.0, start_sites=["s0"])


def weak_solver(dual: float) -> object:
    """A MIP solver that finds no sites and proves only ``dual``."""

    def solve(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.zeros(int(kwargs["n_x"]), dtype=bool), dual, "HiGHS: stub"  # type: ignore[call-overload]

    return solve


def test_fewest_sites_gap_is_relative_to_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0 reaches u0, s1 u1; the target (both) needs both sites, and the greedy finds
    them.  A solver that proves only 1 site leaves the answer unproven: gap (2 - 1) / 2."""
    monkeypatch.setattr(lexicographic_module, "_solve_binary_program", weak_solver(1.0))
    result = fewest_sites(matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool)), [1.0, 1.0], T, 2.0)
    assert sorted(result.sites) == ["s0", "s1"]
    assert result.status == "feasible" and result.bound == 1.0 and result.gap == pytest.approx(0.5)


def test_fewest_sites_without_a_solver_bound_falls_back_to_one_site(monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that ended without a bound (NaN): the bound is one site, which does not
    prove the greedy's two."""
    monkeypatch.setattr(lexicographic_module, "_solve_binary_program", weak_solver(float("nan")))
    result = fewest_sites(matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool)), [1.0, 1.0], T, 2.0)
    assert sorted(result.sites) == ["s0", "s1"]
    assert result.status == "feasible" and result.bound == 1.0


def test_the_greedy_start_stops_where_it_reaches_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0, s1, s2 reach u0 (3 people), u1 (2), u2 (1).  Target 5: the greedy order s0, s1,
    s2 reaches 3, 5, 6, so the start is s0, s1 (exactly 5), not all three.  With a solver
    that finds nothing but proves 2 sites, that start is the proven answer."""
    monkeypatch.setattr(lexicographic_module, "_solve_binary_program", weak_solver(2.0))
    matrix = matrix_from_dense(np.eye(3, dtype=bool))
    result = fewest_sites(matrix, [3.0, 2.0, 1.0], T, 5.0)
    assert result.sites == ("s0", "s1") and result.status == "optimal"


def test_fewest_sites_seconds_is_the_time_between_start_and_end(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_clock(monkeypatch, at=5000.0, module=lexicographic_module)
    result = fewest_sites(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 6.0)
    assert result.status == "optimal" and result.seconds == 0.0


def test_fewest_sites_replaces_a_false_bound_by_one_site(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same two sites; a solver bound of 5 above the cover of 2 is false: the bound that
    needs no solver, one site, takes its place (gap 1/2)."""
    monkeypatch.setattr(lexicographic_module, "_solve_binary_program", weak_solver(5.0))
    result = fewest_sites(matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool)), [1.0, 1.0], T, 2.0)
    assert result.status == "feasible" and result.bound == 1.0 and result.gap == pytest.approx(0.5)


def test_fewest_sites_takes_its_options_by_keyword_only() -> None:
    matrix = matrix_from_dense(GREEDY_TRAP)
    result = fewest_sites(matrix=matrix, population=[1.0] * 6, threshold_min=T, population_target=6.0)
    assert sorted(result.sites) == ["s1", "s2"]
    with pytest.raises(TypeError):
        fewest_sites(matrix, [1.0] * 6, T, 6.0, ["s0"])  # type: ignore[misc]


def test_a_one_site_answer_replaces_a_two_site_start() -> None:
    """s0 reaches u0 and u1, s1 u0, s2 u1.  From the start s1, s2 the solver finds s0
    alone: one site, taken."""
    matrix = matrix_from_dense(np.array([[1, 1], [1, 0], [0, 1]], dtype=bool))
    result = fewest_sites(matrix, [1.0, 1.0], T, 2.0, start_sites=["s1", "s2"])
    assert result.sites == ("s0",) and result.status == "optimal"


def test_a_solver_answer_with_more_sites_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0 reaches u0 and u1, s1 u0, s2 u1; the start s0 alone reaches the target (2).  A
    solver that answers s1, s2 (two sites, also reaching it) does not replace it."""

    def two(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([False, True, True]), 1.0, "HiGHS: stub"

    monkeypatch.setattr(lexicographic_module, "_solve_binary_program", two)
    matrix = matrix_from_dense(np.array([[1, 1], [1, 0], [0, 1]], dtype=bool))
    result = fewest_sites(matrix, [1.0, 1.0], T, 2.0, start_sites=["s0"])
    assert result.sites == ("s0",) and result.status == "optimal"


@pytest.mark.parametrize("people", [1.0, 1000.0])
def test_a_solver_answer_short_of_the_target_is_not_taken(monkeypatch: pytest.MonkeyPatch, people: float) -> None:
    """s0 reaches u0, s1 u1 (`people` each); the target is both.  A solver that hands back
    s0 alone (fewer sites, but a unit short) is not taken: the greedy's two sites stay."""

    def short(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([True, False]), 1.0, "HiGHS: stub"

    monkeypatch.setattr(lexicographic_module, "_solve_binary_program", short)
    matrix = matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool))
    result = fewest_sites(matrix, [people, people], T, 2 * people)
    assert sorted(result.sites) == ["s0", "s1"] and result.population_covered_after == 2 * people


def test_fewest_sites_asks_the_solver_for_no_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MIP is solved to a proven optimum (relative gap 0), with y binary, within the
    default minute: GREEDY_TRAP, target 6."""
    seen: list[dict[str, object]] = []
    spy_calls(monkeypatch, lexicographic_module, "_solve_binary_program", seen)
    result = fewest_sites(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 6.0)
    assert sorted(result.sites) == ["s1", "s2"] and result.status == "optimal"
    assert [call["mip_rel_gap"] for call in seen] == [0.0]
    assert [call["time_limit_s"] for call in seen] == [60.0]  # the default limit, a minute
    # whole y: with continuous y HiGHS once proved 61 sites "optimal" where 59 suffice
    assert [call["integral_y"] for call in seen] == [True]


def test_a_small_target_a_rounding_error_above_everyone_is_reached() -> None:
    """Populations below one person: the tolerance stays 1e-9 absolute.  u0 and u1 (a
    quarter each) are reached by s0 and s1: everyone is 0.5; a target 0.6e-9 above it is
    within the tolerance, so both sites are the answer, not "infeasible"; 1.5e-9 above
    it is beyond."""
    matrix = matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool))
    result = fewest_sites(matrix, [0.25, 0.25], T, 0.5 + 0.6e-9)
    assert result.status == "optimal" and sorted(result.sites) == ["s0", "s1"]
    beyond = fewest_sites(matrix, [0.25, 0.25], T, 0.5 + 1.5e-9)  # beyond the tolerance
    assert beyond.status == "infeasible" and beyond.sites == ()


def test_most_then_fewest_with_nothing_to_gain_proves_zero_sites() -> None:
    """The required s0 covers everyone: no site is chosen, and no site is proven needed."""
    matrix = matrix_from_dense(np.array([[1, 1], [1, 0]], dtype=bool))
    result = most_then_fewest(matrix, [1.0, 1.0], T, 1, required=["s0"])
    assert result.sites == () and result.sites_bound == 0.0


def test_no_new_site_needed_has_no_gap(caplog: pytest.LogCaptureFixture) -> None:
    """The required s0 already covers everyone (u0, u1): no new site, bound 0, gap 0."""
    matrix = matrix_from_dense(np.array([[1, 1], [1, 0]], dtype=bool))
    for target in (7.0, 5.0):  # everyone, and fewer
        with caplog.at_level("WARNING", logger="coverage.siting"):
            result = fewest_sites(matrix, [3.0, 4.0], T, target, required=["s0"])
        assert not caplog.records  # the bound (0) is no contradiction to be warned about
        assert result.sites == () and result.objective_value == 0.0
        assert result.bound == 0.0 and result.gap == 0.0 and result.status == "optimal"
        assert result.solver_status == "not needed: the required sites reach the target"


def test_an_infeasible_target_takes_no_time_on_a_stopped_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_clock(monkeypatch, at=5000.0, module=lexicographic_module)
    matrix = matrix_from_dense(np.array([[1, 0], [0, 0]], dtype=bool))
    result = fewest_sites(matrix, [1.0, 1.0], T, 2.0)  # u1 is beyond every site
    assert result.status == "infeasible" and result.seconds == 0.0


def test_fewest_sites_is_none_when_the_required_sites_reach_the_target() -> None:
    """s0 (required) covers u0 (5 people), s1 covers u1 (1): a target of 5 or 4 people
    needs no new site (the greedy cut kept one, labelled feasible with gap 1); 6 needs s1."""
    m = matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool))
    for target in (5.0, 4.0):
        result = fewest_sites(m, [5.0, 1.0], 5.0, target, required=["s0"])
        assert result.sites == () and result.status == "optimal" and result.gap == 0
    result = fewest_sites(m, [5.0, 1.0], 5.0, 6.0, required=["s0"])
    assert result.sites == ("s1",) and result.status == "optimal"


# ------------------------------------------------ second run: the mutants left pending


@pytest.mark.parametrize("objective", [0.5, 1.0])
def test_below_one_person_the_tolerance_is_one_billionth_absolute(objective: float) -> None:
    """An answer of half a person or one person against a bound 1.5e-9 away: the tolerance
    is 1e-9 (max(1, objective) x 1e-9), so the bound is not met, on either side."""
    assert _certify(objective, objective + 1.5e-9, 5.0, maximize=True) == (objective + 1.5e-9, "feasible")
    assert _certify(objective, objective - 1.5e-9, 0.0, maximize=False) == (objective - 1.5e-9, "feasible")


def test_a_short_time_limit_gives_each_step_its_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clock stopped, a limit of 0.2 s on NEEDS_HIGHS: the exchanges from the greedy get
    max(0.1, 0.02) = 0.1 s, the Lagrangian bound max(0.1, 0.05) = 0.1 s, HiGHS
    max(0.05, 0.2) = 0.2 s."""
    result, improve, bound, solve = budgets_on_a_stopped_clock(monkeypatch, time_limit_s=0.2)
    assert result.population_covered_after == 7.0 and result.status == "optimal"
    assert improve[0]["max_seconds"] == pytest.approx(0.1)
    assert [call["max_seconds"] for call in bound] == [pytest.approx(0.1)]
    assert [call["time_limit_s"] for call in solve] == [pytest.approx(0.2)]


def test_a_target_a_rounding_above_everyone_reachable_is_reached() -> None:
    """GREEDY_TRAP with 1,000 people per unit: everyone is 6,000, and B and C cover them
    all.  A target of 6,000 x (1 + 5e-10) (a share times a total, rounded up) lies within
    the relative tolerance of 1e-9: it is reached by B and C, proven; it is not
    infeasible, and the solver is not asked for more than everyone."""
    result = fewest_sites(matrix_from_dense(GREEDY_TRAP), [1000.0] * 6, T, 6000.0 * (1 + 5e-10))
    assert sorted(result.sites) == ["s1", "s2"]
    assert result.status == "optimal" and result.population_covered_after == 6000.0


def test_a_solver_answer_exactly_the_tolerance_short_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Target 1 + 1e-9 person; s0 reaches u0 and u1 (half a person each), s1 u0 and u2
    (1e-9 of a person), s2 u1.  From the start s1, s2 (1 + 1e-9), a solver answer s0
    covering 1.0 is exactly the tolerance short (1 + 1e-9 - 1e-9 x (1 + 1e-9) is 1.0 in
    floats): it counts as reaching the target, and one site is proven by the bound 1."""

    def one(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([True, False, False]), 1.0, "HiGHS: stub"

    monkeypatch.setattr(lexicographic_module, "_solve_binary_program", one)
    matrix = matrix_from_dense(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool))
    result = fewest_sites(matrix, [0.5, 0.5, 1e-9], T, 1 + 1e-9, start_sites=["s1", "s2"])
    assert result.sites == ("s0",) and result.status == "optimal"


@pytest.mark.parametrize("stated", [7.0, 13.0])
def test_an_unproven_first_step_leaves_the_answer_unproven(monkeypatch: pytest.MonkeyPatch, stated: float) -> None:
    """GREEDY_TRAP, k = 2: B and C cover all six, and the second step proves two sites.  If
    the first step had only proved a bound of 7 (a time limit, say), the answer stays
    feasible with that bound and a gap of (7 - 6) / 7; with 13, (13 - 6) / 13."""
    real = lexicographic_module.mclp_exact

    def unproven(*args: object, **kwargs: object) -> object:
        return dataclasses.replace(real(*args, **kwargs), bound=stated, status="feasible")  # type: ignore[arg-type]

    monkeypatch.setattr(lexicographic_module, "mclp_exact", unproven)
    result = most_then_fewest(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2)
    assert sorted(result.sites) == ["s1", "s2"] and result.sites_bound == 2.0
    assert result.objective_value == 6.0 and result.bound == stated
    assert result.status == "feasible" and result.gap == pytest.approx((stated - 6.0) / stated)


def test_below_one_person_everyone_is_reached_within_one_billionth() -> None:
    """s0 reaches u0 (half a person), s1 u1 (1e-9 of a person); k = 1.  s0 leaves out 1e-9
    of a person, which is the absolute tolerance below one person (1e-9 x max(1, 0.5 +
    1e-9)): that counts as everyone, with no Lagrangian bound."""
    matrix = matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool))
    result = mclp_exact(matrix, [0.5, 1e-9], T, 1)
    assert list(result.sites) == ["s0"]
    assert result.solver_status == "not needed: everyone a candidate reaches is covered"


def test_a_solver_answer_of_more_than_k_sites_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0, s1, s2 reach u0, u1, u2 (one person each); k = 1.  The exchanges hand back s0
    (1 person); a bound of 3 is not met, so HiGHS is called; a solver that answers all
    three sites (3 people, but 3 > k sites) is not believed: s0 stays."""
    monkeypatch.setattr(exact_module, "_improve_cover", lambda problem, chosen, k, **_: ([0], 0, True))
    monkeypatch.setattr(exact_module, "_lagrangian_bound", lagrangian_stub(3.0, iterations=1))

    def every_site(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.ones(int(kwargs["n_x"]), dtype=bool), 3.0, "HiGHS: stub"  # type: ignore[call-overload]

    monkeypatch.setattr(exact_module, "_solve_binary_program", every_site)
    result = mclp_exact(matrix_from_dense(np.eye(3, dtype=bool)), [1.0, 1.0, 1.0], T, 1)
    assert list(result.sites) == ["s0"] and result.population_covered_after == 1.0
    assert result.status == "feasible"


def test_highs_writes_nothing_to_the_terminal(capfd: pytest.CaptureFixture[str]) -> None:
    """NEEDS_HIGHS calls HiGHS (the Lagrangian bound is not met); its banner and log stay
    off the planner's terminal and notebook."""
    result = mclp_exact(matrix_from_dense(NEEDS_HIGHS), np.ones(8), T, 2)
    assert result.status == "optimal" and "HiGHS" in result.solver_status
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_lscp_takes_its_options_by_keyword_only() -> None:
    matrix = matrix_from_dense(GREEDY_TRAP)
    result = lscp(matrix=matrix, population=[1.0] * 6, threshold_min=T)
    assert sorted(result.sites) == ["s1", "s2"]
    with pytest.raises(TypeError):
        lscp(matrix, [1.0] * 6, T, ["s0"])  # type: ignore[misc]


def test_a_solver_answer_of_as_many_sites_keeps_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0 and s1 both reach u0 and u1; the start s0 reaches the target.  A solver answer
    s1 (as many sites, no better) does not replace the start the planner gave."""

    def other(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([False, True]), 1.0, "HiGHS: stub"

    monkeypatch.setattr(lexicographic_module, "_solve_binary_program", other)
    matrix = matrix_from_dense(np.array([[1, 1], [1, 1]], dtype=bool))
    result = fewest_sites(matrix, [1.0, 1.0], T, 2.0, start_sites=["s0"])
    assert result.sites == ("s0",) and result.status == "optimal"


def test_an_infeasible_target_names_ten_units_beyond_every_site(caplog: pytest.LogCaptureFixture) -> None:
    """s0 reaches u0 only; u1..u11 (11 units) are beyond every site.  The warning names
    the first ten (u1..u10), not u11."""
    present = np.zeros((1, 12), dtype=bool)
    present[0, 0] = True
    with caplog.at_level("WARNING", logger="coverage.siting"):
        result = fewest_sites(matrix_from_dense(present), [1.0] * 12, T, 12.0)
    assert result.status == "infeasible" and len(result.uncoverable) == 11
    message = caplog.records[-1].getMessage()
    assert message.endswith("e.g. " + ", ".join(f"u{i}" for i in range(1, 11)))


def test_most_then_fewest_gives_each_step_a_minute_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, object]] = []
    for name in ("mclp_exact", "fewest_sites"):
        spy_calls(monkeypatch, lexicographic_module, name, seen)
    most_then_fewest(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2)
    assert [call["time_limit_s"] for call in seen] == [60.0, 60.0]


def test_everyone_covered_exactly_needs_no_bound() -> None:
    """GREEDY_TRAP, k = 2: the exchanges turn the greedy A, B (5) into B, C, which covers
    all six units, exactly everyone a candidate reaches: no Lagrangian bound is needed."""
    result = mclp_exact(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2)
    assert sorted(result.sites) == ["s1", "s2"] and result.status == "optimal"
    assert result.solver_status == "not needed: everyone a candidate reaches is covered"


def test_above_one_person_the_everyone_tolerance_is_relative() -> None:
    """s0 reaches u0 (1,000 people), s1 u1 (a millionth of a person); k = 1.  s0 leaves out
    1e-6, within 1e-9 x everyone (1.000000001e-6): that counts as everyone."""
    matrix = matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool))
    result = mclp_exact(matrix, [1000.0, 1e-6], T, 1)
    assert list(result.sites) == ["s0"]
    assert result.solver_status == "not needed: everyone a candidate reaches is covered"


def test_one_and_a_half_billionths_short_of_everyone_is_not_everyone() -> None:
    """s0 reaches u0 (1 person), s1 u1 (1.5e-9 of a person); k = 1.  s0 leaves out 1.5e-9,
    more than the tolerance 1e-9 x (1 + 1.5e-9): the bound has to be computed."""
    matrix = matrix_from_dense(np.array([[1, 0], [0, 1]], dtype=bool))
    result = mclp_exact(matrix, [1.0, 1.5e-9], T, 1)
    assert list(result.sites) == ["s0"] and result.status == "optimal"
    assert result.solver_status.startswith("Lagrangian bound")


def test_above_one_person_the_certificate_tolerance_is_relative() -> None:
    """1,000 people against a bound 5e-7 away: within 1e-9 x 1,000 = 1e-6, so optimal."""
    assert _certify(1000.0, 1000.0 + 5e-7, 5000.0, maximize=True) == (1000.0, "optimal")
    assert _certify(1000.0, 1000.0 - 5e-7, 0.0, maximize=False) == (1000.0, "optimal")


def test_a_cover_of_more_sites_than_the_greedy_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """S reaches u0 and u1, T u2 and u3, a, b, c, d one unit each: the greedy covers all
    with S and T.  A bound of 1 (stub) calls the solver; its cover a, b, c, d (four sites,
    each adding someone) is valid but larger: the greedy's two stay."""
    present = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=bool)
    monkeypatch.setattr(exact_module, "_set_cover_bound", lambda *args, **kwargs: 1.0)

    def four(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.array([False, False, True, True, True, True]), 1.0, "HiGHS: stub"

    monkeypatch.setattr(exact_module, "_solve_binary_program", four)
    result = lscp(matrix_from_dense(present), [1.0] * 4, T)
    assert sorted(result.sites) == ["s0", "s1"]


def test_a_solver_answer_that_only_ties_does_not_replace_the_incumbent(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0, s1, s2 reach u0, u1, u2 (one person each); k = 1; the exchanges hand back s0, a
    bound of 3 calls HiGHS, whose answer s1 covers as many: s0 stays."""
    monkeypatch.setattr(exact_module, "_improve_cover", lambda problem, chosen, k, **_: ([0], 0, True))
    monkeypatch.setattr(exact_module, "_lagrangian_bound", lagrangian_stub(3.0, iterations=1))

    def second(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.arange(int(kwargs["n_x"])) == 1, 3.0, "HiGHS: stub"  # type: ignore[call-overload]

    monkeypatch.setattr(exact_module, "_solve_binary_program", second)
    result = mclp_exact(matrix_from_dense(np.eye(3, dtype=bool)), [1.0, 1.0, 1.0], T, 1)
    assert list(result.sites) == ["s0"]


def test_the_incumbents_sites_are_never_left_out_as_dominated(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0 and s1 reach the same units u0, u1; s2 u2, s3 u3; k = 1.  Of two equal candidates
    the first is kept, but the incumbent (s1, from the exchanges) is never dominated: the
    MIP gets all four candidates."""
    monkeypatch.setattr(exact_module, "_improve_cover", lambda problem, chosen, k, **_: ([1], 0, True))
    monkeypatch.setattr(exact_module, "_lagrangian_bound", lagrangian_stub(4.0, iterations=1))
    solve: list[dict[str, object]] = []
    spy(monkeypatch, "_solve_binary_program", solve)
    present = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=bool)
    result = mclp_exact(matrix_from_dense(present), [1.0] * 4, T, 1)
    assert result.population_covered_after == 2.0
    assert [call["n_x"] for call in solve] == [4]


def test_the_coverage_model_is_frozen() -> None:
    problem = exact_module._prepare(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, (), None)
    model = exact_module._coverage_model(problem, np.arange(6))
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.useful = np.arange(0)  # type: ignore[misc]


@pytest.mark.parametrize(
    "wrong",
    [
        {"row_lower": np.full(4, -np.inf)},
        {"row_lower": np.full(1, -np.inf)},
        {"row_lower": np.full(2, -np.inf), "row_upper": np.zeros(2)},
        {"row_lower": np.full(4, -np.inf), "row_upper": np.zeros(4)},
        {"row_upper": np.zeros(1)},
        {"cost": np.ones(3)},
        {"start": np.zeros(1)},
        {"x_lower": np.zeros(2)},
    ],
)
def test_a_model_of_mismatched_lengths_is_refused(wrong: dict[str, np.ndarray]) -> None:
    """One binary x and one y, three rows (y - x <= 0, x <= 1, y <= 1): every array must
    have one value per column or row, too many or too few; HiGHS would silently ignore
    extra values."""
    model: dict[str, object] = {
        "n_x": 1,
        "n_y": 1,
        "cost": np.array([0.0, 1.0]),
        "a": sp.csc_array(np.array([[-1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])),
        "row_lower": np.full(3, -np.inf),
        "row_upper": np.array([0.0, 1.0, 1.0]),
        "maximize": True,
        "start": np.array([1.0, 1.0]),
        "time_limit_s": 10.0,
        "mip_rel_gap": 0.0,
    }
    picked, dual, _ = exact_module._solve_binary_program(**model)  # type: ignore[arg-type]
    assert picked.tolist() == [True] and dual == pytest.approx(1.0)
    with pytest.raises(ValueError, match="model of 1 \\+ 1 columns and 3 rows"):
        exact_module._solve_binary_program(**{**model, **wrong})  # type: ignore[arg-type]
    # every array agrees with the others, but not with the columns announced (1 + 2)
    with pytest.raises(ValueError, match="model of 1 \\+ 2 columns and 3 rows"):
        exact_module._solve_binary_program(**{**model, "n_y": 2})  # type: ignore[arg-type]


def test_a_target_exactly_the_tolerance_above_the_required_needs_no_site() -> None:
    """The required s0 reaches u0 (1e-9 of a person), s1 reaches u1 (as little); the target
    is 2e-9.  What is missing, 2e-9 - 1e-9, is exactly the tolerance 1e-9 in floats (the
    tolerance is inclusive): no new site is needed."""
    matrix = matrix_from_dense(np.eye(2, dtype=bool))
    result = fewest_sites(matrix, [1e-9, 1e-9], T, 2e-9, required=["s0"])
    assert result.sites == () and result.status == "optimal"


def test_a_target_exactly_the_tolerance_above_everyone_is_reached() -> None:
    """s0 reaches u0 (one person), everyone there is; the target 1.000000001 is exactly
    everyone plus the tolerance (1e-9 x the target) in floats: reached, not infeasible."""
    result = fewest_sites(matrix_from_dense(np.eye(1, dtype=bool)), [1.0], T, 1.000000001)
    assert result.sites == ("s0",) and result.status == "optimal"


def test_start_sites_exactly_the_tolerance_short_are_accepted() -> None:
    """Target 1 + 1e-9; s0 reaches u0 and u1 (half a person each): the start s0 covers 1.0,
    exactly the tolerance short (see above), so it is a valid start, and optimal."""
    matrix = matrix_from_dense(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool))
    result = fewest_sites(matrix, [0.5, 0.5, 1e-9], T, 1 + 1e-9, start_sites=["s0"])
    assert result.sites == ("s0",) and result.status == "optimal"


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_an_unproven_second_step_leaves_the_answer_unproven(monkeypatch: pytest.MonkeyPatch, scale: float) -> None:
    """GREEDY_TRAP, k = 2, people of `scale` each: the first step proves B and C.  If the
    second step had only proved 1 site for the 2 it found, the answer is feasible; and
    with the first step's bound 7 x scale (unproven), the gap is 1/7 whether the bound is
    above one person or below (0.7)."""
    real_most = lexicographic_module.mclp_exact
    real_fewest = lexicographic_module.fewest_sites

    def unproven_most(*args: object, **kwargs: object) -> object:
        return dataclasses.replace(real_most(*args, **kwargs), bound=7.0 * scale, status="feasible")  # type: ignore[arg-type]

    def unproven_fewest(*args: object, **kwargs: object) -> object:
        return dataclasses.replace(real_fewest(*args, **kwargs), bound=1.0, status="feasible")  # type: ignore[arg-type]

    monkeypatch.setattr(lexicographic_module, "fewest_sites", unproven_fewest)
    result = most_then_fewest(matrix_from_dense(GREEDY_TRAP), [scale] * 6, T, 2)
    assert sorted(result.sites) == ["s1", "s2"] and result.status == "feasible"
    assert result.gap == 0.0  # the coverage is proven; only the count is not
    monkeypatch.setattr(lexicographic_module, "mclp_exact", unproven_most)
    result = most_then_fewest(matrix_from_dense(GREEDY_TRAP), [scale] * 6, T, 2)
    assert result.status == "feasible" and result.gap == pytest.approx(1 / 7)


def test_a_clock_near_its_origin_still_shares_the_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """perf_counter's origin is arbitrary: a clock stopped at 1 s (deadline 61 s) gives the
    Lagrangian bound a quarter of the 60 s left, 15 s."""
    frozen_clock(monkeypatch, at=1.0)
    bound: list[dict[str, object]] = []
    improve: list[dict[str, object]] = []
    spy(monkeypatch, "_lagrangian_bound", bound)
    spy(monkeypatch, "_improve_cover", improve)
    mclp_exact(matrix_from_dense(NEEDS_HIGHS), np.ones(8), T, 2)
    assert [call["max_seconds"] for call in bound] == [pytest.approx(15.0)]
    # the exchanges from the relaxed answers: until 1 + 15 = 16 s, 15 s each on a stopped clock
    assert len(improve) > 1 and all(call["max_seconds"] == pytest.approx(15.0) for call in improve[1:])


def test_lscp_seconds_from_a_clock_near_its_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that reads 1 s at the start and 5 s afterwards: the call took 4 s."""
    readings = iter([1.0])
    monkeypatch.setattr(exact_module, "time", types.SimpleNamespace(perf_counter=lambda: next(readings, 5.0)))
    result = lscp(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T)
    assert result.seconds == 4.0


def test_a_false_bound_below_a_maximum_is_replaced_by_the_trivial_one() -> None:
    """A maximum of 5 people and a solver bound of 3 (below it: false): the bound that
    needs no solver, 10, takes its place, and 5 is not proven."""
    assert _certify(5.0, 3.0, 10.0, maximize=True) == (10.0, "feasible")


def test_candidates_ruled_out_by_the_bound_are_not_called_dominated(monkeypatch: pytest.MonkeyPatch) -> None:
    """s0, s1, s2 reach u0, u1, u2 (3, 2 and 1 people); k = 1; the exchanges keep s0 (3).
    A Lagrangian stub (costs 3, 2, 1, L = 3.5, not met) rules out s1 and s2 (3.5 - 3 + 2 =
    2.5 and 1.5 < 3) and forces s0 (3.5 - 3 + 2 = 2.5 < 3); none is dominated (no unit
    shared), so the status says so and names no dominated candidate."""
    monkeypatch.setattr(exact_module, "_improve_cover", lambda problem, chosen, k, **_: ([0], 0, True))

    def stub(a: object, *args: object, **kwargs: object) -> _Lagrangian:
        return _Lagrangian(
            bound=3.5,
            costs=np.array([3.0, 2.0, 1.0]),
            raw=3.5,
            whole=False,
            best_sites=np.arange(0),
            best_value=-np.inf,
            iterations=1,
        )

    monkeypatch.setattr(exact_module, "_lagrangian_bound", stub)
    result = mclp_exact(matrix_from_dense(np.eye(3, dtype=bool)), [3.0, 2.0, 1.0], T, 1)
    assert list(result.sites) == ["s0"] and result.status == "optimal"
    assert "; 2 candidates excluded and 1 fixed by it; HiGHS" in result.solver_status
    assert "dominated" not in result.solver_status


def test_fewest_sites_seconds_from_a_clock_near_its_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that reads 1 s at the start and 5 s afterwards: 4 s, for an answer and for
    an infeasible target alike; most_then_fewest reads the same clock."""
    for target, status in ((6.0, "optimal"), (7.0, "infeasible")):
        readings = iter([1.0])
        monkeypatch.setattr(
            lexicographic_module,
            "time",
            types.SimpleNamespace(perf_counter=lambda readings=readings: next(readings, 5.0)),
        )
        result = fewest_sites(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, target)
        assert result.status == status and result.seconds == 4.0
    readings = iter([1.0])
    monkeypatch.setattr(lexicographic_module, "time", types.SimpleNamespace(perf_counter=lambda: next(readings, 5.0)))
    assert most_then_fewest(matrix_from_dense(GREEDY_TRAP), [1.0] * 6, T, 2).seconds == 4.0

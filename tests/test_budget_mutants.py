"""Tests written for the survivors of a mutation run of ``coverage/siting/budget.py``.

Each one was checked to fail with its mutant applied and to pass on the code (see
tests/mutation/README.md).  Matrices as in tests/test_budget.py: sets of units per site, every
stored pair at 1 minute, so "stored" means "covered" at T = 5.  Expected values are worked out
by hand in the comments.
"""

from __future__ import annotations

import dataclasses
import logging
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import coverage.siting.budget as budget_module
from coverage.errors import InputDataError
from coverage.siting.budget import _dominated, budget_curve, candidate_costs, mclp_budget, mclp_budget_greedy
from coverage.siting.model import _CoverageModel
from tests.test_budget import matrix_from_rows

T = 5.0


# ----------------------------------------------------------------------------- costs and messages


def test_a_cost_of_exactly_ten_to_the_twelve_is_allowed() -> None:
    """The rule: a cost from 0 to 10^12 € inclusive is a cost; above it (by half a euro) or
    minus infinity it is refused."""
    table = pd.DataFrame({"candidate_id": ["a", "b"], "cost": [1e12, 0.0]})
    assert candidate_costs(table, cost_column="cost").to_dict() == {"a": 1e12, "b": 0.0}
    for bad in (1e12 + 0.5, -np.inf):
        with pytest.raises(InputDataError, match=re.escape(f"a ({bad!r})")):
            candidate_costs(table.assign(cost=[bad, 0.0]), cost_column="cost")


def test_messages_name_the_first_few_only() -> None:
    # seven bad costs: the first five named, all seven counted
    ids = [f"k{i}" for i in range(7)]
    table = pd.DataFrame({"candidate_id": ids, "cost": [-1.0] * 7})
    with pytest.raises(InputDataError) as error:
        candidate_costs(table, cost_column="cost")
    assert "7 do not: k0 (-1.0), k1 (-1.0), k2 (-1.0), k3 (-1.0), k4 (-1.0)" in str(error.value)
    assert str(error.value).endswith("k4 (-1.0)")
    # a missing column among 20: the first 15 listed
    wide = pd.DataFrame({f"c{i:02d}": [1] for i in range(20)})
    with pytest.raises(InputDataError) as error:
        candidate_costs(wide, cost_column="cost", id_column="c00")
    assert str(error.value).endswith("(its columns: " + ", ".join(f"c{i:02d}" for i in range(15)) + ")")
    # seven ids twice: the first five
    twice = pd.DataFrame({"candidate_id": ids + ids, "cost": [1.0] * 14})
    with pytest.raises(InputDataError) as error:
        candidate_costs(twice, cost_column="cost")
    assert str(error.value).endswith(": ['k0', 'k1', 'k2', 'k3', 'k4']")
    # twelve kinds with no cost, on twelve candidates: the first ten kinds, the first five candidates
    kinds = pd.DataFrame({"candidate_id": [f"k{i:02d}" for i in range(12)], "kind": [f"t{i:02d}" for i in range(12)]})
    with pytest.raises(InputDataError) as error:
        candidate_costs(kinds, kind_costs={"new": 1.0})
    expected_kinds = str([f"t{i:02d}" for i in range(10)])
    expected_ids = str([f"k{i:02d}" for i in range(5)])
    assert f"no cost: {expected_kinds} (candidates {expected_ids});" in str(error.value)
    # the costs given by id: seven ids twice, then twelve candidates with no cost
    matrix = matrix_from_rows({f"s{i:02d}": {0} for i in range(12)}, 1)
    doubled = pd.Series([1.0] * 14, index=ids + ids)
    with pytest.raises(InputDataError) as error:
        mclp_budget_greedy(matrix, [1.0], T, doubled, 10)
    assert str(error.value).endswith("twice: ['k0', 'k1', 'k2', 'k3', 'k4']")
    with pytest.raises(InputDataError) as error:
        mclp_budget_greedy(matrix, [1.0], T, {"other": 1.0}, 10)
    assert str(error.value).endswith(f"no value for 12 candidates: {[f's{i:02d}' for i in range(10)]}")


def test_a_budget_beyond_every_sum_of_costs_is_capped() -> None:
    """The rule: a budget is counted in cents up to 2^62 cents (46,116,860,184,273,879.04 €,
    far beyond 46,000 sites at the largest cost of 10^12 €); a larger one is that."""
    matrix = matrix_from_rows({"a": {0}}, 1)
    answer = mclp_budget_greedy(matrix, [3.0], T, {"a": 1e12}, 1e17)
    assert answer.budget == 2**62 / 100 and answer.selection.sites == ("a",) and answer.spent == 1e12


# ----------------------------------------------------------------------------- the result


def test_result_is_frozen_and_its_table_and_budget_left() -> None:
    # a covers u0 (4 people) for 300 €, b covers u1 (2 people) for 500 €: budget 1,000 €,
    # by ratio a (0.013 per euro) then b (0.004): 800 € spent, 200 € left (1,000 % 800 is 200
    # too: the second call, 1,000 € and a only, tells - from %: 700 against 100)
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)
    answer = mclp_budget_greedy(matrix, [4.0, 2.0], T, {"a": 300.0, "b": 500.0}, 1000)
    assert answer.budget_left == 200
    only_a = mclp_budget_greedy(matrix_from_rows({"a": {0}}, 1), [4.0], T, {"a": 300.0}, 1000)
    assert only_a.budget_left == 700
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.spent = 0.0  # type: ignore[misc]
    table = answer.table()
    assert list(table.columns) == [
        "rank",
        "site_id",
        "cost_eur",
        "marginal_gain",
        "solver",
        "cumulative_cost_eur",
        "population_covered",
    ]
    assert table["cost_eur"].tolist() == [300.0, 500.0] and table["population_covered"].tolist() == [4.0, 6.0]


# ----------------------------------------------------------------------------- the greedy


def test_ties_are_within_a_relative_1e_9_inclusive() -> None:
    """The rule: a gain at exactly the best one minus 1e-9 of it is a tie (the id that sorts
    first goes first); one person less is not.  With 10^9 people, 1e-9 of it is 1.0 in floats:
    999,999,999 ties with 1,000,000,000, 999,999,998 does not."""
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)
    free = {"a": 0.0, "b": 0.0}  # both free: both taken, the most people first
    tie = mclp_budget_greedy(matrix, [999_999_999.0, 1e9], T, free, 0)
    assert tie.selection.sites == ("a", "b")
    no_tie = mclp_budget_greedy(matrix, [999_999_998.0, 1e9], T, free, 0)
    assert no_tie.selection.sites == ("b", "a")


def test_people_already_covered_count_for_nothing() -> None:
    # r (required) covers u0 (100 people).  a covers u0 and u1 (10 new people), b covers u2
    # (9.5): one site fits (1 € each, budget 1 €); a adds 10, b 9.5: a, 110 covered in all
    matrix = matrix_from_rows({"r": {0}, "a": {0, 1}, "b": {2}}, 3)
    answer = mclp_budget_greedy(matrix, [100.0, 10.0, 9.5], T, {"a": 1.0, "b": 1.0}, 1, required=["r"])
    assert answer.selection.sites == ("a",) and answer.selection.population_covered_after == 110


def test_a_site_that_adds_nobody_is_never_bought() -> None:
    # u0: 1 person, u1: 10, u2: 2.  x covers u0 and u1 for 11 € (1 per euro), b covers u1 and
    # u2 for 13 € (12 / 13 = 0.92 per euro), z covers u0 for 10 € (0.1 per euro).  Budget 34 €:
    # by ratio x, then b (2 new people for 13 €), 10 € left; z would fit but adds nobody, so it
    # is not taken: x + b, 13 people, 24 €.  (Were z taken, x would add nobody beside b and z
    # and be dropped as the dearer: b + z, 23 €.)  The best single site is b (12 people).
    matrix = matrix_from_rows({"x": {0, 1}, "b": {1, 2}, "z": {0}}, 3)
    costs = {"x": 11.0, "b": 13.0, "z": 10.0}
    answer = mclp_budget_greedy(matrix, [1.0, 10.0, 2.0], T, costs, 34)
    assert answer.selection.sites == ("x", "b") and answer.spent == 24 and answer.heuristic == "gain per euro"
    assert answer.selection.population_covered_after == 13


def test_the_ratio_of_a_one_cent_site() -> None:
    # a covers 10 people for 0.01 € (10 per cent), b 15 people for 0.02 € (7.5 per cent):
    # with 0.03 €, by ratio a first, then b
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)
    answer = mclp_budget_greedy(matrix, [10.0, 15.0], T, {"a": 0.01, "b": 0.02}, 0.03)
    assert answer.selection.sites == ("a", "b") and answer.heuristic == "gain per euro"
    assert answer.budget == 0.03 and answer.spent == 0.03 and answer.site_costs == (0.01, 0.02)


def test_the_single_site_answer_has_one_paid_site() -> None:
    # a: 10 people for 1 € (10 per euro), big: 900 for 100 € (9), c: 440 for 50 € (8.8).
    # Budget 150 €: by ratio a, then big (49 € left: c does not fit): 910 people.  The best
    # single site is big alone (900), below 910: the answer is the ratio's.  (Big then c,
    # 1,340, would be a second paid site: not the rule.)
    matrix = matrix_from_rows({"a": {0}, "big": {1}, "c": {2}}, 3)
    costs = {"a": 1.0, "big": 100.0, "c": 50.0}
    answer = mclp_budget_greedy(matrix, [10.0, 900.0, 440.0], T, costs, 150)
    assert answer.heuristic == "gain per euro" and answer.selection.sites == ("a", "big")
    assert answer.selection.population_covered_after == 910
    exact = mclp_budget(matrix, [10.0, 900.0, 440.0], T, costs, 150)  # big + c: 1,340 for 150 €
    assert sorted(exact.selection.sites) == ["big", "c"] and exact.heuristic_covered == 910


# ----------------------------------------------------------------------------- dominance


def _model(columns: list[set[int]], n_groups: int) -> _CoverageModel:
    """A model whose candidate ``j`` (useful row ``10 + j``) reaches the groups ``columns[j]``."""
    rows = [g for c in columns for g in sorted(c)]
    cols = [j for j, c in enumerate(columns) for _ in c]
    a = sp.csc_array((np.ones(len(rows)), (rows, cols)), shape=(n_groups, len(columns)))
    return _CoverageModel(useful=np.arange(10, 10 + len(columns)), a_xy=a, group_weight=np.ones(n_groups))


def _dominated_by_hand(columns: list[set[int]], cost: list[int], keep: list[int]) -> list[bool]:
    """d dominates j when it reaches all of j's groups for no more money, unless the two are
    alike (same groups, same cost) and j comes first."""
    out = []
    for j, cj in enumerate(columns):
        out.append(
            10 + j not in keep
            and any(
                d != j and cj <= cd and cost[d] <= cost[j] and (cd != cj or cost[d] != cost[j] or d < j)
                for d, cd in enumerate(columns)
            )
        )
    return out


@pytest.mark.parametrize("seed", range(6))
def test_dominance_against_the_rule_by_hand(seed: int) -> None:
    rng = np.random.default_rng(seed)
    columns = [{int(g) for g in rng.choice(4, int(rng.integers(1, 4)), replace=False)} for _ in range(8)]
    columns[0], columns[1] = {0}, {0, 3}  # a strict superset, same cost: 0 goes though it comes first
    columns[5] = set(columns[4])  # twins at the same cost: the later one goes
    cost = [int(c) for c in rng.integers(1, 3, 8) * 100]
    cost[1], cost[5] = cost[0], cost[4]
    keep = [10 + int(rng.choice([2, 3, 6, 7]))]  # the start's site, never left out
    expected = _dominated_by_hand(columns, cost, keep)
    assert expected[0] and expected[5]
    got = _dominated(_model(columns, 4), np.array([0] * 10 + cost, dtype=np.int64), keep)
    assert got.tolist() == expected


def test_dominance_is_skipped_above_5000_candidates_only() -> None:
    """The rule: with up to 5,000 candidates (inclusive) dominated ones are found, above it
    none are (the test is skipped); counted in candidates, not in groups (here one more)."""
    for n in (5000, 5001):
        columns = [{j} for j in range(n)]
        columns[1] = {0, 1, n}  # reaches all candidate 0 reaches, and group n (n + 1 groups)
        got = _dominated(_model(columns, n + 1), np.full(n + 10, 100, dtype=np.int64), [])
        assert got.tolist() == [n == 5000] + [False] * (n - 1)


# ----------------------------------------------------------------------------- the exact solver's shortcuts


def test_nothing_left_to_reach_within_the_budget(caplog: pytest.LogCaptureFixture) -> None:
    # r (required) covers u0; a covers u0 too (no one left for it), b covers u1 for 10 €:
    # with 5 €, nothing to gain, no model solved, and no bound below the answer to distrust
    matrix = matrix_from_rows({"r": {0}, "a": {0}, "b": {1}}, 2)
    costs = {"a": 1.0, "b": 10.0}
    for budget, only in ((5.0, ["a"]), (5.0, ["a", "b"])):
        caplog.clear()
        answer = mclp_budget(matrix, [3.0, 4.0], T, costs, budget, required=["r"], candidates=only)
        s = answer.selection
        assert s.sites == () and s.status == "nothing to gain" and s.population_covered_after == 3
        assert s.solver_status == "not needed: no candidate within the budget reaches anyone left"
        assert "not trusted" not in caplog.text


def test_a_greedy_answer_within_1e_9_of_everyone_reachable_is_proven_without_highs() -> None:
    """The rule: when the greedy answer covers everyone a candidate within the budget
    reaches, less 1e-9 of them (relative, inclusive), HiGHS is not called.  Here 10^9 people
    are reachable (1e-9 of it is 1.0 in floats) and one site fits: a greedy 999,999,999 is
    that, 999,999,998 is not."""
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)
    costs = {"a": 1.0, "b": 1.0}
    for people, proven in (([1e9, 0.0], True), ([999_999_999.0, 1.0], True), ([999_999_998.0, 2.0], False)):
        answer = mclp_budget(matrix, people, T, costs, 1)
        s = answer.selection
        assert s.sites == ("a",) and s.population_covered_after == people[0] and s.status == "optimal"
        skipped = s.solver_status == "not needed: everyone a candidate within the budget reaches is covered"
        assert skipped == proven, (people, s.solver_status)


def test_the_shortcut_tolerance_below_one_person() -> None:
    """The rule: the tolerance of that shortcut is 1e-9 of everyone reachable, but at least
    1e-9 of a person.  Reachable 1 person: a greedy 1 - 1.5e-9 is not proven without HiGHS
    (HiGHS proves it); reachable 0.5: a greedy 0.5 - 7e-10 is (within 1e-9)."""
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)
    costs = {"a": 1.0, "b": 1.0}
    for people, proven in (([1 - 1.5e-9, 1.5e-9], False), ([0.5 - 7e-10, 7e-10], True)):
        s = mclp_budget(matrix, people, T, costs, 1).selection
        assert s.sites == ("a",) and s.status == "optimal", people
        skipped = s.solver_status == "not needed: everyone a candidate within the budget reaches is covered"
        assert skipped == proven, (people, s.solver_status)


@pytest.mark.parametrize("people_b", [5.0, 4.0])
def test_a_solver_answer_no_better_than_the_start_does_not_replace_it(
    monkeypatch: pytest.MonkeyPatch, people_b: float
) -> None:
    # a covers 5 people, b 5 (or 4) for 1 € each, budget 1 €: the greedy takes a (a tie: a's
    # id first).  A solver that answers b (as many, or fewer) and proves 5: a is kept, optimal.
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)

    def solver(**kwargs: object) -> tuple[np.ndarray, float, str]:
        assert kwargs["n_x"] == 2  # a then b
        return np.array([False, True]), 5.0, "fake"

    monkeypatch.setattr(budget_module, "_solve_binary_program", solver)
    answer = mclp_budget(matrix, [5.0, people_b], T, {"a": 1.0, "b": 1.0}, 1)
    assert answer.selection.sites == ("a",) and answer.selection.status == "optimal"
    assert answer.selection.population_covered_after == 5


@pytest.mark.parametrize(
    ("costs", "kept"), [((3.0, 4.0, 5.0), ["a", "b"]), ((5.0, 4.0, 3.0), ["b", "c"])], ids=["a-cheapest", "a-dearest"]
)
def test_sites_that_add_nobody_are_dropped_dearest_first(
    monkeypatch: pytest.MonkeyPatch, costs: tuple[float, float, float], kept: list[str]
) -> None:
    # a covers u0 u1, b u0 u2, c u1 u2 (1 person each): any two cover all three, so each one
    # adds nobody beside the other two.  The heuristic made to find nothing, every useful
    # candidate fits in 12 €: all three are the answer, then the dearest is dropped (c, then
    # a), and the other two are each needed.  (Cheapest first would drop a, then c.)
    matrix = matrix_from_rows({"a": {0, 1}, "b": {0, 2}, "c": {1, 2}}, 3)
    monkeypatch.setattr(budget_module, "_free_then", lambda setup, cents, *, by_ratio: [])
    for budget in (12, 13):  # the three cost 12 €: all fit, exactly or with 1 € to spare
        answer = mclp_budget(matrix, [1.0, 1.0, 1.0], T, dict(zip("abc", costs, strict=True)), budget)
        s = answer.selection
        assert s.solver_status == "not needed: every useful candidate fits in the budget"
        assert sorted(s.sites) == kept
        assert answer.spent == sum(c for x, c in zip("abc", costs, strict=True) if x in kept)
        assert s.population_covered_after == 3 and s.status == "optimal"


def test_a_heuristic_answer_above_the_budget_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    # a heuristic made to take both sites, 10.25 € each, within a budget of 20 €: 20.50 €
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)
    monkeypatch.setattr(budget_module, "_free_then", lambda setup, cents, *, by_ratio: [0, 1])
    with pytest.raises(RuntimeError, match=r"^the sites chosen cost 20\.50 €, above the budget$"):
        mclp_budget_greedy(matrix, [1.0, 1.0], T, {"a": 10.25, "b": 10.25}, 20)


def test_the_warning_of_an_empty_answer(caplog: pytest.LogCaptureFixture) -> None:
    # a covers u0 for 10 €: with 5.5 € nothing fits (warned, once per call of a solver);
    # with 10 € a fits (no warning); the curve never warns
    matrix = matrix_from_rows({"a": {0}}, 1)
    with caplog.at_level(logging.WARNING, logger="coverage.siting"):
        mclp_budget_greedy(matrix, [2.0], T, {"a": 10.0}, 5.5)
        assert [r.getMessage() for r in caplog.records] == ["no candidate within 5.50 € adds anyone within 5 min"]
        caplog.clear()
        mclp_budget_greedy(matrix, [2.0], T, {"a": 10.0}, 10)
        budget_curve(matrix, [2.0], T, {"a": 10.0}, [0, 5.5, 10], time_limit_s=5)
        assert caplog.records == []


def test_curve_shares_and_an_empty_territory() -> None:
    # a covers u0 (3 people) for 10 €, b covers u1 (1 person) for 10 €: out of 4 people
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)
    costs = {"a": 10.0, "b": 10.0}
    # at 10 € and at 10.50 € the same 3 people: each row carries its own budget's answer
    curve = budget_curve(matrix, [3.0, 1.0], T, costs, [20, 0, 10.5, 10], time_limit_s=5)
    assert curve["budget_eur"].tolist() == [0, 10, 10.5, 20]
    assert curve["share_greedy"].tolist() == [0, 0.75, 0.75, 1] and curve["share_exact"].tolist() == [0, 0.75, 0.75, 1]
    assert curve["answer_budget_eur"].tolist() == [0, 10, 10.5, 20] and curve["sites_exact"].tolist() == [0, 1, 1, 2]
    nobody = budget_curve(matrix, [0.0, 0.0], T, costs, [10], time_limit_s=5)
    assert nobody["share_greedy"].isna().all() and nobody["share_exact"].isna().all()
    assert nobody["population_covered_exact"].tolist() == [0]


def test_a_solver_bound_below_the_answer_gives_way_to_everyone_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    # r (required) covers u0 (2 people); a covers u1 (5) and b u2 (3) for 1 € each, budget
    # 1 €: the greedy takes a, 7 covered.  A solver that finds nothing and claims a bound of
    # 1 new person (3 in all) is wrong: the bound is everyone the candidates within the
    # budget reach, 2 + 5 + 3 = 10, and a is feasible with a gap of 3 / 10.
    matrix = matrix_from_rows({"r": {0}, "a": {1}, "b": {2}}, 3)

    def solver(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.zeros(int(kwargs["n_x"]), dtype=bool), 1.0, "fake"  # type: ignore[call-overload]

    monkeypatch.setattr(budget_module, "_solve_binary_program", solver)
    answer = mclp_budget(matrix, [2.0, 5.0, 3.0], T, {"a": 1.0, "b": 1.0}, 1, required=["r"])
    s = answer.selection
    assert s.sites == ("a",) and s.population_covered_after == 7
    assert s.bound == 10 and s.status == "feasible" and s.gap == pytest.approx(0.3)


def test_free_sites_come_before_a_one_cent_site() -> None:
    # f covers 3 people for nothing, p 10 people for 0.01 € (10 per cent, more than f's 3
    # people per cent were f counted as costing one): with 0.01 €, f first, then p
    matrix = matrix_from_rows({"f": {0}, "p": {1}}, 2)
    answer = mclp_budget_greedy(matrix, [3.0, 10.0], T, {"f": 0.0, "p": 0.01}, 0.01)
    assert answer.selection.sites == ("f", "p") and answer.spent == 0.01


def test_highs_is_asked_for_a_proof_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mclp_budget`` and ``budget_curve`` run HiGHS with ``mip_rel_gap`` 0 unless told
    otherwise: HiGHS's own default (1e-4) would stop short of a proof (b1b65e40, b588b067)."""
    gaps: list[float] = []
    real = budget_module._solve_binary_program

    def recording(*args: object, **kwargs: object) -> object:
        gaps.append(kwargs["mip_rel_gap"])  # type: ignore[arg-type]
        return real(*args, **kwargs)

    monkeypatch.setattr(budget_module, "_solve_binary_program", recording)
    # the case of test_greedy_is_beaten_by_the_exact_answer: the greedy takes s_c (100 people),
    # HiGHS must find s_a + s_b (120)
    matrix = matrix_from_rows({"s_c": {0}, "s_a": {1}, "s_b": {2}}, 3)
    weights = np.array([100.0, 60.0, 60.0])
    costs = {"s_c": 200_000.0, "s_a": 150_000.0, "s_b": 150_000.0}
    assert sorted(mclp_budget(matrix, weights, 5.0, costs, 300_000).selection.sites) == ["s_a", "s_b"]
    assert gaps == [0.0]
    curve = budget_curve(matrix, weights, 5.0, costs, [300_000])
    assert len(gaps) == 2 and gaps[1] == 0.0
    assert curve["population_covered_exact"].tolist() == [120]

"""Siting within a budget (issue 14, item 2): costs, the exact and greedy answers, the curve, the report.

Expected values are worked out by hand in the comments, or by brute force over every set
of candidates within the budget, or by an independent MILP (PuLP + CBC); the matrices are
built from sets, every stored pair at 1 minute (so "stored" means "covered" at T = 5).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import coverage.siting.budget as budget_module
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.outputs.report_budget import budget_figure, budget_section
from coverage.siting.budget import budget_curve, candidate_costs, mclp_budget, mclp_budget_greedy

T = 5.0


def matrix_from_rows(cover: dict[str, set[int]], n_units: int) -> CoverageMatrix:
    """Sites (in the given order) covering the given unit numbers; units ``u0``…"""
    rows = [(r, u) for r, units in enumerate(cover.values()) for u in sorted(units)]
    r, c = (np.array(v, dtype=np.int64) for v in zip(*rows, strict=True)) if rows else (np.empty(0, int),) * 2
    minutes = sp.csr_array((np.ones(len(r)), (r, c)), shape=(len(cover), n_units))
    minutes.sort_indices()
    return CoverageMatrix(
        site_ids=np.asarray(list(cover), dtype=object),
        unit_ids=np.asarray([f"u{i}" for i in range(n_units)], dtype=object),
        minutes=minutes,
        max_minutes=10.0,
    )


def covered_by(cover: dict[str, set[int]], weights: np.ndarray, sites: list[str] | tuple[str, ...]) -> float:
    """People within T of any of ``sites``, by plain set union (independent of the solver)."""
    units = set().union(*(cover[s] for s in sites)) if sites else set()
    return float(sum(weights[u] for u in units))


def brute_force(
    cover: dict[str, set[int]], weights: np.ndarray, costs: dict[str, float], budget: float, required: list[str]
) -> float:
    """The most people covered by the required sites plus any set of candidates within the budget."""
    candidates = [s for s in cover if s not in required]
    best = covered_by(cover, weights, required)
    for n in range(1, len(candidates) + 1):
        for subset in itertools.combinations(candidates, n):
            if sum(costs[s] for s in subset) <= budget:
                best = max(best, covered_by(cover, weights, [*required, *subset]))
    return best


def random_case(seed: int) -> tuple[dict[str, set[int]], np.ndarray, dict[str, float], list[str]]:
    """10 sites (2 of them required on odd seeds) x 24 units, costs in whole 100,000 €."""
    rng = np.random.default_rng(seed)
    cover = {f"c{j}": {int(u) for u in np.flatnonzero(rng.random(24) < 0.2)} for j in range(10)}
    weights = rng.integers(1, 500, 24).astype(float)
    costs = {s: float(rng.integers(0 if seed % 3 == 0 else 1, 9)) * 100_000 for s in cover}
    required = ["c0", "c1"] if seed % 2 else []
    return cover, weights, costs, required


# ----------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("seed", range(8))
def test_exact_equals_brute_force_and_greedy_never_beats_it(seed: int) -> None:
    cover, weights, costs, required = random_case(seed)
    matrix = matrix_from_rows(cover, 24)
    candidate_total = sum(c for s, c in costs.items() if s not in required)
    for budget in (0.0, 150_000.0, *(share * candidate_total for share in (0.15, 0.3, 0.45, 0.6)), candidate_total):
        best = brute_force(cover, weights, costs, budget, required)
        exact = mclp_budget(matrix, weights, T, pd.Series(costs), budget, required=required)
        greedy = mclp_budget_greedy(matrix, weights, T, pd.Series(costs), budget, required=required)
        for answer in (exact, greedy):
            s = answer.selection
            # the reported people and cost, recomputed here from the sites
            assert s.population_covered_after == pytest.approx(covered_by(cover, weights, [*required, *s.sites]))
            assert answer.spent == pytest.approx(sum(costs[x] for x in s.sites)) and answer.spent <= budget
            assert answer.site_costs == tuple(costs[x] for x in s.sites)
            assert not set(s.sites) & set(required)
        assert exact.selection.population_covered_after == pytest.approx(best), (seed, budget)
        assert exact.selection.status in {"optimal", "nothing to gain"} and exact.selection.gap == 0
        assert greedy.selection.population_covered_after <= best + 1e-9
        # the guarantee of the greedy compared with the best single site: (1 - 1/e) / 2 of the gain
        before = covered_by(cover, weights, required)
        assert greedy.selection.population_covered_after - before >= (1 - 1 / math.e) / 2 * (best - before) - 1e-9
        assert greedy.selection.status in {"heuristic", "nothing to gain"} and greedy.selection.bound is None


@pytest.mark.filterwarnings("ignore:Constructing LpVariable:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:PULP_CBC_CMD is deprecated:DeprecationWarning")
def test_mid_size_instance_against_cbc() -> None:
    """40 candidates, 120 units: too many subsets to enumerate; PuLP + CBC solves the same
    knapsack MCLP independently."""
    pulp = pytest.importorskip("pulp")
    rng = np.random.default_rng(3)
    cover = {f"s{j:02d}": {int(u) for u in np.flatnonzero(rng.random(120) < 0.06)} for j in range(40)}
    weights = rng.integers(1, 1000, 120).astype(float)
    costs = {s: float(rng.integers(2, 20)) * 50_000 for s in cover}
    budget = 2_000_000.0
    ours = mclp_budget(matrix_from_rows(cover, 120), weights, T, costs, budget)
    model = pulp.LpProblem("budget", pulp.LpMaximize)
    x = {s: pulp.LpVariable(f"x_{s}", cat="Binary") for s in cover}
    y = {u: pulp.LpVariable(f"y_{u}", 0, 1) for u in range(120)}
    model += pulp.lpSum(weights[u] * y[u] for u in y)
    for u in y:
        model += y[u] <= pulp.lpSum(x[s] for s in cover if u in cover[s])
    model += pulp.lpSum(costs[s] * x[s] for s in cover) <= budget
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=60))
    assert pulp.LpStatus[model.status] == "Optimal"
    assert ours.selection.population_covered_after == pytest.approx(pulp.value(model.objective))
    assert ours.selection.status == "optimal" and ours.spent <= budget
    assert ours.selection.population_covered_after == pytest.approx(covered_by(cover, weights, ours.selection.sites))


# ----------------------------------------------------------------------------- cases by hand


def test_greedy_by_ratio_is_beaten_by_the_best_single_site() -> None:
    # u0: 10 people, u1: 1,000.  s_small covers u0 for 1 € (10 per euro), s_big covers u1
    # for 101 € (1,000 / 101 = 9.9 per euro).  Budget 101 €: by ratio, s_small first, then
    # 100 € left and s_big no longer fits: 10 people.  s_big alone fits: 1,000 people.
    cover = {"s_small": {0}, "s_big": {1}}
    matrix = matrix_from_rows(cover, 2)
    weights, costs = np.array([10.0, 1000.0]), {"s_small": 1.0, "s_big": 101.0}
    greedy = mclp_budget_greedy(matrix, weights, T, costs, 101.0)
    assert greedy.selection.sites == ("s_big",) and greedy.heuristic == "best single site"
    assert greedy.selection.population_covered_after == 1000 and greedy.spent == 101
    exact = mclp_budget(matrix, weights, T, costs, 101.0)  # both cost 102 €: one only
    assert exact.selection.sites == ("s_big",) and exact.selection.status == "optimal"
    # with 102 €, both fit: the ratio order takes both
    both = mclp_budget_greedy(matrix, weights, T, costs, 102.0)
    assert set(both.selection.sites) == {"s_small", "s_big"} and both.heuristic == "gain per euro"


def test_greedy_is_beaten_by_the_exact_answer() -> None:
    # u0: 100 people, u1 and u2: 60 each.  s_c covers u0 for 200,000 € (50 per 100,000 €);
    # s_a covers u1 and s_b covers u2 for 150,000 € each (40 per 100,000 €).  Budget
    # 300,000 €: by ratio s_c first, then 100,000 € left: nothing else fits, 100 people; the
    # best single site is s_c too (100).  s_a + s_b cost 300,000 € and cover 120.
    cover = {"s_c": {0}, "s_a": {1}, "s_b": {2}}
    matrix = matrix_from_rows(cover, 3)
    weights = np.array([100.0, 60.0, 60.0])
    costs = {"s_c": 200_000.0, "s_a": 150_000.0, "s_b": 150_000.0}
    greedy = mclp_budget_greedy(matrix, weights, T, costs, 300_000)
    exact = mclp_budget(matrix, weights, T, costs, 300_000)
    assert greedy.selection.sites == ("s_c",) and greedy.selection.population_covered_after == 100
    assert sorted(exact.selection.sites) == ["s_a", "s_b"] and exact.selection.population_covered_after == 120
    assert exact.selection.status == "optimal" and exact.selection.bound == 120 and exact.spent == 300_000
    assert exact.heuristic == "gain per euro" and exact.heuristic_covered == 100  # HiGHS started from s_c
    assert exact.budget_left == 0


def test_a_cheaper_site_inside_a_dearer_one_is_not_left_out() -> None:
    # u0: 10 people, u1: 1, u2 and u3: 9 each.  x covers u2 and u3 for 250 € (0.072 per
    # euro), so the greedy takes it and the 150 € left buy nothing: 18 people.  The optimum
    # is small (u0, 200 €) + y (u2, 200 €): 19 people.  big reaches all small reaches, and
    # x all y reaches, but each for more money: neither small nor y may be left out of the
    # model; small_twin is small again (same units, same cost): one of the two may go.
    cover = {"big": {0, 1}, "small": {0}, "small_twin": {0}, "x": {2, 3}, "y": {2}}
    matrix = matrix_from_rows(cover, 4)
    weights = np.array([10.0, 1.0, 9.0, 9.0])
    costs = {"big": 300.0, "small": 200.0, "small_twin": 200.0, "x": 250.0, "y": 200.0}
    assert mclp_budget_greedy(matrix, weights, T, costs, 400).selection.population_covered_after == 18
    exact = mclp_budget(matrix, weights, T, costs, 400)
    assert sorted(exact.selection.sites) == ["small", "y"] and exact.selection.population_covered_after == 19
    assert exact.selection.status == "optimal" and exact.spent == 400


def test_the_whole_budget_cannot_always_be_spent() -> None:
    # Two sites of 400,000 € and a budget of 1,000,000 €: both fit (800,000 €), a third
    # would not be needed.  s_inside covers only u0, which s_a covers too: it adds nobody
    # once s_a is open, so no answer pays its 100,000 €.
    cover = {"s_a": {0, 1}, "s_b": {2}, "s_inside": {0}}
    matrix = matrix_from_rows(cover, 3)
    weights = np.array([5.0, 7.0, 11.0])
    costs = {"s_a": 400_000.0, "s_b": 400_000.0, "s_inside": 100_000.0}
    for solver in (mclp_budget, mclp_budget_greedy):
        answer = solver(matrix, weights, T, costs, 1_000_000)
        assert sorted(answer.selection.sites) == ["s_a", "s_b"], solver
        assert answer.spent == 800_000 and answer.budget_left == 200_000
        assert answer.selection.population_covered_after == 23
        table = answer.table()
        assert list(table["cumulative_cost_eur"]) == [400_000, 800_000]
        assert table["population_covered"].iloc[-1] == 23


def test_free_sites_are_taken_first_and_zero_budget_buys_only_them() -> None:
    # s_free costs nothing and covers u0 (3 people); with a budget of 0 it is the answer.
    cover = {"s_free": {0}, "s_paid": {1}}
    matrix = matrix_from_rows(cover, 2)
    weights, costs = np.array([3.0, 50.0]), {"s_free": 0.0, "s_paid": 10.0}
    for solver in (mclp_budget, mclp_budget_greedy):
        answer = solver(matrix, weights, T, costs, 0)
        assert answer.selection.sites == ("s_free",) and answer.spent == 0
    exact = mclp_budget(matrix, weights, T, costs, 10)
    assert set(exact.selection.sites) == {"s_free", "s_paid"} and exact.spent == 10
    # nobody reachable within the budget: nothing to gain, and the warning names the cheapest site
    alone = matrix_from_rows({"s_paid": {1}}, 2)
    assert mclp_budget(alone, weights, T, {"s_paid": 10.0}, 5).selection.status == "nothing to gain"


def test_budget_in_cents_never_spends_above_it() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in floats: in cents it is 30 and fits a budget of 0.3 €
    cover = {"a": {0}, "b": {1}}
    matrix = matrix_from_rows(cover, 2)
    answer = mclp_budget(matrix, [1.0, 1.0], T, {"a": 0.1, "b": 0.2}, 0.3)
    assert sorted(answer.selection.sites) == ["a", "b"] and answer.spent <= 0.3
    # a budget of 0.299 € is 29 cents (rounded down): one site only
    assert len(mclp_budget(matrix, [1.0, 2.0], T, {"a": 0.1, "b": 0.2}, 0.299).selection.sites) == 1
    # 0.29 * 100 is 28.999… in floats, yet 9 + 20 cents fit a budget of 0.29 €
    both = mclp_budget_greedy(matrix, [1.0, 1.0], T, {"a": 0.09, "b": 0.2}, 0.29)
    assert sorted(both.selection.sites) == ["a", "b"] and both.spent <= 0.29


def test_a_solver_answer_above_the_budget_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    # a solver that opens every site (within its own tolerance, say) and claims a bound of 16:
    # our sum of costs refuses its sites, the heuristic answer stays, and the bound is kept
    cover = {"a": {0}, "b": {1}, "c": {2}, "d": {3}}
    matrix = matrix_from_rows(cover, 4)
    weights = np.array([1.0, 2.0, 4.0, 8.0])

    def solver(**kwargs: object) -> tuple[np.ndarray, float, str]:
        return np.ones(int(kwargs["n_x"]), dtype=bool), 16.0, "HiGHS: Optimal"  # type: ignore[call-overload]

    monkeypatch.setattr(budget_module, "_solve_binary_program", solver)
    # 10 € each, budget 25 €: two sites; by ratio d (0.8 per euro), then c (0.4): 12 people
    answer = mclp_budget(matrix, weights, T, dict.fromkeys(cover, 10.0), 25)
    assert sorted(answer.selection.sites) == ["c", "d"] and answer.spent == 20
    assert answer.selection.status == "feasible" and answer.selection.bound == 15  # everyone the 4 sites reach
    assert "not kept" in answer.selection.solver_status


def test_shuffled_candidates_give_the_same_answer() -> None:
    # ties everywhere: unit populations of 1 and equal costs; ids decide, not positions
    rng = np.random.default_rng(11)
    cover = {f"k{j:02d}": {int(u) for u in np.flatnonzero(rng.random(30) < 0.2)} for j in range(16)}
    cover["k99"] = set(cover["k03"])  # the same units as k03, listed last, same cost
    costs = {s: 100_000.0 * (1 + (j % 3)) for j, s in enumerate(sorted(cover))}
    costs["k99"] = costs["k03"]
    weights = np.ones(30)
    answers = []
    for order_seed in range(3):
        ids = list(cover)
        np.random.default_rng(order_seed).shuffle(ids)
        matrix = matrix_from_rows({s: cover[s] for s in ids}, 30)
        answers.append(
            (
                mclp_budget_greedy(matrix, weights, T, costs, 700_000, candidates=ids[::-1]).selection.sites,
                mclp_budget(matrix, weights, T, costs, 700_000, candidates=ids).selection.sites,
            )
        )
    assert answers[0] == answers[1] == answers[2]
    assert "k99" not in answers[0][0]  # its twin k03 sorts first


# ----------------------------------------------------------------------------- bad input


def test_candidate_costs_from_a_column_and_by_kind() -> None:
    table = pd.DataFrame({"candidate_id": [1, 2, 3], "kind": ["new", " extension", "premises"], "cost": [5, 0, "7"]})
    by_column = candidate_costs(table, cost_column="cost")
    assert by_column.to_dict() == {"1": 5.0, "2": 0.0, "3": 7.0} and by_column.dtype == float
    by_kind = candidate_costs(table, kind_costs={"new": 1_500_000, "extension": 400_000, "premises": 150_000, "x": 1})
    assert by_kind.to_dict() == {"1": 1_500_000.0, "2": 400_000.0, "3": 150_000.0}


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ([1.0, float("nan"), 3.0], "b (nan)"),
        ([1.0, 2.0, float("inf")], "c (inf)"),
        ([-5.0, 2.0, 3.0], "a (-5.0)"),
        (["1 500 000", 2.0, 3.0], "a ('1 500 000')"),
        ([True, False, True], "a (True)"),
        ([1e13, 2.0, 3.0], "a (10000000000000.0)"),
    ],
)
def test_bad_costs_are_rejected_naming_the_column_and_ids(values: list[object], shown: str) -> None:
    table = pd.DataFrame({"candidate_id": ["a", "b", "c"], "prix": pd.Series(values, dtype=object)})
    with pytest.raises(InputDataError, match=re.escape("the cost column 'prix'")) as error:
        candidate_costs(table, cost_column="prix")
    assert shown in str(error.value) and "\n" not in str(error.value)


def test_bad_cost_settings_are_rejected() -> None:
    table = pd.DataFrame({"candidate_id": ["a", "b", "c"], "kind": ["new", "annexe", None]})
    with pytest.raises(InputDataError, match=r"kinds with no cost: \['', 'annexe'\].*\['b', 'c'\]"):
        candidate_costs(table, kind_costs={"new": 1.0})
    with pytest.raises(InputDataError, match="one of the two"):
        candidate_costs(table)
    with pytest.raises(InputDataError, match="one of the two"):
        candidate_costs(table, cost_column="kind", kind_costs={"new": 1.0})
    with pytest.raises(InputDataError, match="no column 'cost'"):
        candidate_costs(table, cost_column="cost")
    with pytest.raises(InputDataError, match=r"the cost per kind .* new \(-1"):
        candidate_costs(table, kind_costs={"new": -1.0, "annexe": 1.0, "": 2.0})
    with pytest.raises(InputDataError, match="duplicate candidate ids"):
        candidate_costs(pd.DataFrame({"candidate_id": ["a", "a"], "c": [1, 2]}), cost_column="c")
    matrix = matrix_from_rows({"a": {0}, "b": {1}}, 2)
    with pytest.raises(InputDataError, match=r"no value for 1 candidates: \['b'\]"):
        mclp_budget(matrix, [1.0, 1.0], T, {"a": 1.0}, 10)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InputDataError, match="the budget must be"):
            mclp_budget_greedy(matrix, [1.0, 1.0], T, {"a": 1.0, "b": 1.0}, bad)


# ----------------------------------------------------------------------------- the curve


def test_curve_is_consistent_and_exact_at_every_budget() -> None:
    cover, weights, costs, required = random_case(5)
    matrix = matrix_from_rows(cover, 24)
    budgets = [800_000.0, 0.0, 200_000.0, 400_000.0, 400_000.0, 1_200_000.0, 3_000_000.0]
    curve = budget_curve(matrix, weights, T, costs, budgets, required=required, time_limit_s=10)
    assert list(curve["budget_eur"]) == [0, 200_000, 400_000, 800_000, 1_200_000, 3_000_000]  # sorted, once
    for _, row in curve.iterrows():
        assert row["population_covered_exact"] == pytest.approx(
            brute_force(cover, weights, costs, row["budget_eur"], required)
        )
        assert row["population_covered_greedy"] <= row["population_covered_exact"] + 1e-9
        assert row["spent_exact"] <= row["budget_eur"] and row["spent_greedy"] <= row["budget_eur"]
        assert row["status_exact"] == "optimal" and row["gap_exact"] == 0
    assert curve["population_covered_exact"].is_monotonic_increasing
    assert curve["bound_exact"].is_monotonic_increasing
    assert (curve["answer_budget_eur"] <= curve["budget_eur"]).all()
    greedy_only = budget_curve(matrix, weights, T, costs, budgets, required=required, exact=False)
    assert list(greedy_only.columns) == [
        "budget_eur",
        "population_covered_greedy",
        "share_greedy",
        "spent_greedy",
        "sites_greedy",
    ]


def test_curve_carries_answers_up_and_bounds_down(monkeypatch: pytest.MonkeyPatch) -> None:
    # d and e cover 50 people each for 200,000 €, f 10 people for 100,000 €.  HiGHS is
    # replaced by a solver that finds no sites and proves a bound only at 300,000 € (the
    # true optimum there, 60: d + f or e + f); the heuristic is made to fail at 250,000 €.
    cover = {"d": {0}, "e": {1}, "f": {2}}
    weights = np.array([50.0, 50.0, 10.0])
    costs = {"d": 200_000.0, "e": 200_000.0, "f": 100_000.0}
    matrix = matrix_from_rows(cover, 3)
    real_free_then = budget_module._free_then

    def failing_heuristic(setup: object, cents: int, *, by_ratio: bool) -> list[int]:
        return [] if cents == 25_000_000 else real_free_then(setup, cents, by_ratio=by_ratio)  # type: ignore[arg-type]

    def solver(**kwargs: object) -> tuple[np.ndarray, float, str]:
        n_x = int(kwargs["n_x"])  # type: ignore[call-overload]
        # the knapsack row (costs / budget) is the last one: at 300,000 € its largest entry is 2/3
        knapsack = np.asarray(kwargs["a"].toarray())[-1, :n_x]  # type: ignore[attr-defined]
        return np.zeros(n_x, dtype=bool), 60.0 if knapsack.max() < 0.7 else math.nan, "fake"

    monkeypatch.setattr(budget_module, "_free_then", failing_heuristic)
    monkeypatch.setattr(budget_module, "_solve_binary_program", solver)
    curve = budget_curve(matrix, weights, T, costs, [300_000, 250_000, 200_000], time_limit_s=5)
    curve = curve.set_index("budget_eur")
    # 200,000 €: d and e tie at 25 people per 100,000 €, d's id first: d, then nothing fits: 50
    assert curve.loc[200_000, "population_covered_exact"] == 50 and curve.loc[200_000, "spent_exact"] == 200_000
    # 250,000 €: nothing found there; the 200,000 € answer (d) is carried, with its cost and site
    assert curve.loc[250_000, "population_covered_greedy"] == 0
    assert curve.loc[250_000, "population_covered_exact"] == 50 and curve.loc[250_000, "answer_budget_eur"] == 200_000
    assert curve.loc[250_000, "spent_exact"] == 200_000 and curve.loc[250_000, "sites_exact"] == 1
    # 300,000 €: d (25 per 100,000 €), then f fits (10 per 100,000 €): 60, met by the bound: optimal
    assert curve.loc[300_000, "population_covered_exact"] == 60 and curve.loc[300_000, "answer_budget_eur"] == 300_000
    # bounds: each smaller budget has only the trivial bound, everyone d, e and f reach (110);
    # the 60 proven at 300,000 € bounds them too
    assert list(curve["bound_exact"]) == [60, 60, 60]
    assert list(curve["status_exact"]) == ["feasible", "feasible", "optimal"]
    assert curve.loc[200_000, "gap_exact"] == pytest.approx((60 - 50) / 60)


def test_ties_go_to_the_id_that_sorts_first() -> None:
    # zz and aa cover the same 4 people for the same cost; zz is listed first in the matrix
    matrix = matrix_from_rows({"zz": {0, 1}, "aa": {0, 1}, "mm": {2}}, 3)
    weights = np.array([2.0, 2.0, 1.0])
    costs = {"zz": 10.0, "aa": 10.0, "mm": 10.0}
    assert mclp_budget_greedy(matrix, weights, T, costs, 10).selection.sites == ("aa",)
    assert mclp_budget_greedy(matrix, weights, T, costs, 20).selection.sites == ("aa", "mm")


# ----------------------------------------------------------------------------- report and figure


def test_section_escapes_hostile_names_and_figure_builds() -> None:
    hostile = "<script>alert(1)</script>"
    cover = {hostile: {0}, "=cmd|' /C calc'!A0": {1}, "$x^2$": {2}}
    matrix = matrix_from_rows(cover, 3)
    weights = np.array([5.0, 6.0, 7.0])
    costs = {s: 1_000.0 for s in cover}
    result = mclp_budget(matrix, weights, T, costs, 3_000)
    curve = budget_curve(matrix, weights, T, costs, [0, 1_000, 2_000, 3_000], time_limit_s=5)
    fig = budget_figure(curve, threshold_min=T)
    from coverage.outputs.figure_canvas import png_bytes

    png = png_bytes(fig, dpi=40)
    assert png.startswith(b"\x89PNG")
    assert {a.get_gid() for a in fig.axes[0].lines} >= {"exact", "proven", "greedy"}
    names = {hostile: "<b>Mairie</b> & $y$", "$x^2$": '=HYPERLINK("http://x")'}
    html = budget_section(result, curve, png, names=names)
    assert "<script>" not in html and "<b>Mairie</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;Mairie&lt;/b&gt; &amp; $y$" in html
    assert "=cmd|&#x27; /C calc&#x27;!A0" in html and "$x^2$" in html
    assert html.count("<section>") == 1 and html.rstrip().endswith("</section>")
    assert "Statut (status)" in html and "Écart à l&#x27;optimum (gap)" in html and "optimal" in html
    assert "3\u202f000\u202f€" in html  # the budget, spent in full: three sites of 1,000 €
    assert 'src="data:image/png;base64,' in html
    # a URI that is not a PNG data URI or a relative file is left out; a relative file is escaped
    assert "javascript" not in budget_section(result, curve, "javascript:alert(1)")
    assert 'src="budget&quot;onerror=&quot;x.png"' in budget_section(result, None, 'budget"onerror="x.png')


# ----------------------------------------------------------------------------- regional


@pytest.mark.regional
def test_regional_budget_is_proven(data_dir: object) -> None:
    """The communes of the region, the 85 listed facilities kept, the town halls of the
    other communes as candidates.  The data hold no costs: kinds are drawn (seeded) and
    priced 1.5 M€ / 400 k€ / 150 k€; the budget is 30 candidates' worth at the mean cost
    (28.35 M€, the Region's 20-29 M€).  Measured: proven optimal in about 1 s."""
    import coverage as cov
    from coverage.candidates import candidates_from_units, communes_with_facility, exclude_candidates
    from coverage.matrix import analysis_matrix
    from coverage.siting import covered_population

    inputs = cov.load_regional_inputs(data_dir)  # type: ignore[arg-type]
    result = cov.analyse(inputs.graph, inputs.facilities, inputs.units, cov.AnalysisConfig(isochrones=False))
    candidates = exclude_candidates(
        candidates_from_units(result.units), communes=communes_with_facility(result.facilities, result.units)
    ).reset_index(drop=True)
    matrix = analysis_matrix(
        result, candidates.copy(), 10.0, id_column="candidate_id", new_first=True, what="candidates", workers=1
    )
    kinds = np.random.default_rng(14).choice(["new", "extension", "premises"], len(candidates), p=[0.5, 0.3, 0.2])
    costs = candidate_costs(
        candidates.assign(kind=kinds), kind_costs={"new": 1_500_000, "extension": 400_000, "premises": 150_000}
    )
    budget = 30 * float(costs.mean())
    required = list(result.facilities["facility_id"].astype(str))
    population = result.units.set_index(result.units["unit_id"].astype(str))["population"]
    ids = list(costs.index)
    exact = mclp_budget(matrix, population, 10.0, costs, budget, required=required, candidates=ids, time_limit_s=60)
    greedy = mclp_budget_greedy(matrix, population, 10.0, costs, budget, required=required, candidates=ids)
    s = exact.selection
    assert s.status == "optimal" and s.gap == 0 and s.bound == pytest.approx(s.population_covered_after)
    assert exact.spent <= budget and exact.spent == pytest.approx(float(costs[list(s.sites)].sum()))
    assert s.population_covered_after == pytest.approx(
        covered_population(matrix, population, 10.0, [*required, *s.sites])
    )
    assert greedy.selection.population_covered_after <= s.population_covered_after
    assert s.population_covered_after > s.population_covered_before


def test_figure_marks_feasible_points_and_their_bound_apart() -> None:
    # two proven points, one feasible with its bound at 185, one feasible whose bound was not trusted
    curve = pd.DataFrame(
        {
            "budget_eur": [0.0, 1e6, 2e6, 3e6],
            "population_covered_greedy": [100.0, 150.0, 170.0, 175.0],
            "share_greedy": [0.5, 0.75, 0.85, 0.875],
            "population_covered_exact": [100.0, 160.0, 180.0, 190.0],
            "status_exact": ["optimal", "optimal", "feasible", "feasible"],
            "bound_exact": [100.0, 160.0, 185.0, np.nan],
        }
    )
    lines = {line.get_gid(): line for line in budget_figure(curve).axes[0].lines}
    assert list(lines["proven"].get_xdata()) == [0.0, 1.0] and list(lines["feasible"].get_xdata()) == [2.0, 3.0]
    assert lines["feasible"].get_markerfacecolor() in ("white", "w", (1.0, 1.0, 1.0, 1.0))
    bound = np.asarray(lines["bound"].get_ydata(), dtype=float)
    assert bound[0] == 185 and math.isnan(bound[1])
    assert list(lines["greedy"].get_ydata()) == [100, 150, 170, 175]

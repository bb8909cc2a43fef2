"""Tests that kill the mutants the siting tests let live (cosmic-ray on greedy.py,
result.py and curve.py).

Every expected value below is worked out by hand on a tiny instance (see each
docstring), or by brute force over the sites; none is read off the code's output.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import types

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import coverage.siting.curve
from coverage.matrix import CoverageMatrix
from coverage.siting import coverage_curve, mclp_exact, mclp_greedy
from coverage.siting.greedy import _mclp_result
from coverage.siting.result import _prepare

T = 10.0  # minutes


def matrix_of(minutes: dict[str, dict[int, float]], n_units: int, max_minutes: float = 20.0) -> CoverageMatrix:
    """Sites reaching the given unit numbers in the given minutes; units ``u0``…"""
    indptr, indices, data = [0], [], []
    for row in minutes.values():
        for unit, m in sorted(row.items()):
            indices.append(unit)
            data.append(m)
        indptr.append(len(indices))
    return CoverageMatrix(
        site_ids=np.asarray(list(minutes), dtype=object),
        unit_ids=np.asarray([f"u{i}" for i in range(n_units)], dtype=object),
        minutes=sp.csr_array(
            (np.asarray(data, dtype=float), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
            shape=(len(minutes), n_units),
        ),
        max_minutes=max_minutes,
    )


# Six units, populations 50 30 20 40 10 70 (total 220).  "kept" (required) reaches u0.
# a reaches u1 u2 (30 + 20 = 50), b reaches u2 u3 (20 + 40 = 60), c reaches u0 u4 (u0 is
# already within reach of kept: 10 new), d reaches u0 only (nobody new); u5 is 15 min
# from b, beyond the threshold.  Greedy, k = 3: b (60), then a adds only u1 (30, not its
# 50 alone, as u2 is taken), then c (10): 50 before, 150 after.
POP = [50.0, 30.0, 20.0, 40.0, 10.0, 70.0]
SITES = {
    "kept": {0: 1.0},
    "a": {1: 2.0, 2: 3.0},
    "b": {2: 4.0, 3: 5.0, 5: 15.0},
    "c": {0: 6.0, 4: 10.0},
    "d": {0: 7.0},
}


def test_table_ranks_the_sites_from_one_in_greedy_order() -> None:
    result = mclp_greedy(matrix_of(SITES, 6), POP, T, 3, required=["kept"], candidates=["a", "b", "c"])
    table = result.table()
    assert list(table["rank"]) == [1, 2, 3]
    assert list(table["site_id"]) == ["b", "a", "c"]
    assert list(table["marginal_gain"]) == [60.0, 30.0, 10.0]
    assert list(table["solver"]) == ["mclp-greedy"] * 3


def test_table_of_no_site_is_empty() -> None:
    result = mclp_greedy(matrix_of(SITES, 6), POP, T, 0, required=["kept"])
    table = result.table()
    assert len(table) == 0
    assert list(table.columns) == ["rank", "site_id", "marginal_gain", "solver"]


def test_shares_and_newly_covered_by_hand() -> None:
    result = mclp_greedy(matrix_of(SITES, 6), POP, T, 3, required=["kept"], candidates=["a", "b", "c"])
    assert result.population_total == 220
    assert result.population_covered_before == 50
    assert result.population_covered_after == 150
    assert result.population_newly_covered == 100
    assert result.share_covered_before == pytest.approx(50 / 220)
    assert result.share_covered_after == pytest.approx(150 / 220)


def test_shares_of_an_empty_population_are_nan() -> None:
    result = mclp_greedy(matrix_of(SITES, 6), [0.0] * 6, T, 1, required=["kept"])
    assert result.population_total == 0
    assert math.isnan(result.share_covered_before)
    assert math.isnan(result.share_covered_after)


def test_fewer_useful_sites_than_asked_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Among c and d, only c adds anyone (d reaches u0, already within reach of kept)."""
    matrix = matrix_of(SITES, 6)
    with caplog.at_level(logging.DEBUG, logger="coverage.siting"):
        short = mclp_greedy(matrix, POP, T, 2, required=["kept"], candidates=["c", "d"])
    assert short.sites == ("c",)
    messages = [r.getMessage() for r in caplog.records]
    assert any("only 1 of 2 new sites" in m for m in messages), messages
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="coverage.siting"):
        full = mclp_greedy(matrix, POP, T, 3, required=["kept"], candidates=["a", "b", "c"])
    assert len(full.sites) == 3
    assert not any("only" in r.getMessage() for r in caplog.records)


def test_every_argument_can_be_named() -> None:
    result = mclp_greedy(
        matrix=matrix_of(SITES, 6),
        population=pd.Series(POP, index=[f"u{i}" for i in range(6)]),
        threshold_min=T,
        k=1,
        required=["kept"],
        candidates=["a", "b", "c"],
    )
    assert result.sites == ("b",)  # 60 people: u2 and u3 (u5 is 15 min away)
    curve = coverage_curve(
        matrix=matrix_of(SITES, 6),
        population=POP,
        threshold_min=T,
        k_max=1,
        required=["kept"],
        candidates=["a", "b", "c"],
        exact=False,
    )
    assert list(curve["population_covered_greedy"]) == [50.0, 110.0]


def test_no_site_asked_is_not_nothing_to_gain(caplog: pytest.LogCaptureFixture) -> None:
    """k = 0 while b, a and c would each add people: nothing was asked, so the status is
    the solver's usual one and no warning says that no site reaches anyone new."""
    matrix = matrix_of(SITES, 6)
    with caplog.at_level(logging.DEBUG, logger="coverage.siting"):
        greedy = mclp_greedy(matrix, POP, T, 0, required=["kept"])
        exact = mclp_exact(matrix, POP, T, 0, required=["kept"])
    assert greedy.sites == () and exact.sites == ()
    assert greedy.status == "heuristic"
    assert exact.status == "optimal" and exact.bound == 50 and exact.gap == 0
    assert greedy.population_covered_after == exact.population_covered_after == 50
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# Six units; A reaches four of them, B and C three each: the greedy pair (A, then B or C)
# covers five, and everyone (six) is within reach of some site.
TRAP = {"A": {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}, "B": {0: 1.0, 1: 1.0, 4: 1.0}, "C": {2: 1.0, 3: 1.0, 5: 1.0}}


@pytest.mark.parametrize("scale", [1.0, 0.1, 0.001])
def test_gap_is_relative_whatever_the_population_scale(scale: float) -> None:
    """A then B cover five of six people, and six are provable: the gap is (6 - 5) / 6 for
    six people as for six tenths or thousandths of a person (populations need not be
    whole numbers)."""
    problem = _prepare(matrix_of(TRAP, 6), [scale] * 6, T, (), None)
    a, b = 0, 1  # candidate rows: A, B, C
    result = _mclp_result(problem, "mclp-exact", T, 2, [a, b], [4 * scale, scale], 6 * scale, "feasible", 0.0)
    assert result.sites == ("A", "B")
    assert result.population_covered_after == pytest.approx(5 * scale)
    assert result.gap == pytest.approx(1 / 6)


def test_a_bound_a_rounding_error_below_the_answer_gives_no_negative_gap() -> None:
    """A float sum of populations can put a proven bound a hair below the answer: that
    is a gap of 0, never a negative one."""
    problem = _prepare(matrix_of(TRAP, 6), [1.0] * 6, T, (), None)
    result = _mclp_result(problem, "mclp-exact", T, 2, [0, 1], [4.0, 1.0], 5.0 - 1e-10, "optimal", 0.0)
    assert result.population_covered_after == 5
    assert result.gap == 0


def test_seconds_is_the_time_the_solver_took() -> None:
    matrix = matrix_of(SITES, 6)
    for solve in (mclp_greedy, mclp_exact):
        started = time.perf_counter()
        result = solve(matrix, POP, T, 2, required=["kept"])
        took = time.perf_counter() - started
        assert 0 <= result.seconds <= took


def test_more_than_256_sites_are_counted_as_numbers(caplog: pytest.LogCaptureFixture) -> None:
    """300 candidates, each reaching a unit of its own (populations 1..300): the best k
    sites are the k most populous, whatever k, here beyond the small integers that
    Python shares (a count compared by identity would go on past k, or call k sites
    out of k fewer than asked)."""
    n, k = 300, 260
    matrix = matrix_of({f"s{j}": {j: 1.0} for j in range(n)}, n)
    population = np.arange(1.0, n + 1)
    with caplog.at_level(logging.DEBUG, logger="coverage.siting"):
        result = mclp_greedy(matrix, population, T, k)
    assert not any("only" in r.getMessage() for r in caplog.records)
    assert len(result.sites) == k
    assert set(result.sites) == {f"s{j}" for j in range(n - k, n)}
    assert result.population_covered_after == sum(range(n - k + 1, n + 1))


def test_a_result_cannot_be_changed() -> None:
    result = mclp_greedy(matrix_of(SITES, 6), POP, T, 1, required=["kept"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.sites = ("d",)  # type: ignore[misc]
    assert result.sites == ("b",)


def test_curve_gives_each_exact_solve_its_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """One exact solve per k = 0..k_max, each under the curve's time limit: 30 s unless
    said otherwise (the documented default), with HiGHS from HIGHS_MIN_SECONDS on."""
    limits: list[tuple[int, float, bool]] = []
    real = coverage.siting.curve._mclp_solve
    # the curve's clock stands at 100 s: a deadline 100 + limit
    monkeypatch.setattr(coverage.siting.curve, "time", types.SimpleNamespace(perf_counter=lambda: 100.0))

    def spy(setup: object, k: int, *, deadline: float, milp: bool) -> object:
        limits.append((k, deadline - 100.0, milp))
        return real(setup, k, deadline=time.perf_counter() + 30.0, milp=milp)  # type: ignore[arg-type]

    monkeypatch.setattr(coverage.siting.curve, "_mclp_solve", spy)
    matrix = matrix_of(SITES, 6)
    coverage_curve(matrix, POP, T, 2, required=["kept"])
    assert limits == [(0, 30.0, True), (1, 30.0, True), (2, 30.0, True)]
    limits.clear()
    coverage_curve(matrix, POP, T, 1, required=["kept"], time_limit_s=0.75)
    assert limits == [(0, 0.75, False), (1, 0.75, False)]


def test_curve_stays_flat_once_no_site_adds_anyone() -> None:
    """Between c and d, only c adds anyone (u4, 10 people; d reaches u0, already within
    reach of kept): one greedy site, so k = 2 covers what k = 1 does."""
    curve = coverage_curve(matrix_of(SITES, 6), POP, T, 2, required=["kept"], candidates=["c", "d"], exact=False)
    assert list(curve["k"]) == [0, 1, 2]
    assert list(curve["population_covered_greedy"]) == [50.0, 60.0, 60.0]
    assert list(curve["share_greedy"]) == pytest.approx([50 / 220, 60 / 220, 60 / 220])


def test_nothing_to_gain_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """d reaches only u0, already within reach of kept: the warning says that nothing can
    be gained, and no second message counts "0 of 2" useful sites."""
    with caplog.at_level(logging.DEBUG, logger="coverage.siting"):
        result = mclp_greedy(matrix_of(SITES, 6), POP, T, 1, required=["kept"], candidates=["d"])
    assert result.sites == () and result.status == "nothing to gain"
    messages = [r.getMessage() for r in caplog.records]
    assert any("nothing to choose" in m for m in messages), messages
    assert not any("only" in m for m in messages), messages


def test_the_greedy_goes_on_past_a_site_that_adds_no_one_any_more() -> None:
    """s0 and s1 reach u0 (1 person), s2 reaches u1 (5e-10 of a person); k = 2.  The greedy
    takes s0; s1, refreshed, adds no one, but s2, waiting within 1e-9 of it, still adds
    5e-10: it is taken, and everyone is covered."""
    matrix = matrix_of({"s0": {0: 1.0}, "s1": {0: 1.0}, "s2": {1: 1.0}}, 2)
    result = mclp_greedy(matrix, [1.0, 5e-10], T, 2)
    assert result.sites == ("s0", "s2") and result.population_covered_after == 1.0 + 5e-10

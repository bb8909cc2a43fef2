"""Phasing edges found by mutation testing (coverage/phasing.py, tests/mutation/README.md).

Hand-made instances: units of one person unless stated, sites ``s0``... of
``matrix_from_dense``.  Where HiGHS's answer is replaced, the replacement is a function of
the keyword arguments ``_solve_binary_program`` receives: ``n_x`` is (sites HiGHS sees) x
(years), the x of year t being the block t of that length.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import types

import numpy as np
import pytest

import coverage.phasing as phasing
from coverage.errors import InputDataError
from coverage.phasing import PhasedSites, Schedule, _fill, phase_sites
from tests.conftest import FakeClock, matrix_from_dense

# u0..u5; s0 reaches u0-u3, s1 u0, u1, u4; s2 u2, u3, u5 (as in test_phasing.py)
OVERLAP = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]], dtype=bool)
THREE = ["s0", "s1", "s2"]


def _phase(present, weights, schedule: str | Schedule, sites=None, **kw) -> PhasedSites:
    present = np.asarray(present, dtype=bool)
    sites = [f"s{i}" for i in range(present.shape[0])] if sites is None else sites
    schedule = schedule if isinstance(schedule, Schedule) else Schedule.parse(schedule)
    return phase_sites(matrix_from_dense(present), weights, 5.0, sites, schedule, **kw)


def _answer(years: list[int], n_t: int):
    """A stand-in for HiGHS that answers the opening years ``years`` (one per site, all
    seen by HiGHS), with the bound of 15 people-years."""

    def solve(**kw):
        x = np.concatenate([np.asarray(years) <= t for t in range(n_t)])
        assert len(x) == kw["n_x"]
        return x, 15.0, "HiGHS: Optimal"

    return solve


def _no_solver(**kw):
    raise AssertionError("HiGHS should not be run")


# ------------------------------------------------------------------ the bound that needs no solver


@pytest.mark.parametrize(
    ("present", "weights", "schedule", "required"),
    [
        # s0 {u0, u1}, s1 {u2}, one a year: greedy 2 then 3 = 5; bound min(3, 2) + min(3, 3) = 5
        ([[1, 1, 0], [0, 0, 1]], [1, 1, 1], "1:1,2:1", ()),
        # s0 {u0, u1}, s1 {u1}; u2 (5 people) is reached by no site: everyone = 2 (not 7),
        # top two gains 2 + 1 = 3: bound min(2, 3) = 2, greedy 2
        ([[1, 1, 0], [0, 1, 0]], [1, 1, 5], "1:2", ()),
        # s2 (required) covers u0; s0 {u0, u1} gains 1 (u0 is covered already), s1 {u2} 1:
        # one site, bound min(2, 1) = 1, greedy 1
        ([[1, 1, 0], [0, 0, 1], [1, 0, 0]], [1, 1, 1], "1:1", ("s2",)),
        # a first year with no site: bound 0 + 1 + 2 = 3 (no site, no one), greedy 0 + 1 + 2
        ([[1, 0], [0, 1]], [1, 1], "1:0,2:1,3:1", ()),
    ],
)
def test_no_solver_when_the_greedy_order_meets_the_bound(
    monkeypatch: pytest.MonkeyPatch, present, weights, schedule, required
) -> None:
    monkeypatch.setattr(phasing, "_solve_binary_program", _no_solver)
    sites = [f"s{i}" for i in range(len(present)) if f"s{i}" not in required]
    phased = _phase(present, np.asarray(weights, dtype=float), schedule, sites, required=list(required))
    assert phased.solver_status.startswith("not needed")
    assert phased.status == "optimal" and phased.gap == 0


@pytest.mark.parametrize(
    ("a", "x", "b", "runs"),
    [
        # bound 2a + 2x = 1e9, greedy 2a + x = 999 999 999: exactly 1e-9 x 1e9 = 1 below
        # (1e-9 * 1e9 is 1.0 in floats): not below by more, HiGHS is not run
        (499_999_999.0, 1.0, 2.0, False),
        # bound 1 (the tolerance is 1e-9 x max(1, bound) = 1e-9): 1.5e-9 below, HiGHS runs
        (0.5 - 1.5e-9, 1.5e-9, 0.25, True),
        # bound 0.5 (the tolerance stays 1e-9, not 1e-9 x 0.5): 0.75e-9 below, not run
        (0.25 - 0.75e-9, 0.75e-9, 0.1, False),
    ],
)
def test_highs_runs_when_the_greedy_order_is_below_the_bound_by_more_than_the_tolerance(
    monkeypatch: pytest.MonkeyPatch, a: float, x: float, b: float, runs: bool
) -> None:
    """HiGHS runs only when value < bound - 1e-9 * max(1, bound), strictly, in floats.

    s0 {u0, u1}, s1 {u1, u2}, s2 {u3} with u0 = u2 = a, u1 = x, u3 = b (x < b < a), two
    sites in one year: greedy s0 then s1, 2a + x (also the best); the bound that needs no
    solver is the two best gains, 2a + 2x (below everyone, 2a + x + b): x below it.
    """
    real, calls = phasing._solve_binary_program, []

    def counted(**kw):
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(phasing, "_solve_binary_program", counted)
    present = [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]
    phased = _phase(present, np.array([a, x, a, b]), "1:2")
    assert bool(calls) == runs
    assert phased.solver_status.startswith("not needed") != runs
    assert phased.objective == pytest.approx(2 * a + x, rel=1e-15) and phased.status == "optimal"


def test_a_first_year_without_sites_bounds_nothing() -> None:
    # OVERLAP, 0 sites, then 2, then 1: the bound that needs no solver is 0 + 6 + 6 = 12 and
    # greedy's 0 + 5 + 6 = 11, so HiGHS runs and finds {s1, s2} in year 2: 0 + 6 + 6 = 12
    phased = _phase(OVERLAP, np.ones(6), "1:0,2:2,3:1")
    assert phased.greedy_objective == 11 and phased.objective == 12 and phased.status == "optimal"


def test_existing_coverage_is_not_a_gain_of_the_bound() -> None:
    # OVERLAP plus u6, covered already by s3 (required) and reached by s0, s1, s2: their gains
    # stay 4, 3, 3 (u6 counts for nothing, not for -1): bound 6 + 6 = 12 above greedy's 11,
    # HiGHS runs and finds 12
    present = np.hstack([np.vstack([OVERLAP, np.zeros((1, 6), dtype=bool)]), np.ones((4, 1), dtype=bool)])
    phased = _phase(present, np.ones(7), "1:2,2:1", THREE, required=["s3"])
    assert phased.greedy_objective == 11 and phased.objective == 12 and phased.status == "optimal"


# --------------------------------------------------------------------------- HiGHS's model


def test_one_site_a_year_is_nested() -> None:
    # OVERLAP, one a year: s0 (4) then s1 or s2 (5) = 9 is the best nested order; each year
    # on its own would take s0 (4) then {s1, s2} (6) = 10, which is not an order
    phased = _phase(OVERLAP, np.ones(6), "1:1,2:1")
    assert phased.objective == 9 and phased.status == "optimal" and phased.bound == 9


def test_a_single_year_by_highs() -> None:
    # OVERLAP, two sites: greedy s0, s1 = 5; bound min(6, 4 + 3) = 6; HiGHS: {s1, s2} = 6
    phased = _phase(OVERLAP, np.ones(6), "1:2")
    assert phased.greedy_objective == 5 and phased.objective == 6 and phased.status == "optimal"
    assert set(phased.timeline.loc[phased.timeline["year"] == "1", "site_id"]) == {"s1", "s2"}


def test_highs_gets_the_time_left_and_a_zero_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS gets time_limit_s counted from the call's start, less the time gone by, at
    least 0.05 s; the default is 30 s; mip_rel_gap is 0 (a proof of the optimum)."""
    real, seen = phasing._solve_binary_program, []

    def recorded(**kw):
        seen.append((kw["time_limit_s"], kw["mip_rel_gap"]))
        return real(**kw)

    monkeypatch.setattr(phasing, "_solve_binary_program", recorded)
    for limit in (100.0, None, 1.0):
        # readings 2.5 (start), 5 (before HiGHS), 7.5 (end)
        monkeypatch.setattr(phasing, "time", types.SimpleNamespace(perf_counter=FakeClock(2.5).perf_counter))
        kw = {} if limit is None else {"time_limit_s": limit}
        phased = _phase(OVERLAP, np.ones(6), "1:2,2:1", **kw)
        assert phased.seconds == 5.0  # 7.5 - 2.5
    # 2.5 + 100 - 5; 2.5 + 30 - 5; 2.5 + 1 - 5 < 0.05
    assert seen == [(97.5, 0.0), (27.5, 0.0), (0.05, 0.0)]


# --------------------------------------------------------------------- HiGHS's answer checked


def test_an_answer_over_the_schedule_by_the_years_so_far_is_not_trusted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OVERLAP, 1, 1, then 0 sites: greedy 4 + 5 + 5 = 14, bound 4 + 6 + 6 = 16, HiGHS runs.
    # An answer opening s0, s1, s2 one a year fits each year's count, but 3 sites are open
    # by year 3 where 2 are allowed: refused, the greedy order is kept
    monkeypatch.setattr(phasing, "_solve_binary_program", _answer([0, 1, 2], 3))
    with caplog.at_level(logging.WARNING):
        phased = _phase(OVERLAP, np.ones(6), "1:1,2:1,3:0")
    assert "more sites than the schedule allows" in caplog.text
    assert phased.objective == 14 and phased.bound == 16 and phased.status == "feasible"


@pytest.mark.parametrize("worse", [False, True])
def test_an_answer_no_better_than_the_greedy_order_is_not_taken(monkeypatch: pytest.MonkeyPatch, worse: bool) -> None:
    # OVERLAP, one a year: greedy s0 (4), then s1 or s2 (5), then the other (6) = 15; bound
    # 4 + 6 + 6 = 16, HiGHS runs.  Its last two swapped tie (4 + 5 + 6); s2, s0, s1 is
    # worse (3 + 5 + 6 = 14): the greedy order is kept either way, and the bound of 15 proves it
    greedy = _phase(OVERLAP, np.ones(6), "1:1,2:1,3:1", exact=False).timeline
    assert greedy["site_id"].iloc[0] == "s0" and greedy["covered"].tolist() == [4, 5, 6]
    second, third = int(greedy["site_id"].iloc[1][1]), int(greedy["site_id"].iloc[2][1])
    years = [1, 2, 0] if worse else [0, 2, 1] if (second, third) == (1, 2) else [0, 1, 2]
    monkeypatch.setattr(phasing, "_solve_binary_program", _answer(years, 3))
    phased = _phase(OVERLAP, np.ones(6), "1:1,2:1,3:1")
    assert phased.timeline["site_id"].tolist() == greedy["site_id"].tolist()
    assert phased.timeline["year"].tolist() == ["1", "2", "3"]
    assert phased.objective == 15 and phased.status == "optimal"


def test_sites_left_out_go_to_the_earliest_year_with_room() -> None:
    """_fill: each site past the schedule goes to the earliest year from which every year
    has room, one at a time, in the order of the sites."""
    # cumulative 1, 3, 4: site 0 in year 0; open by year: 1, 1, 1 -> room in years 1, 2:
    # site 1 to year 1 (1, 2, 2); site 2 to year 1 (1, 3, 3); room only in year 2: site 3
    assert _fill(np.array([0, 3, 3, 3]), np.array([1.0, 3.0, 4.0])).tolist() == [0, 1, 1, 2]
    # cumulative 2, 2, 3, full by year 1 (2, 2, 2): site 2 to year 2; then no room: site 3 waits
    assert _fill(np.array([0, 0, 3, 3]), np.array([2.0, 2.0, 3.0])).tolist() == [0, 0, 2, 3]
    # cumulative 0, 2: nothing in year 0; sites 0, 1 to year 1, site 2 waits
    assert _fill(np.array([2, 2, 2]), np.array([0.0, 2.0])).tolist() == [1, 1, 2]


# --------------------------------------------------------------------------------- the gap


def test_the_gap_is_relative_to_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_answer(**kw):  # HiGHS stopped with no answer and no bound
        return np.zeros(kw["n_x"], dtype=bool), math.nan, "HiGHS: Time limit reached"

    monkeypatch.setattr(phasing, "_solve_binary_program", no_answer)
    # s0, s1, s2 reach u0 (1 person) only; s3..s10 each its own unit of 0.25.  Three sites:
    # greedy 1 + 0.25 + 0.25 = 1.5; bound min(everyone 3, top three gains 3) = 3: gap 0.5
    present = np.zeros((11, 9), dtype=bool)
    present[:3, 0] = True
    present[np.arange(3, 11), np.arange(1, 9)] = True
    phased = _phase(present, np.array([1.0] + [0.25] * 8), "1:3")
    assert phased.objective == 1.5 and phased.bound == 3 and phased.status == "feasible"
    assert phased.gap == 0.5
    # OVERLAP at 1/24 a person, one a year: greedy 4, 5, 6 (/24) = 15/24; bound 16/24: the
    # gap is 1/16 with a bound below 1
    phased = _phase(OVERLAP, np.full(6, 1 / 24), "1:1,2:1,3:1")
    assert phased.bound == pytest.approx(16 / 24) and phased.gap == pytest.approx(1 / 16)


def test_an_empty_territory_has_no_gap() -> None:
    phased = _phase(OVERLAP, np.zeros(6), "1:2,2:1")
    assert phased.bound == 0 and phased.gap == 0 and phased.status == "optimal"


# ------------------------------------------------------------------------- phase_sites' input


def test_the_warning_counts_the_sites_that_wait(caplog: pytest.LogCaptureFixture) -> None:
    five = np.eye(5, dtype=bool)
    with caplog.at_level(logging.WARNING):
        _phase(five, np.ones(5), "2030:1,2031:1")
    assert "opens 2 sites and 5 were chosen: 3 are left for after 2031" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # a schedule with room to spare: no warning
        _phase(five, np.ones(5), "2030:4,2031:4")
    assert "left for after" not in caplog.text


def test_sites_listed_twice_are_refused() -> None:
    with pytest.raises(InputDataError, match="listed twice"):
        _phase(OVERLAP, np.ones(6), "1:2", ["s0", "s1", "s0"])


def test_many_sites_and_years() -> None:
    # 300 sites, each its own unit, over 300 years, one a year (lengths past the small
    # integers Python shares)
    years = tuple(str(1800 + i) for i in range(300))
    schedule = Schedule(years, (1.0,) * 300)
    assert len(schedule.as_dict()) == 300
    phased = _phase(np.eye(300), np.ones(300), schedule, exact=False)
    assert phased.by_year["sites_opened"].tolist() == [1] * 300
    assert phased.objective == sum(range(1, 301))  # 1 + 2 + ... + 300 people-years


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, THREE, Schedule.parse("1:3"), ("s0",))  # type: ignore[misc]


def test_results_are_frozen_and_compared_by_identity() -> None:
    schedule = Schedule.parse("1:2,2:1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.years = ("1",)  # type: ignore[misc]
    assert hash(schedule) == hash(Schedule(("1", "2"), (2.0, 1.0)))
    one, two = (_phase(OVERLAP, np.ones(6), "1:2,2:1") for _ in range(2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.objective = 0.0  # type: ignore[misc]
    assert one == one and one != two and len({one, two}) == 2


# ------------------------------------------------------------------------------- schedules


def test_schedule_spread_and_per_year_edges() -> None:
    with pytest.raises(InputDataError, match="at least one year"):
        Schedule.spread(3, [])
    assert Schedule.spread(3, ["2030"]).counts == (3.0,)
    assert Schedule.parse("2030-2030", total=4).counts == (4.0,)
    with pytest.raises(InputDataError, match="must be positive"):
        Schedule.per_year(0, 2030, 5)
    assert Schedule.per_year(5, 2030, 0).as_dict() == {"2030": 0}  # one year, with nothing
    assert Schedule.per_year(5, 2030, 3).as_dict() == {"2030": 3}
    assert Schedule.parse("2030+5", total=0).as_dict() == {"2030": 0}


@pytest.mark.parametrize("text", ["2030+5", "2030-2032"])
@pytest.mark.parametrize("total", [None, -0.5, -3.0, math.inf])
def test_a_schedule_that_spreads_needs_a_total(text: str, total: float | None) -> None:
    with pytest.raises(InputDataError, match="spreads a total"):
        Schedule.parse(text, total=total)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (":5", "expected YEAR:COUNT"),  # no year
        ("2031:1,2030:1", "in order"),
        ("2030:1,02030:1", "in order"),  # the same year written twice
    ],
)
def test_more_bad_schedules(text: str, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        Schedule.parse(text)

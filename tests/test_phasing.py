"""Phasing sites and the pool's doctors over years: hand cases, brute force, schedules."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from coverage.accessibility import StepDecay, floating_catchment
from coverage.errors import InputDataError
from coverage.phasing import LATER, Schedule, phase_sites
from coverage.phasing_pool import phase_pool
from coverage.pool import allocate_pool
from tests.conftest import matrix_from_dense

# units u0..u5, one person each; s0 reaches u0-u3, s1 u0, u1, u4; s2 u2, u3, u5
OVERLAP = np.array(
    [
        [1, 1, 1, 1, 0, 0],
        [1, 1, 0, 0, 1, 0],
        [0, 0, 1, 1, 0, 1],
    ],
    dtype=bool,
)


def test_greedy_order_beaten_by_hand() -> None:
    # two sites in year 1, the third in year 2.  Greedy: s0 (4), then s1 or s2 (+1):
    # 5 covered after year 1, 6 after year 2, 11 in all.  {s1, s2} cover all 6 in year 1:
    # 6 + 6 = 12, the most possible (6 people, 2 years).
    phased = phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0", "s1", "s2"], Schedule.parse("1:2,2:1"))
    assert phased.greedy_objective == 11
    assert phased.objective == 12
    assert phased.status == "optimal" and phased.bound == 12 and phased.gap == 0
    tl = phased.timeline
    assert set(tl.loc[tl["year"] == "1", "site_id"]) == {"s1", "s2"}
    assert tl.loc[tl["year"] == "2", "site_id"].tolist() == ["s0"]
    assert tl["newly_covered"].tolist() == [3, 3, 0]
    assert tl["order"].tolist() == [1, 2, 3]
    assert phased.by_year["covered"].tolist() == [6, 6]
    assert phased.by_year["covered_greedy_order"].tolist() == [5, 6]
    assert phased.by_year["sites_opened"].tolist() == [2, 1]


def test_greedy_order_is_the_answer_without_exact() -> None:
    phased = phase_sites(
        matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0", "s1", "s2"], Schedule.parse("1:2,2:1"), exact=False
    )
    assert phased.objective == 11 and phased.status == "heuristic" and phased.bound is None
    assert phased.timeline["site_id"].tolist()[0] == "s0"


def _brute_force(present: np.ndarray, weights: np.ndarray, required: list[int], sites: list[int], counts) -> float:
    """Every assignment of the sites to years (or to after the schedule) that follows it."""
    n_t = len(counts)
    base = present[required].any(axis=0) if required else np.zeros(present.shape[1], dtype=bool)
    best = -1.0
    for years in itertools.product(range(n_t + 1), repeat=len(sites)):
        opened = [sum(1 for y in years if y == t) for t in range(n_t)]
        if any(sum(opened[: t + 1]) > sum(counts[: t + 1]) for t in range(n_t)):
            continue
        total = 0.0
        for t in range(n_t):
            now = base.copy()
            for s, y in zip(sites, years, strict=True):
                if y <= t:
                    now |= present[s]
            total += float(weights[now & ~base].sum())
        best = max(best, total)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_sites, n_units = 6, 14
    present = rng.random((n_sites, n_units)) < 0.3
    weights = rng.integers(1, 50, n_units).astype(float)
    required = [0] if seed % 2 else []
    sites = [1, 2, 3, 4, 5]
    n_t = int(rng.integers(2, 4))
    counts = [int(c) for c in rng.integers(0, 3, n_t)]
    if sum(counts) == 0:
        counts[-1] = 1
    expected = _brute_force(present, weights, required, sites, counts)
    schedule = Schedule(tuple(str(2030 + t) for t in range(n_t)), tuple(float(c) for c in counts))
    ids = [f"s{j}" for j in sites]
    phased = phase_sites(
        matrix_from_dense(present), weights, 5.0, ids[::-1], schedule, required=[f"s{j}" for j in required]
    )
    assert phased.objective == pytest.approx(expected)
    assert phased.status == "optimal"
    assert phased.greedy_objective <= phased.objective + 1e-9
    # the timeline follows the schedule, and its figures are those of the opening years
    opened = phased.timeline.groupby("year").size()
    for year, count in zip(schedule.years, counts, strict=True):
        assert opened.get(year, 0) <= count
    assert phased.by_year["sites_opened"].sum() + (phased.timeline["year"] == LATER).sum() == 5
    cumulative = phased.timeline["covered"].to_numpy()
    assert (np.diff(cumulative) >= -1e-9).all()
    assert phased.by_year["covered"].sum() - n_t * phased.population_covered_before == pytest.approx(expected)


@pytest.mark.parametrize("seed", [14, 16, 18, 20, 21, 45])
def test_greedy_beaten_against_brute_force(seed: int) -> None:
    # seeds where the greedy order is not the best (found by search; the brute force decides)
    rng = np.random.default_rng(seed)
    present = rng.random((7, 12)) < 0.4
    weights = rng.integers(1, 50, 12).astype(float)
    required = [0] if seed % 2 else []
    counts = [int(c) for c in rng.integers(1, 3, 3)]
    schedule = Schedule(("a", "b", "c"), tuple(float(c) for c in counts))
    expected = _brute_force(present, weights, required, list(range(1, 7)), counts)
    phased = phase_sites(
        matrix_from_dense(present),
        weights,
        5.0,
        [f"s{j}" for j in range(1, 7)],
        schedule,
        required=[f"s{j}" for j in required],
    )
    assert phased.greedy_objective < expected - 1e-9
    assert phased.objective == pytest.approx(expected)
    assert phased.status == "optimal" and phased.bound == pytest.approx(expected)


def test_shuffled_units_and_sites_same_answer() -> None:
    rng = np.random.default_rng(7)
    present = rng.random((7, 30)) < 0.25
    weights = rng.integers(1, 100, 30).astype(float)
    schedule = Schedule.parse("2024:2,2025:2,2026:2")
    ids = [f"s{j}" for j in range(1, 7)]
    a = phase_sites(matrix_from_dense(present), weights, 5.0, ids, schedule, required=["s0"])
    perm = rng.permutation(30)
    m = matrix_from_dense(present[:, perm])
    b = phase_sites(m, pd.Series(weights[perm], index=m.unit_ids), 5.0, ids[::-1], schedule, required=["s0"])
    assert a.objective == pytest.approx(b.objective)
    assert a.by_year["covered"].to_numpy() == pytest.approx(b.by_year["covered"].to_numpy())


def test_sites_past_the_schedule_are_later() -> None:
    phased = phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0", "s1", "s2"], Schedule.parse("1:1"))
    # one site only: s0 (4 people) is the best single site
    assert phased.objective == 4 and phased.status == "optimal"
    assert phased.timeline["year"].tolist() == ["1", LATER, LATER]
    assert phased.timeline["site_id"].iloc[0] == "s0"


def test_schedule_parsing() -> None:
    assert Schedule.parse("2023:12, 2024:12,2025:13").as_dict() == {"2023": 12, "2024": 12, "2025": 13}
    # 37 over 3 years: 13, 12, 12 (the earlier years take the remainder)
    assert Schedule.parse("2023-2025", total=37).counts == (13, 12, 12)
    assert Schedule.parse("2021-2028", total=300).counts == (38, 38, 38, 38, 37, 37, 37, 37)
    assert Schedule.per_year(5, 2024, 12).as_dict() == {"2024": 5, "2025": 5, "2026": 2}
    assert Schedule.parse("2024+5", total=12).as_dict() == {"2024": 5, "2025": 5, "2026": 2}
    assert Schedule.parse("2021 + 40", total=300).counts == (40,) * 7 + (20,)
    assert list(Schedule.parse("2023:1,2024:2").cumulative) == [1, 3]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2023:x", "expected YEAR:COUNT"),
        ("2023", "expected YEAR:COUNT"),
        ("", "the schedule is empty"),
        ("2023:1,2023:2", "listed twice"),
        ("2023:-1", ">= 0"),
        ("2023:inf", "expected YEAR:COUNT"),
        ("2025-2023", "backwards"),
    ],
)
def test_bad_schedules(text: str, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        Schedule.parse(text, total=10)


def test_sites_open_whole() -> None:
    with pytest.raises(InputDataError, match="whole numbers"):
        phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0"], Schedule.parse("1:1.5"))


# ------------------------------------------------------------------- the pool's doctors

# u0 (10 people) is reached by s0 only, u1 (25 people) by s1 only; no doctor yet.  One
# doctor at s0 gives u0 1/10 = 0.1; at s1, u1 gets 1/25 = 0.04 per doctor.  Line 0.07:
# u0 is lifted by one doctor at s0, u1 by two at s1.
TWO = np.array([[1, 0], [0, 1]], dtype=bool)
BAND = StepDecay(((10.0, 1.0),))


def _pool_case():
    m = matrix_from_dense(TWO)
    return m, np.zeros(2), np.array([10.0, 25.0])


def test_pool_order_from_allocate_pool_by_hand() -> None:
    m, supply, demand = _pool_case()
    steps = allocate_pool(m, supply, demand, pool=3, team_size=1, priority_line=0.07, decay=BAND).steps
    # the greedy: s0 lifts 10; then s1 (lifts no one yet, but cuts the shortfall); s1 lifts 25
    assert steps["site_id"].tolist() == ["s0", "s1", "s1"]
    # two doctors the first year, one the next.  Pool order: year 1 {s0, s1}: 10 above;
    # year 2: 35; sum 45.  Both doctors at s1 first: 25, then 35; sum 60.
    phased = phase_pool(m, supply, demand, steps, Schedule.parse("1:2,2:1"), priority_line=0.07, decay=BAND)
    assert phased.pool_objective == 45
    assert phased.objective == 60
    assert phased.exchanges == 1
    assert phased.status == "heuristic"
    tl = phased.timeline
    assert tl["year"].tolist() == ["1", "1", "2"]
    assert tl["site_id"].tolist() == ["s1", "s1", "s0"]
    assert tl["people_lifted"].tolist() == [0, 25, 10]
    assert phased.by_year["people_above"].tolist() == [25, 35]
    assert phased.by_year["people_above_pool_order"].tolist() == [10, 35]


def _above_by_catchment(m, supply, demand, sites, line) -> float:
    """People at or above the line, by an independent floating catchment."""
    s = supply.copy()
    for j in sites:
        s[j] += 1
    acc = floating_catchment(m, s, demand, BAND).accessibility
    return float(demand[acc >= line].sum())


@pytest.mark.parametrize("seed", range(6))
def test_pool_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    present = rng.random((3, 8)) < 0.5
    present[:, 0] = True
    m = matrix_from_dense(present)
    supply = rng.integers(0, 2, 3).astype(float)
    demand = rng.integers(5, 40, 8).astype(float)
    line = float(np.median(floating_catchment(m, supply + 1, demand, BAND).accessibility))
    teams = [int(j) for j in rng.integers(0, 3, 4)]
    steps = pd.DataFrame({"site_id": [f"s{j}" for j in teams], "supply_added": 1.0})
    schedule = Schedule.parse("1:1,2:2,3:1")
    phased = phase_pool(m, supply, demand, steps, schedule, priority_line=line, decay=BAND)
    cum = [1, 3, 4]

    def total(order) -> float:
        return sum(_above_by_catchment(m, supply, demand, order[:c], line) for c in cum)

    assert phased.pool_objective == pytest.approx(total(teams))
    best = max(total(list(p)) for p in itertools.permutations(teams))
    assert phased.pool_objective - 1e-9 <= phased.objective <= best + 1e-9
    # the timeline's order gives the objective claimed
    order = [int(s[1:]) for s in phased.timeline["site_id"]]
    assert sorted(order) == sorted(teams)
    assert total(order) == pytest.approx(phased.objective)


# ------------------------------------------------------------- edges found by mutation testing


def test_a_site_that_adds_no_one_still_follows_the_schedule() -> None:
    # OVERLAP plus s3, which reaches no one: HiGHS leaves it out of its model; it is put in
    # the first year from which every year has room (year 2: year 1 is full with s1, s2)
    present = np.vstack([OVERLAP, np.zeros((1, 6), dtype=bool)])
    phased = phase_sites(
        matrix_from_dense(present), np.ones(6), 5.0, ["s0", "s1", "s2", "s3"], Schedule.parse("1:2,2:2")
    )
    assert phased.objective == 12 and phased.status == "optimal"
    year = dict(zip(phased.timeline["site_id"], phased.timeline["year"], strict=True))
    assert year == {"s1": "1", "s2": "1", "s0": "2", "s3": "2"}


def test_the_start_given_to_highs_is_feasible(monkeypatch: pytest.MonkeyPatch) -> None:
    import coverage.phasing as phasing

    real = phasing._solve_binary_program
    seen = []

    def checked(**kw):  # the greedy start must meet every row: x nested, counts, y <= covered
        start = kw["start"]
        assert ((start >= 0) & (start <= 1)).all()
        assert (kw["a"] @ start <= kw["row_upper"] + 1e-9).all()
        seen.append((start, kw["cost"]))
        return real(**kw)

    monkeypatch.setattr(phasing, "_solve_binary_program", checked)
    for schedule in ("1:1,2:1,3:1", "1:2,2:1"):
        phased = phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0", "s1", "s2"], Schedule.parse(schedule))
        # HiGHS ran (the greedy order does not meet the bound that needs no solver), started
        # from the whole greedy answer: its y are what its x cover, its value the greedy's
        assert seen
        start, cost = seen[-1]
        assert cost @ start == pytest.approx(phased.greedy_objective)


def test_an_answer_over_the_schedule_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    import coverage.phasing as phasing

    def opens_everything(**kw):  # every site open from year 1: more than the schedule allows
        return np.ones(kw["n_x"], dtype=bool), 1e9, "HiGHS: Optimal"

    monkeypatch.setattr(phasing, "_solve_binary_program", opens_everything)
    phased = phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0", "s1", "s2"], Schedule.parse("1:2,2:1"))
    # the greedy order is kept (11), and the solver's bound is not taken: 12 needs no solver
    assert phased.objective == 11 and phased.bound == 12 and phased.status == "feasible"
    assert phased.gap == pytest.approx(1 / 12)  # (12 - 11) / 12
    assert phased.by_year["sites_opened"].tolist() == [2, 1]


def test_the_order_within_a_year_counts_the_earlier_years() -> None:
    from coverage.phasing import _timeline
    from coverage.siting.result import _prepare

    # u0-u2 weigh 10, u3 1, u4 and u5 1: A reaches u0-u2, B u0-u3, C u4, u5.  A opens in year 1,
    # B and C in year 2: after A, C adds 2 and B only 1, so C comes first (alone, B would add 31)
    present = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]], dtype=bool)
    weights = np.array([10, 10, 10, 1, 1, 1], dtype=float)
    problem = _prepare(matrix_from_dense(present), weights, 5.0, [], ["s0", "s1", "s2"])
    table = _timeline(problem, np.array([0, 1, 1]), Schedule.parse("1:1,2:2"), 0.0)
    assert table["site_id"].tolist() == ["s0", "s2", "s1"]
    assert table["newly_covered"].tolist() == [30, 2, 1]
    assert table["share_covered"].tolist() == pytest.approx([30 / 33, 32 / 33, 1.0])


def test_shares_by_year_and_an_empty_territory() -> None:
    phased = phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0", "s1", "s2"], Schedule.parse("1:2,2:1"))
    assert phased.by_year["share_covered"].tolist() == [1.0, 1.0]
    assert phased.by_year["share_covered_greedy_order"].tolist() == pytest.approx([5 / 6, 1.0])
    nobody = phase_sites(matrix_from_dense(OVERLAP), np.zeros(6), 5.0, ["s0"], Schedule.parse("1:1"))
    assert np.isnan(nobody.by_year["share_covered"]).all() and nobody.objective == 0


def test_a_schedule_too_short_says_how_many_wait(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.WARNING):
        phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0", "s1", "s2"], Schedule.parse("2030:1,2031:0"))
    assert "opens 1 sites and 3 were chosen: 2 are left for after 2031" in caplog.text


def test_no_warning_when_the_schedule_fits(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.WARNING):
        phase_sites(matrix_from_dense(OVERLAP), np.ones(6), 5.0, ["s0", "s1", "s2"], Schedule.parse("2030:2,2031:1"))
    assert "left for after" not in caplog.text


def test_schedule_edges() -> None:
    assert Schedule.parse("2023-2025", total=0).counts == (0, 0, 0)  # checked for its syntax before a plan
    assert Schedule.per_year(0.5, 2030, 1).as_dict() == {"2030": 0.5, "2031": 0.5}
    with pytest.raises(InputDataError, match="one count per year"):
        Schedule(("2030", "2031"), (1.0,))
    with pytest.raises(InputDataError, match="one count per year"):
        Schedule(("2030",), (1.0, 2.0))
    with pytest.raises(InputDataError, match="must be positive"):
        Schedule.per_year(-1, 2030, 5)

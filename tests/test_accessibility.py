"""Floating catchment (2SFCA / E2SFCA): hand-computed values, PySAL access, invariants.

Hand case (minutes from unit to site; supply A = 2, B = 1; demand u1 100, u2 200, u3 100):

    A: u1 5 min, u2 12 min        B: u2 8 min, u3 18 min

Default bands: weight 1 up to 10 min, 2/3 up to 15, 1/3 up to 20.
    weighted demand A = 100 + 200 * 2/3 = 700/3       R_A = 2 / (700/3) = 3/350
    weighted demand B = 200 + 100 * 1/3 = 700/3       R_B = 1 / (700/3) = 3/700
    A_u1 = 3/350;  A_u2 = 3/350 * 2/3 + 3/700 = 1/100;  A_u3 = 3/700 * 1/3 = 1/700
    check: 100 * 3/350 + 200/100 + 100/700 = 6/7 + 2 + 1/7 = 3 = total supply
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from coverage.accessibility import (
    DEFAULT_BANDS,
    ContinuousDecay,
    StepDecay,
    accessibility_by_area,
    age_weighted_demand,
    facility_supply,
    floating_catchment,
    parse_bands,
    priority_classes,
)
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.pool import allocate_pool


def matrix_from(dense: np.ndarray, max_minutes: float = 30.0) -> CoverageMatrix:
    """Sites x units; NaN = pair beyond the matrix."""
    rows, cols = np.nonzero(~np.isnan(dense))
    counts = np.bincount(rows, minlength=dense.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    minutes = sp.csr_array((dense[rows, cols], cols.astype(np.int32), indptr), shape=dense.shape)
    return CoverageMatrix(
        site_ids=np.array([f"s{j}" for j in range(dense.shape[0])], dtype=object),
        unit_ids=np.array([f"u{i}" for i in range(dense.shape[1])], dtype=object),
        minutes=minutes,
        max_minutes=max_minutes,
    )


HAND = np.array([[5.0, 12.0, np.nan], [np.nan, 8.0, 18.0]])


def test_enhanced_2sfca_by_hand() -> None:
    result = floating_catchment(matrix_from(HAND), [2.0, 1.0], [100.0, 200.0, 100.0], DEFAULT_BANDS)
    assert result.supply_ratio == pytest.approx([3 / 350, 3 / 700])
    assert result.accessibility == pytest.approx([3 / 350, 1 / 100, 1 / 700])
    assert (result.demand * result.accessibility).sum() == pytest.approx(3.0)
    assert result.unused_supply == 0


def test_plain_2sfca_by_hand() -> None:
    # one band of 20 minutes: every pair weighs 1
    result = floating_catchment(matrix_from(HAND), [2.0, 1.0], [100.0, 200.0, 100.0], StepDecay(((20.0, 1.0),)))
    # R_A = 2 / 300, R_B = 1 / 300; A_u2 = 3 / 300
    assert result.accessibility == pytest.approx([2 / 300, 3 / 300, 1 / 300])


def test_band_limits_are_inclusive() -> None:
    assert DEFAULT_BANDS(np.array([0.0, 10.0, 10.01, 15.0, 20.0, 20.01])).tolist() == pytest.approx(
        [1, 1, 2 / 3, 2 / 3, 1 / 3, 0]
    )


def test_agrees_with_pysal_access_two_stage_fca() -> None:
    import access  # test dependency (pyproject [test])

    rng = np.random.default_rng(7)
    dense = np.where(rng.random((6, 25)) < 0.4, rng.uniform(0, 30, (6, 25)), np.nan)
    supply = rng.integers(1, 8, 6).astype(float)
    demand = rng.integers(50, 5000, 25).astype(float)
    ours = floating_catchment(matrix_from(dense), supply, demand, StepDecay(((20.0, 1.0),)))
    rows, cols = np.nonzero(~np.isnan(dense))
    cost = pd.DataFrame(
        {"unit": [f"u{i}" for i in cols], "site": [f"s{j}" for j in rows], "minutes": dense[rows, cols]}
    )
    model = access.Access(
        demand_df=pd.DataFrame({"unit": [f"u{i}" for i in range(25)], "pop": demand}).set_index("unit"),
        demand_value="pop",
        supply_df=pd.DataFrame({"site": [f"s{j}" for j in range(6)], "gp": supply}).set_index("site"),
        supply_value="gp",
        cost_df=cost,
        cost_origin="unit",
        cost_dest="site",
        cost_name="minutes",
    )
    theirs = model.two_stage_fca(name="fca", max_cost=20).iloc[:, 0]
    theirs = theirs.reindex([f"u{i}" for i in range(25)]).fillna(0.0).to_numpy()
    assert ours.accessibility == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_supply_without_demand_in_reach_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    dense = np.array([[5.0, np.nan], [np.nan, np.nan]])  # s1 reaches nobody
    result = floating_catchment(matrix_from(dense), [1.0, 4.0], [10.0, 10.0])
    assert result.unused_supply == 4.0
    assert np.isnan(result.supply_ratio[1])
    assert result.accessibility.tolist() == pytest.approx([0.1, 0.0])
    assert "s1" in caplog.text


def test_bad_inputs() -> None:
    with pytest.raises(InputDataError, match="increasing"):
        StepDecay(((20.0, 1.0), (10.0, 0.5)))
    with pytest.raises(InputDataError, match="between 0 and 1"):
        StepDecay(((10.0, 2.0),))
    with pytest.raises(InputDataError, match="supply has"):
        floating_catchment(matrix_from(HAND), [1.0], [1.0, 1.0, 1.0])
    with pytest.raises(InputDataError, match="non-negative"):
        floating_catchment(matrix_from(HAND), [1.0, -1.0], [1.0, 1.0, 1.0])
    with pytest.raises(InputDataError, match="stops at 15"):
        floating_catchment(matrix_from(HAND, max_minutes=15.0), [1.0, 1.0], [1.0, 1.0, 1.0], DEFAULT_BANDS)


def test_supply_labelled_by_ids_must_name_every_site() -> None:
    # a mistyped id ("S1" for "s1") is an error, not a silent fall-back to row order
    with pytest.raises(InputDataError, match=r"supply has no value for 1 sites: \['s1'\]"):
        floating_catchment(matrix_from(HAND), pd.Series({"s0": 2.0, "S1": 1.0}), [100.0, 200.0, 100.0])
    # labels in another order are aligned on the ids
    swapped = floating_catchment(matrix_from(HAND), pd.Series({"s1": 1.0, "s0": 2.0}), [100.0, 200.0, 100.0])
    assert swapped.accessibility == pytest.approx([3 / 350, 1 / 100, 1 / 700])


def test_areas_of_units_that_already_have_a_demand_column() -> None:
    result = floating_catchment(matrix_from(HAND), [2.0, 1.0], [100.0, 200.0, 100.0])
    units = pd.DataFrame({"unit_id": ["u0", "u1", "u2"], "department": ["18", "18", "36"], "demand": [0, 0, 0]})
    areas = accessibility_by_area(units, result, scale=1000).set_index("area_id")
    assert areas.loc["36", "accessibility"] == pytest.approx(1000 / 700)
    assert areas.loc["18", "demand"] == 300.0


def test_priority_classes_and_areas_by_hand() -> None:
    result = floating_catchment(matrix_from(HAND), [2.0, 1.0], [100.0, 200.0, 100.0])
    labels, table = priority_classes(result.accessibility * 1000, result.demand, priority_line=5.0)
    # per 1,000: u1 8.57, u2 10, u3 1.43 -> only u3 below 5
    assert labels.tolist() == ["above threshold", "above threshold", "priority"]
    assert table.set_index("class")["demand"].to_dict() == {"priority": 100.0, "above threshold": 300.0}
    units = pd.DataFrame({"unit_id": ["u0", "u1", "u2"], "department": ["18", "18", "36"]})
    areas = accessibility_by_area(units, result, scale=1000).set_index("area_id")
    # department 18: (100 * 3/350 + 200 * 1/100) / 300 per person, times 1,000
    assert areas.loc["18", "accessibility"] == pytest.approx((100 * 3 / 350 + 2) / 300 * 1000)
    assert areas.loc["36", "accessibility"] == pytest.approx(1000 / 700)


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_sites, n_units = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    cells = draw(
        st.lists(st.one_of(st.just(np.nan), st.floats(0, 29)), min_size=n_sites * n_units, max_size=n_sites * n_units)
    )
    supply = draw(st.lists(st.floats(0, 10), min_size=n_sites, max_size=n_sites))
    # demand is people (possibly age-weighted): zero or at least a thousandth of a person;
    # subnormal values (1e-311) would make supply / demand overflow, which no population does
    demand = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e4)), min_size=n_units, max_size=n_units))
    return np.array(cells).reshape(n_sites, n_units), np.array(supply), np.array(demand)


@settings(max_examples=150, deadline=None)
@given(instances())
def test_supply_is_conserved(case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    dense, supply, demand = case
    result = floating_catchment(matrix_from(dense), supply, demand)
    assert (demand * result.accessibility).sum() == pytest.approx(
        supply.sum() - result.unused_supply, rel=1e-9, abs=1e-9
    )


@settings(max_examples=150, deadline=None)
@given(instances(), st.data())
def test_adding_a_doctor_never_lowers_anyones_accessibility(
    case: tuple[np.ndarray, np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    dense, supply, demand = case
    j = data.draw(st.integers(0, len(supply) - 1))
    before = floating_catchment(matrix_from(dense), supply, demand).accessibility
    more = supply.copy()
    more[j] += data.draw(st.floats(0.1, 5))
    after = floating_catchment(matrix_from(dense), more, demand).accessibility
    assert np.all(after >= before - 1e-12)


def test_continuous_decays_by_hand() -> None:
    t = np.array([0.0, 5.0, 10.0, 20.0, 20.5])
    assert ContinuousDecay("linear", 20)(t).tolist() == pytest.approx([1, 0.75, 0.5, 0, 0])
    e = np.exp(-0.5)
    # gaussian: (exp(-x^2/2) - e^-1/2) / (1 - e^-1/2), x = t / 20
    expected = [(np.exp(-0.5 * x**2) - e) / (1 - e) for x in (0, 0.25, 0.5, 1.0)] + [0.0]
    assert ContinuousDecay("gaussian", 20)(t).tolist() == pytest.approx(expected)
    assert expected[3] == pytest.approx(0.0)
    # on the hand case: linear 20 min weighs A: u1 0.75, u2 0.4; B: u2 0.6, u3 0.1
    result = floating_catchment(matrix_from(HAND), [2.0, 1.0], [100.0, 200.0, 100.0], ContinuousDecay("linear", 20))
    r_a, r_b = 2 / (75 + 80), 1 / (120 + 10)
    assert result.accessibility == pytest.approx([0.75 * r_a, 0.4 * r_a + 0.6 * r_b, 0.1 * r_b])
    with pytest.raises(InputDataError, match="unknown decay shape"):
        ContinuousDecay("cubic", 20)
    with pytest.raises(InputDataError, match="stops at 15"):
        floating_catchment(matrix_from(HAND, max_minutes=15.0), [1.0, 1.0], [1.0] * 3, ContinuousDecay("linear", 20))


# ---------------------------------------------------------------- supply, demand, bands


def test_parse_bands_from_text_and_lists() -> None:
    assert parse_bands("10:1, 15:0.5,20:0.25").bands == ((10.0, 1.0), (15.0, 0.5), (20.0, 0.25))
    assert parse_bands([[5, 1], [10, 0.3], [15, 0.1]]).bands == ((5.0, 1.0), (10.0, 0.3), (15.0, 0.1))
    for bad, message in [("10-1", "minutes:weight"), ("10:x", "minutes:weight"), ([[10]], r"\[minutes, weight\]")]:
        with pytest.raises(InputDataError, match=message):
            parse_bands(bad)  # type: ignore[arg-type]
    with pytest.raises(InputDataError, match="increasing"):
        parse_bands("15:1,10:0.5")


def facilities_with(values: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"facility_id": [f"F{i}" for i in range(len(values))], "n_gp": values})


def test_facility_supply_takes_the_median_of_stated_values_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    supply, source = facility_supply(facilities_with(["4", "", None, "1", " 2 "]), "n_gp")
    # stated 4, 1, 2: median 2 for the two empty cells
    assert supply.to_dict() == {"F0": 4.0, "F1": 2.0, "F2": 2.0, "F3": 1.0, "F4": 2.0}
    assert source.tolist() == ["stated", "default", "default", "stated", "stated"]
    warning = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warning) == 1 and "2 of 5 facilities" in warning[0].getMessage()
    assert "F1, F2" in warning[0].getMessage()


def test_facility_supply_with_a_given_default_and_bad_cells() -> None:
    supply, _ = facility_supply(facilities_with([3, np.nan]), "n_gp", default=0.5)
    assert supply.tolist() == [3.0, 0.5]
    with pytest.raises(InputDataError, match=r"facility 'F1': n_gp = 'two' is not a non-negative number"):
        facility_supply(facilities_with(["1", "two"]), "n_gp", where="facilities file f.csv")
    with pytest.raises(InputDataError, match="non-negative"):
        facility_supply(facilities_with(["-1"]), "n_gp")
    with pytest.raises(InputDataError, match="no supply column 'etp'"):
        facility_supply(facilities_with(["1"]), "etp")
    with pytest.raises(InputDataError, match="empty for every facility"):
        facility_supply(facilities_with(["", None]), "n_gp")


def test_age_weighted_demand_by_hand() -> None:
    units = pd.DataFrame({"unit_id": ["a", "b", "c"], "population": [100.0, 100.0, 0.0]})
    ages = pd.DataFrame({"code": ["a", "b", "c"], "young": [80, 20, 0], "old": [20, 80, 0]})
    demand = age_weighted_demand(units, {"young": 1.0, "old": 3.0}, ages=ages, id_column="code")
    # mean weights: a (80 + 60) / 100 = 1.4, b (20 + 240) / 100 = 2.6 -> 140 and 260,
    # rescaled to the 200 inhabitants: 70 and 130; c has nobody
    assert demand.to_dict() == pytest.approx({"a": 70.0, "b": 130.0, "c": 0.0})
    # the age table is a share structure: another vintage (twice the counts) changes nothing
    ages2 = ages.assign(young=ages["young"] * 2, old=ages["old"] * 2)
    assert age_weighted_demand(units, {"young": 1.0, "old": 3.0}, ages=ages2, id_column="code").tolist() == (
        pytest.approx(demand.tolist())
    )


def test_age_weighted_demand_errors_name_what_is_wrong() -> None:
    units = pd.DataFrame({"unit_id": ["a", "b"], "population": [10.0, 10.0]})
    ages = pd.DataFrame({"code": ["a"], "young": [5], "old": [5]})
    with pytest.raises(InputDataError, match=r"1 units have no usable age counts.*\['b'\]"):
        age_weighted_demand(units, {"young": 1.0, "old": 2.0}, ages=ages, id_column="code")
    with pytest.raises(InputDataError, match=r"no age column \['P75'\]"):
        age_weighted_demand(units, {"P75": 2.0}, ages=ages, id_column="code")
    with pytest.raises(InputDataError, match="no value of 'code' is a unit id"):
        age_weighted_demand(units, {"young": 1.0}, ages=ages.assign(code=["zz"]), id_column="code")
    with pytest.raises(InputDataError, match="non-negative number"):
        age_weighted_demand(units, {"young": -1.0}, ages=ages, id_column="code")


# ---------------------------------------------------------------- pool allocation


def test_pool_allocation_by_hand() -> None:
    # HAND, supply A = 2, B = 1, threshold 0.012 (12 per 1,000), teams of 1, pool 3.
    # Before: A = [3/350, 1/100, 1/700] = [0.00857, 0.01, 0.00143]: everyone below.
    # A team at A adds 3/700 to u1 and 3/700 * 2/3 = 2/700 to u2 -> 0.01286, 0.01286:
    # u1 and u2 (300 people) lifted.  A team at B adds 3/700 to u2 (0.01429: lifts 200)
    # and 1/700 to u3.  So step 1 goes to A.  Then only u3 is below and only B reaches
    # it: steps 2 and 3 go to B, each lifting nobody but cutting u3's shortfall by
    # 100 * 1/700.
    result = allocate_pool(
        matrix_from(HAND), [2.0, 1.0], [100.0, 200.0, 100.0], pool=3, team_size=1, priority_line=0.012
    )
    assert result.steps["site_id"].tolist() == ["s0", "s1", "s1"]
    assert result.steps["people_lifted"].tolist() == [300.0, 0.0, 0.0]
    assert result.steps["shortfall_reduced"].tolist()[1:] == pytest.approx([100 / 700, 100 / 700])
    assert result.supply.tolist() == [3.0, 3.0]
    assert result.accessibility == pytest.approx([3 / 350 + 3 / 700, 1 / 100 + 2 / 700 + 6 / 700, 3 / 700])
    assert result.unallocated == 0.0


def test_pool_stops_when_nobody_below_the_line_is_in_reach(caplog: pytest.LogCaptureFixture) -> None:
    result = allocate_pool(
        matrix_from(HAND), [2.0, 1.0], [100.0, 200.0, 100.0], pool=10, team_size=4, priority_line=0.012, sites=["s0"]
    )
    # teams of 4 at A only: the first lifts u1 and u2; u3 is out of A's reach
    assert result.steps["site_id"].tolist() == ["s0"]
    assert result.unallocated == 6.0
    assert "6 of the pool of 10 left unallocated" in caplog.text


def test_pool_last_team_is_the_remainder_and_sites_are_capped() -> None:
    result = allocate_pool(
        matrix_from(HAND), [0.0, 0.0], [100.0, 200.0, 100.0], pool=5, team_size=2, priority_line=1.0, max_per_site=2
    )
    assert result.steps["supply_added"].tolist() == [2.0, 2.0]  # one team per site, then no site may take more
    assert result.unallocated == 1.0
    free = allocate_pool(matrix_from(HAND), [0.0, 0.0], [100.0, 200.0, 100.0], pool=5, team_size=2, priority_line=1.0)
    assert free.steps["supply_added"].tolist() == [2.0, 2.0, 1.0]
    assert free.supply.sum() == 5.0


@settings(max_examples=60, deadline=None)
@given(instances(), st.data())
def test_each_pool_step_is_the_best_single_team(
    case: tuple[np.ndarray, np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    """Every step's choice is checked by recomputing the whole 2SFCA for each site."""
    dense, supply, demand = case
    threshold = data.draw(st.floats(1e-4, 0.05))
    team = data.draw(st.sampled_from([0.5, 1.0, 2.0]))
    matrix = matrix_from(dense)
    result = allocate_pool(matrix, supply, demand, pool=3 * team, team_size=team, priority_line=threshold)
    current = supply.copy()
    for step in result.steps.itertuples():
        base = floating_catchment(matrix, current, demand).accessibility
        gains = []
        for j in range(len(current)):
            trial = current.copy()
            trial[j] += team
            after = floating_catchment(matrix, trial, demand).accessibility
            lifted = demand[(base < threshold) & (after >= threshold - 1e-12)].sum()
            reduced = (demand * (np.minimum(after, threshold) - np.minimum(base, threshold))).sum()
            gains.append((lifted, reduced))
        chosen = int(str(step.site_id)[1:])
        best_lifted = max(g[0] for g in gains)
        assert gains[chosen][0] == pytest.approx(best_lifted, rel=1e-9, abs=1e-9)
        assert step.people_lifted == pytest.approx(best_lifted, rel=1e-9, abs=1e-9)
        current[chosen] += team
    assert result.supply == pytest.approx(current)
    final = floating_catchment(matrix, current, demand).accessibility
    assert result.accessibility == pytest.approx(final, rel=1e-9, abs=1e-12)
    assert np.all(final >= floating_catchment(matrix, supply, demand).accessibility - 1e-12)

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
    StepDecay,
    accessibility_by_area,
    floating_catchment,
    priority_classes,
)
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix


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


def test_priority_classes_and_areas_by_hand() -> None:
    result = floating_catchment(matrix_from(HAND), [2.0, 1.0], [100.0, 200.0, 100.0])
    labels, table = priority_classes(result.accessibility * 1000, result.demand, threshold=5.0)
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

"""By-area statistics recounted with a plain pandas groupby, with missing and odd area codes.

Three tables are checked: :func:`coverage.stats.coverage_by_area` (the gap analysis),
:func:`coverage.accessibility.accessibility_by_area` and the ``by_area`` table of
:func:`coverage.access_study.study_access`.  The expected values never come from the
code under test: each is a ``groupby`` on the units table, or a sum written by hand.

The contract checked here:

* a unit without an area code never removes the other areas of its level;
* every inhabitant is counted once per level: the areas of a level add up to the total
  (units without a code in a visible row of their own), or the units left out are
  named in a warning;
* area codes stay the text they are: ``"01"`` keeps its zero, ``1`` and ``"1"`` are one
  area.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import facilities_at, make_graph, units_at

import coverage as cov
from coverage.access_study import study_access
from coverage.accessibility import DEFAULT_BANDS, accessibility_by_area, floating_catchment
from coverage.matrix import CoverageMatrix
from coverage.stats import common_name, common_names, coverage_by_area, coverage_summary

THRESHOLDS = (10.0, 20.0)
MISSING = [None, np.nan, pd.NA, ""]
MISSING_IDS = ["None", "nan", "NA", "empty"]


def units_table(departments: list[object]) -> pd.DataFrame:
    """Six units; minutes 5, 15, 25, NaN (unreachable), 8, 12; population 100..600."""
    return pd.DataFrame(
        {
            "unit_id": ["a", "b", "c", "d", "e", "x9"],
            "population": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
            "minutes_to_nearest": [5.0, 15.0, 25.0, np.nan, 8.0, 12.0],
            "commune": ["c1", "c1", "c2", "c3", "c4", "c5"],
            "commune_name": ["C1", "C1", "C2", "C3", "C4", "C5"],
            "epci": ["e1", "e1", "e1", "e2", "e2", "e2"],
            "epci_name": ["E1", "E1", "E1", "E2", "E2", "E2"],
            "department": pd.Series(departments, dtype=object),
        }
    )


def is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) or value == ""


def reported(records: list[logging.LogRecord], unit_id: str, level: str = "department") -> bool:
    """True when a warning names the unit (its id as a word) or the level's missing codes."""
    for r in records:
        text = r.getMessage()
        if r.levelno >= logging.WARNING and (re.search(rf"\b{unit_id}\b", text) or level in text.lower()):
            return True
    return False


def recount(units: pd.DataFrame, column: str, thresholds: tuple[float, ...]) -> pd.DataFrame:
    """The by-area figures of one level by ``groupby`` on the units' codes (as text),
    leaving out units without a code; indexed by (area_id, threshold_min)."""
    codes = units[column].map(lambda v: None if is_missing(v) else str(v))
    frame = units.assign(_code=codes).dropna(subset=["_code"])
    rows = []
    for code, group in frame.groupby("_code"):
        m = group["minutes_to_nearest"].to_numpy(dtype=float)
        p = group["population"].to_numpy(dtype=float)
        reach = ~np.isnan(m)
        mean = (m[reach] * p[reach]).sum() / p[reach].sum() if p[reach].sum() > 0 else np.nan
        for t in thresholds:
            rows.append(
                {
                    "area_id": code,
                    "threshold_min": t,
                    "n_units": len(group),
                    "mean_minutes": mean,
                    "population_total": p.sum(),
                    "population_covered": p[reach & (m <= t)].sum(),
                    "population_uncovered": p[reach & (m > t)].sum(),
                    "population_unreachable": p[~reach].sum(),
                }
            )
    return pd.DataFrame(rows).set_index(["area_id", "threshold_min"]).sort_index()


def level_rows(table: pd.DataFrame, level: str) -> pd.DataFrame:
    rows = table[table["level"] == level]
    return rows.set_index(["area_id", "threshold_min"]).sort_index()


def assert_level_matches_recount(table: pd.DataFrame, units: pd.DataFrame, level: str, column: str) -> None:
    expected = recount(units, column, THRESHOLDS)
    got = level_rows(table, level)
    # rows of units without a code, if the code shows them, are checked elsewhere
    got = got[got.index.get_level_values("area_id").isin(expected.index.get_level_values("area_id"))]
    assert list(got.index) == list(expected.index), level
    for col in expected.columns:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), expected[col].to_numpy(dtype=float), err_msg=col)


# ---------------------------------------------------------------- coverage_by_area


def test_recount_matches_by_hand_values() -> None:
    """The recount itself, checked on two areas by hand (so that the helper can fail)."""
    units = units_table(["18", "18", "36", "36", "45", "45"])
    expected = recount(units, "department", THRESHOLDS)
    # 18: a (100, 5 min) b (200, 15 min): mean (500 + 3000) / 300
    assert expected.loc[("18", 10.0), "population_covered"] == 100
    assert expected.loc[("18", 20.0), "population_covered"] == 300
    assert expected.loc[("18", 10.0), "mean_minutes"] == pytest.approx(3500 / 300)
    # 36: c (300, 25 min) d (400, unreachable)
    assert expected.loc[("36", 20.0), "population_uncovered"] == 300
    assert expected.loc[("36", 20.0), "population_unreachable"] == 400
    assert expected.loc[("36", 20.0), "mean_minutes"] == pytest.approx(25.0)


def test_every_level_matches_a_plain_groupby() -> None:
    units = units_table(["18", "18", "36", "36", "45", "45"])
    table = coverage_by_area(units, THRESHOLDS)
    assert set(table["level"]) == {"commune", "epci", "department"}
    for level in ("commune", "epci", "department"):
        assert_level_matches_recount(table, units, level, level)
    names = table[table["level"] == "commune"].drop_duplicates("area_id").set_index("area_id")["area_name"]
    assert names.to_dict() == {"c1": "C1", "c2": "C2", "c3": "C3", "c4": "C4", "c5": "C5"}


def test_totals_add_up_to_the_summary_at_every_level() -> None:
    units = units_table(["18", "18", "36", "36", "45", "45"])
    table = coverage_by_area(units, THRESHOLDS)
    summary = coverage_summary(units["minutes_to_nearest"], units["population"], THRESHOLDS)
    # by hand: total 2100; within 10 min a e (600), within 20 a b e x9 (1400); d unreachable
    assert summary["population_total"].tolist() == [2100, 2100]
    assert summary["population_covered"].tolist() == [600, 1400]
    for level in ("commune", "epci", "department"):
        sums = (
            table[table["level"] == level]
            .groupby("threshold_min")[
                ["population_total", "population_covered", "population_uncovered", "population_unreachable"]
            ]
            .sum()
        )
        assert sums["population_total"].tolist() == [2100, 2100], level
        assert sums["population_covered"].tolist() == [600, 1400], level
        assert sums["population_unreachable"].tolist() == [400, 400], level


@pytest.mark.parametrize("missing", MISSING, ids=MISSING_IDS)
def test_one_unit_without_a_code_keeps_every_area_of_its_level(missing: object) -> None:
    """Unit x9 has no department: departments 18, 36 and 45 (e alone) must all stay."""
    units = units_table(["18", "18", "36", "36", "45", missing])
    table = coverage_by_area(units, THRESHOLDS)
    departments = level_rows(table, "department")
    assert {"18", "36", "45"} <= set(departments.index.get_level_values("area_id"))
    assert_level_matches_recount(table, units, "department", "department")
    # the other levels do not notice
    for level in ("commune", "epci"):
        assert_level_matches_recount(table, units, level, level)
    assert departments.loc[("45", 10.0), "population_total"] == 500


@pytest.mark.parametrize("missing", MISSING, ids=MISSING_IDS)
def test_units_without_a_code_are_counted_or_reported(missing: object, caplog: pytest.LogCaptureFixture) -> None:
    """Unit x9 (600 inhabitants) has no department.  Either the department rows still add
    up to the 2,100 inhabitants (x9 in a row of its own, visible), or a warning names x9
    or the departments' missing codes."""
    units = units_table(["18", "18", "36", "36", "45", missing])
    with caplog.at_level(logging.WARNING):
        table = coverage_by_area(units, THRESHOLDS)
    rows = table[(table["level"] == "department") & (table["threshold_min"] == 10.0)]
    counted = rows["population_total"].sum()
    warned = reported(caplog.records, "x9")
    assert counted == 2100 or (counted == 1500 and warned), (
        f"department rows count {counted:g} of 2,100 inhabitants; unit 'x9' (600, no department) is "
        "neither in a row of its own nor named in a warning"
    )


def test_a_level_with_no_code_at_all_is_left_out_whole() -> None:
    units = units_table([None] * 6)
    table = coverage_by_area(units, THRESHOLDS)
    assert set(table["level"]) == {"commune", "epci"}
    assert_level_matches_recount(table, units, "epci", "epci")


def test_leading_zeros_are_kept_and_one_and_text_one_are_one_area() -> None:
    # codes read as numbers by one file and as text by another
    units = units_table(["01", "01", 1, "1", "01", "10"])
    table = coverage_by_area(units, THRESHOLDS)
    departments = level_rows(table, "department")
    assert sorted(set(departments.index.get_level_values("area_id"))) == ["01", "1", "10"]
    assert departments.loc[("01", 10.0), "n_units"] == 3  # a b e
    assert departments.loc[("1", 10.0), "n_units"] == 2  # c d
    assert departments.loc[("01", 10.0), "population_total"] == 800
    assert departments["population_total"].groupby("threshold_min").sum().tolist() == [2100, 2100]


def test_integer_codes_with_an_empty_cell_are_not_written_as_floats() -> None:
    """An integer column with one empty cell is read by pandas as floats (18.0): the area
    ids must still be the codes 18 and 36, not "18.0"."""
    units = units_table([18, 18, 36, 36, np.nan, 36]).astype({"department": float})
    table = coverage_by_area(units, THRESHOLDS)
    ids = set(level_rows(table, "department").index.get_level_values("area_id"))
    assert {"18", "36"} <= ids, sorted(ids)
    assert not {i for i in ids if i.endswith(".0")}, sorted(ids)


def test_codes_padded_with_spaces_are_one_area() -> None:
    """'18', '18 ' and ' 18' (spreadsheet cells) are one department, not three."""
    units = units_table(["18", "18 ", " 18", "36", "36", "36"])
    table = coverage_by_area(units, THRESHOLDS)
    departments = level_rows(table, "department")
    # whatever the code does with the spaces, nobody is lost
    assert departments["population_total"].groupby("threshold_min").sum().tolist() == [2100, 2100]
    ids = set(departments.index.get_level_values("area_id"))
    assert {i.strip() for i in ids} == {"18", "36"}
    assert len(ids) == 2, sorted(ids)


# ---------------------------------------------------------------- accessibility_by_area


def dense_matrix(minutes: np.ndarray, max_minutes: float = 20.0) -> CoverageMatrix:
    """Sites x units from a dense array; NaN = pair beyond the matrix."""
    rows, cols = np.nonzero(~np.isnan(minutes))
    counts = np.bincount(rows, minlength=minutes.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return CoverageMatrix(
        site_ids=np.array([f"s{j}" for j in range(minutes.shape[0])], dtype=object),
        unit_ids=np.array(["a", "b", "c", "d", "e", "x9"], dtype=object),
        minutes=sp.csr_array((minutes[rows, cols], cols.astype(np.int32), indptr), shape=minutes.shape),
        max_minutes=max_minutes,
    )


# site s0 reaches a (5 min), b (12), c (18); s1 reaches c (8), e (3), x9 (14); d nothing
ACCESS_MINUTES = np.array([[5.0, 12.0, 18.0, np.nan, np.nan, np.nan], [np.nan, np.nan, 8.0, np.nan, 3.0, 14.0]])
DEMAND = np.array([100.0, 200.0, 300.0, 400.0, 500.0, 600.0])


def access_recount(units: pd.DataFrame, accessibility: np.ndarray, column: str) -> pd.DataFrame:
    codes = units[column].map(lambda v: None if is_missing(v) else str(v))
    frame = pd.DataFrame({"code": codes, "d": DEMAND, "da": DEMAND * accessibility}).dropna(subset=["code"])
    grouped = frame.groupby("code")[["d", "da"]].sum()
    return pd.DataFrame({"demand": grouped["d"], "accessibility": grouped["da"] / grouped["d"]})


def test_access_by_hand() -> None:
    """The E2SFCA of the case above by hand, so that the recount has known inputs.
    R0 = 2 / (100 + 200 * 2/3 + 300 * 1/3) = 2 / (1000/3) = 0.006;
    R1 = 1 / (300 + 500 + 600 * 2/3) = 1 / 1200."""
    result = floating_catchment(dense_matrix(ACCESS_MINUTES), [2.0, 1.0], DEMAND, DEFAULT_BANDS)
    expected = [0.006, 0.004, 0.002 + 1 / 1200, 0.0, 1 / 1200, 2 / 3 / 1200]
    assert result.accessibility == pytest.approx(expected)


@pytest.mark.parametrize("missing", MISSING, ids=MISSING_IDS)
def test_accessibility_by_area_matches_a_groupby(missing: object, caplog: pytest.LogCaptureFixture) -> None:
    units = units_table(["18", "18", "36", "36", "45", missing])
    result = floating_catchment(dense_matrix(ACCESS_MINUTES), [2.0, 1.0], DEMAND, DEFAULT_BANDS)
    with caplog.at_level(logging.WARNING):
        table = accessibility_by_area(units, result, scale=1000.0)
    for level in ("commune", "epci", "department"):
        expected = access_recount(units, result.accessibility, level)
        got = table[table["level"] == level].set_index("area_id")
        assert set(expected.index) <= set(got.index), (level, sorted(got.index))
        got = got.loc[expected.index]
        np.testing.assert_allclose(got["demand"], expected["demand"], err_msg=level)
        np.testing.assert_allclose(got["accessibility"], expected["accessibility"] * 1000.0, err_msg=level)
    departments = table[table["level"] == "department"]
    counted = departments["demand"].sum()
    warned = reported(caplog.records, "x9")
    assert counted == DEMAND.sum() or warned, (
        f"department rows hold demand {counted:g} of {DEMAND.sum():g}: unit 'x9' without a department is "
        "neither in a row of its own nor reported"
    )


# ---------------------------------------------------------------- the accessibility study's table

# A road running east, nodes every 1000 m, 2 min per edge, in Lambert-93 near Bourges.  Facilities fA at N0 (4 GPs) and
# fB at N6 (2 GPs).  Units on nodes (no access legs).
STUDY_NODES = {f"N{i}": (650_000.0 + 1000.0 * i, 6_670_000.0) for i in range(7)}
STUDY_UNITS = {"a": "N0", "b": "N1", "c": "N2", "d": "N3", "e": "N5", "x9": "N6"}


def study(departments: list[object]) -> tuple[pd.DataFrame, pd.DataFrame]:
    graph = make_graph(STUDY_NODES, [(f"N{i}", f"N{i + 1}", 120.0) for i in range(6)])
    facilities = facilities_at({"fA": STUDY_NODES["N0"], "fB": STUDY_NODES["N6"]})
    facilities["n_gp"] = [4, 2]
    units = units_at({u: STUDY_NODES[n] for u, n in STUDY_UNITS.items()}, list(DEMAND))
    units["commune"] = ["c1", "c1", "c2", "c3", "c4", "c5"]
    units["department"] = pd.Series(departments, dtype=object)
    config = cov.AnalysisConfig(thresholds_min=(10,), access_speed_kph=30, max_snap_m=500, isochrones=False)
    result = study_access(cov.analyse(graph, facilities, units, config), workers=1)
    return result.units, result.by_area


@pytest.mark.parametrize("missing", MISSING, ids=MISSING_IDS)
def test_study_by_area_matches_a_groupby(missing: object, caplog: pytest.LogCaptureFixture) -> None:
    departments = ["18", "18", "36", "36", "45", missing]
    with caplog.at_level(logging.WARNING):
        units, by_area = study(departments)
    # by hand: a at 0 min of fA, b 2, c 4, d 6 (fA) and 6 (fB), e 2 (fB), x9 0 (fB); every pair
    # within 10 min except those of fA beyond N5 and of fB below N1
    assert units.set_index("unit_id")["minutes_to_nearest"].to_dict() == {
        "a": 0.0,
        "b": 2.0,
        "c": 4.0,
        "d": 6.0,
        "e": 2.0,
        "x9": 0.0,
    }
    frame = pd.DataFrame(
        {
            "code": pd.Series(departments, dtype=object).map(lambda v: None if is_missing(v) else str(v)),
            "population": DEMAND,
            "weighted": DEMAND * units["accessibility"].to_numpy(dtype=float),
            "priority": np.where(units["class"].to_numpy() == "priority", DEMAND, 0.0),
        }
    ).dropna(subset=["code"])
    expected = frame.groupby("code")[["population", "weighted", "priority"]].sum()
    got = by_area[by_area["level"] == "department"].set_index("area_id")
    assert {"18", "36", "45"} <= set(got.index), sorted(got.index)
    got = got.loc[expected.index]
    np.testing.assert_allclose(got["population"], expected["population"])
    np.testing.assert_allclose(got["accessibility"], expected["weighted"] / expected["population"])
    np.testing.assert_allclose(got["population_priority"], expected["priority"])
    communes = by_area[by_area["level"] == "commune"]
    assert communes["population"].sum() == DEMAND.sum()  # every unit has a commune
    counted = (
        got["population"].sum()
        + by_area.loc[
            (by_area["level"] == "department") & ~by_area["area_id"].isin(["18", "36", "45"]), "population"
        ].sum()
    )
    warned = reported(caplog.records, "x9")
    assert counted == DEMAND.sum() or warned, (
        f"department rows hold {counted:g} of {DEMAND.sum():g} inhabitants: unit 'x9' without a department "
        "is neither in a row of its own nor reported"
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_names_of_all_areas_at_once_are_those_of_each_area(seed: int) -> None:
    """common_names (one sort for every area) gives each area the name common_name gives it
    from that area's units alone, on random names with blanks, missing values, accents and
    case variants (ties broken alphabetically)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    ids = pd.Series(rng.choice(["18", "28", "36", "37"], n))
    pool = np.array(["Blois", "blois", " ", "", "Ézy", "Ezy", "Tours", None], dtype=object)
    names = pd.Series(rng.choice(pool, n)).astype("string")
    together = common_names(ids, names)
    assert set(together) == set(ids)
    for area in ids.unique():
        assert together[area] == common_name(names[ids == area])


def test_an_area_named_by_no_unit_has_an_empty_name() -> None:
    ids = pd.Series(["a", "a", "b"])
    names = pd.Series(["  ", None, "Bourges"]).astype("string")
    assert common_names(ids, names) == {"a": "", "b": "Bourges"}
